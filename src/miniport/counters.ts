/**
 * @module
 * Named counters: every packet or request the model refuses or drops is counted under a name
 * (contract §4, kind 3), so tests and reports can assert that nothing was lost silently.
 * Names are `area.what[:detail]`, e.g. `send.nbl`, `send.fail:invalid-packet:spi-mismatch`.
 */

/** A set of named, monotonically increasing counters. */
export class Counters {
  readonly #values = new Map<string, number>();

  /** Adds `n` (default 1) to the counter `name`. */
  add(name: string, n = 1): void {
    this.#values.set(name, (this.#values.get(name) ?? 0) + n);
  }

  /** The value of `name` (0 if never counted). */
  get(name: string): number {
    return this.#values.get(name) ?? 0;
  }

  /** The sum of every counter whose name starts with `prefix`. */
  sum(prefix: string): number {
    let total = 0;
    for (const [k, v] of this.#values) if (k.startsWith(prefix)) total += v;
    return total;
  }

  /** A sorted plain-object copy of every counter, for reports and test failure messages. */
  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#values].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }
}
