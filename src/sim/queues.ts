/**
 * @module
 * Multi-queue sending (issue 6): N send queues, each a worker thread (node:worker_threads) with
 * its own Miniport replica — like a NIC's per-CPU transmit queues with the CPU's share of the
 * TCP/IP stack in front — sharing the outbound SAs' sequence counters through a
 * SharedArrayBuffer (transport/shared-seq.ts), so no sequence number is ever sent twice and the
 * only gaps are the numbers of NBLs the NIC failed, counted per queue.
 *
 * Flows are pinned to queues by the NDIS RSS hash of their 4-tuple (ndis/rss.ts, Toeplitz with
 * Microsoft's verification key unless another is given; queue = hash mod queues), as Windows
 * sends a connection's packets from the CPU RSS assigned to it. One queue (sim/send-queue.ts)
 * runs per worker; {@link SendQueues.run} starts every queue at once after its warm-up and
 * reports each queue's run with its own start and end times.
 *
 * Workers load compiled JavaScript: `queue-worker.js` next to this module's own compiled file.
 */
import { Worker } from 'node:worker_threads';
import { hashFlow, queueOf, Toeplitz, VERIFICATION_KEY } from '../ndis/rss.ts';
import { SharedSeq } from '../transport/shared-seq.ts';
import { bundleEsn, firstSequence, type QueueFlow, type QueueSa } from './queue-work.ts';
import type { QueueWorkerData, RunMessage, WorkerMessage } from './queue-worker.ts';
import {
  encodeQueueSas,
  queueStats,
  type QueueMode,
  type QueueRun,
  type QueueStats,
} from './send-queue.ts';

/** How to build the queues. */
export interface SendQueuesOptions {
  /** Number of send queues (worker threads), at least 1. */
  readonly queues: number;
  readonly sas: readonly QueueSa[];
  readonly flows: readonly QueueFlow[];
  readonly mode: QueueMode;
  /** NBLs per MiniportSendNetBufferLists call (default 64). */
  readonly chain?: number;
  /** Test mode: every failEvery-th send of each flow fails at the NIC (default 0: none). */
  readonly failEvery?: number;
  /** Sequence numbers reserved per burst ('chain', default) or per NBL ('nbl'). */
  readonly reserve?: 'chain' | 'nbl';
  /** The RSS secret key (default: the verification key of "Verifying the RSS Hash Calculation"). */
  readonly rssKey?: Uint8Array;
}

/** One queue's timed run. */
export interface TimedQueueRun extends QueueRun {
  /** process.hrtime.bigint() at the queue's start and end. */
  readonly startNs: bigint;
  readonly endNs: bigint;
  /** CPU time the queue's thread got, and time it waited for a CPU (Linux; else null). */
  readonly cpuNs: number | null;
  readonly waitNs: number | null;
}

/** One run of every queue. */
export interface QueuesRun {
  readonly queues: readonly TimedQueueRun[];
  /** Every queue's counts summed. */
  readonly total: QueueStats;
  /** From the first queue's start to the last queue's end, nanoseconds. */
  readonly ns: bigint;
}

/** The queue each flow is pinned to: its RSS hash (Toeplitz over the 4-tuple) mod `queues`. */
export function pinFlows(
  sas: readonly QueueSa[],
  flows: readonly QueueFlow[],
  queues: number,
  key: Uint8Array = VERIFICATION_KEY
): number[] {
  const hasher = new Toeplitz(key);
  return flows.map((f) => {
    if (!Number.isInteger(f.sa) || f.sa < 0 || f.sa >= sas.length) {
      throw new RangeError(`pinFlows: expected flow SAs below ${sas.length}, got ${f.sa}`);
    }
    const sa = sas[f.sa];
    const hash = hashFlow(
      {
        source: sa.source,
        destination: sa.destination,
        sourcePort: f.sourcePort,
        destinationPort: f.destinationPort,
      },
      hasher
    );
    return queueOf(hash, queues);
  });
}

/** A worker and its messages in arrival order; an error or exit rejects the waiting reader. */
class QueuePort {
  readonly worker: Worker;
  readonly #arrived: WorkerMessage[] = [];
  #waiting: { resolve: (m: WorkerMessage) => void; reject: (e: Error) => void } | null = null;
  #failure: Error | null = null;

  constructor(worker: Worker) {
    this.worker = worker;
    worker.on('message', (m: WorkerMessage) => {
      const w = this.#waiting;
      this.#waiting = null;
      if (w === null) this.#arrived.push(m);
      else w.resolve(m);
    });
    const fail = (e: Error): void => {
      this.#failure ??= e;
      const w = this.#waiting;
      this.#waiting = null;
      w?.reject(e);
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      fail(new Error(`send queue worker exited with code ${code}`));
    });
  }

  /** The next message of type `type`; rejects on any other (a protocol error) or a failure. */
  async next<T extends WorkerMessage['type']>(
    type: T
  ): Promise<Extract<WorkerMessage, { type: T }>> {
    const m =
      this.#arrived.shift() ??
      (await new Promise<WorkerMessage>((resolve, reject) => {
        if (this.#failure !== null) reject(this.#failure);
        else this.#waiting = { resolve, reject };
      }));
    if (m.type !== type) throw new Error(`send queue worker: expected '${type}', got '${m.type}'`);
    return m as Extract<WorkerMessage, { type: T }>;
  }
}

/** N send queues in N worker threads over shared sequence counters. */
export class SendQueues {
  /** The queue of each flow (RSS). */
  readonly queueOfFlow: readonly number[];
  /** The shared counters: slot i is SA i. */
  readonly seq: SharedSeq;
  /** The OffloadHandle of each bundle (every replica returned the same). */
  readonly handles: readonly bigint[];
  readonly #ports: readonly QueuePort[];
  readonly #start: Int32Array;
  #generation = 0;

  private constructor(
    queueOfFlow: number[],
    seq: SharedSeq,
    handles: readonly bigint[],
    ports: QueuePort[],
    start: Int32Array
  ) {
    this.queueOfFlow = queueOfFlow;
    this.seq = seq;
    this.handles = handles;
    this.#ports = ports;
    this.#start = start;
  }

  /** Starts the workers, adds the SAs to every replica, and checks that the handles agree. */
  static async start(options: SendQueuesOptions): Promise<SendQueues> {
    const { queues, sas, flows, mode } = options;
    if (!Number.isInteger(queues) || queues < 1) {
      throw new RangeError(`SendQueues.start: expected at least 1 queue, got ${queues}`);
    }
    if (sas.length === 0) throw new RangeError('SendQueues.start: expected at least 1 SA, got 0');
    const queueOfFlow = pinFlows(sas, flows, queues, options.rssKey);
    const seq = SharedSeq.create(sas.length);
    sas.forEach((sa, i) => {
      seq.init(i, firstSequence(sa), bundleEsn(sa));
    });
    const addSa = encodeQueueSas(sas);
    const startWord = new SharedArrayBuffer(4);
    const url = new URL('./queue-worker.js', import.meta.url);
    const ports: QueuePort[] = [];
    for (let q = 0; q < queues; q++) {
      const data: QueueWorkerData = {
        index: q,
        sas,
        flows,
        pinned: queueOfFlow.flatMap((x, f) => (x === q ? [f] : [])),
        addSa,
        seq: seq.buffer,
        mode,
        chain: options.chain ?? 64,
        failEvery: options.failEvery ?? 0,
        reserve: options.reserve ?? 'chain',
        start: startWord,
      };
      ports.push(new QueuePort(new Worker(url, { workerData: data })));
    }
    try {
      const ready = await Promise.all(ports.map((p) => p.next('ready')));
      const handles = ready[0].handles;
      ready.forEach((r, q) => {
        if (r.handles.join() !== handles.join()) {
          throw new Error(
            `SendQueues.start: expected every replica to return handles ${handles.join()}, queue ${q} got ${r.handles.join()}`
          );
        }
      });
      return new SendQueues(queueOfFlow, seq, handles, ports, new Int32Array(startWord));
    } catch (e) {
      await Promise.all(ports.map((p) => p.worker.terminate()));
      throw e;
    }
  }

  /** Number of queues. */
  get size(): number {
    return this.#ports.length;
  }

  /**
   * Every queue sends `warmup` sends per pinned flow (untimed), then — all started together —
   * `sendsPerFlow` sends per pinned flow; resolves with each queue's run.
   */
  async run(sendsPerFlow: number, warmup = 0): Promise<QueuesRun> {
    const generation = ++this.#generation;
    const message: RunMessage = { type: 'run', generation, warmup, sendsPerFlow };
    for (const p of this.#ports) p.worker.postMessage(message);
    await Promise.all(this.#ports.map((p) => p.next('warm')));
    Atomics.store(this.#start, 0, generation);
    Atomics.notify(this.#start, 0);
    const done = await Promise.all(this.#ports.map((p) => p.next('done')));
    const total = queueStats();
    let first = done[0].startNs;
    let last = done[0].endNs;
    for (const d of done) {
      for (const k of Object.keys(total) as (keyof QueueStats)[]) total[k] += d.run.stats[k];
      if (d.startNs < first) first = d.startNs;
      if (d.endNs > last) last = d.endNs;
    }
    return {
      queues: done.map((d) => ({
        ...d.run,
        startNs: d.startNs,
        endNs: d.endNs,
        cpuNs: d.cpuNs,
        waitNs: d.waitNs,
      })),
      total,
      ns: last - first,
    };
  }

  /** Stops every worker. */
  async close(): Promise<void> {
    await Promise.all(this.#ports.map((p) => p.worker.terminate()));
  }
}
