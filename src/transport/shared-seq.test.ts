/**
 * Shared sequence counters: the same answers as wire/seqnum.ts `reserveSegments` in one thread,
 * and no number handed out twice when two worker threads hammer one SA (ESN across the 2^32
 * boundary, and a non-ESN counter running out).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { reserveSegments } from '../wire/seqnum.ts';
import { blockFirst, segmentHigh, seqBlock, SharedSeq, SLOT_BYTES } from './shared-seq.ts';

const TWO_32 = 1n << 32n;

test('one thread: every reservation equals reserveSegments on the same counter', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.constantFrom('anywhere', 'below 2^32', 'below 2^64'),
      fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
      fc.array(fc.integer({ min: 1, max: 70 }), { minLength: 1, maxLength: 40 }),
      (esn, where, r, counts) => {
        // Start anywhere, or close below the edges D3 and RFC 4303 §3.3.3 care about.
        const start =
          where === 'below 2^32' || (where === 'below 2^64' && !esn)
            ? TWO_32 - 1n - (r % 150n)
            : where === 'below 2^64'
              ? (1n << 64n) - 1n - (r % 150n)
              : esn
                ? r
                : r % TWO_32 || 1n;
        const seq = SharedSeq.create(1);
        seq.init(0, start, esn);
        let next = start;
        const block = seqBlock();
        for (const count of counts) {
          if (next === 1n << 64n) {
            // The ESN counter handed out 2^64 − 1: reserveSegments has no input for "spent".
            assert.equal(seq.reserve(0, count, block), 'counter-exhausted');
            continue;
          }
          const want = reserveSegments(next, count, esn);
          const got = seq.reserve(0, count, block);
          if (!want.ok) {
            assert.equal(got, want.reason);
            continue;
          }
          assert.equal(got, null);
          assert.equal(blockFirst(block), want.value.first);
          assert.equal(block.count, count);
          // D3: segments past a 2^32 boundary use high half + 1.
          const last = count - 1;
          assert.equal(segmentHigh(block, last), Number(want.value.last >> 32n));
          next = want.value.next;
          if (next < 1n << 64n) assert.equal(seq.next(0), next);
        }
      }
    )
  );
});

test('counter edges: 2^32 − 1 is the last number without ESN, 2^64 − 1 with', () => {
  const seq = SharedSeq.create(2);
  const b = seqBlock();
  seq.init(0, TWO_32 - 2n, false);
  assert.equal(seq.reserve(0, 3, b), 'counter-exhausted');
  assert.equal(seq.next(0), TWO_32 - 2n, 'a failed reservation reserves nothing');
  assert.equal(seq.reserve(0, 2, b), null);
  assert.equal(blockFirst(b), TWO_32 - 2n);
  assert.equal(seq.reserve(0, 1, b), 'counter-exhausted');
  seq.init(1, (1n << 64n) - 1n, true);
  assert.equal(seq.esn(1), true);
  assert.equal(seq.reserve(1, 1, b), null);
  assert.equal(blockFirst(b), (1n << 64n) - 1n);
  assert.equal(seq.next(1), 1n << 64n);
  assert.equal(seq.reserve(1, 1, b), 'counter-exhausted');
});

test('misuse: bad slots, counts, starts and buffers throw RangeErrors', () => {
  const seq = SharedSeq.create(1);
  const b = seqBlock();
  assert.throws(() => seq.reserve(0, 1, b), /expected an initialized slot, got slot 0/);
  assert.throws(() => {
    seq.init(0, 0n, true);
  }, /expected next from 1/);
  assert.throws(() => {
    seq.init(0, TWO_32, false);
  }, /expected next from 1 to 4294967295, got 4294967296/);
  seq.init(0, 1n, false);
  assert.throws(() => seq.reserve(0, 0, b), /expected a count from 1/);
  assert.throws(() => seq.reserve(1, 1, b), /expected a slot from 0 to 0, got 1/);
  assert.throws(() => new SharedSeq(new SharedArrayBuffer(SLOT_BYTES + 4)), /multiple of 64/);
  assert.throws(() => SharedSeq.create(0), /at least 1 slot/);
});

/**
 * The body of each hammering worker: reserve 1–5 numbers per round and record every block, for
 * at least `rounds` rounds and until the other worker has done as many (so the two overlap in
 * time however the machine schedules them), at most `cap` rounds.
 */
const WORKER = `
const { workerData, parentPort } = require('node:worker_threads');
import(workerData.module).then(({ SharedSeq, seqBlock }) => {
  const seq = new SharedSeq(workerData.buffer);
  const out = new Uint32Array(workerData.out);
  const progress = new Int32Array(workerData.progress);
  const me = workerData.index, other = 1 - me, rounds = workerData.rounds;
  const b = seqBlock();
  let x = 17 + me, n = 0, exhausted = 0, i = 0;
  const go = new Int32Array(workerData.go);
  parentPort.postMessage('ready');
  Atomics.wait(go, 0, 0);
  for (; i < workerData.cap && (i < rounds || Atomics.load(progress, other) < rounds); i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const count = 1 + (x >>> 16) % 5;
    if (seq.reserve(workerData.slot, count, b) === null) {
      out[3 * n] = b.firstHigh; out[3 * n + 1] = b.firstLow; out[3 * n + 2] = b.count; n++;
    } else exhausted++;
    Atomics.store(progress, me, i + 1);
  }
  parentPort.postMessage({ n, exhausted });
});
`;

interface Hammered {
  readonly blocks: { first: bigint; count: number; worker: number }[];
  readonly exhausted: number;
}

async function hammer(seq: SharedSeq, slot: number, rounds: number): Promise<Hammered> {
  const module = new URL('./shared-seq.js', import.meta.url).href;
  const go = new SharedArrayBuffer(4);
  const progress = new SharedArrayBuffer(8);
  const cap = rounds * 20;
  const outs = [0, 1].map(() => new SharedArrayBuffer(cap * 12));
  const workers = outs.map(
    (out, i) =>
      new Worker(WORKER, {
        eval: true,
        workerData: { module, buffer: seq.buffer, slot, rounds, cap, out, go, progress, index: i },
      })
  );
  const messages = workers.map((w) => {
    const queue: unknown[] = [];
    const waiting: ((m: unknown) => void)[] = [];
    w.on('message', (m) => {
      const next = waiting.shift();
      if (next === undefined) queue.push(m);
      else next(m);
    });
    return (): Promise<unknown> =>
      new Promise((resolve, reject) => {
        w.once('error', reject);
        if (queue.length > 0) resolve(queue.shift());
        else waiting.push(resolve);
      });
  });
  await Promise.all(messages.map((next) => next())); // both are about to wait on `go`
  Atomics.store(new Int32Array(go), 0, 1);
  Atomics.notify(new Int32Array(go), 0);
  const done = messages.map((next) => next() as Promise<{ n: number; exhausted: number }>);
  const results = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  const blocks: Hammered['blocks'] = [];
  results.forEach((r, w) => {
    const u = new Uint32Array(outs[w]);
    for (let i = 0; i < r.n; i++) {
      blocks.push({
        first: (BigInt(u[3 * i]) << 32n) | BigInt(u[3 * i + 1]),
        count: u[3 * i + 2],
        worker: w,
      });
    }
  });
  return { blocks, exhausted: results[0].exhausted + results[1].exhausted };
}

/**
 * Sorted blocks must tile [start, end) exactly: no overlap (duplicate), no hole; `minSwitches`:
 * how often at least the owner of consecutive blocks must change.
 */
function assertTiles(h: Hammered, start: bigint, end: bigint, minSwitches: number): void {
  const sorted = [...h.blocks].sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0));
  let at = start;
  for (const b of sorted) {
    assert.equal(b.first, at, `block of worker ${b.worker} starts at ${b.first}, expected ${at}`);
    at += BigInt(b.count);
  }
  assert.equal(at, end);
  const switches = sorted.filter((b, i) => i > 0 && b.worker !== sorted[i - 1].worker).length;
  assert.ok(switches >= minSwitches, `expected ≥ ${minSwitches} switches, got ${switches}`);
}

test('two workers, one ESN SA across 2^32: the blocks tile the range, no number twice', async () => {
  const seq = SharedSeq.create(2);
  const start = TWO_32 - 30_000n;
  seq.init(1, start, true);
  const h = await hammer(seq, 1, 20_000);
  assert.equal(h.exhausted, 0);
  assert.ok(h.blocks.length >= 40_000);
  // Both threads took part (the progress rule makes their runs overlap).
  assertTiles(h, start, seq.next(1), 1);
  assert.ok(seq.next(1) > TWO_32, 'the counter crossed 2^32');
});

test('two workers, one non-ESN SA running out: exhausted, never past 2^32 − 1', async () => {
  const seq = SharedSeq.create(1);
  const start = TWO_32 - 50_000n;
  seq.init(0, start, false);
  const h = await hammer(seq, 0, 20_000);
  assert.ok(h.exhausted > 0, 'some reservations found the counter spent');
  const end = seq.next(0);
  assert.ok(end <= TWO_32 && end > TWO_32 - 5n, `counter ends within a block of 2^32, got ${end}`);
  // Whoever ran first may have spent the counter alone: no interleaving is required.
  assertTiles(h, start, end, 0);
});
