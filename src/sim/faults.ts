/**
 * @module
 * A fault injector: a `Link` wrapper that drops, duplicates, reorders, corrupts or truncates
 * frames, by per-frame probability from an injected `Random` (contract D6) or by an explicit
 * schedule of frame indexes (style practice 14; smoltcp `phy/fault_injector.rs`). Every fault is
 * counted by kind and recorded with the index of the frame it hit, so a test can assert exactly
 * what happened; the same seed and the same frames give the same output, byte for byte.
 *
 * Per frame (index = position among the frames given to `transmit`, from 0), faults apply in the
 * order of {@link FAULT_KINDS}: drop (nothing else happens), truncate, corrupt, duplicate (the
 * frame goes out twice, the second a copy), reorder (the frame — both copies if duplicated — is
 * held back until `hold` further frames have passed, then released after them). Corruption and
 * truncation never touch the caller's array: corruption changes a copy, truncation a subarray.
 *
 * Randomness: for every frame, one 32-bit draw per kind whose probability is non-zero, in
 * {@link FAULT_KINDS} order (drawn whether or not an earlier fault hit, so decisions for one kind
 * do not shift when another kind's outcome changes); then the parameters of the faults that
 * apply (truncated length, corrupted offset, XOR mask), in the same order. The injector reads its
 * `Random` in 256-byte blocks: give it a `Random` of its own.
 */
import type { Random } from '../crypto/transform.ts';
import type { Link } from './link.ts';

/** The kinds of fault, in the order they apply to a frame. */
export const FAULT_KINDS = ['drop', 'truncate', 'corrupt', 'duplicate', 'reorder'] as const;

/** A kind of fault. */
export type FaultKind = (typeof FAULT_KINDS)[number];

/** A fault that happened to the frame at `index`. */
export type FaultRecord =
  | { readonly index: number; readonly kind: 'drop' }
  | { readonly index: number; readonly kind: 'duplicate' }
  /** Held back until `hold` later frames had passed. */
  | { readonly index: number; readonly kind: 'reorder'; readonly hold: number }
  /** The byte at `offset` was XORed with `xor` (1–255). */
  | {
      readonly index: number;
      readonly kind: 'corrupt';
      readonly offset: number;
      readonly xor: number;
    }
  /** Cut from `originalLength` to `length` bytes. */
  | {
      readonly index: number;
      readonly kind: 'truncate';
      readonly length: number;
      readonly originalLength: number;
    };

/** A fault to apply to the frame at `index`; unspecified parameters are drawn from the `Random`. */
export type ScheduledFault =
  | { readonly index: number; readonly kind: 'drop' }
  | { readonly index: number; readonly kind: 'duplicate' }
  | { readonly index: number; readonly kind: 'reorder'; readonly hold?: number }
  | {
      readonly index: number;
      readonly kind: 'corrupt';
      readonly offset?: number;
      readonly xor?: number;
    }
  | { readonly index: number; readonly kind: 'truncate'; readonly length?: number };

/** Options of a {@link FaultInjector}. */
export interface FaultOptions {
  /** Source of the per-frame draws and of unspecified parameters; needed unless fully scheduled. */
  readonly random?: Random;
  /** Per-frame probability of each kind, from 0 to 1 (default 0). */
  readonly probabilities?: Readonly<Partial<Record<FaultKind, number>>>;
  /** Explicit faults by frame index; several entries may name one frame. */
  readonly schedule?: readonly ScheduledFault[];
  /**
   * How many later frames overtake a reordered frame, unless its schedule entry says (default 1).
   * Model: reordering counts frames, not time; a frame held at the end waits for `flush()`.
   */
  readonly hold?: number;
}

/** Counters a fault injector keeps. */
export interface FaultCounters {
  /** Frames given to `transmit`. */
  frames: number;
  /** Frames passed to the inner link (duplicates and released frames included). */
  forwarded: number;
  /** Faults that could not apply (corrupting or truncating an empty frame, an offset or length past the end). */
  skipped: number;
  drop: number;
  truncate: number;
  corrupt: number;
  duplicate: number;
  reorder: number;
}

/** A random block is read this many bytes at a time. */
const POOL = 256;
const TWO_32 = 2 ** 32;

/** Throws a RangeError unless `value` is an integer from `min` to `max`. */
function needInt(where: string, value: number, min: number, max: number): void {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${where}: expected an integer from ${min} to ${max}, got ${value}`);
  }
}

/** A frame held back by a reorder fault, released after the frame at `releaseAfter`. */
interface Held {
  readonly frame: Uint8Array;
  readonly releaseAfter: number;
}

/** A `Link` wrapper that injects faults, reproducibly, and records every one. */
export class FaultInjector implements Link {
  readonly inner: Link;
  readonly counters: FaultCounters = {
    frames: 0,
    forwarded: 0,
    skipped: 0,
    drop: 0,
    truncate: 0,
    corrupt: 0,
    duplicate: 0,
    reorder: 0,
  };
  /** Every fault applied, in order. */
  readonly records: FaultRecord[] = [];
  readonly #random: Random | undefined;
  readonly #p: Readonly<Record<FaultKind, number>>;
  readonly #schedule = new Map<number, ScheduledFault[]>();
  readonly #hold: number;
  readonly #pool = new Uint8Array(POOL);
  #poolAt = POOL;
  #held: Held[] = [];
  // Per-frame scratch, reused so a clean frame allocates nothing here.
  readonly #hit: Record<FaultKind, boolean> = {
    drop: false,
    truncate: false,
    corrupt: false,
    duplicate: false,
    reorder: false,
  };

  constructor(inner: Link, options: FaultOptions = {}) {
    this.inner = inner;
    this.#random = options.random;
    const p = options.probabilities ?? {};
    const probabilities = { drop: 0, truncate: 0, corrupt: 0, duplicate: 0, reorder: 0 };
    for (const kind of FAULT_KINDS) {
      const value = p[kind] ?? 0;
      if (!(value >= 0 && value <= 1)) {
        throw new RangeError(
          `FaultInjector: expected probabilities.${kind} from 0 to 1, got ${value}`
        );
      }
      probabilities[kind] = value;
    }
    this.#p = probabilities;
    this.#hold = options.hold ?? 1;
    needInt('FaultInjector hold', this.#hold, 1, Number.MAX_SAFE_INTEGER);
    let needsRandom = FAULT_KINDS.some((kind) => probabilities[kind] > 0);
    for (const entry of options.schedule ?? []) {
      needInt('FaultInjector schedule index', entry.index, 0, Number.MAX_SAFE_INTEGER);
      switch (entry.kind) {
        case 'drop':
        case 'duplicate':
          break;
        case 'reorder':
          if (entry.hold !== undefined) {
            needInt('FaultInjector schedule hold', entry.hold, 1, Number.MAX_SAFE_INTEGER);
          }
          break;
        case 'corrupt':
          if (entry.offset === undefined) needsRandom = true;
          else needInt('FaultInjector schedule offset', entry.offset, 0, Number.MAX_SAFE_INTEGER);
          if (entry.xor === undefined) needsRandom = true;
          else needInt('FaultInjector schedule xor', entry.xor, 1, 255);
          break;
        case 'truncate':
          if (entry.length === undefined) needsRandom = true;
          else needInt('FaultInjector schedule length', entry.length, 0, Number.MAX_SAFE_INTEGER);
          break;
      }
      const list = this.#schedule.get(entry.index);
      if (list === undefined) this.#schedule.set(entry.index, [entry]);
      else list.push(entry);
    }
    if (needsRandom && this.#random === undefined) {
      throw new TypeError(
        'FaultInjector: expected a random source for probabilities or unspecified parameters, got none'
      );
    }
  }

  /** Frames held back by reorder faults, not yet released. */
  get held(): number {
    return this.#held.length;
  }

  /** Applies this frame's faults and passes what is left to the inner link. */
  transmit(frame: Uint8Array): void {
    const index = this.counters.frames++;
    const hit = this.#hit;
    for (const kind of FAULT_KINDS) {
      const p = this.#p[kind];
      hit[kind] = p > 0 && this.#unit() < p;
    }
    const scheduled = this.#schedule.get(index);
    if (scheduled !== undefined) for (const entry of scheduled) hit[entry.kind] = true;

    if (hit.drop) {
      this.#record({ index, kind: 'drop' });
    } else {
      let out = frame;
      if (hit.truncate) out = this.#truncate(index, out, find(scheduled, 'truncate'));
      if (hit.corrupt) out = this.#corrupt(index, out, find(scheduled, 'corrupt'));
      if (hit.duplicate) this.#record({ index, kind: 'duplicate' });
      if (hit.reorder) {
        const hold = find(scheduled, 'reorder')?.hold ?? this.#hold;
        this.#record({ index, kind: 'reorder', hold });
        this.#held.push({ frame: out, releaseAfter: index + hold });
        if (hit.duplicate) this.#held.push({ frame: out.slice(), releaseAfter: index + hold });
      } else {
        this.#forward(out);
        if (hit.duplicate) this.#forward(out.slice());
      }
    }
    this.#release(index);
  }

  /** Releases every held frame now, in the order they were held. */
  flush(): void {
    const held = this.#held;
    this.#held = [];
    for (const h of held) this.#forward(h.frame);
  }

  #truncate(
    index: number,
    frame: Uint8Array,
    entry: Extract<ScheduledFault, { kind: 'truncate' }> | undefined
  ): Uint8Array {
    const originalLength = frame.length;
    const length = entry?.length ?? (originalLength > 0 ? this.#below(originalLength) : 0);
    if (length >= originalLength) {
      this.counters.skipped++;
      return frame;
    }
    this.#record({ index, kind: 'truncate', length, originalLength });
    return frame.subarray(0, length);
  }

  #corrupt(
    index: number,
    frame: Uint8Array,
    entry: Extract<ScheduledFault, { kind: 'corrupt' }> | undefined
  ): Uint8Array {
    const offset = entry?.offset ?? (frame.length > 0 ? this.#below(frame.length) : 0);
    const xor = entry?.xor ?? 1 + this.#below(255);
    if (offset >= frame.length) {
      this.counters.skipped++;
      return frame;
    }
    const copy = frame.slice();
    copy[offset] ^= xor;
    this.#record({ index, kind: 'corrupt', offset, xor });
    return copy;
  }

  #record(record: FaultRecord): void {
    this.records.push(record);
    this.counters[record.kind]++;
  }

  #forward(frame: Uint8Array): void {
    this.counters.forwarded++;
    this.inner.transmit(frame);
  }

  /** Forwards the held frames whose release point is frame `index` or earlier, in hold order. */
  #release(index: number): void {
    if (this.#held.length === 0) return;
    const keep: Held[] = [];
    const go: Held[] = [];
    for (const h of this.#held) (h.releaseAfter <= index ? go : keep).push(h);
    if (go.length === 0) return;
    this.#held = keep;
    for (const h of go) this.#forward(h.frame);
  }

  /** A uniform 32-bit draw from the random pool. */
  #uint32(): number {
    if (this.#poolAt + 4 > POOL) {
      this.#random!.fill(this.#pool);
      this.#poolAt = 0;
    }
    const b = this.#pool;
    const i = this.#poolAt;
    this.#poolAt += 4;
    return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  }

  /** A uniform draw from [0, 1). */
  #unit(): number {
    return this.#uint32() / TWO_32;
  }

  /** A draw from 0 to n − 1 (n ≤ 2^32; the bias, below n / 2^32, is negligible for frame sizes). */
  #below(n: number): number {
    return Math.floor(this.#unit() * n);
  }
}

/** The first schedule entry of `kind` in `entries`, if any. */
function find<K extends FaultKind>(
  entries: readonly ScheduledFault[] | undefined,
  kind: K
): Extract<ScheduledFault, { kind: K }> | undefined {
  if (entries === undefined) return undefined;
  for (const e of entries) {
    if (e.kind === kind) return e as Extract<ScheduledFault, { kind: K }>;
  }
  return undefined;
}
