/**
 * @module
 * Random sources, injected (contract D6, style practice 15): core code never calls a global
 * random generator; it is handed a `Random`. Two factories:
 *
 * - `seededRandom(seed)` — deterministic: the ChaCha20 keystream (RFC 8439 §2.4) under a key
 *   derived from the seed with SHA-256, so a run with a fixed seed is byte-for-byte reproducible.
 *   The stream itself is cryptographically strong, but it is only as unpredictable as its seed,
 *   and test seeds are public: it is NOT a CSPRNG for real keys — use it for CBC IVs, scenario
 *   payloads and fault injection in reproducible runs.
 * - `systemRandom()` — the operating system's CSPRNG through `crypto.randomFillSync`.
 */
import { createCipheriv, createHash, randomFillSync, type Cipher } from 'node:crypto';
import type { Random } from './transform.ts';

const CHUNK = 4096;

/** A deterministic ChaCha20 keystream seeded by `seed`; not a CSPRNG unless the seed is secret. */
export function seededRandom(seed: number | bigint): Random {
  if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
    throw new RangeError(`seededRandom: expected a safe integer or a bigint seed, got ${seed}`);
  }
  // The seed's decimal form is hashed, so 7 and 7n give the same stream.
  const key = createHash('sha256')
    .update(`ipsecov2 seededRandom ${BigInt(seed)}`)
    .digest();
  // node's 'chacha20' IV is the 4-byte little-endian block counter ‖ 12-byte nonce (RFC 8439 §2.3).
  const stream: Cipher = createCipheriv('chacha20', key, Buffer.alloc(16));
  key.fill(0);
  const zeros = new Uint8Array(CHUNK);
  return {
    fill(out: Uint8Array): void {
      for (let at = 0; at < out.length; at += CHUNK) {
        const n = Math.min(CHUNK, out.length - at);
        out.set(stream.update(zeros.subarray(0, n)), at);
      }
    },
  };
}

/** The operating system's CSPRNG (`crypto.randomFillSync`). */
export function systemRandom(): Random {
  return {
    fill(out: Uint8Array): void {
      randomFillSync(out);
    },
  };
}
