/**
 * @module
 * One send queue of the multi-queue model (issue 6): what runs in each worker thread of
 * sim/queues.ts, usable in-process too. Like a NIC's per-CPU transmit queue with the CPU's part
 * of the TCP/IP stack in front of it, a queue has
 *
 * - its own Miniport replica, given the same SAs by the same OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA
 *   bytes as every other queue (so the handles agree; each replica keys its own crypto contexts,
 *   as per-CPU engines would);
 * - the flows pinned to it by their RSS hash (ndis/rss.ts), sent in bursts: one chain of up to
 *   `chain` NBLs of one flow per MiniportSendNetBufferLists call;
 * - sequence numbers from the counters all queues share (transport/shared-seq.ts): one block per
 *   burst (`reserve: 'chain'`, default) or per NBL (`'nbl'`), one number per frame (D3);
 * - a sink for its frames: in `test` mode (or with `keepFrames`) it keeps a copy of each (the
 *   Link owns a frame only during transmit) and the completions record every failed NBL's
 *   numbers; in `bench` mode it only counts.
 *
 * Sequence numbers are accounted for exactly: every reserved number goes out in one frame, or
 * belongs to an NBL the NIC failed — a gap, counted (`gaps`) — so reserved = frames + gaps.
 * With ESN the replica's SequenceNumberHighOrder follows the numbers this queue sends: before the
 * first NBL whose first number has a new high half the queue sends UPDATE_SA to its replica
 * (contract D3: after the NBL that crossed, before any later one).
 *
 * In `test` mode every send is framed afresh (transport/framing.ts) with its own payload and
 * sequence number, and every `failEvery`-th send of a flow carries an OffloadHandle the NIC does
 * not hold (D8: NDIS_STATUS_FAILURE). In `bench` mode each flow has `chain` pre-framed NBLs
 * whose sequence number fields are rewritten per send, without allocating (as bench/run.ts
 * re-sends pre-built NBLs).
 */
import { seededRandom } from '../crypto/random.ts';
import { Miniport } from '../miniport/miniport.ts';
import { encodeAddSaList, readAddSaHandle } from '../ndis/addsa.ts';
import { NetBufferList } from '../ndis/nbl.ts';
import { Oid, Operation } from '../ndis/oid.ts';
import { getLso, setLso } from '../ndis/oob.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import { encodeUpdateSa } from '../ndis/updatesa.ts';
import * as framing from '../transport/framing.ts';
import { addSaEntry } from '../transport/sa-entry.ts';
import { blockFirst, seqBlock, SharedSeq, type SeqBlock } from '../transport/shared-seq.ts';
import {
  bundleEsn,
  fillPayload,
  firstSequence,
  frameSpec,
  isFailing,
  segmentsOf,
  type QueueFlow,
  type QueueSa,
} from './queue-work.ts';

/** Where the ADD_SA list sits in the model's address space (x64: 8-aligned; D15). */
const ADD_SA_BASE = 0x10_0000n;
/** An OffloadHandle no replica holds: the NBL fails with NDIS_STATUS_FAILURE (D8). */
export const INJECTED_BAD_HANDLE = 0xbad0_0000_0000_0001n;
const TWO_32 = 0x1_0000_0000;

/** The ADD_SA request every replica is given: the list bytes and where each entry starts. */
export interface AddSaRequest {
  readonly bytes: Uint8Array;
  readonly entryOffsets: readonly number[];
  readonly baseAddress: bigint;
}

/** One ADD_SA list (x64) with one outbound entry per bundle of `sas`, in order. */
export function encodeQueueSas(sas: readonly QueueSa[]): AddSaRequest {
  const entries = sas.map((sa) => {
    const seqHigh = Number(firstSequence(sa) >> 32n);
    return addSaEntry({
      inbound: false,
      source: sa.source,
      destination: sa.destination,
      sas: sa.sas.map((d) => ({ ...d, seqHigh })),
    });
  });
  const { bytes, entryOffsets } = encodeAddSaList(entries, ADD_SA_BASE, 'x64');
  return { bytes, entryOffsets, baseAddress: ADD_SA_BASE };
}

/** Test: frames kept, every send of every flow framed afresh; bench: counted, stamped templates. */
export type QueueMode = 'test' | 'bench';

/** What one queue is given; plain data (it is a worker's `workerData`). */
export interface QueueSetup {
  /** This queue's number (0-based). */
  readonly index: number;
  readonly sas: readonly QueueSa[];
  readonly flows: readonly QueueFlow[];
  /** Indexes into `flows` of the flows pinned to this queue. */
  readonly pinned: readonly number[];
  readonly addSa: AddSaRequest;
  /** The SharedSeq buffer: slot i is `sas[i]`'s counter, initialized by the owner. */
  readonly seq: SharedArrayBuffer;
  readonly mode: QueueMode;
  /** NBLs per MiniportSendNetBufferLists call (one burst of one flow). */
  readonly chain: number;
  /** Test mode: send k of a flow fails when k % failEvery = failEvery − 1; 0: none. */
  readonly failEvery: number;
  /** One reservation per burst ('chain') or per NBL ('nbl'). */
  readonly reserve: 'chain' | 'nbl';
  /** Keep a copy of every frame and record the gaps (default: in test mode only). */
  readonly keepFrames?: boolean;
}

/** Counts of one run of one queue. */
export interface QueueStats {
  /** MiniportSendNetBufferLists calls. */
  calls: number;
  /** NBLs handed to the NIC. */
  nbls: number;
  /** Frames the NIC put on the wire. */
  frames: number;
  /** NBLs the NIC failed. */
  failedNbls: number;
  /** Sequence numbers reserved from the shared counters. */
  reserved: number;
  /** Sequence numbers of failed NBLs: reserved, never sent. */
  gaps: number;
  /** Sends not made because the SA's counter was exhausted (nothing reserved). */
  exhausted: number;
  /** UPDATE_SA requests sent to this queue's replica (ESN high half, D3). */
  updates: number;
}

/** A zeroed {@link QueueStats}. */
export function queueStats(): QueueStats {
  return {
    calls: 0,
    nbls: 0,
    frames: 0,
    failedNbls: 0,
    reserved: 0,
    gaps: 0,
    exhausted: 0,
    updates: 0,
  };
}

/** The sequence numbers of one failed NBL. */
export interface SeqGap {
  readonly sa: number;
  readonly first: bigint;
  readonly count: number;
}

/** What a test-mode run keeps. */
export interface QueueCapture {
  /** Copies of every frame, in transmit order. */
  readonly frames: Uint8Array[];
  /** The numbers of every failed NBL. */
  readonly gaps: SeqGap[];
}

/** One run of one queue. */
export interface QueueRun {
  readonly queue: number;
  readonly stats: QueueStats;
  /** The replica's counters (`send.fail:…` names why NBLs failed). */
  readonly counters: Record<string, number>;
  /** Test mode only. */
  readonly capture: QueueCapture | null;
}

/** The protocol's per-NBL record, kept in NET_BUFFER_LIST ProtocolReserved. */
interface NblContext {
  sa: number;
  /** The reserved block of this NBL. */
  high: number;
  low: number;
  count: number;
  /** Bench templates: the frame, where its sequence number fields are (−1: none), slot 2. */
  readonly frame: Uint8Array;
  readonly espSeqAt: number;
  readonly ahSeqAt: number;
  readonly lso: number;
}

function context(frame: Uint8Array, espSeqAt: number, ahSeqAt: number, lso: number): NblContext {
  return { sa: 0, high: 0, low: 0, count: 0, frame, espSeqAt, ahSeqAt, lso };
}

function put32(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24;
  out[at + 1] = (value >>> 16) & 0xff;
  out[at + 2] = (value >>> 8) & 0xff;
  out[at + 3] = value & 0xff;
}

/** One send queue: a Miniport replica, its pinned flows, a sink. */
export class SendQueue {
  readonly index: number;
  readonly miniport: Miniport;
  /** The OffloadHandle of each bundle, as this replica's ADD_SA returned them. */
  readonly handles: readonly bigint[];
  readonly #setup: QueueSetup;
  readonly #seq: SharedSeq;
  /** SequenceNumberHighOrder this replica holds, per bundle. */
  readonly #nicHigh: number[];
  /** Sequence numbers per send, per flow. */
  readonly #segments: number[];
  /** Sends made so far, per flow (test mode: `k` of the next send). */
  readonly #sent: number[];
  #stats: QueueStats = queueStats();
  #capture: QueueCapture | null = null;
  /** The chain being built, and test mode's NBL pool (slot i of every chain). */
  readonly #chain: NetBufferList[] = [];
  readonly #pool: NetBufferList[] = [];
  readonly #poolContext: NblContext[] = [];
  /** Bench mode: `chain` pre-framed NBLs per flow (empty for flows of other queues). */
  readonly #templates: NetBufferList[][] = [];
  #completed = 0;
  readonly #lease: SeqBlock = seqBlock();
  readonly #block: SeqBlock = seqBlock();

  constructor(setup: QueueSetup) {
    const where = 'SendQueue';
    if (!Number.isInteger(setup.chain) || setup.chain < 1) {
      throw new RangeError(`${where}: expected chain ≥ 1, got ${setup.chain}`);
    }
    if (!Number.isInteger(setup.failEvery) || setup.failEvery < 0) {
      throw new RangeError(`${where}: expected failEvery ≥ 0, got ${setup.failEvery}`);
    }
    for (const f of setup.pinned) {
      if (!Number.isInteger(f) || f < 0 || f >= setup.flows.length) {
        throw new RangeError(
          `${where}: expected pinned flows below ${setup.flows.length}, got ${f}`
        );
      }
      const sa = setup.flows[f].sa;
      if (!Number.isInteger(sa) || sa < 0 || sa >= setup.sas.length) {
        throw new RangeError(
          `${where}: flow ${f}: expected an SA below ${setup.sas.length}, got ${sa}`
        );
      }
    }
    this.#setup = setup;
    this.index = setup.index;
    this.#seq = new SharedSeq(setup.seq);
    this.#nicHigh = setup.sas.map((sa) => Number(firstSequence(sa) >> 32n));
    setup.sas.forEach((sa, i) => {
      if (this.#seq.esn(i) !== bundleEsn(sa)) {
        throw new RangeError(
          `${where}: SA ${i}: expected the shared counter's esn to be the bundle's (${bundleEsn(sa)}), got ${this.#seq.esn(i)}`
        );
      }
    });
    this.#segments = setup.flows.map((flow) => segmentsOf(setup.sas[flow.sa], flow));
    this.#sent = setup.flows.map(() => 0);
    this.miniport = new Miniport({
      link: {
        // The sink keeps only copies, so the queue's NIC recycles its transmit ring (Link.copies).
        copies: true,
        transmit: (frame: Uint8Array): void => {
          this.#stats.frames++;
          this.#capture?.frames.push(frame.slice());
        },
      },
      complete: (nbl: NetBufferList): void => {
        this.#completed++;
        if (nbl.status === NdisStatus.NDIS_STATUS_SUCCESS) return;
        const c = nbl.protocolReserved as NblContext;
        this.#stats.failedNbls++;
        this.#stats.gaps += c.count;
        this.#capture?.gaps.push({
          sa: c.sa,
          first: blockFirst({ firstHigh: c.high, firstLow: c.low, count: c.count }),
          count: c.count,
        });
      },
      random: seededRandom(0x5eed_0000 + setup.index),
    });
    this.handles = this.#addSas();
    for (let i = 0; i < setup.chain; i++) {
      this.#pool.push(new NetBufferList());
      this.#poolContext.push(context(new Uint8Array(0), -1, -1, 0));
    }
    if (setup.mode === 'bench') {
      for (let f = 0; f < setup.flows.length; f++) {
        this.#templates.push(setup.pinned.includes(f) ? this.#frameTemplates(f) : []);
      }
    }
  }

  /** OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA with the shared list bytes; the handles it returned. */
  #addSas(): bigint[] {
    const { bytes, entryOffsets, baseAddress } = this.#setup.addSa;
    const buffer = bytes.slice(); // the NIC writes the handles into the request's buffer
    const r = this.miniport.oidRequest({
      type: 'set',
      oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
      buffer,
      baseAddress,
    });
    if (r.status !== NdisStatus.NDIS_STATUS_SUCCESS) {
      throw new Error(`SendQueue ${this.index}: ADD_SA failed with ${statusName(r.status)}`);
    }
    return entryOffsets.map((o, i) => {
      const handle = readAddSaHandle(buffer, o, 'x64');
      if (handle === 0n)
        throw new Error(`SendQueue ${this.index}: ADD_SA entry ${i} got a NULL handle`);
      return handle;
    });
  }

  /** Bench mode: `chain` framed NBLs of flow `f`, sequence number fields located. */
  #frameTemplates(f: number): NetBufferList[] {
    const { sas, flows, chain } = this.#setup;
    const flow = flows[f];
    const sa = sas[flow.sa];
    const out: NetBufferList[] = [];
    for (let j = 0; j < chain; j++) {
      const spec = frameSpec(
        sa,
        flow,
        j,
        1n,
        this.handles[flow.sa],
        fillPayload(f, j, new Uint8Array(flow.payload))
      );
      const nbl = framing.build(spec);
      const level = framing.plan(spec).levels[0];
      // RFC 4303 §2: the ESP Sequence Number follows the SPI; RFC 4302 §2: the AH one is at +8.
      const espSeqAt = level.esp === undefined ? -1 : level.esp.offset + 4;
      const ahSeqAt = level.ah === undefined ? -1 : level.ah.offset + 8;
      nbl.protocolReserved = context(nbl.netBuffers[0].data(), espSeqAt, ahSeqAt, getLso(nbl));
      out.push(nbl);
    }
    return out;
  }

  /**
   * Sends `sendsPerFlow` sends of every pinned flow, bursts of `chain` taken from the flows in
   * turn, and returns what this run counted (test mode: with the frames and gaps).
   */
  run(sendsPerFlow: number): QueueRun {
    if (!Number.isInteger(sendsPerFlow) || sendsPerFlow < 0) {
      throw new RangeError(`SendQueue.run: expected sends per flow ≥ 0, got ${sendsPerFlow}`);
    }
    const { pinned, chain, mode } = this.#setup;
    this.#stats = queueStats();
    this.#capture = (this.#setup.keepFrames ?? mode === 'test') ? { frames: [], gaps: [] } : null;
    const remaining = pinned.map(() => sendsPerFlow);
    for (let active = sendsPerFlow > 0; active;) {
      active = false;
      for (let i = 0; i < pinned.length; i++) {
        const n = Math.min(chain, remaining[i]);
        if (n === 0) continue;
        this.#burst(pinned[i], n);
        remaining[i] -= n;
        if (remaining[i] > 0) active = true;
      }
    }
    return {
      queue: this.index,
      stats: { ...this.#stats },
      counters: this.miniport.counters.snapshot(),
      capture: this.#capture,
    };
  }

  /** One burst: `n` sends of flow `f`, numbered from the shared counter, in one chain. */
  #burst(f: number, n: number): void {
    const { flows, reserve, mode } = this.#setup;
    const s = flows[f].sa;
    const segments = this.#segments[f];
    const lease = this.#lease;
    const b = this.#block;
    // One block for the burst; near the end of a counter, one per NBL takes what is left.
    const leased = reserve === 'chain' && this.#seq.reserve(s, n * segments, lease) === null;
    if (leased) this.#stats.reserved += n * segments;
    let count = 0;
    for (let j = 0; j < n; j++) {
      if (leased) {
        const low = lease.firstLow + j * segments;
        b.firstHigh = low >= TWO_32 ? lease.firstHigh + 1 : lease.firstHigh;
        b.firstLow = low >= TWO_32 ? low - TWO_32 : low;
        b.count = segments;
      } else if (this.#seq.reserve(s, segments, b) === null) {
        this.#stats.reserved += segments;
      } else {
        this.#stats.exhausted++;
        continue;
      }
      if (b.firstHigh !== this.#nicHigh[s]) {
        // D3: the replica learns the new high half before the first NBL that needs it.
        count = this.#send(count);
        this.#update(s, b.firstHigh);
      }
      this.#chain[count] = mode === 'test' ? this.#frame(f, count, b) : this.#stamp(f, j, b);
      count++;
    }
    this.#send(count);
  }

  /** Test mode: frames the next send of flow `f` with block `b` into pool NBL `slot`. */
  #frame(f: number, slot: number, b: SeqBlock): NetBufferList {
    const { sas, flows, failEvery } = this.#setup;
    const flow = flows[f];
    const k = this.#sent[f]++;
    const handle = isFailing(k, failEvery) ? INJECTED_BAD_HANDLE : this.handles[flow.sa];
    const payload = fillPayload(f, k, new Uint8Array(flow.payload));
    const nbl = framing.build(
      frameSpec(sas[flow.sa], flow, k, blockFirst(b), handle, payload),
      this.#pool[slot]
    );
    const c = this.#poolContext[slot];
    c.sa = flow.sa;
    c.high = b.firstHigh;
    c.low = b.firstLow;
    c.count = b.count;
    nbl.protocolReserved = c;
    return nbl;
  }

  /** Bench mode: template `j` of flow `f` with block `b`'s number written into its headers. */
  #stamp(f: number, j: number, b: SeqBlock): NetBufferList {
    this.#sent[f]++;
    const nbl = this.#templates[f][j];
    const c = nbl.protocolReserved as NblContext;
    c.sa = this.#setup.flows[f].sa;
    c.high = b.firstHigh;
    c.low = b.firstLow;
    c.count = b.count;
    if (c.espSeqAt >= 0) put32(c.frame, c.espSeqAt, b.firstLow);
    if (c.ahSeqAt >= 0) put32(c.frame, c.ahSeqAt, b.firstLow);
    if (c.lso !== 0) setLso(nbl, c.lso); // the completion overwrote slot 2 (D11)
    return nbl;
  }

  /** Links the first `count` NBLs of the chain and sends them; returns 0 (the new count). */
  #send(count: number): number {
    if (count === 0) return 0;
    const chain = this.#chain;
    for (let i = 0; i < count; i++) chain[i].next = i + 1 < count ? chain[i + 1] : null;
    this.#completed = 0;
    this.miniport.sendNetBufferLists(chain[0]);
    this.#stats.calls++;
    this.#stats.nbls += count;
    // Model: the NIC completes every NBL inside MiniportSendNetBufferLists (datapath.ts), so the
    // NBLs and their ProtocolReserved can be reused at once; a real protocol waits for each
    // NdisMSendNetBufferListsComplete.
    if (this.#completed !== count) {
      throw new Error(
        `SendQueue ${this.index}: expected ${count} completions inside MiniportSendNetBufferLists, got ${this.#completed}`
      );
    }
    return 0;
  }

  /** UPDATE_SA for every SA of bundle `s` with high half `high` (D3). */
  #update(s: number, high: number): void {
    for (const d of this.#setup.sas[s].sas) {
      const r = this.miniport.oidRequest({
        type: 'set',
        oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA,
        buffer: encodeUpdateSa(
          {
            offloadHandle: this.handles[s],
            operation:
              d.protocol === 'esp' ? Operation.IPsecOffloadV2Esp : Operation.IPsecOffloadV2Ah,
            spi: d.spi,
            sequenceNumberHighOrder: high,
          },
          'x64'
        ),
      });
      if (r.status !== NdisStatus.NDIS_STATUS_SUCCESS) {
        throw new Error(
          `SendQueue ${this.index}: UPDATE_SA of SA ${s} failed with ${statusName(r.status)}`
        );
      }
    }
    this.#nicHigh[s] = high;
    this.#stats.updates++;
  }
}
