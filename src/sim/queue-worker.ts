/**
 * @module
 * The body of one send-queue worker thread (sim/queues.ts starts it from the compiled
 * `queue-worker.js` next to `queues.js`). `workerData` is the queue's {@link QueueWorkerData};
 * the thread builds its {@link SendQueue}, answers `ready` with the handles its replica got, then
 * serves runs: warm up, report `warm`, wait until the shared start word reaches the run's
 * generation, run, and report the run with its own start and end times (process.hrtime, one
 * monotonic clock for every thread of the process) and, on Linux, the CPU time the thread got
 * and the time it waited for a CPU (/proc/thread-self/schedstat) — on a busy machine the second
 * says why a run was slow.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { SendQueue, type QueueRun, type QueueSetup } from './send-queue.ts';

/** A queue's setup and the start word all queues of a run wait on. */
export interface QueueWorkerData extends QueueSetup {
  /** Int32Array[1]: the generation of the run that may start. */
  readonly start: SharedArrayBuffer;
}

/** main → worker: one run. */
export interface RunMessage {
  readonly type: 'run';
  /** Start when the start word reaches this. */
  readonly generation: number;
  /** Sends per flow before the timed part (not reported). */
  readonly warmup: number;
  readonly sendsPerFlow: number;
}

/** worker → main. */
export type WorkerMessage =
  | { readonly type: 'ready'; readonly handles: readonly bigint[] }
  | { readonly type: 'warm' }
  | {
      readonly type: 'done';
      readonly run: QueueRun;
      /** process.hrtime.bigint() around the timed run. */
      readonly startNs: bigint;
      readonly endNs: bigint;
      /** CPU time of the thread during the run, and time it waited on a run queue (Linux). */
      readonly cpuNs: number | null;
      readonly waitNs: number | null;
    };

/** [on-CPU ns, run-queue wait ns] of this thread so far, or null where /proc has no schedstat. */
function schedstat(): [number, number] | null {
  try {
    const [cpu, wait] = readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ').map(Number);
    return Number.isFinite(cpu) && Number.isFinite(wait) ? [cpu, wait] : null;
  } catch {
    return null;
  }
}

const port = parentPort;
if (port === null) throw new Error('queue-worker: expected to run in a worker thread');
const data = workerData as QueueWorkerData;
const queue = new SendQueue(data);
const start = new Int32Array(data.start);
port.postMessage({ type: 'ready', handles: queue.handles } satisfies WorkerMessage);
port.on('message', (m: RunMessage) => {
  if (m.warmup > 0) queue.run(m.warmup);
  port.postMessage({ type: 'warm' } satisfies WorkerMessage);
  for (let now = Atomics.load(start, 0); now < m.generation; now = Atomics.load(start, 0)) {
    Atomics.wait(start, 0, now);
  }
  const before = schedstat();
  const startNs = process.hrtime.bigint();
  const run = queue.run(m.sendsPerFlow);
  const endNs = process.hrtime.bigint();
  const after = schedstat();
  const cpuNs = before === null || after === null ? null : after[0] - before[0];
  const waitNs = before === null || after === null ? null : after[1] - before[1];
  port.postMessage({ type: 'done', run, startNs, endNs, cpuNs, waitNs } satisfies WorkerMessage);
});
