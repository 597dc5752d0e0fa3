/**
 * @module
 * UDP (RFC 768): the 8-byte header, its Length (derived on emit) and its checksum over the
 * pseudo-header. RFC 768: a computed checksum of 0 is transmitted as 0xffff, and a transmitted 0
 * means "no checksum" — allowed over IPv4, not over IPv6 (RFC 8200 §8.1).
 *
 * ```
 * offset 0  Source Port        2  Destination Port
 *        4  Length (header + data, bytes)   6  Checksum
 * ```
 */
import { needRoom, needUint } from './bytes.ts';
import * as checksum from './checksum.ts';
import { malformed, ok, type Parsed } from './parsed.ts';

/** Length of the UDP header in bytes. */
export const HEADER_LENGTH = 8;

// RFC 768, "Format": field offsets.
const SRC_PORT = 0;
const DST_PORT = 2;
const LENGTH = 4;
const CHECKSUM = 6;

/** Zero-copy accessors over a UDP datagram. Call {@link check} first on untrusted bytes. */
export class View {
  /** The datagram: header, then data. */
  readonly bytes: Uint8Array;
  readonly #dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Source Port. */
  get srcPort(): number {
    return this.#dv.getUint16(SRC_PORT);
  }
  set srcPort(value: number) {
    this.#dv.setUint16(SRC_PORT, value);
  }

  /** Destination Port. */
  get dstPort(): number {
    return this.#dv.getUint16(DST_PORT);
  }
  set dstPort(value: number) {
    this.#dv.setUint16(DST_PORT, value);
  }

  /** Length: header plus data, in bytes (RFC 768). */
  get length(): number {
    return this.#dv.getUint16(LENGTH);
  }
  set length(value: number) {
    this.#dv.setUint16(LENGTH, value);
  }

  /** Checksum field; 0 means none was computed (IPv4 only). */
  get checksum(): number {
    return this.#dv.getUint16(CHECKSUM);
  }
  set checksum(value: number) {
    this.#dv.setUint16(CHECKSUM, value);
  }

  /** The data: from byte 8 to the Length field (valid after {@link check}); a subarray. */
  get payload(): Uint8Array {
    return this.bytes.subarray(HEADER_LENGTH, this.length);
  }
}

/** What a UDP header means; Length and Checksum are derived. */
export interface Header {
  readonly srcPort: number;
  readonly dstPort: number;
}

/** A parsed UDP datagram. */
export interface Datagram {
  readonly header: Header;
  /** The data, as far as Length says (bytes beyond it are the IP layer's). */
  readonly payload: Uint8Array;
}

/**
 * Checks that `bytes` can be viewed as a UDP datagram: at least 8 bytes (`truncated`), Length at
 * least 8 (`bad-length`; 0 would be an RFC 2675 jumbogram, not modelled) and no more than the
 * bytes given (`truncated`). Bytes after Length are allowed (link padding) and ignored. The
 * checksum is not judged: it needs the IP addresses ({@link checksumValid}).
 */
export function check(bytes: Uint8Array): Parsed<View> {
  if (bytes.length < HEADER_LENGTH) return malformed('udp', 'truncated', bytes.length);
  const v = new View(bytes);
  const length = v.length;
  if (length < HEADER_LENGTH) return malformed('udp', 'bad-length', LENGTH);
  if (length > bytes.length) return malformed('udp', 'truncated', bytes.length);
  return ok(v);
}

/** Parses a UDP datagram; never throws (reasons: `truncated`, `bad-length`). */
export function parse(bytes: Uint8Array): Parsed<Datagram> {
  const r = check(bytes);
  if (!r.ok) return r;
  const v = r.value;
  return ok({ header: { srcPort: v.srcPort, dstPort: v.dstPort }, payload: v.payload });
}

/** Length of the UDP header in bytes (always {@link HEADER_LENGTH}). */
export function headerLength(): number {
  return HEADER_LENGTH;
}

/**
 * Writes the UDP header at the start of `out` with Length = 8 + `payloadLength` and Checksum 0
 * (fill it with {@link fillChecksum} once the data is in place), and returns 8.
 */
export function emit(header: Header, out: Uint8Array, payloadLength: number): number {
  needUint('udp.emit srcPort', header.srcPort, 0xffff);
  needUint('udp.emit dstPort', header.dstPort, 0xffff);
  needUint('udp.emit payloadLength', payloadLength, 0xffff - HEADER_LENGTH);
  needRoom('udp.emit', out, 0, HEADER_LENGTH);
  const v = new View(out);
  v.srcPort = header.srcPort;
  v.dstPort = header.dstPort;
  v.length = HEADER_LENGTH + payloadLength;
  v.checksum = 0;
  return HEADER_LENGTH;
}

/**
 * Writes the checksum of `datagram` (its whole length) over the unfolded pseudo-header sum
 * `pseudoSum` (from `checksum.pseudoHeaderV4/V6`, protocol 17), with the field zeroed first; a
 * computed 0 is written as 0xffff (RFC 768). Allocation-free.
 */
export function fillChecksum(datagram: Uint8Array, pseudoSum: number): void {
  needRoom('udp.fillChecksum', datagram, 0, HEADER_LENGTH);
  datagram[CHECKSUM] = 0;
  datagram[CHECKSUM + 1] = 0;
  // RFC 768: "If the computed checksum is zero, it is transmitted as all ones".
  const c = checksum.finish(checksum.sum16(datagram, pseudoSum)) || 0xffff;
  datagram[CHECKSUM] = c >>> 8;
  datagram[CHECKSUM + 1] = c & 0xff;
}

/**
 * Whether the checksum of `datagram` verifies over `pseudoSum`. A zero field means "no checksum":
 * accepted over IPv4 (RFC 768), refused over IPv6 (RFC 8200 §8.1: "IPv6 receivers must discard
 * UDP packets containing a zero checksum").
 */
export function checksumValid(datagram: Uint8Array, pseudoSum: number, ipVersion: 4 | 6): boolean {
  if (datagram.length < HEADER_LENGTH) return false;
  if (datagram[CHECKSUM] === 0 && datagram[CHECKSUM + 1] === 0) return ipVersion === 4;
  // RFC 1071 §1(3): the sum over data that includes a correct checksum is all ones.
  return checksum.fold(checksum.sum16(datagram, pseudoSum)) === 0xffff;
}
