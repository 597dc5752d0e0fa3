/**
 * @module
 * The ESP transform on the native batched engine (issue 6, native/engine.c): the same
 * `EspTransform` as esp.ts, byte for byte, but one keyed OpenSSL context per SA (the IV is the
 * only thing reset per packet) and batches that are one native call with no per-packet
 * JavaScript objects (`sealBatch`/`openBatch`: packets at offsets inside one Uint8Array).
 *
 * Covers every ESP algorithm esp.ts has: NULL + HMAC, DES/3DES/AES-CBC with or without HMAC
 * (DES as 3DES with K ‖ K ‖ K, as _cbc.ts), AES-GCM, ChaCha20-Poly1305 and NULL + AES-GMAC.
 * Configuration is checked by esp.ts's `createEsp` (same errors, same geometry); CBC IVs still
 * come from the SA's `Random`, in the same order, so output matches the node:crypto engine.
 *
 * `sealBatch` can also finish one checksum per packet just before sealing it (the NIC's checksum
 * engine and its cipher in one pass, issue 6): a TCP segment's checksum lies inside the bytes ESP
 * encrypts, so it must be written first (contract D13), and fusing the two saves the segment a
 * native call of its own (src/miniport/lso.ts).
 */
import { cbcCipher } from './_cbc.ts';
import { hmacHash } from './_hmac.ts';
import { nativeAddon, type NativeAddon } from './engine.ts';
import { createEsp, type EspConfig } from './esp.ts';
import { encryptionInfo, integrityInfo, type EncryptionName, type IntegrityName } from './names.ts';
import type { EspTransform, OpenResult, Random } from './transform.ts';

/** u32s per checksum job of `sealBatch`: start, end, field, seed. */
export const CHECKSUM_JOB_WORDS = 4;
/** A job's `field` word when the packet has no checksum job. */
export const NO_CHECKSUM = 0xffffffff;

/** An ESP transform that also seals and opens packets laid out inside one buffer. */
export interface BatchEspTransform extends EspTransform {
  /** True when `seal` draws the IV from Random (a CBC cipher, RFC 3602 §3), not the sequence number. */
  readonly randomIv: boolean;
  /**
   * Seals `count` packets in place: packet i is `buffer[offsets[i] … offsets[i] + lengths[i])`,
   * sealed as `seal(packet, seqHigh[i])` would (CBC IVs from the SA's Random, in order) — or, with
   * `ivsWritten`, as `seal(packet, seqHigh[i], iv)` with the IV already in each packet's IV field
   * (CBC: the caller drew it; GCM/GMAC/ChaCha20 still use the sequence number, contract D6).
   *
   * `checksums` (optional): CHECKSUM_JOB_WORDS u32s per packet, [start, end, field, seed] as
   * offsets into `buffer`; a field of NO_CHECKSUM means none. Before packet i is sealed, its job
   * writes the one's complement of seed + the sum of `buffer[start, end)` as big-endian 16-bit
   * words — with whatever the field holds at that moment — big-endian at `field` (RFC 1071; no
   * RFC 768 rule for 0: TCP). A job must lie inside its packet with start ≤ field ≤ end − 2; a
   * job that does not is a RangeError before anything is written.
   */
  sealBatch(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    ivsWritten?: boolean,
    checksums?: Uint32Array
  ): void;
  /** Opens `count` packets in place; results[i]: 0 'ok', 1 'icv-mismatch', 2 'bad-length'. */
  openBatch(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    results: Uint8Array
  ): void;
}

const RESULTS: readonly OpenResult[] = ['ok', 'icv-mismatch', 'bad-length'];

const MODE_NULL = 0;
const MODE_CBC = 1;
const MODE_AEAD = 2;
const MODE_GMAC = 3;

function checkUint32(value: number, where: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${where}: expected seqHigh as an integer 0 … 2^32 − 1, got ${value}`);
  }
}

function gcmName(keyLength: number): string {
  return `aes-${keyLength * 8}-gcm`;
}

class NativeEsp implements BatchEspTransform {
  readonly encryption: EncryptionName;
  readonly integrity: IntegrityName | null;
  readonly esn: boolean;
  readonly ivLength: number;
  readonly icvLength: number;
  readonly padAlign: number;
  readonly randomIv: boolean;
  readonly #addon: NativeAddon;
  readonly #sa: unknown;
  readonly #mode: number;
  readonly #random: Random | null;
  #offsets = new Uint32Array(1);
  #lengths = new Uint32Array(1);
  #highs = new Uint32Array(1);
  #results = new Uint8Array(1);
  #destroyed = false;

  constructor(addon: NativeAddon, config: EspConfig, geometry: EspTransform) {
    this.#addon = addon;
    this.encryption = geometry.encryption;
    this.integrity = geometry.integrity;
    this.esn = geometry.esn;
    this.ivLength = geometry.ivLength;
    this.icvLength = geometry.icvLength;
    this.padAlign = geometry.padAlign;
    this.#random = config.random ?? null;
    const enc = encryptionInfo(this.encryption);
    const integ = this.integrity === null ? null : integrityInfo(this.integrity);
    const hash = integ === null ? null : hmacHash(integ.name);
    const integrityKey = config.integrityKey ?? new Uint8Array(0);
    const cbc = cbcCipher(enc.name);
    let cipherName = '';
    let cipherKey: Uint8Array = new Uint8Array(0);
    let salt: Uint8Array = new Uint8Array(0);
    if (cbc !== null) {
      this.#mode = MODE_CBC;
      cipherName = cbc.algorithm;
      cipherKey = cbc.expandKey(config.encryptionKey);
    } else if (enc.combined) {
      this.#mode = MODE_AEAD;
      const keyLength = enc.keyLength - enc.saltLength;
      cipherName = enc.name === 'chacha20-poly1305' ? enc.name : gcmName(keyLength);
      cipherKey = config.encryptionKey.slice(0, keyLength);
      salt = config.encryptionKey.slice(keyLength); // RFC 4106 §8.1
    } else if (integ !== null && hash === null) {
      this.#mode = MODE_GMAC;
      const keyLength = integ.keyLength - integ.saltLength;
      cipherName = gcmName(keyLength);
      cipherKey = integrityKey.slice(0, keyLength);
      salt = integrityKey.slice(keyLength); // RFC 4543 §5.4
    } else {
      this.#mode = MODE_NULL;
    }
    this.randomIv = this.#mode === MODE_CBC;
    try {
      this.#sa = addon.createSa(
        this.#mode,
        cipherName,
        cipherKey,
        salt,
        hash ?? '',
        hash === null ? new Uint8Array(0) : integrityKey,
        this.icvLength,
        this.ivLength,
        enc.blockSize,
        this.padAlign,
        this.esn
      );
    } finally {
      cipherKey.fill(0);
      salt.fill(0);
    }
  }

  seal(packet: Uint8Array, seqHigh: number, iv?: Uint8Array): void {
    this.#prepare('esp.seal', packet, seqHigh, iv);
    this.#offsets[0] = 0;
    this.#lengths[0] = packet.length;
    this.#highs[0] = seqHigh;
    this.#addon.seal(
      this.#sa,
      packet,
      this.#offsets,
      this.#lengths,
      this.#highs,
      1,
      this.#ivPresent(iv)
    );
  }

  open(packet: Uint8Array, seqHigh: number): OpenResult {
    this.#live('esp.open');
    checkUint32(seqHigh, 'esp.open');
    this.#offsets[0] = 0;
    this.#lengths[0] = packet.length;
    this.#highs[0] = seqHigh;
    this.#addon.open(this.#sa, packet, this.#offsets, this.#lengths, this.#highs, 1, this.#results);
    return RESULTS[this.#results[0]];
  }

  sealMany(packets: readonly Uint8Array[], seqHigh: ArrayLike<number>): void {
    if (seqHigh.length !== packets.length) {
      throw new RangeError(
        `esp.sealMany: expected ${packets.length} seqHigh values, got ${seqHigh.length}`
      );
    }
    const buffer = this.#shared(packets);
    if (buffer === null) {
      for (let i = 0; i < packets.length; i++) this.seal(packets[i], seqHigh[i]);
      return;
    }
    // Prepare in order (checks, CBC IVs from Random) as `seal` would; on the first bad packet
    // seal the ones before it, then throw — the node:crypto engine's behaviour.
    let failure: Error | null = null;
    let count = 0;
    for (; count < packets.length; count++) {
      try {
        this.#prepare('esp.seal', packets[count], seqHigh[count], undefined);
      } catch (e) {
        failure = e instanceof Error ? e : new Error(String(e));
        break;
      }
    }
    this.#fill(packets, seqHigh, count);
    if (count > 0) {
      this.#addon.seal(
        this.#sa,
        buffer,
        this.#offsets,
        this.#lengths,
        this.#highs,
        count,
        this.#mode === MODE_CBC
      );
    }
    if (failure !== null) throw failure;
  }

  openMany(
    packets: readonly Uint8Array[],
    seqHigh: ArrayLike<number>,
    results: OpenResult[]
  ): void {
    if (seqHigh.length !== packets.length) {
      throw new RangeError(
        `esp.openMany: expected ${packets.length} seqHigh values, got ${seqHigh.length}`
      );
    }
    const buffer = this.#shared(packets);
    if (buffer === null) {
      for (let i = 0; i < packets.length; i++) results[i] = this.open(packets[i], seqHigh[i]);
      return;
    }
    this.#live('esp.open');
    for (let i = 0; i < packets.length; i++) checkUint32(seqHigh[i], 'esp.open');
    this.#fill(packets, seqHigh, packets.length);
    this.#addon.open(
      this.#sa,
      buffer,
      this.#offsets,
      this.#lengths,
      this.#highs,
      packets.length,
      this.#results
    );
    for (let i = 0; i < packets.length; i++) results[i] = RESULTS[this.#results[i]];
  }

  sealBatch(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    ivsWritten = false,
    checksums?: Uint32Array
  ): void {
    this.#live('esp.sealBatch');
    if (this.#mode === MODE_CBC && !ivsWritten) {
      const random = this.#random;
      if (random === null) {
        throw new TypeError(
          `esp.sealBatch: expected a Random (this ${this.encryption} SA has none), got none`
        );
      }
      for (let i = 0; i < count; i++) {
        const at = buffer.byteOffset + offsets[i] + 8;
        random.fill(new Uint8Array(buffer.buffer, at, this.ivLength)); // RFC 3602 §3
      }
    }
    const ivPresent = this.#mode === MODE_CBC;
    if (checksums === undefined) {
      this.#addon.seal(this.#sa, buffer, offsets, lengths, seqHigh, count, ivPresent);
    } else {
      this.#addon.sealWithChecksums(
        this.#sa,
        buffer,
        offsets,
        lengths,
        seqHigh,
        count,
        ivPresent,
        checksums
      );
    }
  }

  openBatch(
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    results: Uint8Array
  ): void {
    this.#live('esp.openBatch');
    this.#addon.open(this.#sa, buffer, offsets, lengths, seqHigh, count, results);
  }

  destroy(): void {
    if (!this.#destroyed) this.#addon.destroySa(this.#sa);
    this.#destroyed = true;
  }

  #live(where: string): void {
    if (this.#destroyed) {
      throw new TypeError(`${where}: expected a live transform, got one ended by destroy()`);
    }
  }

  #ivPresent(iv: Uint8Array | undefined): boolean {
    return iv !== undefined || this.#mode === MODE_CBC;
  }

  /** esp.ts `seal` up to the cipher: checks, then the IV field (explicit or CBC Random). */
  #prepare(where: string, packet: Uint8Array, seqHigh: number, iv: Uint8Array | undefined): void {
    this.#live(where);
    checkUint32(seqHigh, where);
    const bodyStart = 8 + this.ivLength;
    const bodyLength = packet.length - this.icvLength - bodyStart;
    if (bodyLength < 2 || bodyLength % this.padAlign !== 0) {
      throw new RangeError(
        `${where}: expected 8 + ${this.ivLength} (IV) + a positive multiple of ${this.padAlign} ` +
          `(payload through next header) + ${this.icvLength} (ICV) bytes, got ${packet.length}`
      );
    }
    const ivField = packet.subarray(8, bodyStart);
    if (iv !== undefined) {
      if (iv.length !== this.ivLength) {
        const name =
          this.integrity === null ? this.encryption : `${this.encryption}+${this.integrity}`;
        throw new RangeError(
          `${where}: expected a ${this.ivLength}-byte iv for ${name}, got ${iv.length} bytes`
        );
      }
      ivField.set(iv);
    } else if (this.#mode === MODE_CBC) {
      if (this.#random === null) {
        throw new TypeError(
          `${where}: expected an iv (this ${this.encryption} SA has no Random), got none`
        );
      }
      this.#random.fill(ivField);
    }
  }

  /** The whole-buffer view all `packets` share, or null when they do not share one. */
  #shared(packets: readonly Uint8Array[]): Uint8Array | null {
    if (packets.length === 0) return null;
    const buffer = packets[0].buffer;
    for (const p of packets) if (p.buffer !== buffer) return null;
    return new Uint8Array(buffer, 0, buffer.byteLength);
  }

  #fill(packets: readonly Uint8Array[], seqHigh: ArrayLike<number>, count: number): void {
    if (this.#offsets.length < count) {
      this.#offsets = new Uint32Array(count);
      this.#lengths = new Uint32Array(count);
      this.#highs = new Uint32Array(count);
      this.#results = new Uint8Array(count);
    }
    for (let i = 0; i < count; i++) {
      this.#offsets[i] = packets[i].byteOffset;
      this.#lengths[i] = packets[i].length;
      this.#highs[i] = seqHigh[i];
    }
  }
}

/** True when the native engine is loaded (every ESP algorithm of esp.ts is covered). */
export function nativeEspAvailable(): boolean {
  return nativeAddon() !== null;
}

/**
 * Creates the ESP transform of one SA on the native engine; `config` is checked exactly as
 * `createEsp` checks it. Throws a TypeError when the addon is not loaded.
 */
export function createNativeEsp(config: EspConfig): BatchEspTransform {
  const addon = nativeAddon();
  if (addon === null) {
    throw new TypeError('createNativeEsp: expected the native engine loaded, got node:crypto');
  }
  const geometry = createEsp(config); // the same checks and errors as the node:crypto engine
  geometry.destroy();
  return new NativeEsp(addon, config, geometry);
}

/** The ESP transform on the active engine: native when loaded, else node:crypto (`createEsp`). */
export function createEspOnEngine(config: EspConfig): EspTransform {
  return nativeAddon() === null ? createEsp(config) : createNativeEsp(config);
}
