/**
 * @module
 * IPv6 packets (RFC 8200): the fixed header (§3), the extension-header chain (§4) with
 * Hop-by-Hop Options (§4.3), Routing (§4.4, any Routing Type kept as opaque type-specific data),
 * Fragment (§4.5) and Destination Options (§4.6), the option TLVs inside the two options headers
 * (§4.2), and address text (RFC 4291 §2.2 to read, RFC 5952 §4–5 to write).
 *
 * `parse` walks the chain to the first header it does not walk (an upper layer, ESP, AH, No Next
 * Header or an unknown value) and reports it as `upperProtocol`. AH (51) is an extension header
 * too (RFC 4302 §2), but its length unit differs (32-bit words) and it is the caller's to
 * process, so the walk stops there. Not modelled: jumbograms (RFC 2675; a Payload Length of 0 is
 * taken literally), reassembly, the semantics of individual options.
 */
import { needRoom, needUint, view } from './bytes.ts';
import { IpProtocol } from './ipv4.ts';
import { malformed, ok, type Parsed } from './parsed.ts';

/** Length of the fixed IPv6 header in bytes (RFC 8200 §3). */
export const HEADER_LENGTH = 40;

// Field offsets (RFC 8200 §3, "IPv6 Header Format").
const VERSION_CLASS_FLOW = 0; // version (4 bits) | traffic class (8 bits) | flow label (20 bits)
const PAYLOAD_LENGTH = 4;
const NEXT_HEADER = 6;
const HOP_LIMIT = 7;
const SOURCE = 8;
const DESTINATION = 24;

/** Option types used by the model (RFC 8200 §4.2, IANA "Destination Options and Hop-by-Hop Options"). */
export const OptionType = {
  Pad1: 0x00,
  PadN: 0x01,
  TunnelEncapsulationLimit: 0x04,
  RouterAlert: 0x05,
  Jumbo: 0xc2,
  HomeAddress: 0xc9,
} as const;

/**
 * The third-highest bit of an option type: set if the option data may change en route
 * (RFC 8200 §4.2); AH then covers it as zeros (RFC 4302 §3.3.3.1.2.2).
 */
export const OPTION_DATA_MAY_CHANGE = 0x20;

/**
 * Zero-copy accessors over the fixed IPv6 header. Call `parse` first on untrusted bytes: it
 * guarantees 40 bytes and 40 + `payloadLength` ≤ the buffer.
 */
export class View {
  /** The packet bytes the view reads and writes. */
  readonly bytes: Uint8Array;
  /** Source Address (a live 16-byte subarray). */
  readonly sourceAddress: Uint8Array;
  /** Destination Address (a live 16-byte subarray). */
  readonly destinationAddress: Uint8Array;
  readonly #dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#dv = view(bytes);
    this.sourceAddress = bytes.subarray(SOURCE, SOURCE + 16);
    this.destinationAddress = bytes.subarray(DESTINATION, DESTINATION + 16);
  }

  /** Version (6 for IPv6). */
  get version(): number {
    return this.#dv.getUint32(VERSION_CLASS_FLOW) >>> 28;
  }
  set version(value: number) {
    const word = this.#dv.getUint32(VERSION_CLASS_FLOW);
    this.#dv.setUint32(VERSION_CLASS_FLOW, ((word & 0x0fffffff) | ((value & 15) << 28)) >>> 0);
  }
  /** Traffic Class (DSCP << 2 | ECN). */
  get trafficClass(): number {
    return (this.#dv.getUint32(VERSION_CLASS_FLOW) >>> 20) & 0xff;
  }
  set trafficClass(value: number) {
    const word = this.#dv.getUint32(VERSION_CLASS_FLOW);
    this.#dv.setUint32(VERSION_CLASS_FLOW, ((word & 0xf00fffff) | ((value & 0xff) << 20)) >>> 0);
  }
  /** Flow Label (20 bits). */
  get flowLabel(): number {
    return this.#dv.getUint32(VERSION_CLASS_FLOW) & 0xfffff;
  }
  set flowLabel(value: number) {
    const word = this.#dv.getUint32(VERSION_CLASS_FLOW);
    this.#dv.setUint32(VERSION_CLASS_FLOW, ((word & 0xfff00000) | (value & 0xfffff)) >>> 0);
  }
  /** Payload Length: bytes after the fixed header, extension headers included. */
  get payloadLength(): number {
    return this.#dv.getUint16(PAYLOAD_LENGTH);
  }
  set payloadLength(value: number) {
    this.#dv.setUint16(PAYLOAD_LENGTH, value);
  }
  /** Next Header of the fixed header: the first extension header or the upper layer. */
  get nextHeader(): number {
    return this.#dv.getUint8(NEXT_HEADER);
  }
  set nextHeader(value: number) {
    this.#dv.setUint8(NEXT_HEADER, value);
  }
  /** Hop Limit. */
  get hopLimit(): number {
    return this.#dv.getUint8(HOP_LIMIT);
  }
  set hopLimit(value: number) {
    this.#dv.setUint8(HOP_LIMIT, value);
  }
}

/** One option of a Hop-by-Hop or Destination Options header (RFC 8200 §4.2). */
export interface Option {
  /** Option Type octet (action bits, change bit, number). */
  readonly type: number;
  /** Option Data (Opt Data Len bytes); empty for Pad1. */
  readonly data: Uint8Array;
}

/** A Hop-by-Hop Options header (RFC 8200 §4.3); it may only follow the fixed header. */
export interface HopByHop {
  readonly type: typeof IpProtocol.Hopopt;
  /** The options, without Pad1/PadN padding (`emit` adds padding to a multiple of 8 bytes). */
  readonly options: readonly Option[];
}

/** A Destination Options header (RFC 8200 §4.6). */
export interface DestinationOptions {
  readonly type: typeof IpProtocol.DestOpts;
  /** The options, without Pad1/PadN padding (`emit` adds padding to a multiple of 8 bytes). */
  readonly options: readonly Option[];
}

/** A Routing header of any Routing Type (RFC 8200 §4.4). */
export interface Routing {
  readonly type: typeof IpProtocol.Routing;
  readonly routingType: number;
  readonly segmentsLeft: number;
  /** Type-specific data: the bytes after the first 4; its length is 4 more than a multiple of 8. */
  readonly data: Uint8Array;
}

/** A Fragment header (RFC 8200 §4.5); its reserved fields are written as zero and not kept. */
export interface Fragment {
  readonly type: typeof IpProtocol.Fragment;
  /** Fragment Offset in 8-byte units. */
  readonly fragmentOffset: number;
  /** The M flag: more fragments follow. */
  readonly moreFragments: boolean;
  readonly identification: number;
}

/** An extension header the codec walks; `type` is its Next Header value. */
export type Extension = HopByHop | DestinationOptions | Routing | Fragment;

/** What an IPv6 header and its extension chain mean; lengths and Next Header links are derived by `emit`. */
export interface Header {
  /** Traffic Class (DSCP << 2 | ECN). */
  readonly trafficClass: number;
  /** Flow Label, 20 bits. */
  readonly flowLabel: number;
  readonly hopLimit: number;
  /** Source Address, 16 bytes. */
  readonly sourceAddress: Uint8Array;
  /** Destination Address, 16 bytes. */
  readonly destinationAddress: Uint8Array;
  /** The extension headers in order, each linked to the next by `emit`. */
  readonly extensions: readonly Extension[];
  /**
   * Next Header of the last header in the chain: the upper-layer protocol, ESP, AH, … (the
   * fixed header's Next Header when there are no extensions).
   */
  readonly nextHeader: number;
}

/** A parsed IPv6 packet. */
export interface Packet {
  readonly header: Header;
  /** The same array as `header.extensions`. */
  readonly extensions: readonly Extension[];
  /** The protocol where the walk stopped (`header.nextHeader`), e.g. TCP, ESP or AH (51). */
  readonly upperProtocol: number;
  /** Offset of the upper-layer header from the start of the IPv6 header. */
  readonly upperOffset: number;
  /** The upper-layer bytes, bounded by Payload Length (a zero-copy subarray). */
  readonly payload: Uint8Array;
}

/** One option found by {@link walkOptions}; `offset` is relative to the options area. */
export interface OptionEntry {
  readonly type: number;
  readonly offset: number;
  /** Bytes the option occupies: 1 for Pad1, else 2 + Opt Data Len. */
  readonly length: number;
}

/**
 * Yields the options of an options area (the bytes after an options header's first two) in
 * order, Pad1 and PadN included. Stops early at an option that overruns the area; `parse`
 * refuses those, so after `parse` the walk covers every option.
 */
export function* walkOptions(area: Uint8Array): Generator<OptionEntry, void, undefined> {
  let offset = 0;
  while (offset < area.length) {
    const type = area[offset];
    const length = optionLength(area, offset);
    if (length < 0) return;
    yield { type, offset, length };
    offset += length;
  }
}

/** Length of the option at `offset` (RFC 8200 §4.2), or -1 if it overruns the area. */
function optionLength(area: Uint8Array, offset: number): number {
  // RFC 8200 §4.2: "the Pad1 option ... has no length and value fields".
  if (area[offset] === OptionType.Pad1) return 1;
  if (offset + 2 > area.length) return -1;
  const length = 2 + area[offset + 1];
  return offset + length > area.length ? -1 : length;
}

/** Returns the offset of the first option that overruns `area`, or -1 if all fit. */
function badOptionOffset(area: Uint8Array): number {
  let offset = 0;
  while (offset < area.length) {
    const length = optionLength(area, offset);
    if (length < 0) return offset;
    offset += length;
  }
  return -1;
}

/** Returns the options of an area without Pad1/PadN, data copied. Assumes a checked area. */
function readOptions(area: Uint8Array): Option[] {
  const options: Option[] = [];
  for (const { type, offset, length } of walkOptions(area)) {
    if (type === OptionType.Pad1 || type === OptionType.PadN) continue;
    options.push({ type, data: area.slice(offset + 2, offset + length) });
  }
  return options;
}

/** Whether `nextHeader` is one of the extension headers `parse` walks (0, 43, 44, 60). */
export function isWalkedExtension(nextHeader: number): boolean {
  return (
    nextHeader === IpProtocol.Hopopt ||
    nextHeader === IpProtocol.Routing ||
    nextHeader === IpProtocol.Fragment ||
    nextHeader === IpProtocol.DestOpts
  );
}

/** Returns the bytes `emit` writes for one extension header (a multiple of 8). */
export function extensionLength(extension: Extension): number {
  switch (extension.type) {
    case IpProtocol.Hopopt:
    case IpProtocol.DestOpts: {
      let length = 2; // Next Header, Hdr Ext Len
      for (const option of extension.options) {
        length += option.type === OptionType.Pad1 ? 1 : 2 + option.data.length;
      }
      return (length + 7) & ~7;
    }
    case IpProtocol.Routing:
      return 4 + extension.data.length;
    case IpProtocol.Fragment:
      return 8;
  }
}

/** Returns the bytes `emit` writes: the fixed header plus every extension header. */
export function headerLength(header: Header): number {
  let length = HEADER_LENGTH;
  for (const extension of header.extensions) length += extensionLength(extension);
  return length;
}

/** Throws unless the chain is one `parse` would read back as given. */
function checkChain(header: Header): void {
  const extensions = header.extensions;
  extensions.forEach((extension, i) => {
    if (extension.type === IpProtocol.Hopopt && i !== 0) {
      throw new RangeError(
        `ipv6.emit: expected Hop-by-Hop Options only first (RFC 8200 §4.3), got it at extension ${i}`
      );
    }
    if (extension.type === IpProtocol.Fragment && extension.fragmentOffset !== 0) {
      if (i !== extensions.length - 1) {
        throw new RangeError(
          `ipv6.emit: expected no extension after a non-first Fragment (RFC 8200 §4.5), got one at ${i + 1}`
        );
      }
    }
  });
  const last = extensions.at(-1);
  const afterLaterFragment = last?.type === IpProtocol.Fragment && last.fragmentOffset !== 0;
  if (!afterLaterFragment && isWalkedExtension(header.nextHeader)) {
    throw new RangeError(
      `ipv6.emit: expected a nextHeader that ends the chain (put extension headers in extensions), got ${header.nextHeader}`
    );
  }
}

/** Writes one extension header at `offset` and returns its length. */
function emitExtension(
  extension: Extension,
  next: number,
  out: Uint8Array,
  offset: number
): number {
  const length = extensionLength(extension);
  const dv = view(out);
  out[offset] = next;
  switch (extension.type) {
    case IpProtocol.Hopopt:
    case IpProtocol.DestOpts: {
      if (length > 2048) {
        throw new RangeError(`ipv6.emit: expected options to fit in 2048 bytes, got ${length}`);
      }
      out[offset + 1] = length / 8 - 1;
      let at = offset + 2;
      for (const option of extension.options) {
        needUint('ipv6.emit option type', option.type, 0xff);
        if (option.type === OptionType.Pad1) {
          if (option.data.length !== 0) {
            throw new RangeError(
              `ipv6.emit: expected Pad1 without data, got ${option.data.length} bytes`
            );
          }
          out[at++] = OptionType.Pad1;
          continue;
        }
        needUint('ipv6.emit option data length', option.data.length, 0xff);
        out[at] = option.type;
        out[at + 1] = option.data.length;
        out.set(option.data, at + 2);
        at += 2 + option.data.length;
      }
      // RFC 8200 §4.2: pad the header to a multiple of 8 with Pad1 (one byte) or PadN (zeros).
      const pad = offset + length - at;
      if (pad === 1) {
        out[at] = OptionType.Pad1;
      } else if (pad > 1) {
        out[at] = OptionType.PadN;
        out[at + 1] = pad - 2;
        out.fill(0, at + 2, at + pad);
      }
      return length;
    }
    case IpProtocol.Routing: {
      if (length % 8 !== 0 || length > 2048) {
        throw new RangeError(
          `ipv6.emit: expected routing data of 8n+4 bytes (n < 256), got ${extension.data.length}`
        );
      }
      needUint('ipv6.emit routingType', extension.routingType, 0xff);
      needUint('ipv6.emit segmentsLeft', extension.segmentsLeft, 0xff);
      out[offset + 1] = length / 8 - 1;
      out[offset + 2] = extension.routingType;
      out[offset + 3] = extension.segmentsLeft;
      out.set(extension.data, offset + 4);
      return length;
    }
    case IpProtocol.Fragment: {
      needUint('ipv6.emit fragmentOffset', extension.fragmentOffset, 0x1fff);
      needUint('ipv6.emit identification', extension.identification, 0xffffffff);
      out[offset + 1] = 0; // Reserved
      // RFC 8200 §4.5: Fragment Offset (13 bits) | Res (2 bits, zero) | M (1 bit).
      dv.setUint16(offset + 2, (extension.fragmentOffset << 3) | (extension.moreFragments ? 1 : 0));
      dv.setUint32(offset + 4, extension.identification);
      return length;
    }
  }
}

/**
 * Writes the fixed header and the extension chain at the start of `out` for an upper-layer
 * payload of `payloadLength` bytes (Payload Length counts the extensions too) and returns the
 * bytes written.
 */
export function emit(header: Header, out: Uint8Array, payloadLength: number): number {
  const length = headerLength(header);
  checkChain(header);
  needAddress('ipv6.emit sourceAddress', header.sourceAddress);
  needAddress('ipv6.emit destinationAddress', header.destinationAddress);
  needUint('ipv6.emit trafficClass', header.trafficClass, 0xff);
  needUint('ipv6.emit flowLabel', header.flowLabel, 0xfffff);
  needUint('ipv6.emit hopLimit', header.hopLimit, 0xff);
  needUint('ipv6.emit nextHeader', header.nextHeader, 0xff);
  needUint('ipv6.emit payloadLength', payloadLength, 0xffff - (length - HEADER_LENGTH));
  needRoom('ipv6.emit', out, 0, length);
  const dv = view(out);
  dv.setUint32(
    VERSION_CLASS_FLOW,
    ((6 << 28) | (header.trafficClass << 20) | header.flowLabel) >>> 0
  );
  dv.setUint16(PAYLOAD_LENGTH, length - HEADER_LENGTH + payloadLength);
  const extensions = header.extensions;
  dv.setUint8(NEXT_HEADER, extensions.length > 0 ? extensions[0].type : header.nextHeader);
  dv.setUint8(HOP_LIMIT, header.hopLimit);
  out.set(header.sourceAddress, SOURCE);
  out.set(header.destinationAddress, DESTINATION);
  let offset = HEADER_LENGTH;
  extensions.forEach((extension, i) => {
    const next = i + 1 < extensions.length ? extensions[i + 1].type : header.nextHeader;
    offset += emitExtension(extension, next, out, offset);
  });
  return length;
}

/**
 * Parses an IPv6 packet and walks its extension chain. Fails with `truncated`, `bad-version`,
 * `length-mismatch` (Payload Length beyond the bytes given), `bad-extension-length` (an
 * extension header overrunning Payload Length), `misplaced-hop-by-hop` (RFC 8200 §4) or
 * `bad-option` (at the option's offset).
 */
export function parse(bytes: Uint8Array): Parsed<Packet> {
  if (bytes.length === 0) return malformed('ipv6', 'truncated', 0);
  if (bytes[0] >>> 4 !== 6) return malformed('ipv6', 'bad-version', VERSION_CLASS_FLOW);
  if (bytes.length < HEADER_LENGTH) return malformed('ipv6', 'truncated', bytes.length);
  const dv = view(bytes);
  const end = HEADER_LENGTH + dv.getUint16(PAYLOAD_LENGTH);
  if (end > bytes.length) return malformed('ipv6', 'length-mismatch', PAYLOAD_LENGTH);
  const extensions: Extension[] = [];
  let next = dv.getUint8(NEXT_HEADER);
  let offset = HEADER_LENGTH;
  walk: while (isWalkedExtension(next)) {
    if (next === IpProtocol.Hopopt && offset !== HEADER_LENGTH) {
      // RFC 8200 §4: Hop-by-Hop Options is "restricted to appear immediately after an IPv6 header only".
      return malformed('ipv6', 'misplaced-hop-by-hop', offset);
    }
    if (offset + 8 > end) return malformed('ipv6', 'bad-extension-length', offset);
    // RFC 8200 §4.3–4.6: Hdr Ext Len counts 8-octet units after the first 8; Fragment is 8 bytes.
    const length = next === IpProtocol.Fragment ? 8 : (bytes[offset + 1] + 1) * 8;
    if (offset + length > end) return malformed('ipv6', 'bad-extension-length', offset + 1);
    const type = next;
    next = bytes[offset];
    switch (type) {
      case IpProtocol.Hopopt:
      case IpProtocol.DestOpts: {
        const area = bytes.subarray(offset + 2, offset + length);
        const bad = badOptionOffset(area);
        if (bad >= 0) return malformed('ipv6', 'bad-option', offset + 2 + bad);
        extensions.push({ type, options: readOptions(area) });
        break;
      }
      case IpProtocol.Routing:
        extensions.push({
          type,
          routingType: bytes[offset + 2],
          segmentsLeft: bytes[offset + 3],
          data: bytes.slice(offset + 4, offset + length),
        });
        break;
      case IpProtocol.Fragment: {
        const word = dv.getUint16(offset + 2);
        const fragmentOffset = word >>> 3;
        extensions.push({
          type,
          fragmentOffset,
          moreFragments: (word & 1) !== 0,
          identification: dv.getUint32(offset + 4),
        });
        offset += length;
        // RFC 8200 §4.5: only the first fragment carries the headers after the Fragment header.
        if (fragmentOffset !== 0) break walk;
        continue walk;
      }
    }
    offset += length;
  }
  const header: Header = {
    trafficClass: (dv.getUint32(VERSION_CLASS_FLOW) >>> 20) & 0xff,
    flowLabel: dv.getUint32(VERSION_CLASS_FLOW) & 0xfffff,
    hopLimit: dv.getUint8(HOP_LIMIT),
    sourceAddress: bytes.slice(SOURCE, SOURCE + 16),
    destinationAddress: bytes.slice(DESTINATION, DESTINATION + 16),
    extensions,
    nextHeader: next,
  };
  return ok({
    header,
    extensions,
    upperProtocol: next,
    upperOffset: offset,
    payload: bytes.subarray(offset, end),
  });
}

function needAddress(where: string, address: Uint8Array): void {
  if (address.length !== 16) {
    throw new RangeError(`${where}: expected a 16-byte address, got ${address.length} bytes`);
  }
}

/**
 * Returns the 16 bytes of an IPv6 address in RFC 4291 §2.2 text: eight hex groups, one `::`
 * for a run of zero groups, optionally a dotted-quad IPv4 tail. Zone indices are refused.
 */
export function parseAddress(text: string): Uint8Array {
  const fail = (): never => {
    throw new TypeError(
      `ipv6.parseAddress: expected an address like 2001:db8::1, got ${JSON.stringify(text)}`
    );
  };
  const halves = text.split('::');
  if (halves.length > 2) fail();
  // Only the last group of the whole address may be a dotted quad (RFC 4291 §2.2, form 3).
  const words = (half: string, last: boolean): number[] => {
    if (half === '') return [];
    const groups = half.split(':');
    const out: number[] = [];
    groups.forEach((group, i) => {
      if (last && i === groups.length - 1 && group.includes('.')) {
        const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(group);
        if (v4 === null) return fail();
        const b = v4.slice(1).map(Number);
        if (b.some((x) => x > 255)) fail();
        out.push((b[0] << 8) | b[1], (b[2] << 8) | b[3]);
        return;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(group)) fail();
      out.push(parseInt(group, 16));
    });
    return out;
  };
  const head = words(halves[0], halves.length === 1);
  const tail = halves.length === 2 ? words(halves[1], true) : [];
  const count = head.length + tail.length;
  if (halves.length === 1 ? count !== 8 : count > 7) fail();
  const all = [...head, ...new Array<number>(8 - count).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  const dv = view(bytes);
  all.forEach((word, i) => {
    dv.setUint16(i * 2, word);
  });
  return bytes;
}

/**
 * Returns an IPv6 address in RFC 5952 §4 canonical text: lower-case hex without leading zeros,
 * the longest run (first if tied) of two or more zero groups as `::`, and IPv4-mapped addresses
 * as `::ffff:192.0.2.1` (§5).
 */
export function formatAddress(address: Uint8Array): string {
  needAddress('ipv6.formatAddress', address);
  const dv = view(address);
  const words = Array.from({ length: 8 }, (_, i) => dv.getUint16(i * 2));
  if (words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    return `::ffff:${address[12]}.${address[13]}.${address[14]}.${address[15]}`;
  }
  // RFC 5952 §4.2.2–4.2.3: compress the longest run of ≥ 2 zero groups, the first if tied.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]): string => ws.map((w) => w.toString(16)).join(':');
  if (bestStart < 0) return hex(words);
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`;
}
