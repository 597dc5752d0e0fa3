import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { NO_CHECKSUM, type BatchEspTransform } from '../crypto/native-esp.ts';
import { SealQueue, TxSlab, isBatchTransform, type ChecksumJob } from './tx-batch.ts';

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

test('SealQueue: checksum jobs go with their run as buffer offsets; runs without one seal without', () => {
  const seen: (number[] | undefined)[] = [];
  const sealBatch = (
    _buffer: Uint8Array,
    _offsets: Uint32Array,
    _lengths: Uint32Array,
    _highs: Uint32Array,
    count: number,
    _ivsWritten?: boolean,
    checksums?: Uint32Array
  ): void => {
    assert.ok(checksums === undefined || checksums.length === count * 4, 'four u32s per packet');
    seen.push(checksums === undefined ? undefined : [...checksums]);
  };
  const t = { sealBatch } as unknown as BatchEspTransform;
  const u = { sealBatch } as unknown as BatchEspTransform;
  const chunk = new Uint8Array(1000);
  const job: ChecksumJob = { start: 30, end: 90, field: 46, seed: 60 };
  const q = new SealQueue();
  q.add(t, chunk.subarray(100, 200), 10, 95, 0, 0, job);
  job.start = 32; // the caller reuses its job: the queue copied it
  job.seed = 0xffffffff;
  q.add(t, chunk.subarray(200, 300), 10, 95, 0, 0, job);
  q.add(t, chunk.subarray(300, 400), 10, 95, 0, 1); // no job
  q.add(u, chunk.subarray(400, 500), 10, 95, 0, 2); // a run without any job
  const mark = q.count;
  q.add(u, chunk.subarray(500, 600), 10, 95, 0, 3, job); // NBL 3 fails
  q.truncate(mark);
  q.flush(() => assert.fail('nothing fails'));
  assert.equal(seen.length, 2, 'one sealBatch per run');
  const [first, second] = seen;
  assert.ok(first !== undefined, 'the run with jobs gets them');
  assert.deepEqual(first.slice(0, 8), [130, 190, 146, 60, 232, 290, 246, 0xffffffff]);
  assert.equal(first[10], NO_CHECKSUM, 'the packet without a job says so');
  assert.equal(second, undefined, 'a run without jobs seals as before');
});
