/**
 * @module
 * Shared internals of the ESP and AH transforms: HMAC (RFC 2104) truncated to the leftmost bytes
 * as IPsec uses it (RFC 2104 §5; RFC 2403, RFC 2404, RFC 4868), and a constant-time comparison.
 * Not part of the crypto layer's public surface: callers import esp.ts and ah.ts.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IntegrityName } from './names.ts';

/** A hash function HMAC is built on, by its node:crypto name. */
export type HashName = 'md5' | 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** The hash behind each HMAC integrity name, or null for the GMAC names. */
export function hmacHash(name: IntegrityName): HashName | null {
  switch (name) {
    case 'hmac-md5-96':
      return 'md5';
    case 'hmac-sha1-96':
      return 'sha1';
    case 'hmac-sha256-128':
      return 'sha256';
    case 'hmac-sha384-192':
      return 'sha384';
    case 'hmac-sha512-256':
      return 'sha512';
    case 'aes-gmac-128':
    case 'aes-gmac-192':
    case 'aes-gmac-256':
      return null;
  }
}

/**
 * Writes the leftmost `out.length` bytes of HMAC-`hash`(key, parts[0] ‖ parts[1] ‖ …) into `out`
 * (RFC 2104 §5: a truncated HMAC keeps the leftmost bits).
 */
export function hmacInto(
  hash: HashName,
  key: Uint8Array,
  parts: readonly Uint8Array[],
  out: Uint8Array
): void {
  const mac = createHmac(hash, key);
  for (const part of parts) mac.update(part);
  const digest = mac.digest();
  if (out.length > digest.length) {
    throw new RangeError(
      `hmacInto: expected at most ${digest.length} output bytes for HMAC-${hash}, got ${out.length}`
    );
  }
  out.set(digest.subarray(0, out.length));
  digest.fill(0);
}

/** Returns HMAC-`hash`(key, data), truncated to its leftmost `length` bytes (RFC 2104 §5). */
export function hmac(
  hash: HashName,
  key: Uint8Array,
  data: Uint8Array,
  length?: number
): Uint8Array {
  const full = createHmac(hash, key).update(data).digest();
  return new Uint8Array(full.subarray(0, length ?? full.length));
}

/** True when `a` and `b` hold the same bytes; compares in constant time for equal lengths. */
export function equalConstantTime(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}
