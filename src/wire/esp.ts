/**
 * @module
 * ESP, the Encapsulating Security Payload (RFC 4303): the 8-byte header (§2, Figure 1: SPI §2.1,
 * Sequence Number §2.2), the plan of an ESP packet's lengths (IV, padding, trailer, ICV; §2.3,
 * §2.4, §2.8), the trailer (Padding, Pad Length, Next Header; §2.4–§2.6) and the complete
 * to-be-sealed framing of contract D1.
 *
 * ```
 * offset 0       SPI (32 bits)                          RFC 4303 §2.1
 *        4       Sequence Number (low 32 bits)          §2.2
 *        8       IV (per SA, 0 for null encryption)     §2.3
 *        8+iv    payload ‖ Padding ‖ Pad Length ‖ Next Header   (encrypted; §2.3–§2.6)
 *        ...     ICV (per SA)                            §2.8
 * ```
 *
 * Without the SA, only the header can be parsed: the rest is opaque (IV, ciphertext, ICV). The
 * trailer is parsed after decryption by {@link parseTrailer}.
 */
import { needRoom, needUint } from './bytes.ts';
import { malformed, ok, type Parsed } from './parsed.ts';

/** Length of the ESP header (SPI + Sequence Number) in bytes. */
export const HEADER_LENGTH = 8;

// RFC 4303 §2, Figure 1: field offsets from the start of the ESP header.
const SPI = 0;
const SEQUENCE_NUMBER = 4;

/** The Next Header value that marks a dummy packet, to be discarded (RFC 4303 §2.6: IPv6 "No Next Header"). */
export const DUMMY_NEXT_HEADER = 59;

/** The largest Pad Length (one byte, RFC 4303 §2.4: "range 0–255"). */
export const MAX_PAD_LENGTH = 255;

/** Length of Pad Length + Next Header, the fixed part of the trailer. */
export const TRAILER_FIXED_LENGTH = 2;

/** Zero-copy accessors over an ESP packet. Call {@link check} first on untrusted bytes. */
export class View {
  /** The ESP packet: header, then IV, ciphertext and ICV. */
  readonly bytes: Uint8Array;
  readonly #dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Security Parameters Index (RFC 4303 §2.1). */
  get spi(): number {
    return this.#dv.getUint32(SPI);
  }
  set spi(value: number) {
    this.#dv.setUint32(SPI, value);
  }

  /** Sequence Number: the low 32 bits of the SA's counter (RFC 4303 §2.2). */
  get sequenceNumber(): number {
    return this.#dv.getUint32(SEQUENCE_NUMBER);
  }
  set sequenceNumber(value: number) {
    this.#dv.setUint32(SEQUENCE_NUMBER, value);
  }

  /** The bytes after the header (IV, ciphertext, ICV), as a subarray (no copy). */
  get payload(): Uint8Array {
    return this.bytes.subarray(HEADER_LENGTH);
  }
}

/** What an ESP header means: both of its fields. */
export interface Header {
  /** Security Parameters Index; 0 is reserved and never sent (RFC 4303 §2.1). */
  readonly spi: number;
  /** Sequence Number, the low 32 bits of the counter (RFC 4303 §2.2). */
  readonly sequenceNumber: number;
}

/** A parsed ESP packet: header, and the opaque bytes after it. */
export interface Packet {
  readonly header: Header;
  /** IV ‖ ciphertext ‖ ICV (their split needs the SA). */
  readonly payload: Uint8Array;
}

/**
 * Checks that `bytes` can be viewed as an ESP packet: at least 8 bytes (`truncated`) and an SPI
 * other than 0 (`zero-spi`; RFC 4303 §2.1: "MUST NOT be sent on the wire"). Nothing else is
 * judged: sequence number 0 is a valid low half of an ESN (RFC 4303 §2.2.1).
 */
export function check(bytes: Uint8Array): Parsed<View> {
  if (bytes.length < HEADER_LENGTH) return malformed('esp', 'truncated', bytes.length);
  const v = new View(bytes);
  if (v.spi === 0) return malformed('esp', 'zero-spi', SPI);
  return ok(v);
}

/** Parses an ESP header; never throws (reasons: `truncated`, `zero-spi`). */
export function parse(bytes: Uint8Array): Parsed<Packet> {
  const r = check(bytes);
  if (!r.ok) return r;
  const v = r.value;
  return ok({ header: { spi: v.spi, sequenceNumber: v.sequenceNumber }, payload: v.payload });
}

/** Length of the ESP header in bytes (always {@link HEADER_LENGTH}). */
export function headerLength(): number {
  return HEADER_LENGTH;
}

/** Writes the 8-byte ESP header at the start of `out` and returns 8. */
export function emit(header: Header, out: Uint8Array): number {
  needUint('esp.emit spi', header.spi, 0xffff_ffff);
  needUint('esp.emit sequenceNumber', header.sequenceNumber, 0xffff_ffff);
  needRoom('esp.emit', out, 0, HEADER_LENGTH);
  const v = new View(out);
  v.spi = header.spi;
  v.sequenceNumber = header.sequenceNumber;
  return HEADER_LENGTH;
}

/** The per-SA sizes that shape an ESP packet (kept on the SA; style practice 7). */
export interface Geometry {
  /** IV bytes after the header: 16 for AES-CBC, 8 for AES-GCM/GMAC and ChaCha20, 0 for null. */
  readonly ivLength: number;
  /** ICV bytes at the end: 12 for HMAC-SHA1-96, 16 for GCM, 0 without integrity. */
  readonly icvLength: number;
  /**
   * What payload + padding + 2 must be a multiple of: the cipher's block size, and at least 4
   * (RFC 4303 §2.4: the trailer ends on a 4-byte boundary).
   */
  readonly padAlign: number;
}

/** The lengths of one ESP packet, planned before any byte is written (style practice 7). */
export interface Layout {
  /** 8 + ivLength. */
  readonly headerLength: number;
  /** The minimal padding of RFC 4303 §2.4. */
  readonly padLength: number;
  /** padLength + 2 + icvLength. */
  readonly trailerLength: number;
  /** headerLength + payloadLength + trailerLength. */
  readonly totalLength: number;
}

function needGeometry(where: string, g: Geometry): void {
  needUint(`${where} ivLength`, g.ivLength, 0xff);
  needUint(`${where} icvLength`, g.icvLength, 0xff);
  if (!Number.isInteger(g.padAlign) || g.padAlign < 4 || g.padAlign > 256 || g.padAlign % 4) {
    throw new RangeError(
      `${where}: expected padAlign a multiple of 4 from 4 to 256, got ${g.padAlign}`
    );
  }
}

/**
 * The minimal Pad Length so that `payloadLength + padLength + 2` is a multiple of `padAlign`
 * (RFC 4303 §2.4); allocation-free, for the per-segment path.
 */
export function padLengthFor(payloadLength: number, padAlign: number): number {
  // RFC 4303 §2.4: padding makes the ciphertext a multiple of the block size and right-aligns
  // Pad Length and Next Header in a 4-byte word; 0 ≤ pad < padAlign ≤ 256, so it fits a byte.
  return (padAlign - ((payloadLength + TRAILER_FIXED_LENGTH) % padAlign)) % padAlign;
}

/** Plans the header, padding and trailer lengths of an ESP packet carrying `payloadLength` bytes. */
export function planEsp(payloadLength: number, geometry: Geometry): Layout {
  needUint('esp.planEsp payloadLength', payloadLength, 0xffff_ffff);
  needGeometry('esp.planEsp', geometry);
  const headerLength = HEADER_LENGTH + geometry.ivLength;
  const padLength = padLengthFor(payloadLength, geometry.padAlign);
  const trailerLength = padLength + TRAILER_FIXED_LENGTH + geometry.icvLength;
  return {
    headerLength,
    padLength,
    trailerLength,
    totalLength: headerLength + payloadLength + trailerLength,
  };
}

/**
 * Writes the trailer at `offset` in `out` — Padding 1, 2, 3, …, `padLength`, then Pad Length,
 * then Next Header (RFC 4303 §2.4 default padding, §2.5, §2.6) — and returns padLength + 2.
 */
export function writeTrailer(
  out: Uint8Array,
  padLength: number,
  nextHeader: number,
  offset = 0
): number {
  needUint('esp.writeTrailer padLength', padLength, MAX_PAD_LENGTH);
  needUint('esp.writeTrailer nextHeader', nextHeader, 0xff);
  needRoom('esp.writeTrailer', out, offset, padLength + TRAILER_FIXED_LENGTH);
  // RFC 4303 §2.4: "the first padding byte appended to the plaintext is numbered 1, with
  // subsequent padding bytes making up a monotonically increasing sequence".
  for (let i = 0; i < padLength; i++) out[offset + i] = i + 1;
  out[offset + padLength] = padLength;
  out[offset + padLength + 1] = nextHeader;
  return padLength + TRAILER_FIXED_LENGTH;
}

/** The trailer of a decrypted ESP payload. */
export interface Trailer {
  /** Bytes of payload before the padding. */
  readonly payloadLength: number;
  /** Pad Length field (RFC 4303 §2.5). */
  readonly padLength: number;
  /** Next Header field (RFC 4303 §2.6); {@link DUMMY_NEXT_HEADER} marks a dummy packet. */
  readonly nextHeader: number;
  /**
   * The padding bytes are 1, 2, 3, … (RFC 4303 §2.4: receivers SHOULD check it). False is a
   * defect to annotate, not a parse failure: an SA may define other padding.
   */
  readonly padValid: boolean;
}

/**
 * Parses the trailer at the end of a decrypted payload (payload ‖ padding ‖ Pad Length ‖ Next
 * Header, without IV or ICV). Reasons: `truncated` (under 2 bytes), `pad-length-exceeds-payload`
 * (Pad Length larger than the bytes before it).
 */
export function parseTrailer(plaintext: Uint8Array): Parsed<Trailer> {
  const n = plaintext.length;
  if (n < TRAILER_FIXED_LENGTH) return malformed('esp', 'truncated', n);
  const padLength = plaintext[n - 2];
  const nextHeader = plaintext[n - 1];
  const payloadLength = n - TRAILER_FIXED_LENGTH - padLength;
  if (payloadLength < 0) return malformed('esp', 'pad-length-exceeds-payload', n - 2);
  let padValid = true;
  for (let i = 0; i < padLength; i++) {
    if (plaintext[payloadLength + i] !== i + 1) {
      padValid = false;
      break;
    }
  }
  return ok({ payloadLength, padLength, nextHeader, padValid });
}

/** Whether a Next Header value marks a dummy packet to be dropped silently (RFC 4303 §2.6). */
export function isDummy(nextHeader: number): boolean {
  return nextHeader === DUMMY_NEXT_HEADER;
}

/** The per-packet inputs of {@link frameEsp}. */
export interface Frame {
  readonly spi: number;
  /** Low 32 bits of the sequence number. */
  readonly sequenceNumber: number;
  /** Next Header for the trailer: 6 TCP, 17 UDP, 4/41 tunnel, 59 dummy. */
  readonly nextHeader: number;
  /** The plaintext to protect (transport-layer segment or inner IP packet). */
  readonly payload: Uint8Array;
}

/**
 * Writes a complete to-be-sealed ESP packet at the start of `out` — header, zero IV field,
 * payload, trailer (padding 1, 2, 3, …, Pad Length, Next Header), zero ICV field — exactly the
 * framing of contract D1, and returns its length. The NIC then writes the IV, encrypts in place
 * and writes the ICV.
 */
export function frameEsp(out: Uint8Array, frame: Frame, geometry: Geometry): number {
  const layout = planEsp(frame.payload.length, geometry);
  needRoom('esp.frameEsp', out, 0, layout.totalLength);
  emit(frame, out);
  out.fill(0, HEADER_LENGTH, layout.headerLength); // D1: zero-filled IV field
  out.set(frame.payload, layout.headerLength);
  const trailerAt = layout.headerLength + frame.payload.length;
  const icvAt = trailerAt + writeTrailer(out, layout.padLength, frame.nextHeader, trailerAt);
  out.fill(0, icvAt, layout.totalLength); // D1: zero-filled ICV field
  return layout.totalLength;
}
