/**
 * @module
 * Compact storage for the SA table's per-SA bytes (issue 6: 1,000,000 SAs in ≤ 1 KiB each). A
 * Uint8Array of its own costs about 200 bytes of heap (a typed array, an ArrayBuffer and its
 * backing store) however few bytes it holds, so the table keeps small byte strings in shared
 * chunks instead:
 * - {@link KeySlab}: the key bytes of SAs whose crypto context does not exist yet, addressed by a
 *   number; freed slots are zeroed and reused (a key is never handed out as a view).
 * - {@link AddressPool}: the bundles' endpoints, as read-only views into shared chunks (a view is
 *   about 90 bytes); an address equal to one of the last few stored is shared, not stored again.
 * - {@link HandleIndex}: bundles by handle in chunks of an array (8 bytes a bundle, no Map entry,
 *   no bigint key).
 */

/** Bytes per KeySlab chunk: a key never spans two chunks. */
const KEY_CHUNK = 0x1_0000;

/**
 * Key bytes (encryption ‖ integrity) of many SAs in 64 KiB chunks. `store` returns an address,
 * `read` a fresh copy, `free` zeroes the bytes and keeps the slot for the next key of that length.
 * Model: the chunks are never returned to the allocator; they are reused by later SAs.
 */
export class KeySlab {
  readonly #chunks: Uint8Array[] = [];
  /** Next free byte of the last chunk (KEY_CHUNK: no chunk yet). */
  #top = KEY_CHUNK;
  /** Freed slots by length. */
  readonly #free = new Map<number, number[]>();

  /** Copies `a ‖ b` into the slab; returns its address. Throws a RangeError beyond 64 KiB. */
  store(a: Uint8Array, b: Uint8Array): number {
    const n = a.length + b.length;
    if (n > KEY_CHUNK) {
      throw new RangeError(`KeySlab.store: expected at most ${KEY_CHUNK} key bytes, got ${n}`);
    }
    const at = this.#free.get(n)?.pop() ?? this.#bump(n);
    const chunk = this.#chunks[Math.floor(at / KEY_CHUNK)];
    const offset = at % KEY_CHUNK;
    chunk.set(a, offset);
    chunk.set(b, offset + a.length);
    return at;
  }

  /** A fresh copy of the `length` bytes at `at`. */
  read(at: number, length: number): Uint8Array {
    const offset = at % KEY_CHUNK;
    return this.#chunks[Math.floor(at / KEY_CHUNK)].slice(offset, offset + length);
  }

  /** Zeroes the `length` bytes at `at` and keeps the slot for reuse. */
  free(at: number, length: number): void {
    const offset = at % KEY_CHUNK;
    this.#chunks[Math.floor(at / KEY_CHUNK)].fill(0, offset, offset + length);
    const list = this.#free.get(length);
    if (list === undefined) this.#free.set(length, [at]);
    else list.push(at);
  }

  /** A new slot of `n` bytes at the end (a new chunk when the last one has no room). */
  #bump(n: number): number {
    if (this.#top + n > KEY_CHUNK) {
      this.#chunks.push(new Uint8Array(KEY_CHUNK));
      this.#top = 0;
    }
    const at = (this.#chunks.length - 1) * KEY_CHUNK + this.#top;
    this.#top += n;
    return at;
  }
}

/**
 * Bytes per AddressPool chunk. A chunk lives as long as any view into it, so it is small: a few
 * long-lived bundles among many deleted ones keep little memory alive.
 */
const ADDRESS_CHUNK = 4096;

/** How many recently stored addresses `copy` compares against (source and destination alike). */
const RECENT = 4;

/**
 * Endpoint addresses as views into shared 4 KiB chunks. Views are never written after `copy`
 * and chunks are never reused, so a view keeps its bytes for as long as anyone holds it.
 */
export class AddressPool {
  #chunk = new Uint8Array(0);
  #top = 0;
  /**
   * The views most recently returned, most recent first, for sharing equal addresses (e.g. one
   * local source for every bundle while the destinations all differ).
   */
  readonly #recent: Uint8Array[] = [];

  /** A read-only copy of `address`: a view shared with an equal recent address, or a new one. */
  copy(address: Uint8Array): Uint8Array {
    const recent = this.#recent;
    for (let i = 0; i < recent.length; i++) {
      const r = recent[i];
      if (sameBytes(r, address)) {
        this.#remember(r, i);
        return r;
      }
    }
    const n = address.length;
    if (this.#top + n > this.#chunk.length) {
      this.#chunk = new Uint8Array(Math.max(ADDRESS_CHUNK, n));
      this.#top = 0;
    }
    const view = this.#chunk.subarray(this.#top, this.#top + n);
    view.set(address);
    this.#top += n;
    this.#remember(view, Math.min(recent.length, RECENT - 1));
    return view;
  }

  /** Moves `view` to the front of `#recent`, over the entry at `from` (or into a new slot). */
  #remember(view: Uint8Array, from: number): void {
    const recent = this.#recent;
    for (let i = from; i > 0; i--) recent[i] = recent[i - 1];
    recent[0] = view;
  }
}

/** Byte-wise equality, lengths included (addresses: an all-zero wildcard equals only itself). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Handles per HandleIndex chunk. */
const HANDLE_CHUNK = 1024;

/** The chunk of handle index `i`: a shift below 2^30 (HANDLE_CHUNK = 2^10), a division above. */
function chunkOf(i: number): number {
  return i < 0x4000_0000 ? i >> 10 : Math.floor(i / HANDLE_CHUNK);
}

/** The largest handle the table issues: every handle is an exact number (D8: never reused). */
export const MAX_HANDLE: number = Number.MAX_SAFE_INTEGER;

/**
 * Bundles by handle: handles are issued from 1 upward and never reused (D8), so slot h - 1 of an
 * array of 1,024-slot chunks holds bundle h. A chunk whose handles were all issued and whose
 * bundles were all deleted is dropped, and the array starts at the first chunk still in use
 * (`#base`), so its length follows the live handles, not every handle ever issued. O(1), 8 bytes
 * per bundle, and lookups by number.
 */
export class HandleIndex<B> {
  /** Chunk `#base + k` at index k. */
  readonly #chunks: ((B | undefined)[] | undefined)[] = [];
  /** Live bundles per chunk, at the same indices. */
  readonly #live: number[] = [];
  /** The chunk number of `#chunks[0]`. */
  #base = 0;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** The bundle at `handle` (an integer), or undefined. */
  get(handle: number): B | undefined {
    const i = handle - 1;
    const c = chunkOf(i);
    const k = c - this.#base;
    // Bounds first: an index past the array would be looked up as a property name.
    if (!(k >= 0 && k < this.#chunks.length)) return undefined;
    return this.#chunks[k]?.[i - c * HANDLE_CHUNK];
  }

  /** Stores `bundle` at `handle` (a free slot). */
  set(handle: number, bundle: B): void {
    const i = handle - 1;
    const c = chunkOf(i);
    if (this.#chunks.length === 0) this.#base = c;
    while (c < this.#base) {
      this.#chunks.unshift(undefined);
      this.#live.unshift(0);
      this.#base -= 1;
    }
    const k = c - this.#base;
    while (this.#chunks.length <= k) {
      this.#chunks.push(undefined);
      this.#live.push(0);
    }
    let chunk = this.#chunks[k];
    if (chunk === undefined) {
      chunk = new Array<B | undefined>(HANDLE_CHUNK);
      this.#chunks[k] = chunk;
    }
    chunk[i - c * HANDLE_CHUNK] = bundle;
    this.#live[k] += 1;
    this.#size += 1;
  }

  /** Empties the slot of `handle` (which holds a bundle); `issued` is the last handle given out. */
  delete(handle: number, issued: number): void {
    const i = handle - 1;
    const c = chunkOf(i);
    const k = c - this.#base;
    const chunk = k >= 0 && k < this.#chunks.length ? this.#chunks[k] : undefined;
    if (chunk === undefined || chunk[i - c * HANDLE_CHUNK] === undefined) return;
    chunk[i - c * HANDLE_CHUNK] = undefined;
    this.#live[k] -= 1;
    this.#size -= 1;
    // No handle of a fully issued chunk will be stored again (D8): drop it once it is empty.
    if (this.#live[k] === 0 && issued >= (c + 1) * HANDLE_CHUNK) this.#chunks[k] = undefined;
    while (this.#chunks.length > 0 && this.#chunks[0] === undefined) {
      this.#chunks.shift();
      this.#live.shift();
      this.#base += 1;
    }
  }

  /** Every bundle in handle order. */
  *values(): IterableIterator<B> {
    for (const chunk of this.#chunks) {
      if (chunk === undefined) continue;
      for (const bundle of chunk) if (bundle !== undefined) yield bundle;
    }
  }
}
