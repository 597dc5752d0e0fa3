/**
 * @module
 * The IP-header part of the AH ICV input (RFC 4302 §3.3.3.1): in a scratch copy of an IP packet
 * that carries AH, zero the fields that are mutable in transit and put the receiver's value into
 * the fields that are mutable but predictable, so sender and receiver hash the same bytes.
 *
 * IPv4 (§3.3.3.1.1): the DSCP/ECN octet, flags, fragment offset, TTL and header checksum are
 * zeroed; each option is kept or zeroed whole by Appendix A1, unknown options zeroed (§3.3.3.1);
 * with a source route the destination is the route's final address. IPv6 (§3.3.3.1.2): traffic
 * class, flow label and hop limit are zeroed; option data whose type has the change-en-route bit
 * is zeroed (§3.3.3.1.2.2); a Routing header is rewritten as the receiver will see it
 * (Appendix A2). The AH header itself is left alone: zeroing its ICV field needs the ICV length,
 * which the SA knows.
 */
import * as ipv4 from './ipv4.ts';
import { IpProtocol } from './ipv4.ts';
import * as ipv6 from './ipv6.ts';
import { malformed, ok, type Malformed, type Parsed } from './parsed.ts';

/** Where the AH header is, in bytes from the start of the IP header. */
export interface AhLocation {
  readonly ahOffset: number;
}

/**
 * IPv4 options included unchanged in the ICV (RFC 4302 Appendix A1, "IMMUTABLE"): EOL, NOP,
 * Security, Extended Security, Commercial Security, Router Alert, Sender Directed
 * Multi-Destination Delivery. Every other option, listed or not, is zeroed whole (Appendix A1
 * "MUTABLE" and "EXPERIMENTAL, SUPERCEDED"; §3.3.3.1 for unrecognised options).
 */
const IMMUTABLE_V4_OPTIONS: ReadonlySet<number> = new Set([
  ipv4.OptionType.EndOfOptionList,
  ipv4.OptionType.NoOperation,
  ipv4.OptionType.Security,
  ipv4.OptionType.ExtendedSecurity,
  ipv4.OptionType.CommercialSecurity,
  ipv4.OptionType.RouterAlert,
  ipv4.OptionType.MultiDestinationDelivery,
]);

/** Protocols that end an IPv6 chain without an AH: reaching one means the packet has no AH. */
const UPPER_LAYERS: ReadonlySet<number> = new Set([
  IpProtocol.Icmp,
  IpProtocol.Ipip,
  IpProtocol.Tcp,
  IpProtocol.Udp,
  IpProtocol.Ipv6,
  IpProtocol.Esp,
  IpProtocol.Icmpv6,
  IpProtocol.NoNext,
]);

/** Routing Types whose data is 4 reserved bytes then addresses: type 0 (RFC 2460 §4.4), type 2 (RFC 6275 §6.4). */
const ADDRESS_LIST_ROUTING: ReadonlySet<number> = new Set([0, 2]);

function fail<T>(error: Malformed): Parsed<T> {
  return malformed(error.layer, error.reason, error.offset);
}

/**
 * Rewrites, in place, a scratch copy of a whole IP packet (IPv4 or IPv6 by the version nibble)
 * into the form AH authenticates (RFC 4302 §3.3.3.1) and returns the offset of the first AH
 * header. Fails if the packet does not parse, has no AH, is a fragment (RFC 4302 §3.4.1), or
 * holds a header whose receiver form cannot be predicted; the copy is unchanged on failure.
 */
export function zeroMutableFields(packet: Uint8Array): Parsed<AhLocation> {
  if (packet.length === 0) return malformed('ip', 'truncated', 0);
  switch (packet[0] >>> 4) {
    case 4:
      return zeroIpv4(packet);
    case 6:
      return zeroIpv6(packet);
    default:
      return malformed('ip', 'bad-version', 0);
  }
}

function isSourceRoute(type: number): boolean {
  return type === ipv4.OptionType.LooseSourceRoute || type === ipv4.OptionType.StrictSourceRoute;
}

function zeroIpv4(packet: Uint8Array): Parsed<AhLocation> {
  const parsed = ipv4.parse(packet);
  if (!parsed.ok) return fail(parsed.error);
  const ip = new ipv4.View(packet);
  if (ip.protocol !== IpProtocol.Ah) return malformed('ipv4', 'no-ah', 9);
  // RFC 4302 §3.4.1: a packet offered to AH that appears to be a fragment is discarded.
  if (ip.moreFragments || ip.fragmentOffset !== 0) return malformed('ipv4', 'fragment', 6);
  const area = ip.options;
  for (const option of ipv4.walkOptions(area)) {
    // RFC 791 §3.1: a source route is type, length, pointer, then 4-byte addresses.
    if (isSourceRoute(option.type) && (option.length < 7 || (option.length - 3) % 4 !== 0)) {
      return malformed('ipv4', 'bad-option', 20 + option.offset);
    }
  }

  // RFC 4302 §3.3.3.1.1.1: DSCP and ECN, Flags, Fragment Offset, TTL, Header Checksum are zeroed.
  ip.typeOfService = 0;
  ip.flags = 0;
  ip.fragmentOffset = 0;
  ip.timeToLive = 0;
  ip.headerChecksum = 0;

  for (const option of ipv4.walkOptions(area)) {
    if (IMMUTABLE_V4_OPTIONS.has(option.type)) continue;
    const end = option.offset + option.length;
    if (isSourceRoute(option.type)) {
      // RFC 4302 §3.3.3.1.1.1: with loose or strict source routing the Destination Address is
      // "mutable but predictable", and §3.3.3.1 inserts the value it will have at the receiver:
      // the route's last address (RFC 791 §3.1, the final destination). Once the pointer is past
      // the length (RFC 791: "the source route is empty") the field already holds that value.
      const pointer = area[option.offset + 2];
      if (pointer <= option.length) ip.destinationAddress.set(area.subarray(end - 4, end));
    }
    // RFC 4302 §3.3.3.1.1.2: "if an option is classified as mutable, the entire option is zeroed".
    area.fill(0, option.offset, end);
  }
  return ok({ ahOffset: ip.headerLength });
}

/** One header of an IPv6 chain before the AH: its Next Header value and offset. */
interface ChainEntry {
  readonly type: number;
  readonly offset: number;
}

function zeroIpv6(packet: Uint8Array): Parsed<AhLocation> {
  // `parse` checks Payload Length, every header length and option TLV up to where it stops,
  // which is never before the AH or the first header refused below.
  const parsed = ipv6.parse(packet);
  if (!parsed.ok) return fail(parsed.error);

  // Pass 1: find the AH and refuse what cannot be put in receiver form, before writing anything.
  const chain: ChainEntry[] = [];
  let next = new ipv6.View(packet).nextHeader;
  let offset = ipv6.HEADER_LENGTH;
  while (next !== IpProtocol.Ah) {
    switch (next) {
      case IpProtocol.Hopopt:
      case IpProtocol.DestOpts:
        break;
      case IpProtocol.Routing: {
        const refused = checkRouting(packet, offset);
        if (refused !== undefined) return refused;
        break;
      }
      case IpProtocol.Fragment:
        // RFC 4302 Appendix A2: reassembly happens before inbound IPsec, so AH never sees a
        // Fragment header; RFC 4302 §3.4.1 discards packets that appear to be fragments.
        return malformed('ipv6', 'fragment', offset);
      default:
        // RFC 4302 §3.3.3.1: IPv6 discards packets with unrecognised extension headers, so
        // AH cannot know how to treat one.
        return malformed('ipv6', UPPER_LAYERS.has(next) ? 'no-ah' : 'unknown-header', offset);
    }
    chain.push({ type: next, offset });
    next = packet[offset];
    offset += (packet[offset + 1] + 1) * 8;
  }

  // RFC 4302 §3.3.3.1.2.1: DSCP, ECN (the traffic class), Flow Label and Hop Limit are zeroed.
  const ip = new ipv6.View(packet);
  ip.trafficClass = 0;
  ip.flowLabel = 0;
  ip.hopLimit = 0;

  // Pass 2: rewrite each header before the AH.
  for (const entry of chain) {
    const length = (packet[entry.offset + 1] + 1) * 8;
    if (entry.type === IpProtocol.Routing) {
      rearrangeRouting(packet, ip, entry.offset);
      continue;
    }
    const area = packet.subarray(entry.offset + 2, entry.offset + length);
    for (const option of ipv6.walkOptions(area)) {
      // RFC 4302 §3.3.3.1.2.2: the "Option Data" of an option that may change en route is
      // zeros in the ICV; its Option Type and Opt Data Len are included as they are.
      if (
        option.type !== ipv6.OptionType.Pad1 &&
        (option.type & ipv6.OPTION_DATA_MAY_CHANGE) !== 0
      ) {
        area.fill(0, option.offset + 2, option.offset + option.length);
      }
    }
  }
  return ok({ ahOffset: offset });
}

/** Refuses a Routing header whose receiver form cannot be computed; undefined if it can. */
function checkRouting(packet: Uint8Array, offset: number): Parsed<AhLocation> | undefined {
  const hdrExtLen = packet[offset + 1];
  const routingType = packet[offset + 2];
  const segmentsLeft = packet[offset + 3];
  if (segmentsLeft === 0) return undefined; // already as the receiver will see it
  if (!ADDRESS_LIST_ROUTING.has(routingType)) {
    // Model: RFC 4302 Appendix A2 defines the receiver form for Type 0 only (Type 2 has the
    // same layout); none is standardised for RPL (3) or SRH (4) while segments remain.
    return malformed('ipv6', 'unsupported-routing-type', offset + 2);
  }
  // RFC 2460 §4.4: Hdr Ext Len is twice the number of addresses, and Segments Left at most that.
  if (hdrExtLen % 2 !== 0) return malformed('ipv6', 'bad-routing', offset + 1);
  if (segmentsLeft > hdrExtLen / 2) return malformed('ipv6', 'bad-routing', offset + 3);
  return undefined;
}

/**
 * Puts a Type 0/2 Routing header and the Destination Address in the order they will have at
 * the final destination, with Segments Left 0 (RFC 4302 Appendix A2: the Type 0 header is
 * "mutable but predictable"; the sender orders it as it will appear at the receiver). At each
 * hop RFC 2460 §4.4 swaps the Destination Address with Address[n − Segments Left + 1], so at
 * the end the destination is the last address and the visited addresses have shifted up by one.
 */
function rearrangeRouting(packet: Uint8Array, ip: ipv6.View, offset: number): void {
  const segmentsLeft = packet[offset + 3];
  if (segmentsLeft === 0) return;
  const count = packet[offset + 1] / 2;
  const base = offset + 8; // after Next Header, Hdr Ext Len, Routing Type, Segments Left, Reserved
  const first = base + 16 * (count - segmentsLeft); // the next address to visit
  const last = base + 16 * (count - 1);
  const final = packet.slice(last, last + 16);
  packet.copyWithin(first + 16, first, last);
  packet.set(ip.destinationAddress, first);
  ip.destinationAddress.set(final);
  packet[offset + 3] = 0;
}
