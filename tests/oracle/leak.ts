/**
 * @module
 * Plaintext-leak search: does any `run`-byte window of the application data appear verbatim in
 * a frame? Windows are indexed by their first four bytes (a Map to the offsets that start with
 * them), so each frame costs one Map lookup per byte position plus a compare on a hit.
 */

/**
 * `length` bytes of a xorshift32 stream (Marsaglia 2003, shifts 13/17/5) from `seed` ≠ 0: test
 * data whose 16-byte windows are all distinct in practice (checked by {@link firstRepeatedWindow}).
 */
export function noisePayload(length: number, seed = 0x2545f491): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    for (let k = 0; k < 4 && i + k < length; k++) out[i + k] = (x >>> (8 * k)) & 0xff;
  }
  return out;
}

/** One leaked window: where it sits in the frame and where it came from in the plaintext. */
export interface Leak {
  readonly frame: number;
  readonly frameOffset: number;
  readonly plaintextOffset: number;
}

function key(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

function index(plaintext: Uint8Array, run: number): Map<number, number[]> {
  const map = new Map<number, number[]>();
  for (let i = 0; i + run <= plaintext.length; i++) {
    const k = key(plaintext, i);
    const list = map.get(k);
    if (list === undefined) map.set(k, [i]);
    else list.push(i);
  }
  return map;
}

function same(a: Uint8Array, at: number, b: Uint8Array, bt: number, run: number): boolean {
  for (let k = 0; k < run; k++) if (a[at + k] !== b[bt + k]) return false;
  return true;
}

/**
 * The offset of the first `run`-byte window of `plaintext` that also occurs earlier in it, or -1:
 * a leak search is only meaningful when every window is unique.
 */
export function firstRepeatedWindow(plaintext: Uint8Array, run = 16): number {
  const seen = new Map<number, number[]>();
  for (let i = 0; i + run <= plaintext.length; i++) {
    const k = key(plaintext, i);
    const list = seen.get(k);
    if (list !== undefined) {
      for (const j of list) if (same(plaintext, i, plaintext, j, run)) return i;
      list.push(i);
    } else {
      seen.set(k, [i]);
    }
  }
  return -1;
}

/** Every place where a `run`-byte window of `plaintext` appears in one of `frames` (max `limit`). */
export function findPlaintextRuns(
  frames: readonly Uint8Array[],
  plaintext: Uint8Array,
  run = 16,
  limit = 10
): Leak[] {
  if (run < 4) throw new RangeError(`findPlaintextRuns: expected a run of at least 4, got ${run}`);
  const map = index(plaintext, run);
  const leaks: Leak[] = [];
  frames.forEach((frame, f) => {
    for (let i = 0; i + run <= frame.length && leaks.length < limit; i++) {
      const list = map.get(key(frame, i));
      if (list === undefined) continue;
      for (const p of list) {
        if (same(frame, i, plaintext, p, run)) {
          leaks.push({ frame: f, frameOffset: i, plaintextOffset: p });
          break;
        }
      }
    }
  });
  return leaks;
}
