/**
 * @module
 * The SA OIDs of the control path: "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA",
 * "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX", "OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA",
 * "OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA" and "Managing Security Associations in IPsec Offload
 * Version 2". Dispatched by ctrlpath.ts. Reference: ndis-ipsecov2.md §4.3, §6 items 8 and 10;
 * contract D15, D16.
 */
import { decodeAddSaList, writeAddSaHandle } from '../ndis/addsa.ts';
import { decodeAddSaEx, writeAddSaExHandle } from '../ndis/addsaex.ts';
import { decodeDeleteSaList } from '../ndis/deletesa.ts';
import { Operation as OperationValue } from '../ndis/oid.ts';
import type { SaBundle as AddSaBundle } from '../ndis/sa.ts';
import { NdisStatus } from '../ndis/status.ts';
import { decodeUpdateSa, UPDATE_SA, type UpdateSa } from '../ndis/updatesa.ts';
import type { OidRequest, OidResult } from './ctrlpath.ts';
import type { Miniport } from './miniport.ts';
import { done, malformed, op, reject } from './oid-common.ts';
import { sameBytes } from './sa-store.ts';
import { KeyedSa, type Operation, type SaBundle, type SaElement } from './sa-table.ts';
import { refuse, validateEntry, type ElementPlan, type Refusal } from './validate.ts';

const S = NdisStatus;

// ---------------------------------------------------------------------------------------------
// ADD_SA, ADD_SA_EX.
// ---------------------------------------------------------------------------------------------

type Admission = { readonly ok: true; readonly elements: readonly ElementPlan[] } | Refusal;

/** An inbound SA admitted earlier in the same request: the chain of those sharing an SPI slot. */
interface Claim {
  readonly operation: Operation;
  readonly spi: number;
  readonly destination: Uint8Array;
  readonly next: Claim | undefined;
}

/** True when `claims` holds an inbound SA with this protocol, SPI and destination (RFC 4301 §4.1). */
function claimed(
  claims: ReadonlyMap<number, Claim>,
  operation: Operation,
  spi: number,
  destination: Uint8Array
): boolean {
  for (let c = claims.get(spi & 0x3fff_ffff); c !== undefined; c = c.next) {
    if (c.spi === spi && c.operation === operation && sameBytes(c.destination, destination)) {
      return true;
    }
  }
  return false;
}

/**
 * Judges every entry of one request against the capabilities, the configuration (validate.ts) and
 * the SA table, without changing anything: an inbound SPI already held for the same protocol and
 * destination (here or earlier in the list) is `spi-in-use` (RFC 4301 §4.1: the receive lookup
 * must be unambiguous); entries past SaOffloadCapacity (which counts entries, D12) are `capacity`.
 */
function admit(mp: Miniport, entries: readonly AddSaBundle[]): Admission[] {
  let room = mp.saTable.capacity - mp.saTable.size;
  const claims = new Map<number, Claim>();
  const admissions: Admission[] = [];
  for (const entry of entries) {
    const verdict = validateEntry(entry, mp.capabilities.IPsecV2, mp.config);
    admissions.push(verdict.ok ? admitEntry(mp, entry, verdict, claims, room) : verdict);
    if (admissions[admissions.length - 1].ok) room -= 1;
  }
  return admissions;
}

/** The table and capacity checks of one valid entry; claims its inbound SAs when admitted. */
function admitEntry(
  mp: Miniport,
  entry: AddSaBundle,
  verdict: Admission & { readonly ok: true },
  claims: Map<number, Claim>,
  room: number
): Admission {
  const elements = verdict.elements;
  const inbound = entry.flags.inbound;
  if (inbound) {
    for (let i = 0; i < elements.length; i++) {
      const e = elements[i];
      if (
        claimed(claims, e.operation, e.spi, entry.dst) ||
        mp.saTable.findInbound(e.spi, e.operation, entry.dst)
      ) {
        return refuse('spi-in-use', i, `inbound ${e.operation} SPI 0x${e.spi.toString(16)} in use`);
      }
    }
  }
  if (room <= 0) {
    return refuse('capacity', -1, `SaOffloadCapacity ${mp.saTable.capacity} reached`);
  }
  if (inbound) {
    for (const e of elements) {
      const slot = e.spi & 0x3fff_ffff;
      const next = claims.get(slot);
      claims.set(slot, { operation: e.operation, spi: e.spi, destination: entry.dst, next });
    }
  }
  return verdict;
}

/**
 * One SA bundle with the next handle: each SA keeps a copy of its keys and creates its transform
 * on first use (issue 6; KeyedSa). validate.ts has already checked what createEsp / createAuth
 * would refuse (D5, D6). The table keeps its own copies of the endpoints.
 */
function createBundle(mp: Miniport, entry: AddSaBundle, plans: readonly ElementPlan[]): SaBundle {
  const elements = plans.map((p): SaElement => new KeyedSa(p, mp.saTable, mp.random));
  return mp.saTable.create(
    {
      inbound: entry.flags.inbound,
      ipv6: entry.flags.ipv6,
      source: entry.src,
      destination: entry.dst,
      udpEspEncapsulation: entry.udpEspEncapsulation,
    },
    elements
  );
}

/**
 * Offloads the admitted entries: keys every bundle first, then inserts them all with fresh handles
 * (SaTable.create: non-zero, never reused) and returns the handles in entry order (0n for a
 * refused entry). The SAs copy their keys; the caller zeroes the decoded key buffers.
 */
function commit(
  mp: Miniport,
  request: OidRequest,
  entries: readonly AddSaBundle[],
  admissions: readonly Admission[]
): bigint[] {
  const bundles = admissions.map((a, i) =>
    a.ok ? createBundle(mp, entries[i], a.elements) : null
  );
  let offloaded = 0;
  const handles = bundles.map((b) => {
    if (b === null) return 0n;
    mp.saTable.insert(b);
    offloaded += 1;
    return b.handle;
  });
  if (offloaded > 0) mp.counters.add(`oid.${op(request)}.offloaded`, offloaded);
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
export function addSa(mp: Miniport, request: OidRequest): OidResult {
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
export function addSaEx(mp: Miniport, request: OidRequest): OidResult {
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
export function deleteSa(mp: Miniport, request: OidRequest): OidResult {
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
export function updateSa(mp: Miniport, request: OidRequest): OidResult {
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
