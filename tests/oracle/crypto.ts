/**
 * @module
 * The oracle's algorithms, built only on @noble/ciphers and @noble/hashes, with their own small
 * table (no import from `src/crypto`):
 *
 * - HMAC-MD5-96 (RFC 2403 §2), HMAC-SHA-1-96 (RFC 2404 §2), HMAC-SHA-256-128 (RFC 4868 §2.3):
 *   the HMAC truncated to its leftmost 96 / 96 / 128 bits.
 * - AES-CBC (RFC 3602 §2): 16-byte blocks, explicit 16-byte IV, no padding of its own.
 * - AES-GCM for ESP (RFC 4106): key material = AES key ‖ 4-byte salt (§8.1), nonce = salt ‖ IV
 *   (§4), ICV 8, 12 or 16 bytes = the leftmost bytes of the GCM tag (§6; NIST SP 800-38D §5.2.1.2).
 * - AES-GMAC (RFC 4543): GCM with an empty plaintext, everything in the AAD (§2); key = AES key ‖
 *   salt (§5.4); nonce = salt ‖ IV (§3.2); ICV 16 bytes (§3.4).
 */
import { cbc, ctr, gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concat } from './bytes.ts';

/** ESP encryption algorithms the oracle knows (names as in contract D17). */
export type OracleEncryption =
  | 'null'
  | 'aes-cbc-128'
  | 'aes-cbc-192'
  | 'aes-cbc-256'
  | 'aes-gcm-128'
  | 'aes-gcm-192'
  | 'aes-gcm-256';

/** Integrity algorithms the oracle knows ('none': no ICV, e.g. GCM or the RFC 3602 packets). */
export type OracleIntegrity =
  | 'none'
  | 'hmac-md5-96'
  | 'hmac-sha1-96'
  | 'hmac-sha256-128'
  | 'aes-gmac-128'
  | 'aes-gmac-192'
  | 'aes-gmac-256';

/** What the oracle needs to know about an encryption algorithm. */
export interface EncryptionSpec {
  /** Key material bytes, salt included (contract D5). */
  readonly keyLength: number;
  readonly ivLength: number;
  /** Payload ‖ padding ‖ pad length ‖ next header is a multiple of this (RFC 4303 §2.4). */
  readonly align: number;
  readonly mode: 'null' | 'cbc' | 'gcm';
}

/** What the oracle needs to know about an integrity algorithm. */
export interface IntegritySpec {
  readonly keyLength: number;
  /** IV carried in the packet (AES-GMAC, RFC 4543 §3.1 and §4). */
  readonly ivLength: number;
  readonly icvLength: number;
  readonly mode: 'none' | 'hmac' | 'gmac';
}

const ENCRYPTION: Readonly<Record<OracleEncryption, EncryptionSpec>> = {
  null: { keyLength: 0, ivLength: 0, align: 4, mode: 'null' },
  'aes-cbc-128': { keyLength: 16, ivLength: 16, align: 16, mode: 'cbc' },
  'aes-cbc-192': { keyLength: 24, ivLength: 16, align: 16, mode: 'cbc' },
  'aes-cbc-256': { keyLength: 32, ivLength: 16, align: 16, mode: 'cbc' },
  'aes-gcm-128': { keyLength: 20, ivLength: 8, align: 4, mode: 'gcm' },
  'aes-gcm-192': { keyLength: 28, ivLength: 8, align: 4, mode: 'gcm' },
  'aes-gcm-256': { keyLength: 36, ivLength: 8, align: 4, mode: 'gcm' },
};

const INTEGRITY: Readonly<Record<OracleIntegrity, IntegritySpec>> = {
  none: { keyLength: 0, ivLength: 0, icvLength: 0, mode: 'none' },
  'hmac-md5-96': { keyLength: 16, ivLength: 0, icvLength: 12, mode: 'hmac' },
  'hmac-sha1-96': { keyLength: 20, ivLength: 0, icvLength: 12, mode: 'hmac' },
  'hmac-sha256-128': { keyLength: 32, ivLength: 0, icvLength: 16, mode: 'hmac' },
  'aes-gmac-128': { keyLength: 20, ivLength: 8, icvLength: 16, mode: 'gmac' },
  'aes-gmac-192': { keyLength: 28, ivLength: 8, icvLength: 16, mode: 'gmac' },
  'aes-gmac-256': { keyLength: 36, ivLength: 8, icvLength: 16, mode: 'gmac' },
};

/** The oracle's table entry for an encryption algorithm. */
export function encryptionSpec(name: OracleEncryption): EncryptionSpec {
  return ENCRYPTION[name];
}

/** The oracle's table entry for an integrity algorithm. */
export function integritySpec(name: OracleIntegrity): IntegritySpec {
  return INTEGRITY[name];
}

/** HMAC-MD5-96 / HMAC-SHA-1-96 / HMAC-SHA-256-128 of `data`: the truncated HMAC. */
export function hmacIcv(
  name: 'hmac-md5-96' | 'hmac-sha1-96' | 'hmac-sha256-128',
  key: Uint8Array,
  data: Uint8Array
): Uint8Array {
  const hash = name === 'hmac-md5-96' ? md5 : name === 'hmac-sha1-96' ? sha1 : sha256;
  return hmac(hash, key, data).subarray(0, INTEGRITY[name].icvLength);
}

/** Splits GCM/GMAC key material into the AES key and the trailing 4-byte salt (RFC 4106 §8.1). */
export function splitSalt(keyMaterial: Uint8Array): {
  readonly key: Uint8Array;
  readonly salt: Uint8Array;
} {
  return {
    key: keyMaterial.subarray(0, keyMaterial.length - 4),
    salt: keyMaterial.subarray(keyMaterial.length - 4),
  };
}

/** AES-GMAC (RFC 4543 §2): the 16-byte GCM tag over `aad` with an empty plaintext. */
export function gmacTag(keyMaterial: Uint8Array, iv: Uint8Array, aad: Uint8Array): Uint8Array {
  const { key, salt } = splitSalt(keyMaterial);
  return gcm(key, concat(salt, iv), aad).encrypt(new Uint8Array(0));
}

/**
 * AES-GCM open without trusting the tag first: the plaintext (GCM's GCTR from inc32(J0), i.e.
 * AES-CTR from nonce ‖ 00000002, NIST SP 800-38D §7.2 with a 96-bit IV) and the full 16-byte tag
 * recomputed over it with noble's GCM (whose ciphertext must equal the input: a self-check).
 */
export function gcmOpen(
  keyMaterial: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  ciphertext: Uint8Array
): { readonly plaintext: Uint8Array; readonly tag: Uint8Array; readonly consistent: boolean } {
  const { key, salt } = splitSalt(keyMaterial);
  const nonce = concat(salt, iv);
  const plaintext = ctr(key, concat(nonce, new Uint8Array([0, 0, 0, 2]))).decrypt(ciphertext);
  const sealed = gcm(key, nonce, aad).encrypt(plaintext);
  const again = sealed.subarray(0, ciphertext.length);
  let consistent = again.length === ciphertext.length;
  for (let i = 0; consistent && i < again.length; i++) consistent = again[i] === ciphertext[i];
  return { plaintext, tag: sealed.subarray(ciphertext.length), consistent };
}

/** AES-CBC decryption of whole blocks with an explicit IV (RFC 3602 §2.3), no unpadding. */
export function cbcDecrypt(key: Uint8Array, iv: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  return cbc(key, iv, { disablePadding: true }).decrypt(ciphertext);
}

/** AES-CBC encryption of whole blocks (used only by the oracle's self-tests to build packets). */
export function cbcEncrypt(key: Uint8Array, iv: Uint8Array, plaintext: Uint8Array): Uint8Array {
  return cbc(key, iv, { disablePadding: true }).encrypt(plaintext);
}

/** AES-GCM seal: ciphertext ‖ tag truncated to `icvLength` (used only by the self-tests). */
export function gcmSeal(
  keyMaterial: Uint8Array,
  iv: Uint8Array,
  aad: Uint8Array,
  plaintext: Uint8Array,
  icvLength: number
): Uint8Array {
  const { key, salt } = splitSalt(keyMaterial);
  const sealed = gcm(key, concat(salt, iv), aad).encrypt(plaintext);
  return sealed.subarray(0, plaintext.length + icvLength);
}
