/**
 * @module
 * A layer-by-layer printout of a frame, one line per layer, that annotates defects instead of
 * failing (smoltcp `wire/pretty_print.rs`): a wrong checksum prints "(checksum incorrect)", bytes
 * that stop parsing print "(truncated at 37)" with the offset from the start of the frame, bad
 * ESP padding prints "(bad padding)". Never throws on any input bytes.
 *
 * `wire` knows no keys: ESP stays "encrypted" unless the caller passes an `openEsp` hook (the
 * decoder in a higher layer connects it to `crypto`), and AH ICVs are judged only through a
 * `verifyAh` hook.
 *
 * ```
 * eth 02:00:00:00:00:01 > 02:00:00:00:00:02 ipv4
 *  \ ipv4 192.0.2.1 > 198.51.100.7 esp ttl=64 id=1 len=1452
 *   \ esp spi=0x00001001 seq=7 iv=8 icv=16 pad=2 next=tcp
 *    \ tcp 49152 > 443 seq=1000 ack=0 [PA] win=65535 len=1380
 * ```
 */
import * as ah from './ah.ts';
import { pseudoHeaderV4, pseudoHeaderV6 } from './checksum.ts';
import * as esp from './esp.ts';
import * as ethernet from './ethernet.ts';
import * as ipv4 from './ipv4.ts';
import * as ipv6 from './ipv6.ts';
import type { Malformed } from './parsed.ts';
import * as tcp from './tcp.ts';
import * as udp from './udp.ts';
import * as udpencap from './udpencap.ts';

/** One printed layer: nesting depth, the layer's name, its fields, and the defects found. */
export interface Line {
  readonly depth: number;
  readonly layer: string;
  readonly text: string;
  readonly defects: readonly string[];
}

/** What opening one ESP packet gave: the plaintext (payload ‖ padding ‖ trailer), or why not. */
export type EspOpened =
  | {
      readonly ok: true;
      /** Payload ‖ padding ‖ Pad Length ‖ Next Header, decrypted (no IV, no ICV). */
      readonly plaintext: Uint8Array;
      readonly ivLength: number;
      readonly icvLength: number;
      /** Extra words for the line, e.g. `aes-gcm-128`. */
      readonly note?: string;
    }
  | { readonly ok: false; readonly defect: string };

/** Addresses of the IP header that carries a layer (for pseudo-headers and SA lookup). */
export interface IpContext {
  readonly version: 4 | 6;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

/** Hooks a caller with keys can give: ESP decryption and AH verification (higher layers). */
export interface Options {
  /**
   * Opens the ESP packet `packet` (SPI to the end, a copy the hook may decrypt in place) sent
   * inside `ip`; `undefined` means no key is known (the line then says "encrypted").
   */
  readonly openEsp?: (packet: Uint8Array, ip: IpContext) => EspOpened | undefined;
  /**
   * Verifies the AH ICV of `ipPacket` (from its IP header), whose AH header sits at `ahOffset`;
   * returns a defect such as `'icv mismatch'`, `null` when it verifies, `undefined` without a key.
   */
  readonly verifyAh?: (
    ipPacket: Uint8Array,
    ahOffset: number,
    spi: number
  ) => string | null | undefined;
  /**
   * Sees the SPI and sequence number of every AH/ESP header after its ICV was judged, and returns
   * an extra defect for its line (a decoder's replay check) or `null`.
   */
  readonly checkSequence?: (check: SequenceCheck) => string | null;
}

/** One AH/ESP header as {@link Options.checkSequence} sees it. */
export interface SequenceCheck {
  readonly protocol: 'esp' | 'ah';
  readonly spi: number;
  /** The 32-bit Sequence Number field (the low half with ESN). */
  readonly sequenceNumber: number;
  /** The IP header that carries it (its destination identifies the SA with the SPI). */
  readonly ip: IpContext;
  /** True: the ICV verified; false: it did not; undefined: no key. */
  readonly verified: boolean | undefined;
}

/** Where the walk is: the output lines, the hooks, and the frame offset of the current layer. */
interface Walk {
  readonly lines: Line[];
  readonly options: Options;
}

/** Lower-case hex with `0x`, padded to `digits`. */
const hex = (n: number, digits: number): string =>
  `0x${(n >>> 0).toString(16).padStart(digits, '0')}`;

/** "(truncated at 37)", "(bad-version at 0)": a parse failure with its offset in the frame. */
function failure(error: Malformed, base: number): string {
  const reason = error.reason.replace(/-/g, ' ');
  return `${reason} at ${error.offset + base}`;
}

function push(
  walk: Walk,
  depth: number,
  layer: string,
  text: string,
  defects: string[] = []
): void {
  walk.lines.push({ depth, layer, text, defects });
}

/** Prints `frame` (an Ethernet II frame) layer by layer. */
export function describeFrame(frame: Uint8Array, options: Options = {}): Line[] {
  const walk: Walk = { lines: [], options };
  const eth = ethernet.parse(frame);
  if (!eth.ok) {
    push(walk, 0, 'eth', `${frame.length} bytes`, [failure(eth.error, 0)]);
    return walk.lines;
  }
  const h = eth.value.header;
  const vlan = h.vlan ? ` vlan=${h.vlan.vid} pcp=${h.vlan.pcp}` : '';
  const type = ethernet.etherTypeName(h.etherType);
  push(
    walk,
    0,
    'eth',
    `${ethernet.formatMac(h.source)} > ${ethernet.formatMac(h.destination)}${vlan} ${type}`
  );
  const base = frame.length - eth.value.payload.length;
  ethertype(walk, h.etherType, eth.value.payload, base, 1);
  return walk.lines;
}

/** Prints an IP packet (IPv4 or IPv6, by its version nibble) layer by layer. */
export function describeIp(packet: Uint8Array, options: Options = {}): Line[] {
  const walk: Walk = { lines: [], options };
  ip(walk, packet, 0, 0);
  return walk.lines;
}

function ethertype(
  walk: Walk,
  etherType: number,
  payload: Uint8Array,
  base: number,
  depth: number
): void {
  if (etherType === ethernet.EtherType.Ipv4 || etherType === ethernet.EtherType.Ipv6) {
    ip(walk, payload, base, depth);
  } else {
    push(walk, depth, 'data', `${payload.length} bytes`);
  }
}

/**
 * The defects of an IP header that did not parse; when its length field declares more bytes
 * than the frame holds, also "truncated at <end of the frame>" (a frame cut short).
 */
function ipFailure(error: Malformed, bytes: Uint8Array, base: number, version: 4 | 6): string[] {
  const defects = [failure(error, base)];
  if (error.reason !== 'length-mismatch') return defects;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const declared = version === 4 ? dv.getUint16(2) : 40 + dv.getUint16(4);
  if (declared > bytes.length) defects.push(`truncated at ${base + bytes.length}`);
  return defects;
}

/** An IP packet at frame offset `base`. */
function ip(walk: Walk, bytes: Uint8Array, base: number, depth: number): void {
  const version = bytes.length > 0 ? bytes[0] >>> 4 : 0;
  if (version === 4) {
    const r = ipv4.parse(bytes);
    if (!r.ok) {
      push(walk, depth, 'ipv4', `${bytes.length} bytes`, ipFailure(r.error, bytes, base, 4));
      return;
    }
    const p = r.value;
    const h = p.header;
    const frag =
      (h.dontFragment ? ' df' : '') +
      (h.moreFragments ? ' mf' : '') +
      (h.fragmentOffset !== 0 ? ` off=${h.fragmentOffset * 8}` : '');
    const opts = h.options.length > 0 ? ` options=${h.options.length}` : '';
    const defects = p.checksumValid ? [] : ['checksum incorrect'];
    push(
      walk,
      depth,
      'ipv4',
      `${ipv4.formatAddress(h.sourceAddress)} > ${ipv4.formatAddress(h.destinationAddress)} ` +
        `${ipv4.protocolName(h.protocol)} ttl=${h.timeToLive} id=${h.identification}${frag}${opts} ` +
        `len=${p.headerLength + p.payload.length}`,
      defects
    );
    const context: IpContext = {
      version: 4,
      source: h.sourceAddress,
      destination: h.destinationAddress,
    };
    if (h.fragmentOffset !== 0 || h.moreFragments) {
      push(walk, depth + 1, 'fragment', `${p.payload.length} bytes`);
      return;
    }
    upper(
      walk,
      h.protocol,
      p.payload,
      base + p.headerLength,
      depth + 1,
      context,
      bytes,
      p.headerLength
    );
    return;
  }
  if (version === 6) {
    const r = ipv6.parse(bytes);
    if (!r.ok) {
      push(walk, depth, 'ipv6', `${bytes.length} bytes`, ipFailure(r.error, bytes, base, 6));
      return;
    }
    const p = r.value;
    const h = p.header;
    const ext = p.extensions.map((e) => ipv4.protocolName(e.type)).join(',');
    push(
      walk,
      depth,
      'ipv6',
      `${ipv6.formatAddress(h.sourceAddress)} > ${ipv6.formatAddress(h.destinationAddress)} ` +
        `${ipv4.protocolName(p.upperProtocol)} hlim=${h.hopLimit}` +
        (h.flowLabel !== 0 ? ` flow=${hex(h.flowLabel, 5)}` : '') +
        (ext ? ` ext=${ext}` : '') +
        ` len=${p.upperOffset + p.payload.length}`
    );
    const context: IpContext = {
      version: 6,
      source: h.sourceAddress,
      destination: h.destinationAddress,
    };
    if (p.extensions.some((e) => e.type === ipv4.IpProtocol.Fragment)) {
      push(walk, depth + 1, 'fragment', `${p.payload.length} bytes`);
      return;
    }
    upper(
      walk,
      p.upperProtocol,
      p.payload,
      base + p.upperOffset,
      depth + 1,
      context,
      bytes,
      p.upperOffset
    );
    return;
  }
  push(walk, depth, 'ip', `${bytes.length} bytes`, [`bad version ${version} at ${base}`]);
}

/**
 * The layer after an IP header (or after AH / decrypted ESP): `packet` is the whole IP packet
 * that carries it and `offset` where this layer starts inside it (AH needs the whole packet).
 */
function upper(
  walk: Walk,
  protocol: number,
  bytes: Uint8Array,
  base: number,
  depth: number,
  context: IpContext,
  packet: Uint8Array | null,
  offset: number
): void {
  switch (protocol) {
    case ipv4.IpProtocol.Tcp: {
      tcpLine(walk, bytes, base, depth, context);
      return;
    }
    case ipv4.IpProtocol.Udp: {
      udpLine(walk, bytes, base, depth, context);
      return;
    }
    case ipv4.IpProtocol.Esp: {
      espLine(walk, bytes, base, depth, context);
      return;
    }
    case ipv4.IpProtocol.Ah: {
      ahLine(walk, bytes, base, depth, context, packet, offset);
      return;
    }
    case ipv4.IpProtocol.Ipip:
    case ipv4.IpProtocol.Ipv6: {
      ip(walk, bytes, base, depth);
      return;
    }
    case ipv4.IpProtocol.NoNext: {
      push(walk, depth, 'none', `${bytes.length} bytes`);
      return;
    }
    default: {
      push(walk, depth, ipv4.protocolName(protocol), `${bytes.length} bytes`);
      return;
    }
  }
}

/** The pseudo-header sum for a TCP/UDP checksum in `context`. */
function pseudo(context: IpContext, protocol: number, length: number): number {
  return context.version === 4
    ? pseudoHeaderV4(context.source, context.destination, protocol, length)
    : pseudoHeaderV6(context.source, context.destination, protocol, length);
}

const TCP_FLAG_LETTERS: readonly (readonly [number, string])[] = [
  [tcp.Flags.Fin, 'F'],
  [tcp.Flags.Syn, 'S'],
  [tcp.Flags.Rst, 'R'],
  [tcp.Flags.Psh, 'P'],
  [tcp.Flags.Ack, 'A'],
  [tcp.Flags.Urg, 'U'],
  [tcp.Flags.Ece, 'E'],
  [tcp.Flags.Cwr, 'C'],
];

/** A TCP option as printed: `mss=1460`, `ts`, `sack`, `opt30`. */
function optionName(o: tcp.Option): string {
  switch (o.type) {
    case 'mss':
      return `mss=${o.mss}`;
    case 'window-scale':
      return `wscale=${o.shift}`;
    case 'timestamps':
      return 'ts';
    case 'unknown':
      return `opt${o.kind}`;
    case 'nop':
    case 'sack-permitted':
    case 'sack':
      return o.type;
  }
}

function tcpLine(
  walk: Walk,
  bytes: Uint8Array,
  base: number,
  depth: number,
  context: IpContext
): void {
  const r = tcp.parse(bytes);
  if (!r.ok) {
    push(walk, depth, 'tcp', `${bytes.length} bytes`, [failure(r.error, base)]);
    return;
  }
  const h = r.value.header;
  let flags = '';
  for (const [bit, letter] of TCP_FLAG_LETTERS) if ((h.flags & bit) !== 0) flags += letter;
  const defects =
    bytes.length <= 0xffff &&
    tcp.checksumValid(bytes, pseudo(context, ipv4.IpProtocol.Tcp, bytes.length))
      ? []
      : ['checksum incorrect'];
  const opts =
    h.options.length > 0
      ? ` opts=${h.options
          .filter((o) => o.type !== 'nop')
          .map(optionName)
          .join(',')}`
      : '';
  push(
    walk,
    depth,
    'tcp',
    `${h.srcPort} > ${h.dstPort} seq=${h.sequenceNumber} ack=${h.acknowledgmentNumber} ` +
      `[${flags}] win=${h.window}${opts} len=${r.value.payload.length}`,
    defects
  );
}

function udpLine(
  walk: Walk,
  bytes: Uint8Array,
  base: number,
  depth: number,
  context: IpContext
): void {
  const r = udp.parse(bytes);
  if (!r.ok) {
    push(walk, depth, 'udp', `${bytes.length} bytes`, [failure(r.error, base)]);
    return;
  }
  const h = r.value.header;
  const datagram = bytes.subarray(0, udp.HEADER_LENGTH + r.value.payload.length);
  const valid = udp.checksumValid(
    datagram,
    pseudo(context, ipv4.IpProtocol.Udp, datagram.length),
    context.version
  );
  push(
    walk,
    depth,
    'udp',
    `${h.srcPort} > ${h.dstPort} len=${r.value.payload.length}`,
    valid ? [] : ['checksum incorrect']
  );
  const payload = r.value.payload;
  const payloadBase = base + udp.HEADER_LENGTH;
  // RFC 3948 §2: port 4500 carries ESP, IKE (non-ESP marker) and NAT keepalives.
  if (h.srcPort !== udpencap.PORT && h.dstPort !== udpencap.PORT) return;
  const kind = udpencap.classify(payload);
  if (!kind.ok) {
    push(walk, depth + 1, 'udp-encap', `${payload.length} bytes`, [
      failure(kind.error, payloadBase),
    ]);
  } else if (kind.value === 'esp') {
    espLine(walk, payload, payloadBase, depth + 1, context);
  } else if (kind.value === 'ike') {
    push(walk, depth + 1, 'ike', `non-ESP marker, ${payload.length - 4} bytes`);
  } else {
    push(walk, depth + 1, 'keepalive', 'NAT-keepalive (0xff)');
  }
}

/** The defect the `checkSequence` hook reports for an AH/ESP header, if any. */
function sequenceDefects(
  walk: Walk,
  protocol: 'esp' | 'ah',
  spi: number,
  sequenceNumber: number,
  ip: IpContext,
  verified: boolean | undefined
): string[] {
  const check = walk.options.checkSequence;
  if (check === undefined) return [];
  const defect = check({ protocol, spi, sequenceNumber, ip, verified });
  return defect === null ? [] : [defect];
}

function espLine(
  walk: Walk,
  bytes: Uint8Array,
  base: number,
  depth: number,
  context: IpContext
): void {
  const r = esp.parse(bytes);
  if (!r.ok) {
    push(walk, depth, 'esp', `${bytes.length} bytes`, [failure(r.error, base)]);
    return;
  }
  const h = r.value.header;
  const head = `spi=${hex(h.spi, 8)} seq=${h.sequenceNumber}`;
  const opened = walk.options.openEsp?.(bytes.slice(), context);
  const seq = (verified: boolean | undefined): string[] =>
    sequenceDefects(walk, 'esp', h.spi, h.sequenceNumber, context, verified);
  if (opened === undefined) {
    push(walk, depth, 'esp', `${head} encrypted=${r.value.payload.length}`, seq(undefined));
    return;
  }
  if (!opened.ok) {
    push(walk, depth, 'esp', `${head} len=${r.value.payload.length}`, [
      opened.defect,
      ...seq(false),
    ]);
    return;
  }
  const trailer = esp.parseTrailer(opened.plaintext);
  const note = opened.note ? ` ${opened.note}` : '';
  if (!trailer.ok) {
    const plaintextBase = base + esp.HEADER_LENGTH + opened.ivLength;
    push(walk, depth, 'esp', `${head}${note}`, [
      failure(trailer.error, plaintextBase),
      ...seq(true),
    ]);
    return;
  }
  const t = trailer.value;
  const defects = t.padValid ? seq(true) : ['bad padding', ...seq(true)];
  push(
    walk,
    depth,
    'esp',
    `${head}${note} iv=${opened.ivLength} icv=${opened.icvLength} pad=${t.padLength} ` +
      `next=${ipv4.protocolName(t.nextHeader)}`,
    defects
  );
  const inner = opened.plaintext.subarray(0, t.payloadLength);
  const innerBase = base + esp.HEADER_LENGTH + opened.ivLength;
  if (esp.isDummy(t.nextHeader)) {
    push(walk, depth + 1, 'dummy', `${inner.length} bytes`);
    return;
  }
  // Model: after decryption the inner bytes are the transport segment (same IP context) or,
  // in tunnel mode, a whole inner IP packet.
  upper(walk, t.nextHeader, inner, innerBase, depth + 1, context, null, 0);
}

function ahLine(
  walk: Walk,
  bytes: Uint8Array,
  base: number,
  depth: number,
  context: IpContext,
  packet: Uint8Array | null,
  offset: number
): void {
  const r = ah.parse(bytes, { ipVersion: context.version });
  if (!r.ok) {
    push(walk, depth, 'ah', `${bytes.length} bytes`, [failure(r.error, base)]);
    return;
  }
  const h = r.value.header;
  const verdict = packet ? walk.options.verifyAh?.(packet, offset, h.spi) : undefined;
  const verified = verdict === undefined ? undefined : verdict === null;
  const defects = [
    ...(verdict ? [verdict] : []),
    ...sequenceDefects(walk, 'ah', h.spi, h.sequenceNumber, context, verified),
  ];
  const checked = verdict === null ? ' icv ok' : '';
  push(
    walk,
    depth,
    'ah',
    `spi=${hex(h.spi, 8)} seq=${h.sequenceNumber} len=${r.value.headerLength} ` +
      `next=${ipv4.protocolName(h.nextHeader)}${checked}`,
    defects
  );
  upper(
    walk,
    h.nextHeader,
    r.value.payload,
    base + r.value.headerLength,
    depth + 1,
    context,
    null,
    0
  );
}

/** Renders lines as text: one per layer, indented by depth, defects in parentheses. */
export function format(lines: readonly Line[]): string {
  return lines
    .map((l) => {
      const indent = l.depth === 0 ? '' : `${' '.repeat(l.depth)}\\ `;
      const defects = l.defects.map((d) => ` (${d})`).join('');
      return `${indent}${l.layer} ${l.text}${defects}`;
    })
    .join('\n');
}

/** `format(describeFrame(frame, options))`. */
export function pretty(frame: Uint8Array, options: Options = {}): string {
  return format(describeFrame(frame, options));
}
