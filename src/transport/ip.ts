/**
 * @module
 * The IP headers the transport frames, described by what the sender chooses (addresses, IPv4
 * options, IPv6 extension headers, TTL …) and emitted through `wire/ipv4` and `wire/ipv6`, plus
 * the two things framing needs from them: the TCP/UDP pseudo-header sum (RFC 9293 §3.1, RFC 768,
 * RFC 8200 §8.1; contract D13: protocol 6/17 and the addresses of the header that carries the
 * TCP/UDP header) and the LSO length fields (contract D2).
 */
import * as checksum from '../wire/checksum.ts';
import { EtherType } from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';

/** An IPv4 header as the sender describes it; lengths, protocol and checksum are derived. */
export interface Ipv4Spec {
  readonly version: 4;
  /** Source Address, 4 bytes. */
  readonly source: Uint8Array;
  /** Destination Address, 4 bytes. */
  readonly destination: Uint8Array;
  /** Option TLVs (padded to 4 bytes on emit; RFC 791 §3.1); none by default. */
  readonly options?: Uint8Array;
  /** Identification (default 0). */
  readonly identification?: number;
  /** Time to Live (default 64). */
  readonly timeToLive?: number;
  /** Type of Service / DSCP+ECN (default 0). */
  readonly typeOfService?: number;
  /** The DF flag (default false). */
  readonly dontFragment?: boolean;
}

/** An IPv6 header and its extension chain as the sender describes them; lengths and links are derived. */
export interface Ipv6Spec {
  readonly version: 6;
  /** Source Address, 16 bytes. */
  readonly source: Uint8Array;
  /** Destination Address, 16 bytes (the final destination: see {@link pseudoHeader}). */
  readonly destination: Uint8Array;
  /** Extension headers that precede AH/ESP (RFC 4302 §3.1.1, RFC 4303 §3.1.1); none by default. */
  readonly extensions?: readonly ipv6.Extension[];
  /** Hop Limit (default 64). */
  readonly hopLimit?: number;
  /** Traffic Class (default 0). */
  readonly trafficClass?: number;
  /** Flow Label (default 0). */
  readonly flowLabel?: number;
}

/** An IP header as the sender describes it. */
export type IpSpec = Ipv4Spec | Ipv6Spec;

const NO_OPTIONS = new Uint8Array(0);
const NO_EXTENSIONS: readonly ipv6.Extension[] = [];
const DEFAULT_TTL = 64;

function v4Header(spec: Ipv4Spec, protocol: number): ipv4.Header {
  return {
    typeOfService: spec.typeOfService ?? 0,
    identification: spec.identification ?? 0,
    dontFragment: spec.dontFragment ?? false,
    moreFragments: false,
    fragmentOffset: 0,
    timeToLive: spec.timeToLive ?? DEFAULT_TTL,
    protocol,
    sourceAddress: spec.source,
    destinationAddress: spec.destination,
    options: spec.options ?? NO_OPTIONS,
  };
}

function v6Header(spec: Ipv6Spec, nextHeader: number): ipv6.Header {
  return {
    trafficClass: spec.trafficClass ?? 0,
    flowLabel: spec.flowLabel ?? 0,
    hopLimit: spec.hopLimit ?? DEFAULT_TTL,
    sourceAddress: spec.source,
    destinationAddress: spec.destination,
    extensions: spec.extensions ?? NO_EXTENSIONS,
    nextHeader,
  };
}

/**
 * Throws unless `spec` can be framed for offload: a version of 4 or 6, addresses of the right
 * size, and no IPv6 Fragment header (contract D16: packets that need fragmentation are not
 * offloaded; the transport fragments after IPsec).
 */
export function checkSpec(where: string, spec: IpSpec): void {
  const version: number = spec.version; // checked at run time too: callers may be untyped
  if (version !== 4 && version !== 6) {
    throw new RangeError(`${where}: expected IP version 4 or 6, got ${version}`);
  }
  const size = spec.version === 4 ? 4 : 16;
  if (spec.source.length !== size || spec.destination.length !== size) {
    throw new RangeError(
      `${where}: expected ${size}-byte IPv${spec.version} addresses, got ${spec.source.length} and ${spec.destination.length} bytes`
    );
  }
  if (spec.version === 6 && spec.extensions?.some((e) => e.type === IpProtocol.Fragment)) {
    throw new RangeError(
      `${where}: expected no IPv6 Fragment header (D16: fragmentation happens after IPsec), got one`
    );
  }
}

/** The header length in bytes `emit` writes for `spec` (options and extension headers included). */
export function headerLength(spec: IpSpec): number {
  return spec.version === 4
    ? ipv4.headerLength(v4Header(spec, 0))
    : ipv6.headerLength(v6Header(spec, IpProtocol.NoNext));
}

/** The EtherType of a frame whose first IP header is `spec`. */
export function etherType(spec: IpSpec): number {
  return spec.version === 4 ? EtherType.Ipv4 : EtherType.Ipv6;
}

/** The protocol number that announces an IP header of `spec`'s version inside a tunnel: 4 or 41. */
export function tunnelProtocol(spec: IpSpec): number {
  // RFC 4303 §3.1.2 / RFC 2003: IPv4-in-IP is protocol 4, IPv6 is 41 (RFC 2473).
  return spec.version === 4 ? IpProtocol.Ipip : IpProtocol.Ipv6;
}

/**
 * Writes the header of `spec` at the start of `out`, announcing `protocol` and carrying
 * `payloadLength` bytes (Total Length / Payload Length and the IPv4 header checksum final), and
 * returns its length.
 */
export function emit(
  spec: IpSpec,
  protocol: number,
  payloadLength: number,
  out: Uint8Array
): number {
  return spec.version === 4
    ? ipv4.emit(v4Header(spec, protocol), out, payloadLength)
    : ipv6.emit(v6Header(spec, protocol), out, payloadLength);
}

/**
 * Overwrites the length field of the header at the start of `packet` with a raw value — IPv4
 * Total Length (then the header checksum is recomputed, so it is correct over the bytes as
 * written) or IPv6 Payload Length — as LSO wants it (contract D2: the LSOv1 large-packet length,
 * or 0 for LSOv2 and IPv6).
 */
export function setLengthField(packet: Uint8Array, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffff) {
    throw new RangeError(`ip.setLengthField: expected an integer from 0 to 65535, got ${value}`);
  }
  if (packet[0] >>> 4 === 4) {
    const v = new ipv4.View(packet);
    v.totalLength = value;
    v.headerChecksum = 0;
    v.headerChecksum = checksum.checksum(packet.subarray(0, v.headerLength));
  } else {
    packet[4] = value >>> 8; // RFC 8200 §3: Payload Length at offset 4
    packet[5] = value & 0xff;
  }
}

/**
 * The unfolded pseudo-header sum of the TCP/UDP header carried by `spec`, for `protocol` (6 or 17)
 * and an upper-layer length of `length` (0 for the LSO seed without length; contract D2, D13).
 * Model: the IPv6 pseudo-header uses the Destination Address; RFC 8200 §8.1 wants the final
 * destination of a Routing header, so framing refuses a Routing header with Segments Left on the
 * header that carries TCP/UDP ({@link checkCarrier}).
 */
export function pseudoHeader(spec: IpSpec, protocol: number, length: number): number {
  return spec.version === 4
    ? checksum.pseudoHeaderV4(spec.source, spec.destination, protocol, length)
    : checksum.pseudoHeaderV6(spec.source, spec.destination, protocol, length);
}

/** Throws unless `spec` may carry the TCP/UDP header whose pseudo-header framing computes. */
export function checkCarrier(where: string, spec: IpSpec): void {
  if (
    spec.version === 6 &&
    spec.extensions?.some((e) => e.type === IpProtocol.Routing && e.segmentsLeft > 0)
  ) {
    throw new RangeError(
      `${where}: expected no Routing header with Segments Left > 0 before TCP/UDP (RFC 8200 §8.1 final destination is not modelled), got one`
    );
  }
}
