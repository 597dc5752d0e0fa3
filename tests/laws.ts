/**
 * @module
 * The codec laws every wire module must obey, in one helper (after dns-packet's `testEncoder`
 * and smoltcp's junk-filled emit tests):
 *
 * 1. `emit` writes exactly `headerLength(h)` bytes and returns that count;
 * 2. `emit` writes every byte it owns: into buffers pre-filled with two different junk bytes and
 *    at a non-zero offset inside a larger buffer, the emitted bytes are identical;
 * 3. `parse(emit(h) ‖ payload)` gives back `h` and the payload;
 * 4. `parse` of every truncation of those bytes never throws; below the header length it fails
 *    with an offset inside the bytes given.
 */
import assert from 'node:assert/strict';
import type { Parsed } from '../src/wire/parsed.ts';

/** The codec shape the laws check: header in, bytes out, and back. */
export interface Codec<H, P extends { readonly header: H; readonly payload: Uint8Array }> {
  headerLength(header: H): number;
  /** Writes the header at the start of `out`; `payloadLength` is for length fields. */
  emit(header: H, out: Uint8Array, payloadLength: number): number;
  parse(bytes: Uint8Array): Parsed<P>;
}

/** Emits `header` + `payload` at `offset` in a buffer filled with `junk`; returns the packet bytes. */
export function emitInto<H, P extends { readonly header: H; readonly payload: Uint8Array }>(
  codec: Codec<H, P>,
  header: H,
  payload: Uint8Array,
  junk: number,
  offset: number
): Uint8Array {
  const length = codec.headerLength(header);
  const buf = new Uint8Array(offset + length + payload.length + 7).fill(junk);
  const written = codec.emit(header, buf.subarray(offset), payload.length);
  assert.equal(written, length, 'emit returns headerLength(header)');
  for (let i = offset + length; i < buf.length; i++) {
    assert.equal(buf[i], junk, `emit wrote past its header, at byte ${i - offset}`);
  }
  buf.set(payload, offset + length);
  return buf.subarray(offset, offset + length + payload.length);
}

/** Asserts laws 1–4 for one header and payload. Returns the emitted packet bytes. */
export function assertCodecLaws<H, P extends { readonly header: H; readonly payload: Uint8Array }>(
  codec: Codec<H, P>,
  header: H,
  payload: Uint8Array = new Uint8Array(0)
): Uint8Array {
  const a = emitInto(codec, header, payload, 0xa5, 0);
  const b = emitInto(codec, header, payload, 0x17, 11);
  assert.deepEqual(b, a, 'emit writes every byte it owns (junk 0xa5 vs 0x17 at offset 11)');
  const parsed = codec.parse(a);
  assert.ok(parsed.ok, `parse(emit(h)) failed: ${parsed.ok ? '' : JSON.stringify(parsed.error)}`);
  assert.deepEqual(parsed.value.header, header, 'parse(emit(h)).header equals h');
  assert.deepEqual(parsed.value.payload, payload, 'parse(emit(h)).payload equals the payload');
  assertTruncations((bytes) => codec.parse(bytes), a, codec.headerLength(header));
  return a;
}

/** Law 4: every prefix of `bytes` parses without throwing; prefixes shorter than `minimum` fail. */
export function assertTruncations<T>(
  parse: (bytes: Uint8Array) => Parsed<T>,
  bytes: Uint8Array,
  minimum: number
): void {
  for (let n = 0; n < bytes.length; n++) {
    const r = parse(bytes.slice(0, n));
    if (n < minimum) {
      assert.ok(!r.ok, `a ${n}-byte prefix (header needs ${minimum}) must not parse`);
      assert.ok(
        r.error.offset >= 0 && r.error.offset <= n,
        `failure offset ${r.error.offset} must lie within the ${n} bytes given`
      );
    }
  }
}
