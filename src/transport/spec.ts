/**
 * @module
 * What the transport says about one IPsec-offloaded send, before framing: Ethernet and IP headers,
 * the SA bundles (one ADD_SA entry each: AH, ESP, AH+ESP, or UDP-ESP; reference §1.9–§1.12), the
 * TCP/UDP part, the checksum choice (contract D13) and LSO (D2) — and the checks that refuse a
 * description that cannot be framed (contract §4 kind 2: a thrown RangeError, "expected …, got …").
 */
import type * as ethernet from '../wire/ethernet.ts';
import type * as esp from '../wire/esp.ts';
import type * as tcp from '../wire/tcp.ts';
import type * as udp from '../wire/udp.ts';
import { PORT as UDP_ESP_PORT } from '../wire/udpencap.ts';
import * as ip from './ip.ts';
import { MAX_MSS } from './mss.ts';

/** The Ethernet header of the frame; the EtherType follows the outermost IP header. */
export interface EthernetSpec {
  readonly destination: Uint8Array;
  readonly source: Uint8Array;
  /** An 802.1Q tag inside the frame (none by default). */
  readonly vlan?: ethernet.Vlan;
}

/** One outbound ESP SA as framing needs it: SPI, sequence number, and its geometry (crypto/names.ts). */
export interface EspSa extends esp.Geometry {
  /** Security Parameters Index, not 0 (RFC 4303 §2.1). */
  readonly spi: number;
  /** The 64-bit sequence number (with LSO: the first segment's, D3); the low half goes on the wire. */
  readonly sequenceNumber: bigint;
}

/** One outbound AH SA as framing needs it. */
export interface AhSa {
  /** Security Parameters Index, not 0 (RFC 4302 §2.4). */
  readonly spi: number;
  /** The 64-bit sequence number (with LSO: the first segment's, D3); the low half goes on the wire. */
  readonly sequenceNumber: bigint;
  /** ICV bytes (e.g. 12 for HMAC-SHA1-96, 16 for AES-GMAC). */
  readonly icvLength: number;
  /** IV bytes before the ICV: 8 for AES-GMAC (RFC 4543 §3.1), else 0 (the default). */
  readonly ivLength?: number;
}

/** UDP encapsulation of ESP (RFC 3948; contract D14): the ports, 4500 both by default. */
export interface UdpEncapSpec {
  readonly srcPort?: number;
  readonly dstPort?: number;
}

/** An outbound SA bundle (one ADD_SA entry) and the handle the miniport gave it. */
export interface Protection {
  /** The OffloadHandle/TunnelHandle from ADD_SA; never 0 (0 means "no IPsec work", D8). */
  readonly handle: bigint;
  /** The ESP SA, if the bundle has one. */
  readonly esp?: EspSa;
  /** The AH SA, if the bundle has one (outside the ESP header in an AH+ESP bundle). */
  readonly ah?: AhSa;
  /** UDP-ESP: a UDP header before the ESP header (ESP-only bundles). */
  readonly udp?: UdpEncapSpec;
}

/** Tunnel mode: the tunnel bundle after the outer IP header, then the inner IP header. */
export interface TunnelSpec {
  readonly protection: Protection;
  /** The inner IP header (the end-to-end hosts), which carries the TCP/UDP header. */
  readonly inner: ip.IpSpec;
}

/** A TCP segment: the header fields (checksum and Data Offset derived) and the payload. */
export interface TcpSpec {
  readonly protocol: 'tcp';
  readonly header: tcp.Header;
  readonly payload: Uint8Array;
}

/** A UDP datagram: ports and payload (Length and checksum derived). */
export interface UdpSpec {
  readonly protocol: 'udp';
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

/** The transport-layer part of the packet. */
export type L4Spec = TcpSpec | UdpSpec;

/**
 * Who finishes the TCP/UDP checksum without LSO (contract D13): `complete` — the transport
 * writes the final checksum; `offload` — it writes the pseudo-header sum with length and sets
 * the checksum OOB (slot 0) for the NIC.
 */
export type ChecksumChoice = 'complete' | 'offload';

/** Large send offload (contract D2): the version of the OOB and the MSS. */
export interface LsoSpec {
  /** 1: LSOv1 (IPv4 only, Total Length = the large packet); 2: LSOv2 (length fields 0). */
  readonly version: 1 | 2;
  /** Maximum segment size: TCP payload bytes per segment (all but the last), 1 to 2^20 − 1. */
  readonly mss: number;
}

/**
 * Everything one IPsec-offloaded send frame is made of. At least one of `transport` and
 * `tunnel` is given: transport mode, tunnel mode, or both (transport over tunnel).
 */
export interface FrameSpec {
  readonly ethernet: EthernetSpec;
  /** The outermost IP header. */
  readonly ip: ip.IpSpec;
  /** Tunnel mode: the tunnel bundle and the inner IP header. */
  readonly tunnel?: TunnelSpec;
  /** The transport-mode bundle, after the IP header that carries the TCP/UDP header. */
  readonly transport?: Protection;
  readonly l4: L4Spec;
  /** Non-LSO checksum choice (default `complete`); with LSO only `offload` (or nothing) fits. */
  readonly checksum?: ChecksumChoice;
  /** Large send offload; never for tunnel packets (D2, D12). */
  readonly lso?: LsoSpec;
}

/** The UDP-ESP ports (4500 unless the spec says otherwise; RFC 3948 §2.1, D14). */
export function udpPorts(u: UdpEncapSpec): udp.Header {
  return { srcPort: u.srcPort ?? UDP_ESP_PORT, dstPort: u.dstPort ?? UDP_ESP_PORT };
}

function needSeq(where: string, seq: bigint): void {
  // RFC 4303 §3.3.3 / D3: the first packet carries 1; 0 is never sent; 64 bits at most.
  if (seq < 1n || seq > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(`${where}: expected a sequence number from 1 to 2^64 − 1, got ${seq}`);
  }
}

function needSpi(where: string, spi: number): void {
  if (!Number.isInteger(spi) || spi < 1 || spi > 0xffff_ffff) {
    throw new RangeError(`${where}: expected an SPI from 1 to 0xFFFFFFFF, got ${spi}`);
  }
}

function checkProtection(where: string, p: Protection): void {
  if (p.handle < 1n || p.handle > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(
      `${where}: expected a non-zero 64-bit handle (0 means no IPsec work, D8), got ${p.handle}`
    );
  }
  if (p.esp === undefined && p.ah === undefined) {
    throw new RangeError(`${where}: expected an ESP or AH SA in the bundle, got neither`);
  }
  if (p.esp !== undefined) {
    needSpi(`${where} esp.spi`, p.esp.spi);
    needSeq(`${where} esp.sequenceNumber`, p.esp.sequenceNumber);
  }
  if (p.ah !== undefined) {
    needSpi(`${where} ah.spi`, p.ah.spi);
    needSeq(`${where} ah.sequenceNumber`, p.ah.sequenceNumber);
  }
  if (p.udp !== undefined) {
    // D14 / ADD_SA: UDP-ESP is a property of a single-ESP-SA entry (NumExtHdrs 1).
    if (p.esp === undefined || p.ah !== undefined) {
      throw new RangeError(
        `${where}: expected UDP encapsulation only on an ESP-only bundle, got ${p.esp === undefined ? 'no ESP SA' : 'an AH SA too'}`
      );
    }
    const ports = udpPorts(p.udp);
    if (!Number.isInteger(ports.srcPort) || ports.srcPort < 0 || ports.srcPort > 0xffff) {
      throw new RangeError(`${where}: expected udp.srcPort from 0 to 65535, got ${ports.srcPort}`);
    }
    if (!Number.isInteger(ports.dstPort) || ports.dstPort < 0 || ports.dstPort > 0xffff) {
      throw new RangeError(`${where}: expected udp.dstPort from 0 to 65535, got ${ports.dstPort}`);
    }
  }
}

/** One IP header with the bundle after it, outermost first. */
export interface Level {
  readonly ip: ip.IpSpec;
  readonly protection: Protection | undefined;
}

/** The IP headers of `spec`, each with the bundle after it, outermost first. */
export function levelsOf(spec: FrameSpec): Level[] {
  const t = spec.tunnel;
  if (t === undefined) return [{ ip: spec.ip, protection: spec.transport }];
  return [
    { ip: spec.ip, protection: t.protection },
    { ip: t.inner, protection: spec.transport },
  ];
}

/** Throws a RangeError unless `spec` can be framed (API misuse, contract §4 kind 2). */
export function checkSpec(spec: FrameSpec): void {
  const where = 'framing.plan';
  ip.checkSpec(`${where} ip`, spec.ip);
  if (spec.tunnel === undefined && spec.transport === undefined) {
    throw new RangeError(`${where}: expected a transport or tunnel bundle, got neither`);
  }
  if (spec.tunnel !== undefined) {
    ip.checkSpec(`${where} tunnel.inner`, spec.tunnel.inner);
    checkProtection(`${where} tunnel.protection`, spec.tunnel.protection);
  }
  if (spec.transport !== undefined) checkProtection(`${where} transport`, spec.transport);
  if (spec.tunnel?.protection.udp !== undefined && spec.transport?.udp !== undefined) {
    // Reference §1.9: a UDP-encapsulated transport over a UDP-encapsulated tunnel is unsupported.
    throw new RangeError(`${where}: expected at most one UDP-encapsulated bundle, got two`);
  }
  ip.checkCarrier(where, spec.tunnel?.inner ?? spec.ip);
  const l4 = spec.l4;
  if (l4.protocol === 'udp') {
    for (const [name, port] of [
      ['srcPort', l4.srcPort],
      ['dstPort', l4.dstPort],
    ] as const) {
      if (!Number.isInteger(port) || port < 0 || port > 0xffff) {
        throw new RangeError(`${where}: expected l4.${name} from 0 to 65535, got ${port}`);
      }
    }
  }
  const lso = spec.lso;
  if (lso === undefined) return;
  // D2 / D12 / NDIS LSO page: never LSO through a tunnel; LSO segments TCP only.
  if (spec.tunnel !== undefined) {
    throw new RangeError(`${where}: expected no LSO on a tunnel packet (D2, D12), got lso`);
  }
  if (l4.protocol !== 'tcp') {
    throw new RangeError(`${where}: expected TCP with LSO, got ${l4.protocol}`);
  }
  const version: number = lso.version; // checked at run time too: callers may be untyped
  if (version !== 1 && version !== 2) {
    throw new RangeError(`${where}: expected lso.version 1 or 2, got ${version}`);
  }
  if (lso.version === 1 && spec.ip.version !== 4) {
    throw new RangeError(`${where}: expected IPv4 with LSOv1 (LSOv1 is IPv4 only), got IPv6`);
  }
  if (!Number.isInteger(lso.mss) || lso.mss < 1 || lso.mss > MAX_MSS) {
    throw new RangeError(`${where}: expected lso.mss from 1 to ${MAX_MSS}, got ${lso.mss}`);
  }
  if (l4.payload.length < 1) {
    throw new RangeError(`${where}: expected a TCP payload of at least 1 byte with LSO, got 0`);
  }
  if (spec.checksum === 'complete') {
    throw new RangeError(
      `${where}: expected checksum 'offload' or none with LSO (the NIC checksums each segment, D13), got 'complete'`
    );
  }
}
