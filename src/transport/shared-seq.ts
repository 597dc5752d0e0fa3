/**
 * @module
 * Outbound sequence counters that several send queues (worker threads) share (issue 6,
 * multi-queue): one 64-bit "next sequence number" per SA bundle in a SharedArrayBuffer, from which
 * each queue reserves a block per NBL — one number, or one per segment of an LSO send (contract
 * D3) — so two queues never send the same number on one SA. A block is consecutive; numbers of a
 * block whose NBL then fails are never sent (a gap the queue counts), and the counter never goes
 * back (RFC 4303 §3.3.3: a transmitted sequence number must never repeat).
 *
 * The limits are those of wire/seqnum.ts `reserveSegments`: without ESN the last number is
 * 2^32 − 1 and a block that would pass it fails whole (`counter-exhausted`, nothing reserved);
 * with ESN it is 2^64 − 1. Reserving does not allocate: the 64-bit value lives as two 32-bit
 * halves and the block is written into a caller-owned {@link SeqBlock}.
 *
 * Each SA has its own 64-byte line: `[ticket, serving, sleepers, next low, next high, flags, …]`.
 * The halves change together under a ticket lock (FIFO, so a queue in a tight loop cannot starve
 * the other one): Atomics.add draws a ticket, the holder's Atomics.add on `serving` hands over,
 * and a waiter that spun too long sleeps in Atomics.wait on `serving`. Atomics.add on a
 * BigInt64Array would be lock-free but returns a heap BigInt per call; measured on this machine
 * both cost ~65 ns per reservation with two threads contending.
 *
 * Model: this is the host's SA state (the transport's SaState.next, sadb.ts) made shareable; the
 * NIC never sees the counter (contract D3: the TCP/IP stack writes the sequence numbers). Linux
 * keeps one counter per SA as well (`x->replay.oseq`, under the xfrm state lock); RFC 9611 adds
 * per-CPU child SAs precisely so that CPUs need not share one.
 */
import { LOW_MAX, type SeqFailure } from '../wire/seqnum.ts';

/** Bytes per SA: one cache line, so queues working on different SAs do not share a line. */
export const SLOT_BYTES = 64;
const WORDS = SLOT_BYTES / 4;
// Word offsets inside a slot.
const TICKET = 0;
const SERVING = 1;
const SLEEPERS = 2;
const NEXT_LOW = 3;
const NEXT_HIGH = 4;
const FLAGS = 5;
// FLAGS bits.
const ESN = 1;
const INITIALIZED = 2;
/** Set when an ESN counter has handed out 2^64 − 1: nothing is left (next would be 2^64). */
const SPENT = 4;
/** Spins before a waiter for the lock sleeps in Atomics.wait. */
const SPINS = 1000;
const TWO_32 = 0x1_0000_0000;

/** One reserved block: `count` consecutive numbers from `firstHigh:firstLow` (caller-owned). */
export interface SeqBlock {
  /** High 32 bits of the first number (ESN; 0 without). */
  firstHigh: number;
  /** Low 32 bits of the first number: what the first segment carries on the wire. */
  firstLow: number;
  /** How many numbers: 1, or the segments of an LSO send. */
  count: number;
}

/** A block to reserve into. */
export function seqBlock(): SeqBlock {
  return { firstHigh: 0, firstLow: 0, count: 0 };
}

/** The first number of `block` as a 64-bit value. */
export function blockFirst(block: SeqBlock): bigint {
  return (BigInt(block.firstHigh) << 32n) | BigInt(block.firstLow);
}

/** The high half that segment `i` (from 0) of `block` uses: +1 once the low half wrapped (D3). */
export function segmentHigh(block: SeqBlock, i: number): number {
  return block.firstLow + i >= TWO_32 ? block.firstHigh + 1 : block.firstHigh;
}

/** The sequence counters of `slots` SA bundles in one SharedArrayBuffer. */
export class SharedSeq {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  readonly #i32: Int32Array;
  readonly #u32: Uint32Array;

  /** Views `buffer` (from {@link SharedSeq.create} in another thread): no state is changed. */
  constructor(buffer: SharedArrayBuffer) {
    if (buffer.byteLength === 0 || buffer.byteLength % SLOT_BYTES !== 0) {
      throw new RangeError(
        `SharedSeq: expected a SharedArrayBuffer of a positive multiple of ${SLOT_BYTES} bytes, got ${buffer.byteLength}`
      );
    }
    this.buffer = buffer;
    this.slots = buffer.byteLength / SLOT_BYTES;
    this.#i32 = new Int32Array(buffer);
    this.#u32 = new Uint32Array(buffer);
  }

  /** Counters for `slots` SAs, none initialized. */
  static create(slots: number): SharedSeq {
    if (!Number.isInteger(slots) || slots < 1) {
      throw new RangeError(`SharedSeq.create: expected at least 1 slot, got ${slots}`);
    }
    return new SharedSeq(new SharedArrayBuffer(slots * SLOT_BYTES));
  }

  #base(where: string, slot: number): number {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.slots) {
      throw new RangeError(`${where}: expected a slot from 0 to ${this.slots - 1}, got ${slot}`);
    }
    return slot * WORDS;
  }

  /**
   * Sets SA `slot`'s counter: `next` is the first number to send (1 for a fresh SA; never 0,
   * RFC 4303 §3.3.3), at most 2^32 − 1 without ESN and 2^64 − 1 with. Control path only: call it
   * before any queue reserves from the slot.
   */
  init(slot: number, next: bigint, esn: boolean): void {
    const b = this.#base('SharedSeq.init', slot);
    const max = esn ? (1n << 64n) - 1n : BigInt(LOW_MAX);
    if (next < 1n || next > max) {
      throw new RangeError(`SharedSeq.init: expected next from 1 to ${max}, got ${next}`);
    }
    this.#lock(b);
    this.#u32[b + NEXT_LOW] = Number(next & 0xffff_ffffn);
    this.#u32[b + NEXT_HIGH] = Number(next >> 32n);
    this.#i32[b + FLAGS] = INITIALIZED | (esn ? ESN : 0);
    this.#unlock(b);
  }

  /** Whether SA `slot` uses 64-bit extended sequence numbers. */
  esn(slot: number): boolean {
    return (Atomics.load(this.#i32, this.#base('SharedSeq.esn', slot) + FLAGS) & ESN) !== 0;
  }

  /** The next number SA `slot` would hand out (2^64 once an ESN counter is spent). */
  next(slot: number): bigint {
    const b = this.#base('SharedSeq.next', slot);
    this.#lock(b);
    const low = this.#u32[b + NEXT_LOW];
    const high = this.#u32[b + NEXT_HIGH];
    const spent = (this.#i32[b + FLAGS] & SPENT) !== 0;
    this.#unlock(b);
    return spent ? 1n << 64n : (BigInt(high) << 32n) | BigInt(low);
  }

  /**
   * Reserves `count` consecutive numbers of SA `slot` into `out` and returns null, or returns
   * `counter-exhausted` (nothing reserved, `out` untouched) when the last of them would pass
   * 2^32 − 1 (no ESN) or 2^64 − 1 (ESN) — wire/seqnum.ts `reserveSegments`, atomically.
   * Throws a RangeError for an uninitialized slot or a count outside 1 to 2^31 − 1 (misuse).
   */
  reserve(slot: number, count: number, out: SeqBlock): SeqFailure | null {
    const b = this.#base('SharedSeq.reserve', slot);
    if (!Number.isInteger(count) || count < 1 || count > 0x7fff_ffff) {
      throw new RangeError(`SharedSeq.reserve: expected a count from 1 to 2^31 − 1, got ${count}`);
    }
    const u = this.#u32;
    this.#lock(b);
    const flags = this.#i32[b + FLAGS];
    if ((flags & INITIALIZED) === 0) {
      this.#unlock(b);
      throw new RangeError(`SharedSeq.reserve: expected an initialized slot, got slot ${slot}`);
    }
    const low = u[b + NEXT_LOW];
    const high = u[b + NEXT_HIGH];
    // next + count as two halves; `end` is the low half before the carry (< 2^33).
    const end = low + count;
    const carry = end >= TWO_32 ? 1 : 0;
    let exhausted: boolean;
    if ((flags & SPENT) !== 0) exhausted = true;
    else if ((flags & ESN) === 0)
      exhausted = high !== 0 || end > TWO_32; // last ≤ 2^32 − 1
    else exhausted = high === LOW_MAX && carry === 1 && end !== TWO_32; // last ≤ 2^64 − 1
    if (exhausted) {
      this.#unlock(b);
      return 'counter-exhausted';
    }
    out.firstHigh = high;
    out.firstLow = low;
    out.count = count;
    if (high === LOW_MAX && carry === 1) {
      // ESN: 2^64 − 1 was just handed out; next would be 2^64.
      this.#i32[b + FLAGS] = flags | SPENT;
    } else {
      u[b + NEXT_LOW] = end - carry * TWO_32;
      u[b + NEXT_HIGH] = high + carry;
    }
    this.#unlock(b);
    return null;
  }

  // Ticket lock: draw a ticket, wait until `serving` reaches it; unlock serves the next one.
  #lock(b: number): void {
    const i32 = this.#i32;
    const ticket = Atomics.add(i32, b + TICKET, 1);
    let spins = 0;
    for (;;) {
      const serving = Atomics.load(i32, b + SERVING);
      if (serving === ticket) return;
      if (++spins < SPINS) continue;
      // The holder may have been descheduled: sleep until `serving` changes. A change between
      // the load above and the wait makes the wait return at once (no lost wake-up).
      Atomics.add(i32, b + SLEEPERS, 1);
      Atomics.wait(i32, b + SERVING, serving, 1);
      Atomics.sub(i32, b + SLEEPERS, 1);
    }
  }

  #unlock(b: number): void {
    const i32 = this.#i32;
    Atomics.add(i32, b + SERVING, 1);
    if (Atomics.load(i32, b + SLEEPERS) !== 0) Atomics.notify(i32, b + SERVING);
  }
}
