/**
 * @module
 * Named counters: every packet or request the model refuses or drops is counted under a name
 * (contract §4, kind 3), so tests and reports can assert that nothing was lost silently.
 * Names are `area.what[:detail]`, e.g. `send.nbl`, `send.fail:invalid-packet:spi-mismatch`.
 *
 * Issue 6: the data paths count several events per frame, so a name is resolved once to a slot
 * (`slot(name)`) and the hot path adds to the slot (`bump`): an array store instead of a string-keyed
 * Map read and write per event. `add(name)` still works for everything else.
 */

/** A set of named, monotonically increasing counters. */
export class Counters {
  /** Name → slot index. */
  readonly #slots = new Map<string, number>();
  /** The value of each slot. */
  #values = new Float64Array(32);
  /** Whether a slot was ever counted (a registered slot that never counted is not reported). */
  #touched = new Uint8Array(32);
  #names: string[] = [];

  /** The slot of `name`, created on first use; pass it to `bump`. */
  slot(name: string): number {
    let s = this.#slots.get(name);
    if (s === undefined) {
      s = this.#names.length;
      if (s === this.#values.length) {
        const values = new Float64Array(s * 2);
        values.set(this.#values);
        this.#values = values;
        const touched = new Uint8Array(s * 2);
        touched.set(this.#touched);
        this.#touched = touched;
      }
      this.#names.push(name);
      this.#slots.set(name, s);
    }
    return s;
  }

  /** Adds `n` (default 1) to the counter in `slot` (from `slot(name)`). */
  bump(slot: number, n = 1): void {
    this.#values[slot] += n;
    this.#touched[slot] = 1;
  }

  /** Adds `n` (default 1) to the counter `name`. */
  add(name: string, n = 1): void {
    this.bump(this.slot(name), n);
  }

  /** The value of `name` (0 if never counted). */
  get(name: string): number {
    const s = this.#slots.get(name);
    return s === undefined ? 0 : this.#values[s];
  }

  /** The sum of every counter whose name starts with `prefix`. */
  sum(prefix: string): number {
    let total = 0;
    for (const [k, v] of this.#entries()) if (k.startsWith(prefix)) total += v;
    return total;
  }

  /** A sorted plain-object copy of every counter, for reports and test failure messages. */
  snapshot(): Record<string, number> {
    return Object.fromEntries(
      [...this.#entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    );
  }

  /** [name, value] of every counter that was counted at least once. */
  *#entries(): IterableIterator<[string, number]> {
    for (let s = 0; s < this.#names.length; s++) {
      if (this.#touched[s] === 1) yield [this.#names[s], this.#values[s]];
    }
  }
}
