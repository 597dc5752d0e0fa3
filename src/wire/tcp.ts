/**
 * @module
 * TCP segments (RFC 9293 §3.1, "Header Format") with options (RFC 9293 §3.1 "Options" and
 * §3.2: End of Option List 0, No-Operation 1, Maximum Segment Size 2; RFC 7323 §2.2 Window Scale 3
 * and §3.2 Timestamps 8; RFC 2018 §2 SACK-Permitted 4 and §3 SACK 5; other kinds are kept raw),
 * and the checksum over the pseudo-header (RFC 9293 §3.1 "Checksum").
 *
 * ```
 * offset 0  Source Port            2  Destination Port
 *        4  Sequence Number
 *        8  Acknowledgment Number
 *       12  Data Offset (4 bits) | Reserved (4 bits)   13  CWR ECE URG ACK PSH RST SYN FIN
 *       14  Window                16  Checksum           18  Urgent Pointer
 *       20  Options (Data Offset × 4 − 20 bytes), then data
 * ```
 *
 * `parse` judges the framing (length, Data Offset, option lengths) but not the checksum, which
 * needs the IP addresses ({@link checksumValid}). Options after End of Option List are padding
 * and are not returned; `emit` pads options with zeros to a 4-byte boundary (RFC 9293 §3.1:
 * "The padding is composed of zeros").
 */
import { needRoom, needUint } from './bytes.ts';
import * as checksum from './checksum.ts';
import { malformed, ok, type Parsed } from './parsed.ts';

/** Length of a TCP header without options, in bytes. */
export const HEADER_LENGTH = 20;

/** Longest TCP header: Data Offset 15 words (RFC 9293 §3.1). */
export const MAX_HEADER_LENGTH = 60;

// RFC 9293 §3.1, Figure 1: field offsets.
const SRC_PORT = 0;
const DST_PORT = 2;
const SEQUENCE_NUMBER = 4;
const ACKNOWLEDGMENT_NUMBER = 8;
const DATA_OFFSET = 12; // high nibble; low nibble Reserved
const FLAGS = 13;
const WINDOW = 14;
const CHECKSUM = 16;
const URGENT_POINTER = 18;
const OPTIONS = 20;

/** The control bits of byte 13 (RFC 9293 §3.1; CWR and ECE from RFC 3168 §23.2). */
export const Flags = {
  Fin: 0x01,
  Syn: 0x02,
  Rst: 0x04,
  Psh: 0x08,
  Ack: 0x10,
  Urg: 0x20,
  Ece: 0x40,
  Cwr: 0x80,
} as const;

/** Option Kind numbers (IANA "TCP Option Kind Numbers"). */
export const OptionKind = {
  EndOfOptionList: 0,
  NoOperation: 1,
  MaximumSegmentSize: 2,
  WindowScale: 3,
  SackPermitted: 4,
  Sack: 5,
  Timestamps: 8,
} as const;

/** One SACK block: the first sequence number in it and the one after it (RFC 2018 §3). */
export interface SackBlock {
  readonly left: number;
  readonly right: number;
}

/** A TCP option, by meaning; kinds this module does not know stay raw (`unknown`). */
export type Option =
  | { readonly type: 'nop' }
  | { readonly type: 'mss'; readonly mss: number }
  | { readonly type: 'window-scale'; readonly shift: number }
  | { readonly type: 'sack-permitted' }
  | { readonly type: 'sack'; readonly blocks: readonly SackBlock[] }
  | { readonly type: 'timestamps'; readonly tsVal: number; readonly tsEcr: number }
  | { readonly type: 'unknown'; readonly kind: number; readonly data: Uint8Array };

const KNOWN_KINDS: ReadonlySet<number> = new Set(Object.values(OptionKind));

/** Zero-copy accessors over a TCP segment. Call {@link check} first on untrusted bytes. */
export class View {
  /** The segment: header, options, data. */
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

  /** Sequence Number. */
  get sequenceNumber(): number {
    return this.#dv.getUint32(SEQUENCE_NUMBER);
  }
  set sequenceNumber(value: number) {
    this.#dv.setUint32(SEQUENCE_NUMBER, value);
  }

  /** Acknowledgment Number (meaningful when ACK is set). */
  get acknowledgmentNumber(): number {
    return this.#dv.getUint32(ACKNOWLEDGMENT_NUMBER);
  }
  set acknowledgmentNumber(value: number) {
    this.#dv.setUint32(ACKNOWLEDGMENT_NUMBER, value);
  }

  /** Data Offset: the header length in 32-bit words. Setting it moves `options` and `payload`. */
  get dataOffset(): number {
    return this.#dv.getUint8(DATA_OFFSET) >>> 4;
  }
  set dataOffset(value: number) {
    this.#dv.setUint8(DATA_OFFSET, ((value & 15) << 4) | (this.#dv.getUint8(DATA_OFFSET) & 15));
  }

  /** Header length in bytes (Data Offset × 4). */
  get headerLength(): number {
    return this.dataOffset * 4;
  }

  /** The four Reserved bits after Data Offset (sent as zero; RFC 9293 §3.1). */
  get reserved(): number {
    return this.#dv.getUint8(DATA_OFFSET) & 15;
  }

  /** The control bits (byte 13), a combination of {@link Flags}. */
  get flags(): number {
    return this.#dv.getUint8(FLAGS);
  }
  set flags(value: number) {
    this.#dv.setUint8(FLAGS, value);
  }

  /** FIN: no more data from sender. */
  get fin(): boolean {
    return (this.flags & Flags.Fin) !== 0;
  }
  /** SYN: synchronize sequence numbers. */
  get syn(): boolean {
    return (this.flags & Flags.Syn) !== 0;
  }
  /** RST: reset the connection. */
  get rst(): boolean {
    return (this.flags & Flags.Rst) !== 0;
  }
  /** PSH: push function. */
  get psh(): boolean {
    return (this.flags & Flags.Psh) !== 0;
  }
  /** ACK: the Acknowledgment Number is significant. */
  get ack(): boolean {
    return (this.flags & Flags.Ack) !== 0;
  }
  /** URG: the Urgent Pointer is significant. */
  get urg(): boolean {
    return (this.flags & Flags.Urg) !== 0;
  }
  /** ECE: ECN-Echo (RFC 3168). */
  get ece(): boolean {
    return (this.flags & Flags.Ece) !== 0;
  }
  /** CWR: Congestion Window Reduced (RFC 3168). */
  get cwr(): boolean {
    return (this.flags & Flags.Cwr) !== 0;
  }

  /** Window. */
  get window(): number {
    return this.#dv.getUint16(WINDOW);
  }
  set window(value: number) {
    this.#dv.setUint16(WINDOW, value);
  }

  /** Checksum field. */
  get checksum(): number {
    return this.#dv.getUint16(CHECKSUM);
  }
  set checksum(value: number) {
    this.#dv.setUint16(CHECKSUM, value);
  }

  /** Urgent Pointer. */
  get urgentPointer(): number {
    return this.#dv.getUint16(URGENT_POINTER);
  }
  set urgentPointer(value: number) {
    this.#dv.setUint16(URGENT_POINTER, value);
  }

  /** The options area, padding included (bytes 20 to Data Offset × 4); a subarray. */
  get options(): Uint8Array {
    return this.bytes.subarray(OPTIONS, this.headerLength);
  }

  /** The data after the header; a subarray. */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength);
  }
}

/** What a TCP header means; Data Offset, Reserved and Checksum are derived on emit. */
export interface Header {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly sequenceNumber: number;
  readonly acknowledgmentNumber: number;
  /** Control bits, a combination of {@link Flags}. */
  readonly flags: number;
  readonly window: number;
  readonly urgentPointer: number;
  /** The options before End of Option List, in order. */
  readonly options: readonly Option[];
}

/** A parsed TCP segment. */
export interface Segment {
  readonly header: Header;
  /** The data after the header (a subarray). */
  readonly payload: Uint8Array;
  /** Header length in bytes (Data Offset × 4). */
  readonly headerLength: number;
}

/**
 * Checks that `bytes` can be viewed as a TCP segment: at least 20 bytes (`truncated`), Data
 * Offset at least 5 (`bad-data-offset`) and no larger than the bytes given (`truncated`). The
 * options are checked by {@link parseOptions}; the checksum by {@link checksumValid}.
 */
export function check(bytes: Uint8Array): Parsed<View> {
  if (bytes.length < HEADER_LENGTH) return malformed('tcp', 'truncated', bytes.length);
  const v = new View(bytes);
  // RFC 9293 §3.1: "The TCP header (even one including options) is an integer multiple of 32
  // bits long", at least 5 words.
  if (v.dataOffset < 5) return malformed('tcp', 'bad-data-offset', DATA_OFFSET);
  if (v.headerLength > bytes.length) return malformed('tcp', 'truncated', bytes.length);
  return ok(v);
}

/**
 * Parses an options area (after byte 20 of the header) into options, stopping at End of Option
 * List. Fails with `bad-option` at `base` + the option's offset when an option has no length
 * octet, a length under 2 or past the area (RFC 9293 §3.2, MUST-7: "be prepared to handle an
 * illegal option length"), or a known kind with the wrong length.
 */
export function parseOptions(area: Uint8Array, base: number = OPTIONS): Parsed<Option[]> {
  const options: Option[] = [];
  let i = 0;
  while (i < area.length) {
    const kind = area[i];
    if (kind === OptionKind.EndOfOptionList) break; // the rest is padding
    if (kind === OptionKind.NoOperation) {
      options.push({ type: 'nop' });
      i += 1;
      continue;
    }
    if (i + 1 >= area.length) return malformed('tcp', 'bad-option', base + i);
    const length = area[i + 1];
    if (length < 2 || i + length > area.length) return malformed('tcp', 'bad-option', base + i);
    const option = decodeOption(area, i, kind, length);
    if (option === undefined) return malformed('tcp', 'bad-option', base + i);
    options.push(option);
    i += length;
  }
  return ok(options);
}

function u16(b: Uint8Array, i: number): number {
  return (b[i] << 8) | b[i + 1];
}

function u32(b: Uint8Array, i: number): number {
  return ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
}

/** Decodes one option of known length at `i`; undefined when a known kind has the wrong length. */
function decodeOption(
  area: Uint8Array,
  i: number,
  kind: number,
  length: number
): Option | undefined {
  switch (kind) {
    case OptionKind.MaximumSegmentSize: // RFC 9293 §3.2: Kind 2, Length 4
      return length === 4 ? { type: 'mss', mss: u16(area, i + 2) } : undefined;
    case OptionKind.WindowScale:
      // RFC 7323 §2.2: Kind 3, Length 3. A shift above 14 is used as 14 (§2.3), not refused.
      return length === 3 ? { type: 'window-scale', shift: area[i + 2] } : undefined;
    case OptionKind.SackPermitted: // RFC 2018 §2: Kind 4, Length 2
      return length === 2 ? { type: 'sack-permitted' } : undefined;
    case OptionKind.Sack: {
      // RFC 2018 §3: Kind 5, Length 8n + 2, n ≥ 1 blocks of Left Edge, Right Edge.
      if (length < 10 || (length - 2) % 8 !== 0) return undefined;
      const blocks: SackBlock[] = [];
      for (let at = i + 2; at < i + length; at += 8) {
        blocks.push({ left: u32(area, at), right: u32(area, at + 4) });
      }
      return { type: 'sack', blocks };
    }
    case OptionKind.Timestamps: // RFC 7323 §3.2: Kind 8, Length 10, TSval, TSecr
      return length === 10
        ? { type: 'timestamps', tsVal: u32(area, i + 2), tsEcr: u32(area, i + 6) }
        : undefined;
    default:
      return { type: 'unknown', kind, data: area.slice(i + 2, i + length) };
  }
}

/**
 * Parses a TCP segment; never throws. Reasons: `truncated`, `bad-data-offset`, `bad-option`.
 * The checksum is not judged (it needs the pseudo-header; see {@link checksumValid}).
 */
export function parse(bytes: Uint8Array): Parsed<Segment> {
  const r = check(bytes);
  if (!r.ok) return r;
  const v = r.value;
  const options = parseOptions(v.options);
  if (!options.ok) return options;
  return ok({
    header: {
      srcPort: v.srcPort,
      dstPort: v.dstPort,
      sequenceNumber: v.sequenceNumber,
      acknowledgmentNumber: v.acknowledgmentNumber,
      flags: v.flags,
      window: v.window,
      urgentPointer: v.urgentPointer,
      options: options.value,
    },
    payload: v.payload,
    headerLength: v.headerLength,
  });
}

/** Bytes one option occupies on the wire. */
export function optionLength(option: Option): number {
  switch (option.type) {
    case 'nop':
      return 1;
    case 'mss':
      return 4;
    case 'window-scale':
      return 3;
    case 'sack-permitted':
      return 2;
    case 'sack':
      return 2 + 8 * option.blocks.length;
    case 'timestamps':
      return 10;
    case 'unknown':
      return 2 + option.data.length;
  }
}

/** Header length in bytes for `header`: 20 plus its options padded to a multiple of 4. */
export function headerLength(header: Header): number {
  let length = 0;
  for (const option of header.options) length += optionLength(option);
  const total = HEADER_LENGTH + ((length + 3) & ~3);
  if (total > MAX_HEADER_LENGTH) {
    throw new RangeError(`tcp.headerLength: expected options of at most 40 bytes, got ${length}`);
  }
  return total;
}

function needOption(option: Option): void {
  const where = `tcp.emit option ${option.type}`;
  switch (option.type) {
    case 'mss':
      needUint(where, option.mss, 0xffff);
      return;
    case 'window-scale':
      needUint(where, option.shift, 0xff);
      return;
    case 'sack':
      if (option.blocks.length === 0) {
        throw new RangeError(`${where}: expected 1 to 4 blocks, got 0`);
      }
      for (const b of option.blocks) {
        needUint(where, b.left, 0xffff_ffff);
        needUint(where, b.right, 0xffff_ffff);
      }
      return;
    case 'timestamps':
      needUint(where, option.tsVal, 0xffff_ffff);
      needUint(where, option.tsEcr, 0xffff_ffff);
      return;
    case 'unknown':
      if (!Number.isInteger(option.kind) || option.kind > 0xff || KNOWN_KINDS.has(option.kind)) {
        throw new RangeError(
          `${where}: expected a kind from 6 to 255 other than 8, got ${option.kind}`
        );
      }
      return;
    case 'nop':
    case 'sack-permitted':
      return;
  }
}

function put16(out: Uint8Array, i: number, value: number): void {
  out[i] = value >>> 8;
  out[i + 1] = value & 0xff;
}

function put32(out: Uint8Array, i: number, value: number): void {
  out[i] = value >>> 24;
  out[i + 1] = (value >>> 16) & 0xff;
  out[i + 2] = (value >>> 8) & 0xff;
  out[i + 3] = value & 0xff;
}

/** Writes one option at `i` and returns the offset after it. */
function writeOption(out: Uint8Array, i: number, option: Option): number {
  switch (option.type) {
    case 'nop':
      out[i] = OptionKind.NoOperation;
      return i + 1;
    case 'mss':
      out[i] = OptionKind.MaximumSegmentSize;
      out[i + 1] = 4;
      put16(out, i + 2, option.mss);
      return i + 4;
    case 'window-scale':
      out[i] = OptionKind.WindowScale;
      out[i + 1] = 3;
      out[i + 2] = option.shift;
      return i + 3;
    case 'sack-permitted':
      out[i] = OptionKind.SackPermitted;
      out[i + 1] = 2;
      return i + 2;
    case 'sack': {
      out[i] = OptionKind.Sack;
      out[i + 1] = 2 + 8 * option.blocks.length;
      let at = i + 2;
      for (const b of option.blocks) {
        put32(out, at, b.left);
        put32(out, at + 4, b.right);
        at += 8;
      }
      return at;
    }
    case 'timestamps':
      out[i] = OptionKind.Timestamps;
      out[i + 1] = 10;
      put32(out, i + 2, option.tsVal);
      put32(out, i + 6, option.tsEcr);
      return i + 10;
    case 'unknown':
      out[i] = option.kind;
      out[i + 1] = 2 + option.data.length;
      out.set(option.data, i + 2);
      return i + 2 + option.data.length;
  }
}

/**
 * Writes the TCP header at the start of `out` — Reserved 0, Checksum 0 (fill it with
 * {@link fillChecksum} once the data is in place), options padded with zeros — and returns
 * {@link headerLength}.
 */
export function emit(header: Header, out: Uint8Array): number {
  needUint('tcp.emit srcPort', header.srcPort, 0xffff);
  needUint('tcp.emit dstPort', header.dstPort, 0xffff);
  needUint('tcp.emit sequenceNumber', header.sequenceNumber, 0xffff_ffff);
  needUint('tcp.emit acknowledgmentNumber', header.acknowledgmentNumber, 0xffff_ffff);
  needUint('tcp.emit flags', header.flags, 0xff);
  needUint('tcp.emit window', header.window, 0xffff);
  needUint('tcp.emit urgentPointer', header.urgentPointer, 0xffff);
  for (const option of header.options) needOption(option);
  const length = headerLength(header);
  needRoom('tcp.emit', out, 0, length);
  const v = new View(out);
  v.srcPort = header.srcPort;
  v.dstPort = header.dstPort;
  v.sequenceNumber = header.sequenceNumber;
  v.acknowledgmentNumber = header.acknowledgmentNumber;
  out[DATA_OFFSET] = (length / 4) << 4; // Reserved bits zero
  v.flags = header.flags;
  v.window = header.window;
  v.checksum = 0;
  v.urgentPointer = header.urgentPointer;
  let at = OPTIONS;
  for (const option of header.options) at = writeOption(out, at, option);
  out.fill(0, at, length); // RFC 9293 §3.1: padding of zeros (End of Option List, then zeros)
  return length;
}

/**
 * Writes the checksum of `segment` (header and data, its whole length) over the unfolded
 * pseudo-header sum `pseudoSum` (from `checksum.pseudoHeaderV4/V6`, protocol 6, the segment's
 * length), with the field zeroed first (RFC 9293 §3.1 "Checksum"). Allocation-free.
 */
export function fillChecksum(segment: Uint8Array, pseudoSum: number): void {
  needRoom('tcp.fillChecksum', segment, 0, HEADER_LENGTH);
  segment[CHECKSUM] = 0;
  segment[CHECKSUM + 1] = 0;
  const c = checksum.finish(checksum.sum16(segment, pseudoSum));
  segment[CHECKSUM] = c >>> 8;
  segment[CHECKSUM + 1] = c & 0xff;
}

/** Whether the checksum of `segment` verifies over the unfolded pseudo-header sum `pseudoSum`. */
export function checksumValid(segment: Uint8Array, pseudoSum: number): boolean {
  if (segment.length < HEADER_LENGTH) return false;
  // RFC 1071 §1(3): the sum over data that includes a correct checksum is all ones.
  return checksum.fold(checksum.sum16(segment, pseudoSum)) === 0xffff;
}
