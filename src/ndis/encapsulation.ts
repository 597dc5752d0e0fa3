/**
 * @module
 * NDIS_OFFLOAD_ENCAPSULATION (ntddndis.h), the buffer of OID_OFFLOAD_ENCAPSULATION: the
 * encapsulation a protocol asks the NIC to offload with. Receive IPsec offload starts only after
 * this OID is set (contract D12; "OID_OFFLOAD_ENCAPSULATION"). No pointers: the same on x86 and x64.
 */
import {
  checkHeader,
  dataView,
  truncated,
  writeHeader,
  type Decoded,
  type FieldTable,
} from './abi.ts';

/** NDIS_OBJECT_HEADER.Type of NDIS_OFFLOAD_ENCAPSULATION (ntddndis.h). */
export const NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION = 0xa8;
/** NDIS_OFFLOAD_ENCAPSULATION_REVISION_1. */
export const NDIS_OFFLOAD_ENCAPSULATION_REVISION_1 = 1;

/** NDIS_OFFLOAD_ENCAPSULATION.IPv4/IPv6.Enabled values (ntddndis.h). */
export const OffloadSet = {
  NDIS_OFFLOAD_SET_NO_CHANGE: 0,
  NDIS_OFFLOAD_SET_ON: 1,
  NDIS_OFFLOAD_SET_OFF: 2,
} as const;

/**
 * NDIS_OFFLOAD_ENCAPSULATION field offsets (no pointers: the same on x86 and x64).
 * SIZEOF_REVISION_1 = NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1 = RTL_SIZEOF_THROUGH_FIELD(…, IPv6).
 */
export const OFFLOAD_ENCAPSULATION = {
  Header: 0x00,
  IPv4Enabled: 0x04,
  IPv4EncapsulationType: 0x08,
  IPv4HeaderSize: 0x0c,
  IPv6Enabled: 0x10,
  IPv6EncapsulationType: 0x14,
  IPv6HeaderSize: 0x18,
  SIZEOF_REVISION_1: 0x1c,
} as const;

/** One IP version's member of NDIS_OFFLOAD_ENCAPSULATION. */
export interface EncapsulationSetting {
  /** NDIS_OFFLOAD_SET_NO_CHANGE, _ON or _OFF. */
  readonly Enabled: number;
  /** One NDIS_ENCAPSULATION_* value when Enabled is NDIS_OFFLOAD_SET_ON, else 0. */
  readonly EncapsulationType: number;
  /** The Ethernet header length the protocol uses when Enabled is NDIS_OFFLOAD_SET_ON, else 0. */
  readonly HeaderSize: number;
}

/** NDIS_OFFLOAD_ENCAPSULATION: the encapsulation a protocol asks the NIC to offload with. */
export interface OffloadEncapsulation {
  readonly IPv4: EncapsulationSetting;
  readonly IPv6: EncapsulationSetting;
}

const ENCAPSULATION_FIELDS: FieldTable = Object.entries(OFFLOAD_ENCAPSULATION).filter(
  ([k]) => !k.startsWith('SIZEOF')
);

/** Encodes NDIS_OFFLOAD_ENCAPSULATION (NDIS_SIZEOF_OFFLOAD_ENCAPSULATION_REVISION_1 bytes). */
export function encodeOffloadEncapsulation(e: OffloadEncapsulation): Uint8Array {
  const L = OFFLOAD_ENCAPSULATION;
  const out = new Uint8Array(L.SIZEOF_REVISION_1);
  const dv = dataView(out);
  writeHeader(dv, L.Header, {
    Type: NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION,
    Revision: NDIS_OFFLOAD_ENCAPSULATION_REVISION_1,
    Size: L.SIZEOF_REVISION_1,
  });
  dv.setUint32(L.IPv4Enabled, e.IPv4.Enabled, true);
  dv.setUint32(L.IPv4EncapsulationType, e.IPv4.EncapsulationType, true);
  dv.setUint32(L.IPv4HeaderSize, e.IPv4.HeaderSize, true);
  dv.setUint32(L.IPv6Enabled, e.IPv6.Enabled, true);
  dv.setUint32(L.IPv6EncapsulationType, e.IPv6.EncapsulationType, true);
  dv.setUint32(L.IPv6HeaderSize, e.IPv6.HeaderSize, true);
  return out;
}

/**
 * Decodes NDIS_OFFLOAD_ENCAPSULATION: a short buffer is NDIS_STATUS_BUFFER_TOO_SHORT with
 * bytesNeeded, a wrong Header NDIS_STATUS_INVALID_LENGTH (contract D15); values are not judged.
 */
export function decodeOffloadEncapsulation(bytes: Uint8Array): Decoded<OffloadEncapsulation> {
  const L = OFFLOAD_ENCAPSULATION;
  if (bytes.length < L.SIZEOF_REVISION_1) {
    return truncated(ENCAPSULATION_FIELDS, 0, L.SIZEOF_REVISION_1, bytes.length);
  }
  const dv = dataView(bytes);
  const bad = checkHeader(dv, 0, {
    type: NDIS_OBJECT_TYPE_OFFLOAD_ENCAPSULATION,
    revision: NDIS_OFFLOAD_ENCAPSULATION_REVISION_1,
    size: L.SIZEOF_REVISION_1,
  });
  if (bad) return bad;
  const family = (at: number): EncapsulationSetting => ({
    Enabled: dv.getUint32(at, true),
    EncapsulationType: dv.getUint32(at + 4, true),
    HeaderSize: dv.getUint32(at + 8, true),
  });
  return { ok: true, value: { IPv4: family(L.IPv4Enabled), IPv6: family(L.IPv6Enabled) } };
}
