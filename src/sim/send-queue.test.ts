/**
 * One send queue in-process (sim/send-queue.ts): every frame opens with the software transform
 * and carries its send's bytes, failed NBLs leave exactly their counted gaps, ESN crosses 2^32
 * with UPDATE_SA to the replica, and bench mode's stamped templates number frames the same way.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedSeq } from '../transport/shared-seq.ts';
import {
  bundleEsn,
  fillPayload,
  firstSequence,
  type QueueFlow,
  type QueueSa,
} from './queue-work.ts';
import { QueueVerifier, verifyRuns } from './queue-verify.ts';
import { encodeQueueSas, SendQueue, type QueueSetup } from './send-queue.ts';
import { queueSas } from '../../tests/queue-fixtures.ts';

const SAS: readonly QueueSa[] = queueSas((1n << 32n) - 40n);

const FLOWS: readonly QueueFlow[] = [
  { sa: 0, sourcePort: 49152, destinationPort: 443, payload: 1400 },
  { sa: 0, sourcePort: 49153, destinationPort: 443, payload: 200 },
  { sa: 0, sourcePort: 49154, destinationPort: 80, payload: 1 },
  { sa: 1, sourcePort: 49155, destinationPort: 443, payload: 500 },
  { sa: 1, sourcePort: 49156, destinationPort: 443, payload: 6000, mss: 1000 },
];

function setup(
  mode: 'test' | 'bench',
  reserve: 'chain' | 'nbl',
  failEvery: number
): { setup: QueueSetup; seq: SharedSeq } {
  const seq = SharedSeq.create(SAS.length);
  SAS.forEach((sa, i) => {
    seq.init(i, firstSequence(sa), bundleEsn(sa));
  });
  return {
    seq,
    setup: {
      index: 0,
      sas: SAS,
      flows: FLOWS,
      pinned: FLOWS.map((_, i) => i),
      addSa: encodeQueueSas(SAS),
      seq: seq.buffer,
      mode,
      chain: 8,
      failEvery,
      reserve,
    },
  };
}

for (const reserve of ['chain', 'nbl'] as const) {
  test(`test mode, reserve per ${reserve}: frames verify, failed NBLs are exactly the gaps, ESN crosses 2^32`, () => {
    const { setup: s, seq } = setup('test', reserve, 5);
    const q = new SendQueue(s);
    const run = q.run(20);
    // Sends k = 4, 9, 14, 19 of each flow fail: 5 flows × 4 NBLs; the LSO flow's take 6 numbers.
    assert.equal(run.stats.failedNbls, 20);
    assert.equal(run.stats.gaps, 3 * 4 + 4 + 4 * 6);
    assert.equal(run.counters['send.fail:failure:unknown-handle'], 20);
    assert.equal(run.stats.nbls, 100);
    assert.equal(run.stats.frames, 16 * (3 + 1 + 6));
    assert.equal(run.stats.reserved, run.stats.frames + run.stats.gaps);
    assert.equal(run.stats.calls >= 5 * 3, true, 'bursts of at most 8 NBLs');
    // SA 1 started 40 below 2^32 and used 20 + 120 numbers: the replica learned the new high half.
    assert.equal(seq.next(1), (1n << 32n) - 40n + 140n);
    assert.equal(run.stats.updates, 1);
    const report = verifyRuns([run], {
      sas: SAS,
      flows: FLOWS,
      queueOfFlow: FLOWS.map(() => 0),
      sendsPerFlow: 20,
      failEvery: 5,
      next: [seq.next(0), seq.next(1)],
    });
    assert.deepEqual(report.problems, []);
    assert.equal(report.frames, run.stats.frames);
    assert.deepEqual(report.gaps, [12, 28]);
    // Frames on both sides of 2^32 opened with the inferred high half.
    const esn = report.opened.filter((o) => o.sa === 1).map((o) => o.sequence >> 32n);
    assert.ok(esn.includes(0n) && esn.includes(1n));
  });
}

test('a second run continues the numbering; sends of a flow keep counting', () => {
  const { setup: s, seq } = setup('test', 'chain', 0);
  const q = new SendQueue(s);
  q.run(3);
  const run = q.run(2);
  assert.equal(run.stats.failedNbls, 0);
  const v = new QueueVerifier(SAS, FLOWS);
  const sends = run.capture!.frames.map((f) => {
    const o = v.open(f);
    if (typeof o === 'string') assert.fail(`frame does not open: ${o}`);
    return o.send;
  });
  assert.deepEqual([...new Set(sends)].sort(), [3, 4]);
  assert.equal(seq.next(0), 1n + 3n * 5n);
});

test('bench mode: stamped templates carry the reserved numbers and verify', () => {
  const { setup: s, seq } = setup('bench', 'chain', 0);
  const quiet = new SendQueue(s).run(10);
  assert.equal(quiet.capture, null, 'bench mode keeps no frames');
  assert.equal(quiet.stats.failedNbls, 0);
  assert.equal(quiet.stats.frames, 10 * (3 + 1 + 6));
  assert.equal(quiet.stats.reserved, quiet.stats.frames);
  assert.equal(seq.next(0), 31n);
  // The same stamping with the frames kept: a fresh queue on fresh counters.
  const fresh = setup('bench', 'chain', 0);
  const run = new SendQueue({ ...fresh.setup, keepFrames: true }).run(10);
  const v = new QueueVerifier(SAS, FLOWS);
  const numbers = SAS.map(() => new Set<bigint>());
  for (const f of run.capture!.frames) {
    const o = v.open(f);
    if (typeof o === 'string') assert.fail(`frame does not open: ${o}`);
    // Template j of a burst carries send j's payload (bursts of 8: j = 0–7, then 0–1).
    assert.ok(o.send < 8);
    const want = fillPayload(o.flow, o.send, new Uint8Array(FLOWS[o.flow].payload));
    assert.deepEqual(o.payload, want.subarray(o.offset, o.offset + o.payload.length));
    assert.ok(!numbers[o.sa].has(o.sequence), `number ${o.sequence} once`);
    numbers[o.sa].add(o.sequence);
  }
  assert.equal(numbers[0].size, 30);
  assert.equal(Math.min(...[...numbers[0]].map(Number)), 1);
  assert.equal(Math.max(...[...numbers[0]].map(Number)), 30);
  assert.equal(numbers[1].size, 70);
  assert.equal(fresh.seq.next(1), (1n << 32n) - 40n + 70n);
  assert.equal(run.stats.updates, 1, 'the ESN high half changed once');
});

test('misuse: bad chain, failEvery, pinned flow, sends', () => {
  const { setup: s } = setup('test', 'chain', 0);
  assert.throws(() => new SendQueue({ ...s, chain: 0 }), /expected chain ≥ 1, got 0/);
  assert.throws(() => new SendQueue({ ...s, failEvery: -1 }), /expected failEvery ≥ 0, got -1/);
  assert.throws(() => new SendQueue({ ...s, pinned: [7] }), /expected pinned flows below 5, got 7/);
  assert.throws(() => new SendQueue(s).run(-1), /expected sends per flow ≥ 0, got -1/);
});
