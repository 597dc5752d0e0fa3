/**
 * @module
 * The AH integrity transform (RFC 4302) on node:crypto: HMAC-MD5-96 (RFC 2403), HMAC-SHA-1-96
 * (RFC 2404), HMAC-SHA-256-128 / -384-192 / -512-256 (RFC 4868) and AUTH_AES_GMAC (RFC 4543 §4).
 *
 * The caller (wire/ah) hands over the ICV input of RFC 4302 §3.3.3: the IP packet with mutable
 * fields and the ICV field zeroed. The transform appends the ESN high half itself when the SA
 * uses ESN: RFC 4302 §2.5.1 puts the high-order 32 bits into the ICV computation without
 * transmitting them, after the end of the packet (§3.3.3.2.2, contract D3).
 *
 * AUTH_AES_GMAC (RFC 4543 §4): the AH Authentication Data field is IV (8) ‖ ICV (16); the nonce is
 * salt ‖ IV (§3.2); the AAD is the authenticated data of RFC 4302 (the ICV input above, plus the
 * ESN high half); the plaintext is empty (§2). Note RFC 4543 §7: in AUTH_AES_GMAC the IV is
 * included in the AAD — it is part of the AH header, not of the zeroed ICV, so the caller leaves
 * the IV bytes in place in `data` and zeroes only the 16-byte ICV.
 */
import { createCipheriv, type CipherGCMTypes } from 'node:crypto';
import { equalConstantTime, hmacHash, hmacInto, type HashName } from './_hmac.ts';
import { integrityInfo, toIntegrityName, type IntegrityName } from './names.ts';
import type { AuthTransform, OpenResult } from './transform.ts';

/** The key and choices of one AH SA. */
export interface AuthConfig {
  readonly integrity: IntegrityName;
  /** Key bytes as in the SA's key buffer (GMAC: AES key ‖ 4-byte salt, contract D5). */
  readonly key: Uint8Array;
  /** Extended (64-bit) sequence numbers (RFC 4302 §2.5.1). */
  readonly esn: boolean;
  /** ICV bytes; each algorithm allows exactly its RFC's truncation. */
  readonly icvLength?: number;
}

class Auth implements AuthTransform {
  readonly integrity: IntegrityName;
  readonly esn: boolean;
  readonly icvLength: number;
  readonly ivLength: number;
  readonly #hash: HashName | null;
  readonly #key: Uint8Array;
  readonly #gcm: CipherGCMTypes;
  /** salt ‖ IV for GMAC; the salt stays in bytes 0–3. */
  readonly #nonce = new Uint8Array(12);
  readonly #high = new Uint8Array(4);
  readonly #highView = new DataView(this.#high.buffer);
  readonly #icv: Uint8Array;
  #destroyed = false;

  constructor(integrity: IntegrityName, key: Uint8Array, esn: boolean, icvLength: number) {
    const info = integrityInfo(integrity);
    this.integrity = integrity;
    this.esn = esn;
    this.icvLength = icvLength;
    this.ivLength = info.ivLength;
    this.#hash = hmacHash(integrity);
    this.#icv = new Uint8Array(icvLength);
    const aesLength = info.keyLength - info.saltLength;
    this.#key = key.slice(0, aesLength);
    this.#nonce.set(key.subarray(aesLength)); // RFC 4543 §5.4: the last 4 bytes are the salt
    this.#gcm = aesLength === 32 ? 'aes-256-gcm' : aesLength === 24 ? 'aes-192-gcm' : 'aes-128-gcm';
  }

  compute(data: Uint8Array, seqHigh: number, iv: Uint8Array | null, out: Uint8Array): void {
    this.#live('ah.compute');
    checkComputeArgs(this, seqHigh, iv, out);
    this.#compute(data, seqHigh, iv, out);
  }

  verify(data: Uint8Array, seqHigh: number, iv: Uint8Array | null, icv: Uint8Array): OpenResult {
    this.#live('ah.verify');
    checkSeqHigh(seqHigh, 'ah.verify');
    // Packet bytes: a wrong IV or ICV length is a value, never a throw.
    if (icv.length !== this.icvLength || (iv === null ? 0 : iv.length) !== this.ivLength) {
      return 'bad-length';
    }
    this.#compute(data, seqHigh, iv, this.#icv);
    return equalConstantTime(this.#icv, icv) ? 'ok' : 'icv-mismatch';
  }

  destroy(): void {
    this.#key.fill(0);
    this.#nonce.fill(0);
    this.#destroyed = true;
  }

  #live(where: string): void {
    if (this.#destroyed) {
      throw new TypeError(`${where}: expected a live transform, got one ended by destroy()`);
    }
  }

  #compute(data: Uint8Array, seqHigh: number, iv: Uint8Array | null, out: Uint8Array): void {
    this.#highView.setUint32(0, seqHigh);
    if (this.#hash !== null) {
      // RFC 4302 §2.5.1: with ESN the high half enters the ICV, appended after the packet.
      hmacInto(this.#hash, this.#key, this.esn ? [data, this.#high] : [data], out);
      return;
    }
    if (iv !== null) this.#nonce.set(iv, 4); // RFC 4543 §3.2: nonce = salt ‖ IV
    const cipher = createCipheriv(this.#gcm, this.#key, this.#nonce, { authTagLength: 16 });
    cipher.setAAD(data); // RFC 4543 §4: AAD = the authenticated data of RFC 4302
    if (this.esn) cipher.setAAD(this.#high);
    cipher.final(); // RFC 4543 §2: GMAC is GCM with an empty plaintext
    out.set(cipher.getAuthTag());
  }
}

/** Throws a RangeError unless `value` is a 32-bit sequence number high half (RFC 4302 §2.5.1). */
export function checkSeqHigh(value: number, where: string): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new RangeError(`${where}: expected seqHigh as an integer 0 … 2^32 − 1, got ${value}`);
  }
}

/**
 * The misuse checks of `AuthTransform.compute` for every engine: seqHigh, the length of `out`
 * (icvLength) and of `iv` (ivLength; null counts as 0 bytes).
 */
export function checkComputeArgs(
  t: Pick<AuthTransform, 'integrity' | 'icvLength' | 'ivLength'>,
  seqHigh: number,
  iv: Uint8Array | null,
  out: Uint8Array
): void {
  checkSeqHigh(seqHigh, 'ah.compute');
  if (out.length !== t.icvLength) {
    throw new RangeError(
      `ah.compute: expected a ${t.icvLength}-byte out for ${t.integrity}, got ${out.length} bytes`
    );
  }
  const ivLength = iv === null ? 0 : iv.length;
  if (ivLength !== t.ivLength) {
    throw new RangeError(
      `ah.compute: expected a ${t.ivLength}-byte iv for ${t.integrity}, got ${ivLength} bytes`
    );
  }
}

/**
 * Creates the AH integrity transform of one SA, checking the name, key length and ICV length
 * (TypeError / RangeError "createAuth: expected …, got …"; keys are never shown).
 */
export function createAuth(config: AuthConfig): AuthTransform {
  const where = 'createAuth';
  const name = toIntegrityName(config.integrity, where);
  const info = integrityInfo(name);
  if (typeof config.esn !== 'boolean') {
    throw new TypeError(`${where}: expected esn true or false, got ${String(config.esn)}`);
  }
  if (!(config.key instanceof Uint8Array)) {
    throw new TypeError(`${where}: expected key as a Uint8Array, got ${typeof config.key}`);
  }
  if (config.key.length !== info.keyLength) {
    const words =
      info.saltLength > 0
        ? `${info.keyLength - info.saltLength}-byte AES key ‖ ${info.saltLength}-byte salt`
        : `${info.keyLength}-byte HMAC key`;
    throw new RangeError(
      `${where}: expected a ${info.keyLength}-byte key for ${name} (${words}), got ${config.key.length} bytes`
    );
  }
  const icvLength = config.icvLength ?? info.icvLength;
  if (!info.icvLengths.includes(icvLength)) {
    throw new RangeError(
      `${where}: expected icvLength ${info.icvLengths.join(' | ')} for ${name}, got ${icvLength}`
    );
  }
  return new Auth(name, config.key, config.esn, icvLength);
}
