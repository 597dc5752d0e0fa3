/**
 * @module
 * A stand-in for the transport's LSO framing (contract D2), written from the contract alone so
 * the tests do not depend on `src/transport`: the bytes of the single NET_BUFFER of an LSO send
 * with IPsec, and the numbers its OOB needs. Not part of the oracle's judgement — the oracle
 * never reads these bytes — but kept beside it because it shares the oracle's independence.
 *
 * Layout (D2): Ethernet ‖ IPv4 (LSOv1: Total Length = bytes from the IP header to the end of the
 * NET_BUFFER, ESP header, IV and filler included; LSOv2: 0) or IPv6 (Payload Length 0) ‖
 * [UDP-ESP header, RFC 3948] ‖ ESP header (SPI, first sequence number) ‖ zero IV field — or an AH
 * header with a zeroed ICV field (and, for AES-GMAC, a zero IV field; RFC 4543 §4; AH length a
 * multiple of 4 over IPv4 and 8 over IPv6, RFC 4302 §2.6) ‖ TCP header whose checksum field holds
 * the pseudo-header seed without the length (D2) ‖ the whole payload ‖ PadLength filler bytes
 * (ESP only) — no ESP trailer, no ICV.
 */
import { be32, concat, onesSum } from './bytes.ts';
import type { TcpTemplate } from './lso.ts';

/** ESP framing parameters. */
export interface EspFraming {
  readonly protocol: 'esp';
  readonly spi: number;
  /** Low 32 bits of the first segment's sequence number. */
  readonly seqLow: number;
  /** IV bytes of the SA (zero-filled here; the NIC writes them). */
  readonly ivLength: number;
  /** max(cipher block, 4): what PadLength is computed for (RFC 4303 §2.4). */
  readonly padAlign: number;
  /** UDP-ESP ports (RFC 3948), or undefined for plain ESP. */
  readonly udp?: { readonly srcPort: number; readonly dstPort: number };
}

/** AH framing parameters. */
export interface AhFraming {
  readonly protocol: 'ah';
  readonly spi: number;
  readonly seqLow: number;
  /** 8 for AES-GMAC, else 0. */
  readonly ivLength: number;
  readonly icvLength: number;
}

/** One LSO send to frame. */
export interface LsoFrameSpec {
  readonly ipVersion: 4 | 6;
  readonly lsoVersion: 1 | 2;
  readonly macDst: Uint8Array;
  readonly macSrc: Uint8Array;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly ipId: number;
  readonly ttl: number;
  readonly tos: number;
  readonly flowLabel: number;
  readonly dontFragment: boolean;
  readonly ipsec: EspFraming | AhFraming;
  readonly tcp: TcpTemplate;
  readonly payload: Uint8Array;
}

/** The framed NET_BUFFER and its OOB numbers. */
export interface FramedLso {
  readonly bytes: Uint8Array;
  /** LSO TcpHeaderOffset: bytes from the start of the frame. */
  readonly tcpHeaderOffset: number;
  /** Bytes from the start of the IP header to the ESP header (0 without ESP). */
  readonly espHeaderOffset: number;
  /** Bytes from the start of the IP header to the AH header (0 without AH). */
  readonly ahHeaderOffset: number;
  /** Header OOB PadLength: the filler bytes after the payload (ESP), 0 for AH. */
  readonly padLength: number;
  /** Header OOB NextHeader: 6 for ESP (TCP in transport mode), 0 for AH-only (D1). */
  readonly nextHeader: number;
}

/** Frames one LSO send per contract D2; see the module comment. */
export function frameLso(spec: LsoFrameSpec): FramedLso {
  const { ipsec } = spec;
  const ipHeaderLength = spec.ipVersion === 4 ? 20 : 40;
  const udpLength = ipsec.protocol === 'esp' && ipsec.udp !== undefined ? 8 : 0;
  const ipsecHeader = ipsec.protocol === 'esp' ? espHeader(ipsec) : ahHeader(ipsec, spec.ipVersion);
  const tcpHeader = tcpHeaderWithSeed(spec);
  const padLength =
    ipsec.protocol === 'esp'
      ? (ipsec.padAlign - ((tcpHeader.length + spec.payload.length + 2) % ipsec.padAlign)) %
        ipsec.padAlign
      : 0;
  // The filler the NIC discards; written as default ESP padding (1, 2, 3, …).
  const filler = Uint8Array.from({ length: padLength }, (_, k) => k + 1);
  const afterIp =
    udpLength + ipsecHeader.length + tcpHeader.length + spec.payload.length + padLength;
  const protocol = udpLength > 0 ? 17 : ipsec.protocol === 'esp' ? 50 : 51;

  let ip: Uint8Array;
  if (spec.ipVersion === 4) {
    if (spec.lsoVersion === 1 && ipHeaderLength + afterIp > 0xffff) {
      throw new RangeError(
        `frameLso: LSOv1 packet of ${ipHeaderLength + afterIp} bytes exceeds 65535`
      );
    }
    ip = new Uint8Array(20);
    ip[0] = 0x45;
    ip[1] = spec.tos;
    const totalLength = spec.lsoVersion === 1 ? ipHeaderLength + afterIp : 0;
    ip[2] = totalLength >> 8;
    ip[3] = totalLength & 0xff;
    ip[4] = spec.ipId >> 8;
    ip[5] = spec.ipId & 0xff;
    ip[6] = spec.dontFragment ? 0x40 : 0;
    ip[8] = spec.ttl;
    ip[9] = protocol;
    ip.set(spec.src, 12);
    ip.set(spec.dst, 16);
    const c = ~onesSum(ip) & 0xffff;
    ip[10] = c >> 8;
    ip[11] = c & 0xff;
  } else {
    if (spec.lsoVersion !== 2) throw new RangeError('frameLso: LSOv1 is IPv4 only');
    ip = new Uint8Array(40);
    ip.set(be32((6 << 28) | (spec.tos << 20) | spec.flowLabel), 0);
    // Payload Length 0: the NIC takes the length from the NET_BUFFER (D2).
    ip[6] = protocol;
    ip[7] = spec.ttl;
    ip.set(spec.src, 8);
    ip.set(spec.dst, 24);
  }
  const udp = new Uint8Array(udpLength);
  if (ipsec.protocol === 'esp' && ipsec.udp !== undefined) {
    udp[0] = ipsec.udp.srcPort >> 8;
    udp[1] = ipsec.udp.srcPort & 0xff;
    udp[2] = ipsec.udp.dstPort >> 8;
    udp[3] = ipsec.udp.dstPort & 0xff;
    // Length and checksum: the NIC writes them per segment (D14).
  }
  const eth = concat(
    spec.macDst,
    spec.macSrc,
    new Uint8Array(spec.ipVersion === 4 ? [0x08, 0x00] : [0x86, 0xdd])
  );
  const bytes = concat(eth, ip, udp, ipsecHeader, tcpHeader, spec.payload, filler);
  const ipsecOffset = ipHeaderLength + udpLength;
  return {
    bytes,
    tcpHeaderOffset: 14 + ipsecOffset + ipsecHeader.length,
    espHeaderOffset: ipsec.protocol === 'esp' ? ipsecOffset : 0,
    ahHeaderOffset: ipsec.protocol === 'ah' ? ipsecOffset : 0,
    padLength,
    nextHeader: ipsec.protocol === 'esp' ? 6 : 0,
  };
}

/** ESP header (SPI, sequence number) and a zero IV field (RFC 4303 §2; contract D1/D2). */
function espHeader(e: EspFraming): Uint8Array {
  return concat(be32(e.spi), be32(e.seqLow), new Uint8Array(e.ivLength));
}

/** AH header with zero IV (GMAC) and zero ICV field padded to 4 (IPv4) or 8 (IPv6) bytes. */
function ahHeader(a: AhFraming, ipVersion: 4 | 6): Uint8Array {
  const unit = ipVersion === 4 ? 4 : 8;
  const length = Math.ceil((12 + a.ivLength + a.icvLength) / unit) * unit;
  const h = new Uint8Array(length);
  h[0] = 6; // Next Header: TCP
  h[1] = length / 4 - 2; // RFC 4302 §2.2
  h.set(be32(a.spi), 4);
  h.set(be32(a.seqLow), 8);
  return h;
}

/** The TCP header of the large packet with the pseudo-header seed (no length) as checksum. */
function tcpHeaderWithSeed(spec: LsoFrameSpec): Uint8Array {
  const t = spec.tcp;
  if (t.options.length % 4 !== 0 || t.options.length > 40) {
    throw new RangeError(
      `frameLso: TCP options must be a multiple of 4 up to 40 bytes, got ${t.options.length}`
    );
  }
  const h = new Uint8Array(20 + t.options.length);
  h[0] = t.srcPort >> 8;
  h[1] = t.srcPort & 0xff;
  h[2] = t.dstPort >> 8;
  h[3] = t.dstPort & 0xff;
  h.set(be32(t.seq), 4);
  h.set(be32(t.ack), 8);
  h[12] = ((h.length / 4) << 4) | ((t.flags >> 8) & 1);
  h[13] = t.flags & 0xff;
  h[14] = t.window >> 8;
  h[15] = t.window & 0xff;
  // D2: the seed is the one's complement sum of source, destination and protocol 6 — no length,
  // not complemented (the NIC adds each segment's length and complements).
  const seed = onesSum(spec.src, spec.dst, new Uint8Array([0, 6]));
  h[16] = seed >> 8;
  h[17] = seed & 0xff;
  h[18] = t.urgent >> 8;
  h[19] = t.urgent & 0xff;
  h.set(t.options, 20);
  return h;
}
