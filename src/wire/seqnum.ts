/**
 * @module
 * Sequence-number arithmetic, in one place (style practice 16):
 *
 * - TCP sequence numbers live in a space of 2^32 and are compared modulo 2^32
 *   (RFC 9293 §3.4, "Sequence Numbers"; the same trick as gVisor `seqnum` and smoltcp
 *   `SeqNumber`: `a < b` iff the signed 32-bit difference `a − b` is negative).
 * - IPsec sequence numbers are 32 bits on the wire, optionally the low half of a 64-bit extended
 *   sequence number (ESN) whose high half is never transmitted (RFC 4303 §2.2.1, RFC 4302 §2.5.1).
 *   The sender's counter starts at 0, the first packet carries 1, and without ESN the counter
 *   must never cycle (RFC 4303 §3.3.3). 64-bit values are `bigint`.
 * - An LSO send reserves one ESP/AH sequence number per segment, and the wrap of the low half
 *   inside one send follows contract D3.
 * - The receiver's estimate of the untransmitted high half follows RFC 4303 Appendix A2.2.
 *
 * Data-path outcomes (a counter that ran out, a zero sequence number) are returned as results;
 * misuse (a negative count, a value outside 64 bits) throws a RangeError.
 */

/** The largest value of the low (transmitted) 32 bits of a sequence number. */
export const LOW_MAX = 0xffff_ffff;

/** The largest 64-bit extended sequence number. */
export const ESN_MAX: bigint = (1n << 64n) - 1n;

// ── TCP: modulo 2^32 (RFC 9293 §3.4) ────────────────────────────────────────────────────────────

/** `a + n` modulo 2^32 (`n` may be negative). */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** The signed distance `a − b` modulo 2^32, in [−2^31, 2^31). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** Whether `a` comes before `b` modulo 2^32 (RFC 9293 §3.4: "=<" and "<" are modulo 2^32). */
export function seqLessThan(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

/** Whether `a` comes before or equals `b` modulo 2^32. */
export function seqLessThanOrEqual(a: number, b: number): boolean {
  return ((a - b) | 0) <= 0;
}

/** Whether `seq` lies in the `size` numbers starting at `first`, modulo 2^32 (gVisor `InWindow`). */
export function seqInWindow(seq: number, first: number, size: number): boolean {
  // RFC 9293 §3.4: first =< seq < first + size, evaluated as an unsigned offset from `first`.
  return (seq - first) >>> 0 < size;
}

// ── IPsec: 32-bit numbers and 64-bit ESNs ───────────────────────────────────────────────────────

/** The two 32-bit halves of a 64-bit extended sequence number. */
export interface Esn {
  /** High-order 32 bits: never transmitted, but authenticated (RFC 4303 §2.2.1). */
  readonly high: number;
  /** Low-order 32 bits: the Sequence Number field on the wire (RFC 4303 §2.2). */
  readonly low: number;
}

function needSeq64(where: string, seq: bigint): void {
  if (seq < 0n || seq > ESN_MAX) {
    throw new RangeError(`${where}: expected a sequence number from 0 to 2^64 − 1, got ${seq}`);
  }
}

function needUint32(where: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > LOW_MAX) {
    throw new RangeError(`${where}: expected an integer from 0 to ${LOW_MAX}, got ${value}`);
  }
}

/** Splits a 64-bit sequence number into its high and low 32-bit halves. */
export function splitEsn(seq: bigint): Esn {
  needSeq64('seqnum.splitEsn', seq);
  return { high: Number(seq >> 32n), low: Number(seq & 0xffff_ffffn) };
}

/** Joins high and low 32-bit halves into a 64-bit sequence number. */
export function joinEsn(high: number, low: number): bigint {
  needUint32('seqnum.joinEsn', high);
  needUint32('seqnum.joinEsn', low);
  return (BigInt(high) << 32n) | BigInt(low);
}

/** The last sequence number an SA may send: 2^32 − 1 without ESN, 2^64 − 1 with (RFC 4303 §3.3.3). */
export function lastSendable(esn: boolean): bigint {
  return esn ? ESN_MAX : BigInt(LOW_MAX);
}

/** Why a sequence number could not be handed out. */
export type SeqFailure =
  /** The counter would cycle: the SA must be rekeyed (RFC 4303 §3.3.3); the NBL fails (D3). */
  | 'counter-exhausted'
  /** Sequence number 0 is never sent (RFC 4303 §3.3.3: the first packet carries 1; D3). */
  | 'sequence-zero';

/** A sequence-number outcome on the data path: a value, or why there is none. */
export type SeqResult<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: SeqFailure };

/**
 * The sequence number that follows `last` (the counter's current value, 0 for a fresh SA), or
 * `counter-exhausted` when it would pass {@link lastSendable}.
 */
export function nextSeq(last: bigint, esn: boolean): SeqResult<bigint> {
  needSeq64('seqnum.nextSeq', last);
  // RFC 4303 §3.3.3: "the sender ... checks to ensure that the counter has not cycled before
  // inserting the new value"; a transmitted sequence number must never repeat.
  if (last >= lastSendable(esn)) return { ok: false, reason: 'counter-exhausted' };
  return { ok: true, value: last + 1n };
}

/** The sequence numbers of one LSO send: segment `i` (from 0) carries `first + i` (D3). */
export interface Reservation {
  /** Sequence number of the first segment. */
  readonly first: bigint;
  /** Sequence number of the last segment. */
  readonly last: bigint;
  /** `first + count`: the sequence number of whatever is sent next on this SA. */
  readonly next: bigint;
  /**
   * Some segment of this send lies past a 2^32 boundary, so it uses high half + 1 in its
   * ICV/AAD and GCM IV while its wire field wraps through 0 (ESN only; D3).
   */
  readonly wraps: boolean;
  /**
   * The high half of `next` differs from that of `first`: the transport sends UPDATE_SA for the
   * bundle after this NBL completes and before any later NBL (D3). Always false without ESN.
   */
  readonly highChanges: boolean;
}

/**
 * Reserves `count` consecutive sequence numbers starting at `first64` for the segments of one
 * send, applying contract D3: without ESN a send whose last number would pass 2^32 − 1 fails
 * whole (`counter-exhausted`), with ESN it may cross into the next high half.
 */
export function reserveSegments(
  first64: bigint,
  count: number,
  esn: boolean
): SeqResult<Reservation> {
  needSeq64('seqnum.reserveSegments', first64);
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`seqnum.reserveSegments: expected a count of at least 1, got ${count}`);
  }
  if (first64 === 0n) return { ok: false, reason: 'sequence-zero' };
  const last = first64 + BigInt(count) - 1n;
  if (last > lastSendable(esn)) return { ok: false, reason: 'counter-exhausted' };
  const next = last + 1n;
  const firstHigh = first64 >> 32n;
  return {
    ok: true,
    value: {
      first: first64,
      last,
      next,
      wraps: esn && last >> 32n !== firstHigh,
      highChanges: esn && next >> 32n !== firstHigh,
    },
  };
}

/**
 * The receiver's estimate of the high 32 bits of a packet's sequence number from its low 32
 * bits, the highest authenticated 64-bit sequence number so far (`windowTop64`, "T") and the
 * anti-replay window size W — RFC 4303 Appendix A2.2 (identically RFC 4302 Appendix B2.2).
 */
export function estimateHigh(low: number, windowTop64: bigint, windowSize: number): number {
  needUint32('seqnum.estimateHigh', low);
  needSeq64('seqnum.estimateHigh', windowTop64);
  if (!Number.isInteger(windowSize) || windowSize < 1 || windowSize > LOW_MAX) {
    throw new RangeError(
      `seqnum.estimateHigh: expected a window size from 1 to ${LOW_MAX}, got ${windowSize}`
    );
  }
  const th = Number(windowTop64 >> 32n);
  const tl = Number(windowTop64 & 0xffff_ffffn);
  // RFC 4303 A2.1: Bl = Tl − W + 1, arithmetic mod 2^32.
  const bl = (tl - windowSize + 1) >>> 0;
  if (tl >= windowSize - 1) {
    // Case A (Figure 1): the window lies within one subspace.
    //   Seql >= Bl → Seqh = Th;   Seql < Bl → Seqh = Th + 1 (the packet is past a wrap).
    if (low >= bl) return th;
    // Model: at Th = 2^32 − 1 there is no next subspace (the 64-bit counter never cycles), so
    // the estimate stays Th and the packet will fail the replay or integrity check.
    return th === LOW_MAX ? th : th + 1;
  }
  // Case B (Figure 2): the window spans two subspaces.
  //   Seql >= Bl → Seqh = Th − 1 (the packet is from before the wrap);   Seql < Bl → Seqh = Th.
  // Model: at Th = 0 there is no previous subspace; like DPDK's reconstruct_esn we keep 0.
  if (low >= bl) return th === 0 ? 0 : th - 1;
  return th;
}

/** The full 64-bit sequence number RFC 4303 Appendix A2.2 infers for a received low half. */
export function estimateSeq(low: number, windowTop64: bigint, windowSize: number): bigint {
  return joinEsn(estimateHigh(low, windowTop64, windowSize), low);
}
