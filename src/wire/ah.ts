/**
 * @module
 * AH, the IP Authentication Header (RFC 4302 §2): Next Header (§2.1), Payload Length in 32-bit
 * words minus 2 (§2.2), Reserved (§2.3), SPI (§2.4), Sequence Number (§2.5) and the variable
 * Integrity Check Value with its alignment padding (§2.6, §3.3.3.2.1); for AES-GMAC an 8-byte IV
 * precedes the ICV inside that field (RFC 4543 §4, with verified erratum 3643). Also the byte
 * string the ICV is computed over (§3.3.3).
 *
 * ```
 * offset 0   Next Header   1  Payload Len   2  Reserved (16 bits)
 *        4   SPI
 *        8   Sequence Number (low 32 bits)
 *       12   [IV, 8 bytes, AES-GMAC only] ICV, then padding to 4 bytes (IPv4) / 8 bytes (IPv6)
 * ```
 *
 * The split of the authentication data into IV, ICV and padding is not on the wire: it comes
 * from the SA. {@link parse} therefore takes the IP version (for the §2.6 alignment check) and,
 * when known, the SA's IV and ICV lengths.
 */
import { needRoom, needUint } from './bytes.ts';
import { IpProtocol } from './ipv4.ts';
import { zeroMutableFields } from './mutable.ts';
import { malformed, ok, type Parsed } from './parsed.ts';

/** Length of the fixed part of the AH header (before the IV/ICV field), in bytes. */
export const FIXED_LENGTH = 12;

/** Longest AH header: Payload Len 255 → (255 + 2) × 4 bytes (RFC 4302 §2.2). */
export const MAX_LENGTH = 1028;

/** Length of the AES-GMAC IV carried before the ICV (RFC 4543 §4: "the IV is eight octets"). */
export const GMAC_IV_LENGTH = 8;

// RFC 4302 §2, Figure 1: field offsets.
const NEXT_HEADER = 0;
const PAYLOAD_LENGTH = 1;
const RESERVED = 2;
const SPI = 4;
const SEQUENCE_NUMBER = 8;
const AUTHENTICATION_DATA = 12;

/** The IP versions AH aligns for. */
export type IpVersion = 4 | 6;

function alignment(ipVersion: IpVersion): number {
  // RFC 4302 §2.6: the AH header is a multiple of 32 bits over IPv4 and of 64 bits over IPv6.
  return ipVersion === 4 ? 4 : 8;
}

/**
 * The AH header length in bytes for an ICV of `icvLength` bytes and an IV of `ivLength` bytes
 * (8 for AES-GMAC, else 0), padded for `ipVersion` (RFC 4302 §2.6, §3.3.3.2.1: only as much
 * padding as the alignment needs). E.g. HMAC-SHA1-96 over IPv4: 12 + 12 = 24; HMAC-SHA-256-128
 * over IPv6: 12 + 16 + 4 = 32; AES-GMAC over IPv6: 12 + 8 + 16 + 4 = 40.
 */
export function ahLength(icvLength: number, ivLength: number, ipVersion: IpVersion): number {
  needUint('ah.ahLength icvLength', icvLength, MAX_LENGTH);
  needUint('ah.ahLength ivLength', ivLength, MAX_LENGTH);
  const version: number = ipVersion; // checked at run time too: callers may be untyped
  if (version !== 4 && version !== 6) {
    throw new RangeError(`ah.ahLength: expected ipVersion 4 or 6, got ${version}`);
  }
  const align = alignment(ipVersion);
  const length = Math.ceil((FIXED_LENGTH + ivLength + icvLength) / align) * align;
  if (length > MAX_LENGTH) {
    throw new RangeError(`ah.ahLength: expected at most ${MAX_LENGTH} bytes, got ${length}`);
  }
  return length;
}

/** The Payload Len field for an AH header of `ahLength` bytes: 32-bit words minus 2 (RFC 4302 §2.2). */
export function payloadLengthField(ahLength: number): number {
  if (
    !Number.isInteger(ahLength) ||
    ahLength < FIXED_LENGTH ||
    ahLength > MAX_LENGTH ||
    ahLength % 4
  ) {
    throw new RangeError(
      `ah.payloadLengthField: expected a multiple of 4 from ${FIXED_LENGTH} to ${MAX_LENGTH}, got ${ahLength}`
    );
  }
  return ahLength / 4 - 2;
}

/** Zero-copy accessors over an AH header and what follows. Call {@link parse} first on untrusted bytes. */
export class View {
  /** The bytes from the AH header on. */
  readonly bytes: Uint8Array;
  readonly #dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Next Header: the protocol after AH (RFC 4302 §2.1). */
  get nextHeader(): number {
    return this.#dv.getUint8(NEXT_HEADER);
  }
  set nextHeader(value: number) {
    this.#dv.setUint8(NEXT_HEADER, value);
  }

  /** Payload Len field: the AH length in 32-bit words minus 2 (RFC 4302 §2.2). */
  get payloadLength(): number {
    return this.#dv.getUint8(PAYLOAD_LENGTH);
  }
  set payloadLength(value: number) {
    this.#dv.setUint8(PAYLOAD_LENGTH, value);
  }

  /** The AH header length in bytes, from Payload Len. */
  get headerLength(): number {
    return (this.payloadLength + 2) * 4;
  }

  /** Reserved: sent as 0, ignored on receipt but covered by the ICV (RFC 4302 §2.3). */
  get reserved(): number {
    return this.#dv.getUint16(RESERVED);
  }

  /** Security Parameters Index (RFC 4302 §2.4). */
  get spi(): number {
    return this.#dv.getUint32(SPI);
  }
  set spi(value: number) {
    this.#dv.setUint32(SPI, value);
  }

  /** Sequence Number: the low 32 bits of the SA's counter (RFC 4302 §2.5). */
  get sequenceNumber(): number {
    return this.#dv.getUint32(SEQUENCE_NUMBER);
  }
  set sequenceNumber(value: number) {
    this.#dv.setUint32(SEQUENCE_NUMBER, value);
  }

  /** The whole IV/ICV/padding field (bytes 12 to the header length); a subarray. */
  get authenticationData(): Uint8Array {
    return this.bytes.subarray(AUTHENTICATION_DATA, this.headerLength);
  }

  /** What follows the AH header; a subarray. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/** What an AH header means, with the SA-given sizes that shape it; Payload Len is derived. */
export interface Header {
  /** Next Header (RFC 4302 §2.1). */
  readonly nextHeader: number;
  /** Security Parameters Index (RFC 4302 §2.4). */
  readonly spi: number;
  /** Sequence Number, low 32 bits (RFC 4302 §2.5). */
  readonly sequenceNumber: number;
  /** IV bytes before the ICV: {@link GMAC_IV_LENGTH} for AES-GMAC, else 0. */
  readonly ivLength: number;
  /** ICV bytes (e.g. 12 for HMAC-SHA1-96, 16 for HMAC-SHA-256-128 and AES-GMAC). */
  readonly icvLength: number;
  /** The IP version of the packet, which sets the alignment (RFC 4302 §2.6). */
  readonly ipVersion: IpVersion;
}

/** What {@link parse} needs to know that the wire does not say. */
export interface ParseOptions {
  /** The IP version of the enclosing header: AH is checked for its §2.6 alignment. */
  readonly ipVersion: IpVersion;
  /** The SA's IV length (8 for AES-GMAC); 0 when omitted. */
  readonly ivLength?: number;
  /**
   * The SA's ICV length. When given, Payload Len must be exactly what {@link ahLength} plans
   * (`icv-length-mismatch` otherwise); when omitted, everything after the IV counts as ICV,
   * padding included.
   */
  readonly icvLength?: number;
}

/** A parsed AH header. */
export interface Packet {
  readonly header: Header;
  /** What follows the AH header (a subarray). */
  readonly payload: Uint8Array;
  /** AH header length in bytes ((Payload Len + 2) × 4). */
  readonly headerLength: number;
  /** The IV field (AES-GMAC), empty otherwise; a subarray. */
  readonly iv: Uint8Array;
  /** The ICV; a subarray. */
  readonly icv: Uint8Array;
  /** The alignment padding after the ICV (covered by the ICV as sent; RFC 4302 §3.3.3.2.1). */
  readonly padding: Uint8Array;
}

/**
 * Parses an AH header; never throws. Reasons: `truncated` (fewer bytes than the fixed part or
 * than Payload Len says), `bad-payload-length` (under 12 bytes, not aligned for
 * `options.ipVersion` per RFC 4302 §2.6, or too short for the IV), `icv-length-mismatch` (the
 * SA's ICV does not fit Payload Len). Reserved is not judged (RFC 4302 §2.3: ignored on receipt).
 */
export function parse(bytes: Uint8Array, options: ParseOptions): Parsed<Packet> {
  const ivLength = options.ivLength ?? 0;
  needUint('ah.parse ivLength', ivLength, MAX_LENGTH);
  const align = alignment(options.ipVersion);
  if (bytes.length < FIXED_LENGTH) return malformed('ah', 'truncated', bytes.length);
  const v = new View(bytes);
  const length = v.headerLength;
  // RFC 4302 §2.2: Payload Len 0 (8 bytes) cannot hold the fixed fields; §2.6: alignment.
  if (length < FIXED_LENGTH || length % align !== 0) {
    return malformed('ah', 'bad-payload-length', PAYLOAD_LENGTH);
  }
  if (length > bytes.length) return malformed('ah', 'truncated', bytes.length);
  let icvLength: number;
  if (options.icvLength === undefined) {
    if (FIXED_LENGTH + ivLength > length) {
      return malformed('ah', 'bad-payload-length', PAYLOAD_LENGTH);
    }
    icvLength = length - FIXED_LENGTH - ivLength;
  } else {
    icvLength = options.icvLength;
    if (ahLength(icvLength, ivLength, options.ipVersion) !== length) {
      return malformed('ah', 'icv-length-mismatch', PAYLOAD_LENGTH);
    }
  }
  const icvAt = AUTHENTICATION_DATA + ivLength;
  return ok({
    header: {
      nextHeader: v.nextHeader,
      spi: v.spi,
      sequenceNumber: v.sequenceNumber,
      ivLength,
      icvLength,
      ipVersion: options.ipVersion,
    },
    payload: v.payload,
    headerLength: length,
    iv: bytes.subarray(AUTHENTICATION_DATA, icvAt),
    icv: bytes.subarray(icvAt, icvAt + icvLength),
    padding: bytes.subarray(icvAt + icvLength, length),
  });
}

/** The AH header length in bytes for `header` (see {@link ahLength}). */
export function headerLength(header: Header): number {
  return ahLength(header.icvLength, header.ivLength, header.ipVersion);
}

/**
 * Writes the AH header at the start of `out` — Payload Len derived, Reserved 0, and the IV, ICV
 * and padding zero-filled for the NIC or crypto to fill (contract D1) — and returns its length.
 */
export function emit(header: Header, out: Uint8Array): number {
  needUint('ah.emit nextHeader', header.nextHeader, 0xff);
  needUint('ah.emit spi', header.spi, 0xffff_ffff);
  needUint('ah.emit sequenceNumber', header.sequenceNumber, 0xffff_ffff);
  const length = headerLength(header);
  needRoom('ah.emit', out, 0, length);
  const v = new View(out);
  v.nextHeader = header.nextHeader;
  v.payloadLength = payloadLengthField(length);
  out[RESERVED] = 0; // RFC 4302 §2.3: "MUST be set to zero"
  out[RESERVED + 1] = 0;
  v.spi = header.spi;
  v.sequenceNumber = header.sequenceNumber;
  // RFC 4302 §3.3.3.2.1: padding content is the sender's choice; we send zeros.
  out.fill(0, AUTHENTICATION_DATA, length);
  return length;
}

/**
 * The SA's sizes that {@link icvInput} needs. The ESN high half (RFC 4302 §3.3.3.2.2) is not
 * appended here: the AH transform appends it itself (crypto/ah.ts, decision P10).
 */
export interface IcvOptions {
  /** ICV bytes. */
  readonly icvLength: number;
  /** IV bytes before the ICV ({@link GMAC_IV_LENGTH} for AES-GMAC); 0 when omitted. */
  readonly ivLength?: number;
}

/** The byte string an AH ICV is computed over, and where the ICV lives. */
export interface IcvInput {
  /** The IP packet in AH's ICV form (a subarray of the scratch buffer). */
  readonly input: Uint8Array;
  /** Offset of the AH header from the start of the IP packet. */
  readonly ahOffset: number;
  /** Offset of the ICV from the start of the IP packet (same in the original packet). */
  readonly icvOffset: number;
  /** ICV bytes. */
  readonly icvLength: number;
}

// RFC 791 §3.1 (IHL 5) and RFC 8200 §3: IP header lengths without options or extensions.
const IPV4_HEADER_LENGTH = 20;
const IPV6_HEADER_LENGTH = 40;

/** The ok result {@link icvInput} reuses for one scratch buffer. */
interface Slot {
  readonly ok: true;
  readonly value: { input: Uint8Array; ahOffset: number; icvOffset: number; icvLength: number };
}

/** One reusable result per scratch buffer: no per-packet allocation on the plain paths. */
const slots = new WeakMap<Uint8Array, Slot>();

/**
 * Copies the whole IP packet `ipPacket` into `scratch` and turns the copy into the input of the
 * AH ICV (RFC 4302 §3.3.3): mutable IP fields zeroed or predicted (`mutable.zeroMutableFields`,
 * §3.3.3.1), the ICV field zeroed, explicit padding kept as sent (§3.3.3.2.1: "included in the
 * ICV calculation"), an AES-GMAC IV kept (RFC 4543 §4: the Authentication Data field holds "an
 * input to the authentication algorithm (the IV)").
 * Failures come from the IP layers or from {@link parse} (offsets from the IP header). `scratch`
 * must not overlap `ipPacket`; the caller compares or writes the ICV at `icvOffset` in the original.
 *
 * The result views `scratch`, so the next call with the same `scratch` overwrites its bytes; that
 * call may also reuse the result object itself. IPv4 without options and IPv6 whose Next Header
 * is AH — the send path's packets — take a path that allocates nothing (the `input` view is made
 * again only when the packet length changes); any other packet takes the general one.
 */
export function icvInput(
  ipPacket: Uint8Array,
  scratch: Uint8Array,
  options: IcvOptions
): Parsed<IcvInput> {
  const ivLength = options.ivLength ?? 0;
  const icvLength = options.icvLength;
  needRoom('ah.icvInput', scratch, 0, ipPacket.length);
  if (
    scratch.buffer === ipPacket.buffer &&
    scratch.byteOffset < ipPacket.byteOffset + ipPacket.length &&
    ipPacket.byteOffset < scratch.byteOffset + ipPacket.length
  ) {
    throw new RangeError(
      'ah.icvInput: expected a scratch buffer apart from the packet, got an overlap'
    );
  }
  const ahOffset = plainAhOffset(ipPacket, icvLength, ivLength);
  if (ahOffset < 0) return generalIcvInput(ipPacket, scratch, icvLength, ivLength);
  const length = ipPacket.length;
  scratch.set(ipPacket);
  if (ahOffset === IPV4_HEADER_LENGTH) {
    // RFC 4302 §3.3.3.1.1.1: DSCP and ECN, Flags, Fragment Offset, TTL, Header Checksum are zeroed.
    scratch[1] = 0;
    scratch[6] = 0;
    scratch[7] = 0;
    scratch[8] = 0;
    scratch[10] = 0;
    scratch[11] = 0;
  } else {
    // RFC 4302 §3.3.3.1.2.1: DSCP, ECN (the traffic class), Flow Label and Hop Limit are zeroed.
    scratch[0] = 0x60;
    scratch[1] = 0;
    scratch[2] = 0;
    scratch[3] = 0;
    scratch[7] = 0;
  }
  const icvOffset = ahOffset + AUTHENTICATION_DATA + ivLength;
  // RFC 4302 §3.3.3: the ICV "is set to zero for this computation".
  scratch.fill(0, icvOffset, icvOffset + icvLength);
  let slot = slots.get(scratch);
  if (slot === undefined) {
    slot = {
      ok: true,
      value: { input: scratch.subarray(0, length), ahOffset, icvOffset, icvLength },
    };
    slots.set(scratch, slot);
    return slot;
  }
  const value = slot.value;
  if (value.input.length !== length) value.input = scratch.subarray(0, length);
  value.ahOffset = ahOffset;
  value.icvOffset = icvOffset;
  value.icvLength = icvLength;
  return slot;
}

/**
 * The AH offset (20 or 40) when `p` is an IPv4 packet without options or an IPv6 packet whose
 * Next Header is AH, and it passes every check the general path makes (ipv4/ipv6 `parse`,
 * `mutable.zeroMutableFields`, {@link parse} with the SA's sizes); else -1, and the general path
 * gives the packet its verdict. Reads `p` only.
 */
function plainAhOffset(p: Uint8Array, icvLength: number, ivLength: number): number {
  // Sizes the general path would refuse or throw for go there.
  if (!Number.isInteger(icvLength) || !Number.isInteger(ivLength)) return -1;
  if (icvLength < 0 || ivLength < 0 || icvLength + ivLength > MAX_LENGTH - FIXED_LENGTH - 8) {
    return -1;
  }
  const length = p.length;
  let ahOffset: number;
  let align: number;
  if (length >= IPV4_HEADER_LENGTH && p[0] === 0x45) {
    // RFC 791 §3.1: version 4, IHL 5 (no options); Total Length from the header to what we hold.
    const totalLength = (p[2] << 8) | p[3];
    if (totalLength < IPV4_HEADER_LENGTH || totalLength > length) return -1;
    if (p[9] !== IpProtocol.Ah) return -1;
    // RFC 4302 §3.4.1: More Fragments or a Fragment Offset: the general path refuses it.
    if ((p[6] & 0x3f) !== 0 || p[7] !== 0) return -1;
    ahOffset = IPV4_HEADER_LENGTH;
    align = 4;
  } else if (length >= IPV6_HEADER_LENGTH && p[0] >>> 4 === 6) {
    // RFC 8200 §3: Payload Length within what we hold; Next Header AH, no extension headers.
    if (IPV6_HEADER_LENGTH + ((p[4] << 8) | p[5]) > length) return -1;
    if (p[6] !== IpProtocol.Ah) return -1;
    ahOffset = IPV6_HEADER_LENGTH;
    align = 8;
  } else {
    return -1;
  }
  // {@link parse}: the fixed part present, Payload Len exactly the SA's planned length.
  if (length - ahOffset < FIXED_LENGTH) return -1;
  const headerLength = (p[ahOffset + PAYLOAD_LENGTH] + 2) * 4;
  const planned = Math.ceil((FIXED_LENGTH + ivLength + icvLength) / align) * align;
  if (headerLength !== planned || headerLength > length - ahOffset) return -1;
  return ahOffset;
}

/** {@link icvInput} for any packet, through `mutable.zeroMutableFields` and {@link parse}. */
function generalIcvInput(
  ipPacket: Uint8Array,
  scratch: Uint8Array,
  icvLength: number,
  ivLength: number
): Parsed<IcvInput> {
  const packet = scratch.subarray(0, ipPacket.length);
  packet.set(ipPacket);
  const located = zeroMutableFields(packet);
  if (!located.ok) return located;
  const ahOffset = located.value.ahOffset;
  const ipVersion: IpVersion = packet[0] >>> 4 === 4 ? 4 : 6;
  const ah = parse(packet.subarray(ahOffset), { ipVersion, ivLength, icvLength });
  if (!ah.ok) return malformed(ah.error.layer, ah.error.reason, ah.error.offset + ahOffset);
  const icvOffset = ahOffset + AUTHENTICATION_DATA + ivLength;
  // RFC 4302 §3.3.3: the ICV "is set to zero for this computation".
  packet.fill(0, icvOffset, icvOffset + icvLength);
  return ok({ input: packet, ahOffset, icvOffset, icvLength });
}
