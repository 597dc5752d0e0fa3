/**
 * @module
 * IP fragmentation after IPsec (contract D16: packets that need fragmentation are not
 * offloaded; the transport fragments the protected packet and the receiver reassembles it before
 * decrypting). IPv4 per RFC 791 §2.3/§3.2 (MF, Fragment Offset in 8-byte units, each fragment's
 * header checksum), IPv6 per RFC 8200 §4.5 (a Fragment header after the unfragmentable part).
 * Model: the frames carry no IPv4 options and no IPv6 extension headers before AH/ESP, so the
 * unfragmentable part is the fixed IP header.
 */
import * as checksum from '../wire/checksum.ts';
import { IpProtocol } from '../wire/ipv4.ts';

const IPV6_HEADER = 40;
const FRAGMENT_HEADER = 8;

/**
 * Splits the Ethernet frame `frame`, whose IP header starts at `ipOffset`, into frames whose IP
 * packets are at most `mtu` bytes; `identification` is the IPv4 ID (16 bits) or the IPv6
 * Fragment Identification (32 bits). A packet that fits is returned alone.
 */
export function fragment(
  frame: Uint8Array,
  ipOffset: number,
  mtu: number,
  identification: number
): Uint8Array[] {
  const l2 = frame.subarray(0, ipOffset);
  const packet = frame.subarray(ipOffset);
  if (packet.length <= mtu) return [frame];
  const v6 = packet[0] >>> 4 === 6;
  const headerLength = v6 ? IPV6_HEADER : (packet[0] & 0x0f) * 4;
  const room = mtu - headerLength - (v6 ? FRAGMENT_HEADER : 0);
  const chunk = Math.floor(room / 8) * 8; // RFC 791 / RFC 8200: 8-byte units but the last
  if (chunk < 8) {
    throw new RangeError(`fragment: expected an MTU with room for 8 payload bytes, got ${mtu}`);
  }
  const payload = packet.subarray(headerLength);
  const out: Uint8Array[] = [];
  for (let at = 0; at < payload.length; at += chunk) {
    const part = payload.subarray(at, Math.min(at + chunk, payload.length));
    const more = at + part.length < payload.length;
    const extra = v6 ? FRAGMENT_HEADER : 0;
    const f = new Uint8Array(l2.length + headerLength + extra + part.length);
    f.set(l2, 0);
    const ip = f.subarray(l2.length);
    ip.set(packet.subarray(0, headerLength), 0);
    ip.set(part, headerLength + extra);
    const dv = new DataView(ip.buffer, ip.byteOffset, ip.byteLength);
    if (v6) {
      const nextHeader = ip[6];
      ip[6] = IpProtocol.Fragment;
      dv.setUint16(4, extra + part.length);
      ip[IPV6_HEADER] = nextHeader;
      ip[IPV6_HEADER + 1] = 0;
      dv.setUint16(IPV6_HEADER + 2, ((at / 8) << 3) | (more ? 1 : 0));
      dv.setUint32(IPV6_HEADER + 4, identification >>> 0);
    } else {
      dv.setUint16(2, headerLength + part.length);
      dv.setUint16(4, identification & 0xffff);
      dv.setUint16(6, (more ? 0x2000 : 0) | (at / 8)); // DF clear, MF, offset
      dv.setUint16(10, 0);
      dv.setUint16(10, checksum.checksum(ip.subarray(0, headerLength)));
    }
    out.push(f);
  }
  return out;
}
