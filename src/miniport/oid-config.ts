/**
 * @module
 * The configuration OIDs of the control path: "OID_TCP_OFFLOAD_PARAMETERS",
 * "NDIS_OFFLOAD_PARAMETERS", "OID_OFFLOAD_ENCAPSULATION", "NDIS_OFFLOAD_ENCAPSULATION",
 * "OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES", "OID_TCP_OFFLOAD_CURRENT_CONFIG" and
 * "NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG", plus the capability record and the current
 * configuration as NDIS_OFFLOAD records. Dispatched by ctrlpath.ts. Reference: ndis-ipsecov2.md
 * §1.2, §1.3, §3.1, §3.2; contract D12, D15.
 */
import {
  decodeOffloadParameters,
  encodeIpsecOffloadV2,
  IPSEC_OFFLOAD_V2,
  NO_IPSEC_OFFLOAD_V2,
  type IpsecOffloadV2,
  type Offload,
  type OffloadParameters,
} from '../ndis/caps.ts';
import { decodeOffloadEncapsulation, OffloadSet } from '../ndis/encapsulation.ts';
import { OffloadFlags, OffloadParameter } from '../ndis/oid.ts';
import { NdisStatus } from '../ndis/status.ts';
import { ipsecConfigured, type CurrentConfig } from './config.ts';
import type { OidRequest, OidResult } from './ctrlpath.ts';
import type { Miniport } from './miniport.ts';
import { done, malformed, reject } from './oid-common.ts';

const S = NdisStatus;

// ---------------------------------------------------------------------------------------------
// The capability record and the current configuration, as the transport reads them (D12).
// ---------------------------------------------------------------------------------------------

/** The hardware's capability record (what OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES reports). */
export function hardwareCapabilities(mp: Miniport): Offload {
  return mp.capabilities;
}

const COEXISTENCE =
  OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE |
  OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE;

/**
 * The current configuration as an NDIS_OFFLOAD (what OID_TCP_OFFLOAD_CURRENT_CONFIG reports and
 * NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG carries): the capability record with every offload the
 * configuration turned off reported as not supported.
 */
export function currentOffload(mp: Miniport): Offload {
  return offloadOf(mp.capabilities, mp.config);
}

function offloadOf(caps: Offload, c: CurrentConfig): Offload {
  const on = (enabled: boolean, v: number): number => (enabled ? v : 0);
  const v4 = caps.Checksum.IPv4Transmit;
  const v6 = caps.Checksum.IPv6Transmit;
  const lso1 = caps.LsoV1.IPv4;
  const lso2 = caps.LsoV2;
  const ipsec = ipsecConfigured(c);
  return {
    Checksum: {
      IPv4Transmit: {
        ...v4,
        IpChecksum: on(c.checksumIPv4.ip, v4.IpChecksum),
        TcpChecksum: on(c.checksumIPv4.tcp, v4.TcpChecksum),
        UdpChecksum: on(c.checksumIPv4.udp, v4.UdpChecksum),
      },
      // Model: CurrentConfig keeps only transmit checksum switches; receive is reported as built.
      IPv4Receive: caps.Checksum.IPv4Receive,
      IPv6Transmit: {
        ...v6,
        TcpChecksum: on(c.checksumIPv6.tcp, v6.TcpChecksum),
        UdpChecksum: on(c.checksumIPv6.udp, v6.UdpChecksum),
      },
      IPv6Receive: caps.Checksum.IPv6Receive,
    },
    LsoV1: {
      IPv4: c.lsoV1
        ? lso1
        : { Encapsulation: 0, MaxOffLoadSize: 0, MinSegmentCount: 0, TcpOptions: 0, IpOptions: 0 },
    },
    LsoV2: {
      IPv4: c.lsoV2IPv4 ? lso2.IPv4 : { Encapsulation: 0, MaxOffLoadSize: 0, MinSegmentCount: 0 },
      IPv6: c.lsoV2IPv6
        ? lso2.IPv6
        : {
            Encapsulation: 0,
            MaxOffLoadSize: 0,
            MinSegmentCount: 0,
            IpExtensionHeadersSupported: 0,
            TcpOptionsSupported: 0,
          },
    },
    Flags: ipsec ? caps.Flags : caps.Flags & ~COEXISTENCE,
    IPsecV2: ipsec
      ? {
          ...caps.IPsecV2,
          Ah: c.ipsecAh,
          Esp: c.ipsecEsp,
          IPv6Supported: c.ipsecIpv6,
          AhEspCombined: caps.IPsecV2.AhEspCombined && c.ipsecAh && c.ipsecEsp,
        }
      : NO_IPSEC_OFFLOAD_V2,
  };
}

// ---------------------------------------------------------------------------------------------
// OID_TCP_OFFLOAD_PARAMETERS, OID_OFFLOAD_ENCAPSULATION, the two queries.
// ---------------------------------------------------------------------------------------------

const P = OffloadParameter;

/** The highest value each NDIS_OFFLOAD_PARAMETERS member may hold (ntddndis.h; reference §3.7). */
const PARAMETER_MAX = {
  IPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  TCPIPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  UDPIPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  TCPIPv6Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  UDPIPv6Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED,
  LsoV1: P.NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED,
  IPsecV1: P.NDIS_OFFLOAD_PARAMETERS_IPSECV1_AH_AND_ESP_ENABLED,
  LsoV2IPv4: P.NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED,
  LsoV2IPv6: P.NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED,
  TcpConnectionIPv4: P.NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED,
  TcpConnectionIPv6: P.NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED,
  IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED,
  IPsecV2IPv4: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED,
} as const;

/** A member of NDIS_OFFLOAD_PARAMETERS the request cannot have. */
interface BadParameter {
  readonly member: string;
  readonly detail: string;
}

/**
 * The configuration `p` asks for, or the first member the hardware cannot honour. Checksum members
 * turn transmit on for TX_ENABLED_RX_DISABLED and TX_RX_ENABLED; a direction the hardware lacks is
 * refused. IPsecV2 governs an adapter that supports IPv6 (and covers IPv4 too); IPsecV2IPv4 governs
 * an IPv4-only adapter; the other member is range-checked and otherwise unused (reference §2.13).
 * Model: IPsec offload v1 and TCP chimney are not modelled, so enabling either is refused.
 */
function parametersConfig(
  caps: Offload,
  c: CurrentConfig,
  p: OffloadParameters
): CurrentConfig | BadParameter {
  for (const [member, max] of Object.entries(PARAMETER_MAX) as [
    keyof typeof PARAMETER_MAX,
    number,
  ][]) {
    if (p[member] > max) return { member, detail: `expected 0…${max}, got ${p[member]}` };
  }
  // The first member the hardware cannot honour; the switches below keep their value meanwhile.
  let bad: BadParameter | undefined;
  const refuseMember = (member: string, detail: string, current: boolean): boolean => {
    bad ??= { member, detail };
    return current;
  };
  const checksum = (
    member: string,
    value: number,
    tx: number,
    rx: number,
    current: boolean
  ): boolean => {
    if (value === P.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) return current;
    const wantTx =
      value === P.NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED ||
      value === P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
    const wantRx =
      value === P.NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED ||
      value === P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED;
    if (wantTx && tx === 0) return refuseMember(member, 'transmit checksum not supported', current);
    if (wantRx && rx === 0) return refuseMember(member, 'receive checksum not supported', current);
    return wantTx;
  };
  const ck = caps.Checksum;
  const ipv4Ip = checksum(
    'IPv4Checksum',
    p.IPv4Checksum,
    ck.IPv4Transmit.IpChecksum,
    ck.IPv4Receive.IpChecksum,
    c.checksumIPv4.ip
  );
  const ipv4Tcp = checksum(
    'TCPIPv4Checksum',
    p.TCPIPv4Checksum,
    ck.IPv4Transmit.TcpChecksum,
    ck.IPv4Receive.TcpChecksum,
    c.checksumIPv4.tcp
  );
  const ipv4Udp = checksum(
    'UDPIPv4Checksum',
    p.UDPIPv4Checksum,
    ck.IPv4Transmit.UdpChecksum,
    ck.IPv4Receive.UdpChecksum,
    c.checksumIPv4.udp
  );
  const ipv6Tcp = checksum(
    'TCPIPv6Checksum',
    p.TCPIPv6Checksum,
    ck.IPv6Transmit.TcpChecksum,
    ck.IPv6Receive.TcpChecksum,
    c.checksumIPv6.tcp
  );
  const ipv6Udp = checksum(
    'UDPIPv6Checksum',
    p.UDPIPv6Checksum,
    ck.IPv6Transmit.UdpChecksum,
    ck.IPv6Receive.UdpChecksum,
    c.checksumIPv6.udp
  );
  // A MaxOffLoadSize of 0 means the hardware has no such LSO.
  const lso = (
    member: string,
    value: number,
    enabled: number,
    max: number,
    cur: boolean
  ): boolean => {
    if (value === P.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) return cur;
    if (value !== enabled) return false;
    return max > 0 ? true : refuseMember(member, 'not supported by the hardware', cur);
  };
  const V1 = P.NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED;
  const V2 = P.NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED;
  const lsoV1 = lso('LsoV1', p.LsoV1, V1, caps.LsoV1.IPv4.MaxOffLoadSize, c.lsoV1);
  const lsoV2IPv4 = lso('LsoV2IPv4', p.LsoV2IPv4, V2, caps.LsoV2.IPv4.MaxOffLoadSize, c.lsoV2IPv4);
  const lsoV2IPv6 = lso('LsoV2IPv6', p.LsoV2IPv6, V2, caps.LsoV2.IPv6.MaxOffLoadSize, c.lsoV2IPv6);
  if (bad) return bad;

  if (p.IPsecV1 > P.NDIS_OFFLOAD_PARAMETERS_IPSECV1_DISABLED) {
    return { member: 'IPsecV1', detail: 'IPsec offload version 1 is not supported' };
  }
  for (const member of ['TcpConnectionIPv4', 'TcpConnectionIPv6'] as const) {
    if (p[member] === P.NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED) {
      return { member, detail: 'TCP connection offload is not supported' };
    }
  }

  const v2 = caps.IPsecV2;
  const governing = v2.IPv6Supported ? 'IPsecV2' : 'IPsecV2IPv4';
  const setting = p[governing];
  let { ipsecAh, ipsecEsp, ipsecIpv6 } = c;
  if (setting !== P.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE) {
    const ah =
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED ||
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED;
    const esp =
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED ||
      setting === P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED;
    const algorithms = v2.AuthenticationAlgorithms !== 0 || v2.EncryptionAlgorithms !== 0;
    if (ah && !(v2.Ah && algorithms)) return { member: governing, detail: 'AH not supported' };
    if (esp && !(v2.Esp && algorithms)) return { member: governing, detail: 'ESP not supported' };
    ipsecAh = ah;
    ipsecEsp = esp;
    ipsecIpv6 = (ah || esp) && v2.IPv6Supported;
  }
  return {
    ...c,
    ipsecAh,
    ipsecEsp,
    ipsecIpv6,
    lsoV1,
    lsoV2IPv4,
    lsoV2IPv6,
    checksumIPv4: { ip: ipv4Ip, tcp: ipv4Tcp, udp: ipv4Udp },
    checksumIPv6: { ...c.checksumIPv6, tcp: ipv6Tcp, udp: ipv6Udp },
  };
}

/** Indicates NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG with the configuration as an NDIS_OFFLOAD. */
function indicateCurrentConfig(mp: Miniport): void {
  mp.counters.add('indicate:NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG');
  mp.indicateStatus({
    status: S.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG,
    offload: currentOffload(mp),
  });
}

/**
 * OID_TCP_OFFLOAD_PARAMETERS: contents the miniport cannot honour are NDIS_STATUS_INVALID_DATA
 * (the OID page: "If the contents of InformationBuffer are invalid…"; NDIS_STATUS_NOT_SUPPORTED
 * there means the OID itself is unsupported) and change nothing. A successful set — even one of
 * only NO_CHANGE — is followed by exactly one NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG ("After the
 * update, the miniport driver must report…"). Disabling IPsec deletes no SA: the transport stops
 * handing the NIC IPsec work first (D10) and deletes its SAs itself.
 */
export function offloadParameters(mp: Miniport, request: OidRequest): OidResult {
  const decoded = decodeOffloadParameters(request.buffer);
  if (!decoded.ok) return malformed(mp, request, decoded);
  const next = parametersConfig(mp.capabilities, mp.config, decoded.value);
  if ('member' in next) {
    reject(mp, request, next.member);
    return done(S.NDIS_STATUS_INVALID_DATA);
  }
  mp.config = next;
  indicateCurrentConfig(mp);
  return done(S.NDIS_STATUS_SUCCESS, request.buffer.length);
}

/** The NDIS_ENCAPSULATION_* bits any offload supports for IPv4 and for IPv6. */
function encapsulations(caps: Offload): { readonly IPv4: number; readonly IPv6: number } {
  const ck = caps.Checksum;
  const v2 = caps.IPsecV2;
  return {
    IPv4:
      ck.IPv4Transmit.Encapsulation |
      ck.IPv4Receive.Encapsulation |
      caps.LsoV1.IPv4.Encapsulation |
      caps.LsoV2.IPv4.Encapsulation |
      v2.Encapsulation,
    IPv6:
      ck.IPv6Transmit.Encapsulation |
      ck.IPv6Receive.Encapsulation |
      caps.LsoV2.IPv6.Encapsulation |
      (v2.IPv6Supported ? v2.Encapsulation : 0),
  };
}

/**
 * OID_OFFLOAD_ENCAPSULATION: "If a miniport driver supports any offload type that supports the
 * requested encapsulation type, the driver must return NDIS_STATUS_SUCCESS … Otherwise … should
 * return NDIS_STATUS_INVALID_PARAMETER" — also for an Enabled value that is none of
 * NDIS_OFFLOAD_SET_*. NDIS_OFFLOAD_SET_ON (either IP version) starts receive offload (D12);
 * NDIS_OFFLOAD_SET_OFF (and no ON) stops it. Then NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG.
 * Model: one receive switch serves both IP versions; HeaderSize is not checked (the data path
 * parses the Ethernet header itself); transmit offloads follow OID_TCP_OFFLOAD_PARAMETERS alone.
 */
export function offloadEncapsulation(mp: Miniport, request: OidRequest): OidResult {
  const decoded = decodeOffloadEncapsulation(request.buffer);
  if (!decoded.ok) return malformed(mp, request, decoded);
  const supported = encapsulations(mp.capabilities);
  const { IPv4, IPv6 } = decoded.value;
  const on = OffloadSet.NDIS_OFFLOAD_SET_ON;
  for (const [family, s] of [
    ['IPv4', IPv4],
    ['IPv6', IPv6],
  ] as const) {
    if (s.Enabled > OffloadSet.NDIS_OFFLOAD_SET_OFF) {
      reject(mp, request, `${family}.Enabled`);
      return done(S.NDIS_STATUS_INVALID_PARAMETER);
    }
    const type = s.EncapsulationType >>> 0;
    if (s.Enabled === on && (type === 0 || (type & ~supported[family]) !== 0)) {
      reject(mp, request, `${family}.EncapsulationType`);
      return done(S.NDIS_STATUS_INVALID_PARAMETER);
    }
  }
  const off = OffloadSet.NDIS_OFFLOAD_SET_OFF;
  const receiveEnabled =
    IPv4.Enabled === on || IPv6.Enabled === on
      ? true
      : IPv4.Enabled === off || IPv6.Enabled === off
        ? false
        : mp.config.receiveEnabled;
  mp.config = { ...mp.config, receiveEnabled };
  indicateCurrentConfig(mp);
  return done(S.NDIS_STATUS_SUCCESS, request.buffer.length);
}

/**
 * The two capability queries: NDIS_STATUS_BUFFER_TOO_SHORT with BytesNeeded for a short buffer.
 * Model: only the NDIS_IPSEC_OFFLOAD_V2 member of NDIS_OFFLOAD is encoded (0x20 bytes, decoded by
 * ndis/caps.ts decodeIpsecOffloadV2); the whole record is `hardwareCapabilities` /
 * `currentOffload` for callers in the model.
 */
export function queryIpsec(request: OidRequest, ipsec: IpsecOffloadV2): OidResult {
  const size = IPSEC_OFFLOAD_V2.size;
  if (request.buffer.length < size) return done(S.NDIS_STATUS_BUFFER_TOO_SHORT, 0, 0, size);
  request.buffer.set(encodeIpsecOffloadV2(ipsec));
  return done(S.NDIS_STATUS_SUCCESS, 0, size);
}
