/**
 * @module
 * A NAT box for UDP-encapsulated ESP (RFC 3948) as NAT traversal (RFC 3947) meets it: a NAPT
 * (RFC 3022 §2.2, "Network Address Port Translation") between an inside host and the outside.
 * Frames from the inside get the public IPv4 source address and a mapped UDP source port; frames
 * from the outside to a mapped public port get the inside address and port back. Both directions
 * are `Link` wrappers sharing one mapping table: `nat.outbound(toOutside)` wraps the link the
 * inside host transmits into, `nat.inbound(toInside)` the link the outside host transmits into.
 *
 * Checksums are adjusted incrementally (RFC 3022 §4.2; RFC 1624 §3 eqn. 3): the IPv4 header
 * checksum for the address, the UDP checksum for the pseudo-header address and the port. An
 * incremental update keeps a checksum that was wrong wrong — the NAT repairs nothing it did not
 * break. A UDP checksum of 0 over IPv4 ("no checksum", RFC 768), which is what UDP-ESP sends
 * (RFC 3948 §2.1, contract D14), stays 0.
 *
 * What is translated: every UDP datagram over IPv4 (not only port 4500, so IKE on port 500 and the
 * port-4500 traffic it floats to, RFC 3947 §4, both work), mapped endpoint-independently (RFC 4787
 * §4.1: one public port per inside address and port, whatever the destination). What passes
 * unchanged and is counted as `untranslated`: non-IPv4 frames (ARP, IPv6 — NAT66 is not modelled),
 * IPv4 that is not UDP (TCP, raw ESP/AH, ICMP) and IPv4 fragments. Frames that do not parse pass
 * unchanged and are counted as `malformed`; the NAT never throws on frame bytes.
 *
 * Translated frames are copies: the NAT never changes an array an earlier tap was shown.
 */
import * as checksum from '../wire/checksum.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as udp from '../wire/udp.ts';
import type { Link } from './link.ts';

/** Options of a {@link Nat}. */
export interface NatOptions {
  /** The NAT's outside IPv4 address, 4 bytes. */
  readonly publicAddress: Uint8Array;
  /** First public port handed out (default 49152, the first dynamic port, RFC 6335 §6). */
  readonly portBase?: number;
  /** Keep the inside port as the public port when it is still free (default false: always map). */
  readonly preservePort?: boolean;
}

/** One endpoint-independent mapping. */
export interface NatMapping {
  /** Inside IPv4 address, 4 bytes. */
  readonly insideAddress: Uint8Array;
  readonly insidePort: number;
  readonly publicPort: number;
}

/** Counters a NAT keeps. */
export interface NatCounters {
  /** Frames from the inside whose source was rewritten. */
  translatedOut: number;
  /** Frames from the outside whose destination was mapped back. */
  translatedIn: number;
  /** Frames passed unchanged because they are not UDP over IPv4, or are fragments. */
  untranslated: number;
  /** Frames passed unchanged because they do not parse (Ethernet, IPv4 or UDP). */
  malformed: number;
  /** UDP frames to the public address on a port with no mapping: dropped. */
  unsolicited: number;
  /** Frames from the inside dropped because no public port was left. */
  exhausted: number;
}

// Offsets inside the IPv4 header (RFC 791 §3.1) and the UDP header (RFC 768).
const IP_SOURCE = 12;
const IP_DESTINATION = 16;
const IP_CHECKSUM = 10;
const UDP_SRC_PORT = 0;
const UDP_DST_PORT = 2;
const UDP_CHECKSUM = 6;

/** Where a translatable datagram sits inside a frame. */
interface Located {
  /** Offset of the IPv4 header in the frame. */
  readonly ip: number;
  /** Offset of the UDP header in the frame. */
  readonly udp: number;
}

/** A NAPT for UDP over IPv4 between one inside and one outside link. */
export class Nat {
  readonly publicAddress: Uint8Array;
  readonly counters: NatCounters = {
    translatedOut: 0,
    translatedIn: 0,
    untranslated: 0,
    malformed: 0,
    unsolicited: 0,
    exhausted: 0,
  };
  readonly #preservePort: boolean;
  #nextPort: number;
  // inside (address as uint32 × 65536 + port, < 2^48) → public port, and back.
  readonly #byInside = new Map<number, number>();
  readonly #byPublic = new Map<number, NatMapping>();

  constructor(options: NatOptions) {
    if (options.publicAddress.length !== 4) {
      throw new RangeError(
        `Nat: expected a 4-byte publicAddress, got ${options.publicAddress.length} bytes`
      );
    }
    const base = options.portBase ?? 49152;
    if (!Number.isInteger(base) || base < 1 || base > 0xffff) {
      throw new RangeError(`Nat: expected portBase from 1 to 65535, got ${base}`);
    }
    this.publicAddress = options.publicAddress.slice();
    this.#nextPort = base;
    this.#preservePort = options.preservePort ?? false;
  }

  /** Returns a `Link` that translates frames from the inside host, then transmits them on `toOutside`. */
  outbound(toOutside: Link): Link {
    return {
      transmit: (frame: Uint8Array): void => {
        this.#outbound(frame, toOutside);
      },
    };
  }

  /** Returns a `Link` that maps frames from the outside back, then transmits them on `toInside`. */
  inbound(toInside: Link): Link {
    return {
      transmit: (frame: Uint8Array): void => {
        this.#inbound(frame, toInside);
      },
    };
  }

  /** The current mappings, in the order they were made. */
  mappings(): NatMapping[] {
    return [...this.#byPublic.values()];
  }

  #outbound(frame: Uint8Array, next: Link): void {
    const at = this.#locate(frame);
    if (at === undefined) {
      next.transmit(frame);
      return;
    }
    const insidePort = word(frame, at.udp + UDP_SRC_PORT);
    const publicPort = this.#map(
      frame.subarray(at.ip + IP_SOURCE, at.ip + IP_SOURCE + 4),
      insidePort
    );
    if (publicPort === undefined) {
      this.counters.exhausted++;
      return;
    }
    // Model: a transparent translator on the cable; a NAT router would also decrement the TTL and
    // re-address the Ethernet header. Both are outside what IPsec protects, so nothing here needs them.
    const out = frame.slice();
    rewrite(out, at, at.ip + IP_SOURCE, this.publicAddress, at.udp + UDP_SRC_PORT, publicPort);
    this.counters.translatedOut++;
    next.transmit(out);
  }

  #inbound(frame: Uint8Array, next: Link): void {
    const at = this.#locate(frame);
    if (at === undefined) {
      next.transmit(frame);
      return;
    }
    const dst = at.ip + IP_DESTINATION;
    if (!sameAddress(frame, dst, this.publicAddress)) {
      // Model: not addressed to the NAT, so not ours to translate (a router would forward it).
      this.counters.untranslated++;
      next.transmit(frame);
      return;
    }
    const mapping = this.#byPublic.get(word(frame, at.udp + UDP_DST_PORT));
    if (mapping === undefined) {
      // RFC 4787 §5: an inbound packet that matches no mapping is filtered.
      this.counters.unsolicited++;
      return;
    }
    const out = frame.slice();
    rewrite(out, at, dst, mapping.insideAddress, at.udp + UDP_DST_PORT, mapping.insidePort);
    this.counters.translatedIn++;
    next.transmit(out);
  }

  /**
   * Finds the IPv4 and UDP headers of a translatable frame; counts and returns `undefined` for a
   * frame to pass unchanged.
   */
  #locate(frame: Uint8Array): Located | undefined {
    const eth = ethernet.parse(frame);
    if (!eth.ok) {
      this.counters.malformed++;
      return undefined;
    }
    if (eth.value.header.etherType !== ethernet.EtherType.Ipv4) {
      this.counters.untranslated++;
      return undefined;
    }
    const ipAt = frame.length - eth.value.payload.length;
    const ip = ipv4.parse(eth.value.payload);
    if (!ip.ok) {
      this.counters.malformed++;
      return undefined;
    }
    const h = ip.value.header;
    if (h.protocol !== ipv4.IpProtocol.Udp) {
      this.counters.untranslated++;
      return undefined;
    }
    if (h.moreFragments || h.fragmentOffset !== 0) {
      // Model: a real NAT reassembles or tracks fragments by IP ID (RFC 4787 §11); we do not.
      this.counters.untranslated++;
      return undefined;
    }
    if (!udp.check(ip.value.payload).ok) {
      this.counters.malformed++;
      return undefined;
    }
    return { ip: ipAt, udp: ipAt + ip.value.headerLength };
  }

  /** The public port for an inside address and port, made on first use; `undefined` when exhausted. */
  #map(insideAddress: Uint8Array, insidePort: number): number | undefined {
    const key = addressKey(insideAddress) * 0x10000 + insidePort;
    const known = this.#byInside.get(key);
    if (known !== undefined) return known;
    let publicPort: number;
    if (this.#preservePort && !this.#byPublic.has(insidePort)) {
      publicPort = insidePort;
    } else {
      while (this.#nextPort <= 0xffff && this.#byPublic.has(this.#nextPort)) this.#nextPort++;
      if (this.#nextPort > 0xffff) return undefined;
      publicPort = this.#nextPort++;
    }
    // Model: mappings never expire (a real NAT times them out; RFC 3948 §2.3 keepalives refresh them).
    this.#byInside.set(key, publicPort);
    this.#byPublic.set(publicPort, {
      insideAddress: insideAddress.slice(),
      insidePort,
      publicPort,
    });
    return publicPort;
  }
}

/** The big-endian 16-bit word at `offset`. */
function word(bytes: Uint8Array, offset: number): number {
  return (bytes[offset] << 8) | bytes[offset + 1];
}

function setWord(bytes: Uint8Array, offset: number, value: number): void {
  bytes[offset] = value >>> 8;
  bytes[offset + 1] = value & 0xff;
}

/** A 4-byte address as an unsigned 32-bit number. */
function addressKey(address: Uint8Array): number {
  return ((address[0] << 24) | (address[1] << 16) | (address[2] << 8) | address[3]) >>> 0;
}

function sameAddress(bytes: Uint8Array, offset: number, address: Uint8Array): boolean {
  return (
    bytes[offset] === address[0] &&
    bytes[offset + 1] === address[1] &&
    bytes[offset + 2] === address[2] &&
    bytes[offset + 3] === address[3]
  );
}

/**
 * Writes `address` at `addressAt` and `port` at `portAt` in `frame`, adjusting the IPv4 header
 * checksum (the address) and a non-zero UDP checksum (pseudo-header address and port) by RFC 1624.
 */
function rewrite(
  frame: Uint8Array,
  at: Located,
  addressAt: number,
  address: Uint8Array,
  portAt: number,
  port: number
): void {
  const oldHigh = word(frame, addressAt);
  const oldLow = word(frame, addressAt + 2);
  const oldPort = word(frame, portAt);
  const newHigh = (address[0] << 8) | address[1];
  const newLow = (address[2] << 8) | address[3];

  const ipSum = at.ip + IP_CHECKSUM;
  setWord(
    frame,
    ipSum,
    checksum.update(checksum.update(word(frame, ipSum), oldHigh, newHigh), oldLow, newLow)
  );

  const udpSum = at.udp + UDP_CHECKSUM;
  const old = word(frame, udpSum);
  // RFC 768: 0 means no checksum was sent (UDP-ESP over IPv4, RFC 3948 §2.1); keep it 0.
  if (old !== 0) {
    let c = checksum.update(old, oldHigh, newHigh);
    c = checksum.update(c, oldLow, newLow);
    c = checksum.update(c, oldPort, port);
    // RFC 768: a computed 0 is transmitted as all ones.
    setWord(frame, udpSum, c === 0 ? 0xffff : c);
  }

  frame.set(address, addressAt);
  setWord(frame, portAt, port);
}
