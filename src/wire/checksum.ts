/**
 * @module
 * The Internet checksum: the 16-bit one's-complement of the one's-complement sum of 16-bit words
 * (RFC 1071 §1, §4.1), its incremental update (RFC 1624 §3, eqn. 3), and the TCP/UDP
 * pseudo-header sums for IPv4 (RFC 793 §3.1, RFC 768) and IPv6 (RFC 8200 §8.1).
 *
 * Sums are carried *unfolded*: `sum16` and the pseudo-header functions return a plain
 * non-negative integer (the sum of the 16-bit words, carries not yet wrapped), which can seed
 * another `sum16` and is folded once at the end by `fold`/`finish`. RFC 1071 §2(B) allows the
 * deferred carries; a JavaScript number holds them exactly up to 2^53, i.e. for ~2^37 words, far
 * beyond any packet. Nothing here allocates.
 */
import { needUint } from './bytes.ts';

/** Throws a RangeError unless `bytes` is exactly `length` bytes long (an address). */
function needLength(where: string, bytes: Uint8Array, length: number): void {
  if (bytes.length !== length) {
    throw new RangeError(`${where}: expected a ${length}-byte address, got ${bytes.length} bytes`);
  }
}

/**
 * Returns `seed` plus the sum of `bytes` as big-endian 16-bit words, unfolded; an odd trailing
 * byte is the high byte of a word padded with zero (RFC 1071 §4.1).
 */
export function sum16(bytes: Uint8Array, seed = 0): number {
  let sum = seed;
  const even = bytes.length & ~1;
  for (let i = 0; i < even; i += 2) {
    sum += (bytes[i] << 8) | bytes[i + 1];
  }
  if (even !== bytes.length) sum += bytes[even] << 8; // RFC 1071 §4.1: "add left-over byte"
  return sum;
}

/** True on a little-endian machine (the word-wise sum below reads 32-bit words natively). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** The last buffer `sumRange` viewed as 32-bit words, and that view (a chunk holds many frames). */
let wordsOf: ArrayBufferLike | null = null;
let words: Uint32Array = new Uint32Array(0);

/**
 * Returns `seed` plus the sum of `bytes[start, end)` as big-endian 16-bit words, unfolded: the
 * same value as `sum16(bytes.subarray(start, end), seed)` after `fold`, without a view per call.
 * Long ranges are summed 32 bits at a time in the machine's byte order and the folded result is
 * byte-swapped — RFC 1071 §2(B): "the sum of 16-bit integers can be computed in either byte
 * order" — and §2(C) ("parallel summation": a 32-bit word is two 16-bit words at once).
 */
export function sumRange(bytes: Uint8Array, start: number, end: number, seed = 0): number {
  let sum = seed;
  let i = start;
  const at = bytes.byteOffset + start;
  if (LITTLE_ENDIAN && end - start >= 32 && (at & 1) === 0) {
    if ((at & 2) !== 0) {
      sum += (bytes[i] << 8) | bytes[i + 1]; // up to the next 4-byte boundary
      i += 2;
    }
    const buffer = bytes.buffer;
    if (buffer !== wordsOf) {
      words = new Uint32Array(buffer, 0, buffer.byteLength >>> 2);
      wordsOf = buffer;
    }
    const first = (bytes.byteOffset + i) >>> 2;
    const count = (end - i) >>> 2;
    let little = 0; // sum of little-endian 32-bit words: < 2^32 · count, exact in a double
    for (let w = first; w < first + count; w++) little += words[w];
    const folded = fold(little);
    sum += ((folded & 0xff) << 8) | (folded >>> 8); // back to big-endian order, RFC 1071 §2(B)
    i += count * 4;
  }
  const even = i + ((end - i) & ~1);
  for (; i < even; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8; // RFC 1071 §4.1: "add left-over byte"
  return sum;
}

/** Folds an unfolded sum to 16 bits by end-around carry (RFC 1071 §2(B)); the result is never above 0xffff. */
export function fold(sum: number): number {
  if (sum <= 0x7fff_ffff) {
    // Fits 31 bits (every header and packet sum): two end-around carries in integer arithmetic.
    sum = (sum & 0xffff) + (sum >>> 16);
    return (sum & 0xffff) + (sum >>> 16);
  }
  // Division, not `>>> 16`: the sum may exceed 32 bits.
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return sum;
}

/** Returns the checksum field value for an unfolded sum: fold, then one's-complement, 16 bits. */
export function finish(sum: number): number {
  return ~fold(sum) & 0xffff;
}

/**
 * Returns the Internet checksum of `bytes`; over bytes that include a correct checksum field the
 * result is 0 (RFC 1071 §1(3)).
 */
export function checksum(bytes: Uint8Array): number {
  return finish(sum16(bytes));
}

/**
 * Returns the checksum after one 16-bit word of the covered data changes from `oldWord` to
 * `newWord`, by RFC 1624 §3 eqn. 3: HC' = ~(~HC + ~m + m'). Unlike RFC 1141's eqn. 2 it yields
 * the same value as a full recomputation, including 0x0000 where eqn. 2 gives 0xffff (RFC 1624 §4).
 */
export function update(oldChecksum: number, oldWord: number, newWord: number): number {
  return finish((~oldChecksum & 0xffff) + (~oldWord & 0xffff) + (newWord & 0xffff));
}

/**
 * Returns the unfolded sum of the IPv4 TCP/UDP pseudo-header: source, destination, zero,
 * protocol, length (RFC 793 §3.1, RFC 768). With `length` 0 it is the seed without a length,
 * as NDIS LSO wants in the TCP checksum field (contract D2).
 */
export function pseudoHeaderV4(
  source: Uint8Array,
  destination: Uint8Array,
  protocol: number,
  length: number
): number {
  needLength('checksum.pseudoHeaderV4', source, 4);
  needLength('checksum.pseudoHeaderV4', destination, 4);
  needUint('checksum.pseudoHeaderV4 protocol', protocol, 0xff);
  needUint('checksum.pseudoHeaderV4 length', length, 0xffff);
  return sum16(destination, sum16(source)) + protocol + length;
}

/**
 * Returns the unfolded sum of the IPv6 upper-layer pseudo-header: source, destination, 32-bit
 * upper-layer packet length, three zero bytes, next header (RFC 8200 §8.1). With `length` 0 it is
 * the seed without a length (contract D2).
 */
export function pseudoHeaderV6(
  source: Uint8Array,
  destination: Uint8Array,
  nextHeader: number,
  length: number
): number {
  needLength('checksum.pseudoHeaderV6', source, 16);
  needLength('checksum.pseudoHeaderV6', destination, 16);
  needUint('checksum.pseudoHeaderV6 nextHeader', nextHeader, 0xff);
  needUint('checksum.pseudoHeaderV6 length', length, 0xffffffff);
  return sum16(destination, sum16(source)) + (length >>> 16) + (length & 0xffff) + nextHeader;
}
