/**
 * @module
 * The send path's transmit memory and its batched ESP sealing (issue 6: "a data path without
 * per-packet allocation … frame buffers from pools, views instead of copies, LSO segments written
 * straight into their output buffers, batches of NBLs per call"; "one call seals … a batch of
 * packets of one SA in place").
 *
 * - {@link TxSlab}: the NIC's transmit buffers. A frame is a view carved from a large chunk, so
 *   building a frame costs a copy into memory that already exists, not a new ArrayBuffer per
 *   frame. By default a chunk is never handed out twice: the Link owns a transmitted frame for
 *   good (a consumer may keep it), and the garbage collector takes a chunk back once no frame in
 *   it is referenced. A Link that declares `copies` gets a recycling slab instead — the transmit
 *   ring of a hardware NIC, reused once the batch is on the wire. Chunks are not zero-filled, so
 *   every builder writes every byte of its frame (datapath.ts copies the whole NET_BUFFER; lso.ts
 *   zeroes the ICV field). One chunk holds about 180 frames of 1,400 bytes.
 * - {@link SealQueue}: ESP seals deferred to the end of a batch of NBLs, then run as one native
 *   `sealBatch` per SA and chunk (src/crypto/native-esp.ts). Only a seal that nothing else in the
 *   frame depends on is deferred (no AH over it, no UDP checksum over it, no tunnel SA around it:
 *   protect.ts decides); everything else seals at once, as does every SA on the node:crypto
 *   engine, which has no batch call. A queued packet may carry a {@link ChecksumJob}: the TCP
 *   checksum of an LSO segment, which the native seal finishes just before it encrypts that
 *   packet (contract D13: checksum first), in the same call (lso.ts).
 */
import { Buffer } from 'node:buffer';
import { CHECKSUM_JOB_WORDS, NO_CHECKSUM, type BatchEspTransform } from '../crypto/native-esp.ts';
import type { EspTransform } from '../crypto/transform.ts';

/** Bytes per transmit chunk. */
const CHUNK_BYTES = 256 * 1024;
/** Frame starts are 8-byte aligned in a chunk. */
const ALIGN = 8;
/** Spare chunks a recycling slab keeps (4 MiB). */
const MAX_SPARE = 16;

/** Fresh, uninitialised chunk memory. */
function chunk(bytes: number): ArrayBuffer {
  // Model: allocUnsafeSlow skips zeroing (measured: ~170 ns per 1,400-byte frame for 256 KiB).
  return Buffer.allocUnsafeSlow(bytes).buffer;
}

/**
 * The NIC's transmit memory: frame buffers carved from large chunks.
 *
 * Without `recycle` a chunk is never handed out twice, so a Link may keep a transmitted frame
 * forever. With `recycle` (the Link copies what it keeps: `Link.copies`) the slab is a transmit
 * ring: once every frame taken so far has been transmitted or dropped, {@link release} makes all
 * of its memory reusable, and a steady stream of batches touches the same few chunks — no new
 * memory, no page faults (measured: ~0.2 µs per 1,400-byte frame).
 */
export class TxSlab {
  readonly recycle: boolean;
  #chunk: ArrayBuffer = new ArrayBuffer(0);
  #used = 0;
  /** Recycling: chunks filled since the last release, and chunks free for reuse. */
  readonly #busy: ArrayBuffer[] = [];
  readonly #spare: ArrayBuffer[] = [];

  constructor(recycle = false) {
    this.recycle = recycle;
  }

  /**
   * A buffer of `length` bytes that no frame in use shares. Its bytes are NOT zeroed (a chunk is
   * uninitialised or recycled memory, as a NIC's transmit ring is): the caller writes every byte.
   */
  take(length: number): Uint8Array {
    let at = (this.#used + ALIGN - 1) & ~(ALIGN - 1);
    if (at + length > this.#chunk.byteLength) {
      // A frame larger than a chunk gets memory of its own (never recycled).
      if (length > CHUNK_BYTES) return new Uint8Array(chunk(length));
      if (this.recycle && this.#chunk.byteLength > 0) this.#busy.push(this.#chunk);
      this.#chunk = (this.recycle ? this.#spare.pop() : undefined) ?? chunk(CHUNK_BYTES);
      at = 0;
    }
    this.#used = at + length;
    return new Uint8Array(this.#chunk, at, length); // cheaper than subarray
  }

  /**
   * Every frame taken so far has been transmitted (and copied by the Link if kept) or dropped:
   * with `recycle`, all of the slab's memory may be reused; otherwise nothing happens.
   */
  release(): void {
    if (!this.recycle) return;
    for (const c of this.#busy) if (this.#spare.length < MAX_SPARE) this.#spare.push(c);
    this.#busy.length = 0;
    this.#used = 0;
  }
}

/** True when `t` seals batches in one call (the native engine). */
export function isBatchTransform(t: EspTransform): t is BatchEspTransform {
  return typeof (t as Partial<BatchEspTransform>).sealBatch === 'function';
}

/**
 * A checksum the seal finishes before encrypting its packet (RFC 1071): the one's complement of
 * `seed` + the sum of `frame[start, end)` as big-endian 16-bit words — with whatever the field
 * holds then (for LSO: the transport's seed, contract D2) — written big-endian at `field`.
 * Offsets are into the frame, like the packet's; start ≤ field ≤ end − 2, inside the packet.
 * The send path keeps one and refills it per packet (no allocation).
 */
export interface ChecksumJob {
  start: number;
  end: number;
  field: number;
  seed: number;
}

/**
 * ESP packets waiting to be sealed, in the order the send path built them. Entry i is
 * `buffers[i]` bytes [offsets[i], offsets[i] + lengths[i]) for `transforms[i]` with the sequence
 * number high half `highs[i]`, on behalf of NBL record `owners[i]`, with checksum job
 * `jobs[4i … 4i + 4)` (buffer offsets; field NO_CHECKSUM: none).
 */
export class SealQueue {
  /** Runs of consecutive packets with one transform in one buffer: run r starts at #runStart[r]. */
  #runTransforms: BatchEspTransform[] = [];
  #runBuffers: ArrayBufferLike[] = [];
  #runStart = new Int32Array(16);
  /** 1 when run r has a checksum job (it is sealed with `checksums`), else 0. */
  #runJobs = new Uint8Array(16);
  #runs = 0;
  #offsets = new Uint32Array(256);
  #lengths = new Uint32Array(256);
  #highs = new Uint32Array(256);
  #owners = new Int32Array(256);
  #jobs = new Uint32Array(256 * CHECKSUM_JOB_WORDS);
  #count = 0;

  /** Number of packets waiting. */
  get count(): number {
    return this.#count;
  }

  /**
   * Queues `frame[start, end)` — an ESP packet whose IV field is already written for CBC (D6) —
   * to be sealed with `high` as the sequence number's high half (D3), after `checksum` (if any;
   * read now, so the caller may reuse it).
   */
  add(
    transform: BatchEspTransform,
    frame: Uint8Array,
    start: number,
    end: number,
    high: number,
    owner: number,
    checksum: ChecksumJob | null = null
  ): void {
    const i = this.#count;
    if (i === this.#offsets.length) this.#grow();
    const buffer = frame.buffer;
    let r = this.#runs - 1;
    if (r < 0 || this.#runTransforms[r] !== transform || this.#runBuffers[r] !== buffer) {
      r++;
      if (r === this.#runStart.length) {
        const grown = new Int32Array(r * 2);
        grown.set(this.#runStart);
        this.#runStart = grown;
        const jobs = new Uint8Array(r * 2);
        jobs.set(this.#runJobs);
        this.#runJobs = jobs;
      }
      this.#runTransforms[r] = transform;
      this.#runBuffers[r] = buffer;
      this.#runStart[r] = i;
      this.#runJobs[r] = 0;
      this.#runs = r + 1;
    }
    const at = frame.byteOffset;
    this.#offsets[i] = at + start;
    this.#lengths[i] = end - start;
    this.#highs[i] = high;
    this.#owners[i] = owner;
    const j = i * CHECKSUM_JOB_WORDS;
    if (checksum === null) {
      this.#jobs[j + 2] = NO_CHECKSUM;
    } else {
      this.#jobs[j] = at + checksum.start;
      this.#jobs[j + 1] = at + checksum.end;
      this.#jobs[j + 2] = at + checksum.field;
      this.#jobs[j + 3] = checksum.seed;
      this.#runJobs[r] = 1;
    }
    this.#count = i + 1;
  }

  /** Forgets the packets queued after the first `mark` (their NBL failed: nothing is sealed). */
  truncate(mark: number): void {
    if (mark >= this.#count) return;
    this.#count = mark; // entries past `count` are overwritten later
    while (this.#runs > 0 && this.#runStart[this.#runs - 1] >= mark) this.#runs--;
    const r = this.#runs - 1; // a run kept in part: does a job remain in it?
    if (r >= 0 && this.#runJobs[r] === 1) {
      let any = 0;
      for (let i = this.#runStart[r]; i < mark; i++) {
        if (this.#jobs[i * CHECKSUM_JOB_WORDS + 2] !== NO_CHECKSUM) any = 1;
      }
      this.#runJobs[r] = any;
    }
  }

  /**
   * Seals every queued packet: one `sealBatch` per run of packets with the same SA in the same
   * chunk (with `checksums` when a packet of the run has a job). A run that throws (it cannot, for
   * packets the send path checked; defensive) reports each owner of the run to `failed`, whose
   * NBLs then fail instead of sending plaintext.
   */
  flush(failed: (owner: number) => void): void {
    const n = this.#count;
    for (let r = 0; r < this.#runs; r++) {
      const i = this.#runStart[r];
      const j = r + 1 < this.#runs ? this.#runStart[r + 1] : n;
      try {
        this.#runTransforms[r].sealBatch(
          new Uint8Array(this.#runBuffers[r]),
          this.#offsets.subarray(i, j),
          this.#lengths.subarray(i, j),
          this.#highs.subarray(i, j),
          j - i,
          true,
          this.#runJobs[r] === 0
            ? undefined
            : this.#jobs.subarray(i * CHECKSUM_JOB_WORDS, j * CHECKSUM_JOB_WORDS)
        );
      } catch {
        for (let k = i; k < j; k++) failed(this.#owners[k]);
      }
    }
    this.#count = 0;
    this.#runs = 0;
  }

  #grow(): void {
    const size = this.#offsets.length * 2;
    const grow = <T extends Uint32Array | Int32Array>(a: T, b: T): T => (b.set(a), b);
    this.#offsets = grow(this.#offsets, new Uint32Array(size));
    this.#lengths = grow(this.#lengths, new Uint32Array(size));
    this.#highs = grow(this.#highs, new Uint32Array(size));
    this.#owners = grow(this.#owners, new Int32Array(size));
    this.#jobs = grow(this.#jobs, new Uint32Array(size * CHECKSUM_JOB_WORDS));
  }
}
