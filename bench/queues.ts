/**
 * @module
 * The bench case `send 1 vs 2 queues` (issue 6, target: 2 queues ≥ 1.7× one queue): the
 * 1400-byte ESP AES-GCM-128 transport IPv4 send of bench/run.ts, over `flows` TCP flows of one
 * SA, with one send queue and with two (sim/queues.ts: worker threads, flows pinned by their RSS
 * hash, sequence numbers from one shared counter). The same total work both times: every flow
 * sends `sendsPerFlow` sends, split between the queues by hash. The workers are started, have
 * added the SA and warmed up before the clock starts; a run's time is from the first queue's
 * start to the last queue's end, as each worker measured it. Reports, never asserts.
 */
import { SendQueues, type QueuesRun } from '../src/sim/queues.ts';
import type { QueueFlow, QueueSa } from '../src/sim/queue-work.ts';
import { rates, type Measurement } from './harness.ts';

/** What to measure. */
export interface QueuesBenchOptions {
  /** Time budget per configuration (default 1000 ms), split over `repeats` timed runs. */
  readonly budgetMs?: number;
  /** Timed runs per configuration; the median is reported (default 5). */
  readonly repeats?: number;
  /** TCP payload per packet (default 1400). */
  readonly payload?: number;
  /** Flows (default 128: 49152… → 443). */
  readonly flows?: number;
  /** NBLs per MiniportSendNetBufferLists call (default 64). */
  readonly chain?: number;
  /** Sequence numbers reserved per burst ('chain', default) or per NBL ('nbl'). */
  readonly reserve?: 'chain' | 'nbl';
}

/** The two measurements and what bounds their ratio. */
export interface QueuesBench {
  /** All flows on one queue: packets per second of wall time. */
  readonly one: Measurement;
  /** The same sends on two queues. */
  readonly two: Measurement;
  /** two ÷ one, packets per second. */
  readonly ratio: number;
  /**
   * The same runs by CPU time (Linux /proc/thread-self/schedstat; null elsewhere): each queue's
   * packets per second of its own thread's CPU time, summed over the queues — what the queues
   * would send with a core each and nothing else running. Median run.
   */
  readonly cpu: { readonly one: number; readonly two: number; readonly ratio: number } | null;
  /**
   * Share of the timed runs' wall time the queue threads spent waiting for a CPU (median run;
   * near 0 on an idle machine; null where unknown). Large values mean other processes competed.
   */
  readonly waited: { readonly one: number; readonly two: number } | null;
  readonly flows: number;
  readonly sendsPerFlow: number;
  /** Flows per queue with two queues (RSS hash mod 2). */
  readonly split: readonly number[];
  /** flows ÷ the larger share: the ratio the hash split allows with perfect scaling. */
  readonly bound: number;
}

/** The median run of one configuration, by wall time and by CPU time. */
interface Runs {
  readonly wall: Measurement;
  readonly cpuRate: number | null;
  readonly waited: number | null;
}

const A4 = Uint8Array.of(192, 0, 2, 10);
const B4 = Uint8Array.of(198, 51, 100, 20);

/** bench/run.ts's GCM SA (same SPI and key bytes). */
const SA: QueueSa = {
  source: A4,
  destination: B4,
  sas: [
    {
      protocol: 'esp',
      spi: 0x1001,
      encryption: 'aes-gcm-128',
      encryptionKey: Uint8Array.from({ length: 20 }, (_, i) => (37 + i * 29 + 1) & 0xff),
    },
  ],
};

const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** Runs `repeats` timed runs; the median by packet rate, with the spread of all. */
async function measureRuns(
  q: SendQueues,
  sendsPerFlow: number,
  warmup: number,
  repeats: number,
  payload: number
): Promise<Runs> {
  const done: Measurement[] = [];
  const cpu: number[] = [];
  const waited: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const run: QueuesRun = await q.run(sendsPerFlow, warmup);
    if (run.total.failedNbls > 0 || run.total.frames !== run.total.reserved) {
      throw new Error(
        `bench queues: ${run.total.failedNbls} NBLs failed, ${run.total.frames} frames for ${run.total.reserved} numbers`
      );
    }
    done.push(rates(run.total.frames, run.total.frames * payload, run.ns));
    let rate = 0;
    let wait = 0;
    for (const r of run.queues) {
      if (r.cpuNs === null || r.waitNs === null || r.cpuNs <= 0) {
        rate = NaN;
        break;
      }
      rate += r.stats.frames / (r.cpuNs / 1e9);
      wait += r.waitNs;
    }
    if (!Number.isNaN(rate)) {
      cpu.push(rate);
      waited.push(wait / (Number(run.ns) * run.queues.length));
    }
  }
  done.sort((a, b) => a.packetsPerSecond - b.packetsPerSecond);
  const mid = done[done.length >> 1];
  const spread =
    (done[done.length - 1].packetsPerSecond - done[0].packetsPerSecond) / mid.packetsPerSecond;
  return {
    wall: { ...mid, spread },
    cpuRate: cpu.length === repeats ? median(cpu) : null,
    waited: waited.length === repeats ? median(waited) : null,
  };
}

/**
 * Measures total packets per second of the same sends with 1 and with 2 queues. Call it from an
 * async context (it awaits the workers).
 */
export async function benchQueues(options: QueuesBenchOptions = {}): Promise<QueuesBench> {
  const budgetMs = options.budgetMs ?? 1000;
  const repeats = options.repeats ?? 5;
  const payload = options.payload ?? 1400;
  const chain = options.chain ?? 64;
  const flows: QueueFlow[] = Array.from({ length: options.flows ?? 128 }, (_, i) => ({
    sa: 0,
    sourcePort: 49152 + i,
    destinationPort: 443,
    payload,
  }));
  const start = (queues: number): Promise<SendQueues> =>
    SendQueues.start({
      queues,
      sas: [SA],
      flows,
      mode: 'bench',
      chain,
      reserve: options.reserve ?? 'chain',
    });

  // Calibrate on one queue: sends per flow so that one timed run takes budget ÷ repeats.
  const q1 = await start(1);
  let one: Runs;
  let sendsPerFlow: number;
  try {
    const probe = await q1.run(chain, 2 * chain);
    const perSecond = probe.total.frames / (Number(probe.ns) / 1e9);
    const perRun = (perSecond * budgetMs) / 1000 / repeats;
    sendsPerFlow = Math.max(chain, Math.round(perRun / flows.length));
    one = await measureRuns(q1, sendsPerFlow, chain, repeats, payload);
  } finally {
    await q1.close();
  }
  const q2 = await start(2);
  let two: Runs;
  const split = [0, 1].map((q) => q2.queueOfFlow.filter((x) => x === q).length);
  try {
    two = await measureRuns(q2, sendsPerFlow, chain, repeats, payload);
  } finally {
    await q2.close();
  }
  return {
    one: one.wall,
    two: two.wall,
    ratio: two.wall.packetsPerSecond / one.wall.packetsPerSecond,
    cpu:
      one.cpuRate === null || two.cpuRate === null
        ? null
        : { one: one.cpuRate, two: two.cpuRate, ratio: two.cpuRate / one.cpuRate },
    waited:
      one.waited === null || two.waited === null ? null : { one: one.waited, two: two.waited },
    flows: flows.length,
    sendsPerFlow,
    split,
    bound: flows.length / Math.max(...split),
  };
}
