/**
 * @module
 * What the sending transport knows of its NIC, in one record (style practice 10), and every
 * offload decision as a named function of it (contract D12): the NDIS_IPSEC_OFFLOAD_V2 the host
 * read by OID query (OID_TCP_OFFLOAD_CURRENT_CONFIG), and the LSO limits of the NDIS_OFFLOAD that
 * NDIS gave at bind time or that the last NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG carried
 * (reference §1.2). Nothing here touches the NIC.
 */
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import type { IpsecOffloadV2, Offload } from '../ndis/caps.ts';
import { Encryption, UdpEsp } from '../ndis/oid.ts';
import type { SaConfig } from './policy.ts';

/** One LSO variant's limits (NDIS_TCP_LARGE_SEND_OFFLOAD_V1/V2): TCP user data per send. */
export interface LsoLimit {
  readonly maxOffLoadSize: number;
  readonly minSegmentCount: number;
}

/** The capability record the transport decides from. */
export interface TxCapabilities {
  /** NDIS_IPSEC_OFFLOAD_V2 of the current configuration (all false/0: no IPsec offload). */
  readonly ipsec: IpsecOffloadV2;
  /** LSOv1 (IPv4 only), LSOv2 IPv4, LSOv2 IPv6; null where the NIC has none or it is off. */
  readonly lsoV1: LsoLimit | null;
  readonly lsoV2IPv4: LsoLimit | null;
  readonly lsoV2IPv6: LsoLimit | null;
}

function limit(max: number, min: number): LsoLimit | null {
  return max > 0 ? { maxOffLoadSize: max, minSegmentCount: min } : null;
}

/** The LSO limits of an NDIS_OFFLOAD (a MaxOffLoadSize of 0 means that LSO is absent or off). */
export function lsoLimitsOf(
  offload: Offload | undefined
): Pick<TxCapabilities, 'lsoV1' | 'lsoV2IPv4' | 'lsoV2IPv6'> {
  if (offload === undefined) return { lsoV1: null, lsoV2IPv4: null, lsoV2IPv6: null };
  const v1 = offload.LsoV1.IPv4;
  const v4 = offload.LsoV2.IPv4;
  const v6 = offload.LsoV2.IPv6;
  return {
    lsoV1: limit(v1.MaxOffLoadSize, v1.MinSegmentCount),
    lsoV2IPv4: limit(v4.MaxOffLoadSize, v4.MinSegmentCount),
    lsoV2IPv6: limit(v6.MaxOffLoadSize, v6.MinSegmentCount),
  };
}

/** Where a bundle sits in the packets it protects: it decides Transport/Tunnel and the UdpEsp bit. */
export type BundleRole = 'transport' | 'tunnel' | 'inner-over-tunnel' | 'outer-under-transport';

function bit(mask: number, value: number | null): boolean {
  return value !== null && value !== 0 && ((mask >>> 0) & value) !== 0;
}

/**
 * The ADD_SA UdpEspEncapsulation value for `sa` in `role` (reference §1.9, ndis.h): transport 1,
 * tunnel 2, a tunnel under a transport SA 4 (transport over UDP-ESP tunnel), a UDP-ESP transport
 * SA over a tunnel 8; 0 without UDP encapsulation.
 */
export function udpEspType(sa: SaConfig, role: BundleRole): number {
  if (sa.udpEncapsulation === null) return UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_NONE;
  switch (role) {
    case 'transport':
      return UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT;
    case 'tunnel':
      return UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL;
    case 'outer-under-transport':
      return UdpEsp.IPSEC_OFFLOAD_V2_TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL;
    case 'inner-over-tunnel':
      return UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL;
  }
}

/**
 * Why the NIC cannot take bundle `sa` in `role` — the NDIS_IPSEC_OFFLOAD_V2 member that is
 * missing, as `capability:<member>` — or null when it can (contract D12: what ADD_SA judges —
 * algorithm bits, key/ICV lengths, AH/ESP, AhEspCombined, IPv6Supported, ExtendedSequenceNumbers,
 * UdpEsp — plus the per-packet Transport/Tunnel members, judged here once per bundle).
 * Capacity is counted by the SA database, not here.
 */
export function bundleRefusal(
  ipsec: IpsecOffloadV2,
  sa: SaConfig,
  role: BundleRole
): string | null {
  const hasEsp = sa.protocol !== 'ah';
  const hasAh = sa.protocol !== 'esp';
  if (hasEsp && !ipsec.Esp) return 'capability:Esp';
  if (hasAh && !ipsec.Ah) return 'capability:Ah';
  if (hasEsp && hasAh && !ipsec.AhEspCombined) return 'capability:AhEspCombined';
  if (sa.source.length === 16 && !ipsec.IPv6Supported) return 'capability:IPv6Supported';
  if (sa.esn && !ipsec.ExtendedSequenceNumbers) return 'capability:ExtendedSequenceNumbers';
  const tunnelSide = role === 'tunnel' || role === 'outer-under-transport';
  if (tunnelSide ? !ipsec.Tunnel : !ipsec.Transport) {
    return tunnelSide ? 'capability:Tunnel' : 'capability:Transport';
  }
  if (role === 'inner-over-tunnel' || role === 'outer-under-transport') {
    if (!ipsec.TransportTunnelCombined) return 'capability:TransportTunnelCombined';
  }
  const udp = udpEspType(sa, role);
  if (udp !== 0 && (!bit(ipsec.UdpEsp, udp) || hasAh)) return 'capability:UdpEsp';
  if (hasEsp) {
    const e = sa.esp;
    if (e === undefined) return 'policy:esp';
    const enc = encryptionInfo(e.encryption);
    // Model (validate.ts): ESP without confidentiality needs the ENCRYPTION_NONE bit.
    const encId = enc.identifier ?? null;
    if (!bit(ipsec.EncryptionAlgorithms, encId)) return 'capability:EncryptionAlgorithms';
    if (encId === Encryption.IPSEC_OFFLOAD_V2_ENCRYPTION_NONE && e.integrity === null) {
      return 'capability:EncryptionAlgorithms';
    }
    if (e.encryptionKey.length !== enc.keyLength) return 'key-length';
    if (enc.combined && !enc.icvLengths.includes(e.icvLength ?? enc.icvLength)) return 'icv-length';
    if (e.integrity !== null) {
      if (enc.combined) return 'capability:AuthenticationAlgorithms';
      const auth = integrityInfo(e.integrity);
      if (!bit(ipsec.AuthenticationAlgorithms, auth.identifier)) {
        return 'capability:AuthenticationAlgorithms';
      }
      // RFC 4543 §3: AES-GMAC integrity only with NULL encryption.
      if (auth.saltLength > 0 && enc.name !== 'null') return 'capability:AuthenticationAlgorithms';
      if (e.integrityKey?.length !== auth.keyLength) return 'key-length';
    }
  }
  if (hasAh) {
    const a = sa.ah;
    if (a === undefined) return 'policy:ah';
    const auth = integrityInfo(a.integrity);
    if (!bit(ipsec.AuthenticationAlgorithms, auth.identifier)) {
      return 'capability:AuthenticationAlgorithms';
    }
    if (a.integrityKey.length !== auth.keyLength) return 'key-length';
  }
  return null;
}

/** True when the NIC may hold one more ADD_SA entry (SaOffloadCapacity counts entries, D12). */
export function hasRoom(ipsec: IpsecOffloadV2, entriesHeld: number): boolean {
  return entriesHeld < ipsec.SaOffloadCapacity;
}

/**
 * The LSO variant for a TCP send of IP version `version` whose bundles are all offloaded (or
 * cleartext), or null: never for tunnel packets (D2, D12), only with `LsoSupported` when IPsec
 * is involved, and only when the NIC reports that LSO version (LSOv1 is IPv4 only).
 */
export function lsoFor(
  caps: TxCapabilities,
  wanted: 1 | 2,
  version: 4 | 6,
  tunnel: boolean,
  ipsec: boolean
): { readonly version: 1 | 2; readonly limit: LsoLimit } | null {
  if (tunnel) return null;
  if (ipsec && !caps.ipsec.LsoSupported) return null;
  if (wanted === 1) {
    return version === 4 && caps.lsoV1 !== null ? { version: 1, limit: caps.lsoV1 } : null;
  }
  const l = version === 4 ? caps.lsoV2IPv4 : caps.lsoV2IPv6;
  return l === null ? null : { version: 2, limit: l };
}
