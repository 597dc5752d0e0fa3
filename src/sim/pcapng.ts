/**
 * @module
 * pcapng captures (draft-ietf-opsawg-pcapng, "PCAP Next Generation (pcapng) Capture File
 * Format"): a writer that Wireshark and tshark read, and a small reader for our own tests and the
 * decoder.
 *
 * The writer emits one section: a Section Header Block (§4.1; version 1.0, Section Length −1,
 * option `shb_userappl`), one Interface Description Block (§4.2; LinkType 1 = LINKTYPE_ETHERNET,
 * options `if_name` and `if_tsresol`), then one Enhanced Packet Block (§4.3) per frame with the
 * 64-bit timestamp split into its high and low 32-bit words and, optionally, an `epb_flags`
 * option (§4.3.1) giving the direction. Every block carries its Block Total Length at both ends
 * and is padded to 32 bits with zeros (§3.1, §3.6.2); options are type–length–value with the value
 * padded to 32 bits, and an option list ends with `opt_endofopt` (§3.5). The writer is
 * deterministic — no host name, OS or wall-clock time — so a seeded run gives a byte-identical
 * file (style practice 15). Bytes go into chunks of 64 KiB (a block larger than a chunk gets a
 * chunk of its own), so recording a frame never copies what was written before.
 *
 * The reader accepts either byte order per section (§3.6.1: the Byte-Order Magic 0x1A2B3C4D, read
 * as written or swapped), several sections, several interfaces, `if_tsresol` in powers of 10 and
 * of 2 (§4.2) and `if_tsoffset`; it skips blocks it does not know (§3.1) and sections with a major
 * version other than 1 (§3.4). Malformed input is a `Parsed` failure with a reason and an offset,
 * never a throw (contract §4, kind 1).
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { malformed, ok, type Parsed } from '../wire/parsed.ts';
import type { Direction, Observer } from './link.ts';

/** Block Type codes (§3.1, §4). */
export const BlockType = {
  InterfaceDescription: 0x00000001,
  SimplePacket: 0x00000003,
  NameResolution: 0x00000004,
  InterfaceStatistics: 0x00000005,
  EnhancedPacket: 0x00000006,
  SectionHeader: 0x0a0d0d0a,
} as const;

/** The Byte-Order Magic of a Section Header Block (§4.1). */
export const BYTE_ORDER_MAGIC = 0x1a2b3c4d;

/** LINKTYPE_ETHERNET: IEEE 802.3 Ethernet frames without preamble and FCS (draft-richardson-opsawg-pcaplinktype). */
export const LINKTYPE_ETHERNET = 1;

/** Option codes used here (§3.5, §4.1, §4.2, §4.3); a code means something only in its block type. */
export const OptionCode = {
  EndOfOpt: 0,
  Comment: 1,
  ShbUserAppl: 4,
  IfName: 2,
  IfTsresol: 9,
  IfTsoffset: 14,
  EpbFlags: 2,
} as const;

/** The direction bits of the `epb_flags` word (§4.3.1, bits 0–1). */
export const EpbDirection = { Unknown: 0, Inbound: 1, Outbound: 2 } as const;

// Block layout (§4.1, §4.2, §4.3): offsets from the start of the block.
const SHB_FIXED = 24; // type, length, magic, major, minor, section length
const IDB_FIXED = 16; // type, length, linktype, reserved, snaplen
const EPB_FIXED = 28; // type, length, interface, ts high, ts low, captured, original
const TRAILER = 4; // the repeated Block Total Length
const MIN_BLOCK = 12; // §3.1: a block without a body

const CHUNK = 64 * 1024;
const TWO_64 = 1n << 64n;
const APPLICATION = 'ipsecov2';

/** Bytes `n` rounded up to 32 bits. */
const pad4 = (n: number): number => (n + 3) & ~3;

/** Options of a {@link PcapngWriter}. */
export interface WriterOptions {
  /**
   * Timestamp resolution as a negative power of 10 (`if_tsresol` with its high bit clear): 9 =
   * nanoseconds (default), 6 = microseconds, 0 = seconds. Timestamps given in nanoseconds are
   * divided down (truncated) to this unit.
   */
  readonly tsresol?: number;
  /** SnapLen of the interface (§4.2): frames longer are cut; 0 (default) = no limit. */
  readonly snapLen?: number;
  /** LinkType of the interface (default {@link LINKTYPE_ETHERNET}). */
  readonly linkType?: number;
  /** `if_name` of the interface (default none). */
  readonly interfaceName?: string;
  /** Byte order of the section (default little-endian, as written on x86). */
  readonly littleEndian?: boolean;
}

/** Writes a pcapng capture into memory, block by block. */
export class PcapngWriter {
  readonly tsresol: number;
  readonly snapLen: number;
  readonly littleEndian: boolean;
  readonly #divisor: bigint;
  readonly #done: Uint8Array[] = [];
  #chunk = new Uint8Array(0);
  #dv = new DataView(this.#chunk.buffer);
  #at = 0;
  #length = 0;
  #packets = 0;

  /** Starts the capture: writes the Section Header Block and the Interface Description Block. */
  constructor(options: WriterOptions = {}) {
    const tsresol = options.tsresol ?? 9;
    if (!Number.isInteger(tsresol) || tsresol < 0 || tsresol > 9) {
      throw new RangeError(`PcapngWriter: expected tsresol from 0 to 9, got ${tsresol}`);
    }
    const snapLen = options.snapLen ?? 0;
    if (!Number.isInteger(snapLen) || snapLen < 0 || snapLen > 0xffffffff) {
      throw new RangeError(`PcapngWriter: expected snapLen from 0 to 2^32 - 1, got ${snapLen}`);
    }
    const linkType = options.linkType ?? LINKTYPE_ETHERNET;
    if (!Number.isInteger(linkType) || linkType < 0 || linkType > 0xffff) {
      throw new RangeError(`PcapngWriter: expected linkType from 0 to 65535, got ${linkType}`);
    }
    this.tsresol = tsresol;
    this.snapLen = snapLen;
    this.littleEndian = options.littleEndian ?? true;
    this.#divisor = 10n ** BigInt(9 - tsresol);
    this.#writeShb();
    this.#writeIdb(linkType, options.interfaceName);
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.#length;
  }

  /** Enhanced Packet Blocks written so far. */
  get packets(): number {
    return this.#packets;
  }

  /**
   * Appends one frame as an Enhanced Packet Block, stamped `timestampNanos` (nanoseconds since
   * 1970), with an `epb_flags` option when `flags` is given (e.g. {@link EpbDirection}).
   */
  writePacket(frame: Uint8Array, timestampNanos: bigint, flags?: number): void {
    if (timestampNanos < 0n || timestampNanos >= TWO_64) {
      throw new RangeError(
        `PcapngWriter.writePacket: expected a timestamp from 0 to 2^64 - 1 ns, got ${timestampNanos}`
      );
    }
    if (flags !== undefined && (!Number.isInteger(flags) || flags < 0 || flags > 0xffffffff)) {
      throw new RangeError(
        `PcapngWriter.writePacket: expected flags from 0 to 2^32 - 1, got ${flags}`
      );
    }
    const captured =
      this.snapLen !== 0 && frame.length > this.snapLen ? this.snapLen : frame.length;
    const options = flags === undefined ? 0 : 8 + 4; // epb_flags (4 + 4) + opt_endofopt (4)
    const total = EPB_FIXED + pad4(captured) + options + TRAILER;
    const at = this.#reserve(total);
    const dv = this.#dv;
    const le = this.littleEndian;
    const units = this.#divisor === 1n ? timestampNanos : timestampNanos / this.#divisor;
    dv.setUint32(at, BlockType.EnhancedPacket, le);
    dv.setUint32(at + 4, total, le);
    dv.setUint32(at + 8, 0, le); // Interface ID: the one IDB of this section
    dv.setUint32(at + 12, Number(units >> 32n), le); // Timestamp (High)
    dv.setUint32(at + 16, Number(units & 0xffffffffn), le); // Timestamp (Low)
    dv.setUint32(at + 20, captured, le); // Captured Packet Length
    dv.setUint32(at + 24, frame.length, le); // Original Packet Length
    const chunk = this.#chunk;
    chunk.set(captured === frame.length ? frame : frame.subarray(0, captured), at + EPB_FIXED);
    let o = at + EPB_FIXED + captured;
    // §3.6.2: alignment octets are zero.
    while (o & 3) chunk[o++] = 0;
    if (flags !== undefined) {
      dv.setUint16(o, OptionCode.EpbFlags, le);
      dv.setUint16(o + 2, 4, le);
      dv.setUint32(o + 4, flags, le);
      dv.setUint32(o + 8, 0, le); // opt_endofopt, length 0
      o += 12;
    }
    dv.setUint32(o, total, le);
    this.#packets++;
  }

  /** The capture so far as one array (one copy of every chunk). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#parts()) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }

  /** Writes the capture so far to the file at `path` (created or replaced), chunk by chunk. */
  writeTo(path: string): void {
    const fd = openSync(path, 'w');
    try {
      for (const c of this.#parts()) {
        let off = 0;
        while (off < c.length) off += writeSync(fd, c, off, c.length - off);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** The written bytes: the finished chunks, then the used part of the current one. */
  #parts(): Uint8Array[] {
    return [...this.#done, this.#chunk.subarray(0, this.#at)];
  }

  /** Makes room for a `size`-byte block in the current chunk and returns its offset. */
  #reserve(size: number): number {
    if (this.#at + size > this.#chunk.length) {
      if (this.#at > 0) this.#done.push(this.#chunk.subarray(0, this.#at));
      this.#chunk = new Uint8Array(Math.max(CHUNK, size));
      this.#dv = new DataView(this.#chunk.buffer);
      this.#at = 0;
    }
    const at = this.#at;
    this.#at += size;
    this.#length += size;
    return at;
  }

  /** Writes one option (code, length, value padded to 32 bits) at `at`; returns the next offset. */
  #option(at: number, code: number, value: Uint8Array): number {
    this.#dv.setUint16(at, code, this.littleEndian);
    this.#dv.setUint16(at + 2, value.length, this.littleEndian);
    this.#chunk.set(value, at + 4);
    const end = at + 4 + pad4(value.length);
    this.#chunk.fill(0, at + 4 + value.length, end);
    return end;
  }

  #writeShb(): void {
    const appl = new TextEncoder().encode(APPLICATION);
    const total = SHB_FIXED + 4 + pad4(appl.length) + 4 + TRAILER;
    const at = this.#reserve(total);
    const dv = this.#dv;
    const le = this.littleEndian;
    dv.setUint32(at, BlockType.SectionHeader, le);
    dv.setUint32(at + 4, total, le);
    dv.setUint32(at + 8, BYTE_ORDER_MAGIC, le);
    dv.setUint16(at + 12, 1, le); // Major Version
    dv.setUint16(at + 14, 0, le); // Minor Version
    dv.setBigInt64(at + 16, -1n, le); // Section Length: not specified
    let o = this.#option(at + SHB_FIXED, OptionCode.ShbUserAppl, appl);
    o = this.#option(o, OptionCode.EndOfOpt, new Uint8Array(0));
    dv.setUint32(o, total, le);
  }

  #writeIdb(linkType: number, name: string | undefined): void {
    const nameBytes = name === undefined ? undefined : new TextEncoder().encode(name);
    if (nameBytes !== undefined && nameBytes.length > 0xffff) {
      throw new RangeError(
        `PcapngWriter: expected an interfaceName of at most 65535 bytes, got ${nameBytes.length}`
      );
    }
    const nameLength = nameBytes === undefined ? 0 : 4 + pad4(nameBytes.length);
    const total = IDB_FIXED + nameLength + 8 + 4 + TRAILER; // if_tsresol (4 + 4), opt_endofopt
    const at = this.#reserve(total);
    const dv = this.#dv;
    const le = this.littleEndian;
    dv.setUint32(at, BlockType.InterfaceDescription, le);
    dv.setUint32(at + 4, total, le);
    dv.setUint16(at + 8, linkType, le);
    dv.setUint16(at + 10, 0, le); // Reserved
    dv.setUint32(at + 12, this.snapLen, le);
    let o = at + IDB_FIXED;
    if (nameBytes !== undefined) o = this.#option(o, OptionCode.IfName, nameBytes);
    // §4.2 if_tsresol: high bit clear = negative power of 10.
    o = this.#option(o, OptionCode.IfTsresol, Uint8Array.of(this.tsresol));
    o = this.#option(o, OptionCode.EndOfOpt, new Uint8Array(0));
    dv.setUint32(o, total, le);
  }
}

/**
 * Returns a tap observer that records every frame into `writer`, with `epb_flags` set as seen from
 * host A: A→B outbound, B→A inbound.
 */
export function captureObserver(writer: PcapngWriter): Observer {
  return (frame: Uint8Array, timestampNanos: bigint, direction: Direction): void => {
    writer.writePacket(
      frame,
      timestampNanos,
      direction === 'a-to-b' ? EpbDirection.Outbound : EpbDirection.Inbound
    );
  };
}

// ---------------------------------------------------------------------------------------------
// Reader

/** An interface described by an Interface Description Block. */
export interface Interface {
  /** The section (from 0) the interface belongs to. */
  readonly section: number;
  readonly linkType: number;
  readonly snapLen: number;
  /** The raw `if_tsresol` octet (6 when the option is absent, §4.2). */
  readonly tsresol: number;
  /** `if_tsoffset` in seconds (0 when absent). */
  readonly tsoffset: bigint;
  /** `if_name`, when present. */
  readonly name?: string;
}

/** A packet from an Enhanced Packet Block. */
export interface Packet {
  /** The section (from 0) the packet belongs to. */
  readonly section: number;
  /** The Interface ID: an index into the section's interfaces. */
  readonly interfaceId: number;
  /** The raw 64-bit timestamp, in the interface's units. */
  readonly timestamp: bigint;
  /** The timestamp in nanoseconds since 1970, `if_tsoffset` included (truncated when coarser units do not divide evenly). */
  readonly timestampNanos: bigint;
  /** Original Packet Length. */
  readonly originalLength: number;
  /** The captured bytes (a zero-copy subarray of the input). */
  readonly data: Uint8Array;
  /** The `epb_flags` word, when present. */
  readonly flags?: number;
}

/** What a pcapng file holds. */
export interface Capture {
  /** Section Header Blocks read (a skipped section counts). */
  readonly sections: number;
  /** Byte order of the last section: true for little-endian. */
  readonly littleEndian: boolean;
  readonly interfaces: Interface[];
  readonly packets: Packet[];
  /** Blocks skipped: unknown types, Simple Packet Blocks, and blocks of sections with another major version. */
  readonly skippedBlocks: number;
}

/** Interface state while reading: the public fields plus the tsresol conversion. */
interface IfState {
  readonly info: Interface;
  readonly toNanos: (units: bigint) => bigint;
}

/** Returns a function from timestamp units to nanoseconds for an `if_tsresol` octet (§4.2). */
function unitsToNanos(tsresol: number, tsoffset: bigint): (units: bigint) => bigint {
  const offset = tsoffset * 1_000_000_000n;
  const exponent = tsresol & 0x7f;
  if (tsresol & 0x80) {
    // High bit set: units of 2^-exponent seconds.
    const shift = BigInt(exponent);
    return (u) => ((u * 1_000_000_000n) >> shift) + offset;
  }
  if (exponent <= 9) {
    const m = 10n ** BigInt(9 - exponent);
    return (u) => u * m + offset;
  }
  const d = 10n ** BigInt(exponent - 9);
  return (u) => u / d + offset;
}

/** Decodes options from `at` to `end`; calls `each(code, value)`; returns an error offset or -1. */
function walkOptions(
  bytes: Uint8Array,
  dv: DataView,
  at: number,
  end: number,
  le: boolean,
  each: (code: number, value: Uint8Array) => void
): number {
  let o = at;
  while (o < end) {
    // §3.5: readers must not rely on opt_endofopt; the block end also ends the list.
    if (o + 4 > end) return o;
    const code = dv.getUint16(o, le);
    const length = dv.getUint16(o + 2, le);
    if (code === OptionCode.EndOfOpt) return -1;
    if (o + 4 + length > end) return o;
    each(code, bytes.subarray(o + 4, o + 4 + length));
    o += 4 + pad4(length);
  }
  return -1;
}

/**
 * Reads a pcapng capture. Fails with `bad-magic` (the file does not begin with a Section Header
 * Block, or its Byte-Order Magic is neither order), `truncated` (a block or field runs past the
 * end), `bad-block-length` (below the block's minimum or not a multiple of 4), `length-mismatch`
 * (the trailing Block Total Length differs), `bad-option` (an option runs past its block),
 * `bad-packet-length` (Captured Packet Length past the block body) or `bad-interface` (a packet
 * names an interface not described before it). Offsets are from the start of `bytes`.
 */
export function read(bytes: Uint8Array): Parsed<Capture> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const interfaces: Interface[] = [];
  const packets: Packet[] = [];
  let sections = 0;
  let skippedBlocks = 0;
  let le = true;
  let section: IfState[] = [];
  let skipSection = false;
  let o = 0;
  if (bytes.length === 0) return malformed('pcapng', 'truncated', 0);
  while (o < bytes.length) {
    if (o + 8 > bytes.length) return malformed('pcapng', 'truncated', bytes.length);
    const type = dv.getUint32(o, true); // the SHB type is palindromic; others are checked below
    if (type === BlockType.SectionHeader) {
      if (o + 12 > bytes.length) return malformed('pcapng', 'truncated', bytes.length);
      const magic = dv.getUint32(o + 8, true);
      if (magic === BYTE_ORDER_MAGIC) le = true;
      else if (magic === 0x4d3c2b1a) le = false;
      else return malformed('pcapng', 'bad-magic', o + 8);
    } else if (o === 0) {
      return malformed('pcapng', 'bad-magic', 0);
    }
    const blockType = dv.getUint32(o, le);
    const total = dv.getUint32(o + 4, le);
    const min = blockType === BlockType.SectionHeader ? SHB_FIXED + TRAILER : MIN_BLOCK;
    if (total < min || total % 4 !== 0) return malformed('pcapng', 'bad-block-length', o + 4);
    if (total > bytes.length - o) return malformed('pcapng', 'truncated', bytes.length);
    const end = o + total - TRAILER; // the body ends where the trailing length starts
    if (dv.getUint32(end, le) !== total) return malformed('pcapng', 'length-mismatch', end);

    if (blockType === BlockType.SectionHeader) {
      sections++;
      section = [];
      // §4.1: major version 1; §3.4: a section of another version is skipped as a whole.
      skipSection = dv.getUint16(o + 12, le) !== 1;
      if (skipSection) skippedBlocks++;
      else {
        const bad = walkOptions(bytes, dv, o + SHB_FIXED, end, le, () => undefined);
        if (bad >= 0) return malformed('pcapng', 'bad-option', bad);
      }
    } else if (skipSection) {
      skippedBlocks++;
    } else if (blockType === BlockType.InterfaceDescription) {
      if (total < IDB_FIXED + TRAILER) return malformed('pcapng', 'bad-block-length', o + 4);
      let tsresol = 6;
      let tsoffset = 0n;
      let name: string | undefined;
      const bad = walkOptions(bytes, dv, o + IDB_FIXED, end, le, (code, value) => {
        if (code === OptionCode.IfTsresol && value.length === 1) tsresol = value[0];
        else if (code === OptionCode.IfTsoffset && value.length === 8) {
          tsoffset = new DataView(value.buffer, value.byteOffset, 8).getBigInt64(0, le);
        } else if (code === OptionCode.IfName) name = new TextDecoder().decode(value);
      });
      if (bad >= 0) return malformed('pcapng', 'bad-option', bad);
      const info: Interface = {
        section: sections - 1,
        linkType: dv.getUint16(o + 8, le),
        snapLen: dv.getUint32(o + 12, le),
        tsresol,
        tsoffset,
        ...(name === undefined ? {} : { name }),
      };
      interfaces.push(info);
      section.push({ info, toNanos: unitsToNanos(tsresol, tsoffset) });
    } else if (blockType === BlockType.EnhancedPacket) {
      if (total < EPB_FIXED + TRAILER) return malformed('pcapng', 'bad-block-length', o + 4);
      const interfaceId = dv.getUint32(o + 8, le);
      const iface = section[interfaceId] as IfState | undefined;
      if (iface === undefined) return malformed('pcapng', 'bad-interface', o + 8);
      const timestamp =
        (BigInt(dv.getUint32(o + 12, le)) << 32n) | BigInt(dv.getUint32(o + 16, le));
      const captured = dv.getUint32(o + 20, le);
      const data = o + EPB_FIXED;
      if (captured > end - data) return malformed('pcapng', 'bad-packet-length', o + 20);
      let flags: number | undefined;
      const bad = walkOptions(bytes, dv, data + pad4(captured), end, le, (code, value) => {
        if (code === OptionCode.EpbFlags && value.length === 4) {
          flags = new DataView(value.buffer, value.byteOffset, 4).getUint32(0, le);
        }
      });
      if (bad >= 0) return malformed('pcapng', 'bad-option', bad);
      packets.push({
        section: sections - 1,
        interfaceId,
        timestamp,
        timestampNanos: iface.toNanos(timestamp),
        originalLength: dv.getUint32(o + 24, le),
        data: bytes.subarray(data, data + captured),
        ...(flags === undefined ? {} : { flags }),
      });
    } else {
      // §3.1: a reader skips blocks it does not understand (SPB, NRB, ISB, custom, …).
      skippedBlocks++;
    }
    o += total;
  }
  return ok({ sections, littleEndian: le, interfaces, packets, skippedBlocks });
}
