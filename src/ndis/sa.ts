/**
 * @module
 * IPSEC_OFFLOAD_V2_ALGORITHM_INFO (16 bytes) and IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION (0x30
 * bytes), and the SA-bundle body that IPSEC_OFFLOAD_V2_ADD_SA and IPSEC_OFFLOAD_V2_ADD_SA_EX
 * share. Pages: "IPSEC_OFFLOAD_V2_ALGORITHM_INFO", "IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION",
 * "IPSEC_OFFLOAD_V2_ADD_SA" (ndis.h). Reference: ndis-ipsecov2.md §2.2, §2.3, §2.5; contract D7.
 *
 * Neither structure holds a pointer, so both are the same on x86 and x64. Byte order (D7): `Spi`
 * and IPv4 addresses are stored as on the wire (network order) inside their ULONGs; every other
 * integer is little-endian. Only structure is checked here; whether an algorithm, key length or
 * operation is acceptable is the miniport's judgement against its capability record.
 */
import { needUint } from '../wire/bytes.ts';
import {
  dataView,
  fail,
  readPointer,
  tooShort,
  writePointer,
  type Arch,
  type Decoded,
} from './abi.ts';
import { AddSaFlags } from './oid.ts';
import { NdisStatus } from './status.ts';

/** IPSEC_OFFLOAD_V2_ALGORITHM_INFO field offsets (ndis.h; §2.2; PDB-confirmed). */
export const ALGORITHM_INFO = {
  Identifier: 0x0,
  KeyLength: 0x4,
  KeyOffsetBytes: 0x8,
  AdditionalInfo: 0xc,
  size: 0x10,
} as const;

/** IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION field offsets (ndis.h; §2.3; PDB-confirmed). */
export const SECURITY_ASSOCIATION = {
  Flags: 0x00,
  Operation: 0x04,
  Spi: 0x08,
  AuthenticationAlgorithm: 0x0c,
  EncryptionAlgorithm: 0x1c,
  SequenceNumberHighOrder: 0x2c,
  size: 0x30,
} as const;

/** One algorithm of an SA: IPSEC_OFFLOAD_V2_ALGORITHM_INFO. */
export interface AlgorithmInfo {
  /** An IPSEC_OFFLOAD_V2_ENCRYPTION_* or _AUTHENTICATION_* value; 0 = no algorithm. */
  readonly identifier: number;
  /** Key bytes. */
  readonly keyLength: number;
  /** Where the key starts in the entry's key buffer. */
  readonly keyOffsetBytes: number;
  /** Algorithm-specific; for AES-GCM the ICV length in bytes (contract D5). */
  readonly additionalInfo: number;
}

/** One SA of a bundle: IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION. */
export interface SecurityAssociation {
  /** 0 or IPSEC_OFFLOAD_V2_ESN_SA. */
  readonly flags: number;
  /** IPsecOffloadV2Ah (1) or IPsecOffloadV2Esp (2) (not checked here). */
  readonly operation: number;
  /** The SPI as a number (stored in network byte order, D7). */
  readonly spi: number;
  readonly authenticationAlgorithm: AlgorithmInfo;
  readonly encryptionAlgorithm: AlgorithmInfo;
  /** The ESN high-order 32 bits (RFC 4304), never on the wire. */
  readonly sequenceNumberHighOrder: number;
}

/** The SA bundle one ADD_SA / ADD_SA_EX entry adds: one direction, one or two SAs, one key buffer. */
export interface SaBundle {
  /** NumExtHdrs: how many SecAssoc elements are valid (1 or 2). */
  readonly numExtHdrs: number;
  /** Flags: IPSEC_OFFLOAD_V2_INBOUND and IPSEC_OFFLOAD_V2_IPv6 (other bits are ignored). */
  readonly flags: { readonly inbound: boolean; readonly ipv6: boolean };
  /** Source address as on the wire: 4 bytes (IPv4) or 16 (IPv6); all zero = wildcard. */
  readonly src: Uint8Array;
  /** Destination address as on the wire: 4 or 16 bytes; all zero = wildcard. */
  readonly dst: Uint8Array;
  /** One IPSEC_OFFLOAD_V2_*UDP_ESP_ENCAPSULATION* value (not checked here). */
  readonly udpEspEncapsulation: number;
  /** The first NumExtHdrs SecAssoc elements, in processing order. */
  readonly secAssoc: readonly SecurityAssociation[];
  /** The key buffer (KeyLength bytes). */
  readonly keyData: Uint8Array;
  /** OffloadHandle: written by the miniport; NULL (0n) on input and for a failed entry. */
  readonly offloadHandle: bigint;
}

/** Offsets of the bundle body inside ADD_SA or ADD_SA_EX, relative to the struct start. */
export interface BodyLayout {
  readonly NumExtHdrs: number;
  readonly Flags: number;
  readonly SrcAddr: number;
  readonly IPv4DestAddr: number;
  readonly IPv6DestAddr: number;
  readonly OffloadHandle: number;
  readonly UdpEspEncapsulation: number;
  readonly SecAssoc: number;
  readonly KeyLength: number;
}

/** Reads ALGORITHM_INFO at `offset`. */
export function readAlgorithmInfo(dv: DataView, offset: number): AlgorithmInfo {
  return {
    identifier: dv.getUint32(offset + ALGORITHM_INFO.Identifier, true),
    keyLength: dv.getUint32(offset + ALGORITHM_INFO.KeyLength, true),
    keyOffsetBytes: dv.getUint32(offset + ALGORITHM_INFO.KeyOffsetBytes, true),
    additionalInfo: dv.getUint32(offset + ALGORITHM_INFO.AdditionalInfo, true),
  };
}

/** Writes ALGORITHM_INFO at `offset`; throws a RangeError for a value that is not a ULONG. */
export function writeAlgorithmInfo(
  dv: DataView,
  offset: number,
  a: AlgorithmInfo,
  name = 'AlgorithmInfo'
): void {
  dv.setUint32(offset + ALGORITHM_INFO.Identifier, u32(`${name}.Identifier`, a.identifier), true);
  dv.setUint32(offset + ALGORITHM_INFO.KeyLength, u32(`${name}.KeyLength`, a.keyLength), true);
  dv.setUint32(
    offset + ALGORITHM_INFO.KeyOffsetBytes,
    u32(`${name}.KeyOffsetBytes`, a.keyOffsetBytes),
    true
  );
  dv.setUint32(
    offset + ALGORITHM_INFO.AdditionalInfo,
    u32(`${name}.AdditionalInfo`, a.additionalInfo),
    true
  );
}

/** Reads SECURITY_ASSOCIATION at `offset`. */
export function readSecurityAssociation(dv: DataView, offset: number): SecurityAssociation {
  const L = SECURITY_ASSOCIATION;
  return {
    flags: dv.getUint32(offset + L.Flags, true),
    operation: dv.getUint32(offset + L.Operation, true),
    // Contract D7: the SPI is stored in network byte order inside its ULONG.
    spi: dv.getUint32(offset + L.Spi, false),
    authenticationAlgorithm: readAlgorithmInfo(dv, offset + L.AuthenticationAlgorithm),
    encryptionAlgorithm: readAlgorithmInfo(dv, offset + L.EncryptionAlgorithm),
    sequenceNumberHighOrder: dv.getUint32(offset + L.SequenceNumberHighOrder, true),
  };
}

/** Writes SECURITY_ASSOCIATION at `offset`; throws a RangeError for a value that is not a ULONG. */
export function writeSecurityAssociation(
  dv: DataView,
  offset: number,
  sa: SecurityAssociation,
  name = 'SecAssoc'
): void {
  const L = SECURITY_ASSOCIATION;
  dv.setUint32(offset + L.Flags, u32(`${name}.Flags`, sa.flags), true);
  dv.setUint32(offset + L.Operation, u32(`${name}.Operation`, sa.operation), true);
  dv.setUint32(offset + L.Spi, u32(`${name}.Spi`, sa.spi), false);
  writeAlgorithmInfo(
    dv,
    offset + L.AuthenticationAlgorithm,
    sa.authenticationAlgorithm,
    `${name}.AuthenticationAlgorithm`
  );
  writeAlgorithmInfo(
    dv,
    offset + L.EncryptionAlgorithm,
    sa.encryptionAlgorithm,
    `${name}.EncryptionAlgorithm`
  );
  dv.setUint32(
    offset + L.SequenceNumberHighOrder,
    u32(`${name}.SequenceNumberHighOrder`, sa.sequenceNumberHighOrder),
    true
  );
}

/** IPSEC_OFFLOAD_V2_ALGORITHM_INFO as 16 bytes. */
export function encodeAlgorithmInfo(a: AlgorithmInfo): Uint8Array {
  const out = new Uint8Array(ALGORITHM_INFO.size);
  writeAlgorithmInfo(dataView(out), 0, a);
  return out;
}

/** Decodes IPSEC_OFFLOAD_V2_ALGORITHM_INFO from the first 16 bytes. */
export function decodeAlgorithmInfo(bytes: Uint8Array): Decoded<AlgorithmInfo> {
  if (bytes.length < ALGORITHM_INFO.size)
    return tooShort('Identifier', 0, ALGORITHM_INFO.size, bytes.length);
  return { ok: true, value: readAlgorithmInfo(dataView(bytes), 0) };
}

/** IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION as 0x30 bytes. */
export function encodeSecurityAssociation(sa: SecurityAssociation): Uint8Array {
  const out = new Uint8Array(SECURITY_ASSOCIATION.size);
  writeSecurityAssociation(dataView(out), 0, sa);
  return out;
}

/** Decodes IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION from the first 0x30 bytes. */
export function decodeSecurityAssociation(bytes: Uint8Array): Decoded<SecurityAssociation> {
  if (bytes.length < SECURITY_ASSOCIATION.size)
    return tooShort('Flags', 0, SECURITY_ASSOCIATION.size, bytes.length);
  return { ok: true, value: readSecurityAssociation(dataView(bytes), 0) };
}

/** The key bytes of `algorithm` inside `keyData`, or undefined if its range is outside the buffer. */
export function algorithmKey(
  keyData: Uint8Array,
  algorithm: AlgorithmInfo
): Uint8Array | undefined {
  const end = algorithm.keyOffsetBytes + algorithm.keyLength;
  return end <= keyData.length ? keyData.subarray(algorithm.keyOffsetBytes, end) : undefined;
}

/**
 * Reads the bundle body at `at` (struct start) once its fixed part is known to be in the buffer;
 * the key buffer is located by the caller. NumExtHdrs outside 1…2 is NDIS_STATUS_INVALID_DATA.
 */
export function readBody(
  dv: DataView,
  at: number,
  L: BodyLayout,
  arch: Arch
): Decoded<Omit<SaBundle, 'keyData'> & { readonly keyLength: number }> {
  const numExtHdrs = dv.getUint32(at + L.NumExtHdrs, true);
  if (numExtHdrs < 1 || numExtHdrs > 2) {
    // ndis.h: SecAssoc[IPSEC_OFFLOAD_V2_MAX_EXTENSION_HEADERS]; NumExtHdrs counts its valid elements.
    return fail(
      NdisStatus.NDIS_STATUS_INVALID_DATA,
      'NumExtHdrs',
      at + L.NumExtHdrs,
      `expected 1 or 2, got ${numExtHdrs}`
    );
  }
  const rawFlags = dv.getUint32(at + L.Flags, true);
  const ipv6 = (rawFlags & AddSaFlags.IPSEC_OFFLOAD_V2_IPv6) !== 0;
  const addrLength = ipv6 ? 16 : 4;
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  const dstAt = at + (ipv6 ? L.IPv6DestAddr : L.IPv4DestAddr);
  const secAssoc: SecurityAssociation[] = [];
  for (let i = 0; i < numExtHdrs; i++) {
    secAssoc.push(readSecurityAssociation(dv, at + L.SecAssoc + i * SECURITY_ASSOCIATION.size));
  }
  return {
    ok: true,
    value: {
      numExtHdrs,
      flags: { inbound: (rawFlags & AddSaFlags.IPSEC_OFFLOAD_V2_INBOUND) !== 0, ipv6 },
      // Contract D7: addresses are copied as stored, i.e. in network byte order.
      src: bytes.slice(at + L.SrcAddr, at + L.SrcAddr + addrLength),
      dst: bytes.slice(dstAt, dstAt + addrLength),
      udpEspEncapsulation: dv.getUint32(at + L.UdpEspEncapsulation, true),
      secAssoc,
      offloadHandle: readPointer(dv, at + L.OffloadHandle, arch),
      keyLength: dv.getUint32(at + L.KeyLength, true),
    },
  };
}

/**
 * Writes the bundle body at `at` (struct start), KeyLength = keyData.length; the caller writes the
 * header, any `Next`, and the key bytes. Throws a TypeError/RangeError for a bundle that cannot be
 * encoded (address length not matching `flags.ipv6`, SecAssoc count not NumExtHdrs, …).
 */
export function writeBody(
  dv: DataView,
  at: number,
  L: BodyLayout,
  sa: SaBundle,
  arch: Arch,
  name: string
): void {
  const addrLength = sa.flags.ipv6 ? 16 : 4;
  if (sa.src.length !== addrLength || sa.dst.length !== addrLength) {
    throw new RangeError(
      `${name}: expected ${addrLength}-byte src and dst for ${sa.flags.ipv6 ? 'IPv6' : 'IPv4'}, got ${sa.src.length} and ${sa.dst.length}`
    );
  }
  if (sa.numExtHdrs < 1 || sa.numExtHdrs > 2 || sa.secAssoc.length !== sa.numExtHdrs) {
    throw new RangeError(
      `${name}: expected NumExtHdrs 1 or 2 matching ${sa.secAssoc.length} SecAssoc elements, got ${sa.numExtHdrs}`
    );
  }
  const flags =
    (sa.flags.inbound ? AddSaFlags.IPSEC_OFFLOAD_V2_INBOUND : 0) |
    (sa.flags.ipv6 ? AddSaFlags.IPSEC_OFFLOAD_V2_IPv6 : 0);
  dv.setUint32(at + L.NumExtHdrs, sa.numExtHdrs, true);
  dv.setUint32(at + L.Flags, flags, true);
  const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
  bytes.fill(0, at + L.SrcAddr, at + L.SrcAddr + 32); // the whole 32-byte endpoint union
  bytes.set(sa.src, at + L.SrcAddr);
  bytes.set(sa.dst, at + (sa.flags.ipv6 ? L.IPv6DestAddr : L.IPv4DestAddr));
  writePointer(dv, at + L.OffloadHandle, sa.offloadHandle, arch, `${name}.OffloadHandle`);
  dv.setUint32(
    at + L.UdpEspEncapsulation,
    u32(`${name}.UdpEspEncapsulation`, sa.udpEspEncapsulation),
    true
  );
  bytes.fill(0, at + L.SecAssoc, at + L.SecAssoc + 2 * SECURITY_ASSOCIATION.size);
  sa.secAssoc.forEach((s, i) => {
    writeSecurityAssociation(
      dv,
      at + L.SecAssoc + i * SECURITY_ASSOCIATION.size,
      s,
      `${name}.SecAssoc[${i}]`
    );
  });
  dv.setUint32(at + L.KeyLength, u32(`${name}.KeyLength`, sa.keyData.length), true);
}

/** Checks a ULONG value; returns it. */
function u32(where: string, value: number): number {
  needUint(where, value, 0xffff_ffff);
  return value;
}
