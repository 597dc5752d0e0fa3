/**
 * @module
 * The oracle's own byte helpers: big-endian reads, hex for messages, concatenation, and the
 * Internet checksum (RFC 1071 §4.1: the 16-bit one's complement of the one's complement sum).
 * Deliberately tiny and independent of `src/wire`: the oracle must not share code with what it
 * judges.
 */

/** A result: the value, or the first field that did not match (with expected and found). */
export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | {
      readonly ok: false;
      readonly field: string;
      readonly expected: string;
      readonly found: string;
    };

/** A failed check on `field`. */
export function mismatch(
  field: string,
  expected: string | number,
  found: string | number
): {
  readonly ok: false;
  readonly field: string;
  readonly expected: string;
  readonly found: string;
} {
  return { ok: false, field, expected: String(expected), found: String(found) };
}

/** `field: expected …, found …` for a failed check. */
export function describeMismatch(m: {
  readonly field: string;
  readonly expected: string;
  readonly found: string;
}): string {
  return `${m.field}: expected ${m.expected}, found ${m.found}`;
}

/** Lower-case hex of `bytes` (long inputs are cut to keep messages readable). */
export function toHex(bytes: Uint8Array, max = 64): string {
  let s = '';
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) s += bytes[i].toString(16).padStart(2, '0');
  return bytes.length > max ? `${s}… (${bytes.length} bytes)` : s;
}

/** `0x` and `digits` hex digits of an unsigned number. */
export function hexNum(n: number | bigint, digits = 8): string {
  return `0x${n.toString(16).padStart(digits, '0')}`;
}

/** Decodes hex, ignoring whitespace. */
export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new TypeError(`fromHex: expected an even number of hex digits, got ${text}`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Big-endian unsigned 16-bit value at `at`. */
export function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** Big-endian unsigned 32-bit value at `at`. */
export function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) >>> 0) + ((b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]);
}

/** The 4 big-endian bytes of an unsigned 32-bit value. */
export function be32(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}

/** The concatenation of `parts`. */
export function concat(...parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** True when `a` and `b` hold the same bytes. */
export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The index of the first byte where `a` and `b` differ, or -1 if equal (length counts). */
export function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

/**
 * The one's complement sum of `parts`, folded to 16 bits (RFC 1071 §4.1). Each part is summed as
 * big-endian 16-bit words; an odd-length part is padded with a zero byte (only the last part of a
 * checksum may be odd).
 */
export function onesSum(...parts: readonly Uint8Array[]): number {
  let sum = 0;
  for (const p of parts) {
    let i = 0;
    for (; i + 1 < p.length; i += 2) sum += (p[i] << 8) | p[i + 1];
    if (i < p.length) sum += p[i] << 8;
    // Fold now and then so the sum stays an exact integer.
    if (sum > 0x3fff_ffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  }
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/** The Internet checksum of `parts`: the one's complement of their one's complement sum. */
export function internetChecksum(...parts: readonly Uint8Array[]): number {
  return ~onesSum(...parts) & 0xffff;
}
