/**
 * @module
 * Ethernet II frames (IEEE 802.3 §3.2.6 "Length/Type" used as EtherType) with at most one
 * IEEE 802.1Q tag (TPID 0x8100, then PCP, DEI and VID in the 16-bit TCI, 802.1Q §9.6), the
 * EtherType numbers the model uses, and MAC address text helpers.
 *
 * Modelled: destination, source, optional single 802.1Q tag, EtherType. Not modelled: the
 * preamble and FCS (the NIC strips them), 802.3 length frames (EtherType < 0x0600), stacked
 * tags (802.1ad): a second tag is left in the payload with EtherType 0x8100.
 * Short frames are not unpadded: the payload runs to the end of the bytes given, and the IP
 * layer bounds it by its own length field.
 */
import { needRoom, needUint, view } from './bytes.ts';
import { malformed, ok, type Parsed } from './parsed.ts';

/** EtherType numbers (IEEE Registration Authority), as an open set: unknown values pass through. */
export const EtherType = { Ipv4: 0x0800, Arp: 0x0806, Vlan: 0x8100, Ipv6: 0x86dd } as const;

const ETHER_TYPE_NAMES = new Map<number, string>(
  Object.entries(EtherType).map(([name, value]): [number, string] => [value, name.toLowerCase()])
);

/** Returns the lower-case name of an EtherType (`ipv4`), or `unknown(0x88cc)` for others. */
export function etherTypeName(etherType: number): string {
  return ETHER_TYPE_NAMES.get(etherType) ?? `unknown(0x${etherType.toString(16).padStart(4, '0')})`;
}

/** Length of an untagged Ethernet II header in bytes. */
export const HEADER_LENGTH = 14;
/** Length of an 802.1Q-tagged Ethernet II header in bytes. */
export const TAGGED_HEADER_LENGTH = 18;

// Field offsets (IEEE 802.3 §3.1.1; 802.1Q §9.5 tag after the source address).
const DESTINATION = 0; // 6 bytes
const SOURCE = 6; // 6 bytes
const TYPE = 12; // EtherType, or TPID 0x8100 when tagged
const TCI = 14; // tagged only: PCP (3 bits) | DEI (1 bit) | VID (12 bits)
const INNER_TYPE = 16; // tagged only: the EtherType of the payload

/** The 802.1Q tag control information (802.1Q §9.6). */
export interface Vlan {
  /** Priority Code Point, 0–7. */
  readonly pcp: number;
  /** Drop Eligible Indicator. */
  readonly dei: boolean;
  /** VLAN Identifier, 0–4095 (0: priority tag only; 4095 reserved). */
  readonly vid: number;
}

/** What an Ethernet II header means; the header length follows from the presence of `vlan`. */
export interface Header {
  /** Destination MAC address, 6 bytes. */
  readonly destination: Uint8Array;
  /** Source MAC address, 6 bytes. */
  readonly source: Uint8Array;
  /** The 802.1Q tag, when the frame carries one. */
  readonly vlan?: Vlan;
  /** EtherType of the payload (after the tag, when tagged). */
  readonly etherType: number;
}

/** A parsed frame: the header and the bytes after it (a zero-copy subarray). */
export interface Frame {
  readonly header: Header;
  readonly payload: Uint8Array;
}

/**
 * Zero-copy accessors over an Ethernet II frame. Call `parse` first on untrusted bytes: it
 * guarantees 14 bytes, or 18 when `tagged`. Setting `tagged` fields on an untagged frame, or
 * changing the TPID, changes which offsets are valid.
 */
export class View {
  /** The frame bytes the view reads and writes. */
  readonly bytes: Uint8Array;
  /** Destination MAC address (a live 6-byte subarray). */
  readonly destination: Uint8Array;
  /** Source MAC address (a live 6-byte subarray). */
  readonly source: Uint8Array;
  readonly #dv: DataView;

  constructor(bytes: Uint8Array) {
    this.bytes = bytes;
    this.#dv = view(bytes);
    this.destination = bytes.subarray(DESTINATION, DESTINATION + 6);
    this.source = bytes.subarray(SOURCE, SOURCE + 6);
  }

  /** The 16 bits after the source address: the EtherType, or the TPID of a tag. */
  get typeOrTpid(): number {
    return this.#dv.getUint16(TYPE);
  }
  set typeOrTpid(value: number) {
    this.#dv.setUint16(TYPE, value);
  }
  /** Whether the frame carries an 802.1Q tag (TPID 0x8100). */
  get tagged(): boolean {
    return this.#dv.getUint16(TYPE) === EtherType.Vlan;
  }
  /** Header length in bytes: 18 when tagged, else 14. */
  get headerLength(): number {
    return this.tagged ? TAGGED_HEADER_LENGTH : HEADER_LENGTH;
  }
  /** EtherType of the payload: after the tag when tagged. */
  get etherType(): number {
    return this.#dv.getUint16(this.tagged ? INNER_TYPE : TYPE);
  }
  set etherType(value: number) {
    this.#dv.setUint16(this.tagged ? INNER_TYPE : TYPE, value);
  }
  /** Priority Code Point of the tag (tagged frames only). */
  get pcp(): number {
    return this.#dv.getUint16(TCI) >>> 13;
  }
  set pcp(value: number) {
    this.#dv.setUint16(TCI, (this.#dv.getUint16(TCI) & 0x1fff) | ((value & 7) << 13));
  }
  /** Drop Eligible Indicator of the tag (tagged frames only). */
  get dei(): boolean {
    return (this.#dv.getUint16(TCI) & 0x1000) !== 0;
  }
  set dei(value: boolean) {
    this.#dv.setUint16(TCI, (this.#dv.getUint16(TCI) & ~0x1000) | (value ? 0x1000 : 0));
  }
  /** VLAN Identifier of the tag (tagged frames only). */
  get vid(): number {
    return this.#dv.getUint16(TCI) & 0x0fff;
  }
  set vid(value: number) {
    this.#dv.setUint16(TCI, (this.#dv.getUint16(TCI) & 0xf000) | (value & 0x0fff));
  }
}

/** Returns the header length `emit` writes for `header`: 14, or 18 with a VLAN tag. */
export function headerLength(header: Header): number {
  return header.vlan === undefined ? HEADER_LENGTH : TAGGED_HEADER_LENGTH;
}

/**
 * Writes `header` at the start of `out` and returns the bytes written. Ethernet II has no length
 * field, so unlike the other codecs `emit` takes no payload length.
 */
export function emit(header: Header, out: Uint8Array): number {
  const length = headerLength(header);
  needRoom('ethernet.emit', out, 0, length);
  needMac('ethernet.emit destination', header.destination);
  needMac('ethernet.emit source', header.source);
  needUint('ethernet.emit etherType', header.etherType, 0xffff);
  const dv = view(out);
  out.set(header.destination, DESTINATION);
  out.set(header.source, SOURCE);
  const vlan = header.vlan;
  if (vlan === undefined) {
    dv.setUint16(TYPE, header.etherType);
  } else {
    needUint('ethernet.emit vlan.pcp', vlan.pcp, 7);
    needUint('ethernet.emit vlan.vid', vlan.vid, 0x0fff);
    dv.setUint16(TYPE, EtherType.Vlan);
    dv.setUint16(TCI, (vlan.pcp << 13) | (vlan.dei ? 0x1000 : 0) | vlan.vid);
    dv.setUint16(INNER_TYPE, header.etherType);
  }
  return length;
}

/** Parses an Ethernet II frame; fails only with `truncated` (at the first missing byte). */
export function parse(bytes: Uint8Array): Parsed<Frame> {
  if (bytes.length < HEADER_LENGTH) return malformed('ethernet', 'truncated', bytes.length);
  const dv = view(bytes);
  const destination = bytes.slice(DESTINATION, DESTINATION + 6);
  const source = bytes.slice(SOURCE, SOURCE + 6);
  const type = dv.getUint16(TYPE);
  if (type !== EtherType.Vlan) {
    return ok({
      header: { destination, source, etherType: type },
      payload: bytes.subarray(HEADER_LENGTH),
    });
  }
  if (bytes.length < TAGGED_HEADER_LENGTH) return malformed('ethernet', 'truncated', bytes.length);
  const tci = dv.getUint16(TCI);
  return ok({
    header: {
      destination,
      source,
      vlan: { pcp: tci >>> 13, dei: (tci & 0x1000) !== 0, vid: tci & 0x0fff },
      etherType: dv.getUint16(INNER_TYPE),
    },
    payload: bytes.subarray(TAGGED_HEADER_LENGTH),
  });
}

function needMac(where: string, mac: Uint8Array): void {
  if (mac.length !== 6) {
    throw new RangeError(`${where}: expected a 6-byte MAC address, got ${mac.length} bytes`);
  }
}

/** Returns the 6 bytes of a MAC address written as six `:`- or `-`-separated hex pairs. */
export function parseMac(text: string): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) {
    throw new TypeError(
      `ethernet.parseMac: expected six hex pairs like 02:00:00:00:00:01, got ${JSON.stringify(text)}`
    );
  }
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

/** Returns a MAC address as lower-case `02:00:00:00:00:01`. */
export function formatMac(mac: Uint8Array): string {
  needMac('ethernet.formatMac', mac);
  return Array.from(mac, (b) => b.toString(16).padStart(2, '0')).join(':');
}
