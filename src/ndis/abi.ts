/**
 * @module
 * The Windows ABI facts the binary OID codecs share: the two architectures, pointer size and
 * alignment, NDIS_OBJECT_HEADER, and the result of decoding an OID buffer. Pages:
 * "NDIS_OBJECT_HEADER structure", "NDIS_OID_REQUEST structure" (BytesNeeded). Reference:
 * ndis-ipsecov2.md §2 (general), contract D7 (byte order) and D15 (OID outcomes, `Next` pointers).
 *
 * Failure kinds (contract §4): bytes handed in by a caller (an OID's InformationBuffer) that do
 * not decode give a {@link Failure} value carrying the NDIS status the OID completes with — never
 * a throw; our own misuse (a handle that does not fit a pointer, a misaligned base address) throws.
 */
import { NdisStatus } from './status.ts';

/** The two Windows ABIs the OID structures are encoded for. */
export type Arch = 'x64' | 'x86';

/** Both architectures, for tests and tools that iterate them. */
export const ARCHES: readonly Arch[] = ['x64', 'x86'];

/** Bytes of a PVOID / NDIS_HANDLE: 8 on x64, 4 on x86. */
export function pointerSize(arch: Arch): 4 | 8 {
  return arch === 'x64' ? 8 : 4;
}

/** The largest pointer value on `arch`. */
export function maxPointer(arch: Arch): bigint {
  return arch === 'x64' ? 0xffff_ffff_ffff_ffffn : 0xffff_ffffn;
}

/** NDIS_OBJECT_HEADER {Type u8, Revision u8, Size u16}: 4 bytes at the start of every OID struct. */
export interface ObjectHeader {
  readonly Type: number;
  readonly Revision: number;
  readonly Size: number;
}

/** Bytes of NDIS_OBJECT_HEADER. */
export const OBJECT_HEADER_SIZE = 4;

/** The result of decoding an OID buffer: the value, or the status the OID request fails with. */
export type Decoded<T> = { readonly ok: true; readonly value: T } | Failure;

/** Why an OID buffer was refused: the NDIS status, the offending field and its byte offset. */
export interface Failure {
  readonly ok: false;
  /** The status the OID request completes with (contract D15). */
  readonly status: NdisStatus;
  /** Microsoft's field name, e.g. `'Next'`, `'Header.Revision'`, `'KeyLength'`. */
  readonly field: string;
  /** Byte offset of the field from the start of the buffer given to the decoder. */
  readonly offset: number;
  /** A short human-readable reason, e.g. `'pointer not aligned to 8'`. */
  readonly reason: string;
  /** With NDIS_STATUS_BUFFER_TOO_SHORT: the buffer length that would have been enough (BytesNeeded). */
  readonly bytesNeeded?: number;
}

/** Wraps a decoded value. */
export function ok<T>(value: T): Decoded<T> {
  return { ok: true, value };
}

/** A failure with `status` at `field`/`offset`. */
export function fail(status: NdisStatus, field: string, offset: number, reason: string): Failure {
  return { ok: false, status, field, offset, reason };
}

/** NDIS_STATUS_BUFFER_TOO_SHORT: `field` at `offset` needs `bytesNeeded` bytes, `have` were given. */
export function tooShort(
  field: string,
  offset: number,
  bytesNeeded: number,
  have: number
): Failure {
  return {
    ok: false,
    status: NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
    field,
    offset,
    reason: `buffer too short: need ${bytesNeeded} bytes, got ${have}`,
    bytesNeeded,
  };
}

/** A DataView over exactly the window of `bytes`. */
export function dataView(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Reads NDIS_OBJECT_HEADER at `offset`. */
export function readHeader(dv: DataView, offset: number): ObjectHeader {
  return {
    Type: dv.getUint8(offset),
    Revision: dv.getUint8(offset + 1),
    Size: dv.getUint16(offset + 2, true),
  };
}

/** Writes NDIS_OBJECT_HEADER at `offset`. */
export function writeHeader(dv: DataView, offset: number, header: ObjectHeader): void {
  dv.setUint8(offset, header.Type);
  dv.setUint8(offset + 1, header.Revision);
  dv.setUint16(offset + 2, header.Size, true);
}

/**
 * Checks the NDIS_OBJECT_HEADER at `offset` against the type, the first revision and the
 * through-field size of revision 1; a wrong header is NDIS_STATUS_INVALID_LENGTH (contract D15).
 * Higher revisions are accepted (NDIS versioning: a newer revision extends the older one).
 */
export function checkHeader(
  dv: DataView,
  offset: number,
  expected: { readonly type: number; readonly revision: number; readonly size: number }
): Failure | undefined {
  const h = readHeader(dv, offset);
  const status = NdisStatus.NDIS_STATUS_INVALID_LENGTH;
  if (h.Type !== expected.type) {
    return fail(
      status,
      'Header.Type',
      offset,
      `expected Type 0x${hex(expected.type)}, got 0x${hex(h.Type)}`
    );
  }
  if (h.Revision < expected.revision) {
    return fail(
      status,
      'Header.Revision',
      offset + 1,
      `expected Revision >= ${expected.revision}, got ${h.Revision}`
    );
  }
  if (h.Size < expected.size) {
    return fail(
      status,
      'Header.Size',
      offset + 2,
      `expected Size >= 0x${hex(expected.size)}, got 0x${hex(h.Size)}`
    );
  }
  return undefined;
}

/** Reads a pointer-sized little-endian value. */
export function readPointer(dv: DataView, offset: number, arch: Arch): bigint {
  return arch === 'x64' ? dv.getBigUint64(offset, true) : BigInt(dv.getUint32(offset, true));
}

/** Writes a pointer-sized value; throws a RangeError if it does not fit a pointer on `arch`. */
export function writePointer(
  dv: DataView,
  offset: number,
  value: bigint,
  arch: Arch,
  name = 'pointer'
): void {
  checkPointer(name, value, arch);
  if (arch === 'x64') dv.setBigUint64(offset, value, true);
  else dv.setUint32(offset, Number(value), true);
}

/** Throws a RangeError unless `value` is a pointer-sized unsigned value on `arch`. */
export function checkPointer(name: string, value: bigint, arch: Arch): void {
  const max = maxPointer(arch);
  if (value < 0n || value > max) {
    throw new RangeError(
      `${name}: expected a value from 0 to 0x${max.toString(16)} (${arch} pointer), got ${value}`
    );
  }
}

/**
 * Throws a RangeError unless `baseAddress` can be the address of a `length`-byte buffer on `arch`:
 * pointer-aligned, and the whole buffer inside the address space.
 */
export function checkBase(where: string, baseAddress: bigint, length: number, arch: Arch): void {
  const align = BigInt(pointerSize(arch));
  if (
    baseAddress < 0n ||
    baseAddress + BigInt(length) > maxPointer(arch) + 1n ||
    baseAddress % align !== 0n
  ) {
    throw new RangeError(
      `${where}: expected a ${arch} base address aligned to ${align} with room for ${length} bytes, got 0x${baseAddress.toString(16)}`
    );
  }
}

/** Rounds `n` up to a multiple of `align`. */
export function alignUp(n: number, align: number): number {
  return Math.ceil(n / align) * align;
}

/** A struct's fields by start offset, to name the field a short buffer cuts. */
export type FieldTable = readonly (readonly [string, number])[];

/**
 * NDIS_STATUS_BUFFER_TOO_SHORT for a struct at `at` of which only `have - at` bytes are present:
 * names the field that holds the first missing byte, and asks for `at + needed` bytes.
 */
export function truncated(table: FieldTable, at: number, needed: number, have: number): Failure {
  let field = table[0];
  for (const f of table) if (f[1] <= have - at) field = f;
  return tooShort(field[0], at + field[1], at + needed, have);
}

/** Upper-case hex without a prefix. */
export function hex(n: number | bigint): string {
  return n.toString(16).toUpperCase();
}

/** Where one entry of a linked OID list starts and ends in the buffer. */
interface Span {
  readonly start: number;
  readonly end: number;
}

/** What {@link walkList} needs to know about one kind of list entry. */
export interface ListSpec<T> {
  /** Offset of the `Next` field in an entry. */
  readonly nextOffset: number;
  /** Decodes the entry at `entryOffset`, whose first `minSize` bytes are in the buffer and whose header is valid. */
  decodeEntry(
    dv: DataView,
    entryOffset: number
  ): Decoded<{ readonly value: T; readonly span: number }>;
  /** Fields by offset, to name the one a short buffer cuts. */
  readonly fields: FieldTable;
  /** NDIS_SIZEOF_…_REVISION_1: the bytes an entry needs before its variable part. */
  readonly minSize: number;
  /** The expected header Type and first Revision. */
  readonly type: number;
  readonly revision: number;
}

/**
 * Walks a linked list whose `Next` fields hold absolute addresses of entries inside `bytes`, which
 * sits at `baseAddress` (contract D15): the first entry is at offset 0, each `Next` must be NULL,
 * or pointer-aligned, inside the buffer, and land on a fresh entry (no cycle, no self-reference,
 * no overlap with an entry already read); otherwise NDIS_STATUS_INVALID_DATA naming `Next`.
 * Model: Windows lets list entries live anywhere in kernel memory; here they all lie in the one
 * InformationBuffer, so every `Next` can be checked.
 */
export function walkList<T>(
  bytes: Uint8Array,
  baseAddress: bigint,
  arch: Arch,
  spec: ListSpec<T>
): Decoded<T[]> {
  const dv = dataView(bytes);
  const align = pointerSize(arch);
  const values: T[] = [];
  const spans: Span[] = [];
  /** The furthest end of any entry read: an entry or a `Next` target at or past it touches none. */
  let maxEnd = 0;
  let at = 0;
  for (;;) {
    if (bytes.length < at + spec.minSize)
      return truncated(spec.fields, at, spec.minSize, bytes.length);
    const bad = checkHeader(dv, at, {
      type: spec.type,
      revision: spec.revision,
      size: spec.minSize,
    });
    if (bad) return bad;
    const entry = spec.decodeEntry(dv, at);
    if (!entry.ok) return entry;
    const span: Span = { start: at, end: at + entry.value.span };
    const pointedFrom = spans.at(-1);
    if (
      pointedFrom &&
      span.start < maxEnd &&
      spans.some((s) => s.start < span.end && span.start < s.end)
    ) {
      return fail(
        NdisStatus.NDIS_STATUS_INVALID_DATA,
        'Next',
        pointedFrom.start + spec.nextOffset,
        `entry at 0x${hex(at)} overlaps an earlier entry`
      );
    }
    spans.push(span);
    maxEnd = Math.max(maxEnd, span.end);
    values.push(entry.value.value);

    const nextAt = at + spec.nextOffset;
    const next = readPointer(dv, nextAt, arch);
    if (next === 0n) return ok(values);
    const invalid = (reason: string): Failure =>
      fail(NdisStatus.NDIS_STATUS_INVALID_DATA, 'Next', nextAt, reason);
    if (next % BigInt(align) !== 0n) return invalid(`pointer not aligned to ${align}`);
    if (next < baseAddress || next - baseAddress >= BigInt(bytes.length)) {
      return invalid(`pointer 0x${hex(next)} outside the buffer at 0x${hex(baseAddress)}`);
    }
    const target = Number(next - baseAddress);
    if (target === at) return invalid('pointer to itself');
    if (target < maxEnd && spans.some((s) => s.start === target))
      return invalid(`pointer to an earlier entry at 0x${hex(target)} (a cycle)`);
    if (target < maxEnd && spans.some((s) => s.start < target && target < s.end)) {
      return invalid(`pointer into an earlier entry, at 0x${hex(target)}`);
    }
    at = target;
  }
}
