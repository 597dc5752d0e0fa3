/**
 * @module
 * The simulated Ethernet link between two hosts (contract §2: `miniport ──frames──▶ link ──▶
 * miniport`), and the one interface everything around it shares: a `Link` accepts a complete
 * frame through `transmit(frame)` — the same shape as the NIC-side `Link` of
 * `src/miniport/miniport.ts`, so a miniport transmits straight into a `Channel` or into any
 * wrapper around one.
 *
 * - `Channel`: one direction. It stamps each frame from a `Clock` (departure, then arrival after
 *   serialisation and latency) and queues it; the receiving side takes frames in order with
 *   `receive()` or `deliver(receiver)` once the clock has reached their arrival time.
 * - `Wire`: two channels, A→B and B→A.
 * - `Tap`: a wrapper that shows every frame crossing it to an observer (style practice 14: the
 *   observer sees the real bytes where it sits in the chain — put it between the NIC and a fault
 *   injector to see what was sent, after the injector to see what arrives).
 *
 * Fault injection (`faults.ts`) and NAT (`nat.ts`) are further wrappers with the same interface
 * (smoltcp `phy/`: devices that wrap devices). Ownership: once transmitted, a frame belongs to the
 * link (as the miniport's `Link` says); wrappers that change bytes change a copy, never the array
 * an earlier tap was shown.
 */
import { FrameStamper, type Clock } from './clock.ts';

/** Accepts complete Ethernet frames (structurally the miniport's `Link`). */
export interface Link {
  /** Transmits one complete Ethernet frame; the caller no longer owns `frame` afterwards. */
  transmit(frame: Uint8Array): void;
}

/** Takes a frame off the link, with its arrival time in nanoseconds. */
export type Receiver = (frame: Uint8Array, timestampNanos: bigint) => void;

/** Which way a frame crosses a {@link Wire}. */
export type Direction = 'a-to-b' | 'b-to-a';

/** Sees a frame as it crosses a {@link Tap}, with the time it crossed and its direction. */
export type Observer = (frame: Uint8Array, timestampNanos: bigint, direction: Direction) => void;

/** One frame taken off a channel. */
export interface Arrival {
  readonly frame: Uint8Array;
  /** When the last bit arrived: departure + serialisation + latency, in nanoseconds. */
  readonly timestampNanos: bigint;
}

/** Options of a {@link Channel} or {@link Wire}. */
export interface ChannelOptions {
  /** Propagation delay added to every frame, in nanoseconds (default 0). */
  readonly latencyNanos?: bigint;
  /** Line rate in bits per second; omitted, frames take no time to serialise. */
  readonly bitsPerSecond?: number;
}

/** Counters a channel keeps. */
export interface ChannelCounters {
  /** Frames handed to `transmit`. */
  transmitted: number;
  /** Bytes handed to `transmit`. */
  bytes: number;
  /** Frames taken off by `receive` or `deliver`. */
  delivered: number;
}

/** Compact the queue arrays once this many delivered slots sit at their front. */
const COMPACT_AT = 1024;

/**
 * One direction of a link: frames in by `transmit`, out in the same order, each once the clock
 * has reached its arrival time.
 */
export class Channel implements Link {
  readonly clock: Clock;
  readonly latencyNanos: bigint;
  readonly counters: ChannelCounters = { transmitted: 0, bytes: 0, delivered: 0 };
  readonly #stamper: FrameStamper;
  // Model: an unbounded FIFO; a real link has no queue at all and a real NIC a bounded ring.
  // Parallel arrays and a head index, so queueing a frame allocates no wrapper object.
  #frames: Uint8Array[] = [];
  #arrivals: bigint[] = [];
  #head = 0;

  constructor(clock: Clock, options: ChannelOptions = {}) {
    const latency = options.latencyNanos ?? 0n;
    if (latency < 0n) {
      throw new RangeError(`Channel: expected a non-negative latencyNanos, got ${latency}`);
    }
    this.clock = clock;
    this.latencyNanos = latency;
    this.#stamper = new FrameStamper(
      clock,
      options.bitsPerSecond === undefined ? {} : { bitsPerSecond: options.bitsPerSecond }
    );
  }

  /** Queues `frame`; it arrives after its serialisation time and the latency. */
  transmit(frame: Uint8Array): void {
    const departure = this.#stamper.stamp(frame.length);
    this.#frames.push(frame);
    this.#arrivals.push(departure + this.#stamper.lastDurationNanos + this.latencyNanos);
    this.counters.transmitted++;
    this.counters.bytes += frame.length;
  }

  /** Frames queued and not yet taken off, due or not. */
  get pending(): number {
    return this.#frames.length - this.#head;
  }

  /** Arrival time of the next frame, or `undefined` when the queue is empty. */
  nextArrivalNanos(): bigint | undefined {
    return this.#head < this.#arrivals.length ? this.#arrivals[this.#head] : undefined;
  }

  /** Whether the next frame has arrived by the clock's current time. */
  get due(): boolean {
    const next = this.nextArrivalNanos();
    return next !== undefined && next <= this.clock.nowNanos();
  }

  /** Takes the next frame off if it has arrived; `undefined` otherwise. */
  receive(): Arrival | undefined {
    if (!this.due) return undefined;
    const frame = this.#frames[this.#head];
    const timestampNanos = this.#arrivals[this.#head];
    this.#pop();
    return { frame, timestampNanos };
  }

  /**
   * Hands every frame that has arrived to `receiver`, in order, and returns how many. Frames
   * queued while it runs (a receiver that answers on a loopback) wait for the next call.
   */
  deliver(receiver: Receiver): number {
    const limit = this.pending;
    let n = 0;
    while (n < limit && this.deliverNext(receiver)) n++;
    return n;
  }

  /** Hands the next frame to `receiver` if it has arrived; returns whether it did. */
  deliverNext(receiver: Receiver): boolean {
    if (!this.due) return false;
    const frame = this.#frames[this.#head];
    const timestampNanos = this.#arrivals[this.#head];
    this.#pop();
    receiver(frame, timestampNanos);
    return true;
  }

  #pop(): void {
    // Drop the queue's references so delivered frames can be collected.
    (this.#frames as (Uint8Array | undefined)[])[this.#head] = undefined;
    this.#head++;
    this.counters.delivered++;
    if (this.#head === this.#frames.length) {
      this.#frames.length = 0;
      this.#arrivals.length = 0;
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT && this.#head * 2 >= this.#frames.length) {
      this.#frames = this.#frames.slice(this.#head);
      this.#arrivals = this.#arrivals.slice(this.#head);
      this.#head = 0;
    }
  }
}

// Model: a full-duplex point-to-point cable: no collisions, no MTU or FCS check, no loss unless a
// FaultInjector says so.
/**
 * A link between host A and host B: two {@link Channel}s sharing one clock. Host A's NIC
 * transmits into `a` (A→B), host B's into `b` (B→A); wrap either in taps, fault injectors or a
 * NAT before handing it to a NIC.
 */
export class Wire {
  readonly clock: Clock;
  /** Frames from A to B. */
  readonly aToB: Channel;
  /** Frames from B to A. */
  readonly bToA: Channel;

  constructor(clock: Clock, options: ChannelOptions = {}) {
    this.clock = clock;
    this.aToB = new Channel(clock, options);
    this.bToA = new Channel(clock, options);
  }

  /** Where host A transmits (the A→B channel). */
  get a(): Link {
    return this.aToB;
  }

  /** Where host B transmits (the B→A channel). */
  get b(): Link {
    return this.bToA;
  }

  /** Frames queued in both directions. */
  get pending(): number {
    return this.aToB.pending + this.bToA.pending;
  }

  /** The earlier of the two channels' next arrival times, or `undefined` when both are empty. */
  nextArrivalNanos(): bigint | undefined {
    const x = this.aToB.nextArrivalNanos();
    const y = this.bToA.nextArrivalNanos();
    if (x === undefined) return y;
    if (y === undefined) return x;
    return x <= y ? x : y;
  }

  /**
   * Delivers every frame that has arrived, in arrival-time order across both directions (A→B
   * first on a tie): to `toB` from A→B and to `toA` from B→A. Returns the number delivered;
   * frames queued by the receivers meanwhile wait for the next call.
   */
  deliver(toA: Receiver, toB: Receiver): number {
    let leftAB = this.aToB.pending;
    let leftBA = this.bToA.pending;
    let n = 0;
    for (;;) {
      const ab = leftAB > 0 && this.aToB.due;
      const ba = leftBA > 0 && this.bToA.due;
      if (!ab && !ba) return n;
      const pickAB = ab && (!ba || this.aToB.nextArrivalNanos()! <= this.bToA.nextArrivalNanos()!);
      if (pickAB) {
        this.aToB.deliverNext(toB);
        leftAB--;
      } else {
        this.bToA.deliverNext(toA);
        leftBA--;
      }
      n++;
    }
  }
}

/**
 * A wrapper that shows every frame to an observer — with the clock's time and a fixed direction
 * — and passes it on unchanged (smoltcp `phy/tracer.rs`, gVisor `link/sniffer`).
 */
export class Tap implements Link {
  readonly inner: Link;
  readonly clock: Clock;
  readonly direction: Direction;
  /** Frames seen. */
  frames = 0;
  /** Bytes seen. */
  bytes = 0;
  readonly #observer: Observer;

  constructor(inner: Link, clock: Clock, direction: Direction, observer: Observer) {
    this.inner = inner;
    this.clock = clock;
    this.direction = direction;
    this.#observer = observer;
  }

  /** Shows `frame` to the observer, then transmits it on the inner link. */
  transmit(frame: Uint8Array): void {
    this.frames++;
    this.bytes += frame.length;
    this.#observer(frame, this.clock.nowNanos(), this.direction);
    this.inner.transmit(frame);
  }
}
