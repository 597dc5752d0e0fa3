/**
 * @module
 * The AH integrity transform (RFC 4302) on the native engine (issue 6, native/engine.c): the
 * same `AuthTransform` as ah.ts, byte for byte, but one keyed OpenSSL context per SA — the HMAC
 * re-initialised from its kept key, the AES-GMAC context keyed once with only the nonce reset —
 * and one native call per ICV with typed arrays and numbers only: no per-packet objects.
 *
 * Covers every AH integrity algorithm ah.ts has: HMAC-MD5-96 (RFC 2403), HMAC-SHA-1-96
 * (RFC 2404), HMAC-SHA-256-128 / -384-192 / -512-256 (RFC 4868) and AES-GMAC (RFC 4543 §4).
 * Configuration is checked by ah.ts's `createAuth` (same errors, same geometry); the argument
 * checks of `compute`/`verify` are ah.ts's too, with the same messages.
 */
import { hmacHash } from './_hmac.ts';
import { checkComputeArgs, checkSeqHigh, createAuth, type AuthConfig } from './ah.ts';
import { nativeAddon, type NativeAddon } from './engine.ts';
import { integrityInfo, type IntegrityName } from './names.ts';
import type { AuthTransform, OpenResult } from './transform.ts';

/** The addon's AH modes (native/engine.c AUTH_HMAC, AUTH_GMAC). */
const MODE_HMAC = 0;
const MODE_GMAC = 1;

/** authVerify's results, by number. */
const RESULTS: readonly OpenResult[] = ['ok', 'icv-mismatch', 'bad-length'];

class NativeAuth implements AuthTransform {
  readonly integrity: IntegrityName;
  readonly esn: boolean;
  readonly icvLength: number;
  readonly ivLength: number;
  readonly #addon: NativeAddon;
  readonly #sa: unknown;
  #destroyed = false;

  constructor(addon: NativeAddon, key: Uint8Array, geometry: AuthTransform) {
    this.#addon = addon;
    this.integrity = geometry.integrity;
    this.esn = geometry.esn;
    this.icvLength = geometry.icvLength;
    this.ivLength = geometry.ivLength;
    const info = integrityInfo(this.integrity);
    const hash = hmacHash(this.integrity);
    if (hash !== null) {
      this.#sa = addon.authCreate(
        MODE_HMAC,
        hash,
        key,
        new Uint8Array(0),
        this.icvLength,
        this.esn
      );
      return;
    }
    // RFC 4543 §5.4: the keying material is the AES key ‖ the 4-byte salt.
    const aesLength = info.keyLength - info.saltLength;
    const aesKey = key.slice(0, aesLength);
    const salt = key.slice(aesLength);
    try {
      this.#sa = addon.authCreate(
        MODE_GMAC,
        `aes-${aesLength * 8}-gcm`,
        aesKey,
        salt,
        this.icvLength,
        this.esn
      );
    } finally {
      aesKey.fill(0);
      salt.fill(0);
    }
  }

  compute(data: Uint8Array, seqHigh: number, iv: Uint8Array | null, out: Uint8Array): void {
    this.#live('ah.compute');
    checkComputeArgs(this, seqHigh, iv, out);
    this.#addon.authCompute(this.#sa, data, seqHigh, iv, out);
  }

  verify(data: Uint8Array, seqHigh: number, iv: Uint8Array | null, icv: Uint8Array): OpenResult {
    this.#live('ah.verify');
    checkSeqHigh(seqHigh, 'ah.verify');
    // Packet bytes: a wrong IV or ICV length is 'bad-length' (the addon checks it too).
    return RESULTS[this.#addon.authVerify(this.#sa, data, seqHigh, iv, icv)];
  }

  destroy(): void {
    if (!this.#destroyed) this.#addon.destroySa(this.#sa); // OPENSSL_cleanse of the contexts
    this.#destroyed = true;
  }

  #live(where: string): void {
    if (this.#destroyed) {
      throw new TypeError(`${where}: expected a live transform, got one ended by destroy()`);
    }
  }
}

/** True when the native engine is loaded (every AH integrity algorithm of ah.ts is covered). */
export function nativeAuthAvailable(): boolean {
  return nativeAddon() !== null;
}

/**
 * Creates the AH integrity transform of one SA on the native engine; `config` is checked exactly
 * as `createAuth` checks it. Throws a TypeError when the addon is not loaded.
 */
export function createNativeAuth(config: AuthConfig): AuthTransform {
  const addon = nativeAddon();
  if (addon === null) {
    throw new TypeError('createNativeAuth: expected the native engine loaded, got node:crypto');
  }
  const geometry = createAuth(config); // the same checks and errors as the node:crypto engine
  geometry.destroy();
  return new NativeAuth(addon, config.key, geometry);
}

/** The AH transform on the active engine: native when loaded, else node:crypto (`createAuth`). */
export function createAuthOnEngine(config: AuthConfig): AuthTransform {
  return nativeAddon() === null ? createAuth(config) : createNativeAuth(config);
}
