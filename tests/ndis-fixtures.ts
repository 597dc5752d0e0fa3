/**
 * @module
 * Shared test fixtures for the ndis codecs: fast-check arbitraries for SA bundles and pointers,
 * little/big-endian byte readers, and one hand-made bundle with distinct field values. Lives in
 * `tests/` so it never ships and, imported by many test files, runs no test of its own.
 */
import fc from 'fast-check';

/** Plain objects: deepStrictEqual compares prototypes. */
const NO_NULL = { noNullPrototype: true } as const;
import { maxPointer, pointerSize, type Arch } from '../src/ndis/abi.ts';
import type { AlgorithmInfo, SaBundle, SecurityAssociation } from '../src/ndis/sa.ts';

/** Any ULONG. */
export const u32: fc.Arbitrary<number> = fc.integer({ min: 0, max: 0xffff_ffff });

/** Any ALGORITHM_INFO. */
export const algorithm: fc.Arbitrary<AlgorithmInfo> = fc.record(
  {
    identifier: u32,
    keyLength: u32,
    keyOffsetBytes: u32,
    additionalInfo: u32,
  },
  NO_NULL
);

/** Any SECURITY_ASSOCIATION. */
export const securityAssociation: fc.Arbitrary<SecurityAssociation> = fc.record(
  {
    flags: u32,
    operation: u32,
    spi: u32,
    authenticationAlgorithm: algorithm,
    encryptionAlgorithm: algorithm,
    sequenceNumberHighOrder: u32,
  },
  NO_NULL
);

/** Any pointer-sized value on `arch`. */
export function pointer(arch: Arch): fc.Arbitrary<bigint> {
  return fc.bigInt({ min: 0n, max: maxPointer(arch) });
}

/** A pointer-aligned base address with room for `room` bytes on `arch`. */
export function baseAddress(arch: Arch, room = 0x10000): fc.Arbitrary<bigint> {
  const align = BigInt(pointerSize(arch));
  const top = (maxPointer(arch) + 1n - BigInt(room)) / align;
  return fc.bigInt({ min: 0n, max: top }).map((n) => n * align);
}

/** Any SA bundle encodable on `arch` (IPv4 or IPv6, one or two SAs, 0–80 key bytes). */
export function bundle(arch: Arch): fc.Arbitrary<SaBundle> {
  return fc.boolean().chain((ipv6) => {
    const addr = fc.uint8Array({ minLength: ipv6 ? 16 : 4, maxLength: ipv6 ? 16 : 4 });
    return fc
      .record(
        {
          flags: fc.record({ inbound: fc.boolean(), ipv6: fc.constant(ipv6) }, NO_NULL),
          src: addr,
          dst: addr,
          udpEspEncapsulation: u32,
          secAssoc: fc.array(securityAssociation, { minLength: 1, maxLength: 2 }),
          keyData: fc.uint8Array({ maxLength: 80 }),
          offloadHandle: pointer(arch),
        },
        NO_NULL
      )
      .map((b): SaBundle => ({ ...b, numExtHdrs: b.secAssoc.length }));
  });
}

/** Little-endian unsigned read of `size` (1, 2, 4 or 8) bytes at `offset`, as a bigint. */
export function le(bytes: Uint8Array, offset: number, size: number): bigint {
  let v = 0n;
  for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i]);
  return v;
}

/** Big-endian unsigned 32-bit read at `offset`. */
export function be32(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] << 24) |
      (bytes[offset + 1] << 16) |
      (bytes[offset + 2] << 8) |
      bytes[offset + 3]) >>>
    0
  );
}

/** An ALGORITHM_INFO whose four ULONGs start at `seed` and count up. */
export function distinctAlgorithm(seed: number): AlgorithmInfo {
  return {
    identifier: seed,
    keyLength: seed + 1,
    keyOffsetBytes: seed + 2,
    additionalInfo: seed + 3,
  };
}

/** A SECURITY_ASSOCIATION with every field distinct, derived from `seed`. */
export function distinctSa(seed: number): SecurityAssociation {
  return {
    flags: seed + 0x01,
    operation: seed + 0x02,
    spi: 0x1a2b3c00 + seed,
    authenticationAlgorithm: distinctAlgorithm(seed + 0x10),
    encryptionAlgorithm: distinctAlgorithm(seed + 0x20),
    sequenceNumberHighOrder: 0x5e000000 + seed,
  };
}

/** A two-SA bundle with every field distinct (IPv6 endpoints 0x20…, 0x30…). */
export function distinctBundle(arch: Arch, ipv6: boolean, keyLength = 5): SaBundle {
  const n = ipv6 ? 16 : 4;
  return {
    numExtHdrs: 2,
    flags: { inbound: true, ipv6 },
    src: Uint8Array.from({ length: n }, (_, i) => 0x20 + i),
    dst: Uint8Array.from({ length: n }, (_, i) => 0x30 + i),
    udpEspEncapsulation: 0x04,
    secAssoc: [distinctSa(0x100), distinctSa(0x200)],
    keyData: Uint8Array.from({ length: keyLength }, (_, i) => 0xd0 + i),
    offloadHandle: arch === 'x64' ? 0x1122334455667788n : 0x11223344n,
  };
}
