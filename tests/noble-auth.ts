/**
 * @module
 * The AH ICV by @noble alone, for cross-checking both AH engines (src/crypto/ah.test.ts,
 * native-auth.test.ts): HMAC truncated to the ICV length (RFC 2404, RFC 4868), or AES-GMAC (RFC
 * 4543: GCM over an empty plaintext with everything in the AAD, key = AES key ‖ 4-byte salt §5.4,
 * nonce = salt ‖ IV §3.2); with ESN the high half of the sequence number is appended to the data
 * (RFC 4302 §2.5.1; for GMAC it ends the AAD, RFC 4543 §4).
 */
import { gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { integrityInfo, type IntegrityName } from '../src/crypto/names.ts';
import { concat } from './vectors/bytes.ts';

type Hash = Parameters<typeof hmac>[0];
const HASH: Partial<Record<IntegrityName, Hash>> = {
  'hmac-md5-96': md5,
  'hmac-sha1-96': sha1,
  'hmac-sha256-128': sha256,
  'hmac-sha384-192': sha384,
  'hmac-sha512-256': sha512,
};

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** The ICV of `data` for `integrity` keyed with `key`; `iv`: the GMAC IV (8 bytes), else null. */
export function nobleIcv(
  integrity: IntegrityName,
  key: Uint8Array,
  data: Uint8Array,
  esn: boolean,
  seqHigh: number,
  iv: Uint8Array | null
): Uint8Array {
  const info = integrityInfo(integrity);
  const covered = esn ? concat(data, u32(seqHigh)) : data;
  const hash = HASH[integrity];
  if (hash !== undefined) return hmac(hash, key, covered).subarray(0, info.icvLength);
  const aes = key.subarray(0, info.keyLength - 4);
  const nonce = concat(key.subarray(info.keyLength - 4), iv ?? new Uint8Array(0));
  return gcm(aes, nonce, covered).encrypt(new Uint8Array(0));
}
