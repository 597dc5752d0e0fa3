/**
 * The SA table's compact storage (issue 6): the key slab (copies in, zeroes and reuses freed
 * slots), the address pool (read-only views, equal recent addresses shared) and the handle index.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { AddressPool, HandleIndex, KeySlab } from './sa-store.ts';

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i * 7 + 1) & 0xff);

test('KeySlab: a ‖ b stored and read back as a fresh copy; free zeroes the slot and reuses it', () => {
  const slab = new KeySlab();
  const a = slab.store(bytes(16, 1), bytes(20, 2));
  const b = slab.store(bytes(20, 3), new Uint8Array(0));
  assert.deepEqual(slab.read(a, 36), Uint8Array.from([...bytes(16, 1), ...bytes(20, 2)]));
  assert.deepEqual(slab.read(b, 20), bytes(20, 3));
  const copy = slab.read(b, 20);
  copy.fill(0xee);
  assert.deepEqual(slab.read(b, 20), bytes(20, 3), 'read gives a copy, not a view');
  slab.free(b, 20);
  assert.deepEqual(slab.read(b, 20), new Uint8Array(20), 'freed bytes are zeroed');
  const c = slab.store(bytes(20, 4), new Uint8Array(0));
  assert.equal(c, b, 'a freed slot of the same length is reused');
  assert.deepEqual(slab.read(c, 20), bytes(20, 4));
  assert.deepEqual(slab.read(a, 36), Uint8Array.from([...bytes(16, 1), ...bytes(20, 2)]));
  assert.throws(() => slab.store(new Uint8Array(0x1_0000), new Uint8Array(1)), RangeError);
});

test('fast-check: KeySlab keeps every live key intact across stores and frees spanning chunks', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(-1)), {
        maxLength: 3000,
      }),
      (ops) => {
        const slab = new KeySlab();
        const live: { at: number; key: Uint8Array }[] = [];
        ops.forEach((op, i) => {
          if (op > 0 || live.length === 0) {
            const key = bytes(Math.max(op, 1) + 60, i);
            live.push({ at: slab.store(key.subarray(0, 10), key.subarray(10)), key });
          } else {
            const [gone] = live.splice(i % live.length, 1);
            slab.free(gone.at, gone.key.length);
          }
        });
        for (const { at, key } of live) assert.deepEqual(slab.read(at, key.length), key);
      }
    ),
    { numRuns: 30 }
  );
});

test('AddressPool: copies are views with the same bytes, independent of the input', () => {
  const pool = new AddressPool();
  const input = Uint8Array.of(10, 0, 0, 1);
  const copy = pool.copy(input);
  assert.deepEqual(copy, input);
  assert.notEqual(copy, input);
  input[3] = 9;
  assert.deepEqual([...copy], [10, 0, 0, 1], 'the pool holds its own bytes');
  const v6 = pool.copy(bytes(16, 5));
  assert.deepEqual(v6, bytes(16, 5));
  assert.equal(v6.length, 16);
});

test('AddressPool: an address equal to a recent one is shared (one source, many destinations)', () => {
  const pool = new AddressPool();
  const source = Uint8Array.of(192, 0, 2, 1);
  const first = pool.copy(source);
  const destinations = Array.from({ length: 50 }, (_, i) => {
    assert.equal(pool.copy(source), first, `source shared at bundle ${i}`);
    return pool.copy(Uint8Array.of(198, 51, 100, i));
  });
  assert.equal(new Set(destinations).size, 50);
  destinations.forEach((d, i) => {
    assert.deepEqual([...d], [198, 51, 100, i]);
  });
  assert.notEqual(pool.copy(new Uint8Array(16)), pool.copy(new Uint8Array(4)), 'lengths differ');
  // Thousands of addresses: views across many chunks keep their bytes.
  const many = Array.from({ length: 5000 }, (_, i) => pool.copy(bytes(16, i)));
  many.forEach((v, i) => {
    assert.deepEqual(v, bytes(16, i));
  });
});

test('HandleIndex: set, get, delete across chunks; empty fully issued chunks dropped; order kept', () => {
  const index = new HandleIndex<string>();
  for (let h = 1; h <= 2500; h++) index.set(h, `b${h}`);
  assert.equal(index.size, 2500);
  assert.equal(index.get(1), 'b1');
  assert.equal(index.get(1024), 'b1024');
  assert.equal(index.get(1025), 'b1025');
  assert.equal(index.get(2500), 'b2500');
  for (const h of [0, -1, 2501, 1e9, 2 ** 53, Number.NaN]) assert.equal(index.get(h), undefined);
  for (let h = 1; h <= 1024; h++) index.delete(h, 2500);
  assert.equal(index.size, 1476);
  assert.equal(index.get(5), undefined);
  assert.deepEqual([...index.values()].slice(0, 2), ['b1025', 'b1026']);
  index.set(5, 'again'); // a dropped chunk comes back if a handle of it is stored
  assert.equal(index.get(5), 'again');
  assert.deepEqual([...index.values()].slice(0, 2), ['again', 'b1025']);
  assert.equal(index.size, 1477);
});
