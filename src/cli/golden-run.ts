/**
 * @module
 * Runs a validated vectors file (golden-schema.ts) against one simulated NIC: the capability
 * record with the file's overrides, SAs set through the real OID path (ADD_SA built from JSON with
 * `addSaEntry`, or the caller's binary ADD_SA / ADD_SA_EX bytes as given), UPDATE_SA / DELETE_SA
 * steps, and every NBL sent alone through MiniportSendNetBufferLists. The result is the output
 * object (fixed key order) and the frames in wire order, for the pcapng capture.
 *
 * CBC IVs (contract D6): the NIC draws each IV from its Random; an NBL's `ivs` are handed out in
 * order while that NBL is sent, and every other draw comes from `seededRandom(random)`. An IV of
 * the wrong length, or IVs left over when the NBL completes, is a bad vectors file.
 */
import { seededRandom } from '../crypto/random.ts';
import type { Random } from '../crypto/transform.ts';
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import { Miniport } from '../miniport/miniport.ts';
import type { Arch } from '../ndis/abi.ts';
import { decodeAddSaList, encodeAddSaList, readAddSaHandle } from '../ndis/addsa.ts';
import { readAddSaExHandle, ADD_SA_EX } from '../ndis/addsaex.ts';
import { defaultCapabilities, type Offload } from '../ndis/caps.ts';
import { encodeDeleteSaList } from '../ndis/deletesa.ts';
import { NetBuffer, NetBufferList, NetBufferListInfo } from '../ndis/nbl.ts';
import { Oid, Operation, oidName } from '../ndis/oid.ts';
import {
  decodeLsoTransmit,
  decodeLsoV1TransmitComplete,
  decodeLsoV2TransmitComplete,
  encodeChecksumTransmit,
  encodeHeaderTransmit,
  encodeLsoV1Transmit,
  encodeLsoV2Transmit,
} from '../ndis/oob.ts';
import { statusName } from '../ndis/status.ts';
import { encodeUpdateSa } from '../ndis/updatesa.ts';
import { addSaEntry, type SaDescription } from '../transport/sa-entry.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import {
  describe,
  VectorsError,
  type HandleRef,
  type NblVector,
  type SaVector,
  type StepVector,
  type Vectors,
} from './golden-schema.ts';

/** What a run produced: the output document and the frames in wire order. */
export interface GoldenRun {
  readonly output: Record<string, unknown>;
  readonly frames: readonly Uint8Array[];
}

const DEFAULT_BASE = 0x10000n;

const hex32 = (n: number): string => `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
const hex64 = (n: bigint): string => `0x${n.toString(16)}`;
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const status = (s: number): { hex: string; name: string } => ({
  hex: hex32(s),
  name: statusName(s),
});

/** A Random that hands out listed IVs first, then falls back to a seeded stream. */
class IvQueue implements Random {
  queue: { readonly iv: Uint8Array; readonly path: string }[] = [];
  readonly #fallback: Random;
  constructor(fallback: Random) {
    this.#fallback = fallback;
  }
  /** The first IV of the wrong length (thrown after the send: the NIC would swallow a throw). */
  error: VectorsError | undefined;
  fill(out: Uint8Array): void {
    const next = this.queue.shift();
    if (next === undefined) {
      this.#fallback.fill(out);
      return;
    }
    if (next.iv.length !== out.length) {
      this.error ??= new VectorsError(
        next.path,
        `${out.length} bytes (the CBC IV the NIC drew)`,
        `${next.iv.length} bytes`
      );
      this.#fallback.fill(out);
      return;
    }
    out.set(next.iv);
  }
}

/** Deep-merges the override object into the default capability record. */
function merge(base: unknown, over: unknown): unknown {
  if (over === undefined) return base;
  if (base === null || typeof base !== 'object') return over;
  const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
  for (const [k, v] of Object.entries(over as Record<string, unknown>)) {
    out[k] = merge(out[k], v);
  }
  return out;
}

/** The capability record: defaults, then the file's overrides (IPsecV2 fields at the top). */
export function capabilitiesOf(overrides: Record<string, unknown> | undefined): Offload {
  const d = defaultCapabilities();
  const ipsecKeys = new Set(Object.keys(d.IPsecV2));
  const ipsec: Record<string, unknown> = {};
  const other: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(overrides ?? {})) (ipsecKeys.has(k) ? ipsec : other)[k] = v;
  return merge(d, { ...other, IPsecV2: ipsec }) as Offload;
}

/** The counters that changed between two snapshots, as deltas. */
function changed(
  before: Record<string, number>,
  after: Record<string, number>
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after))
    if (v !== (before[k] ?? 0)) out[k] = v - (before[k] ?? 0);
  return out;
}

/** Runs the vectors; throws a VectorsError for a semantic error (bad name, key, IV, …). */
export function runVectors(v: Vectors): GoldenRun {
  const arch: Arch = v.arch ?? 'x64';
  const seed = v.random ?? 1n;
  const random = new IvQueue(seededRandom(seed));
  const frames: Uint8Array[] = [];
  let sent: Uint8Array[] = [];
  const completed: NetBufferList[] = [];
  const mp = new Miniport({
    capabilities: capabilitiesOf(v.capabilities),
    arch,
    random,
    link: { transmit: (f) => sent.push(f.slice()) },
    complete: (nbl) => completed.push(nbl),
  });
  const handles: bigint[] = [];
  const named = new Map<string, number[]>();

  const resolve = (ref: HandleRef, path: string): bigint => {
    if (typeof ref === 'bigint') return ref;
    let list: number[];
    if (typeof ref.sa === 'number') {
      if (ref.entry !== 0)
        throw new VectorsError(path, '"entry" only with a name', describe(ref.entry));
      if (ref.sa >= handles.length) {
        throw new VectorsError(path, `an SA index below ${handles.length}`, String(ref.sa));
      }
      list = [ref.sa];
    } else {
      const found = named.get(ref.sa);
      if (found === undefined) {
        const names = [...named.keys()].map((n) => JSON.stringify(n)).join(', ');
        throw new VectorsError(
          path,
          `the name of an earlier SA entry (${names || 'none'})`,
          JSON.stringify(ref.sa)
        );
      }
      list = found;
    }
    if (ref.entry >= list.length) {
      throw new VectorsError(path, `an entry below ${list.length}`, String(ref.entry));
    }
    return handles[list[ref.entry]];
  };

  const oid = (
    kind: string,
    code: number,
    buffer: Uint8Array,
    base: bigint | undefined,
    read: () => bigint[]
  ): Record<string, unknown> => {
    const before = mp.counters.snapshot();
    const result = mp.oidRequest({
      type: 'set',
      oid: code,
      buffer,
      ...(base === undefined ? {} : { baseAddress: base }),
    });
    const written = read();
    return {
      step: kind,
      oid: oidName(code),
      bytes: buffer.length,
      status: status(result.status),
      ...(written.length > 0 ? { handles: written.map(hex64) } : {}),
      counters: changed(before, mp.counters.snapshot()),
    };
  };

  const addSa = (sa: SaVector, path: string): Record<string, unknown> => {
    let out: Record<string, unknown>;
    let written: bigint[] = [];
    if (sa.json !== undefined) {
      const bytes = encodeJson(sa.json, `${path}.json`);
      const list = encodeAddSaList([bytes], DEFAULT_BASE, arch);
      out = oid('json', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA, list.bytes, DEFAULT_BASE, () => {
        written = list.entryOffsets.map((o) => readAddSaHandle(list.bytes, o, arch));
        return written;
      });
    } else if (sa.addSa !== undefined) {
      const bytes = sa.addSa.slice();
      const base = sa.baseAddress ?? DEFAULT_BASE;
      if (base + BigInt(bytes.length) > 2n ** (arch === 'x64' ? 64n : 32n)) {
        throw new VectorsError(
          `${path}.baseAddress`,
          `an address the ${bytes.length} bytes fit after on ${arch}`,
          hex64(base)
        );
      }
      const decoded = decodeAddSaList(bytes, base, arch);
      const offsets = decoded.ok ? decoded.value.map((e) => e.entryOffset) : [];
      out = oid('addSa', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA, bytes, base, () => {
        written = offsets.map((o) => readAddSaHandle(bytes, o, arch));
        return written;
      });
    } else {
      const bytes = sa.addSaEx!.slice();
      out = oid('addSaEx', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX, bytes, undefined, () => {
        written =
          bytes.length >= ADD_SA_EX[arch].SIZEOF_REVISION_1 ? [readAddSaExHandle(bytes, arch)] : [];
        return written;
      });
    }
    const indices = written.map((h) => handles.push(h) - 1);
    if (sa.name !== undefined) {
      if (named.has(sa.name))
        throw new VectorsError(`${path}.name`, 'a name not used before', JSON.stringify(sa.name));
      named.set(sa.name, indices);
    }
    return { ...(sa.name === undefined ? {} : { name: sa.name }), ...out, sa: indices };
  };

  const sendNbl = (n: NblVector, path: string): Record<string, unknown> => {
    const nbl = buildNbl(n, path, resolve);
    random.queue = (n.ivs ?? []).map((iv, i) => ({ iv, path: `${path}.ivs[${i}]` }));
    const sentBefore = nbl.info.get(NetBufferListInfo.TcpLargeSendNetBufferListInfo);
    const slotsBefore = slotValues(nbl);
    const before = mp.counters.snapshot();
    sent = [];
    completed.length = 0;
    mp.sendNetBufferLists(nbl);
    if (random.error !== undefined) throw random.error;
    if (random.queue.length > 0) {
      const given = n.ivs?.length ?? 0;
      throw new VectorsError(
        `${path}.ivs`,
        `${given - random.queue.length} IVs (one per CBC packet the NIC sealed)`,
        `${given}`
      );
    }
    if (completed.length !== 1 || completed[0] !== nbl) {
      throw new Error(
        `miniport: expected the NBL completed once, got ${completed.length} completions`
      );
    }
    frames.push(...sent);
    const slotsAfter = slotValues(nbl);
    const completion: Record<string, string> = {};
    slotsAfter.forEach((value, i) => {
      if (value !== slotsBefore[i]) completion[String(i)] = hex64(value);
    });
    const lso = n.lso !== undefined || (sentBefore & 0xffff_ffffn) !== 0n;
    return {
      step: 'nbl',
      ...(n.name === undefined ? {} : { name: n.name }),
      status: status(nbl.status),
      ...(lso ? { lsoComplete: lsoComplete(Number(sentBefore & 0xffff_ffffn), nbl) } : {}),
      completionSlots: completion,
      frames: sent.map(toHex),
      counters: changed(before, mp.counters.snapshot()),
    };
  };

  const runStep = (s: StepVector, path: string): Record<string, unknown> => {
    if (s.nbl !== undefined) return sendNbl(s.nbl, `${path}.nbl`);
    if (s.sa !== undefined) return addSa(s.sa, `${path}.sa`);
    if (s.updateSa !== undefined) {
      const u = s.updateSa;
      const bytes = encodeUpdateSa(
        {
          offloadHandle: checkHandle(
            resolve(u.offloadHandle, `${path}.updateSa.offloadHandle`),
            arch,
            `${path}.updateSa.offloadHandle`
          ),
          operation:
            u.operation === 'esp' ? Operation.IPsecOffloadV2Esp : Operation.IPsecOffloadV2Ah,
          spi: u.spi,
          sequenceNumberHighOrder: u.seqHigh,
        },
        arch
      );
      return oid(
        'updateSa',
        Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA,
        bytes,
        undefined,
        () => []
      );
    }
    const d = s.deleteSa!;
    const list = d.handles.map((h, i) =>
      checkHandle(
        resolve(h, `${path}.deleteSa.handles[${i}]`),
        arch,
        `${path}.deleteSa.handles[${i}]`
      )
    );
    const base = d.baseAddress ?? DEFAULT_BASE;
    const bytes = encodeDeleteSaList(list, base, arch).bytes;
    return oid('deleteSa', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA, bytes, base, () => []);
  };

  const sas = (v.sas ?? []).map((s, i) => addSa(s, `$.sas[${i}]`));
  const steps =
    v.steps !== undefined
      ? v.steps.map((s, i) => runStep(s, `$.steps[${i}]`))
      : (v.nbls ?? []).map((n, i) => sendNbl(n, `$.nbls[${i}]`));
  return {
    output: {
      arch,
      random: seed.toString(),
      sas,
      steps,
      frames: frames.length,
      counters: mp.counters.snapshot(),
    },
    frames,
  };
}

/** Throws unless `handle` fits a pointer of `arch`. */
function checkHandle(handle: bigint, arch: Arch, path: string): bigint {
  if (arch === 'x86' && handle > 0xffff_ffffn) {
    throw new VectorsError(path, 'a 32-bit handle on x86', hex64(handle));
  }
  return handle;
}

/** Every OOB slot value of `nbl`. */
function slotValues(nbl: NetBufferList): bigint[] {
  return Array.from({ length: 18 }, (_, i) => nbl.info.get(i));
}

/** The completion LSO slot, raw and decoded as the Type of the send selected. */
function lsoComplete(sentRaw: number, nbl: NetBufferList): Record<string, unknown> {
  const raw = Number(nbl.info.get(NetBufferListInfo.TcpLargeSendNetBufferListInfo) & 0xffff_ffffn);
  const v2 = decodeLsoTransmit(sentRaw).Type === 1;
  return {
    raw: hex32(raw),
    view: v2 ? 'LsoV2TransmitComplete' : 'LsoV1TransmitComplete',
    decoded: v2 ? decodeLsoV2TransmitComplete(raw) : decodeLsoV1TransmitComplete(raw),
  };
}

/** An IPv4 or IPv6 address from its text. */
function address(text: string, path: string): Uint8Array {
  try {
    return text.includes(':') ? ipv6.parseAddress(text) : ipv4.parseAddress(text);
  } catch {
    throw new VectorsError(path, 'an IPv4 or IPv6 address', JSON.stringify(text));
  }
}

/** The ADD_SA entry of a `json` SA, keys checked against the algorithms. */
function encodeJson(j: NonNullable<SaVector['json']>, path: string): ReturnType<typeof addSaEntry> {
  const source = address(j.src, `${path}.src`);
  const destination = address(j.dst, `${path}.dst`);
  if (source.length !== destination.length) {
    throw new VectorsError(`${path}.dst`, `an address of the family of src`, JSON.stringify(j.dst));
  }
  const sas = j.sas.map((sa, i): SaDescription => {
    const at = `${path}.sas[${i}]`;
    if (sa.protocol === 'esp') {
      const enc = encryptionInfo(sa.encryption ?? 'null');
      const key = sa.encryptionKey ?? new Uint8Array(0);
      if (key.length !== enc.keyLength) {
        throw new VectorsError(
          `${at}.encryptionKey`,
          `${enc.keyLength} bytes for ${enc.name}`,
          `${key.length} bytes`
        );
      }
    } else if (sa.encryption !== undefined) {
      throw new VectorsError(
        `${at}.encryption`,
        'no encryption for AH',
        JSON.stringify(sa.encryption)
      );
    }
    if (sa.integrity !== undefined && sa.integrity !== null) {
      const auth = integrityInfo(sa.integrity);
      const key = sa.integrityKey ?? new Uint8Array(0);
      if (key.length !== auth.keyLength) {
        throw new VectorsError(
          `${at}.integrityKey`,
          `${auth.keyLength} bytes for ${auth.name}`,
          `${key.length} bytes`
        );
      }
    } else if (sa.protocol === 'ah') {
      throw new VectorsError(
        `${at}.integrity`,
        'an integrity algorithm for AH',
        describe(sa.integrity)
      );
    }
    return {
      protocol: sa.protocol,
      spi: sa.spi,
      ...(sa.encryption === undefined ? {} : { encryption: sa.encryption }),
      ...(sa.integrity === undefined ? {} : { integrity: sa.integrity }),
      ...(sa.encryptionKey === undefined ? {} : { encryptionKey: sa.encryptionKey }),
      ...(sa.integrityKey === undefined ? {} : { integrityKey: sa.integrityKey }),
      ...(sa.icvLength === undefined ? {} : { icvLength: sa.icvLength }),
      ...(sa.esn === undefined ? {} : { esn: sa.esn }),
      ...(sa.seqHigh === undefined ? {} : { seqHigh: sa.seqHigh }),
    };
  });
  try {
    return addSaEntry({
      inbound: j.inbound ?? false,
      source,
      destination,
      ...(j.udpEspEncapsulation === undefined
        ? {}
        : { udpEspEncapsulation: j.udpEspEncapsulation }),
      sas,
    });
  } catch (e) {
    throw new VectorsError(path, 'an SA bundle IPsecOV2 can describe', (e as Error).message);
  }
}

/** Builds the NBL: NET_BUFFERs, then OOB fields, then raw slots (which win). */
function buildNbl(
  n: NblVector,
  path: string,
  resolve: (ref: HandleRef, path: string) => bigint
): NetBufferList {
  const nbl = new NetBufferList(...n.netBuffers.map((b) => new NetBuffer(b.slice())));
  const I = NetBufferListInfo;
  if (n.ipsec?.offloadHandle !== undefined) {
    nbl.info.set(
      I.IPsecOffloadV2NetBufferListInfo,
      resolve(n.ipsec.offloadHandle, `${path}.ipsec.offloadHandle`)
    );
  }
  if (n.ipsec?.tunnelHandle !== undefined) {
    nbl.info.set(
      I.IPsecOffloadV2TunnelNetBufferListInfo,
      resolve(n.ipsec.tunnelHandle, `${path}.ipsec.tunnelHandle`)
    );
  }
  if (n.header !== undefined) {
    nbl.info.setU32(
      I.IPsecOffloadV2HeaderNetBufferListInfo,
      encodeHeaderTransmit({
        NextHeader: n.header.NextHeader ?? 0,
        PadLength: n.header.PadLength ?? 0,
        AhHeaderOffset: n.header.AhHeaderOffset ?? 0,
        EspHeaderOffset: n.header.EspHeaderOffset ?? 0,
      })
    );
  }
  if (n.lso !== undefined) {
    const l = n.lso;
    if (l.version === 1 && l.IPVersion !== undefined) {
      throw new VectorsError(
        `${path}.lso.IPVersion`,
        'no IPVersion with LSOv1',
        String(l.IPVersion)
      );
    }
    nbl.info.setU32(
      I.TcpLargeSendNetBufferListInfo,
      l.version === 1
        ? encodeLsoV1Transmit({ MSS: l.MSS, TcpHeaderOffset: l.TcpHeaderOffset, Type: 0 })
        : encodeLsoV2Transmit({
            MSS: l.MSS,
            TcpHeaderOffset: l.TcpHeaderOffset,
            Type: 1,
            IPVersion: l.IPVersion ?? 0,
          })
    );
  }
  if (n.checksum !== undefined) {
    const c = n.checksum;
    nbl.info.setU32(
      I.TcpIpChecksumNetBufferListInfo,
      encodeChecksumTransmit({
        IsIPv4: c.IsIPv4 ?? 0,
        IsIPv6: c.IsIPv6 ?? 0,
        TcpChecksum: c.TcpChecksum ?? 0,
        UdpChecksum: c.UdpChecksum ?? 0,
        IpHeaderChecksum: c.IpHeaderChecksum ?? 0,
        TcpHeaderOffset: c.TcpHeaderOffset ?? 0,
      })
    );
  }
  for (const [slot, value] of Object.entries(n.slots ?? {})) nbl.info.set(Number(slot), value);
  return nbl;
}
