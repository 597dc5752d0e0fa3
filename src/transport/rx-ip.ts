/**
 * @module
 * The receiver's allocation-free look at one IP header: IPv4 (RFC 791 §3.1; header checksum
 * verified, RFC 1071) or IPv6 with its extension chain walked up to the first header that is not
 * Hop-by-Hop, Routing, Fragment or Destination Options (RFC 8200 §4) — where AH, ESP, UDP-ESP,
 * an inner IP header or TCP/UDP begins. Results go into a reused {@link IpHeader}; failures are a
 * reason string, never a throw (contract §4 kind 1).
 */
import * as checksum from '../wire/checksum.ts';
import { IpProtocol } from '../wire/ipv4.ts';

/** One parsed IP header (reused between packets: copy what must outlive the next parse). */
export class IpHeader {
  version: 4 | 6 = 4;
  /** The packet trimmed to its IP length (Total Length / 40 + Payload Length). */
  packet: Uint8Array = new Uint8Array(0);
  source: Uint8Array = new Uint8Array(0);
  destination: Uint8Array = new Uint8Array(0);
  /** Where the walked chain ended: the protocol there and its offset. */
  protocol = 0;
  upperOffset = 0;
  /** Fragment: set when this packet is a fragment. */
  fragment = false;
  identification = 0;
  /** Fragment data offset in bytes. */
  fragmentOffset = 0;
  moreFragments = false;
  /** IPv4 header length, or the IPv6 header up to the Fragment header. */
  unfragmentableLength = 0;
  /** IPv6: the byte holding the Next Header value 44, and the Fragment header's Next Header. */
  nextHeaderField = 0;
  fragmentNextHeader = 0;
  /** Where fragment data starts (IPv4 header length, IPv6 Fragment header + 8). */
  fragmentDataStart = 0;
}

/** Extension headers walked before AH/ESP/upper layer (RFC 8200 §4.1 order). */
function walked(next: number): boolean {
  return (
    next === IpProtocol.Hopopt ||
    next === IpProtocol.Routing ||
    next === IpProtocol.DestOpts ||
    next === IpProtocol.Fragment
  );
}

/**
 * Parses the IP header at the start of `bytes` into `out`; returns null, or the reason the
 * header is refused (`ip-truncated`, `ip-bad-version`, `ipv4-bad-header-length`,
 * `ipv4-bad-total-length`, `ipv4-header-checksum`, `ipv6-bad-payload-length`,
 * `ipv6-bad-extension`).
 */
export function parseIp(bytes: Uint8Array, out: IpHeader): string | null {
  if (bytes.length < 1) return 'ip-truncated';
  const version = bytes[0] >>> 4;
  if (version === 4) return parseV4(bytes, out);
  if (version === 6) return parseV6(bytes, out);
  return 'ip-bad-version';
}

function parseV4(bytes: Uint8Array, out: IpHeader): string | null {
  if (bytes.length < 20) return 'ip-truncated';
  const hl = (bytes[0] & 15) * 4;
  if (hl < 20 || hl > bytes.length) return 'ipv4-bad-header-length';
  const total = (bytes[2] << 8) | bytes[3];
  if (total < hl || total > bytes.length) return 'ipv4-bad-total-length';
  // RFC 1071 §1(3): the sum over a header with a correct checksum is 0 after complementing.
  if (checksum.checksum(bytes.subarray(0, hl)) !== 0) return 'ipv4-header-checksum';
  const packet = bytes.subarray(0, total);
  out.version = 4;
  out.packet = packet;
  out.source = packet.subarray(12, 16);
  out.destination = packet.subarray(16, 20);
  out.protocol = packet[9];
  out.upperOffset = hl;
  const word = (packet[6] << 8) | packet[7];
  out.moreFragments = (word & 0x2000) !== 0;
  out.fragmentOffset = (word & 0x1fff) * 8;
  out.fragment = out.moreFragments || out.fragmentOffset !== 0;
  out.identification = (packet[4] << 8) | packet[5];
  out.unfragmentableLength = hl;
  out.fragmentDataStart = hl;
  out.nextHeaderField = 9;
  out.fragmentNextHeader = out.protocol;
  return null;
}

function parseV6(bytes: Uint8Array, out: IpHeader): string | null {
  if (bytes.length < 40) return 'ip-truncated';
  const end = 40 + ((bytes[4] << 8) | bytes[5]);
  if (end > bytes.length) return 'ipv6-bad-payload-length';
  const packet = bytes.subarray(0, end);
  out.version = 6;
  out.packet = packet;
  out.source = packet.subarray(8, 24);
  out.destination = packet.subarray(24, 40);
  out.fragment = false;
  out.moreFragments = false;
  out.fragmentOffset = 0;
  let field = 6;
  let next = packet[6];
  let at = 40;
  while (walked(next)) {
    if (at + 8 > end) return 'ipv6-bad-extension';
    if (next === IpProtocol.Fragment) {
      const word = (packet[at + 2] << 8) | packet[at + 3];
      out.fragment = true;
      out.fragmentOffset = word & 0xfff8; // RFC 8200 §4.5: 13 bits of 8-octet units
      out.moreFragments = (word & 1) !== 0;
      out.identification =
        ((packet[at + 4] << 24) |
          (packet[at + 5] << 16) |
          (packet[at + 6] << 8) |
          packet[at + 7]) >>>
        0;
      out.unfragmentableLength = at;
      out.nextHeaderField = field;
      out.fragmentNextHeader = packet[at];
      out.fragmentDataStart = at + 8;
      // Model: what follows a Fragment header is taken apart after reassembly.
      out.protocol = packet[at];
      out.upperOffset = at + 8;
      return null;
    }
    const length = (packet[at + 1] + 1) * 8;
    if (at + length > end) return 'ipv6-bad-extension';
    field = at;
    next = packet[at];
    at += length;
  }
  out.protocol = next;
  out.upperOffset = at;
  return null;
}

/** Reads a big-endian 32-bit unsigned integer. */
export function u32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** Reads a big-endian 16-bit unsigned integer. */
export function u16(b: Uint8Array, at: number): number {
  return (b[at] << 8) | b[at + 1];
}

/** The unfolded TCP/UDP pseudo-header sum for `ip` (contract D13: the carrying header). */
export function pseudoSum(ip: IpHeader, protocol: number, length: number): number {
  return ip.version === 4
    ? checksum.pseudoHeaderV4(ip.source, ip.destination, protocol, length)
    : checksum.pseudoHeaderV6(ip.source, ip.destination, protocol, length);
}
