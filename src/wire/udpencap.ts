/**
 * @module
 * UDP encapsulation of ESP for NAT traversal (RFC 3948): what a UDP payload on port 4500 is
 * — an ESP packet (§2.1), an IKE message behind the non-ESP marker (§2.2) or a NAT-keepalive
 * (§2.3) — and the framing of a keepalive. The UDP checksum of UDP-ESP is sent as zero over IPv4
 * (§2.1: "SHOULD be transmitted as a zero value") and computed over IPv6, where a zero checksum
 * is invalid (RFC 8200 §8.1); contract D14.
 */
import { needRoom, needUint } from './bytes.ts';
import { malformed, ok, type Parsed } from './parsed.ts';
import * as udp from './udp.ts';

/** The UDP port of UDP-encapsulated ESP and IKE (RFC 3948 §2.1, §2.2; the NIC's only port, D14). */
export const PORT = 4500;

/** Length of the non-ESP marker: four zero bytes where an ESP packet has its SPI (RFC 3948 §2.2). */
export const NON_ESP_MARKER_LENGTH = 4;

/** The single payload byte of a NAT-keepalive (RFC 3948 §2.3). */
export const KEEPALIVE_BYTE = 0xff;

/** What a UDP payload on port 4500 carries. */
export type Kind = 'esp' | 'ike' | 'keepalive';

/**
 * Classifies a UDP payload on port 4500: `keepalive` (exactly one 0xFF byte, §2.3), `ike` (starts
 * with the four-zero-byte non-ESP marker, §2.2), `esp` (the first four bytes are a non-zero SPI,
 * §2.1: "The SPI field in the ESP header MUST NOT be a zero value"). Anything shorter than four
 * bytes that is not a keepalive is `truncated` (neither an SPI nor a marker fits). Never throws.
 */
export function classify(udpPayload: Uint8Array): Parsed<Kind> {
  const n = udpPayload.length;
  if (n === 1 && udpPayload[0] === KEEPALIVE_BYTE) return ok('keepalive');
  if (n < NON_ESP_MARKER_LENGTH) return malformed('udpencap', 'truncated', n);
  const zero =
    udpPayload[0] === 0 && udpPayload[1] === 0 && udpPayload[2] === 0 && udpPayload[3] === 0;
  // Model: an "esp" payload shorter than the 8-byte ESP header is left to esp.parse to refuse.
  return ok(zero ? 'ike' : 'esp');
}

/** Whether a UDP-ESP datagram carries a computed checksum: not over IPv4 (RFC 3948 §2.1), yes over IPv6. */
export function sendsChecksum(ipVersion: 4 | 6): boolean {
  // RFC 3948 §2.1 and §2.3: "the IPv4 UDP Checksum SHOULD be transmitted as a zero value";
  // RFC 8200 §8.1: over IPv6 the UDP checksum is mandatory (contract D14).
  return ipVersion === 6;
}

/** Length of a NAT-keepalive datagram: UDP header plus one byte. */
export const KEEPALIVE_LENGTH: number = udp.HEADER_LENGTH + 1;

/**
 * Writes a NAT-keepalive datagram at the start of `out` — UDP header (ports as for UDP-ESP,
 * §2.3; Length 9; Checksum 0) and the byte 0xFF — and returns its length. Over IPv6 the caller
 * then fills the checksum with `udp.fillChecksum` ({@link sendsChecksum}).
 */
export function frameKeepalive(
  out: Uint8Array,
  srcPort: number = PORT,
  dstPort: number = PORT
): number {
  needUint('udpencap.frameKeepalive srcPort', srcPort, 0xffff);
  needUint('udpencap.frameKeepalive dstPort', dstPort, 0xffff);
  needRoom('udpencap.frameKeepalive', out, 0, KEEPALIVE_LENGTH);
  udp.emit({ srcPort, dstPort }, out, 1);
  out[udp.HEADER_LENGTH] = KEEPALIVE_BYTE;
  return KEEPALIVE_LENGTH;
}
