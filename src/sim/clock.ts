/**
 * @module
 * Simulated time, injected (contract D6, style practice 15): nothing in `sim` reads a global
 * clock; every component is handed a `Clock`. Time is a `bigint` count of **nanoseconds** since
 * 1970-01-01 00:00:00 UTC — the unit of a pcapng `if_tsresol` of 9 (draft-ietf-opsawg-pcapng
 * §4.2), fine enough that back-to-back frames on a 10 Gb/s link (≈1.2 µs for 1500 bytes) get
 * distinct stamps, and a `bigint` because nanoseconds since 1970 overflow 2^53 (style practice 15
 * sketches `nowMicros`; we chose nanoseconds for those two reasons).
 *
 * - `VirtualClock` advances only when told, so a run is reproducible.
 * - `FrameStamper` is how a link stamps frames: the departure time of each frame, serialised
 *   behind the previous one at a given bit rate (or all at "now" when no rate is given).
 */

/** A source of the current simulated time. */
export interface Clock {
  /** Nanoseconds since 1970-01-01 00:00:00 UTC. */
  nowNanos(): bigint;
}

/** Nanoseconds per microsecond. */
export const NANOS_PER_MICRO = 1_000n;
/** Nanoseconds per millisecond. */
export const NANOS_PER_MILLI = 1_000_000n;
/** Nanoseconds per second. */
export const NANOS_PER_SECOND = 1_000_000_000n;

/** Converts a `number | bigint` duration to a non-negative `bigint`, or throws a RangeError. */
function nanos(where: string, value: number | bigint): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`${where}: expected an integer number of nanoseconds, got ${value}`);
  }
  const n = BigInt(value);
  if (n < 0n) throw new RangeError(`${where}: expected a non-negative duration, got ${n}`);
  return n;
}

/** A clock that stands still until `advance` or `advanceTo` moves it forward. */
export class VirtualClock implements Clock {
  #now: bigint;

  /** Starts at `startNanos` (default 0: the Unix epoch). */
  constructor(startNanos: number | bigint = 0n) {
    this.#now = nanos('VirtualClock', startNanos);
  }

  /** The current simulated time in nanoseconds. */
  nowNanos(): bigint {
    return this.#now;
  }

  /** Moves the clock forward by `durationNanos` (≥ 0) and returns the new time. */
  advance(durationNanos: number | bigint): bigint {
    this.#now += nanos('VirtualClock.advance', durationNanos);
    return this.#now;
  }

  /** Moves the clock to `timeNanos` if that is later; never backwards. Returns the new time. */
  advanceTo(timeNanos: bigint): bigint {
    if (timeNanos > this.#now) this.#now = timeNanos;
    return this.#now;
  }
}

/**
 * Bytes an Ethernet frame occupies on the wire beyond the bytes the NIC hands over: preamble and
 * SFD (8), FCS (4) and the minimum inter-frame gap (12) (IEEE 802.3 §3.1.1, §4.4.2).
 */
export const ETHERNET_OVERHEAD = 24;

/** Shortest frame a transmitter sends without its FCS: 64 bytes minFrameSize less 4 (IEEE 802.3 §4.4.2). */
export const MIN_FRAME_LENGTH = 60;

/** Options of a {@link FrameStamper}. */
export interface StamperOptions {
  /**
   * Line rate in bits per second; when given, each frame departs no earlier than the end of the
   * previous one. Omitted: no serialisation delay, every frame departs at "now".
   */
  readonly bitsPerSecond?: number;
}

/**
 * Stamps frames as a transmitter puts them on a link: departure = max(now, end of the previous
 * frame), and the link stays busy for the frame's serialisation time.
 */
export class FrameStamper {
  readonly clock: Clock;
  readonly #bitsPerSecond: bigint;
  #busyUntil = 0n;
  #lastDuration = 0n;

  constructor(clock: Clock, options: StamperOptions = {}) {
    this.clock = clock;
    const rate = options.bitsPerSecond;
    if (rate !== undefined && (!Number.isSafeInteger(rate) || rate <= 0)) {
      throw new RangeError(
        `FrameStamper: expected bitsPerSecond to be a positive integer, got ${rate}`
      );
    }
    this.#bitsPerSecond = rate === undefined ? 0n : BigInt(rate);
  }

  /**
   * Nanoseconds a frame of `length` bytes occupies the wire — padded to {@link MIN_FRAME_LENGTH},
   * plus {@link ETHERNET_OVERHEAD} — at the line rate; 0 without a rate.
   */
  durationNanos(length: number): bigint {
    if (this.#bitsPerSecond === 0n) return 0n;
    // Model: only the timing counts the padding; the link delivers the frame as it was given.
    const onWire = Math.max(length, MIN_FRAME_LENGTH) + ETHERNET_OVERHEAD;
    const bits = BigInt(onWire) * 8n * NANOS_PER_SECOND;
    // Round up: a frame never takes less time than its bits need.
    return (bits + this.#bitsPerSecond - 1n) / this.#bitsPerSecond;
  }

  /** Returns the departure time of a frame of `length` bytes and marks the link busy behind it. */
  stamp(length: number): bigint {
    const now = this.clock.nowNanos();
    const departure = now > this.#busyUntil ? now : this.#busyUntil;
    this.#lastDuration = this.durationNanos(length);
    this.#busyUntil = departure + this.#lastDuration;
    return departure;
  }

  /** The serialisation time of the frame last stamped (0 before the first or without a rate). */
  get lastDurationNanos(): bigint {
    return this.#lastDuration;
  }
}
