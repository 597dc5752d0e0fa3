/**
 * @module
 * The ESP transform (RFC 4303) on node:crypto: one keyed object per SA that seals and opens
 * packets in place. Packet layout (transform.ts):
 * `SPI(4) ‖ Seq(4) ‖ IV ‖ payload ‖ padding ‖ padLength ‖ nextHeader ‖ ICV`.
 *
 * Algorithms and where each input comes from:
 * - CBC ciphers — DES (RFC 2405), 3DES (RFC 2451), AES (RFC 3602) — with or without an HMAC
 *   (RFC 2403, RFC 2404, RFC 4868): encrypt payload through next header under the explicit IV,
 *   then ICV = truncated HMAC over SPI ‖ Seq ‖ IV ‖ ciphertext ‖ [seqHigh] (RFC 4303 §3.3.2.1
 *   step 4: the ESN high half is appended after Next Header, never transmitted).
 * - NULL + HMAC (RFC 2410): the same ICV over the plaintext.
 * - AES-GCM (RFC 4106): nonce = salt ‖ IV (§4), AAD = SPI ‖ Seq or SPI ‖ seqHigh ‖ seqLow (§5),
 *   ICV = tag of 8, 12 or 16 bytes (§6).
 * - ChaCha20-Poly1305 (RFC 7634): nonce = salt ‖ IV (§2), the AAD of RFC 4106 (§2.1), 16-byte tag.
 * - NULL + AES-GMAC = ENCR_NULL_AUTH_AES_GMAC (RFC 4543 §3): nothing is encrypted; GCM with an
 *   empty plaintext over AAD = SPI ‖ [seqHigh] ‖ seqLow ‖ IV ‖ payload ‖ padding ‖ pad length ‖
 *   next header (§3.3 Figures 2 and 3; draft-mcgrew-gcm-test-01 §3: the IV is part of the
 *   "Authenticated Payload"), 16-byte ICV (§3.4).
 *
 * IVs (contract D6): GCM, ChaCha20 and GMAC use the 64-bit sequence number seqHigh ‖ seqLow as IV
 * (RFC 4106 §3.1 allows a counter); CBC IVs come from the injected `Random` (RFC 3602 §3: random);
 * `seal`'s `iv` argument overrides both, for known-answer tests and the golden-model input.
 */
import {
  createCipheriv,
  createDecipheriv,
  type CipherChaCha20Poly1305,
  type CipherChaCha20Poly1305Types,
  type CipherGCM,
  type CipherGCMTypes,
  type DecipherChaCha20Poly1305,
  type DecipherGCM,
} from 'node:crypto';
import { cbcCipher, cbcDecryptInPlace, cbcEncryptInPlace, type CbcCipher } from './_cbc.ts';
import { equalConstantTime, hmacHash, hmacInto, type HashName } from './_hmac.ts';
import {
  encryptionInfo,
  integrityInfo,
  toEncryptionName,
  toIntegrityName,
  type EncryptionInfo,
  type EncryptionName,
  type IntegrityInfo,
  type IntegrityName,
} from './names.ts';
import type { EspTransform, OpenResult, Random } from './transform.ts';

/** The keys and choices of one ESP SA. */
export interface EspConfig {
  readonly encryption: EncryptionName;
  /** The integrity algorithm, or null for combined modes and for confidentiality-only CBC. */
  readonly integrity: IntegrityName | null;
  /** Encryption key bytes as in the SA's key buffer (GCM, ChaCha20: key ‖ 4-byte salt; null: 0). */
  readonly encryptionKey: Uint8Array;
  /** Integrity key bytes (GMAC: AES key ‖ 4-byte salt); required iff `integrity` is not null. */
  readonly integrityKey?: Uint8Array;
  /** ICV bytes; only AES-GCM has a choice (8, 12 or 16; default 16, RFC 4106 §6). */
  readonly icvLength?: number;
  /** Extended (64-bit) sequence numbers (RFC 4303 §2.2.1). */
  readonly esn: boolean;
  /** Where CBC IVs come from (contract D6); without it every CBC `seal` needs an explicit `iv`. */
  readonly random?: Random;
}

type Mode = 'null' | 'cbc' | 'aead' | 'gmac';
type AeadAlgorithm = CipherGCMTypes | CipherChaCha20Poly1305Types;

function aeadCipher(
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  authTagLength: number
): CipherGCM | CipherChaCha20Poly1305 {
  return algorithm === 'chacha20-poly1305'
    ? createCipheriv(algorithm, key, nonce, { authTagLength })
    : createCipheriv(algorithm, key, nonce, { authTagLength });
}

function aeadDecipher(
  algorithm: AeadAlgorithm,
  key: Uint8Array,
  nonce: Uint8Array,
  authTagLength: number
): DecipherGCM | DecipherChaCha20Poly1305 {
  return algorithm === 'chacha20-poly1305'
    ? createDecipheriv(algorithm, key, nonce, { authTagLength })
    : createDecipheriv(algorithm, key, nonce, { authTagLength });
}

function gcmAlgorithm(keyLength: number): CipherGCMTypes {
  return keyLength === 32 ? 'aes-256-gcm' : keyLength === 24 ? 'aes-192-gcm' : 'aes-128-gcm';
}

function keyWords(keyLength: number, saltLength: number, cipher: string): string {
  return saltLength > 0
    ? `${keyLength - saltLength}-byte ${cipher} key ‖ ${saltLength}-byte salt`
    : `${keyLength}-byte ${cipher} key`;
}

/** What a non-key value is, for a message: 'none' or its typeof (keys are never shown). */
function kind(v: unknown): string {
  return v === undefined ? 'none' : typeof v;
}

function isBytes(v: unknown): v is Uint8Array {
  return v instanceof Uint8Array;
}

/** Checks a sequence number half: an integer 0 … 2^32 − 1 (RFC 4303 §2.2.1). */
function checkUint32(value: number, where: string, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${where}: expected ${what} as an integer 0 … 2^32 − 1, got ${value}`);
  }
}

class Esp implements EspTransform {
  readonly encryption: EncryptionName;
  readonly integrity: IntegrityName | null;
  readonly esn: boolean;
  readonly ivLength: number;
  readonly icvLength: number;
  readonly padAlign: number;
  readonly #mode: Mode;
  readonly #blockSize: number;
  /** node:crypto name of the CBC cipher ('' for the other modes). */
  readonly #algorithm: string;
  /** node:crypto name of the GCM or ChaCha20-Poly1305 cipher (GMAC runs on GCM). */
  readonly #aead: AeadAlgorithm;
  /** Cipher key without salt (DES expanded to K ‖ K ‖ K); for GMAC the AES key. */
  readonly #cipherKey: Uint8Array;
  readonly #hash: HashName | null;
  readonly #hmacKey: Uint8Array;
  readonly #random: Random | null;
  /** salt ‖ IV: the 12-byte nonce of GCM, ChaCha20 and GMAC; the salt stays in bytes 0–3. */
  readonly #nonce = new Uint8Array(12);
  /** SPI ‖ [seqHigh] ‖ seqLow: the AAD of GCM and ChaCha20 (RFC 4106 §5). */
  readonly #aad = new Uint8Array(12);
  /** seqHigh, big-endian, for the HMAC and GMAC inputs. */
  readonly #high = new Uint8Array(4);
  readonly #highView = new DataView(this.#high.buffer);
  /** Room for a computed ICV while it is compared. */
  readonly #icv: Uint8Array;
  #destroyed = false;

  constructor(
    enc: EncryptionInfo,
    integ: IntegrityInfo | null,
    encryptionKey: Uint8Array,
    integrityKey: Uint8Array,
    icvLength: number,
    esn: boolean,
    random: Random | null
  ) {
    this.encryption = enc.name;
    this.integrity = integ?.name ?? null;
    this.esn = esn;
    this.icvLength = icvLength;
    this.padAlign = enc.padAlign;
    this.#blockSize = enc.blockSize;
    this.#random = random;
    this.#icv = new Uint8Array(icvLength);
    this.#hash = integ === null ? null : hmacHash(integ.name);
    this.#hmacKey = this.#hash === null ? new Uint8Array(0) : new Uint8Array(integrityKey);
    const cbc: CbcCipher | null = cbcCipher(enc.name);
    if (cbc !== null) {
      this.#mode = 'cbc';
      this.#algorithm = cbc.algorithm;
      this.#aead = 'aes-128-gcm';
      this.#cipherKey = cbc.expandKey(encryptionKey);
      this.ivLength = enc.ivLength;
    } else if (enc.combined) {
      this.#mode = 'aead';
      const keyLength = enc.keyLength - enc.saltLength;
      this.#algorithm = '';
      this.#aead = enc.name === 'chacha20-poly1305' ? enc.name : gcmAlgorithm(keyLength);
      this.#cipherKey = encryptionKey.slice(0, keyLength);
      this.#nonce.set(encryptionKey.subarray(keyLength)); // RFC 4106 §8.1: salt = last 4 bytes
      this.ivLength = enc.ivLength;
    } else if (integ !== null && this.#hash === null) {
      this.#mode = 'gmac';
      const keyLength = integ.keyLength - integ.saltLength;
      this.#algorithm = '';
      this.#aead = gcmAlgorithm(keyLength);
      this.#cipherKey = integrityKey.slice(0, keyLength);
      this.#nonce.set(integrityKey.subarray(keyLength)); // RFC 4543 §5.4: salt = last 4 bytes
      this.ivLength = integ.ivLength;
    } else {
      this.#mode = 'null';
      this.#algorithm = '';
      this.#aead = 'aes-128-gcm';
      this.#cipherKey = new Uint8Array(0);
      this.ivLength = 0;
    }
  }

  seal(packet: Uint8Array, seqHigh: number, iv?: Uint8Array): void {
    this.#check('esp.seal', seqHigh);
    const bodyStart = 8 + this.ivLength;
    const bodyEnd = packet.length - this.icvLength;
    const bodyLength = bodyEnd - bodyStart;
    if (bodyLength < 2 || bodyLength % this.padAlign !== 0) {
      throw new RangeError(
        `esp.seal: expected 8 + ${this.ivLength} (IV) + a positive multiple of ${this.padAlign} ` +
          `(payload through next header) + ${this.icvLength} (ICV) bytes, got ${packet.length}`
      );
    }
    const ivField = packet.subarray(8, bodyStart);
    if (iv !== undefined) {
      if (iv.length !== this.ivLength) {
        throw new RangeError(
          `esp.seal: expected a ${this.ivLength}-byte iv for ${this.#name()}, got ${iv.length} bytes`
        );
      }
      ivField.set(iv);
    } else if (this.#mode === 'cbc') {
      if (this.#random === null) {
        throw new TypeError(
          `esp.seal: expected an iv (this ${this.encryption} SA has no Random), got none`
        );
      }
      this.#random.fill(ivField); // RFC 3602 §3: the IV MUST be unpredictable
    } else if (this.#mode === 'aead' || this.#mode === 'gmac') {
      // Contract D6, RFC 4106 §3.1: IV = the 64-bit sequence number seqHigh ‖ seqLow.
      const high = this.#highOrZero(seqHigh);
      ivField[0] = high >>> 24;
      ivField[1] = high >>> 16;
      ivField[2] = high >>> 8;
      ivField[3] = high;
      ivField.set(packet.subarray(4, 8), 4);
    }
    const body = packet.subarray(bodyStart, bodyEnd);
    const icv = packet.subarray(bodyEnd);
    switch (this.#mode) {
      case 'cbc':
        cbcEncryptInPlace(this.#algorithm, this.#cipherKey, ivField, body);
        this.#hmac(packet, bodyEnd, seqHigh, icv);
        return;
      case 'null':
        this.#hmac(packet, bodyEnd, seqHigh, icv);
        return;
      case 'aead': {
        this.#nonce.set(ivField, 4); // RFC 4106 §4, RFC 7634 §2: nonce = salt ‖ IV
        const cipher = aeadCipher(this.#aead, this.#cipherKey, this.#nonce, this.icvLength);
        cipher.setAAD(this.#aeadAad(packet, seqHigh), { plaintextLength: body.length });
        const out = cipher.update(body);
        cipher.final();
        body.set(out);
        icv.set(cipher.getAuthTag());
        return;
      }
      case 'gmac': {
        this.#nonce.set(ivField, 4); // RFC 4543 §3.2: nonce = salt ‖ IV
        const cipher = aeadCipher(this.#aead, this.#cipherKey, this.#nonce, 16);
        this.#gmacAad(cipher, packet, bodyEnd, seqHigh);
        cipher.final(); // RFC 4543 §2: GMAC is GCM with an empty plaintext
        icv.set(cipher.getAuthTag());
        return;
      }
    }
  }

  open(packet: Uint8Array, seqHigh: number): OpenResult {
    this.#check('esp.open', seqHigh);
    const bodyStart = 8 + this.ivLength;
    const bodyEnd = packet.length - this.icvLength;
    const bodyLength = bodyEnd - bodyStart;
    // RFC 4303 §2.4, §2.5, §2.6: at least Pad Length and Next Header, in whole cipher blocks.
    if (bodyLength < 2 || bodyLength % this.#blockSize !== 0) return 'bad-length';
    const ivField = packet.subarray(8, bodyStart);
    const body = packet.subarray(bodyStart, bodyEnd);
    const icv = packet.subarray(bodyEnd);
    switch (this.#mode) {
      case 'cbc':
        if (this.#hash !== null) {
          this.#hmac(packet, bodyEnd, seqHigh, this.#icv);
          if (!equalConstantTime(this.#icv, icv)) return 'icv-mismatch';
        }
        cbcDecryptInPlace(this.#algorithm, this.#cipherKey, ivField, body);
        return 'ok';
      case 'null':
        this.#hmac(packet, bodyEnd, seqHigh, this.#icv);
        return equalConstantTime(this.#icv, icv) ? 'ok' : 'icv-mismatch';
      case 'aead': {
        this.#nonce.set(ivField, 4);
        const decipher = aeadDecipher(this.#aead, this.#cipherKey, this.#nonce, this.icvLength);
        decipher.setAAD(this.#aeadAad(packet, seqHigh), { plaintextLength: body.length });
        decipher.setAuthTag(icv);
        const out = decipher.update(body);
        try {
          decipher.final(); // throws when the tag does not verify
        } catch {
          out.fill(0); // never release unverified plaintext
          return 'icv-mismatch';
        }
        body.set(out);
        out.fill(0);
        return 'ok';
      }
      case 'gmac': {
        this.#nonce.set(ivField, 4);
        const decipher = aeadDecipher(this.#aead, this.#cipherKey, this.#nonce, 16);
        this.#gmacAad(decipher, packet, bodyEnd, seqHigh);
        decipher.setAuthTag(icv);
        try {
          decipher.final();
        } catch {
          return 'icv-mismatch';
        }
        return 'ok';
      }
    }
  }

  sealMany(packets: readonly Uint8Array[], seqHigh: ArrayLike<number>): void {
    if (seqHigh.length !== packets.length) {
      throw new RangeError(
        `esp.sealMany: expected ${packets.length} seqHigh values, got ${seqHigh.length}`
      );
    }
    for (let i = 0; i < packets.length; i++) this.seal(packets[i], seqHigh[i]);
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
    for (let i = 0; i < packets.length; i++) results[i] = this.open(packets[i], seqHigh[i]);
  }

  destroy(): void {
    this.#cipherKey.fill(0);
    this.#hmacKey.fill(0);
    this.#nonce.fill(0);
    this.#destroyed = true;
  }

  #name(): string {
    return this.integrity === null ? this.encryption : `${this.encryption}+${this.integrity}`;
  }

  #check(where: string, seqHigh: number): void {
    if (this.#destroyed) {
      throw new TypeError(`${where}: expected a live transform, got one ended by destroy()`);
    }
    checkUint32(seqHigh, where, 'seqHigh');
  }

  /** The high half that enters IVs: seqHigh with ESN, 0 without (RFC 4303 §2.2.1). */
  #highOrZero(seqHigh: number): number {
    return this.esn ? seqHigh : 0;
  }

  /** RFC 4106 §5, RFC 7634 §2.1: SPI ‖ Seq (8 bytes) or SPI ‖ seqHigh ‖ seqLow (12, ESN). */
  #aeadAad(packet: Uint8Array, seqHigh: number): Uint8Array {
    this.#aad.set(packet.subarray(0, 4), 0);
    if (!this.esn) {
      this.#aad.set(packet.subarray(4, 8), 4);
      return this.#aad.subarray(0, 8);
    }
    new DataView(this.#aad.buffer).setUint32(4, seqHigh);
    this.#aad.set(packet.subarray(4, 8), 8);
    return this.#aad;
  }

  /** RFC 4543 §3.3: AAD = SPI ‖ [seqHigh] ‖ seqLow ‖ IV ‖ payload ‖ padding ‖ trailer. */
  #gmacAad(
    cipher: { setAAD(data: Uint8Array, options: { plaintextLength: number }): unknown },
    packet: Uint8Array,
    bodyEnd: number,
    seqHigh: number
  ): void {
    const empty = { plaintextLength: 0 };
    if (!this.esn) {
      cipher.setAAD(packet.subarray(0, bodyEnd), empty);
      return;
    }
    // GCM takes its AAD in pieces, so the 4 bytes of seqHigh need no copy of the packet.
    this.#highView.setUint32(0, seqHigh);
    cipher.setAAD(packet.subarray(0, 4), empty);
    cipher.setAAD(this.#high, empty);
    cipher.setAAD(packet.subarray(4, bodyEnd), empty);
  }

  /** RFC 4303 §3.3.2.1 step 4: truncated HMAC over SPI … Next Header ‖ [seqHigh] into `out`. */
  #hmac(packet: Uint8Array, bodyEnd: number, seqHigh: number, out: Uint8Array): void {
    if (this.#hash === null) return;
    const covered = packet.subarray(0, bodyEnd);
    if (this.esn) {
      this.#highView.setUint32(0, seqHigh);
      hmacInto(this.#hash, this.#hmacKey, [covered, this.#high], out);
    } else {
      hmacInto(this.#hash, this.#hmacKey, [covered], out);
    }
  }
}

/**
 * Creates the ESP transform of one SA, checking names, combinations, key lengths and the ICV
 * length (TypeError / RangeError "createEsp: expected …, got …"; keys are never shown).
 */
export function createEsp(config: EspConfig): EspTransform {
  const where = 'createEsp';
  const encName = toEncryptionName(config.encryption, where);
  const integName = config.integrity === null ? null : toIntegrityName(config.integrity, where);
  if (typeof config.esn !== 'boolean') {
    throw new TypeError(`${where}: expected esn true or false, got ${String(config.esn)}`);
  }
  const enc = encryptionInfo(encName);
  const integ = integName === null ? null : integrityInfo(integName);

  // Combinations.
  if (enc.combined && integ !== null) {
    throw new TypeError(
      `${where}: expected integrity null with the combined mode ${enc.name} (${enc.rfc}: the ` +
        `cipher makes the ICV), got ${integ.name}`
    );
  }
  if (enc.name === 'null' && integ === null) {
    throw new TypeError(
      `${where}: expected an integrity algorithm with encryption null (RFC 4303 §3.2: both ` +
        `MUST NOT be NULL), got integrity null`
    );
  }
  if (integ !== null && integ.saltLength > 0 && enc.name !== 'null') {
    throw new TypeError(
      `${where}: expected encryption null with ${integ.name} (RFC 4543 §3: ` +
        `ENCR_NULL_AUTH_AES_GMAC is a combined mode used with no other cipher), got ${enc.name}`
    );
  }

  // Keys (RFC 4106 §8.1, RFC 4543 §5.4, RFC 7634 §2: key ‖ salt; contract D5).
  if (!isBytes(config.encryptionKey)) {
    throw new TypeError(
      `${where}: expected encryptionKey as a Uint8Array, got ${typeof config.encryptionKey}`
    );
  }
  if (config.encryptionKey.length !== enc.keyLength) {
    const what =
      enc.keyLength === 0
        ? 'an empty encryptionKey for encryption null'
        : `a ${enc.keyLength}-byte encryptionKey for ${enc.name} (${keyWords(
            enc.keyLength,
            enc.saltLength,
            enc.name === 'chacha20-poly1305'
              ? 'ChaCha20'
              : enc.name.startsWith('aes')
                ? 'AES'
                : 'DES'
          )})`;
    throw new RangeError(`${where}: expected ${what}, got ${config.encryptionKey.length} bytes`);
  }
  const integrityKey = config.integrityKey;
  if (integ === null) {
    if (integrityKey !== undefined && integrityKey.length > 0) {
      throw new TypeError(
        `${where}: expected no integrityKey (integrity is null), got ${integrityKey.length} bytes`
      );
    }
  } else {
    if (!isBytes(integrityKey)) {
      throw new TypeError(
        `${where}: expected an integrityKey (Uint8Array) for ${integ.name}, got ${kind(integrityKey)}`
      );
    }
    if (integrityKey.length !== integ.keyLength) {
      const words =
        integ.saltLength > 0
          ? keyWords(integ.keyLength, integ.saltLength, 'AES')
          : `${integ.keyLength}-byte HMAC key`;
      throw new RangeError(
        `${where}: expected a ${integ.keyLength}-byte integrityKey for ${integ.name} (${words}), ` +
          `got ${integrityKey.length} bytes`
      );
    }
  }

  // ICV length.
  const allowed = enc.combined ? enc.icvLengths : integ !== null ? integ.icvLengths : [0];
  const icvLength = config.icvLength ?? (enc.combined ? enc.icvLength : (integ?.icvLength ?? 0));
  if (!allowed.includes(icvLength)) {
    const owner = enc.combined
      ? enc.name
      : integ !== null
        ? integ.name
        : `${enc.name} without integrity`;
    throw new RangeError(
      `${where}: expected icvLength ${allowed.join(' | ')} for ${owner}, got ${String(config.icvLength)}`
    );
  }

  const random = config.random ?? null;
  if (random !== null && typeof random.fill !== 'function') {
    throw new TypeError(`${where}: expected random with a fill(out) method, got ${typeof random}`);
  }
  return new Esp(
    enc,
    integ,
    config.encryptionKey,
    integrityKey ?? new Uint8Array(0),
    icvLength,
    config.esn,
    random
  );
}
