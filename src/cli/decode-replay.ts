/**
 * @module
 * The decoder's replay check (RFC 4303 §3.4.3, RFC 4302 §3.4.3, as an observer): per SA —
 * protocol, SPI and destination address — every sequence number seen with the frame that first
 * carried it. A number seen before is annotated "replay of #<frame>"; with a window of W (> 0),
 * a new number at or below the highest seen minus W is annotated "too old for window W (highest
 * <seq> at #<frame>)", the packet a receiver with that window would drop. Numbers are 64-bit
 * with ESN (the keyring's estimate of the high half) and the wire's 32 bits otherwise.
 */

/** What one SA has seen. */
interface SaState {
  /** First frame of each sequence number (a number key while it is a safe integer). */
  readonly seen: Map<number | bigint, number>;
  top: bigint;
  topFrame: number;
}

/** Per-SA sequence numbers seen in a capture, for replay annotations. */
export class ReplayTracker {
  readonly window: number;
  readonly #sas = new Map<string, SaState>();

  /** A tracker; `window` 0 annotates repeats only, W > 0 also numbers W or more behind the highest. */
  constructor(window: number) {
    this.window = window;
  }

  /**
   * Records `sequence` for the SA `sa` seen in frame `frame`; returns the defect to annotate
   * ("replay of #3", "too old for window 64 (highest 90 at #88)") or null.
   */
  check(sa: string, sequence: bigint, frame: number): string | null {
    let state = this.#sas.get(sa);
    if (state === undefined) {
      state = { seen: new Map(), top: sequence, topFrame: frame };
      this.#sas.set(sa, state);
    }
    const key = sequence <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sequence) : sequence;
    const first = state.seen.get(key);
    if (first !== undefined) return `replay of #${first}`;
    state.seen.set(key, frame);
    if (sequence > state.top) {
      state.top = sequence;
      state.topFrame = frame;
      return null;
    }
    if (this.window > 0 && sequence + BigInt(this.window) <= state.top) {
      return `too old for window ${this.window} (highest ${state.top} at #${state.topFrame})`;
    }
    return null;
  }
}
