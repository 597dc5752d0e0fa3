/**
 * @module
 * The capability record a miniport is built from and a transport reads by OID query: the parts of
 * NDIS_OFFLOAD that IPsec offload v2 touches (Checksum, LsoV1, LsoV2, Flags, IPsecV2), and the
 * configuration NDIS_OFFLOAD_PARAMETERS that OID_TCP_OFFLOAD_PARAMETERS sets. Pages:
 * "NDIS_IPSEC_OFFLOAD_V2", "NDIS_OFFLOAD", "NDIS_TCP_IP_CHECKSUM_OFFLOAD",
 * "NDIS_TCP_LARGE_SEND_OFFLOAD_V1", "NDIS_TCP_LARGE_SEND_OFFLOAD_V2", "NDIS_OFFLOAD_PARAMETERS"
 * (ntddndis.h). Reference: ndis-ipsecov2.md §1.2, §1.6, §1.7, §2.1, §2.13, §3.7; contract D12.
 *
 * Field names are Microsoft's. BOOLEAN members are booleans; the 2-bit checksum/LSO members are
 * numbers (NDIS_OFFLOAD_NOT_SUPPORTED 0 / NDIS_OFFLOAD_SUPPORTED 1) as in the header.
 */
import {
  checkHeader,
  dataView,
  truncated,
  writeHeader,
  type Decoded,
  type FieldTable,
} from './abi.ts';
import {
  Authentication,
  Encapsulation,
  Encryption,
  ObjectType,
  OffloadFlags,
  OffloadSupport,
  Revision,
  UdpEsp,
} from './oid.ts';
import { needUint } from '../wire/bytes.ts';

/** NDIS_IPSEC_OFFLOAD_V2 (ntddndis.h; §2.1): what the NIC can do for IPsec offload v2. */
export interface IpsecOffloadV2 {
  /** NDIS_ENCAPSULATION_* bits; NDIS_ENCAPSULATION_IEEE_802_3 is mandatory. */
  readonly Encapsulation: number;
  readonly IPv6Supported: boolean;
  readonly IPv4Options: boolean;
  readonly IPv6NonIPsecExtensionHeaders: boolean;
  readonly Ah: boolean;
  readonly Esp: boolean;
  readonly AhEspCombined: boolean;
  readonly Transport: boolean;
  readonly Tunnel: boolean;
  readonly TransportTunnelCombined: boolean;
  /** The LsoV1/LsoV2 capabilities also hold for IPsec-protected connections. */
  readonly LsoSupported: boolean;
  readonly ExtendedSequenceNumbers: boolean;
  /** IPSEC_OFFLOAD_V2_*UDP_ESP_ENCAPSULATION* bits the NIC can parse (0 = none). */
  readonly UdpEsp: number;
  /** IPSEC_OFFLOAD_V2_AUTHENTICATION_* bits. */
  readonly AuthenticationAlgorithms: number;
  /** IPSEC_OFFLOAD_V2_ENCRYPTION_* bits. */
  readonly EncryptionAlgorithms: number;
  /** How many SA bundles (ADD_SA entries, contract D12) the NIC can hold. */
  readonly SaOffloadCapacity: number;
}

/** NDIS_IPSEC_OFFLOAD_V2 with nothing offered: IPsec offload off, or not yet known. */
export const NO_IPSEC_OFFLOAD_V2: IpsecOffloadV2 = Object.freeze({
  Encapsulation: 0,
  IPv6Supported: false,
  IPv4Options: false,
  IPv6NonIPsecExtensionHeaders: false,
  Ah: false,
  Esp: false,
  AhEspCombined: false,
  Transport: false,
  Tunnel: false,
  TransportTunnelCombined: false,
  LsoSupported: false,
  ExtendedSequenceNumbers: false,
  UdpEsp: 0,
  AuthenticationAlgorithms: 0,
  EncryptionAlgorithms: 0,
  SaOffloadCapacity: 0,
});

/** NDIS_IPSEC_OFFLOAD_V2 field offsets, the same on x86 and x64 (PDB size 0x20; §2.1). */
export const IPSEC_OFFLOAD_V2 = {
  Encapsulation: 0x00,
  IPv6Supported: 0x04,
  IPv4Options: 0x05,
  IPv6NonIPsecExtensionHeaders: 0x06,
  Ah: 0x07,
  Esp: 0x08,
  AhEspCombined: 0x09,
  Transport: 0x0a,
  Tunnel: 0x0b,
  TransportTunnelCombined: 0x0c,
  LsoSupported: 0x0d,
  ExtendedSequenceNumbers: 0x0e,
  // 0x0f: padding before the next ULONG.
  UdpEsp: 0x10,
  AuthenticationAlgorithms: 0x14,
  EncryptionAlgorithms: 0x18,
  SaOffloadCapacity: 0x1c,
  size: 0x20,
} as const;

const IPSEC_BOOLEANS = [
  'IPv6Supported',
  'IPv4Options',
  'IPv6NonIPsecExtensionHeaders',
  'Ah',
  'Esp',
  'AhEspCombined',
  'Transport',
  'Tunnel',
  'TransportTunnelCombined',
  'LsoSupported',
  'ExtendedSequenceNumbers',
] as const;

const IPSEC_ULONGS = [
  'Encapsulation',
  'UdpEsp',
  'AuthenticationAlgorithms',
  'EncryptionAlgorithms',
  'SaOffloadCapacity',
] as const;

/** Encodes NDIS_IPSEC_OFFLOAD_V2 as 0x20 bytes (BOOLEAN TRUE = 1, padding 0). */
export function encodeIpsecOffloadV2(caps: IpsecOffloadV2): Uint8Array {
  const out = new Uint8Array(IPSEC_OFFLOAD_V2.size);
  const dv = dataView(out);
  for (const name of IPSEC_ULONGS) {
    needUint(`NDIS_IPSEC_OFFLOAD_V2.${name}`, caps[name], 0xffff_ffff);
    dv.setUint32(IPSEC_OFFLOAD_V2[name], caps[name], true);
  }
  for (const name of IPSEC_BOOLEANS) dv.setUint8(IPSEC_OFFLOAD_V2[name], caps[name] ? 1 : 0);
  return out;
}

/** Decodes NDIS_IPSEC_OFFLOAD_V2 from the first 0x20 bytes (any non-zero BOOLEAN is TRUE). */
export function decodeIpsecOffloadV2(bytes: Uint8Array): Decoded<IpsecOffloadV2> {
  if (bytes.length < IPSEC_OFFLOAD_V2.size) {
    const table: FieldTable = Object.entries(IPSEC_OFFLOAD_V2).filter(([k]) => k !== 'size');
    return truncated(table, 0, IPSEC_OFFLOAD_V2.size, bytes.length);
  }
  const dv = dataView(bytes);
  const out: Record<string, number | boolean> = {};
  for (const name of IPSEC_ULONGS) out[name] = dv.getUint32(IPSEC_OFFLOAD_V2[name], true);
  for (const name of IPSEC_BOOLEANS) out[name] = dv.getUint8(IPSEC_OFFLOAD_V2[name]) !== 0;
  return { ok: true, value: out as unknown as IpsecOffloadV2 };
}

/** NDIS_TCP_LARGE_SEND_OFFLOAD_V1 (ntddndis.h): LSOv1 is IPv4 only. */
export interface LsoV1Offload {
  readonly IPv4: {
    readonly Encapsulation: number;
    /** Maximum TCP user data per large packet; at most 64 KiB for LSOv1. */
    readonly MaxOffLoadSize: number;
    readonly MinSegmentCount: number;
    readonly TcpOptions: number;
    readonly IpOptions: number;
  };
}

/** NDIS_TCP_LARGE_SEND_OFFLOAD_V2 (ntddndis.h). */
export interface LsoV2Offload {
  readonly IPv4: {
    readonly Encapsulation: number;
    readonly MaxOffLoadSize: number;
    readonly MinSegmentCount: number;
  };
  readonly IPv6: {
    readonly Encapsulation: number;
    readonly MaxOffLoadSize: number;
    readonly MinSegmentCount: number;
    readonly IpExtensionHeadersSupported: number;
    readonly TcpOptionsSupported: number;
  };
}

/** The IPv4 members of NDIS_TCP_IP_CHECKSUM_OFFLOAD (IPv4Transmit, IPv4Receive). */
export interface ChecksumIPv4 {
  readonly Encapsulation: number;
  readonly IpOptionsSupported: number;
  readonly TcpOptionsSupported: number;
  readonly TcpChecksum: number;
  readonly UdpChecksum: number;
  readonly IpChecksum: number;
}

/** The IPv6 members of NDIS_TCP_IP_CHECKSUM_OFFLOAD (IPv6Transmit, IPv6Receive): no IP checksum. */
export interface ChecksumIPv6 {
  readonly Encapsulation: number;
  readonly IpExtensionHeadersSupported: number;
  readonly TcpOptionsSupported: number;
  readonly TcpChecksum: number;
  readonly UdpChecksum: number;
}

/** NDIS_TCP_IP_CHECKSUM_OFFLOAD (ntddndis.h). */
export interface ChecksumOffload {
  readonly IPv4Transmit: ChecksumIPv4;
  readonly IPv4Receive: ChecksumIPv4;
  readonly IPv6Transmit: ChecksumIPv6;
  readonly IPv6Receive: ChecksumIPv6;
}

/**
 * The capability record: the members of NDIS_OFFLOAD this model uses (contract D12).
 * Model: IPsecV1, Rsc and the encapsulated-packet members of NDIS_OFFLOAD are left out.
 */
export interface Offload {
  readonly Checksum: ChecksumOffload;
  readonly LsoV1: LsoV1Offload;
  readonly LsoV2: LsoV2Offload;
  /** NDIS_OFFLOAD.Flags: IPSEC_OFFLOAD_V2_AND_TCP/UDP_CHECKSUM_COEXISTENCE, … */
  readonly Flags: number;
  readonly IPsecV2: IpsecOffloadV2;
}

const SUPPORTED = OffloadSupport.NDIS_OFFLOAD_SUPPORTED;
const ETHERNET = Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3;

/** Every bit of an `as const` table ORed together. */
function allBits(table: Readonly<Record<string, number>>): number {
  return Object.values(table).reduce((a, b) => a | b, 0);
}

/**
 * The capabilities of a fully capable model NIC: every algorithm, IPv6, IPv4 options, extension
 * headers, AH, ESP, AH+ESP, transport, tunnel, transport-over-tunnel, LSO with IPsec, ESN, every
 * UDP-ESP type, 1024 SA bundles; LSOv1 64 KiB, LSOv2 256 KiB, MinSegmentCount 2; checksum offload
 * for everything; both checksum-coexistence flags.
 */
export function defaultCapabilities(): Offload {
  const v4: ChecksumIPv4 = {
    Encapsulation: ETHERNET,
    IpOptionsSupported: SUPPORTED,
    TcpOptionsSupported: SUPPORTED,
    TcpChecksum: SUPPORTED,
    UdpChecksum: SUPPORTED,
    IpChecksum: SUPPORTED,
  };
  const v6: ChecksumIPv6 = {
    Encapsulation: ETHERNET,
    IpExtensionHeadersSupported: SUPPORTED,
    TcpOptionsSupported: SUPPORTED,
    TcpChecksum: SUPPORTED,
    UdpChecksum: SUPPORTED,
  };
  return {
    Checksum: { IPv4Transmit: v4, IPv4Receive: v4, IPv6Transmit: v6, IPv6Receive: v6 },
    // "Reporting a NIC's LSOV1 TCP-Packet-Segmentation Capabilities": at most 64K bytes.
    LsoV1: {
      IPv4: {
        Encapsulation: ETHERNET,
        MaxOffLoadSize: 65536,
        MinSegmentCount: 2,
        TcpOptions: SUPPORTED,
        IpOptions: SUPPORTED,
      },
    },
    // "Combining Types of Task Offloads": LSOv2 Max Offload Size is unlimited; 256 KiB is our choice.
    LsoV2: {
      IPv4: { Encapsulation: ETHERNET, MaxOffLoadSize: 262144, MinSegmentCount: 2 },
      IPv6: {
        Encapsulation: ETHERNET,
        MaxOffLoadSize: 262144,
        MinSegmentCount: 2,
        IpExtensionHeadersSupported: SUPPORTED,
        TcpOptionsSupported: SUPPORTED,
      },
    },
    Flags:
      OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE |
      OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE,
    IPsecV2: {
      // Model: Ethernet only; 802.1Q tags in the frame are not modelled.
      Encapsulation: ETHERNET,
      IPv6Supported: true,
      IPv4Options: true,
      IPv6NonIPsecExtensionHeaders: true,
      Ah: true,
      Esp: true,
      AhEspCombined: true,
      Transport: true,
      Tunnel: true,
      TransportTunnelCombined: true,
      LsoSupported: true,
      ExtendedSequenceNumbers: true,
      UdpEsp: allBits(UdpEsp),
      AuthenticationAlgorithms: allBits(Authentication),
      EncryptionAlgorithms: allBits(Encryption),
      SaOffloadCapacity: 1024,
    },
  };
}

// ---------------------------------------------------------------------------------------------
// NDIS_OFFLOAD_PARAMETERS (OID_TCP_OFFLOAD_PARAMETERS).
// ---------------------------------------------------------------------------------------------

/**
 * NDIS_OFFLOAD_PARAMETERS through revision 2 (ntddndis.h; §2.13): each UCHAR is an
 * NDIS_OFFLOAD_PARAMETERS_* value, 0 = no change.
 * Model: the revision 3+ members (Rsc…, encapsulation, UDP segmentation) are left out.
 */
export interface OffloadParameters {
  readonly IPv4Checksum: number;
  readonly TCPIPv4Checksum: number;
  readonly UDPIPv4Checksum: number;
  readonly TCPIPv6Checksum: number;
  readonly UDPIPv6Checksum: number;
  readonly LsoV1: number;
  readonly IPsecV1: number;
  readonly LsoV2IPv4: number;
  readonly LsoV2IPv6: number;
  readonly TcpConnectionIPv4: number;
  readonly TcpConnectionIPv6: number;
  readonly Flags: number;
  /** Revision 2: IPsec offload v2 setting for an adapter that supports IPv6 and IPv4. */
  readonly IPsecV2: number;
  /** Revision 2: the setting for an IPv4-only adapter (unused if IPv6 is supported). */
  readonly IPsecV2IPv4: number;
}

/** NDIS_OFFLOAD_PARAMETERS field offsets (no pointers: the same on x86 and x64). */
export const OFFLOAD_PARAMETERS = {
  Header: 0x00,
  IPv4Checksum: 0x04,
  TCPIPv4Checksum: 0x05,
  UDPIPv4Checksum: 0x06,
  TCPIPv6Checksum: 0x07,
  UDPIPv6Checksum: 0x08,
  LsoV1: 0x09,
  IPsecV1: 0x0a,
  LsoV2IPv4: 0x0b,
  LsoV2IPv6: 0x0c,
  TcpConnectionIPv4: 0x0d,
  TcpConnectionIPv6: 0x0e,
  // 0x0f: padding before the ULONG.
  Flags: 0x10,
  IPsecV2: 0x14,
  IPsecV2IPv4: 0x15,
  // RTL_SIZEOF_THROUGH_FIELD(NDIS_OFFLOAD_PARAMETERS, Flags).
  SIZEOF_REVISION_1: 0x14,
  // RTL_SIZEOF_THROUGH_FIELD(NDIS_OFFLOAD_PARAMETERS, IPsecV2IPv4).
  SIZEOF_REVISION_2: 0x16,
} as const;

const PARAMETER_UCHARS = [
  'IPv4Checksum',
  'TCPIPv4Checksum',
  'UDPIPv4Checksum',
  'TCPIPv6Checksum',
  'UDPIPv6Checksum',
  'LsoV1',
  'IPsecV1',
  'LsoV2IPv4',
  'LsoV2IPv6',
  'TcpConnectionIPv4',
  'TcpConnectionIPv6',
] as const;

/** NDIS_OFFLOAD_PARAMETERS with every member NDIS_OFFLOAD_PARAMETERS_NO_CHANGE (0). */
export function noChange(): OffloadParameters {
  return {
    IPv4Checksum: 0,
    TCPIPv4Checksum: 0,
    UDPIPv4Checksum: 0,
    TCPIPv6Checksum: 0,
    UDPIPv6Checksum: 0,
    LsoV1: 0,
    IPsecV1: 0,
    LsoV2IPv4: 0,
    LsoV2IPv6: 0,
    TcpConnectionIPv4: 0,
    TcpConnectionIPv6: 0,
    Flags: 0,
    IPsecV2: 0,
    IPsecV2IPv4: 0,
  };
}

/** Encodes NDIS_OFFLOAD_PARAMETERS revision 2 (NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_2 bytes). */
export function encodeOffloadParameters(p: OffloadParameters): Uint8Array {
  const L = OFFLOAD_PARAMETERS;
  const out = new Uint8Array(L.SIZEOF_REVISION_2);
  const dv = dataView(out);
  writeHeader(dv, L.Header, {
    Type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    Revision: Revision.NDIS_OFFLOAD_PARAMETERS_REVISION_2,
    Size: L.SIZEOF_REVISION_2,
  });
  for (const name of [...PARAMETER_UCHARS, 'IPsecV2', 'IPsecV2IPv4'] as const) {
    needUint(`NDIS_OFFLOAD_PARAMETERS.${name}`, p[name], 0xff);
    dv.setUint8(L[name], p[name]);
  }
  needUint('NDIS_OFFLOAD_PARAMETERS.Flags', p.Flags, 0xffff_ffff);
  dv.setUint32(L.Flags, p.Flags, true);
  return out;
}

/**
 * Decodes NDIS_OFFLOAD_PARAMETERS of revision 1 or later; a revision-1 structure has no IPsecV2
 * members, which then read as NO_CHANGE. Short buffer → NDIS_STATUS_BUFFER_TOO_SHORT; wrong Header
 * → NDIS_STATUS_INVALID_LENGTH. (Values are not judged here: the OID answers INVALID_DATA.)
 */
export function decodeOffloadParameters(bytes: Uint8Array): Decoded<OffloadParameters> {
  const L = OFFLOAD_PARAMETERS;
  const table: FieldTable = Object.entries(L).filter(([k]) => !k.startsWith('SIZEOF'));
  if (bytes.length < L.SIZEOF_REVISION_1)
    return truncated(table, 0, L.SIZEOF_REVISION_1, bytes.length);
  const dv = dataView(bytes);
  const bad = checkHeader(dv, 0, {
    type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    revision: Revision.NDIS_OFFLOAD_PARAMETERS_REVISION_1,
    size: L.SIZEOF_REVISION_1,
  });
  if (bad) return bad;
  const revision2 = dv.getUint8(1) >= 2 && dv.getUint16(2, true) >= L.SIZEOF_REVISION_2;
  if (revision2 && bytes.length < L.SIZEOF_REVISION_2) {
    return truncated(table, 0, L.SIZEOF_REVISION_2, bytes.length);
  }
  const out: Record<string, number> = {};
  for (const name of PARAMETER_UCHARS) out[name] = dv.getUint8(L[name]);
  out['Flags'] = dv.getUint32(L.Flags, true);
  out['IPsecV2'] = revision2 ? dv.getUint8(L.IPsecV2) : 0;
  out['IPsecV2IPv4'] = revision2 ? dv.getUint8(L.IPsecV2IPv4) : 0;
  return { ok: true, value: out as unknown as OffloadParameters };
}
