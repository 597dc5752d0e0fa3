/**
 * @module
 * How the NIC finds the IPsec headers of a received frame ("Receiving Network Data with IPsec
 * Offload Version 2"; reference §4.2, §1.9; contract D14): the IP header behind the Ethernet
 * header (RFC 791 §3.1, RFC 8200 §3), the walk of its next-header chain through IPv6 extension
 * headers (RFC 8200 §4) and AH (RFC 4302 §2) to ESP (RFC 4303 §2), and UDP-ESP on port 4500 only
 * (RFC 3948 §2.1), where IKE (non-ESP marker, §2.2) and NAT-keepalives (§2.3) stop the walk.
 *
 * Unlike the send side (send-locate.ts), bytes from the wire are judged leniently here: a length
 * field that claims more than the frame holds does not stop the walk — the SA lookup comes first
 * (reference §4.2 rule 2), and only a packet that matches an offloaded SA is refused, with
 * CRYPTO_INVALID_PACKET_SYNTAX. Nothing here allocates but `udpencap.classify`'s small result,
 * and nothing throws.
 */
import { IpProtocol } from '../wire/ipv4.ts';
import * as udpencap from '../wire/udpencap.ts';
import { be16 } from './send-locate.ts';
import type { IpLayer } from './send-work.ts';

/** What a walk found on UDP port 4500 (RFC 3948; contract D14), or `none`. */
export type UdpEspKind = 'none' | 'esp' | 'ike' | 'keepalive' | 'truncated';

/** One received IP header and what its walk found. */
export class RxLayer {
  /** The IP header and the walk's positions (`udp`, `ah`, `esp`, `upperProtocol`, …). */
  readonly ip: IpLayer;
  /** The IP length field claims more bytes than the frame holds (or fewer than the header). */
  lengthBad = false;
  /** What the UDP datagram on port 4500 carries, if the walk met one. */
  udpKind: UdpEspKind = 'none';

  constructor(ip: IpLayer) {
    this.ip = ip;
  }

  /** Forgets the previous packet. */
  reset(): void {
    this.ip.reset();
    this.lengthBad = false;
    this.udpKind = 'none';
  }
}

/**
 * Reads the IP header of version `version` at `start` of a packet that may extend to `limit`
 * into `layer`; returns false when not even the header is there (wrong version nibble, header
 * past `limit`, IHL < 5). The packet ends where its length field says, but never past `limit`;
 * a length field past `limit` (or below the header) sets `layer.lengthBad`.
 */
export function readRxIp(
  frame: Uint8Array,
  start: number,
  limit: number,
  version: 4 | 6,
  layer: RxLayer
): boolean {
  layer.reset();
  const ip = layer.ip;
  ip.start = start;
  ip.version = version;
  if (start >= limit || frame[start] >>> 4 !== version) return false;
  const available = limit - start;
  if (version === 4) {
    if (available < 20) return false;
    const ihl = (frame[start] & 15) * 4; // RFC 791 §3.1: IHL in 32-bit words
    if (ihl < 20 || ihl > available) return false;
    ip.headerLength = ihl;
    ip.options = ihl > 20;
    ip.fragment = (be16(frame, start + 6) & 0x3fff) !== 0; // MF or a fragment offset
    const total = be16(frame, start + 2);
    // Model: a frame may carry Ethernet padding after the IP packet (total < available).
    layer.lengthBad = total < ihl || total > available;
    ip.end = start + Math.min(Math.max(total, ihl), available);
    return true;
  }
  if (available < 40) return false;
  ip.headerLength = 40;
  const payload = be16(frame, start + 4); // RFC 8200 §3
  // Model: no jumbograms (RFC 2675): Payload Length 0 is an empty payload.
  layer.lengthBad = payload > available - 40;
  ip.end = start + 40 + Math.min(payload, available - 40);
  return true;
}

/**
 * Walks the next-header chain of `layer` from the end of its IP header: IPv6 extension headers
 * (not over IPv4), one AH (RFC 4302 §2.2: length (Payload Len + 2) × 4), one UDP header with
 * destination port 4500 (RFC 3948 §2.1, D14: the NIC's only UDP-ESP port) whose payload
 * `udpencap.classify` calls ESP, and stops at the first ESP header or at anything else. A header
 * cut off by the end of the packet stops the walk where it starts (its position is still
 * recorded for AH and ESP, so that a matching SA can report the bad length). A non-first
 * fragment is not walked (what follows its header is not a header).
 */
export function walkRx(frame: Uint8Array, layer: RxLayer): void {
  const ip = layer.ip;
  const end = ip.end;
  let protocol = ip.version === 4 ? frame[ip.start + 9] : frame[ip.start + 6];
  let at = ip.start + ip.headerLength;
  if (ip.version === 4 && (be16(frame, ip.start + 6) & 0x1fff) !== 0) {
    ip.upperProtocol = protocol;
    ip.upperOffset = at;
    return;
  }
  for (;;) {
    switch (protocol) {
      case IpProtocol.Hopopt:
      case IpProtocol.Routing:
      case IpProtocol.Fragment:
      case IpProtocol.DestOpts: {
        if (ip.version === 4 || ip.ah >= 0 || at + 8 > end) break;
        ip.extensions = true;
        if (protocol === IpProtocol.Fragment) {
          ip.fragment = true;
          // RFC 8200 §4.5: a non-first fragment carries no headers of the chain.
          if ((be16(frame, at + 2) & 0xfff8) !== 0) break;
        }
        // RFC 8200 §4.3–§4.6: Hdr Ext Len in 8-octet units, not counting the first 8.
        const length = protocol === IpProtocol.Fragment ? 8 : (frame[at + 1] + 1) * 8;
        if (at + length > end) break;
        protocol = frame[at];
        at += length;
        continue;
      }
      case IpProtocol.Ah: {
        if (ip.ah >= 0 || at + 2 > end) break;
        ip.ah = at;
        const length = (frame[at + 1] + 2) * 4; // RFC 4302 §2.2
        if (at + length > end) break;
        protocol = frame[at];
        at += length;
        continue;
      }
      case IpProtocol.Udp: {
        // Model: UDP-ESP is an ESP-only bundle (reference §1.9), never behind AH.
        if (ip.ah >= 0 || at + 8 > end) break;
        if (be16(frame, at + 2) !== udpencap.PORT) break; // D14: port 4500 only
        ip.udp = at;
        const kind = udpencap.classify(frame.subarray(at + 8, end));
        layer.udpKind = kind.ok ? kind.value : 'truncated';
        if (layer.udpKind !== 'esp') break;
        protocol = IpProtocol.Esp; // RFC 3948 §2.1: the ESP header follows the UDP header
        at += 8;
        continue;
      }
      case IpProtocol.Esp:
        ip.esp = at;
        break;
      default:
        break;
    }
    ip.upperProtocol = protocol;
    ip.upperOffset = at;
    return;
  }
}

/** Whether the SPI field of a header at `at` (SPI at `at + spiOffset`) lies inside the packet. */
export function spiReadable(layer: RxLayer, at: number, spiOffset: number): boolean {
  return at >= 0 && at + spiOffset + 4 <= layer.ip.end;
}
