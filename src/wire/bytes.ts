/**
 * @module
 * Small byte helpers shared by the codecs: a DataView over exactly a Uint8Array's window, hex
 * conversion, and checks that turn API misuse into a RangeError naming what was expected.
 */

/** A DataView over exactly the window of `bytes` (correct for `subarray()`s). */
export function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Lower-case hex of `bytes`, no separators. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Bytes from hex; whitespace, `:` and a leading `0x` are ignored. Throws on odd length or bad digits. */
export function fromHex(hex: string): Uint8Array {
  const clean = hex.replace(/^0x/i, '').replace(/[\s:]/g, '');
  if (clean.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(clean)) {
    throw new TypeError(
      `fromHex: expected an even number of hex digits, got ${JSON.stringify(hex.slice(0, 40))}`
    );
  }
  return new Uint8Array(Buffer.from(clean, 'hex'));
}

/** Throws a RangeError unless `bytes` has room for `length` bytes from `offset`. */
export function needRoom(where: string, bytes: Uint8Array, offset: number, length: number): void {
  if (offset < 0 || offset + length > bytes.length) {
    throw new RangeError(
      `${where}: expected a buffer of at least ${offset + length} bytes, got ${bytes.length}`
    );
  }
}

/** Throws a RangeError unless `value` is an integer in [0, max]. */
export function needUint(where: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${where}: expected an integer from 0 to ${max}, got ${value}`);
  }
}
