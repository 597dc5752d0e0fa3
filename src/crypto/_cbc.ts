/**
 * @module
 * Shared internals: the CBC block ciphers of ESP — DES (RFC 2405), 3DES (RFC 2451) and AES
 * (RFC 3602) — on node:crypto with padding off (ESP pads itself, RFC 4303 §2.4).
 *
 * Model: OpenSSL 3's default provider has no single DES, so DES-CBC runs as 3DES-EDE-CBC with the
 * key K ‖ K ‖ K, which is single DES: E_K(D_K(E_K(x))) = E_K(x) (the TDEA keying option with
 * K1 = K2 = K3, NIST SP 800-67). The tests check this against a from-the-tables DES
 * (tests/des-reference.ts).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import type { EncryptionName } from './names.ts';

/** A CBC cipher by its node:crypto name and the key it wants. */
export interface CbcCipher {
  /** The node:crypto (OpenSSL) cipher name. */
  readonly algorithm: string;
  /** The block size in bytes. */
  readonly blockSize: number;
  /** Turns the SA's key bytes into the key node:crypto takes (a fresh copy the caller owns). */
  expandKey(key: Uint8Array): Uint8Array;
}

function copy(key: Uint8Array): Uint8Array {
  return new Uint8Array(key);
}

function tripled(key: Uint8Array): Uint8Array {
  const k = new Uint8Array(24);
  k.set(key, 0);
  k.set(key, 8);
  k.set(key, 16);
  return k;
}

/** The CBC cipher behind an encryption name, or null if the name is not a CBC cipher. */
export function cbcCipher(name: EncryptionName): CbcCipher | null {
  switch (name) {
    case 'des-cbc':
      return { algorithm: 'des-ede3-cbc', blockSize: 8, expandKey: tripled };
    case '3des-cbc':
      return { algorithm: 'des-ede3-cbc', blockSize: 8, expandKey: copy };
    case 'aes-cbc-128':
      return { algorithm: 'aes-128-cbc', blockSize: 16, expandKey: copy };
    case 'aes-cbc-192':
      return { algorithm: 'aes-192-cbc', blockSize: 16, expandKey: copy };
    case 'aes-cbc-256':
      return { algorithm: 'aes-256-cbc', blockSize: 16, expandKey: copy };
    case 'null':
    case 'aes-gcm-128':
    case 'aes-gcm-192':
    case 'aes-gcm-256':
    case 'chacha20-poly1305':
      return null;
  }
}

/** Encrypts `data` (a whole number of blocks) in place with CBC under `key` and `iv`. */
export function cbcEncryptInPlace(
  algorithm: string,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array
): void {
  const cipher = createCipheriv(algorithm, key, iv).setAutoPadding(false);
  const out = cipher.update(data);
  cipher.final();
  data.set(out);
}

/** Decrypts `data` (a whole number of blocks) in place with CBC under `key` and `iv`. */
export function cbcDecryptInPlace(
  algorithm: string,
  key: Uint8Array,
  iv: Uint8Array,
  data: Uint8Array
): void {
  const decipher = createDecipheriv(algorithm, key, iv).setAutoPadding(false);
  const out = decipher.update(data);
  decipher.final();
  data.set(out);
  out.fill(0);
}
