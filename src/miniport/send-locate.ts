/**
 * @module
 * How the NIC finds its work in a frame the transport framed ("Sending Network Data with IPsec
 * Offload Version 2"; contract D1, D2, D4, D9, D12, D14): the Ethernet header (IEEE 802.3, an
 * optional 802.1Q tag), the IP header (RFC 791 §3.1, RFC 8200 §3), the walk of the next-header
 * chain through IPv6 extension headers (RFC 8200 §4), AH (RFC 4302 §2) and UDP-ESP (RFC 3948
 * §2.1) to the ESP header (RFC 4303 §2) or the upper layer, and the matching of an SA bundle's
 * headers against the OOB: every header offset must land on a header of the right protocol with
 * the SA's SPI, the ESP trailer must say what the OOB says, and the payload must fill whole cipher
 * blocks. Every refusal is a named reason on the NBL's {@link Outcome} — never a throw.
 *
 * Nothing here allocates: it reads the frame and fills the reusable {@link IpLayer} and
 * {@link SaLayout} objects of the call's {@link SendWork}.
 *
 * Reasons (→ NDIS_STATUS_INVALID_PACKET unless noted): `frame-truncated`, `not-ip`, `ip-version`,
 * `ip-truncated`, `ip-length`, `ip-fragment`, `address-family`, `capability:Encapsulation`,
 * `capability:IPv4Options`, `capability:IPv6NonIPsecExtensionHeaders`, `not-configured:ipv6`
 * (NDIS_STATUS_FAILURE), `ah-offset`, `esp-offset`, `spi-mismatch`, `ah-length`, `udp-esp`,
 * `esp-truncated`, `block-alignment`, `trailer-mismatch`, `trailer-padding`, `tunnel-header`,
 * `tunnel-trailer`.
 *
 * Decisions where the contract is silent (for docs/decisions.md):
 * - The OOB offsets must match the bundle exactly: an AhHeaderOffset/EspHeaderOffset of 0 for an
 *   element the bundle has, or non-zero for one it lacks, is `ah-offset`/`esp-offset` (D9: OOB
 *   that contradicts the packet).
 * - The IP header that carries a bundle's headers must be of the bundle's family (ADD_SA's
 *   IPSEC_OFFLOAD_V2_IPv6 flag), else `address-family`; the endpoint addresses are not compared
 *   (the contract asks for offsets, protocol and SPI only).
 * - IPv6 while the configuration has IPsec offload for IPv4 only (IPsecV2IPv4) fails with
 *   NDIS_STATUS_FAILURE `not-configured:ipv6`, like an excluded protocol (datapath.ts).
 * - A fragment carrying IPsec headers is refused (`ip-fragment`, D16: not offloaded).
 * - An 802.1Q-tagged frame is accepted for IPsec only with NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q
 *   in NDIS_IPSEC_OFFLOAD_V2.Encapsulation (`capability:Encapsulation`).
 * - Padding bytes other than 1, 2, 3, … are refused (`trailer-padding`): D1 says the transport
 *   pads with 1, 2, 3, …, and a NIC that re-checks what it encrypts catches framing bugs early.
 * - "Directly follows the outer IP header" (D4) allows IPv6 extension headers in between: they
 *   are part of the outer IP header chain.
 * - UDP-ESP per role: see {@link udpEncapsulated}.
 */
import { ENCRYPTION_NAMES, encryptionInfo, type EncryptionName } from '../crypto/names.ts';
import type { Offload } from '../ndis/caps.ts';
import { Encapsulation, UdpEsp } from '../ndis/oid.ts';
import * as ah from '../wire/ah.ts';
import { EtherType } from '../wire/ethernet.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import type { CurrentConfig } from './config.ts';
import type { SaBundle } from './sa-table.ts';
import type { IpLayer, Outcome, Role, SaLayout } from './send-work.ts';

/** How an IP header's length field is judged. */
export type LengthRule =
  /** The IP packet ends exactly at the limit (a framed IPsec packet, D1; LSOv1, D2). */
  | 'exact'
  /** The length field is 0 and the packet ends at the limit (LSOv2, D2). */
  | 'zero'
  /** The IP packet ends where its length field says, at or before the limit (plain frames). */
  | 'within';

/** Big-endian 16-bit read. */
export function be16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** Big-endian 32-bit read, unsigned. */
export function be32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Big-endian 16-bit write. */
export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

/** Big-endian 32-bit write. */
export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/** The position of the IP header in an Ethernet frame: its offset and IP version, or 0. */
export interface L2 {
  /** Offset of the IP header (14, or 18 behind an 802.1Q tag); 0 if the frame carries no IP. */
  ipStart: number;
  version: 0 | 4 | 6;
  /** The frame carries an 802.1Q tag (TPID 0x8100). */
  tagged: boolean;
}

/**
 * Finds the IP header of an Ethernet II frame (IEEE 802.3 §3.2.6), behind at most one 802.1Q tag
 * (802.1Q §9.5); `out.ipStart` is 0 for a frame that carries neither IPv4 nor IPv6.
 */
export function locateL2(frame: Uint8Array, out: L2): void {
  // Model: only Ethernet encapsulation (NDIS_ENCAPSULATION_IEEE_802_3, mandatory per the
  // NDIS_IPSEC_OFFLOAD_V2 page); no LLC/SNAP, no stacked tags, no 802.1Q info in the OOB.
  out.ipStart = 0;
  out.version = 0;
  out.tagged = false;
  if (frame.length < 14) return;
  let type = be16(frame, 12);
  let at = 14;
  if (type === EtherType.Vlan) {
    if (frame.length < 18) return;
    out.tagged = true;
    type = be16(frame, 16);
    at = 18;
  }
  if (type === EtherType.Ipv4) out.version = 4;
  else if (type === EtherType.Ipv6) out.version = 6;
  else return;
  out.ipStart = at;
}

/**
 * Reads the IP header at `start` (version `version`) of a packet that may extend to `limit`, and
 * fills `layer` (its extent, options); the chain walk is {@link walkChain}. Refuses `ip-version`
 * (the version nibble disagrees), `ip-truncated` (header past the limit, IHL < 5) and `ip-length`
 * (the length field breaks `rule`).
 */
export function readIp(
  frame: Uint8Array,
  start: number,
  limit: number,
  version: 4 | 6,
  rule: LengthRule,
  layer: IpLayer,
  outcome: Outcome
): boolean {
  layer.reset();
  layer.start = start;
  layer.version = version;
  if (start >= limit || frame[start] >>> 4 !== version) return outcome.invalid('ip-version');
  const available = limit - start;
  if (version === 4) {
    if (available < 20) return outcome.invalid('ip-truncated');
    const ihl = (frame[start] & 15) * 4; // RFC 791 §3.1: IHL in 32-bit words
    if (ihl < 20 || ihl > available) return outcome.invalid('ip-truncated');
    layer.headerLength = ihl;
    layer.options = ihl > 20;
    layer.fragment = (be16(frame, start + 6) & 0x3fff) !== 0; // MF or a fragment offset
    const total = be16(frame, start + 2); // Total Length: header and data
    const good =
      rule === 'exact'
        ? total === available
        : rule === 'zero'
          ? total === 0
          : total >= ihl && total <= available;
    if (!good) return outcome.invalid('ip-length');
    layer.end = rule === 'within' ? start + total : limit;
    return true;
  }
  if (available < 40) return outcome.invalid('ip-truncated');
  layer.headerLength = 40;
  const payload = be16(frame, start + 4); // RFC 8200 §3: bytes after the fixed header
  const good =
    rule === 'exact'
      ? payload === available - 40
      : rule === 'zero'
        ? payload === 0
        : payload <= available - 40;
  if (!good) return outcome.invalid('ip-length');
  layer.end = rule === 'within' ? start + 40 + payload : limit;
  return true;
}

/**
 * Walks the next-header chain of `layer` from the end of its IP header: IPv6 extension headers
 * (Hop-by-Hop 0, Routing 43, Fragment 44, Destination Options 60; RFC 8200 §4), AH (51, RFC 4302
 * §2.2: length (Payload Len + 2) × 4), the UDP header of UDP-ESP when `udpEncapsulated` (RFC 3948
 * §2.1), and stops at ESP (50) or at any other protocol. Refuses `ip-truncated` when a header runs
 * past the IP packet.
 */
export function walkChain(
  frame: Uint8Array,
  layer: IpLayer,
  udpEncapsulated: boolean,
  outcome: Outcome
): boolean {
  const end = layer.end;
  let protocol = layer.version === 4 ? frame[layer.start + 9] : frame[layer.start + 6];
  let at = layer.start + layer.headerLength;
  for (;;) {
    switch (protocol) {
      case IpProtocol.Hopopt:
      case IpProtocol.Routing:
      case IpProtocol.Fragment:
      case IpProtocol.DestOpts: {
        if (layer.version === 4) break; // not extension headers over IPv4
        if (at + 8 > end) return outcome.invalid('ip-truncated');
        layer.extensions = true;
        if (protocol === IpProtocol.Fragment) layer.fragment = true;
        // RFC 8200 §4.3–§4.6: Hdr Ext Len in 8-octet units, not counting the first 8.
        const length = protocol === IpProtocol.Fragment ? 8 : (frame[at + 1] + 1) * 8;
        protocol = frame[at];
        at += length;
        if (at > end) return outcome.invalid('ip-truncated');
        continue;
      }
      case IpProtocol.Ah: {
        if (layer.ah >= 0 || layer.udp >= 0) break; // a second AH is payload
        if (at + ah.FIXED_LENGTH > end) return outcome.invalid('ip-truncated');
        layer.ah = at;
        protocol = frame[at];
        at += (frame[at + 1] + 2) * 4; // RFC 4302 §2.2
        if (at > end) return outcome.invalid('ip-truncated');
        continue;
      }
      case IpProtocol.Udp: {
        if (!udpEncapsulated || layer.udp >= 0) break;
        if (at + 8 > end) return outcome.invalid('ip-truncated');
        layer.udp = at;
        // RFC 3948 §2.1: the ESP header directly follows the UDP header.
        protocol = IpProtocol.Esp;
        at += 8;
        continue;
      }
      case IpProtocol.Esp:
        if (at + 8 > end) return outcome.invalid('ip-truncated');
        layer.esp = at;
        break;
      default:
        break;
    }
    layer.upperProtocol = protocol;
    layer.upperOffset = at;
    return true;
  }
}

/**
 * The per-packet checks of contract D12 on an IP header that carries an SA bundle's headers:
 * the Ethernet tag (`capability:Encapsulation`), IPv4 options (`capability:IPv4Options`), non-IPsec
 * IPv6 extension headers (`capability:IPv6NonIPsecExtensionHeaders`), IPv6 while only
 * IPsecV2IPv4 is enabled (`not-configured:ipv6`, NDIS_STATUS_FAILURE), the bundle's address
 * family (`address-family`), and fragments (`ip-fragment`: contract D16, the transport fragments
 * after IPsec).
 */
export function checkIpsecLayer(
  caps: Offload,
  config: CurrentConfig,
  layer: IpLayer,
  bundle: SaBundle,
  tagged: boolean,
  outcome: Outcome
): boolean {
  const v2 = caps.IPsecV2;
  if (tagged && (v2.Encapsulation & Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q) === 0) {
    return outcome.invalid('capability:Encapsulation');
  }
  if (layer.version === 6 && !config.ipsecIpv6) return outcome.failure('not-configured:ipv6');
  if (bundle.ipv6 !== (layer.version === 6)) return outcome.invalid('address-family');
  if (layer.fragment) return outcome.invalid('ip-fragment');
  if (layer.options && !v2.IPv4Options) return outcome.invalid('capability:IPv4Options');
  if (layer.extensions && !v2.IPv6NonIPsecExtensionHeaders) {
    return outcome.invalid('capability:IPv6NonIPsecExtensionHeaders');
  }
  return true;
}

/**
 * Whether a bundle's ESP header sits behind a UDP-ESP header in `role` (contract D14). The
 * ADD_SA entry names one encapsulation type for the whole packet; each role reads it as
 * RFC 3948 and the ADD_SA page describe the types:
 * TRANSPORT (1) — the transport portion is UDP-encapsulated;
 * TUNNEL (2) — the tunnel portion is (no transport portion);
 * TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL (4) — the tunnel portion is, the transport portion not;
 * UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL (8) — the transport portion is, the tunnel portion not.
 */
export function udpEncapsulated(bundle: SaBundle, role: Role): boolean {
  const t = bundle.udpEspEncapsulation;
  switch (role) {
    case 'only':
      return (
        t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT ||
        t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL
      );
    case 'tunnel':
      return (
        t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL ||
        t === UdpEsp.IPSEC_OFFLOAD_V2_TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL
      );
    case 'transport':
      return (
        t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT ||
        t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL
      );
  }
}

/** Whether a bundle has an ESP element (UDP-ESP applies to ESP only, RFC 3948). */
export function hasEsp(bundle: SaBundle): boolean {
  for (const element of bundle.elements) if (element.operation === 'esp') return true;
  return false;
}

/** The OOB header information of one NBL (slot 12, NDIS_IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO). */
export interface HeaderOob {
  nextHeader: number;
  padLength: number;
  /** AhHeaderOffset / EspHeaderOffset converted to bytes from the outermost IP header (D4). */
  ahOffset: number;
  espOffset: number;
}

/** How the ESP region of a bundle ends. */
export type EspFraming =
  /** Contract D1: trailer and ICV framed; the region ends with the IP packet. */
  | 'framed'
  /** Contract D2 (LSO): no trailer, no ICV; the payload ends with the IP packet (filler removed). */
  | 'lso';

/**
 * Fills `layout` with where `bundle`'s headers are in `layout.ip` (already walked) and checks
 * them: AH and ESP present exactly as the bundle says, at the OOB offsets (role 'only' and
 * 'transport', measured from `outerStart`; D4) or first after the outer IP/UDP header (role
 * 'tunnel'), with the SA's SPI; the AH length of RFC 4302 §2.6 for the SA's IV and ICV; the UDP
 * header of UDP-ESP; and, with `framing` 'framed', the ESP trailer (padding 1, 2, …, Pad Length,
 * Next Header; RFC 4303 §2.4–§2.6) — against the OOB (`oob`, roles 'only' and 'transport', D1) or
 * parsed by the NIC itself (role 'tunnel', D1, D4) — and the cipher-block alignment (D9).
 * With 'lso' the ESP payload runs to `layout.ip.end` and its Next Header is the OOB's.
 */
export function matchBundle(
  frame: Uint8Array,
  bundle: SaBundle,
  layout: SaLayout,
  oob: HeaderOob | null,
  outerStart: number,
  framing: EspFraming,
  outcome: Outcome
): boolean {
  const ip = layout.ip;
  const tunnelRole = layout.role === 'tunnel';
  layout.bundle = bundle;
  const elements = bundle.elements;
  for (let i = 0; i < elements.length; i++) {
    const element = elements[i];
    if (element.operation === 'ah') {
      layout.ah = element;
      layout.ahIndex = i;
    } else {
      layout.esp = element;
      layout.espIndex = i;
    }
  }

  // AH (RFC 4302 §2): where the walk found it, and where the OOB says it is (D4).
  if (layout.ah !== null) {
    if (ip.ah < 0) return outcome.invalid(tunnelRole ? 'tunnel-header' : 'ah-offset');
    if (oob !== null && oob.ahOffset !== ip.ah - outerStart) return outcome.invalid('ah-offset');
    if (tunnelRole && ip.ah !== ip.start + ip.headerLength && !ip.extensions) {
      return outcome.invalid('tunnel-header');
    }
    const auth = layout.ah.auth;
    if (auth === null) throw new TypeError('send: expected an AH element with an AuthTransform');
    if (be32(frame, ip.ah + 4) !== layout.ah.spi >>> 0) return outcome.invalid('spi-mismatch');
    const expected = ah.ahLength(auth.icvLength, auth.ivLength, ip.version);
    if ((frame[ip.ah + 1] + 2) * 4 !== expected) return outcome.invalid('ah-length');
    layout.ahStart = ip.ah;
    layout.ahLength = expected;
  } else if (oob !== null && oob.ahOffset !== 0) {
    return outcome.invalid('ah-offset'); // the OOB names an AH the bundle does not have
  }

  if (layout.esp === null) {
    if (oob !== null && oob.espOffset !== 0) return outcome.invalid('esp-offset');
    // AH only: what AH protects is what the walk found after it (RFC 4302 §3.1).
    layout.payloadStart = ip.upperOffset;
    layout.payloadEnd = ip.end;
    layout.payloadProtocol = ip.upperProtocol;
    return true;
  }

  // ESP (RFC 4303 §2), behind UDP for UDP-ESP (RFC 3948 §2.1, D14).
  const esp = layout.esp.esp;
  if (esp === null) throw new TypeError('send: expected an ESP element with an EspTransform');
  if (ip.esp < 0) return outcome.invalid(tunnelRole ? 'tunnel-header' : 'esp-offset');
  if (oob !== null && oob.espOffset !== ip.esp - outerStart) return outcome.invalid('esp-offset');
  if (udpEncapsulated(bundle, layout.role)) {
    if (ip.udp < 0 || ip.udp + 8 !== ip.esp) return outcome.invalid('udp-esp');
    layout.udpStart = ip.udp;
  }
  if (
    tunnelRole &&
    layout.ahStart < 0 &&
    ip.esp !== (layout.udpStart >= 0 ? ip.udp + 8 : ip.start + ip.headerLength) &&
    !ip.extensions
  ) {
    return outcome.invalid('tunnel-header');
  }
  if (be32(frame, ip.esp) !== layout.esp.spi >>> 0) return outcome.invalid('spi-mismatch');
  layout.espStart = ip.esp;
  layout.espEnd = ip.end;
  const bodyStart = ip.esp + 8 + esp.ivLength;
  layout.payloadStart = bodyStart;

  if (framing === 'lso') {
    // Contract D2: the NET_BUFFER has no trailer and no ICV; the NIC writes them per segment.
    if (bodyStart > ip.end) return outcome.invalid('esp-truncated');
    layout.payloadEnd = ip.end;
    layout.nextHeader = oob === null ? 0 : oob.nextHeader;
    layout.padLength = 0;
    layout.payloadProtocol = layout.nextHeader;
    return true;
  }

  // Contract D1: … payload ‖ padding ‖ Pad Length ‖ Next Header ‖ ICV, to the end of the packet.
  const icvStart = ip.end - esp.icvLength;
  const bodyLength = icvStart - bodyStart;
  if (bodyLength < 2) return outcome.invalid('esp-truncated');
  // RFC 4303 §2.4: payload through Next Header fills whole cipher blocks and ends on 4 bytes.
  if (bodyLength % esp.padAlign !== 0) return outcome.invalid('block-alignment');
  const padLength = frame[icvStart - 2];
  const nextHeader = frame[icvStart - 1];
  const trailerReason = tunnelRole ? 'tunnel-trailer' : 'trailer-mismatch';
  if (padLength > bodyLength - 2) return outcome.invalid(trailerReason);
  if (oob !== null && (oob.nextHeader !== nextHeader || oob.padLength !== padLength)) {
    return outcome.invalid('trailer-mismatch');
  }
  const padStart = icvStart - 2 - padLength;
  for (let i = 0; i < padLength; i++) {
    // RFC 4303 §2.4: "the first padding byte … is numbered 1" (D1: the transport's padding).
    if (frame[padStart + i] !== i + 1)
      return outcome.invalid(tunnelRole ? trailerReason : 'trailer-padding');
  }
  layout.padLength = padLength;
  layout.nextHeader = nextHeader;
  layout.payloadEnd = padStart;
  layout.payloadProtocol = nextHeader;
  return true;
}

/** Whether a Next Header value makes a tunnel packet: IPv4-in-IP (4) or IPv6 (41) (D12). */
export function isTunnelProtocol(protocol: number): boolean {
  return protocol === IpProtocol.Ipip || protocol === IpProtocol.Ipv6;
}

/** The IP version an inner packet of Next Header 4 or 41 must have. */
export function innerVersion(protocol: number): 4 | 6 {
  return protocol === IpProtocol.Ipip ? 4 : 6;
}

/** Whether an ESP element's transform takes a random IV (a CBC cipher, D6). */
export function isCbc(encryption: EncryptionName | null): boolean {
  return encryption !== null && CBC_NAMES.has(encryption);
}

/** The block-cipher (CBC) encryption names, looked up once (the send path asks per packet). */
const CBC_NAMES: ReadonlySet<EncryptionName> = new Set(
  ENCRYPTION_NAMES.filter((name) => encryptionInfo(name).blockSize > 1)
);
