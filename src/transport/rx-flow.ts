/**
 * @module
 * One application flow as the receiving transport sees it: what it delivered (packets, bytes, a
 * running SHA-256 of the application bytes for the report of issue 5), what it lost and what was
 * dropped on its account, by reason. TCP flows put segments back in order by sequence number
 * (RFC 9293 §3.10.7.4: out-of-order segments are held within the receive window, duplicates
 * discarded); UDP flows deliver each datagram (RFC 768).
 *
 * Model: there is no handshake and no retransmission. The stream starts at the first segment's
 * sequence number (SYN + 1 when the segment carries SYN), unless the host pins it; a segment that
 * never arrives is a reported loss (a gap), declared when the held bytes would overflow the
 * window or when the host calls {@link FlowState.flush}.
 */
import { createHash, type Hash } from 'node:crypto';
import { seqAdd, seqDiff } from '../wire/seqnum.ts';
import type { FlowConfig } from './policy.ts';

/** Named event counts (contract §4 kind 3: every drop has a name). */
export type Counters = Record<string, number>;

/** Adds `n` to counter `name`. */
export function bump(counters: Counters, name: string, n = 1): void {
  counters[name] = (counters[name] ?? 0) + n;
}

/** The bytes a flow holds out of order by default (1 MiB, a large TCP receive window). */
export const DEFAULT_TCP_WINDOW: number = 1 << 20;

/** What became of a segment handed to a TCP flow. */
export type SegmentFate = 'accepted' | 'duplicate';

/** A flow's report: deliveries, the digest of the delivered bytes, losses and drops. */
export interface FlowReport {
  readonly name: string;
  readonly l4: 'tcp' | 'udp';
  /** UDP datagrams delivered, or TCP segments whose bytes reached the application. */
  readonly packetsDelivered: number;
  /** Application bytes delivered (in order for TCP). */
  readonly bytesDelivered: number;
  /** SHA-256 (hex) of every application byte delivered, in delivery order. */
  readonly sha256: string;
  /** TCP gaps declared lost (no retransmission in this model). */
  readonly lossGaps: number;
  /** Sequence-number bytes inside those gaps. */
  readonly lossBytes: number;
  /** Segments held out of order right now. */
  readonly heldSegments: number;
  /** Drops attributed to this flow, by reason (CRYPTO_* names, replay, policy, checksum, …). */
  readonly drops: Readonly<Counters>;
}

/** How a flow is set up. */
export interface FlowOptions {
  /** Bytes held out of order at most (default {@link DEFAULT_TCP_WINDOW}). */
  readonly tcpWindow?: number;
  /** The first sequence number of the TCP stream (default: from the first segment). */
  readonly initialSequence?: number;
  /** Called with each run of application bytes (a UDP datagram, or in-order TCP bytes). */
  readonly onData?: (flow: string, bytes: Uint8Array) => void;
}

/** The receive state and statistics of one flow. */
export class FlowState {
  readonly config: FlowConfig;
  packetsDelivered = 0;
  bytesDelivered = 0;
  lossGaps = 0;
  lossBytes = 0;
  readonly drops: Counters = {};
  readonly #hash: Hash = createHash('sha256');
  readonly #onData: ((flow: string, bytes: Uint8Array) => void) | undefined;
  readonly #window: number;
  /** RCV.NXT: the next in-order sequence number (null before the first segment). */
  #next: number | null;
  /** Segments held out of order: start sequence number → copied payload. */
  readonly #held = new Map<number, Uint8Array>();
  #heldBytes = 0;

  constructor(config: FlowConfig, options: FlowOptions = {}) {
    this.config = config;
    this.#onData = options.onData;
    this.#window = options.tcpWindow ?? DEFAULT_TCP_WINDOW;
    this.#next = options.initialSequence ?? null;
  }

  /** Counts a drop on this flow's account. */
  drop(reason: string): void {
    bump(this.drops, reason);
  }

  /** Delivers one UDP datagram's payload. */
  deliverDatagram(payload: Uint8Array): void {
    this.packetsDelivered++;
    this.#deliver(payload);
  }

  /**
   * Takes one TCP segment (sequence number, SYN flag, payload — a view the caller may reuse: held
   * segments are copied), delivers what is in order and holds the rest within the window.
   */
  receiveSegment(seq: number, syn: boolean, payload: Uint8Array): SegmentFate {
    // RFC 9293 §3.4: SYN occupies one sequence number before the data.
    const start = syn ? seqAdd(seq, 1) : seq;
    this.#next ??= start;
    if (payload.length === 0) return 'accepted';
    // Model: no retransmission — a segment beyond the window means the gaps before it are lost.
    while (seqDiff(start, this.#next) + payload.length > this.#window) {
      if (this.#held.size > 0) this.#skipGap();
      else {
        this.#lose(seqDiff(start, this.#next));
        this.#next = start;
      }
    }
    const d = seqDiff(start, this.#next);
    if (d + payload.length <= 0) return 'duplicate'; // RFC 9293 §3.10.7.4: wholly old
    if (d <= 0) {
      // In order, possibly overlapping what was delivered: trim the old part.
      this.packetsDelivered++;
      this.#advance(payload.subarray(-d));
      this.#drain();
      return 'accepted';
    }
    const prev = this.#held.get(start);
    if (prev !== undefined && prev.length >= payload.length) return 'duplicate';
    if (prev !== undefined) this.#heldBytes -= prev.length;
    this.#held.set(start, payload.slice());
    this.#heldBytes += payload.length;
    return 'accepted';
  }

  /** Declares every gap lost and delivers everything held (end of a run). */
  flush(): void {
    while (this.#held.size > 0) this.#skipGap();
  }

  /** The SHA-256 (hex) of the bytes delivered so far; the running hash continues. */
  sha256(): string {
    return this.#hash.copy().digest('hex');
  }

  /** This flow's report. */
  report(): FlowReport {
    return {
      name: this.config.name,
      l4: this.config.l4,
      packetsDelivered: this.packetsDelivered,
      bytesDelivered: this.bytesDelivered,
      sha256: this.sha256(),
      lossGaps: this.lossGaps,
      lossBytes: this.lossBytes,
      heldSegments: this.#held.size,
      drops: { ...this.drops },
    };
  }

  #deliver(bytes: Uint8Array): void {
    this.bytesDelivered += bytes.length;
    this.#hash.update(bytes);
    this.#onData?.(this.config.name, bytes);
  }

  #advance(bytes: Uint8Array): void {
    this.#deliver(bytes);
    this.#next = seqAdd(this.#next ?? 0, bytes.length);
  }

  /** Delivers held segments that are now in order; discards held bytes already delivered. */
  #drain(): void {
    for (;;) {
      const next = this.#next ?? 0;
      let found = this.#held.has(next) ? next : -1;
      if (found < 0) {
        for (const s of this.#held.keys()) {
          if (seqDiff(s, next) <= 0) {
            found = s;
            break;
          }
        }
      }
      if (found < 0) return;
      const data = this.#held.get(found)!;
      this.#held.delete(found);
      this.#heldBytes -= data.length;
      const d = seqDiff(found, next);
      if (d + data.length > 0) {
        this.packetsDelivered++;
        this.#advance(data.subarray(-d));
      }
    }
  }

  /** Declares the gap before the lowest held segment lost and delivers from there. */
  #skipGap(): void {
    const next = this.#next ?? 0;
    let lowest = -1;
    let best = Infinity;
    for (const s of this.#held.keys()) {
      const d = seqDiff(s, next);
      if (d < best) {
        best = d;
        lowest = s;
      }
    }
    if (lowest < 0) return;
    if (best > 0) {
      this.#lose(best);
      this.#next = lowest;
    }
    this.#drain();
  }

  #lose(bytes: number): void {
    this.lossGaps++;
    this.lossBytes += bytes;
  }

  /** Bytes held out of order right now. */
  get heldBytes(): number {
    return this.#heldBytes;
  }
}
