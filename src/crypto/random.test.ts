/**
 * @module
 * Tests of the injected random sources (contract D6): the seeded source is a reproducible stream
 * (the ChaCha20 keystream of RFC 8439 under a seed-derived key) and the system source fills.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createCipheriv, createHash } from 'node:crypto';
import { chacha20 } from '@noble/ciphers/chacha.js';
import { seededRandom, systemRandom } from './random.ts';

function draw(seed: number | bigint, n: number): Uint8Array {
  const out = new Uint8Array(n);
  seededRandom(seed).fill(out);
  return out;
}

test('seededRandom is deterministic per seed, and 7 and 7n are the same seed', () => {
  assert.deepEqual(draw(7, 100), draw(7, 100));
  assert.deepEqual(draw(7, 100), draw(7n, 100));
  assert.notDeepEqual(draw(7, 32), draw(8, 32));
  assert.notDeepEqual(draw(0, 32), draw(-1, 32));
  assert.notDeepEqual(draw(2n ** 64n, 32), draw(0, 32));
});

test('seededRandom is one stream: any split of the fills gives the same bytes', () => {
  fc.assert(
    fc.property(
      fc.oneof(fc.integer(), fc.bigInt()),
      fc.array(fc.nat(5000), { maxLength: 6 }),
      (seed, sizes) => {
        const total = sizes.reduce((a, b) => a + b, 0);
        const r = seededRandom(seed);
        const parts = new Uint8Array(total);
        let at = 0;
        for (const n of sizes) {
          r.fill(parts.subarray(at, at + n));
          at += n;
        }
        assert.deepEqual(parts, draw(seed, total));
      }
    ),
    { numRuns: 50 }
  );
});

test('seededRandom is the ChaCha20 keystream (RFC 8439 §2.4) under SHA-256 of the seed', () => {
  const key = createHash('sha256').update('ipsecov2 seededRandom 12345').digest();
  const expected = chacha20(new Uint8Array(key), new Uint8Array(12), new Uint8Array(300));
  assert.deepEqual(draw(12345, 300), expected);
  // And node's own chacha20 agrees with noble's on the same key (RFC 8439 §2.4, counter 0).
  const node = createCipheriv('chacha20', key, Buffer.alloc(16)).update(Buffer.alloc(300));
  assert.deepEqual(new Uint8Array(node), expected);
});

test('seededRandom rejects a seed that is not a safe integer', () => {
  assert.throws(
    () => seededRandom(0.5),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'seededRandom: expected a safe integer or a bigint seed, got 0.5'
  );
  assert.throws(() => seededRandom(2 ** 60), RangeError);
});

test('systemRandom fills the whole buffer and differs between calls', () => {
  const r = systemRandom();
  const a = new Uint8Array(64);
  const b = new Uint8Array(64);
  r.fill(a);
  r.fill(b);
  assert.notDeepEqual(a, b);
  assert.ok(a.some((x) => x !== 0));
  r.fill(new Uint8Array(0));
});
