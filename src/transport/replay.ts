/**
 * @module
 * The receiver's anti-replay window of one inbound SA (RFC 4303 §3.4.3 and Appendix A; the same
 * rules for AH in RFC 4302 §3.4.3 and Appendix B). The NIC makes no replay decision (contract D3):
 * it estimates the ESN high half for its ICV check, and this window, in the receiving transport,
 * decides.
 *
 * The API has the two phases RFC 4303 §3.4.3 requires:
 *
 * 1. {@link ReplayWindow.check} before the integrity check: it infers the full 64-bit sequence
 *    number (with ESN per Appendix A2.2, `wire/seqnum.estimateSeq`) and judges it `new`,
 *    `replay` or `too-old`, changing nothing;
 * 2. {@link ReplayWindow.accept} only after the ICV verified: "The receive window is updated only
 *    if the integrity verification succeeds", so a forged packet cannot move the window.
 *
 * The window's right edge T is the highest authenticated sequence number; it covers
 * [T − W + 1, T]. The bitmap is a ring of 32-bit blocks in one `Uint32Array`, indexed by the low
 * bits of the sequence number, that never shifts (the technique of RFC 6479): moving the right
 * edge clears only the blocks that come into the window. Nothing is allocated per packet but the
 * verdict object.
 */
import { ESN_MAX, LOW_MAX, estimateSeq } from '../wire/seqnum.ts';

/** The window size RFC 4303 §3.4.3 says SHOULD be the default (64 packets). */
export const DEFAULT_WINDOW_SIZE = 64;

/** The largest window this model accepts (2^20 packets; its ring takes 256 KiB). */
export const MAX_WINDOW_SIZE: number = 1 << 20;

/** What {@link ReplayWindow.check} says about a received sequence number. */
export type Verdict =
  /** Right of the window or inside it and not yet seen: verify the ICV, then `accept`. */
  | 'new'
  /** Inside the window and already accepted: drop (RFC 4303 §3.4.3 "duplicate"). */
  | 'replay'
  /** Left of the window (or the never-sent sequence number 0): drop. */
  | 'too-old';

/** A verdict with the full sequence number it is about. */
export interface ReplayCheck {
  readonly verdict: Verdict;
  /** The 64-bit sequence number: estimated high half ‖ wire low half (ESN), or the low half. */
  readonly seq: bigint;
}

/** How a window is set up. */
export interface ReplayOptions {
  /** Whether the SA uses extended (64-bit) sequence numbers (RFC 4303 §2.2.1). */
  readonly esn: boolean;
  /** Window size W in packets, 1 to {@link MAX_WINDOW_SIZE} (default {@link DEFAULT_WINDOW_SIZE}). */
  readonly windowSize?: number;
  /**
   * The highest sequence number already accepted (default 0: a fresh SA, whose first packet is
   * 1). Lets a window resume, and lets tests start next to a 2^32 boundary. The window cannot know
   * which numbers below it arrived, so every number inside the window up to `start` counts as
   * accepted: a resumed window never takes a replay.
   */
  readonly start?: bigint;
}

/** What a window has seen (contract §4 kind 3: named counters, no exceptions). */
export interface ReplayCounters {
  /** Calls of `check`. */
  checked: number;
  /** `check` verdicts `new`. */
  fresh: number;
  /** `check` verdicts `replay`. */
  replayed: number;
  /** `check` verdicts `too-old` (sequence number 0 included). */
  tooOld: number;
  /** `accept` calls that recorded a sequence number. */
  accepted: number;
  /**
   * `accept` calls refused because, between `check` and `accept`, the same number was accepted or
   * the window moved past it (two copies verified in parallel).
   */
  lateRejected: number;
}

const BLOCK_BITS = 32;

function needWindowSize(size: number): void {
  if (!Number.isInteger(size) || size < 1 || size > MAX_WINDOW_SIZE) {
    throw new RangeError(
      `replay.ReplayWindow: expected a window size from 1 to ${MAX_WINDOW_SIZE}, got ${size}`
    );
  }
}

/** The anti-replay window of one inbound SA (RFC 4303 §3.4.3, Appendix A). */
export class ReplayWindow {
  /** Window size W in packets. */
  readonly windowSize: number;
  /** Whether the SA uses 64-bit extended sequence numbers. */
  readonly esn: boolean;
  readonly #counters: ReplayCounters = {
    checked: 0,
    fresh: 0,
    replayed: 0,
    tooOld: 0,
    accepted: 0,
    lateRejected: 0,
  };
  /** The ring: a power-of-two number of blocks, so the bit of `seq` is `seq mod ringBits`. */
  readonly #ring: Uint32Array;
  /** ringBits − 1 (ringBits divides 2^32, so only the low half of a sequence number matters). */
  readonly #bitMask: number;
  /** The number of blocks − 1. */
  readonly #blockMask: number;
  /** T: the highest accepted sequence number (0 before the first). */
  #top: bigint;

  constructor(options: ReplayOptions) {
    const size = options.windowSize ?? DEFAULT_WINDOW_SIZE;
    needWindowSize(size);
    this.windowSize = size;
    this.esn = options.esn;
    const start = options.start ?? 0n;
    const max = this.esn ? ESN_MAX : BigInt(LOW_MAX);
    if (start < 0n || start > max) {
      throw new RangeError(`replay.ReplayWindow: expected a start from 0 to ${max}, got ${start}`);
    }
    // A window of W numbers touches at most ceil(W / 32) + 1 blocks; one ring of that many blocks
    // (rounded up to a power of two) never holds two live numbers in one bit (RFC 6479 §2).
    let blocks = 1;
    while (blocks < Math.ceil(size / BLOCK_BITS) + 1) blocks *= 2;
    this.#ring = new Uint32Array(blocks);
    this.#blockMask = blocks - 1;
    this.#bitMask = blocks * BLOCK_BITS - 1;
    this.#top = start;
    if (start > 0n) {
      // Everything in [start − W + 1, start] counts as seen: all blocks set, except the bits
      // above `start` in its own block (later blocks are cleared as the edge moves into them).
      this.#ring.fill(0xffff_ffff);
      const bit = Number(start & 0xffff_ffffn) & this.#bitMask;
      this.#ring[bit >>> 5] = (bit & 31) === 31 ? 0xffff_ffff : (1 << ((bit & 31) + 1)) - 1;
    }
  }

  /** T, the highest sequence number accepted so far (the window's right edge). */
  get top(): bigint {
    return this.#top;
  }

  /** The counters, live (read-only to callers). */
  get counters(): Readonly<ReplayCounters> {
    return this.#counters;
  }

  /**
   * Judges the sequence number whose low 32 bits `low32` arrived, before the ICV is verified, and
   * returns the verdict with the full sequence number to verify and later `accept`; changes only
   * the counters.
   */
  check(low32: number): ReplayCheck {
    if (!Number.isInteger(low32) || low32 < 0 || low32 > LOW_MAX) {
      throw new RangeError(
        `replay.check: expected a 32-bit sequence number from 0 to ${LOW_MAX}, got ${low32}`
      );
    }
    // RFC 4303 §3.4.3 / Appendix A2.2: with ESN the receiver infers the high half from T and W;
    // without ESN the number is the low half and never wraps (§3.3.3: the sender rekeys first).
    const seq = this.esn ? estimateSeq(low32, this.#top, this.windowSize) : BigInt(low32);
    const verdict = this.#judge(seq);
    const c = this.#counters;
    c.checked++;
    if (verdict === 'new') c.fresh++;
    else if (verdict === 'replay') c.replayed++;
    else c.tooOld++;
    return { verdict, seq };
  }

  /**
   * Records `seq` (the `seq` of a `new` verdict) once its ICV verified, moving the right edge if
   * it is beyond it; returns the verdict at this moment — `new` when recorded, else why not
   * (counted as `lateRejected`).
   */
  accept(seq: bigint): Verdict {
    const max = this.esn ? ESN_MAX : BigInt(LOW_MAX);
    if (seq < 0n || seq > max) {
      throw new RangeError(
        `replay.accept: expected a sequence number from 0 to ${max}, got ${seq}`
      );
    }
    // RFC 4303 §3.4.3: the window is updated only for a packet that is still new now; another
    // copy may have been verified and accepted since `check`.
    const verdict = this.#judge(seq);
    if (verdict !== 'new') {
      this.#counters.lateRejected++;
      return verdict;
    }
    if (seq > this.#top) this.#advance(seq);
    const bit = Number(seq & 0xffff_ffffn) & this.#bitMask;
    this.#ring[bit >>> 5] |= 1 << (bit & 31);
    this.#counters.accepted++;
    return 'new';
  }

  /** Whether `seq` has been accepted and is still inside the window. */
  has(seq: bigint): boolean {
    return this.#judge(seq) === 'replay';
  }

  /** The verdict on a full sequence number, without side effects. */
  #judge(seq: bigint): Verdict {
    // RFC 4303 §3.3.3: the first packet carries 1 and the counter never cycles, so 0 is never
    // sent (with ESN: the 64-bit 0; a low half of 0 after a wrap is fine). RFC 2401 Appendix C
    // rejects it before the window test; we report it as left of the window.
    if (seq === 0n) return 'too-old';
    const top = this.#top;
    if (seq > top) return 'new';
    if (top - seq >= BigInt(this.windowSize)) return 'too-old';
    const bit = Number(seq & 0xffff_ffffn) & this.#bitMask;
    return (this.#ring[bit >>> 5] & (1 << (bit & 31))) !== 0 ? 'replay' : 'new';
  }

  /** Moves the right edge to `seq` (> T), clearing the blocks that enter the window. */
  #advance(seq: bigint): void {
    const oldBlock = Number((this.#top >> 5n) & 0x7ff_ffffn);
    const newBlock = Number((seq >> 5n) & 0x7ff_ffffn);
    // Block numbers modulo 2^27 (32 · 2^27 = 2^32): enough, the ring has at most 2^16 blocks.
    const steps = (newBlock - oldBlock) & 0x7ff_ffff;
    const jump = seq - this.#top;
    if (jump >= BigInt(this.#ring.length * BLOCK_BITS)) {
      this.#ring.fill(0);
    } else {
      for (let i = 1; i <= steps; i++) this.#ring[(oldBlock + i) & this.#blockMask] = 0;
    }
    this.#top = seq;
  }
}
