/**
 * @module
 * A slow, independent DES (FIPS 46-3) and TDEA (NIST SP 800-67) written straight from the
 * standard's tables, bit by bit, for cross-checking the node:crypto DES/3DES paths: OpenSSL and
 * @noble/ciphers share no code with it (noble has no DES at all). Bits are numbered 1…64 from the
 * most significant bit of the first byte, as FIPS 46-3 numbers them. Never used outside tests.
 */

// FIPS 46-3 Figure "Initial Permutation IP".
const IP = [
  58, 50, 42, 34, 26, 18, 10, 2, 60, 52, 44, 36, 28, 20, 12, 4, 62, 54, 46, 38, 30, 22, 14, 6, 64,
  56, 48, 40, 32, 24, 16, 8, 57, 49, 41, 33, 25, 17, 9, 1, 59, 51, 43, 35, 27, 19, 11, 3, 61, 53,
  45, 37, 29, 21, 13, 5, 63, 55, 47, 39, 31, 23, 15, 7,
];
// FIPS 46-3 Figure "Inverse of Initial Permutation IP^-1".
const IP_INV = [
  40, 8, 48, 16, 56, 24, 64, 32, 39, 7, 47, 15, 55, 23, 63, 31, 38, 6, 46, 14, 54, 22, 62, 30, 37,
  5, 45, 13, 53, 21, 61, 29, 36, 4, 44, 12, 52, 20, 60, 28, 35, 3, 43, 11, 51, 19, 59, 27, 34, 2,
  42, 10, 50, 18, 58, 26, 33, 1, 41, 9, 49, 17, 57, 25,
];
// FIPS 46-3 "E BIT-SELECTION TABLE".
const E = [
  32, 1, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9, 8, 9, 10, 11, 12, 13, 12, 13, 14, 15, 16, 17, 16, 17, 18, 19,
  20, 21, 20, 21, 22, 23, 24, 25, 24, 25, 26, 27, 28, 29, 28, 29, 30, 31, 32, 1,
];
// FIPS 46-3 permutation P.
const P = [
  16, 7, 20, 21, 29, 12, 28, 17, 1, 15, 23, 26, 5, 18, 31, 10, 2, 8, 24, 14, 32, 27, 3, 9, 19, 13,
  30, 6, 22, 11, 4, 25,
];
// FIPS 46-3 "Permuted Choice 1 (PC-1)".
const PC1 = [
  57, 49, 41, 33, 25, 17, 9, 1, 58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3, 60,
  52, 44, 36, 63, 55, 47, 39, 31, 23, 15, 7, 62, 54, 46, 38, 30, 22, 14, 6, 61, 53, 45, 37, 29, 21,
  13, 5, 28, 20, 12, 4,
];
// FIPS 46-3 "Permuted Choice 2 (PC-2)".
const PC2 = [
  14, 17, 11, 24, 1, 5, 3, 28, 15, 6, 21, 10, 23, 19, 12, 4, 26, 8, 16, 7, 27, 20, 13, 2, 41, 52,
  31, 37, 47, 55, 30, 40, 51, 45, 33, 48, 44, 49, 39, 56, 34, 53, 46, 42, 50, 36, 29, 32,
];
// FIPS 46-3 key schedule: left shifts per iteration.
const SHIFTS = [1, 1, 2, 2, 2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 2, 1];
// FIPS 46-3 "Primitive functions S1, …, S8": row-major, 4 rows of 16.
const S = [
  [
    14, 4, 13, 1, 2, 15, 11, 8, 3, 10, 6, 12, 5, 9, 0, 7, 0, 15, 7, 4, 14, 2, 13, 1, 10, 6, 12, 11,
    9, 5, 3, 8, 4, 1, 14, 8, 13, 6, 2, 11, 15, 12, 9, 7, 3, 10, 5, 0, 15, 12, 8, 2, 4, 9, 1, 7, 5,
    11, 3, 14, 10, 0, 6, 13,
  ],
  [
    15, 1, 8, 14, 6, 11, 3, 4, 9, 7, 2, 13, 12, 0, 5, 10, 3, 13, 4, 7, 15, 2, 8, 14, 12, 0, 1, 10,
    6, 9, 11, 5, 0, 14, 7, 11, 10, 4, 13, 1, 5, 8, 12, 6, 9, 3, 2, 15, 13, 8, 10, 1, 3, 15, 4, 2,
    11, 6, 7, 12, 0, 5, 14, 9,
  ],
  [
    10, 0, 9, 14, 6, 3, 15, 5, 1, 13, 12, 7, 11, 4, 2, 8, 13, 7, 0, 9, 3, 4, 6, 10, 2, 8, 5, 14, 12,
    11, 15, 1, 13, 6, 4, 9, 8, 15, 3, 0, 11, 1, 2, 12, 5, 10, 14, 7, 1, 10, 13, 0, 6, 9, 8, 7, 4,
    15, 14, 3, 11, 5, 2, 12,
  ],
  [
    7, 13, 14, 3, 0, 6, 9, 10, 1, 2, 8, 5, 11, 12, 4, 15, 13, 8, 11, 5, 6, 15, 0, 3, 4, 7, 2, 12, 1,
    10, 14, 9, 10, 6, 9, 0, 12, 11, 7, 13, 15, 1, 3, 14, 5, 2, 8, 4, 3, 15, 0, 6, 10, 1, 13, 8, 9,
    4, 5, 11, 12, 7, 2, 14,
  ],
  [
    2, 12, 4, 1, 7, 10, 11, 6, 8, 5, 3, 15, 13, 0, 14, 9, 14, 11, 2, 12, 4, 7, 13, 1, 5, 0, 15, 10,
    3, 9, 8, 6, 4, 2, 1, 11, 10, 13, 7, 8, 15, 9, 12, 5, 6, 3, 0, 14, 11, 8, 12, 7, 1, 14, 2, 13, 6,
    15, 0, 9, 10, 4, 5, 3,
  ],
  [
    12, 1, 10, 15, 9, 2, 6, 8, 0, 13, 3, 4, 14, 7, 5, 11, 10, 15, 4, 2, 7, 12, 9, 5, 6, 1, 13, 14,
    0, 11, 3, 8, 9, 14, 15, 5, 2, 8, 12, 3, 7, 0, 4, 10, 1, 13, 11, 6, 4, 3, 2, 12, 9, 5, 15, 10,
    11, 14, 1, 7, 6, 0, 8, 13,
  ],
  [
    4, 11, 2, 14, 15, 0, 8, 13, 3, 12, 9, 7, 5, 10, 6, 1, 13, 0, 11, 7, 4, 9, 1, 10, 14, 3, 5, 12,
    2, 15, 8, 6, 1, 4, 11, 13, 12, 3, 7, 14, 10, 15, 6, 8, 0, 5, 9, 2, 6, 11, 13, 8, 1, 4, 10, 7, 9,
    5, 0, 15, 14, 2, 3, 12,
  ],
  [
    13, 2, 8, 4, 6, 15, 11, 1, 10, 9, 3, 14, 5, 0, 12, 7, 1, 15, 13, 8, 10, 3, 7, 4, 12, 5, 6, 11,
    0, 14, 9, 2, 7, 11, 4, 1, 9, 12, 14, 2, 0, 6, 10, 13, 15, 3, 5, 8, 2, 1, 14, 7, 4, 10, 8, 13,
    15, 12, 9, 0, 3, 5, 6, 11,
  ],
];

/** Bits of `bytes`, most significant first: bits[0] is FIPS bit 1. */
function toBits(bytes: Uint8Array): number[] {
  const bits: number[] = [];
  for (const b of bytes) for (let i = 7; i >= 0; i--) bits.push((b >> i) & 1);
  return bits;
}

function fromBits(bits: readonly number[]): Uint8Array {
  const out = new Uint8Array(bits.length / 8);
  bits.forEach((bit, i) => {
    out[i >> 3] |= bit << (7 - (i & 7));
  });
  return out;
}

/** Selects input bits by a 1-based FIPS table. */
function permute(bits: readonly number[], table: readonly number[]): number[] {
  return table.map((n) => bits[n - 1]);
}

function rotateLeft(half: readonly number[], n: number): number[] {
  return [...half.slice(n), ...half.slice(0, n)];
}

/** FIPS 46-3 key schedule KS: the sixteen 48-bit subkeys K1…K16. */
function subkeys(key: Uint8Array): number[][] {
  const cd = permute(toBits(key), PC1);
  let c = cd.slice(0, 28);
  let d = cd.slice(28);
  return SHIFTS.map((shift) => {
    c = rotateLeft(c, shift);
    d = rotateLeft(d, shift);
    return permute([...c, ...d], PC2);
  });
}

/** FIPS 46-3 cipher function f(R, K). */
function f(r: readonly number[], k: readonly number[]): number[] {
  const x = permute(r, E).map((bit, i) => bit ^ k[i]);
  const out: number[] = [];
  for (let box = 0; box < 8; box++) {
    const b = x.slice(6 * box, 6 * box + 6);
    const row = (b[0] << 1) | b[5];
    const col = (b[1] << 3) | (b[2] << 2) | (b[3] << 1) | b[4];
    const v = S[box][16 * row + col];
    out.push((v >> 3) & 1, (v >> 2) & 1, (v >> 1) & 1, v & 1);
  }
  return permute(out, P);
}

/** One 8-byte block through DES (FIPS 46-3): encrypts, or decrypts with the subkeys reversed. */
export function desBlock(key: Uint8Array, block: Uint8Array, decrypt = false): Uint8Array {
  const ks = subkeys(key);
  if (decrypt) ks.reverse();
  const ip = permute(toBits(block), IP);
  let l = ip.slice(0, 32);
  let r = ip.slice(32);
  for (const k of ks) {
    const next = l.map((bit, i) => bit ^ f(r, k)[i]);
    l = r;
    r = next;
  }
  return fromBits(permute([...r, ...l], IP_INV)); // the preoutput is R16 L16
}

/** One block through TDEA-EDE (NIST SP 800-67): E_K3(D_K2(E_K1(x))), or its inverse. */
export function tdeaBlock(key: Uint8Array, block: Uint8Array, decrypt = false): Uint8Array {
  const k1 = key.subarray(0, 8);
  const k2 = key.subarray(8, 16);
  const k3 = key.subarray(16, 24);
  return decrypt
    ? desBlock(k1, desBlock(k2, desBlock(k3, block, true)), true)
    : desBlock(k3, desBlock(k2, desBlock(k1, block), true));
}

/** CBC encryption (FIPS 81 / NIST SP 800-38A) of whole 8-byte blocks with a block function. */
export function cbcEncrypt(
  block: (b: Uint8Array) => Uint8Array,
  iv: Uint8Array,
  data: Uint8Array
): Uint8Array {
  const out = new Uint8Array(data.length);
  let chain = iv;
  for (let at = 0; at < data.length; at += 8) {
    const x = data.slice(at, at + 8).map((b, i) => b ^ chain[i]);
    chain = block(x);
    out.set(chain, at);
  }
  return out;
}

/** CBC decryption of whole 8-byte blocks with a block function. */
export function cbcDecrypt(
  block: (b: Uint8Array) => Uint8Array,
  iv: Uint8Array,
  data: Uint8Array
): Uint8Array {
  const out = new Uint8Array(data.length);
  let chain = iv;
  for (let at = 0; at < data.length; at += 8) {
    const c = data.slice(at, at + 8);
    out.set(
      block(c).map((b, i) => b ^ chain[i]),
      at
    );
    chain = c;
  }
  return out;
}
