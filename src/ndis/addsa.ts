/**
 * @module
 * IPSEC_OFFLOAD_V2_ADD_SA, the linked list that OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA carries
 * (NDIS 6.1 / 6.20), for x64 and x86. Pages: "IPSEC_OFFLOAD_V2_ADD_SA structure",
 * "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA" (ndis.h). Reference: ndis-ipsecov2.md §2.5, §4.3;
 * contract D7 (byte order), D15 (outcomes, `Next` pointers).
 *
 * Each entry is one SA bundle in one direction with its key buffer `KeyData[KeyLength]` at the
 * end; `Next` is the absolute address of the next entry inside the same buffer, whose own address
 * is part of the input. The miniport writes each entry's `OffloadHandle` back into the caller's
 * buffer ({@link writeAddSaHandle}): that is the OID's output.
 */
import {
  alignUp,
  checkBase,
  dataView,
  pointerSize,
  readPointer,
  tooShort,
  walkList,
  writeHeader,
  writePointer,
  type Arch,
  type Decoded,
  type FieldTable,
} from './abi.ts';
import { ObjectType, Revision } from './oid.ts';
import { readBody, writeBody, type SaBundle } from './sa.ts';

/**
 * IPSEC_OFFLOAD_V2_ADD_SA field offsets per architecture (x64 from the ndis.sys PDB, x86 computed
 * from natural alignment; §2.5). `SIZEOF_REVISION_1` = RTL_SIZEOF_THROUGH_FIELD(…, KeyData).
 */
export const ADD_SA = {
  x64: {
    Header: 0x00,
    Next: 0x08,
    NumExtHdrs: 0x10,
    Flags: 0x14,
    SrcAddr: 0x18,
    IPv4DestAddr: 0x1c,
    IPv6DestAddr: 0x28,
    OffloadHandle: 0x38,
    UdpEspEncapsulation: 0x40,
    SecAssoc: 0x44,
    KeyLength: 0xa4,
    KeyData: 0xa8,
    SIZEOF_REVISION_1: 0xa9,
    size: 0xb0,
  },
  x86: {
    Header: 0x00,
    Next: 0x04,
    NumExtHdrs: 0x08,
    Flags: 0x0c,
    SrcAddr: 0x10,
    IPv4DestAddr: 0x14,
    IPv6DestAddr: 0x20,
    OffloadHandle: 0x30,
    UdpEspEncapsulation: 0x34,
    SecAssoc: 0x38,
    KeyLength: 0x98,
    KeyData: 0x9c,
    SIZEOF_REVISION_1: 0x9d,
    size: 0xa0,
  },
} as const;

/** One decoded list entry: the bundle plus where the entry starts in the buffer. */
export interface AddSaEntry extends SaBundle {
  /** Byte offset of this IPSEC_OFFLOAD_V2_ADD_SA from the start of the buffer. */
  readonly entryOffset: number;
}

/** A list encoded into one buffer: the bytes and each entry's offset in them. */
export interface EncodedList {
  readonly bytes: Uint8Array;
  readonly entryOffsets: readonly number[];
}

/** Fields by offset, to name the field a short buffer cuts. */
function fields(arch: Arch): FieldTable {
  const L = ADD_SA[arch];
  return [
    ['Header', L.Header],
    ['Next', L.Next],
    ['NumExtHdrs', L.NumExtHdrs],
    ['Flags', L.Flags],
    ['SrcAddr', L.SrcAddr],
    ['DestAddr', L.IPv4DestAddr],
    ['OffloadHandle', L.OffloadHandle],
    ['UdpEspEncapsulation', L.UdpEspEncapsulation],
    ['SecAssoc', L.SecAssoc],
    ['KeyLength', L.KeyLength],
    ['KeyData', L.KeyData],
  ];
}

/** The bytes one entry occupies: through KeyData[KeyLength] (at least NDIS_SIZEOF_…_REVISION_1). */
export function addSaSpan(sa: Pick<SaBundle, 'keyData'>, arch: Arch): number {
  const L = ADD_SA[arch];
  return Math.max(L.SIZEOF_REVISION_1, L.KeyData + sa.keyData.length);
}

/**
 * Writes one IPSEC_OFFLOAD_V2_ADD_SA at `offset` in `out` with the given `Next` address, zeroing
 * every byte of its span first; returns the span. Header.Size is NDIS_SIZEOF_…_ADD_SA_REVISION_1
 * (as the ADD_SA page asks). Throws a RangeError if `out` is too small or a value does not fit.
 */
export function writeAddSa(
  out: Uint8Array,
  offset: number,
  sa: SaBundle,
  next: bigint,
  arch: Arch
): number {
  const L = ADD_SA[arch];
  const span = addSaSpan(sa, arch);
  if (offset < 0 || offset + span > out.length) {
    throw new RangeError(
      `writeAddSa: expected room for ${span} bytes at offset ${offset}, got a ${out.length}-byte buffer`
    );
  }
  out.fill(0, offset, offset + span);
  const dv = dataView(out);
  writeHeader(dv, offset + L.Header, {
    Type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    Revision: Revision.NDIS_IPSEC_OFFLOAD_V2_ADD_SA_REVISION_1,
    Size: L.SIZEOF_REVISION_1,
  });
  writePointer(dv, offset + L.Next, next, arch, 'IPSEC_OFFLOAD_V2_ADD_SA.Next');
  writeBody(dv, offset, L, sa, arch, 'IPSEC_OFFLOAD_V2_ADD_SA');
  out.set(sa.keyData, offset + L.KeyData);
  return span;
}

/**
 * Encodes `entries` as one buffer at `baseAddress`: entries in order, each at the next
 * pointer-aligned offset, linked by absolute `Next` addresses, the last `Next` NULL.
 */
export function encodeAddSaList(
  entries: readonly SaBundle[],
  baseAddress: bigint,
  arch: Arch
): EncodedList {
  if (entries.length === 0)
    throw new RangeError('encodeAddSaList: expected at least one entry, got 0');
  const align = pointerSize(arch);
  const entryOffsets: number[] = [];
  let end = 0;
  for (const e of entries) {
    const at = alignUp(end, align);
    entryOffsets.push(at);
    end = at + addSaSpan(e, arch);
  }
  checkBase('encodeAddSaList', baseAddress, end, arch);
  const bytes = new Uint8Array(end);
  entries.forEach((e, i) => {
    const next = i + 1 < entryOffsets.length ? baseAddress + BigInt(entryOffsets[i + 1]) : 0n;
    writeAddSa(bytes, entryOffsets[i], e, next, arch);
  });
  return { bytes, entryOffsets };
}

/**
 * Decodes the ADD_SA list in `bytes`, which sits at `baseAddress`. Never throws on bad bytes: a
 * short buffer or a KeyLength past the end gives NDIS_STATUS_BUFFER_TOO_SHORT with bytesNeeded; a
 * wrong Header NDIS_STATUS_INVALID_LENGTH; a bad `Next` (misaligned, outside the buffer, a cycle,
 * into an earlier entry) or NumExtHdrs outside 1…2 NDIS_STATUS_INVALID_DATA (contract D15).
 * Throws a RangeError only if `baseAddress` itself is unusable (our misuse).
 */
export function decodeAddSaList(
  bytes: Uint8Array,
  baseAddress: bigint,
  arch: Arch
): Decoded<AddSaEntry[]> {
  checkBase('decodeAddSaList', baseAddress, bytes.length, arch);
  const L = ADD_SA[arch];
  // The decoder's own copy, made once per list (issue 6: not one ArrayBuffer per key): every
  // entry is read from it and every keyData is a view into it, so later writes to `bytes` (the
  // OffloadHandles, the caller's next request) change no decoded entry.
  const own = bytes.slice();
  const decoded = walkList<AddSaEntry>(own, baseAddress, arch, {
    nextOffset: L.Next,
    minSize: L.SIZEOF_REVISION_1,
    type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    revision: Revision.NDIS_IPSEC_OFFLOAD_V2_ADD_SA_REVISION_1,
    fields: fields(arch),
    decodeEntry(dv, at) {
      const body = readBody(dv, at, L, arch);
      if (!body.ok) return body;
      const b = body.value;
      const needed = at + L.KeyData + b.keyLength;
      if (needed > own.length) return tooShort('KeyLength', at + L.KeyLength, needed, own.length);
      const entry: AddSaEntry = {
        numExtHdrs: b.numExtHdrs,
        flags: b.flags,
        src: b.src,
        dst: b.dst,
        udpEspEncapsulation: b.udpEspEncapsulation,
        secAssoc: b.secAssoc,
        keyData: own.subarray(at + L.KeyData, needed),
        offloadHandle: b.offloadHandle,
        entryOffset: at,
      };
      return {
        ok: true,
        value: { value: entry, span: Math.max(L.SIZEOF_REVISION_1, L.KeyData + b.keyLength) },
      };
    },
  });
  // A list that does not decode gives no entries: no copy of a key outlives the call.
  if (!decoded.ok) own.fill(0);
  return decoded;
}

/** Reads the OffloadHandle of the entry at `entryOffset`. */
export function readAddSaHandle(bytes: Uint8Array, entryOffset: number, arch: Arch): bigint {
  checkEntry('readAddSaHandle', bytes, entryOffset, arch);
  return readPointer(dataView(bytes), entryOffset + ADD_SA[arch].OffloadHandle, arch);
}

/**
 * Writes `handle` into the OffloadHandle of the entry at `entryOffset` — the OID's output for that
 * entry (NULL = not offloaded). Throws a RangeError for a bad offset or a handle too wide for `arch`.
 */
export function writeAddSaHandle(
  bytes: Uint8Array,
  entryOffset: number,
  handle: bigint,
  arch: Arch
): void {
  checkEntry('writeAddSaHandle', bytes, entryOffset, arch);
  writePointer(
    dataView(bytes),
    entryOffset + ADD_SA[arch].OffloadHandle,
    handle,
    arch,
    'IPSEC_OFFLOAD_V2_ADD_SA.OffloadHandle'
  );
}

/** Throws a RangeError unless an entry's fixed part fits at `entryOffset`. */
function checkEntry(where: string, bytes: Uint8Array, entryOffset: number, arch: Arch): void {
  const size = ADD_SA[arch].SIZEOF_REVISION_1;
  const align = pointerSize(arch);
  if (
    !Number.isInteger(entryOffset) ||
    entryOffset < 0 ||
    entryOffset % align !== 0 ||
    entryOffset + size > bytes.length
  ) {
    throw new RangeError(
      `${where}: expected an entry offset aligned to ${align} with ${size} bytes inside ${bytes.length}, got ${entryOffset}`
    );
  }
}
