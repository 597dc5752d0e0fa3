/**
 * @module
 * IPv4 headers (RFC 791 §3.1) with options (RFC 791 §3.1 "Options"), the header checksum
 * (RFC 791 §3.1 "Header Checksum", computed as in RFC 1071), the IP protocol numbers (IANA
 * "Assigned Internet Protocol Numbers") and dotted-quad address text.
 *
 * `parse` validates once at the boundary: version, IHL, total length against the header length
 * and the buffer, and the option TLV lengths. A wrong header checksum is not a parse failure: it
 * is reported as `checksumValid` so a printer can say "checksum incorrect" and a NIC model can
 * count it. TOS, TTL and the flags are not judged (routers may change them; RFC 4302 §3.3.3.1.1.1
 * lists them as mutable). Not modelled: option semantics beyond TLV framing, reassembly.
 */
import { needRoom, needUint, view } from './bytes.ts';
import * as checksum from './checksum.ts';
import { malformed, ok, type Parsed } from './parsed.ts';

/** IP protocol / IPv6 Next Header numbers (IANA), as an open set: unknown values pass through. */
export const IpProtocol = {
  Hopopt: 0,
  Icmp: 1,
  Ipip: 4,
  Tcp: 6,
  Udp: 17,
  Ipv6: 41,
  Routing: 43,
  Fragment: 44,
  Esp: 50,
  Ah: 51,
  Icmpv6: 58,
  NoNext: 59,
  DestOpts: 60,
} as const;

const PROTOCOL_NAMES = new Map<number, string>(
  Object.entries(IpProtocol).map(([name, value]): [number, string] => [value, name.toLowerCase()])
);

/** Returns the lower-case name of an IP protocol number (`tcp`, `esp`), or `unknown(n)`. */
export function protocolName(protocol: number): string {
  return PROTOCOL_NAMES.get(protocol) ?? `unknown(${protocol})`;
}

/** IPv4 option types (the whole type octet: copied flag, class, number; RFC 791, IANA). */
export const OptionType = {
  EndOfOptionList: 0,
  NoOperation: 1,
  RecordRoute: 7,
  Timestamp: 68,
  Traceroute: 82,
  Security: 130,
  LooseSourceRoute: 131,
  ExtendedSecurity: 133,
  CommercialSecurity: 134,
  StrictSourceRoute: 137,
  RouterAlert: 148,
  MultiDestinationDelivery: 149,
} as const;

/** Length of an IPv4 header without options, in bytes. */
export const HEADER_LENGTH = 20;
/** Largest IPv4 header (IHL 15), in bytes. */
export const MAX_HEADER_LENGTH = 60;

// Field offsets (RFC 791 §3.1, "Internet Header Format").
const VERSION_IHL = 0; // version (4 bits) | IHL in 32-bit words (4 bits)
const TYPE_OF_SERVICE = 1; // DSCP (6 bits) | ECN (2 bits) per RFC 2474 / RFC 3168
const TOTAL_LENGTH = 2;
const IDENTIFICATION = 4;
const FLAGS_FRAGMENT = 6; // reserved | DF | MF (3 bits) | fragment offset in 8-byte units (13 bits)
const TIME_TO_LIVE = 8;
const PROTOCOL = 9;
const HEADER_CHECKSUM = 10;
const SOURCE = 12;
const DESTINATION = 16;
const OPTIONS = 20;

const DF = 0x4000;
const MF = 0x2000;
const OFFSET_MASK = 0x1fff;

/**
 * Zero-copy accessors over an IPv4 packet. Call `parse` first on untrusted bytes: it guarantees
 * 20 ≤ `headerLength` ≤ `totalLength` ≤ the buffer. The setters for `headerLength` and
 * `totalLength` void that guarantee until the bytes are parsed again.
 */
export class View {
  /** The packet bytes the view reads and writes. */
  readonly bytes: Uint8Array;
  /** Source Address (a live 4-byte subarray). */
  readonly sourceAddress: Uint8Array;
  /** Destination Address (a live 4-byte subarray). */
  readonly destinationAddress: Uint8Array;
  readonly #dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#dv = view(bytes);
    this.sourceAddress = bytes.subarray(SOURCE, SOURCE + 4);
    this.destinationAddress = bytes.subarray(DESTINATION, DESTINATION + 4);
  }

  /** Version (4 for IPv4). */
  get version(): number {
    return this.#dv.getUint8(VERSION_IHL) >>> 4;
  }
  set version(value: number) {
    this.#dv.setUint8(VERSION_IHL, ((value & 15) << 4) | (this.#dv.getUint8(VERSION_IHL) & 15));
  }
  /** Header length in bytes (IHL × 4); the setter takes bytes, a multiple of 4. */
  get headerLength(): number {
    return (this.#dv.getUint8(VERSION_IHL) & 15) * 4;
  }
  set headerLength(value: number) {
    this.#dv.setUint8(VERSION_IHL, (this.#dv.getUint8(VERSION_IHL) & 0xf0) | ((value >>> 2) & 15));
  }
  /** Type of Service octet: DSCP (high 6 bits) and ECN (low 2 bits). */
  get typeOfService(): number {
    return this.#dv.getUint8(TYPE_OF_SERVICE);
  }
  set typeOfService(value: number) {
    this.#dv.setUint8(TYPE_OF_SERVICE, value);
  }
  /** Total Length of the datagram in bytes, header included. */
  get totalLength(): number {
    return this.#dv.getUint16(TOTAL_LENGTH);
  }
  set totalLength(value: number) {
    this.#dv.setUint16(TOTAL_LENGTH, value);
  }
  /** Identification. */
  get identification(): number {
    return this.#dv.getUint16(IDENTIFICATION);
  }
  set identification(value: number) {
    this.#dv.setUint16(IDENTIFICATION, value);
  }
  /** The three flag bits: reserved (4), DF (2), MF (1). */
  get flags(): number {
    return this.#dv.getUint16(FLAGS_FRAGMENT) >>> 13;
  }
  set flags(value: number) {
    const word = this.#dv.getUint16(FLAGS_FRAGMENT);
    this.#dv.setUint16(FLAGS_FRAGMENT, (word & OFFSET_MASK) | ((value & 7) << 13));
  }
  /** Don't Fragment flag. */
  get dontFragment(): boolean {
    return (this.#dv.getUint16(FLAGS_FRAGMENT) & DF) !== 0;
  }
  set dontFragment(value: boolean) {
    this.#setFlag(DF, value);
  }
  /** More Fragments flag. */
  get moreFragments(): boolean {
    return (this.#dv.getUint16(FLAGS_FRAGMENT) & MF) !== 0;
  }
  set moreFragments(value: boolean) {
    this.#setFlag(MF, value);
  }
  /** Fragment Offset in 8-byte units. */
  get fragmentOffset(): number {
    return this.#dv.getUint16(FLAGS_FRAGMENT) & OFFSET_MASK;
  }
  set fragmentOffset(value: number) {
    const word = this.#dv.getUint16(FLAGS_FRAGMENT);
    this.#dv.setUint16(FLAGS_FRAGMENT, (word & ~OFFSET_MASK) | (value & OFFSET_MASK));
  }
  /** Time to Live. */
  get timeToLive(): number {
    return this.#dv.getUint8(TIME_TO_LIVE);
  }
  set timeToLive(value: number) {
    this.#dv.setUint8(TIME_TO_LIVE, value);
  }
  /** Protocol of the payload (see {@link IpProtocol}). */
  get protocol(): number {
    return this.#dv.getUint8(PROTOCOL);
  }
  set protocol(value: number) {
    this.#dv.setUint8(PROTOCOL, value);
  }
  /** Header Checksum field as stored. */
  get headerChecksum(): number {
    return this.#dv.getUint16(HEADER_CHECKSUM);
  }
  set headerChecksum(value: number) {
    this.#dv.setUint16(HEADER_CHECKSUM, value);
  }
  /** The options area, bytes 20 to `headerLength` (a new subarray on each call). */
  get options(): Uint8Array {
    return this.bytes.subarray(OPTIONS, this.headerLength);
  }
  /** The payload, bytes `headerLength` to `totalLength` (a new subarray on each call). */
  get payload(): Uint8Array {
    return this.bytes.subarray(this.headerLength, this.totalLength);
  }
  /** Whether the header checksum is correct over `headerLength` bytes (RFC 1071 §1(3)). */
  get checksumValid(): boolean {
    return checksum.checksum(this.bytes.subarray(0, this.headerLength)) === 0;
  }
  /** Computes the header checksum over `headerLength` bytes and stores it (RFC 791 §3.1). */
  fillChecksum(): void {
    this.#dv.setUint16(HEADER_CHECKSUM, 0);
    this.#dv.setUint16(
      HEADER_CHECKSUM,
      checksum.checksum(this.bytes.subarray(0, this.headerLength))
    );
  }

  #setFlag(bit: number, value: boolean): void {
    const word = this.#dv.getUint16(FLAGS_FRAGMENT);
    this.#dv.setUint16(FLAGS_FRAGMENT, value ? word | bit : word & ~bit);
  }
}

/** What an IPv4 header means; version, IHL, total length and checksum are derived by `emit`. */
export interface Header {
  /** Type of Service octet (DSCP << 2 | ECN). */
  readonly typeOfService: number;
  readonly identification: number;
  readonly dontFragment: boolean;
  readonly moreFragments: boolean;
  /** Fragment Offset in 8-byte units. */
  readonly fragmentOffset: number;
  readonly timeToLive: number;
  /** Protocol of the payload (see {@link IpProtocol}). */
  readonly protocol: number;
  /** Source Address, 4 bytes. */
  readonly sourceAddress: Uint8Array;
  /** Destination Address, 4 bytes. */
  readonly destinationAddress: Uint8Array;
  /**
   * The option TLVs, without the End of Option List and the padding after it (at most 40
   * bytes). `emit` pads them with zeros (EOL) to a multiple of 4.
   */
  readonly options: Uint8Array;
}

/** A parsed IPv4 packet. */
export interface Packet {
  readonly header: Header;
  /** The payload, bounded by Total Length (a zero-copy subarray). */
  readonly payload: Uint8Array;
  /** Header length in bytes (IHL × 4). */
  readonly headerLength: number;
  /** Whether the Header Checksum is correct; a wrong one is reported, not refused. */
  readonly checksumValid: boolean;
}

/** One option found by {@link walkOptions}; `offset` is relative to the options area. */
export interface OptionEntry {
  readonly type: number;
  readonly offset: number;
  /** Bytes the option occupies: 1 for EOL and NOP, else its Length octet (type and length included). */
  readonly length: number;
}

/**
 * Yields the options of an options area in order: EOL (then stops), NOP, and type-length-value
 * options (RFC 791 §3.1). Stops early at an option whose length is invalid; `parse` refuses
 * those, so after `parse` the walk covers every option.
 */
export function* walkOptions(area: Uint8Array): Generator<OptionEntry, void, undefined> {
  let offset = 0;
  while (offset < area.length) {
    const type = area[offset];
    if (type === OptionType.EndOfOptionList) {
      yield { type, offset, length: 1 };
      return;
    }
    if (type === OptionType.NoOperation) {
      yield { type, offset, length: 1 };
      offset += 1;
      continue;
    }
    const length = optionLength(area, offset);
    if (length < 0) return;
    yield { type, offset, length };
    offset += length;
  }
}

/** Length of the TLV option at `offset`, or -1 if its Length octet is missing or invalid. */
function optionLength(area: Uint8Array, offset: number): number {
  if (offset + 1 >= area.length) return -1;
  const length = area[offset + 1];
  // RFC 791 §3.1: the option-length octet counts the type, length and data octets.
  if (length < 2 || offset + length > area.length) return -1;
  return length;
}

/** Checks an options area: returns the offset of the first bad option, or -1 if all are well-formed. */
function badOptionOffset(area: Uint8Array): number {
  let offset = 0;
  while (offset < area.length) {
    const type = area[offset];
    if (type === OptionType.EndOfOptionList) return -1;
    if (type === OptionType.NoOperation) {
      offset += 1;
      continue;
    }
    const length = optionLength(area, offset);
    if (length < 0) return offset;
    offset += length;
  }
  return -1;
}

/** Returns where the options end: the offset of the first EOL, or the area length. */
function optionsEnd(area: Uint8Array): number {
  for (const option of walkOptions(area)) {
    if (option.type === OptionType.EndOfOptionList) return option.offset;
  }
  return area.length;
}

/** Returns the header length `emit` writes: 20 plus the options padded to a multiple of 4. */
export function headerLength(header: Header): number {
  return HEADER_LENGTH + ((header.options.length + 3) & ~3);
}

/**
 * Writes `header` at the start of `out` for a payload of `payloadLength` bytes, with Total
 * Length and Header Checksum computed, and returns the bytes written.
 */
export function emit(header: Header, out: Uint8Array, payloadLength: number): number {
  const length = headerLength(header);
  if (header.options.length > MAX_HEADER_LENGTH - HEADER_LENGTH) {
    throw new RangeError(
      `ipv4.emit: expected at most 40 bytes of options, got ${header.options.length}`
    );
  }
  needAddress('ipv4.emit sourceAddress', header.sourceAddress);
  needAddress('ipv4.emit destinationAddress', header.destinationAddress);
  needUint('ipv4.emit typeOfService', header.typeOfService, 0xff);
  needUint('ipv4.emit identification', header.identification, 0xffff);
  needUint('ipv4.emit fragmentOffset', header.fragmentOffset, OFFSET_MASK);
  needUint('ipv4.emit timeToLive', header.timeToLive, 0xff);
  needUint('ipv4.emit protocol', header.protocol, 0xff);
  needUint('ipv4.emit payloadLength', payloadLength, 0xffff - length);
  needRoom('ipv4.emit', out, 0, length);
  const dv = view(out);
  dv.setUint8(VERSION_IHL, 0x40 | (length >>> 2));
  dv.setUint8(TYPE_OF_SERVICE, header.typeOfService);
  dv.setUint16(TOTAL_LENGTH, length + payloadLength);
  dv.setUint16(IDENTIFICATION, header.identification);
  dv.setUint16(
    FLAGS_FRAGMENT,
    (header.dontFragment ? DF : 0) | (header.moreFragments ? MF : 0) | header.fragmentOffset
  );
  dv.setUint8(TIME_TO_LIVE, header.timeToLive);
  dv.setUint8(PROTOCOL, header.protocol);
  dv.setUint16(HEADER_CHECKSUM, 0);
  out.set(header.sourceAddress, SOURCE);
  out.set(header.destinationAddress, DESTINATION);
  out.set(header.options, OPTIONS);
  // RFC 791 §3.1: "The internet header padding is used to ensure that the internet header ends
  // on a 32 bit boundary. The padding is zero." Zero is also End of Option List.
  out.fill(0, OPTIONS + header.options.length, length);
  dv.setUint16(HEADER_CHECKSUM, checksum.checksum(out.subarray(0, length)));
  return length;
}

/**
 * Parses an IPv4 packet. Fails with `truncated`, `bad-version`, `bad-ihl`, `length-mismatch`
 * (Total Length below the header length or beyond the bytes given) or `bad-option` (at the
 * option's offset); a wrong checksum is reported in `checksumValid`.
 */
export function parse(bytes: Uint8Array): Parsed<Packet> {
  if (bytes.length === 0) return malformed('ipv4', 'truncated', 0);
  if (bytes[VERSION_IHL] >>> 4 !== 4) return malformed('ipv4', 'bad-version', VERSION_IHL);
  if (bytes.length < HEADER_LENGTH) return malformed('ipv4', 'truncated', bytes.length);
  const ihl = (bytes[VERSION_IHL] & 15) * 4;
  if (ihl < HEADER_LENGTH) return malformed('ipv4', 'bad-ihl', VERSION_IHL);
  if (bytes.length < ihl) return malformed('ipv4', 'truncated', bytes.length);
  const dv = view(bytes);
  const totalLength = dv.getUint16(TOTAL_LENGTH);
  if (totalLength < ihl || totalLength > bytes.length) {
    return malformed('ipv4', 'length-mismatch', TOTAL_LENGTH);
  }
  const area = bytes.subarray(OPTIONS, ihl);
  const bad = badOptionOffset(area);
  if (bad >= 0) return malformed('ipv4', 'bad-option', OPTIONS + bad);
  const flags = dv.getUint16(FLAGS_FRAGMENT);
  const header: Header = {
    typeOfService: dv.getUint8(TYPE_OF_SERVICE),
    identification: dv.getUint16(IDENTIFICATION),
    dontFragment: (flags & DF) !== 0,
    moreFragments: (flags & MF) !== 0,
    fragmentOffset: flags & OFFSET_MASK,
    timeToLive: dv.getUint8(TIME_TO_LIVE),
    protocol: dv.getUint8(PROTOCOL),
    sourceAddress: bytes.slice(SOURCE, SOURCE + 4),
    destinationAddress: bytes.slice(DESTINATION, DESTINATION + 4),
    options: area.slice(0, optionsEnd(area)),
  };
  return ok({
    header,
    payload: bytes.subarray(ihl, totalLength),
    headerLength: ihl,
    checksumValid: checksum.checksum(bytes.subarray(0, ihl)) === 0,
  });
}

function needAddress(where: string, address: Uint8Array): void {
  if (address.length !== 4) {
    throw new RangeError(`${where}: expected a 4-byte address, got ${address.length} bytes`);
  }
}

/** Returns the 4 bytes of a dotted-quad IPv4 address (`192.0.2.1`; no leading zeros). */
export function parseAddress(text: string): Uint8Array {
  const parts = text.split('.');
  if (
    parts.length !== 4 ||
    !parts.every((p) => /^(0|[1-9][0-9]{0,2})$/.test(p) && Number(p) <= 255)
  ) {
    throw new TypeError(
      `ipv4.parseAddress: expected a dotted quad like 192.0.2.1, got ${JSON.stringify(text)}`
    );
  }
  return Uint8Array.from(parts, Number);
}

/** Returns an IPv4 address as a dotted quad. */
export function formatAddress(address: Uint8Array): string {
  needAddress('ipv4.formatAddress', address);
  return `${address[0]}.${address[1]}.${address[2]}.${address[3]}`;
}
