/**
 * @module
 * The oracle's frame checker: one Ethernet frame from the wire and the SA that protected it;
 * parses Ethernet → IPv4/IPv6 → (UDP-ESP →) ESP or AH → TCP with its own byte reads, verifies
 * and decrypts with `esp.ts`/`ah.ts`, and returns the parsed fields or the first field that is
 * wrong.
 *
 * Checked here: Ethernet II type (IEEE 802.3 §3.2.6); IPv4 version, IHL, Total Length = the
 * packet in the frame (Ethernet padding only up to the 60-byte minimum), no fragmentation, header
 * checksum (RFC 791 §3.1, RFC 1071); IPv6 version and Payload Length (RFC 8200 §3); UDP-ESP port
 * 4500, length, checksum 0 over IPv4 / valid over IPv6, no non-ESP marker (RFC 3948 §2, contract
 * D14); ESP (RFC 4303) or AH (RFC 4302); TCP data offset and checksum with the pseudo-header of
 * the IP header that carries it — protocol 6, never 50/51 (RFC 793 §3.1, RFC 8200 §8.1, contract
 * D13).
 */
import { verifyAh, type AhSa } from './ah.ts';
import {
  concat,
  hexNum,
  internetChecksum,
  mismatch,
  onesSum,
  u16,
  u32,
  type Checked,
} from './bytes.ts';
import { openEsp, type EspSa } from './esp.ts';

/** The SA the frame is judged against. */
export type OracleSa = EspSa | AhSa;

/** What the frame is expected to carry. */
export interface FrameOptions {
  /** Next Header inside ESP / after AH (default 6, TCP). */
  readonly nextHeader?: number;
  /** True when ESP must be UDP-encapsulated (RFC 3948); default false. */
  readonly udpEncapsulation?: boolean;
  /** ESP trailer judgement (default 'strict'). */
  readonly trailer?: 'strict' | 'skip';
}

/** The IP header fields. */
export interface IpView {
  readonly version: 4 | 6;
  readonly headerLength: number;
  /** Bytes of the IP packet (header included). */
  readonly packetLength: number;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** IPv4 Protocol / IPv6 Next Header of the base header. */
  readonly protocol: number;
  /** IPv4 TTL / IPv6 Hop Limit. */
  readonly ttl: number;
  /** IPv4 TOS / IPv6 Traffic Class. */
  readonly tos: number;
  /** IPv6 Flow Label (0 for IPv4). */
  readonly flowLabel: number;
  /** IPv4 Identification (0 for IPv6). */
  readonly id: number;
  /** IPv4 DF (false for IPv6). */
  readonly dontFragment: boolean;
}

/** The TCP header fields and payload. */
export interface TcpView {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** Header bytes (Data Offset × 4). */
  readonly headerLength: number;
  /** The 9 flag bits (NS … FIN). */
  readonly flags: number;
  readonly window: number;
  readonly checksum: number;
  readonly urgent: number;
  readonly options: Uint8Array;
  readonly payload: Uint8Array;
}

/** The IPsec header the frame carried. */
export interface IpsecView {
  readonly protocol: 'esp' | 'ah';
  readonly spi: number;
  readonly seqLow: number;
  readonly iv: Uint8Array;
  readonly icv: Uint8Array;
  /** ESP only (0 for AH). */
  readonly padLength: number;
  readonly nextHeader: number;
  /** Bytes from the start of the IP header to the ESP/AH header. */
  readonly headerOffset: number;
}

/** A frame that passed every check. */
export interface FrameView {
  readonly ip: IpView;
  readonly udp: { readonly srcPort: number; readonly dstPort: number } | null;
  readonly ipsec: IpsecView;
  readonly tcp: TcpView;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
const PROTO_ESP = 50;
const PROTO_AH = 51;
const NAT_T_PORT = 4500;

/** Checks one Ethernet frame against `sa`; see the module comment for what is checked. */
export function checkFrame(
  frame: Uint8Array,
  sa: OracleSa,
  options: FrameOptions = {}
): Checked<FrameView> {
  if (frame.length < 14) return mismatch('eth.length', '>= 14', frame.length);
  const type = u16(frame, 12);
  if (type !== ETH_IPV4 && type !== ETH_IPV6) {
    return mismatch('eth.type', '0x0800 or 0x86dd', hexNum(type, 4));
  }
  const ipBytes = frame.subarray(14);
  const ipResult = type === ETH_IPV4 ? parseIpv4(ipBytes) : parseIpv6(ipBytes);
  if (!ipResult.ok) return ipResult;
  const ip = ipResult.value;
  const packet = ipBytes.subarray(0, ip.packetLength);
  const nextHeader = options.nextHeader ?? PROTO_TCP;

  let at = ip.headerLength;
  let udp: FrameView['udp'] = null;
  let protocol = ip.protocol;
  if (options.udpEncapsulation === true) {
    if (sa.protocol !== 'esp' || protocol !== PROTO_UDP) {
      return mismatch('ip.protocol', `${PROTO_UDP} (UDP-ESP)`, protocol);
    }
    const u = checkUdpEsp(packet, ip);
    if (!u.ok) return u;
    udp = u.value;
    at += 8;
    protocol = PROTO_ESP;
  }
  const want = sa.protocol === 'esp' ? PROTO_ESP : PROTO_AH;
  if (protocol !== want) return mismatch('ip.protocol', want, protocol);

  let ipsec: IpsecView;
  let segment: Uint8Array;
  if (sa.protocol === 'esp') {
    const opened = openEsp(packet.subarray(at), sa, {
      trailer: options.trailer ?? 'strict',
      nextHeader,
    });
    if (!opened.ok) return opened;
    const e = opened.value;
    ipsec = {
      protocol: 'esp',
      ...pick(e),
      padLength: e.padLength,
      nextHeader: e.nextHeader,
      headerOffset: at,
    };
    segment = e.payload;
  } else {
    const verified = verifyAh(packet, ip.version, at, sa, nextHeader);
    if (!verified.ok) return verified;
    const a = verified.value;
    ipsec = {
      protocol: 'ah',
      ...pick(a),
      padLength: 0,
      nextHeader: a.nextHeader,
      headerOffset: at,
    };
    segment = packet.subarray(at + a.length);
  }
  if (nextHeader !== PROTO_TCP) {
    return mismatch('oracle.scope', 'Next Header 6 (the oracle parses TCP only)', nextHeader);
  }
  const tcp = parseTcp(segment, ip);
  if (!tcp.ok) return tcp;
  return { ok: true, value: { ip, udp, ipsec, tcp: tcp.value } };
}

function pick(x: {
  readonly spi: number;
  readonly seqLow: number;
  readonly iv: Uint8Array;
  readonly icv: Uint8Array;
}): Pick<IpsecView, 'spi' | 'seqLow' | 'iv' | 'icv'> {
  return { spi: x.spi, seqLow: x.seqLow, iv: x.iv, icv: x.icv };
}

/** The IP packet is all of `rest` but Ethernet padding, which may only fill a 60-byte frame. */
function checkFrameRest(rest: number, packetLength: number): boolean {
  return rest === packetLength || (rest > packetLength && 14 + rest === 60);
}

/** RFC 791 §3.1. */
function parseIpv4(b: Uint8Array): Checked<IpView> {
  if (b.length < 20) return mismatch('ipv4.length', '>= 20', b.length);
  const version = b[0] >> 4;
  if (version !== 4) return mismatch('ipv4.version', 4, version);
  const ihl = (b[0] & 0x0f) * 4;
  if (ihl < 20 || ihl > b.length) return mismatch('ipv4.ihl', `20…${Math.min(60, b.length)}`, ihl);
  const totalLength = u16(b, 2);
  if (!checkFrameRest(b.length, totalLength) || totalLength < ihl) {
    return mismatch('ipv4.totalLength', b.length, totalLength);
  }
  const flagsFragment = u16(b, 6);
  if ((flagsFragment & 0x3fff) !== 0) {
    return mismatch('ipv4.fragment', 'MF 0, offset 0', hexNum(flagsFragment, 4));
  }
  if (onesSum(b.subarray(0, ihl)) !== 0xffff) {
    const zeroed = b.slice(0, ihl);
    zeroed[10] = 0;
    zeroed[11] = 0;
    return mismatch('ipv4.checksum', hexNum(internetChecksum(zeroed), 4), hexNum(u16(b, 10), 4));
  }
  return {
    ok: true,
    value: {
      version: 4,
      headerLength: ihl,
      packetLength: totalLength,
      src: b.slice(12, 16),
      dst: b.slice(16, 20),
      protocol: b[9],
      ttl: b[8],
      tos: b[1],
      flowLabel: 0,
      id: u16(b, 4),
      dontFragment: (flagsFragment & 0x4000) !== 0,
    },
  };
}

/** RFC 8200 §3 (no extension headers before ESP/AH/UDP in the oracle's scope). */
function parseIpv6(b: Uint8Array): Checked<IpView> {
  if (b.length < 40) return mismatch('ipv6.length', '>= 40', b.length);
  const version = b[0] >> 4;
  if (version !== 6) return mismatch('ipv6.version', 6, version);
  const payloadLength = u16(b, 4);
  if (!checkFrameRest(b.length, 40 + payloadLength)) {
    return mismatch('ipv6.payloadLength', b.length - 40, payloadLength);
  }
  const word = u32(b, 0);
  return {
    ok: true,
    value: {
      version: 6,
      headerLength: 40,
      packetLength: 40 + payloadLength,
      src: b.slice(8, 24),
      dst: b.slice(24, 40),
      protocol: b[6],
      ttl: b[7],
      tos: (word >>> 20) & 0xff,
      flowLabel: word & 0xfffff,
      id: 0,
      dontFragment: false,
    },
  };
}

/** The TCP/UDP pseudo-header of RFC 793 §3.1 (IPv4) or RFC 8200 §8.1 (IPv6). */
export function pseudoHeader(
  ip: Pick<IpView, 'version' | 'src' | 'dst'>,
  protocol: number,
  length: number
): Uint8Array {
  if (ip.version === 4) {
    return concat(ip.src, ip.dst, new Uint8Array([0, protocol, length >> 8, length & 0xff]));
  }
  return concat(
    ip.src,
    ip.dst,
    new Uint8Array([
      length >>> 24,
      (length >>> 16) & 0xff,
      (length >>> 8) & 0xff,
      length & 0xff,
      0,
      0,
      0,
      protocol,
    ])
  );
}

/** RFC 3948 §2.1 UDP-ESP header (contract D14). */
function checkUdpEsp(
  packet: Uint8Array,
  ip: IpView
): Checked<{ readonly srcPort: number; readonly dstPort: number }> {
  const at = ip.headerLength;
  if (packet.length < at + 8 + 8) return mismatch('udp.length', '>= 16', packet.length - at);
  const srcPort = u16(packet, at);
  const dstPort = u16(packet, at + 2);
  if (dstPort !== NAT_T_PORT) return mismatch('udp.dstPort', NAT_T_PORT, dstPort);
  const length = u16(packet, at + 4);
  if (length !== packet.length - at) return mismatch('udp.length', packet.length - at, length);
  if (u32(packet, at + 8) === 0) return mismatch('udp.nonEspMarker', 'an SPI', '0 (IKE)');
  const checksum = u16(packet, at + 6);
  if (ip.version === 4) {
    if (checksum !== 0)
      return mismatch('udp.checksum', '0 over IPv4 (contract D14)', hexNum(checksum, 4));
  } else {
    const datagram = packet.subarray(at);
    const sum = onesSum(pseudoHeader(ip, PROTO_UDP, datagram.length), datagram);
    if (checksum === 0 || sum !== 0xffff) {
      const zeroed = datagram.slice();
      zeroed[6] = 0;
      zeroed[7] = 0;
      const c = internetChecksum(pseudoHeader(ip, PROTO_UDP, datagram.length), zeroed);
      return mismatch('udp.checksum', hexNum(c === 0 ? 0xffff : c, 4), hexNum(checksum, 4));
    }
  }
  return { ok: true, value: { srcPort, dstPort } };
}

/** RFC 793 §3.1: header, options, and the checksum over pseudo-header ‖ segment. */
function parseTcp(segment: Uint8Array, ip: IpView): Checked<TcpView> {
  if (segment.length < 20) return mismatch('tcp.length', '>= 20', segment.length);
  const headerLength = (segment[12] >> 4) * 4;
  if (headerLength < 20 || headerLength > segment.length) {
    return mismatch('tcp.dataOffset', `20…${Math.min(60, segment.length)} bytes`, headerLength);
  }
  const pseudo = pseudoHeader(ip, PROTO_TCP, segment.length);
  const checksum = u16(segment, 16);
  if (onesSum(pseudo, segment) !== 0xffff) {
    const zeroed = segment.slice();
    zeroed[16] = 0;
    zeroed[17] = 0;
    return mismatch(
      'tcp.checksum',
      hexNum(internetChecksum(pseudo, zeroed), 4),
      hexNum(checksum, 4)
    );
  }
  return {
    ok: true,
    value: {
      srcPort: u16(segment, 0),
      dstPort: u16(segment, 2),
      seq: u32(segment, 4),
      ack: u32(segment, 8),
      headerLength,
      flags: ((segment[12] & 0x01) << 8) | segment[13],
      window: u16(segment, 14),
      checksum,
      urgent: u16(segment, 18),
      options: segment.slice(20, headerLength),
      payload: segment.subarray(headerLength),
    },
  };
}
