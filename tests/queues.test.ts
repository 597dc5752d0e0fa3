/**
 * Issue 6, multi-queue: two send queues (worker threads) share one outbound ESP AES-GCM SA and an
 * ESN SA that crosses 2^32. Every frame decrypts and carries its send's bytes, on the queue its
 * flow's RSS hash names; no sequence number goes out twice; the numbers missing from the wire
 * are exactly the counted gaps of the NBLs the NIC failed. One queue sends the same sends, and
 * each frame of the two-queue run is byte for byte the frame one NIC makes of that send with
 * that sequence number (GCM's IV is the sequence number, contract D6).
 *
 * Why not byte-identical between the two runs themselves: the queues draw numbers from one
 * SA-wide counter as they go, so which send gets which number depends on how the threads
 * interleave; only the payloads, the set of sends and the frame sizes are fixed by the workload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../src/crypto/random.ts';
import { Miniport } from '../src/miniport/miniport.ts';
import { readAddSaHandle } from '../src/ndis/addsa.ts';
import { Oid, Operation } from '../src/ndis/oid.ts';
import { NdisStatus } from '../src/ndis/status.ts';
import { encodeUpdateSa } from '../src/ndis/updatesa.ts';
import * as framing from '../src/transport/framing.ts';
import { fillPayload, frameSpec, type QueueFlow, type QueueSa } from '../src/sim/queue-work.ts';
import { verifyRuns, type RunsReport } from '../src/sim/queue-verify.ts';
import { pinFlows, SendQueues, type QueuesRun } from '../src/sim/queues.ts';
import { encodeQueueSas } from '../src/sim/send-queue.ts';
import { queueSas } from './queue-fixtures.ts';

const SAS: readonly QueueSa[] = queueSas((1n << 32n) - 100n);

const FLOWS: readonly QueueFlow[] = [
  ...Array.from({ length: 8 }, (_, i) => ({
    sa: 0,
    sourcePort: 49152 + i,
    destinationPort: 443,
    payload: [1400, 64, 512, 1, 1400, 900, 7, 1400][i],
  })),
  { sa: 1, sourcePort: 50000, destinationPort: 443, payload: 1400 },
  { sa: 1, sourcePort: 50001, destinationPort: 443, payload: 300 },
  { sa: 1, sourcePort: 50002, destinationPort: 443, payload: 5000, mss: 1200 },
  { sa: 1, sourcePort: 50003, destinationPort: 8443, payload: 100 },
];

const SENDS = 30;
const FAIL_EVERY = 7;

async function runQueues(
  queues: number,
  reserve: 'chain' | 'nbl'
): Promise<{ run: QueuesRun; report: RunsReport; queueOfFlow: readonly number[] }> {
  const q = await SendQueues.start({
    queues,
    sas: SAS,
    flows: FLOWS,
    mode: 'test',
    chain: 8,
    failEvery: FAIL_EVERY,
    reserve,
  });
  try {
    const run = await q.run(SENDS);
    const report = verifyRuns(run.queues, {
      sas: SAS,
      flows: FLOWS,
      queueOfFlow: q.queueOfFlow,
      sendsPerFlow: SENDS,
      failEvery: FAIL_EVERY,
      next: SAS.map((_, i) => q.seq.next(i)),
    });
    return { run, report, queueOfFlow: q.queueOfFlow };
  } finally {
    await q.close();
  }
}

/** Sends k = 6, 13, 20, 27 of each flow fail: 4 NBLs per flow. */
const FAILED_PER_FLOW = 4;
const segments = (f: QueueFlow): number => (f.mss === undefined ? 1 : Math.ceil(f.payload / f.mss));

test('the workload spreads over both queues by RSS hash', () => {
  const pinned = pinFlows(SAS, FLOWS, 2);
  assert.ok(pinned.includes(0) && pinned.includes(1), `flows on both queues: ${pinned.join()}`);
  assert.ok(pinned.some((q, f) => q === 0 && FLOWS[f].sa === 0));
  assert.ok(
    pinned.some((q, f) => q === 1 && FLOWS[f].sa === 0),
    'both queues send on SA 0'
  );
});

for (const reserve of ['chain', 'nbl'] as const) {
  test(`2 queues (reserve per ${reserve}): every frame verifies, no number twice, gaps = failed NBLs`, async () => {
    const { run, report, queueOfFlow } = await runQueues(2, reserve);
    assert.deepEqual(report.problems, []);
    assert.equal(run.queues.length, 2);
    const t = run.total;
    assert.equal(t.failedNbls, FLOWS.length * FAILED_PER_FLOW);
    const wantGaps = FLOWS.reduce((n, f) => n + FAILED_PER_FLOW * segments(f), 0);
    assert.equal(t.gaps, wantGaps);
    assert.equal(report.gaps[0] + report.gaps[1], wantGaps);
    const wantFrames = FLOWS.reduce((n, f) => n + (SENDS - FAILED_PER_FLOW) * segments(f), 0);
    assert.equal(t.frames, wantFrames);
    assert.equal(report.frames, wantFrames);
    assert.equal(t.reserved, t.frames + t.gaps);
    for (const r of run.queues) {
      assert.equal(r.counters['send.fail:failure:unknown-handle'], r.stats.failedNbls);
      const flows = queueOfFlow.filter((q) => q === r.queue).length;
      assert.ok(flows > 0 && r.stats.frames > 0, `queue ${r.queue} sent`);
    }
    // Both queues drew numbers of SA 0 from the one counter.
    const onSa0 = [0, 1].map(
      (q) => report.opened.filter((o) => o.sa === 0 && o.queue === q).length
    );
    assert.ok(onSa0[0] > 0 && onSa0[1] > 0, `SA 0 frames per queue: ${onSa0.join()}`);
    // The ESN SA crossed 2^32, and a queue whose replica saw it told the replica (UPDATE_SA).
    const highs = new Set(report.opened.filter((o) => o.sa === 1).map((o) => o.sequence >> 32n));
    assert.deepEqual([...highs].sort(), [0n, 1n]);
    assert.ok(t.updates >= 1);
  });
}

test('1 queue sends the same sends as 2 queues; each frame is what one NIC makes of it', async () => {
  const one = await runQueues(1, 'chain');
  const two = await runQueues(2, 'chain');
  assert.deepEqual(one.report.problems, []);
  assert.deepEqual(two.report.problems, []);
  const keyOf = (o: { flow: number; send: number; offset: number }): string =>
    `${o.flow}/${o.send}/${o.offset}`;
  const sizes = (r: RunsReport): Map<string, number> =>
    new Map(r.opened.map((o) => [keyOf(o), o.frame.length]));
  assert.deepEqual(new Map([...sizes(two.report)].sort()), new Map([...sizes(one.report)].sort()));
  assert.deepEqual(
    two.report.opened.map((o) => o.payload.length).reduce((a, b) => a + b),
    one.report.opened.map((o) => o.payload.length).reduce((a, b) => a + b)
  );

  // A single reference NIC, given the same ADD_SA bytes: frame each send of the two-queue run
  // with the sequence number it got there, and compare every byte.
  const wire: Uint8Array[] = [];
  const nic = new Miniport({
    link: { transmit: (f: Uint8Array): void => void wire.push(f.slice()) },
    complete: (): void => {},
    random: seededRandom(1),
  });
  const add = encodeQueueSas(SAS);
  const buffer = add.bytes.slice();
  const r = nic.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer,
    baseAddress: add.baseAddress,
  });
  assert.equal(r.status, NdisStatus.NDIS_STATUS_SUCCESS);
  const handles = add.entryOffsets.map((o) => readAddSaHandle(buffer, o, 'x64'));
  let high = Number((SAS[1].firstSequence ?? 1n) >> 32n);
  const sends = new Map<string, (typeof two.report.opened)[number][]>();
  for (const o of two.report.opened) {
    const k = `${o.flow}/${o.send}`;
    sends.set(k, [...(sends.get(k) ?? []), o]);
  }
  // In sequence order per SA, so the reference's ESN high half only moves forward (D3).
  const ordered = [...sends.values()].sort((a, b) => (a[0].sequence < b[0].sequence ? -1 : 1));
  let compared = 0;
  for (const group of ordered) {
    group.sort((a, b) => a.offset - b.offset);
    const o = group[0];
    const f = FLOWS[o.flow];
    const first = group.reduce((m, g) => (g.sequence < m ? g.sequence : m), o.sequence);
    if (f.sa === 1 && Number(first >> 32n) !== high) {
      high = Number(first >> 32n);
      const u = nic.oidRequest({
        type: 'set',
        oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA,
        buffer: encodeUpdateSa(
          {
            offloadHandle: handles[1],
            operation: Operation.IPsecOffloadV2Esp,
            spi: 0x2002,
            sequenceNumberHighOrder: high,
          },
          'x64'
        ),
      });
      assert.equal(u.status, NdisStatus.NDIS_STATUS_SUCCESS);
    }
    const payload = fillPayload(o.flow, o.send, new Uint8Array(f.payload));
    wire.length = 0;
    const nbl = framing.build(frameSpec(SAS[f.sa], f, o.send, first, handles[f.sa], payload));
    nic.sendNetBufferLists(nbl);
    assert.equal(nbl.status, NdisStatus.NDIS_STATUS_SUCCESS);
    assert.equal(wire.length, group.length, `flow ${o.flow} send ${o.send}: segments`);
    group.forEach((g, i) => {
      assert.equal(g.sequence, first + BigInt(i));
      assert.deepEqual(g.frame, wire[i], `flow ${o.flow} send ${o.send} segment ${i}: bytes`);
    });
    compared += group.length;
  }
  assert.equal(compared, two.report.frames);
});
