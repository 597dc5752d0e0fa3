/**
 * @module
 * OIDs and constants of IPsec offload version 2, spelled and valued as in Microsoft's headers:
 * WDK `ndis.h` (IPsec offload v2 block, `#if (NDIS_SUPPORT_NDIS61)`) and Windows SDK
 * `ntddndis.h`. Pages: "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA" (…_ADD_SA_EX, …_DELETE_SA,
 * …_UPDATE_SA), "NDIS_IPSEC_OFFLOAD_V2", "IPSEC_OFFLOAD_V2_ALGORITHM_INFO",
 * "NDIS_OFFLOAD_PARAMETERS". Reference: ndis-ipsecov2.md §2.4, §3.1, §3.3–§3.7.
 *
 * The algorithm identifiers (§3.4) are also defined by the crypto layer for its own registry
 * (`src/crypto/names.ts`); `ndis` may not import `crypto` (contract §2), so the numbers are kept
 * here too, spelled identically.
 */

/** OID values (ntddndis.h; ndis-ipsecov2.md §3.1). */
export const Oid = {
  // Set, direct OID; NDIS 6.1 and 6.20: a linked list of IPSEC_OFFLOAD_V2_ADD_SA.
  OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA: 0xfc030202,
  // Set, direct OID; a linked list of IPSEC_OFFLOAD_V2_DELETE_SA.
  OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA: 0xfc030203,
  // Set, direct OID; one IPSEC_OFFLOAD_V2_UPDATE_SA (ESN high-order bits).
  OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA: 0xfc030204,
  // Set, direct OID; NDIS 6.30+: one IPSEC_OFFLOAD_V2_ADD_SA_EX.
  OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX: 0xfc030205,
  // Query, handled by NDIS: the current NDIS_OFFLOAD.
  OID_TCP_OFFLOAD_CURRENT_CONFIG: 0xfc01020b,
  // Set only: NDIS_OFFLOAD_PARAMETERS.
  OID_TCP_OFFLOAD_PARAMETERS: 0xfc01020c,
  // Query only: the hardware NDIS_OFFLOAD.
  OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES: 0xfc01020d,
  // Set/query: NDIS_OFFLOAD_ENCAPSULATION; receive offloads start only after this set.
  OID_OFFLOAD_ENCAPSULATION: 0x0101010a,
  // Legacy IPsec offload v1 OIDs, for reference only (no v2 equivalent of the UDP-ESP parser OIDs).
  OID_TCP_TASK_OFFLOAD: 0xfc010201,
  OID_TCP_TASK_IPSEC_ADD_SA: 0xfc010202,
  OID_TCP_TASK_IPSEC_DELETE_SA: 0xfc010203,
  OID_TCP_TASK_IPSEC_ADD_UDPESP_SA: 0xfc010205,
  OID_TCP_TASK_IPSEC_DELETE_UDPESP_SA: 0xfc010206,
} as const;

/** An OID value (an open set: any 32-bit value). */
export type NdisOid = number;

const OID_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(Oid).map(([name, value]): [number, string] => [value, name])
);

/** Microsoft's name for `oid` (`OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA`), or `0x…` hex if unknown. */
export function oidName(oid: NdisOid): string {
  return OID_NAMES.get(oid) ?? `0x${(oid >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}

/** NDIS_OBJECT_HEADER.Type values (ntddndis.h; §3.3). */
export const ObjectType = {
  NDIS_OBJECT_TYPE_DEFAULT: 0x80,
  NDIS_OBJECT_TYPE_OFFLOAD: 0xa7,
} as const;

/** Header revisions of the IPsec offload v2 OID structures (ndis.h; §3.3). */
export const Revision = {
  NDIS_IPSEC_OFFLOAD_V2_ADD_SA_REVISION_1: 1,
  NDIS_IPSEC_OFFLOAD_V2_ADD_SA_EX_REVISION_1: 1,
  NDIS_IPSEC_OFFLOAD_V2_DELETE_SA_REVISION_1: 1,
  NDIS_IPSEC_OFFLOAD_V2_UPDATE_SA_REVISION_1: 1,
  NDIS_OFFLOAD_PARAMETERS_REVISION_1: 1,
  NDIS_OFFLOAD_PARAMETERS_REVISION_2: 2,
  NDIS_OFFLOAD_REVISION_1: 1,
  NDIS_OFFLOAD_REVISION_2: 2,
} as const;

/** IPSEC_OFFLOAD_V2_MAX_EXTENSION_HEADERS: the length of the SecAssoc array (ndis.h; §3.3). */
export const IPSEC_OFFLOAD_V2_MAX_EXTENSION_HEADERS = 2;

/** IPSEC_OFFLOAD_V2_ADD_SA(_EX).Flags bits (ndis.h; §2.5, §3.3). */
export const AddSaFlags = {
  // Set: inbound SA; clear: outbound.
  IPSEC_OFFLOAD_V2_INBOUND: 0x00000001,
  // Set: IPv6Endpoints are valid; clear: IPv4Endpoints.
  IPSEC_OFFLOAD_V2_IPv6: 0x00000010,
} as const;

/** IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION.Flags bits (ndis.h; §2.3). */
export const SaFlags = {
  // The SA uses extended (64-bit) sequence numbers, RFC 4304.
  IPSEC_OFFLOAD_V2_ESN_SA: 0x00000001,
} as const;

/** IPSEC_OFFLOAD_V2_OPERATION values (ndis.h; §2.4). */
export const Operation = {
  IPsecOffloadV2Ah: 1,
  IPsecOffloadV2Esp: 2,
  // Reserved (the enum's upper bound).
  IPsecOffloadV2Max: 3,
} as const;

/** UDP-ESP encapsulation types: NDIS_IPSEC_OFFLOAD_V2.UdpEsp bits and ADD_SA.UdpEspEncapsulation. */
export const UdpEsp = {
  IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_NONE: 0x00000000,
  IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT: 0x00000001,
  IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL: 0x00000002,
  IPSEC_OFFLOAD_V2_TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL: 0x00000004,
  IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL: 0x00000008,
} as const;

/**
 * Authentication algorithm identifiers: bits of NDIS_IPSEC_OFFLOAD_V2.AuthenticationAlgorithms and
 * values of ALGORITHM_INFO.Identifier (ntddndis.h; §3.4). There is no _AUTHENTICATION_NONE.
 */
export const Authentication = {
  IPSEC_OFFLOAD_V2_AUTHENTICATION_MD5: 0x00000001,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1: 0x00000002,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256: 0x00000004,
  // AES-GMAC (RFC 4543) in the integrity role.
  IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128: 0x00000008,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_192: 0x00000010,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_256: 0x00000020,
} as const;

/**
 * Encryption algorithm identifiers: bits of NDIS_IPSEC_OFFLOAD_V2.EncryptionAlgorithms and values
 * of ALGORITHM_INFO.Identifier (ntddndis.h; §3.4). ENCRYPTION_NONE (1) is ESP-NULL, not "absent";
 * an absent algorithm has Identifier 0.
 */
export const Encryption = {
  IPSEC_OFFLOAD_V2_ENCRYPTION_NONE: 0x00000001,
  IPSEC_OFFLOAD_V2_ENCRYPTION_DES_CBC: 0x00000002,
  IPSEC_OFFLOAD_V2_ENCRYPTION_3_DES_CBC: 0x00000004,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128: 0x00000008,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_192: 0x00000010,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_256: 0x00000020,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128: 0x00000040,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_192: 0x00000080,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_256: 0x00000100,
} as const;

/** The value of ALGORITHM_INFO.Identifier for "no algorithm" (the doc's "zeros"; §3.4). */
export const ALGORITHM_ABSENT = 0;

/** Receive CryptoStatus values, shared with IPsec offload v1 (ndis.h; §3.5). */
export const CryptoStatus = {
  CRYPTO_SUCCESS: 0,
  CRYPTO_GENERIC_ERROR: 1,
  CRYPTO_TRANSPORT_AH_AUTH_FAILED: 2,
  CRYPTO_TRANSPORT_ESP_AUTH_FAILED: 3,
  CRYPTO_TUNNEL_AH_AUTH_FAILED: 4,
  CRYPTO_TUNNEL_ESP_AUTH_FAILED: 5,
  CRYPTO_INVALID_PACKET_SYNTAX: 6,
  CRYPTO_INVALID_PROTOCOL: 7,
} as const;

/** NDIS_ENCAPSULATION_* bits of the Encapsulation members (ntddndis.h; §3.6). */
export const Encapsulation = {
  NDIS_ENCAPSULATION_NOT_SUPPORTED: 0x00000000,
  NDIS_ENCAPSULATION_NULL: 0x00000001,
  // Mandatory for every miniport.
  NDIS_ENCAPSULATION_IEEE_802_3: 0x00000002,
  NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q: 0x00000004,
  NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q_IN_OOB: 0x00000008,
  NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED: 0x00000010,
} as const;

/** NDIS_OFFLOAD.Flags bits (ntddndis.h; §3.3). */
export const OffloadFlags = {
  NDIS_OFFLOAD_FLAGS_GROUP_CHECKSUM_CAPABILITIES: 0x00000001,
  // "The adapter supports IPsecV2 and TCP checksums" together (NDIS_OFFLOAD page).
  IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE: 0x00000002,
  // "The adapter supports IPsecV2 and UDP checksums" together.
  IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE: 0x00000004,
} as const;

/** The 2-bit capability values of NDIS_TCP_IP_CHECKSUM_OFFLOAD and the LSO structures. */
export const OffloadSupport = {
  NDIS_OFFLOAD_NOT_SUPPORTED: 0,
  NDIS_OFFLOAD_SUPPORTED: 1,
} as const;

/** NDIS_OFFLOAD_PARAMETERS field values (ntddndis.h; §3.7). */
export const OffloadParameter = {
  // Any field: keep the current setting.
  NDIS_OFFLOAD_PARAMETERS_NO_CHANGE: 0,
  // IPv4Checksum, TCPIPv4Checksum, UDPIPv4Checksum, TCPIPv6Checksum, UDPIPv6Checksum.
  NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED: 2,
  NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED: 3,
  NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED: 4,
  // LsoV1.
  NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED: 2,
  // IPsecV1.
  NDIS_OFFLOAD_PARAMETERS_IPSECV1_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_IPSECV1_AH_ENABLED: 2,
  NDIS_OFFLOAD_PARAMETERS_IPSECV1_ESP_ENABLED: 3,
  NDIS_OFFLOAD_PARAMETERS_IPSECV1_AH_AND_ESP_ENABLED: 4,
  // LsoV2IPv4, LsoV2IPv6.
  NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED: 2,
  // IPsecV2, IPsecV2IPv4 (each setting covers transmit and receive).
  NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED: 2,
  NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED: 3,
  NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED: 4,
  // TcpConnectionIPv4, TcpConnectionIPv6.
  NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_DISABLED: 1,
  NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED: 2,
} as const;

/** LSO NBL info Type values and the LsoV2Transmit.IPVersion values (nbllso.h; §2.12). */
export const Lso = {
  NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE: 0,
  NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE: 1,
  NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4: 0,
  NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6: 1,
  // Longest MAC + IP (+ options/extension headers) + TCP (+ options) header the transport will LSO.
  NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH: 128,
} as const;
