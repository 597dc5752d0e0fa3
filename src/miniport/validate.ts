/**
 * @module
 * Judges one ADD_SA / ADD_SA_EX entry against the NIC's capability record and current
 * configuration, before any transform is created, so that a bad entry never throws out of an OID.
 * Pages: "IPSEC_OFFLOAD_V2_ADD_SA", "IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION",
 * "IPSEC_OFFLOAD_V2_ALGORITHM_INFO", "NDIS_IPSEC_OFFLOAD_V2", "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA".
 * Reference: ndis-ipsecov2.md §1.9, §1.11, §2.1–§2.5, §3.3, §3.4, §5; contract D5, D12, D15.
 *
 * The decoders in `ndis/` check structure only; everything a NIC can judge at ADD_SA time
 * (contract D12: algorithm, key and ICV lengths, AH+ESP, UDP-ESP type, ESN, IPv6) is judged here
 * as a pure function of the entry, the capability record and the configuration. What depends on the
 * SA table (capacity, an inbound SPI already in use) is judged by the caller (oid-sa.ts).
 */
import {
  encryptionByIdentifier,
  encryptionInfo,
  integrityByIdentifier,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from '../crypto/names.ts';
import type { IpsecOffloadV2 } from '../ndis/caps.ts';
import { Encryption, Operation as OperationValue, SaFlags } from '../ndis/oid.ts';
import {
  algorithmKey,
  type AlgorithmInfo,
  type SaBundle as AddSaBundle,
  type SecurityAssociation,
} from '../ndis/sa.ts';
import type { CurrentConfig } from './config.ts';
import type { Operation } from './sa-table.ts';

/**
 * Why an entry was refused; each is counted as `oid.add-sa.reject:<reason>` (contract §4 kind 3).
 * `capacity` and `spi-in-use` are judged by the caller against the SA table.
 */
export type RejectReason =
  | 'num-ext-hdrs'
  | 'operation'
  | 'ah-esp-order'
  | 'ah-esp-combined'
  | 'ah-not-supported'
  | 'esp-not-supported'
  | 'ah-disabled'
  | 'esp-disabled'
  | 'ipv6-not-supported'
  | 'ipv6-disabled'
  | 'udp-esp-type'
  | 'spi-zero'
  | 'esn-not-supported'
  | 'algorithm-not-supported'
  | 'algorithm-combination'
  | 'key-length'
  | 'key-range'
  | 'icv-length'
  | 'spi-in-use'
  | 'capacity';

/** What one accepted IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION becomes: everything a transform needs. */
export interface ElementPlan {
  readonly operation: Operation;
  readonly spi: number;
  readonly esn: boolean;
  /** SequenceNumberHighOrder for an ESN SA; 0 without ESN (the high half is then never used). */
  readonly seqHigh: number;
  /** The ESP cipher ('null' for ESP without confidentiality); null for AH. */
  readonly encryption: EncryptionName | null;
  /** The integrity algorithm; null for combined-mode or confidentiality-only ESP. */
  readonly integrity: IntegrityName | null;
  /** The encryption key bytes (a view into the entry's key buffer); empty for null encryption. */
  readonly encryptionKey: Uint8Array;
  /** The integrity key bytes (a view into the entry's key buffer); empty without integrity. */
  readonly integrityKey: Uint8Array;
  /** The ICV length: for AES-GCM from AdditionalInfo (contract D5), else the algorithm's. */
  readonly icvLength: number;
}

/** Why one entry is refused. */
export interface Refusal {
  readonly ok: false;
  readonly reason: RejectReason;
  /** Index into SecAssoc of the element at fault, or -1 for the entry as a whole. */
  readonly element: number;
  /** A short human-readable explanation ("expected …, got …"). */
  readonly detail: string;
}

/** The verdict on one entry: the plan of its SAs in processing order, or the first reason to refuse. */
export type Verdict = { readonly ok: true; readonly elements: readonly ElementPlan[] } | Refusal;

const ESN_SA = SaFlags.IPSEC_OFFLOAD_V2_ESN_SA;
const AH = OperationValue.IPsecOffloadV2Ah;
const ESP = OperationValue.IPsecOffloadV2Esp;

/** A refusal of the entry (element -1) or of one of its SAs. */
export function refuse(reason: RejectReason, element: number, detail: string): Refusal {
  return { ok: false, reason, element, detail };
}

/** True when `identifier` is exactly one bit that `mask` advertises. */
function advertised(mask: number, identifier: number): boolean {
  return (
    identifier !== 0 && (identifier & (identifier - 1)) === 0 && (mask & identifier) >>> 0 !== 0
  );
}

/** True when every member of ALGORITHM_INFO is zero (the doc's "zeros" for an unused algorithm). */
function absent(a: AlgorithmInfo): boolean {
  return (
    a.identifier === 0 && a.keyLength === 0 && a.keyOffsetBytes === 0 && a.additionalInfo === 0
  );
}

/**
 * Judges one entry. Checks, in this order (the first failure is the reason):
 * NumExtHdrs and Operation values; for two SAs the order ESP then AH (reference §1.11: "array order
 * = processing order", and the only combination is ESP followed by AH; contract D1) and
 * `AhEspCombined`; the `Ah`/`Esp` capability and configuration; the IPv6 flag against
 * `IPv6Supported` and the configuration; `UdpEspEncapsulation` (0, or one advertised bit on a
 * one-ESP-SA entry); then per SA: SPI ≠ 0, ESN against `ExtendedSequenceNumbers`, algorithm
 * identifiers against the capability masks and their combination, key lengths (contract D5),
 * key ranges inside the key buffer, and ICV lengths.
 */
export function validateEntry(
  entry: AddSaBundle,
  caps: IpsecOffloadV2,
  config: CurrentConfig
): Verdict {
  const n = entry.numExtHdrs;
  // ndis.h: SecAssoc[IPSEC_OFFLOAD_V2_MAX_EXTENSION_HEADERS]; the decoder already refuses others.
  if ((n !== 1 && n !== 2) || entry.secAssoc.length !== n) {
    return refuse('num-ext-hdrs', -1, `expected NumExtHdrs 1 or 2, got ${n}`);
  }
  const secAssoc = entry.secAssoc;
  for (let i = 0; i < n; i++) {
    const operation = secAssoc[i].operation;
    if (operation !== AH && operation !== ESP) {
      return refuse(
        'operation',
        i,
        `expected Operation IPsecOffloadV2Ah (1) or IPsecOffloadV2Esp (2), got ${operation}`
      );
    }
  }
  const first = secAssoc[0].operation;
  const second = n === 2 ? secAssoc[1].operation : first;
  if (n === 2) {
    // Reference §1.11 (IPSEC_OFFLOAD_V2_ADD_SA): the array order is the processing order, and the
    // only combination is ESP (encryption) followed by AH (authentication) — D1 "ESP then AH".
    if (first !== ESP || second !== AH) {
      return refuse('ah-esp-order', -1, `expected SecAssoc [ESP, AH], got [${first}, ${second}]`);
    }
    if (!caps.AhEspCombined) {
      return refuse('ah-esp-combined', -1, 'expected AhEspCombined TRUE for an AH+ESP bundle');
    }
  }
  const hasAh = first === AH || second === AH;
  const hasEsp = first === ESP || second === ESP;
  if (hasAh && !caps.Ah) return refuse('ah-not-supported', -1, 'the NIC does not advertise Ah');
  if (hasEsp && !caps.Esp) return refuse('esp-not-supported', -1, 'the NIC does not advertise Esp');
  // OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA: a request can fail because the configuration changed.
  if (hasAh && !config.ipsecAh) return refuse('ah-disabled', -1, 'AH offload is disabled');
  if (hasEsp && !config.ipsecEsp) return refuse('esp-disabled', -1, 'ESP offload is disabled');
  if (entry.flags.ipv6) {
    if (!caps.IPv6Supported) {
      return refuse('ipv6-not-supported', -1, 'IPSEC_OFFLOAD_V2_IPv6 without IPv6Supported');
    }
    if (!config.ipsecIpv6) return refuse('ipv6-disabled', -1, 'IPsec offload for IPv6 is off');
  }
  const udp = entry.udpEspEncapsulation >>> 0;
  if (udp !== 0) {
    // NDIS_IPSEC_OFFLOAD_V2.UdpEsp lists the types the NIC parses; an SA has exactly one type
    // (reference §6 item 12), and NumExtHdrs is 1 for a UDP-ESP SA (IPSEC_OFFLOAD_V2_ADD_SA).
    if (!advertised(caps.UdpEsp, udp)) {
      return refuse(
        'udp-esp-type',
        -1,
        `expected 0 or one UdpEsp bit of 0x${caps.UdpEsp.toString(16)}, got 0x${udp.toString(16)}`
      );
    }
    if (n !== 1 || !hasEsp) {
      return refuse('udp-esp-type', -1, 'expected a single ESP SA with UDP-ESP encapsulation');
    }
  }
  const elements: ElementPlan[] = [];
  for (let i = 0; i < n; i++) {
    const sa = secAssoc[i];
    const plan = sa.operation === AH ? planAh(sa, i, entry, caps) : planEsp(sa, i, entry, caps);
    if ('ok' in plan) return plan;
    elements.push(plan);
  }
  return { ok: true, elements };
}

/** An element's plan, or why it is refused (a Refusal is the one with `ok`). */
type Planned = ElementPlan | Refusal;

/** The key of an element without one (shared: a zero-length array has nothing to change). */
const NO_KEY = new Uint8Array(0);

/** Checks SPI and ESN, common to AH and ESP. */
function common(sa: SecurityAssociation, i: number, caps: IpsecOffloadV2): Refusal | undefined {
  // RFC 4303 §2.1 / RFC 4302 §2.4: SPI 0 is reserved and never appears on the wire.
  if (sa.spi >>> 0 === 0) return refuse('spi-zero', i, 'expected a non-zero Spi');
  if ((sa.flags & ESN_SA) !== 0 && !caps.ExtendedSequenceNumbers) {
    return refuse(
      'esn-not-supported',
      i,
      'IPSEC_OFFLOAD_V2_ESN_SA without ExtendedSequenceNumbers'
    );
  }
  return undefined;
}

/** The key of `alg` in the entry's key buffer, checking its length (D5) and range. */
function key(
  alg: AlgorithmInfo,
  expected: number,
  what: string,
  i: number,
  keyData: Uint8Array
): Uint8Array | Refusal {
  if (alg.keyLength !== expected) {
    return refuse('key-length', i, `expected a ${expected}-byte ${what} key, got ${alg.keyLength}`);
  }
  const bytes = algorithmKey(keyData, alg);
  if (bytes === undefined) {
    return refuse(
      'key-range',
      i,
      `expected KeyOffsetBytes ${alg.keyOffsetBytes} + KeyLength ${alg.keyLength} within ${keyData.length} key bytes`
    );
  }
  return bytes;
}

/** The integrity algorithm named by `alg`, if the NIC advertises it. */
function integrityOf(alg: AlgorithmInfo, caps: IpsecOffloadV2, i: number): IntegrityName | Refusal {
  const name = integrityByIdentifier(alg.identifier);
  if (name === undefined || !advertised(caps.AuthenticationAlgorithms, alg.identifier)) {
    return refuse(
      'algorithm-not-supported',
      i,
      `AuthenticationAlgorithm 0x${alg.identifier.toString(16)} is not in AuthenticationAlgorithms 0x${caps.AuthenticationAlgorithms.toString(16)}`
    );
  }
  return name;
}

/** AES-GMAC ICVs are 16 bytes (RFC 4543 §3.4); AdditionalInfo may say so or be 0. */
function gmacIcvOk(name: IntegrityName, alg: AlgorithmInfo): boolean {
  return (
    integrityInfo(name).saltLength === 0 || alg.additionalInfo === 0 || alg.additionalInfo === 16
  );
}

/** An AH element: an integrity algorithm only, EncryptionAlgorithm all zero (SECURITY_ASSOCIATION page). */
function planAh(
  sa: SecurityAssociation,
  i: number,
  entry: AddSaBundle,
  caps: IpsecOffloadV2
): Planned {
  const bad = common(sa, i, caps);
  if (bad) return bad;
  if (!absent(sa.encryptionAlgorithm)) {
    return refuse('algorithm-combination', i, 'expected EncryptionAlgorithm all zero for AH');
  }
  if (sa.authenticationAlgorithm.identifier === 0) {
    return refuse('algorithm-combination', i, 'expected an AuthenticationAlgorithm for AH');
  }
  const integrity = integrityOf(sa.authenticationAlgorithm, caps, i);
  if (typeof integrity !== 'string') return integrity;
  const info = integrityInfo(integrity);
  const k = key(sa.authenticationAlgorithm, info.keyLength, integrity, i, entry.keyData);
  if (!(k instanceof Uint8Array)) return k;
  if (!gmacIcvOk(integrity, sa.authenticationAlgorithm)) {
    return refuse(
      'icv-length',
      i,
      `expected AdditionalInfo 0 or 16 for ${integrity}, got ${sa.authenticationAlgorithm.additionalInfo}`
    );
  }
  const esn = (sa.flags & ESN_SA) !== 0;
  return {
    operation: 'ah',
    spi: sa.spi >>> 0,
    esn,
    seqHigh: esn ? sa.sequenceNumberHighOrder >>> 0 : 0,
    encryption: null,
    integrity,
    encryptionKey: NO_KEY,
    integrityKey: k,
    icvLength: info.icvLength,
  };
}

/**
 * An ESP element: encryption, integrity or both; AES-GCM alone (its AuthenticationAlgorithm "should
 * not be used" and is ignored); AES-GMAC integrity only with null encryption (RFC 4543 §3).
 * Model: an EncryptionAlgorithm Identifier of 0 is ESP without confidentiality, the same as
 * IPSEC_OFFLOAD_V2_ENCRYPTION_NONE, and needs that capability bit.
 */
function planEsp(
  sa: SecurityAssociation,
  i: number,
  entry: AddSaBundle,
  caps: IpsecOffloadV2
): Planned {
  const bad = common(sa, i, caps);
  if (bad) return bad;
  const encAlg = sa.encryptionAlgorithm;
  const encId =
    encAlg.identifier === 0 ? Encryption.IPSEC_OFFLOAD_V2_ENCRYPTION_NONE : encAlg.identifier;
  const encryption = encryptionByIdentifier(encId);
  if (encryption === undefined || !advertised(caps.EncryptionAlgorithms, encId)) {
    return refuse(
      'algorithm-not-supported',
      i,
      `EncryptionAlgorithm 0x${encAlg.identifier.toString(16)} is not in EncryptionAlgorithms 0x${caps.EncryptionAlgorithms.toString(16)}`
    );
  }
  const enc = encryptionInfo(encryption);
  let integrity: IntegrityName | null = null;
  const authAlg = sa.authenticationAlgorithm;
  // IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION: with AES-GCM only EncryptionAlgorithm is specified.
  if (!enc.combined && authAlg.identifier !== 0) {
    const name = integrityOf(authAlg, caps, i);
    if (typeof name !== 'string') return name;
    integrity = name;
  }
  if (encryption === 'null' && integrity === null) {
    // RFC 4303 §3.2: encryption and integrity MUST NOT both be NULL.
    return refuse(
      'algorithm-combination',
      i,
      'expected an integrity algorithm with null encryption'
    );
  }
  if (integrity !== null && integrityInfo(integrity).saltLength > 0 && encryption !== 'null') {
    // RFC 4543 §3: ENCR_NULL_AUTH_AES_GMAC is used with no other cipher.
    return refuse('algorithm-combination', i, `expected null encryption with ${integrity}`);
  }
  const encryptionKey = key(encAlg, enc.keyLength, encryption, i, entry.keyData);
  if (!(encryptionKey instanceof Uint8Array)) return encryptionKey;
  let integrityKey: Uint8Array = NO_KEY;
  let icvLength = integrity === null ? 0 : integrityInfo(integrity).icvLength;
  if (integrity !== null) {
    const k = key(authAlg, integrityInfo(integrity).keyLength, integrity, i, entry.keyData);
    if (!(k instanceof Uint8Array)) return k;
    integrityKey = k;
    if (!gmacIcvOk(integrity, authAlg)) {
      return refuse(
        'icv-length',
        i,
        `expected AdditionalInfo 0 or 16 for ${integrity}, got ${authAlg.additionalInfo}`
      );
    }
  }
  if (enc.combined) {
    // Contract D5: for AES-GCM, AdditionalInfo is the ICV length in bytes; 0 means 16.
    icvLength = encAlg.additionalInfo === 0 ? enc.icvLength : encAlg.additionalInfo;
    if (!enc.icvLengths.includes(icvLength)) {
      return refuse(
        'icv-length',
        i,
        `expected AdditionalInfo 0, ${enc.icvLengths.join(', ')} for ${encryption}, got ${encAlg.additionalInfo}`
      );
    }
  }
  const esn = (sa.flags & ESN_SA) !== 0;
  return {
    operation: 'esp',
    spi: sa.spi >>> 0,
    esn,
    seqHigh: esn ? sa.sequenceNumberHighOrder >>> 0 : 0,
    encryption,
    integrity,
    encryptionKey,
    integrityKey,
    icvLength,
  };
}
