/**
 * @module
 * The receive path's per-adapter state (issue 6: no per-packet allocation, batches per call):
 * like a NIC's receive descriptor ring, one {@link RxWork} record per frame of a batch, reused
 * from batch to batch; the NBL pool (recv-pool.ts); the hot counters resolved once to slots
 * (counters.ts `slot`/`bump`); and the scratch arrays of the batched ESP open (recv-batch.ts).
 *
 * Nothing here knows the receive rules: receive.ts, recv-bundle.ts and recv-batch.ts fill and read
 * these records.
 */
import type { NetBufferList } from '../ndis/nbl.ts';
import { CryptoStatus } from '../ndis/oid.ts';
import type { Counters } from './counters.ts';
import { RxLayer } from './recv-locate.ts';
import { RxNblPool } from './recv-pool.ts';
import type { HighCandidates } from './recv-state.ts';
import type { SaBundle, SaElement } from './sa-table.ts';
import type { L2 } from './send-locate.ts';
import { IpLayer, Outcome } from './send-work.ts';

const EMPTY = new Uint8Array(0);

/** `CRYPTO_TRANSPORT_ESP_AUTH_FAILED` → `transport-esp-auth-failed`, by value (counter names). */
const CRYPTO_KEYS: readonly string[] = Object.entries(CryptoStatus)
  .sort(([, a], [, b]) => a - b)
  .map(([name]) =>
    name
      .replace(/^CRYPTO_/, '')
      .toLowerCase()
      .replaceAll('_', '-')
  );

/** The counter-name form of a CryptoStatus value. */
export function cryptoKey(cryptoStatus: number): string {
  return CRYPTO_KEYS[cryptoStatus] ?? `unknown-${cryptoStatus}`;
}

/** Where a frame of a batch stands between the batch's phases (receive.ts). */
export const Stage = {
  /** Rules 1–4 are over for this frame: only rules 5–7 (the OOB) remain. */
  Done: 0,
  /** Its outer bundle is processed whole, in frame order, in the last phase (AH bundles). */
  Sequential: 1,
  /** Its ESP packet is checked and waits for the batch's open (ESP-only bundles). */
  EspPending: 2,
} as const;

/**
 * A batch's frames are checked for shared bytes against every buffer they live in; past this
 * many buffers the batch so far is processed first (the check stays short, the result the same).
 */
export const RX_BATCH_BUFFERS = 16;

/** A batch longer than this is processed in parts of this many frames (bounds the records kept). */
export const RX_BATCH_FRAMES = 256;

/** At most this many SA elements of one batch open with openBatch (recv-batch.ts). */
export const RX_BATCH_GROUPS = 16;

/** Not opened by the batch: the last phase opens the packet itself. */
export const NOT_OPENED = -1;

/**
 * The receive path's working state for one frame of a batch: the parsed layers, the ESP packet
 * waiting for the batch's open, and the result that becomes the NBL's OOB.
 */
export class RxWork {
  /** The frame (a caller's receive buffer) and the NBL that indicates it. */
  frame: Uint8Array = EMPTY;
  nbl: NetBufferList | null = null;
  stage: number = Stage.Done;
  readonly l2: L2 = { ipStart: 0, version: 0, tagged: false };
  readonly outer: RxLayer = new RxLayer(new IpLayer());
  readonly inner: RxLayer = new RxLayer(new IpLayer());
  /** For send-locate's checkIpsecLayer (rule 3 reasons). */
  readonly outcome: Outcome = new Outcome();
  readonly candidates: HighCandidates = { first: 0, second: -1 };
  /** The bundle the packet matched (rule 2), or null: then no IPsecOV2 OOB is set. */
  matched: SaBundle | null = null;
  /** The inner (transport) bundle of transport over tunnel, once matched. */
  innerMatched: SaBundle | null = null;
  cryptoDone = false;
  nextCryptoDone = false;
  /** An ICV of the bundle being processed was checked (successfully or not). */
  checked = false;
  status: number = CryptoStatus.CRYPTO_SUCCESS;
  saDeleteReq = false;
  /** The ESN high half AH verified with (contract D3). */
  ahHigh = 0;
  /** The element a failure is counted on. */
  failedElement: SaElement | null = null;
  headerSet = false;
  nextHeader = 0;
  padLength = 0;
  /** What the last bundle protected: its payload and Next Header. */
  payloadStart = 0;
  payloadEnd = 0;
  payloadProtocol = 0;

  // The bundle being processed (recv-bundle.ts) and its ESP packet, between check and open.
  ahElement: SaElement | null = null;
  espElement: SaElement | null = null;
  /** The ESP packet: [espAt, espEnd) of the frame; its body and ICV; its low sequence half. */
  espAt = 0;
  espEnd = 0;
  bodyStart = 0;
  icvStart = 0;
  low = 0;
  /** The IP packet's length (per-SA byte counts). */
  ipBytes = 0;
  /** The ESN high half the ESP packet opened with (contract D3). */
  espHigh = 0;
  /** The batch's open result (0 ok, 1 icv-mismatch, 2 bad-length) or NOT_OPENED. */
  opened: number = NOT_OPENED;
  /** The candidates the batch opened with (estimated before the batch's first frame). */
  readonly tried: HighCandidates = { first: 0, second: -1 };
  /** The next pending frame of the same SA element in this batch (index), or -1. */
  nextInGroup = -1;

  /** Forgets the previous frame. */
  begin(frame: Uint8Array): void {
    this.frame = frame;
    this.nbl = null;
    this.stage = Stage.Done;
    this.matched = null;
    this.innerMatched = null;
    this.cryptoDone = false;
    this.nextCryptoDone = false;
    this.checked = false;
    this.status = CryptoStatus.CRYPTO_SUCCESS;
    this.saDeleteReq = false;
    this.ahHigh = 0;
    this.failedElement = null;
    this.headerSet = false;
    this.nextHeader = 0;
    this.padLength = 0;
    this.payloadStart = 0;
    this.payloadEnd = 0;
    this.payloadProtocol = 0;
    this.ahElement = null;
    this.espElement = null;
    this.opened = NOT_OPENED;
    this.nextInGroup = -1;
  }

  /** Drops the references to the frame and SAs once the batch is over. */
  release(): void {
    this.frame = EMPTY;
    this.nbl = null;
    this.matched = null;
    this.innerMatched = null;
    this.failedElement = null;
    this.ahElement = null;
    this.espElement = null;
  }
}

/** The counter slots the receive path bumps per frame (module counters.ts). */
export class RxSlots {
  readonly frame: number;
  readonly indicated: number;
  readonly offloadDisabled: number;
  readonly notIp: number;
  readonly ipHeader: number;
  readonly plain: number;
  readonly noSa: number;
  readonly cryptoDone: number;
  readonly nextCryptoDone: number;
  readonly saDeleteReq: number;
  readonly esnRetry: number;
  readonly internal: number;
  /** `receive.crypto:<code>` by CryptoStatus value. */
  readonly crypto: readonly number[];

  constructor(counters: Counters) {
    this.frame = counters.slot('receive.frame');
    this.indicated = counters.slot('receive.indicated');
    this.offloadDisabled = counters.slot('receive.offload-disabled');
    this.notIp = counters.slot('receive.not-ip');
    this.ipHeader = counters.slot('receive.ip-header');
    this.plain = counters.slot('receive.plain');
    this.noSa = counters.slot('receive.no-sa');
    this.cryptoDone = counters.slot('receive.crypto-done');
    this.nextCryptoDone = counters.slot('receive.next-crypto-done');
    this.saDeleteReq = counters.slot('receive.sa-delete-req');
    this.esnRetry = counters.slot('receive.esn-retry');
    this.internal = counters.slot('receive.internal');
    const crypto: number[] = [];
    for (let s = 0; s <= CryptoStatus.CRYPTO_INVALID_PROTOCOL; s++) {
      crypto.push(counters.slot(`receive.crypto:${cryptoKey(s)}`));
    }
    this.crypto = crypto;
  }
}

/** One adapter's receive state (a field of the Miniport). */
export class RxContext {
  readonly counters: Counters;
  readonly slots: RxSlots;
  readonly pool: RxNblPool;
  /** One record per frame of the batch being processed (grown on demand, never shrunk). */
  readonly works: RxWork[] = [];
  /** A batch is being processed (a nested call gets a context of its own). */
  busy = false;
  /** Scratch for the destination address of the SA lookup (rule 2). */
  readonly destination4: Uint8Array = new Uint8Array(4);
  readonly destination16: Uint8Array = new Uint8Array(16);
  /** The ArrayBuffers the frames of the batch live in, and the end of the last frame in each. */
  readonly #buffers: (ArrayBufferLike | null)[] = [];
  readonly #ends: number[] = [];
  #bufferCount = 0;
  /** The SA elements of the batch's pending packets, each with its first and last frame. */
  readonly groupElements: (SaElement | null)[] = [];
  readonly groupHeads: number[] = [];
  readonly groupTails: number[] = [];
  /** openBatch arguments (grown to the batch size). */
  offsets: Uint32Array = new Uint32Array(64);
  lengths: Uint32Array = new Uint32Array(64);
  highs: Uint32Array = new Uint32Array(64);
  results: Uint8Array = new Uint8Array(64);

  /** A context over `counters`, taking its NBLs from `pool` (a nested call shares the adapter's). */
  constructor(counters: Counters, pool: RxNblPool = new RxNblPool()) {
    this.counters = counters;
    this.pool = pool;
    this.slots = new RxSlots(counters);
  }

  /** The record for frame `i` of the batch. */
  work(i: number): RxWork {
    while (this.works.length <= i) this.works.push(new RxWork());
    return this.works[i];
  }

  /**
   * Takes `frame` into the batch unless it shares bytes with an earlier frame of the batch (or
   * the batch already spans RX_BATCH_BUFFERS buffers): then returns false and forgets the batch's
   * frames, and the caller processes the batch so far before it places the frame again.
   */
  placeFrame(frame: Uint8Array): boolean {
    const buffer = frame.buffer;
    const buffers = this.#buffers;
    let j = this.#bufferCount - 1;
    while (j >= 0 && buffers[j] !== buffer) j--;
    if (j < 0) {
      if (this.#bufferCount === RX_BATCH_BUFFERS) {
        this.forgetFrames();
        return false;
      }
      j = this.#bufferCount++;
      buffers[j] = buffer;
      this.#ends[j] = 0;
    } else if (frame.byteOffset < this.#ends[j]) {
      this.forgetFrames();
      return false;
    }
    this.#ends[j] = Math.max(this.#ends[j], frame.byteOffset + frame.length);
    return true;
  }

  /** Forgets the frames placed so far (and their buffers). */
  forgetFrames(): void {
    this.#buffers.fill(null, 0, this.#bufferCount);
    this.#bufferCount = 0;
  }

  /** Room for `n` packets in the openBatch arguments. */
  reserve(n: number): void {
    if (this.offsets.length >= n) return;
    const size = Math.max(n, this.offsets.length * 2);
    this.offsets = new Uint32Array(size);
    this.lengths = new Uint32Array(size);
    this.highs = new Uint32Array(size);
    this.results = new Uint8Array(size);
  }
}
