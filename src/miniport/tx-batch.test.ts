import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { BatchEspTransform } from '../crypto/native-esp.ts';
import { SealQueue, TxSlab, isBatchTransform } from './tx-batch.ts';

test('TxSlab: buffers are 8-byte aligned, never overlap and are never handed out twice', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 70_000 }), { maxLength: 40 }), (lengths) => {
      const slab = new TxSlab();
      const taken: Uint8Array[] = [];
      for (const n of lengths) {
        const b = slab.take(n);
        assert.equal(b.length, n);
        assert.equal(b.byteOffset % 8, 0);
        b.fill((taken.length % 250) + 1); // each buffer holds its own mark
        taken.push(b);
      }
      taken.forEach((b, k) => {
        assert.ok(
          b.every((x) => x === (k % 250) + 1),
          `buffer ${k} was written by a later one`
        );
      });
      for (let i = 0; i < taken.length; i++) {
        for (let j = i + 1; j < taken.length; j++) {
          const a = taken[i];
          const b = taken[j];
          if (a.buffer !== b.buffer) continue;
          const disjoint =
            a.byteOffset + a.length <= b.byteOffset || b.byteOffset + b.length <= a.byteOffset;
          assert.ok(disjoint, `buffers ${i} and ${j} overlap`);
        }
      }
    })
  );
});

/** A batch transform that records its calls (offsets are into the whole buffer). */
function recorder(name: string, calls: string[], fail = false): BatchEspTransform {
  const t = {
    sealBatch(
      buffer: Uint8Array,
      offsets: Uint32Array,
      lengths: Uint32Array,
      highs: Uint32Array,
      count: number,
      ivsWritten?: boolean
    ): void {
      if (fail) throw new RangeError('bad geometry');
      const parts: string[] = [];
      for (let i = 0; i < count; i++) {
        buffer[offsets[i]] = 0xee; // "sealed"
        parts.push(`${offsets[i]}+${lengths[i]}@${highs[i]}`);
      }
      calls.push(`${name}[${parts.join(' ')}]${ivsWritten === true ? ' iv' : ''}`);
    },
  };
  return t as unknown as BatchEspTransform;
}

test('SealQueue: one sealBatch per run of one SA in one buffer, in order; truncate drops a failed NBL', () => {
  const calls: string[] = [];
  const a = recorder('a', calls);
  const b = recorder('b', calls);
  assert.ok(isBatchTransform(a));
  const one = new Uint8Array(400);
  const two = new Uint8Array(100);
  const q = new SealQueue();
  q.add(a, one.subarray(0, 100), 10, 90, 0, 0);
  q.add(a, one.subarray(100, 200), 10, 90, 1, 1);
  const mark = q.count;
  q.add(a, one.subarray(200, 300), 10, 90, 0, 2); // NBL 2 fails: dropped
  q.truncate(mark);
  q.add(b, one.subarray(200, 300), 10, 90, 0, 3);
  q.add(b, two, 0, 50, 7, 3);
  const failed: number[] = [];
  q.flush((owner) => failed.push(owner));
  assert.deepEqual(calls, ['a[10+80@0 110+80@1] iv', 'b[210+80@0] iv', 'b[0+50@7] iv']);
  assert.deepEqual(failed, []);
  assert.equal(one[210], 0xee);
  assert.equal(one[310], 0, 'the dropped packet was not sealed');
  assert.equal(q.count, 0);
});

test('SealQueue: a run that throws reports every owner in it, and the other runs still seal', () => {
  const calls: string[] = [];
  const bad = recorder('bad', calls, true);
  const good = recorder('good', calls);
  const buf = new Uint8Array(1000);
  const q = new SealQueue();
  for (let i = 0; i < 300; i++)
    q.add(i < 150 ? bad : good, buf, i, i + 1, 0, i < 150 ? i >> 4 : 99);
  const failed = new Set<number>();
  q.flush((owner) => failed.add(owner));
  assert.deepEqual(
    [...failed].sort((x, y) => x - y),
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
  );
  assert.equal(calls.length, 1);
  assert.ok(calls[0].startsWith('good[150+1@0 151+1@0'));
});
