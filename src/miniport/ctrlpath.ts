/**
 * @module
 * The miniport's control path: MiniportOidRequest and MiniportDirectOidRequest in one entry point,
 * shaped like netvmini's `ctrlpath.c` (one `switch (oid)`, a paraphrase of each OID's documented
 * meaning above its case, unknown OIDs → NDIS_STATUS_NOT_SUPPORTED). Pages:
 * "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA", "…_ADD_SA_EX", "…_DELETE_SA", "…_UPDATE_SA",
 * "Managing Security Associations in IPsec Offload Version 2", "OID_TCP_OFFLOAD_PARAMETERS",
 * "OID_OFFLOAD_ENCAPSULATION", "NDIS_OFFLOAD_ENCAPSULATION", "OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES",
 * "OID_TCP_OFFLOAD_CURRENT_CONFIG", "Direct OID Request Interface in NDIS 6.1".
 * Reference: ndis-ipsecov2.md §1.2, §1.3, §3.1, §3.2, §4.3, §6 items 8 and 10; contract D12, D15, D16.
 *
 * Failure kinds (contract §4): every refusal is an NDIS status on the request plus a named counter
 * (`oid.<op>.malformed:<field>` for bytes that do not decode, `oid.<op>.reject:<reason>` for what
 * the NIC refuses); nothing a caller puts into an InformationBuffer makes this module throw. A
 * refused request changes nothing: every request is judged completely before it is applied.
 *
 * Model: the miniport does not distinguish MiniportOidRequest from MiniportDirectOidRequest. Every
 * request completes synchronously (never NDIS_STATUS_PENDING), so requests are serialized by
 * construction; the unserialized direct-OID rules of NDIS 6.1 have nothing to act on.
 */
import { createAuth } from '../crypto/ah.ts';
import { createEsp } from '../crypto/esp.ts';
import type { Failure } from '../ndis/abi.ts';
import { decodeAddSaList, writeAddSaHandle } from '../ndis/addsa.ts';
import { decodeAddSaEx, writeAddSaExHandle } from '../ndis/addsaex.ts';
import {
  decodeOffloadParameters,
  encodeIpsecOffloadV2,
  IPSEC_OFFLOAD_V2,
  NO_IPSEC_OFFLOAD_V2,
  type IpsecOffloadV2,
  type Offload,
  type OffloadParameters,
} from '../ndis/caps.ts';
import { decodeDeleteSaList } from '../ndis/deletesa.ts';
import { decodeOffloadEncapsulation, OffloadSet } from '../ndis/encapsulation.ts';
import {
  Oid,
  OffloadFlags,
  OffloadParameter,
  Operation as OperationValue,
  oidName,
  type NdisOid,
} from '../ndis/oid.ts';
import type { SaBundle as AddSaBundle } from '../ndis/sa.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import { decodeUpdateSa, UPDATE_SA, type UpdateSa } from '../ndis/updatesa.ts';
import { ipsecConfigured, type CurrentConfig } from './config.ts';
import { HALTED_OID_STATUS } from './lifecycle.ts';
import type { Miniport } from './miniport.ts';
import type { Operation, SaBundle, SaElement } from './sa-table.ts';
import { refuse, validateEntry, type ElementPlan, type Refusal } from './validate.ts';

/** One NDIS_OID_REQUEST as the model sees it: a set or a query of one OID with its buffer. */
export interface OidRequest {
  /** NdisRequestSetInformation or NdisRequestQueryInformation. */
  readonly type: 'set' | 'query';
  readonly oid: NdisOid;
  /** InformationBuffer (InformationBufferLength = its length); ADD_SA handles are written into it. */
  readonly buffer: Uint8Array;
  /**
   * The address the buffer sits at, for OID structures linked by absolute `Next` pointers
   * (contract D15); default 0, i.e. `Next` values are offsets from the buffer's start.
   */
  readonly baseAddress?: bigint;
}

/** How an OID request completed: its status and NDIS_OID_REQUEST's byte counts. */
export interface OidResult {
  readonly status: NdisStatus;
  /** Set: bytes of the buffer the miniport consumed (all of them on success). */
  readonly bytesRead: number;
  /** Query: bytes written into the buffer. */
  readonly bytesWritten: number;
  /** With NDIS_STATUS_BUFFER_TOO_SHORT (or INVALID_LENGTH): the buffer length that would do. */
  readonly bytesNeeded: number;
}

// ---------------------------------------------------------------------------------------------
// The capability record and the current configuration, as the transport reads them (D12).
// ---------------------------------------------------------------------------------------------

/** The hardware's capability record (what OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES reports). */
export function hardwareCapabilities(mp: Miniport): Offload {
  return mp.capabilities;
}

const COEXISTENCE =
  OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE |
  OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE;

/**
 * The current configuration as an NDIS_OFFLOAD (what OID_TCP_OFFLOAD_CURRENT_CONFIG reports and
 * NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG carries): the capability record with every offload the
 * configuration turned off reported as not supported.
 */
export function currentOffload(mp: Miniport): Offload {
  return offloadOf(mp.capabilities, mp.config);
}

function offloadOf(caps: Offload, c: CurrentConfig): Offload {
  const on = (enabled: boolean, v: number): number => (enabled ? v : 0);
  const v4 = caps.Checksum.IPv4Transmit;
  const v6 = caps.Checksum.IPv6Transmit;
  const lso1 = caps.LsoV1.IPv4;
  const lso2 = caps.LsoV2;
  const ipsec = ipsecConfigured(c);
  return {
    Checksum: {
      IPv4Transmit: {
        ...v4,
        IpChecksum: on(c.checksumIPv4.ip, v4.IpChecksum),
        TcpChecksum: on(c.checksumIPv4.tcp, v4.TcpChecksum),
        UdpChecksum: on(c.checksumIPv4.udp, v4.UdpChecksum),
      },
      // Model: CurrentConfig keeps only transmit checksum switches; receive is reported as built.
      IPv4Receive: caps.Checksum.IPv4Receive,
      IPv6Transmit: {
        ...v6,
        TcpChecksum: on(c.checksumIPv6.tcp, v6.TcpChecksum),
        UdpChecksum: on(c.checksumIPv6.udp, v6.UdpChecksum),
      },
      IPv6Receive: caps.Checksum.IPv6Receive,
    },
    LsoV1: {
      IPv4: c.lsoV1
        ? lso1
        : { Encapsulation: 0, MaxOffLoadSize: 0, MinSegmentCount: 0, TcpOptions: 0, IpOptions: 0 },
    },
    LsoV2: {
      IPv4: c.lsoV2IPv4 ? lso2.IPv4 : { Encapsulation: 0, MaxOffLoadSize: 0, MinSegmentCount: 0 },
      IPv6: c.lsoV2IPv6
        ? lso2.IPv6
        : {
            Encapsulation: 0,
            MaxOffLoadSize: 0,
            MinSegmentCount: 0,
            IpExtensionHeadersSupported: 0,
            TcpOptionsSupported: 0,
          },
    },
    Flags: ipsec ? caps.Flags : caps.Flags & ~COEXISTENCE,
    IPsecV2: ipsec
      ? {
          ...caps.IPsecV2,
          Ah: c.ipsecAh,
          Esp: c.ipsecEsp,
          IPv6Supported: c.ipsecIpv6,
          AhEspCombined: caps.IPsecV2.AhEspCombined && c.ipsecAh && c.ipsecEsp,
        }
      : NO_IPSEC_OFFLOAD_V2,
  };
}

// ---------------------------------------------------------------------------------------------
// The entry point.
// ---------------------------------------------------------------------------------------------

/** Short names for counters: `oid.<op>.…`. */
const OPS: ReadonlyMap<number, string> = new Map([
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA, 'add-sa'],
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX, 'add-sa-ex'],
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA, 'delete-sa'],
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA, 'update-sa'],
  [Oid.OID_TCP_OFFLOAD_PARAMETERS, 'offload-parameters'],
  [Oid.OID_OFFLOAD_ENCAPSULATION, 'offload-encapsulation'],
  [Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 'hardware-capabilities'],
  [Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG, 'current-config'],
]);

const S = NdisStatus;

/**
 * Handles one OID request (MiniportOidRequest / MiniportDirectOidRequest) and returns how it
 * completed; counts `oid.request:<OID>` and `oid.status:<OID>:<STATUS>` for every request.
 * Throws only for our own misuse: a `baseAddress` that is not pointer-aligned.
 */
export function oidRequest(mp: Miniport, request: OidRequest): OidResult {
  const name = oidName(request.oid);
  mp.counters.add(`oid.request:${name}`);
  let result: OidResult;
  if (mp.state === 'halted') {
    // MiniportHaltEx has run: the adapter takes no more requests (lifecycle.ts).
    mp.counters.add(`oid.refused:halted`);
    result = done(HALTED_OID_STATUS);
  } else {
    const set = request.type === 'set';
    switch (request.oid) {
      // Adds one or more SAs (a linked list of IPSEC_OFFLOAD_V2_ADD_SA); the miniport writes a
      // handle into each entry it offloads, NULL into each it cannot; success if any was offloaded.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA:
        result = set ? addSa(mp, request) : notSupported(mp, request);
        break;

      // Adds one SA bundle (IPSEC_OFFLOAD_V2_ADD_SA_EX, NDIS 6.30); success iff it was offloaded,
      // otherwise its handle is NULL.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX:
        result = set ? addSaEx(mp, request) : notSupported(mp, request);
        break;

      // Deletes the SA bundles named by a linked list of IPSEC_OFFLOAD_V2_DELETE_SA and frees
      // their resources; NDIS_STATUS_NOT_ACCEPTED while the miniport is resetting.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA:
        result = set ? deleteSa(mp, request) : notSupported(mp, request);
        break;

      // Gives an ESN SA new high-order sequence-number bits (IPSEC_OFFLOAD_V2_UPDATE_SA);
      // NDIS_STATUS_INVALID_PARAMETER if the SA is unknown or does not use ESN.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA:
        result = set ? updateSa(mp, request) : notSupported(mp, request);
        break;

      // Sets the current TCP/IP offload configuration (NDIS_OFFLOAD_PARAMETERS); the miniport then
      // indicates NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG. Query requests are not supported.
      case Oid.OID_TCP_OFFLOAD_PARAMETERS:
        result = set ? offloadParameters(mp, request) : notSupported(mp, request);
        break;

      // Sets the encapsulation for task offload and activates the configured offloads; receive
      // offloads start only now. NDIS answers the query itself.
      case Oid.OID_OFFLOAD_ENCAPSULATION:
        result = set ? offloadEncapsulation(mp, request) : notSupported(mp, request);
        break;

      // Queries the offload capabilities the hardware supports (NDIS_OFFLOAD).
      case Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
        result = set
          ? notSupported(mp, request)
          : queryIpsec(request, hardwareCapabilities(mp).IPsecV2);
        break;

      // Queries the current offload configuration (NDIS_OFFLOAD).
      // Model: NDIS answers this query from the miniport's last indication; here the miniport does.
      case Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG:
        result = set ? notSupported(mp, request) : queryIpsec(request, currentOffload(mp).IPsecV2);
        break;

      default:
        result = notSupported(mp, request);
        break;
    }
  }
  mp.counters.add(`oid.status:${name}:${statusName(result.status)}`);
  return result;
}

function done(status: NdisStatus, bytesRead = 0, bytesWritten = 0, bytesNeeded = 0): OidResult {
  return { status, bytesRead, bytesWritten, bytesNeeded };
}

function op(request: OidRequest): string {
  return OPS.get(request.oid) ?? oidName(request.oid);
}

/** netvmini: an OID (or a request type of it) the miniport does not handle. */
function notSupported(mp: Miniport, request: OidRequest): OidResult {
  mp.counters.add(`oid.not-supported:${oidName(request.oid)}:${request.type}`);
  return done(S.NDIS_STATUS_NOT_SUPPORTED);
}

/** A buffer that does not decode: the decoder's D15 status, counted by field. */
function malformed(mp: Miniport, request: OidRequest, f: Failure): OidResult {
  mp.counters.add(`oid.${op(request)}.malformed:${f.field}`);
  return done(f.status, 0, 0, f.bytesNeeded ?? 0);
}

function reject(mp: Miniport, request: OidRequest, reason: string): void {
  mp.counters.add(`oid.${op(request)}.reject:${reason}`);
}

// ---------------------------------------------------------------------------------------------
// ADD_SA, ADD_SA_EX.
// ---------------------------------------------------------------------------------------------

type Admission = { readonly ok: true; readonly elements: readonly ElementPlan[] } | Refusal;

/** The receive-lookup key of an inbound SA: protocol, SPI and destination (RFC 4301 §4.1). */
function inboundKey(operation: Operation, spi: number, destination: Uint8Array): string {
  return `${operation}:${spi}:${Array.from(destination, (b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/**
 * Judges every entry of one request against the capabilities, the configuration (validate.ts) and
 * the SA table, without changing anything: an inbound SPI already held for the same protocol and
 * destination (here or earlier in the list) is `spi-in-use` (RFC 4301 §4.1: the receive lookup
 * must be unambiguous); entries past SaOffloadCapacity (which counts entries, D12) are `capacity`.
 */
function admit(mp: Miniport, entries: readonly AddSaBundle[]): Admission[] {
  let room = mp.saTable.capacity - mp.saTable.size;
  const claimed = new Set<string>();
  return entries.map((entry): Admission => {
    const verdict = validateEntry(entry, mp.capabilities.IPsecV2, mp.config);
    if (!verdict.ok) return verdict;
    const keys: string[] = [];
    if (entry.flags.inbound) {
      for (const [i, e] of verdict.elements.entries()) {
        const k = inboundKey(e.operation, e.spi, entry.dst);
        if (claimed.has(k) || mp.saTable.findInbound(e.spi, e.operation, entry.dst)) {
          return refuse(
            'spi-in-use',
            i,
            `inbound ${e.operation} SPI 0x${e.spi.toString(16)} in use`
          );
        }
        keys.push(k);
      }
    }
    if (room <= 0) {
      return refuse('capacity', -1, `SaOffloadCapacity ${mp.saTable.capacity} reached`);
    }
    room -= 1;
    for (const k of keys) claimed.add(k);
    return verdict;
  });
}

/** Keys one SA bundle: one transform per SA, keys copied out of the entry's key buffer (D5, D6). */
function createBundle(
  mp: Miniport,
  handle: bigint,
  entry: AddSaBundle,
  plans: readonly ElementPlan[]
): SaBundle {
  const elements = plans.map((p): SaElement => {
    const base = {
      operation: p.operation,
      spi: p.spi,
      esn: p.esn,
      seqHigh: p.seqHigh,
      encryption: p.encryption,
      integrity: p.integrity,
      counters: { packets: 0, bytes: 0 },
    };
    if (p.operation === 'ah') {
      if (p.integrity === null) throw new TypeError('ctrlpath: expected an AH plan with integrity');
      return {
        ...base,
        esp: null,
        auth: createAuth({ integrity: p.integrity, key: p.integrityKey, esn: p.esn }),
      };
    }
    if (p.encryption === null) throw new TypeError('ctrlpath: expected an ESP plan with a cipher');
    return {
      ...base,
      esp: createEsp({
        encryption: p.encryption,
        integrity: p.integrity,
        encryptionKey: p.encryptionKey,
        ...(p.integrity === null ? {} : { integrityKey: p.integrityKey }),
        icvLength: p.icvLength,
        esn: p.esn,
        random: mp.random,
      }),
      auth: null,
    };
  });
  return {
    handle,
    inbound: entry.flags.inbound,
    ipv6: entry.flags.ipv6,
    source: entry.src,
    destination: entry.dst,
    udpEspEncapsulation: entry.udpEspEncapsulation,
    elements,
    inFlight: 0,
  };
}

/**
 * Offloads the admitted entries: keys every bundle first, then inserts them all with fresh handles
 * (SaTable.nextHandle: non-zero, never reused) and returns the handles in entry order (0n for a
 * refused entry). The transforms copy their keys; the caller zeroes the decoded key buffers.
 */
function commit(
  mp: Miniport,
  request: OidRequest,
  entries: readonly AddSaBundle[],
  admissions: readonly Admission[]
): bigint[] {
  const bundles = admissions.map((a, i) =>
    a.ok ? createBundle(mp, mp.saTable.nextHandle(), entries[i], a.elements) : null
  );
  const handles = bundles.map((b) => {
    if (b === null) return 0n;
    mp.saTable.insert(b);
    mp.counters.add(`oid.${op(request)}.offloaded`);
    return b.handle;
  });
  return handles;
}

/** Counts each refused entry and says whether any refusal was for capacity. */
function countRefusals(
  mp: Miniport,
  request: OidRequest,
  admissions: readonly Admission[]
): { readonly accepted: number; readonly capacity: boolean } {
  let accepted = 0;
  let capacity = false;
  for (const a of admissions) {
    if (a.ok) accepted += 1;
    else {
      reject(mp, request, a.reason);
      if (a.reason === 'capacity') capacity = true;
    }
  }
  return { accepted, capacity };
}

/**
 * OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA. Reference §4.3 and §6 item 10: "if any of the SAs in the
 * linked list were offloaded, the set request is successful" and "if the request fails, none of
 * the SAs … were offloaded" agree once success means "at least one offloaded": each refused entry
 * keeps a NULL handle, and a request with none offloaded fails with NDIS_STATUS_FAILURE, or
 * NDIS_STATUS_RESOURCES when an entry was refused for capacity (D15), and adds nothing.
 */
function addSa(mp: Miniport, request: OidRequest): OidResult {
  const decoded = decodeAddSaList(request.buffer, request.baseAddress ?? 0n, mp.arch);
  if (!decoded.ok) return malformed(mp, request, decoded);
  const entries = decoded.value;
  const admissions = admit(mp, entries);
  const { accepted, capacity } = countRefusals(mp, request, admissions);
  // The OID's output: "set OffloadHandle for each successful entry, NULL for a failed one".
  const handles = accepted === 0 ? entries.map(() => 0n) : commit(mp, request, entries, admissions);
  entries.forEach((e, i) => {
    writeAddSaHandle(request.buffer, e.entryOffset, handles[i], mp.arch);
    e.keyData.fill(0);
  });
  if (accepted === 0) return done(capacity ? S.NDIS_STATUS_RESOURCES : S.NDIS_STATUS_FAILURE);
  return done(S.NDIS_STATUS_SUCCESS, request.buffer.length);
}

/**
 * OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX: one bundle; KeyOffset counts from the structure's start
 * and each KeyOffsetBytes from the key array (reference §5.1). A refused entry gets a NULL handle
 * and NDIS_STATUS_RESOURCES (capacity) or NDIS_STATUS_NOT_SUPPORTED (anything else; D15).
 */
function addSaEx(mp: Miniport, request: OidRequest): OidResult {
  const decoded = decodeAddSaEx(request.buffer, mp.arch);
  if (!decoded.ok) return malformed(mp, request, decoded);
  const entry = decoded.value;
  const admissions = admit(mp, [entry]);
  const { accepted, capacity } = countRefusals(mp, request, admissions);
  const [handle] = accepted === 0 ? [0n] : commit(mp, request, [entry], admissions);
  writeAddSaExHandle(request.buffer, handle, mp.arch);
  entry.keyData.fill(0);
  if (accepted === 0) return done(capacity ? S.NDIS_STATUS_RESOURCES : S.NDIS_STATUS_NOT_SUPPORTED);
  return done(S.NDIS_STATUS_SUCCESS, request.buffer.length);
}

// ---------------------------------------------------------------------------------------------
// DELETE_SA, UPDATE_SA.
// ---------------------------------------------------------------------------------------------

/**
 * OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA. The whole list is judged first: a handle that names no
 * bundle (never given, already deleted, NULL) or appears twice is NDIS_STATUS_INVALID_PARAMETER
 * (D15) and nothing is deleted. Then each bundle leaves the table and its transforms are destroyed
 * (keys zeroed, SaTable.delete).
 *
 * Model (D16, in-flight NBLs): the data path looks a bundle up once per NBL, holds that reference
 * while it processes every NET_BUFFER of the NBL, and finishes all of that NBL's cryptography
 * before anything that can re-enter the control path (link.transmit, the completion callback).
 * JavaScript runs one thing at a time, so a DELETE_SA lands either before an NBL's lookup (the
 * NBL fails with NDIS_STATUS_FAILURE, D8) or after its cryptography (it went out with the old
 * keys) — never inside one NBL. A bundle with `inFlight > 0` is therefore deleted at once, and
 * counted as `oid.delete-sa.in-flight`. Real hardware would have to drain or fence instead.
 *
 * Model: NDIS_STATUS_REQUEST_ABORTED (a DELETE_SA pending when MiniportResetEx is called) cannot
 * occur: every request completes synchronously, so none is pending when a reset begins.
 */
function deleteSa(mp: Miniport, request: OidRequest): OidResult {
  if (mp.state === 'resetting') {
    reject(mp, request, 'resetting');
    return done(S.NDIS_STATUS_NOT_ACCEPTED);
  }
  const decoded = decodeDeleteSaList(request.buffer, request.baseAddress ?? 0n, mp.arch);
  if (!decoded.ok) return malformed(mp, request, decoded);
  const seen = new Set<bigint>();
  for (const { offloadHandle } of decoded.value) {
    if (seen.has(offloadHandle)) {
      reject(mp, request, 'duplicate-handle');
      return done(S.NDIS_STATUS_INVALID_PARAMETER);
    }
    if (mp.saTable.get(offloadHandle) === undefined) {
      reject(mp, request, 'unknown-handle');
      return done(S.NDIS_STATUS_INVALID_PARAMETER);
    }
    seen.add(offloadHandle);
  }
  for (const handle of seen) {
    if ((mp.saTable.get(handle)?.inFlight ?? 0) > 0) mp.counters.add('oid.delete-sa.in-flight');
    mp.saTable.delete(handle);
    mp.counters.add('oid.delete-sa.deleted');
  }
  return done(S.NDIS_STATUS_SUCCESS, request.buffer.length);
}

/** IPSEC_OFFLOAD_V2_OPERATION value → the SA table's operation name. */
function operationOf(value: number): Operation | undefined {
  return value === OperationValue.IPsecOffloadV2Ah
    ? 'ah'
    : value === OperationValue.IPsecOffloadV2Esp
      ? 'esp'
      : undefined;
}

/**
 * OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA. The structure has no `Next` although the OID page speaks
 * of a list (reference §6 item 8): a buffer of two or more whole structures back to back is taken
 * as that many updates, any other length as one structure. Every update is judged first — the
 * bundle must exist, hold an SA of that Operation with that Spi, and that SA must use ESN, else
 * NDIS_STATUS_INVALID_PARAMETER (D15) and nothing changes — then each SA's seqHigh is set.
 */
function updateSa(mp: Miniport, request: OidRequest): OidResult {
  const size = UPDATE_SA[mp.arch].size;
  const length = request.buffer.length;
  const count = length >= 2 * size && length % size === 0 ? length / size : 1;
  const updates: UpdateSa[] = [];
  for (let i = 0; i < count; i++) {
    const slice = count === 1 ? request.buffer : request.buffer.subarray(i * size, (i + 1) * size);
    const decoded = decodeUpdateSa(slice, mp.arch);
    if (!decoded.ok) return malformed(mp, request, decoded);
    updates.push(decoded.value);
  }
  const targets: SaElement[] = [];
  for (const u of updates) {
    const bundle = mp.saTable.get(u.offloadHandle);
    const operation = operationOf(u.operation);
    const element = bundle?.elements.find((e) => e.operation === operation);
    const reason =
      bundle === undefined
        ? 'unknown-handle'
        : element === undefined
          ? 'operation'
          : element.spi !== u.spi >>> 0
            ? 'spi-mismatch'
            : !element.esn
              ? 'no-esn'
              : undefined;
    if (reason !== undefined || element === undefined) {
      reject(mp, request, reason ?? 'operation');
      return done(S.NDIS_STATUS_INVALID_PARAMETER);
    }
    targets.push(element);
  }
  targets.forEach((element, i) => {
    // Contract D3: the high half enters the ICV/AAD and GCM IV, never the wire.
    element.seqHigh = updates[i].sequenceNumberHighOrder >>> 0;
    mp.counters.add('oid.update-sa.updated');
  });
  return done(S.NDIS_STATUS_SUCCESS, length);
}

// ---------------------------------------------------------------------------------------------
// OID_TCP_OFFLOAD_PARAMETERS, OID_OFFLOAD_ENCAPSULATION, the two queries.
// ---------------------------------------------------------------------------------------------

const P = OffloadParameter;

/** The highest value each NDIS_OFFLOAD_PARAMETERS member may hold (ntddndis.h; reference §3.7). */
const PARAMETER_MAX = {
  IPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  TCPIPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  UDPIPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  TCPIPv6Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  UDPIPv6Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  LsoV1: P.NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED,
  IPsecV1: P.NDIS_OFFLOAD_PARAMETERS_IPSECV1_AH_AND_ESP_ENABLED,
  LsoV2IPv4: P.NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED,
  LsoV2IPv6: P.NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED,
  TcpConnectionIPv4: P.NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED,
  TcpConnectionIPv6: P.NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED,
  IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED,
  IPsecV2IPv4: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED,
} as const;

/** A member of NDIS_OFFLOAD_PARAMETERS the request cannot have. */
interface BadParameter {
  readonly member: string;
  readonly detail: string;
}

/**
 * The configuration `p` asks for, or the first member the hardware cannot honour. Checksum members
 * turn transmit on for TX_ENABLED_RX_DISABLED and TX_RX_ENABLED; a direction the hardware lacks is
 * refused. IPsecV2 governs an adapter that supports IPv6 (and covers IPv4 too); IPsecV2IPv4 governs
 * an IPv4-only adapter; the other member is range-checked and otherwise unused (reference §2.13).
 * Model: IPsec offload v1 and TCP chimney are not modelled, so enabling either is refused.
 */
function parametersConfig(
  caps: Offload,
  c: CurrentConfig,
  p: OffloadParameters
): CurrentConfig | BadParameter {
  for (const [member, max] of Object.entries(PARAMETER_MAX) as [
    keyof typeof PARAMETER_MAX,
    number,
  ][]) {
    if (p[member] > max) return { member, detail: `expected 0…${max}, got ${p[member]}` };
  }
  // The first member the hardware cannot honour; the switches below keep their value meanwhile.
  let bad: BadParameter | undefined;
  const refuseMember = (member: string, detail: string, current: boolean): boolean => {
    bad ??= { member, detail };
    return current;
  };
  const checksum = (
    member: string,
    value: number,
    tx: number,
    rx: number,
    current: boolean
  ): boolean => {
    if (value === P.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) return current;
    const wantTx =
      value === P.NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED ||
      value === P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
    const wantRx =
      value === P.NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED ||
      value === P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
    if (wantTx && tx === 0) return refuseMember(member, 'transmit checksum not supported', current);
    if (wantRx && rx === 0) return refuseMember(member, 'receive checksum not supported', current);
    return wantTx;
  };
  const ck = caps.Checksum;
  const ipv4Ip = checksum(
    'IPv4Checksum',
    p.IPv4Checksum,
    ck.IPv4Transmit.IpChecksum,
    ck.IPv4Receive.IpChecksum,
    c.checksumIPv4.ip
  );
  const ipv4Tcp = checksum(
    'TCPIPv4Checksum',
    p.TCPIPv4Checksum,
    ck.IPv4Transmit.TcpChecksum,
    ck.IPv4Receive.TcpChecksum,
    c.checksumIPv4.tcp
  );
  const ipv4Udp = checksum(
    'UDPIPv4Checksum',
    p.UDPIPv4Checksum,
    ck.IPv4Transmit.UdpChecksum,
    ck.IPv4Receive.UdpChecksum,
    c.checksumIPv4.udp
  );
  const ipv6Tcp = checksum(
    'TCPIPv6Checksum',
    p.TCPIPv6Checksum,
    ck.IPv6Transmit.TcpChecksum,
    ck.IPv6Receive.TcpChecksum,
    c.checksumIPv6.tcp
  );
  const ipv6Udp = checksum(
    'UDPIPv6Checksum',
    p.UDPIPv6Checksum,
    ck.IPv6Transmit.UdpChecksum,
    ck.IPv6Receive.UdpChecksum,
    c.checksumIPv6.udp
  );
  // A MaxOffLoadSize of 0 means the hardware has no such LSO.
  const lso = (
    member: string,
    value: number,
    enabled: number,
    max: number,
    cur: boolean
  ): boolean => {
    if (value === P.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) return cur;
    if (value !== enabled) return false;
    return max > 0 ? true : refuseMember(member, 'not supported by the hardware', cur);
  };
  const V1 = P.NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED;
  const V2 = P.NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
  const lsoV1 = lso('LsoV1', p.LsoV1, V1, caps.LsoV1.IPv4.MaxOffLoadSize, c.lsoV1);
  const lsoV2IPv4 = lso('LsoV2IPv4', p.LsoV2IPv4, V2, caps.LsoV2.IPv4.MaxOffLoadSize, c.lsoV2IPv4);
  const lsoV2IPv6 = lso('LsoV2IPv6', p.LsoV2IPv6, V2, caps.LsoV2.IPv6.MaxOffLoadSize, c.lsoV2IPv6);
  if (bad) return bad;

  if (p.IPsecV1 > P.NDIS_OFFLOAD_PARAMETERS_IPSECV1_DISABLED) {
    return { member: 'IPsecV1', detail: 'IPsec offload version 1 is not supported' };
  }
  for (const member of ['TcpConnectionIPv4', 'TcpConnectionIPv6'] as const) {
    if (p[member] === P.NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED) {
      return { member, detail: 'TCP connection offload is not supported' };
    }
  }

  const v2 = caps.IPsecV2;
  const governing = v2.IPv6Supported ? 'IPsecV2' : 'IPsecV2IPv4';
  const setting = p[governing];
  let { ipsecAh, ipsecEsp, ipsecIpv6 } = c;
  if (setting !== P.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) {
    const ah =
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED ||
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED;
    const esp =
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED ||
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED;
    const algorithms = v2.AuthenticationAlgorithms !== 0 || v2.EncryptionAlgorithms !== 0;
    if (ah && !(v2.Ah && algorithms)) return { member: governing, detail: 'AH not supported' };
    if (esp && !(v2.Esp && algorithms)) return { member: governing, detail: 'ESP not supported' };
    ipsecAh = ah;
    ipsecEsp = esp;
    ipsecIpv6 = (ah || esp) && v2.IPv6Supported;
  }
  return {
    ...c,
    ipsecAh,
    ipsecEsp,
    ipsecIpv6,
    lsoV1,
    lsoV2IPv4,
    lsoV2IPv6,
    checksumIPv4: { ip: ipv4Ip, tcp: ipv4Tcp, udp: ipv4Udp },
    checksumIPv6: { ...c.checksumIPv6, tcp: ipv6Tcp, udp: ipv6Udp },
  };
}

/** Indicates NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG with the configuration as an NDIS_OFFLOAD. */
function indicateCurrentConfig(mp: Miniport): void {
  mp.counters.add('indicate:NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG');
  mp.indicateStatus({
    status: S.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
    offload: currentOffload(mp),
  });
}

/**
 * OID_TCP_OFFLOAD_PARAMETERS: contents the miniport cannot honour are NDIS_STATUS_INVALID_DATA
 * (the OID page: "If the contents of InformationBuffer are invalid…"; NDIS_STATUS_NOT_SUPPORTED
 * there means the OID itself is unsupported) and change nothing. A successful set — even one of
 * only NO_CHANGE — is followed by exactly one NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG ("After the
 * update, the miniport driver must report…"). Disabling IPsec deletes no SA: the transport stops
 * handing the NIC IPsec work first (D10) and deletes its SAs itself.
 */
function offloadParameters(mp: Miniport, request: OidRequest): OidResult {
  const decoded = decodeOffloadParameters(request.buffer);
  if (!decoded.ok) return malformed(mp, request, decoded);
  const next = parametersConfig(mp.capabilities, mp.config, decoded.value);
  if ('member' in next) {
    reject(mp, request, next.member);
    return done(S.NDIS_STATUS_INVALID_DATA);
  }
  mp.config = next;
  indicateCurrentConfig(mp);
  return done(S.NDIS_STATUS_SUCCESS, request.buffer.length);
}

/** The NDIS_ENCAPSULATION_* bits any offload supports for IPv4 and for IPv6. */
function encapsulations(caps: Offload): { readonly IPv4: number; readonly IPv6: number } {
  const ck = caps.Checksum;
  const v2 = caps.IPsecV2;
  return {
    IPv4:
      ck.IPv4Transmit.Encapsulation |
      ck.IPv4Receive.Encapsulation |
      caps.LsoV1.IPv4.Encapsulation |
      caps.LsoV2.IPv4.Encapsulation |
      v2.Encapsulation,
    IPv6:
      ck.IPv6Transmit.Encapsulation |
      ck.IPv6Receive.Encapsulation |
      caps.LsoV2.IPv6.Encapsulation |
      (v2.IPv6Supported ? v2.Encapsulation : 0),
  };
}

/**
 * OID_OFFLOAD_ENCAPSULATION: "If a miniport driver supports any offload type that supports the
 * requested encapsulation type, the driver must return NDIS_STATUS_SUCCESS … Otherwise … should
 * return NDIS_STATUS_INVALID_PARAMETER" — also for an Enabled value that is none of
 * NDIS_OFFLOAD_SET_*. NDIS_OFFLOAD_SET_ON (either IP version) starts receive offload (D12);
 * NDIS_OFFLOAD_SET_OFF (and no ON) stops it. Then NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG.
 * Model: one receive switch serves both IP versions; HeaderSize is not checked (the data path
 * parses the Ethernet header itself); transmit offloads follow OID_TCP_OFFLOAD_PARAMETERS alone.
 */
function offloadEncapsulation(mp: Miniport, request: OidRequest): OidResult {
  const decoded = decodeOffloadEncapsulation(request.buffer);
  if (!decoded.ok) return malformed(mp, request, decoded);
  const supported = encapsulations(mp.capabilities);
  const { IPv4, IPv6 } = decoded.value;
  const on = OffloadSet.NDIS_OFFLOAD_SET_ON;
  for (const [family, s] of [
    ['IPv4', IPv4],
    ['IPv6', IPv6],
  ] as const) {
    if (s.Enabled > OffloadSet.NDIS_OFFLOAD_SET_OFF) {
      reject(mp, request, `${family}.Enabled`);
      return done(S.NDIS_STATUS_INVALID_PARAMETER);
    }
    const type = s.EncapsulationType >>> 0;
    if (s.Enabled === on && (type === 0 || (type & ~supported[family]) !== 0)) {
      reject(mp, request, `${family}.EncapsulationType`);
      return done(S.NDIS_STATUS_INVALID_PARAMETER);
    }
  }
  const off = OffloadSet.NDIS_OFFLOAD_SET_OFF;
  const receiveEnabled =
    IPv4.Enabled === on || IPv6.Enabled === on
      ? true
      : IPv4.Enabled === off || IPv6.Enabled === off
        ? false
        : mp.config.receiveEnabled;
  mp.config = { ...mp.config, receiveEnabled };
  indicateCurrentConfig(mp);
  return done(S.NDIS_STATUS_SUCCESS, request.buffer.length);
}

/**
 * The two capability queries: NDIS_STATUS_BUFFER_TOO_SHORT with BytesNeeded for a short buffer.
 * Model: only the NDIS_IPSEC_OFFLOAD_V2 member of NDIS_OFFLOAD is encoded (0x20 bytes, decoded by
 * ndis/caps.ts decodeIpsecOffloadV2); the whole record is `hardwareCapabilities` /
 * `currentOffload` for callers in the model.
 */
function queryIpsec(request: OidRequest, ipsec: IpsecOffloadV2): OidResult {
  const size = IPSEC_OFFLOAD_V2.size;
  if (request.buffer.length < size) return done(S.NDIS_STATUS_BUFFER_TOO_SHORT, 0, 0, size);
  request.buffer.set(encodeIpsecOffloadV2(ipsec));
  return done(S.NDIS_STATUS_SUCCESS, 0, size);
}
