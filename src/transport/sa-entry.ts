/**
 * @module
 * From an SA bundle described by algorithm names (contract D17) and keys to the
 * IPSEC_OFFLOAD_V2_ADD_SA entry the transport hands the NIC ("Managing Security Associations in
 * IPsec Offload Version 2", OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA): the algorithm identifiers of
 * reference §3.4, one key buffer with each algorithm's key at its `KeyOffsetBytes` (contract D5:
 * encryption key first, then the integrity key; GCM/GMAC keys carry their 4-byte salt), the
 * AES-GCM ICV length in `AdditionalInfo`, and the ESN flag with `SequenceNumberHighOrder`.
 * The entry is encoded by `ndis/addsa.ts` and set by OID, never handed over as an object.
 */
import {
  encryptionInfo,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from '../crypto/names.ts';
import { Operation, SaFlags } from '../ndis/oid.ts';
import type { AlgorithmInfo, SaBundle, SecurityAssociation } from '../ndis/sa.ts';

/** One SA of a bundle, by name. */
export interface SaDescription {
  readonly protocol: 'esp' | 'ah';
  readonly spi: number;
  /** ESP only: the encryption algorithm ('null' for integrity-only ESP). */
  readonly encryption?: EncryptionName;
  /** The integrity algorithm; null/absent for combined modes. */
  readonly integrity?: IntegrityName | null;
  readonly encryptionKey?: Uint8Array;
  readonly integrityKey?: Uint8Array;
  /** AES-GCM only: 8, 12 or 16 (default 16). */
  readonly icvLength?: number;
  readonly esn?: boolean;
  /** SequenceNumberHighOrder at add time (ESN only). */
  readonly seqHigh?: number;
}

/** One direction of one bundle, by name: what one ADD_SA entry carries. */
export interface BundleDescription {
  readonly inbound: boolean;
  /** Endpoints as on the wire: 4 bytes each (IPv4) or 16 (IPv6); zero bytes are wildcards. */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** An IPSEC_OFFLOAD_V2_*UDP_ESP_ENCAPSULATION* value (0: none). */
  readonly udpEspEncapsulation?: number;
  /** The SAs in processing order: one, or ESP then AH (reference §2.5). */
  readonly sas: readonly SaDescription[];
}

const NO_ALGORITHM: AlgorithmInfo = {
  identifier: 0,
  keyLength: 0,
  keyOffsetBytes: 0,
  additionalInfo: 0,
};

/**
 * Builds the ADD_SA entry record for `bundle`. Throws a TypeError/RangeError naming the field
 * when a key is missing or has the wrong length, or an algorithm has no IPsecOV2 identifier
 * (such an SA cannot be offloaded: the transport keeps it in software, contract §5).
 */
export function addSaEntry(bundle: BundleDescription): SaBundle {
  const where = 'addSaEntry';
  const ipv6 = bundle.source.length === 16;
  if (
    bundle.source.length !== bundle.destination.length ||
    ![4, 16].includes(bundle.source.length)
  ) {
    throw new RangeError(
      `${where}: expected 4- or 16-byte source and destination of one IP version, got ${bundle.source.length} and ${bundle.destination.length}`
    );
  }
  if (bundle.sas.length < 1 || bundle.sas.length > 2) {
    throw new RangeError(`${where}: expected 1 or 2 SAs, got ${bundle.sas.length}`);
  }
  const keys: Uint8Array[] = [];
  let keyOffset = 0;
  /** Appends `key` to the key buffer and describes it with `identifier`. */
  const place = (identifier: number, key: Uint8Array, additionalInfo: number): AlgorithmInfo => {
    keys.push(key);
    const info = { identifier, keyLength: key.length, keyOffsetBytes: keyOffset, additionalInfo };
    keyOffset += key.length;
    return info;
  };
  const secAssoc = bundle.sas.map((sa, i): SecurityAssociation => {
    const at = `${where} sas[${i}]`;
    let encryptionAlgorithm = NO_ALGORITHM;
    let authenticationAlgorithm = NO_ALGORITHM;
    if (sa.protocol === 'esp') {
      const enc = encryptionInfo(sa.encryption ?? 'null');
      if (enc.identifier === null) {
        throw new TypeError(
          `${at}.encryption: expected an algorithm with an IPsecOV2 identifier, got ${enc.name}`
        );
      }
      const key = sa.encryptionKey ?? new Uint8Array(0);
      needKey(`${at}.encryptionKey`, key, enc.keyLength);
      // Contract D5: for AES-GCM, AdditionalInfo is the ICV length in bytes.
      const additional = enc.combined ? (sa.icvLength ?? enc.icvLength) : 0;
      encryptionAlgorithm = place(enc.identifier, key, additional);
    }
    const integrity = sa.integrity ?? null;
    if (integrity !== null) {
      const auth = integrityInfo(integrity);
      if (auth.identifier === null) {
        throw new TypeError(
          `${at}.integrity: expected an algorithm with an IPsecOV2 identifier, got ${auth.name}`
        );
      }
      const key = sa.integrityKey ?? new Uint8Array(0);
      needKey(`${at}.integrityKey`, key, auth.keyLength);
      authenticationAlgorithm = place(auth.identifier, key, 0);
    } else if (sa.protocol === 'ah') {
      throw new TypeError(`${at}.integrity: expected an integrity algorithm for AH, got none`);
    }
    const esn = sa.esn ?? false;
    return {
      flags: esn ? SaFlags.IPSEC_OFFLOAD_V2_ESN_SA : 0,
      operation: sa.protocol === 'esp' ? Operation.IPsecOffloadV2Esp : Operation.IPsecOffloadV2Ah,
      spi: sa.spi,
      authenticationAlgorithm,
      encryptionAlgorithm,
      sequenceNumberHighOrder: esn ? (sa.seqHigh ?? 0) : 0,
    };
  });
  const keyData = new Uint8Array(keyOffset);
  let at = 0;
  for (const k of keys) {
    keyData.set(k, at);
    at += k.length;
  }
  return {
    numExtHdrs: secAssoc.length,
    flags: { inbound: bundle.inbound, ipv6 },
    src: bundle.source,
    dst: bundle.destination,
    udpEspEncapsulation: bundle.udpEspEncapsulation ?? 0,
    secAssoc,
    keyData,
    offloadHandle: 0n,
  };
}

function needKey(where: string, key: Uint8Array, length: number): void {
  if (key.length !== length) {
    throw new RangeError(`${where}: expected ${length} bytes, got ${key.length}`);
  }
}
