/**
 * @module
 * The miniport's current offload configuration: what the hardware can do (the capability record,
 * contract D12) narrowed by OID_TCP_OFFLOAD_PARAMETERS and OID_OFFLOAD_ENCAPSULATION. The data
 * path asks this record, never the raw OID values ("Offloading Checksum Tasks", "Offloading the
 * Segmentation of Large TCP Packets", OID_TCP_OFFLOAD_PARAMETERS).
 */
import type { Offload } from '../ndis/caps.ts';

/** Transmit-side checksum offload switches for one IP version. */
export interface ChecksumConfig {
  readonly ip: boolean;
  readonly tcp: boolean;
  readonly udp: boolean;
}

/** The current configuration (each flag true only if the hardware also supports it). */
export interface CurrentConfig {
  /** IPsecOV2 transmit/receive for AH and for ESP (IPsecV2 / IPsecV2IPv4 settings, §3.7). */
  readonly ipsecAh: boolean;
  readonly ipsecEsp: boolean;
  /** IPsec offload on IPv6 traffic (false when only IPsecV2IPv4 enabled it). */
  readonly ipsecIpv6: boolean;
  readonly lsoV1: boolean;
  readonly lsoV2IPv4: boolean;
  readonly lsoV2IPv6: boolean;
  readonly checksumIPv4: ChecksumConfig;
  readonly checksumIPv6: ChecksumConfig;
  /** Receive offload runs only after an OID_OFFLOAD_ENCAPSULATION set (D12). */
  readonly receiveEnabled: boolean;
}

/** True when IPsec offload is configured at all (the seed's first check, D10). */
export function ipsecConfigured(config: CurrentConfig): boolean {
  return config.ipsecAh || config.ipsecEsp;
}

/** The configuration a miniport starts with: everything the hardware supports, receive off. */
export function initialConfig(caps: Offload): CurrentConfig {
  const v2 = caps.IPsecV2;
  const anyIpsec = v2.AuthenticationAlgorithms !== 0 || v2.EncryptionAlgorithms !== 0;
  const on = (v: number): boolean => v !== 0;
  return {
    ipsecAh: anyIpsec && v2.Ah,
    ipsecEsp: anyIpsec && v2.Esp,
    ipsecIpv6: anyIpsec && v2.IPv6Supported,
    lsoV1: caps.LsoV1.IPv4.MaxOffLoadSize > 0,
    lsoV2IPv4: caps.LsoV2.IPv4.MaxOffLoadSize > 0,
    lsoV2IPv6: caps.LsoV2.IPv6.MaxOffLoadSize > 0,
    checksumIPv4: {
      ip: on(caps.Checksum.IPv4Transmit.IpChecksum),
      tcp: on(caps.Checksum.IPv4Transmit.TcpChecksum),
      udp: on(caps.Checksum.IPv4Transmit.UdpChecksum),
    },
    checksumIPv6: {
      ip: false,
      tcp: on(caps.Checksum.IPv6Transmit.TcpChecksum),
      udp: on(caps.Checksum.IPv6Transmit.UdpChecksum),
    },
    receiveEnabled: false,
  };
}
