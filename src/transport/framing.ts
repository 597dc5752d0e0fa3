/**
 * @module
 * Builds the NET_BUFFER_LIST the NIC expects for an IPsec-offloaded send: the frame bytes and the
 * OOB slots 0 (checksum), 1 (OffloadHandle), 2 (LSO), 11 (TunnelHandle) and 12 (header info).
 * Contract D1 (non-LSO framing), D2 (LSO framing), D3 (the first sequence number), D4 (header
 * offsets), D12 (no LSO for tunnels), D13 (checksums), D14 (UDP-ESP); reference §1.4–§1.12,
 * §2.9–§2.12, §4.1. RFC 4303 §2–§3.1 (ESP), RFC 4302 §2, §3.1 (AH), RFC 3948 §2.1 (UDP-ESP).
 *
 * Shapes, outermost first (each "protection" is an SA bundle: AH, ESP, AH+ESP or UDP-ESP):
 *
 * ```
 * transport            eth | IP | [AH] [UDP] [ESP hdr+IV] | TCP/UDP ...      | [ESP trailer, ICV]
 * tunnel               eth | IP | [AH] [UDP] [ESP hdr+IV] | IP | TCP/UDP ... | [ESP trailer, ICV]
 * transport-over-tunnel
 *   eth | IP | tunnel bundle | IP | transport bundle | TCP/UDP ... | transport trailer | tunnel trailer
 * ```
 *
 * AH+ESP is ESP inside, AH outside ([IP][AH][ESP]…; reference §1.11). The frame is planned first
 * ({@link plan}: every offset and length, style practice 7), then written once into one buffer
 * ({@link emit}), every byte of it (style practice 8).
 *
 * Decisions where the contract is silent, each marked where it is applied:
 * - LSO `PadLength` is the padding the LAST segment needs (its ESP payload is the TCP header plus
 *   the remainder of the data), and the filler bytes are that padding, 1, 2, 3, … (RFC 4303 §2.4).
 * - LSO UDP-ESP Length follows the IP length rule: the bytes to the end of the NET_BUFFER for
 *   LSOv1, 0 for LSOv2.
 * - Every IPv4 header carries a correct header checksum over its bytes as written (LSO length
 *   fields included); slot 0 never asks the NIC for an IP header checksum.
 */
import {
  encodeChecksumTransmit,
  encodeLsoV1Transmit,
  encodeLsoV2Transmit,
  setChecksum,
  setHeaderTransmit,
  setLso,
  setOffloadHandle,
  setTunnelHandle,
  type HeaderTransmitFields,
} from '../ndis/oob.ts';
import { NetBuffer, NetBufferList } from '../ndis/nbl.ts';
import * as ah from '../wire/ah.ts';
import * as checksum from '../wire/checksum.ts';
import * as esp from '../wire/esp.ts';
import * as ethernet from '../wire/ethernet.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import { HEADER_LENGTH as IPV6_FIXED_LENGTH } from '../wire/ipv6.ts';
import * as tcp from '../wire/tcp.ts';
import * as udp from '../wire/udp.ts';
import * as ip from './ip.ts';
import { segmentCount, type MssOverhead } from './mss.ts';
import { checkSpec, levelsOf, udpPorts, type FrameSpec } from './spec.ts';

export type {
  AhSa,
  ChecksumChoice,
  EspSa,
  EthernetSpec,
  FrameSpec,
  L4Spec,
  LsoSpec,
  Protection,
  TcpSpec,
  TunnelSpec,
  UdpEncapSpec,
  UdpSpec,
} from './spec.ts';

/** Where an AH header sits. */
export interface AhPlan {
  /** From the start of the frame. */
  readonly offset: number;
  /** Header length with IV, ICV and alignment padding (RFC 4302 §2.6). */
  readonly length: number;
  /** Its Next Header: 50 in an AH+ESP bundle, else what it protects. */
  readonly nextHeader: number;
}

/** Where an ESP header, its payload and its trailer (or LSO filler) sit. */
export interface EspPlan {
  /** The ESP header, from the start of the frame. */
  readonly offset: number;
  /** 8 + ivLength. */
  readonly headerLength: number;
  /** The protected bytes: the inner IP packet or the TCP/UDP segment. */
  readonly payloadLength: number;
  /** Padding in the trailer (D1), or the LSO filler length (D2). */
  readonly padLength: number;
  /** The first padding byte (D1) or filler byte (D2), from the start of the frame. */
  readonly trailerOffset: number;
  /** The zero ICV field, from the start of the frame; no field under LSO (length 0). */
  readonly icvOffset: number;
  /** ICV field bytes (0 under LSO). */
  readonly icvLength: number;
  /** The trailer's Next Header: 6, 17, 4 or 41. */
  readonly nextHeader: number;
  /** Header through ICV (D1) or through filler (D2). */
  readonly length: number;
}

/** One IP header and the IPsec headers right after it. */
export interface LevelPlan {
  /** The IP header, from the start of the frame. */
  readonly ipOffset: number;
  readonly ipHeaderLength: number;
  /** IP header through the end of everything it carries (its trailers included). */
  readonly packetLength: number;
  /** What the IP header announces: 51, 17 (UDP-ESP), 50, or the inner protocol. */
  readonly protocol: number;
  readonly ah?: AhPlan;
  /** The UDP-ESP header, from the start of the frame. */
  readonly udpOffset?: number;
  readonly esp?: EspPlan;
}

/** Every offset and length of one frame, planned before a byte is written. */
export interface Plan {
  /** Bytes in the NET_BUFFER. */
  readonly frameLength: number;
  /** Outermost first: one level in transport mode, two with a tunnel. */
  readonly levels: readonly LevelPlan[];
  /** The TCP/UDP header, from the start of the frame. */
  readonly l4Offset: number;
  readonly l4HeaderLength: number;
  /** Header plus payload. */
  readonly l4Length: number;
  /** TCP/UDP segments the NIC sends: 1 without LSO, ceil(payload / MSS) with (D3). */
  readonly segments: number;
  /** Slot 12 as framing fills it (offsets in 4-byte units, D4). */
  readonly header: HeaderTransmitFields;
}

function lowHalf(seq: bigint): number {
  return Number(seq & 0xffff_ffffn);
}

function headerUnits(where: string, what: string, bytes: number): number {
  // D4 / ndis.h: "in 4 byte increments", an 8-bit field.
  if (bytes % 4 !== 0 || bytes > 1020) {
    throw new RangeError(
      `${where}: expected the ${what} header at a multiple of 4 bytes up to 1020 from the outer IP header (D4), got ${bytes}`
    );
  }
  return bytes / 4;
}

/** Sizes of one level, computed inside-out before any offset is known. */
interface Sizes {
  readonly ipHeaderLength: number;
  readonly ahLength: number;
  readonly udpLength: number;
  readonly espHeaderLength: number;
  readonly padLength: number;
  /** Pad Length + Next Header + ICV (D1), or 0 under LSO (filler counted in padLength). */
  readonly trailerFixed: number;
  readonly icvLength: number;
  readonly espLength: number;
  readonly content: number;
  readonly innerProtocol: number;
  readonly packetLength: number;
}

/**
 * Plans every offset and length of the frame `spec` describes, and the header OOB (slot 12);
 * throws a RangeError/TypeError for a spec that cannot be framed (API misuse).
 */
export function plan(spec: FrameSpec): Plan {
  checkSpec(spec);
  const where = 'framing.plan';
  const lso = spec.lso;
  const l4 = spec.l4;
  const l4HeaderLength = l4.protocol === 'tcp' ? tcp.headerLength(l4.header) : udp.HEADER_LENGTH;
  const l4Length = l4HeaderLength + l4.payload.length;
  const segments = lso === undefined ? 1 : segmentCount(l4.payload.length, lso.mss);
  const levels = levelsOf(spec);

  // Inside-out: each level's length is what the level inside it needs (style practice 7).
  const sizes: Sizes[] = [];
  let content = l4Length;
  let innerProtocol: number = l4.protocol === 'tcp' ? IpProtocol.Tcp : IpProtocol.Udp;
  for (let i = levels.length - 1; i >= 0; i--) {
    const { ip: ipSpec, protection } = levels[i];
    const ipHeaderLength = ip.headerLength(ipSpec);
    const e = protection?.esp;
    const a = protection?.ah;
    let espHeaderLength = 0;
    let padLength = 0;
    let trailerFixed = 0;
    let icvLength = 0;
    let espLength = 0;
    if (e !== undefined) {
      const layout = esp.planEsp(content, e); // validates the geometry too
      espHeaderLength = layout.headerLength;
      if (lso === undefined) {
        padLength = layout.padLength;
        icvLength = e.icvLength;
        trailerFixed = esp.TRAILER_FIXED_LENGTH + icvLength;
      } else {
        // Decision (D2 silent): PadLength is the padding the NIC's LAST segment needs. Every
        // segment's ESP payload is the TCP header plus its data; full segments all carry MSS
        // bytes, the last one the remainder, and it is the last segment whose padding the
        // large packet's trailer would get wrong (seed). The filler is that padding, 1, 2, 3, ….
        const last = l4.payload.length - (segments - 1) * lso.mss;
        padLength = esp.padLengthFor(l4HeaderLength + last, e.padAlign);
      }
      espLength = espHeaderLength + content + padLength + trailerFixed;
    }
    const ahLength =
      a === undefined ? 0 : ah.ahLength(a.icvLength, a.ivLength ?? 0, ipSpec.version);
    const udpLength = protection?.udp === undefined ? 0 : udp.HEADER_LENGTH;
    const carried = e === undefined ? content : espLength;
    const packetLength = ipHeaderLength + ahLength + udpLength + carried;
    if (lso?.version !== 2) {
      // Non-LSO and LSOv1: the length fields are 16 bits (D1 final lengths; D2 LSOv1 Total Length).
      const max = ipSpec.version === 4 ? 0xffff : IPV6_FIXED_LENGTH + 0xffff;
      if (packetLength > max) {
        throw new RangeError(
          `${where}: expected an IPv${ipSpec.version} packet of at most ${max} bytes, got ${packetLength}`
        );
      }
    }
    sizes[i] = {
      ipHeaderLength,
      ahLength,
      udpLength,
      espHeaderLength,
      padLength,
      trailerFixed,
      icvLength,
      espLength,
      content,
      innerProtocol,
      packetLength,
    };
    content = packetLength;
    innerProtocol = ip.tunnelProtocol(ipSpec);
  }

  // Outside-in: offsets.
  const ethernetLength = ethernet.headerLength(ethernetHeader(spec));
  const planned: LevelPlan[] = [];
  let at = ethernetLength;
  for (let i = 0; i < levels.length; i++) {
    const s = sizes[i];
    const protection = levels[i].protection;
    const ipOffset = at;
    at += s.ipHeaderLength;
    let ahPlan: AhPlan | undefined;
    if (s.ahLength > 0) {
      const nextHeader = protection?.esp !== undefined ? IpProtocol.Esp : s.innerProtocol;
      ahPlan = { offset: at, length: s.ahLength, nextHeader };
      at += s.ahLength;
    }
    let udpOffset: number | undefined;
    if (s.udpLength > 0) {
      udpOffset = at;
      at += s.udpLength;
    }
    let espPlan: EspPlan | undefined;
    if (protection?.esp !== undefined) {
      const trailerOffset = at + s.espHeaderLength + s.content;
      espPlan = {
        offset: at,
        headerLength: s.espHeaderLength,
        payloadLength: s.content,
        padLength: s.padLength,
        trailerOffset,
        icvOffset: trailerOffset + s.padLength + s.trailerFixed - s.icvLength,
        icvLength: s.icvLength,
        nextHeader: s.innerProtocol,
        length: s.espLength,
      };
      at += s.espHeaderLength;
    }
    const protocol =
      ahPlan !== undefined
        ? IpProtocol.Ah
        : udpOffset !== undefined
          ? IpProtocol.Udp
          : espPlan !== undefined
            ? IpProtocol.Esp
            : s.innerProtocol;
    planned.push({
      ipOffset,
      ipHeaderLength: s.ipHeaderLength,
      packetLength: s.packetLength,
      protocol,
      ...(ahPlan === undefined ? {} : { ah: ahPlan }),
      ...(udpOffset === undefined ? {} : { udpOffset }),
      ...(espPlan === undefined ? {} : { esp: espPlan }),
    });
  }
  const l4Offset = at;
  const frameLength = ethernetLength + sizes[0].packetLength;

  // D4: the OffloadHandle bundle is the transport one when there is one, else the tunnel one;
  // its offsets count 4-byte units from the outermost IP header.
  const bundle = spec.transport === undefined ? planned[0] : planned[planned.length - 1];
  const outer = planned[0].ipOffset;
  const header: HeaderTransmitFields = {
    // D1: NextHeader and PadLength describe the bundle's ESP trailer; AH alone: 0 and 0.
    NextHeader: bundle.esp?.nextHeader ?? 0,
    PadLength: bundle.esp?.padLength ?? 0,
    AhHeaderOffset:
      bundle.ah === undefined ? 0 : headerUnits(where, 'AH', bundle.ah.offset - outer),
    EspHeaderOffset:
      bundle.esp === undefined ? 0 : headerUnits(where, 'ESP', bundle.esp.offset - outer),
  };
  if (lso !== undefined || spec.checksum === 'offload') {
    // nbllso.h / nblchecksum.h: TcpHeaderOffset is a 10-bit byte offset from the frame start.
    if (l4Offset > 0x3ff) {
      throw new RangeError(
        `${where}: expected the TCP/UDP header within 1023 bytes of the frame start (10-bit TcpHeaderOffset), got ${l4Offset}`
      );
    }
  }
  return { frameLength, levels: planned, l4Offset, l4HeaderLength, l4Length, segments, header };
}

function ethernetHeader(spec: FrameSpec): ethernet.Header {
  const e = spec.ethernet;
  return {
    destination: e.destination,
    source: e.source,
    etherType: ip.etherType(spec.ip),
    ...(e.vlan === undefined ? {} : { vlan: e.vlan }),
  };
}

function put16(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 8;
  out[at + 1] = value & 0xff;
}

// Checksum field offsets inside the TCP (RFC 9293 §3.1) and UDP (RFC 768) headers.
const TCP_CHECKSUM = 16;
const UDP_CHECKSUM = 6;
const UDP_LENGTH = 4;

/** Writes the planned frame into `out` (every byte of `p.frameLength`). */
function write(spec: FrameSpec, p: Plan, out: Uint8Array): void {
  const lso = spec.lso;
  ethernet.emit(ethernetHeader(spec), out);
  const levels = levelsOf(spec);
  for (let i = 0; i < levels.length; i++) {
    const { ip: ipSpec, protection } = levels[i];
    const lp = p.levels[i];
    const packet = out.subarray(lp.ipOffset);
    if (lso === undefined) {
      // D1: final lengths.
      ip.emit(ipSpec, lp.protocol, lp.packetLength - lp.ipHeaderLength, packet);
    } else {
      // D2: LSOv1 IPv4 Total Length = IP header to the end of the NET_BUFFER; LSOv2 and IPv6: 0.
      ip.emit(ipSpec, lp.protocol, 0, packet);
      ip.setLengthField(packet, lso.version === 1 ? lp.packetLength : 0);
    }
    if (lp.ah !== undefined && protection?.ah !== undefined) {
      const a = protection.ah;
      // RFC 4302 §2: Payload Len derived, Reserved 0, IV/ICV/padding zero (D1).
      ah.emit(
        {
          nextHeader: lp.ah.nextHeader,
          spi: a.spi,
          sequenceNumber: lowHalf(a.sequenceNumber),
          ivLength: a.ivLength ?? 0,
          icvLength: a.icvLength,
          ipVersion: ipSpec.version,
        },
        out.subarray(lp.ah.offset)
      );
    }
    if (lp.esp !== undefined && protection?.esp !== undefined) {
      const e = protection.esp;
      const ep = lp.esp;
      if (lp.udpOffset !== undefined && protection.udp !== undefined) {
        // D14 / RFC 3948 §2.1: ports as framed, checksum 0 (the NIC fills it over IPv6).
        const u = out.subarray(lp.udpOffset);
        udp.emit(udpPorts(protection.udp), u, 0);
        // Decision (D2 silent on UDP-ESP): LSOv1 — the bytes to the end of the NET_BUFFER, like
        // IPv4 Total Length; LSOv2 — 0, like the IP length fields. Without LSO: final (D1).
        const length = lso === undefined || lso.version === 1 ? udp.HEADER_LENGTH + ep.length : 0;
        put16(u, UDP_LENGTH, length);
      }
      esp.emit({ spi: e.spi, sequenceNumber: lowHalf(e.sequenceNumber) }, out.subarray(ep.offset));
      out.fill(0, ep.offset + esp.HEADER_LENGTH, ep.offset + ep.headerLength); // zero IV field
      if (lso === undefined) {
        // D1: padding 1, 2, 3, …, Pad Length, Next Header; then a zero ICV field.
        esp.writeTrailer(out, ep.padLength, ep.nextHeader, ep.trailerOffset);
        out.fill(0, ep.icvOffset, ep.icvOffset + ep.icvLength);
      } else {
        // D2: no trailer, no ICV; PadLength filler bytes (decision: the last segment's padding).
        for (let k = 0; k < ep.padLength; k++) out[ep.trailerOffset + k] = k + 1;
      }
    }
  }
  writeL4(spec, p, out);
}

function writeL4(spec: FrameSpec, p: Plan, out: Uint8Array): void {
  const l4 = spec.l4;
  const carrier = spec.tunnel?.inner ?? spec.ip;
  const segment = out.subarray(p.l4Offset, p.l4Offset + p.l4Length);
  const choice = spec.checksum ?? 'complete';
  if (l4.protocol === 'tcp') {
    tcp.emit(l4.header, segment);
    segment.set(l4.payload, p.l4HeaderLength);
    if (spec.lso !== undefined) {
      // D2: the pseudo-header sum without length (source, destination, 6), not complemented;
      // the NIC extends it per segment.
      put16(segment, TCP_CHECKSUM, checksum.fold(ip.pseudoHeader(carrier, IpProtocol.Tcp, 0)));
    } else if (choice === 'offload') {
      // D13: the pseudo-header sum with length; the NIC finishes it (slot 0 asks).
      const seed = ip.pseudoHeader(carrier, IpProtocol.Tcp, p.l4Length);
      put16(segment, TCP_CHECKSUM, checksum.fold(seed));
    } else {
      tcp.fillChecksum(segment, ip.pseudoHeader(carrier, IpProtocol.Tcp, p.l4Length));
    }
    return;
  }
  udp.emit({ srcPort: l4.srcPort, dstPort: l4.dstPort }, segment, l4.payload.length);
  segment.set(l4.payload, udp.HEADER_LENGTH);
  const pseudo = ip.pseudoHeader(carrier, IpProtocol.Udp, p.l4Length);
  if (choice === 'offload') put16(segment, UDP_CHECKSUM, checksum.fold(pseudo));
  else udp.fillChecksum(segment, pseudo);
}

/**
 * Writes the frame `spec` describes at the start of `out` — every one of its bytes — and returns
 * its plan (`frameLength` bytes written).
 */
export function emit(spec: FrameSpec, out: Uint8Array): Plan {
  const p = plan(spec);
  if (out.length < p.frameLength) {
    throw new RangeError(
      `framing.emit: expected a buffer of at least ${p.frameLength} bytes, got ${out.length}`
    );
  }
  write(spec, p, out);
  return p;
}

/** Fills the OOB slots 0, 1, 2, 11 and 12 of `nbl` for the planned frame. */
function fillOob(nbl: NetBufferList, spec: FrameSpec, p: Plan): void {
  const tunnel = spec.tunnel;
  const transport = spec.transport;
  // Reference §1.10, D4: one payload → OffloadHandle alone; transport over tunnel →
  // OffloadHandle = transport bundle, TunnelHandle = tunnel bundle.
  if (transport !== undefined) {
    setOffloadHandle(nbl, transport.handle);
    if (tunnel !== undefined) setTunnelHandle(nbl, tunnel.protection.handle);
  } else if (tunnel !== undefined) {
    setOffloadHandle(nbl, tunnel.protection.handle);
  }
  setHeaderTransmit(nbl, p.header);
  const lso = spec.lso;
  if (lso !== undefined) {
    // nbllso.h: MSS, TcpHeaderOffset from the frame start, Type 0/1; LSOv2 IPVersion 0/1.
    setLso(
      nbl,
      lso.version === 1
        ? encodeLsoV1Transmit({ MSS: lso.mss, TcpHeaderOffset: p.l4Offset, Type: 0 })
        : encodeLsoV2Transmit({
            MSS: lso.mss,
            TcpHeaderOffset: p.l4Offset,
            Type: 1,
            IPVersion: spec.ip.version === 4 ? 0 : 1,
          })
    );
  } else if (spec.checksum === 'offload') {
    const carrier = spec.tunnel?.inner ?? spec.ip;
    // D13: the NIC finishes the TCP/UDP checksum of the header that carries it (the inner one
    // in tunnel mode); IsIPv4/IsIPv6 name that header's version. The IPv4 header checksums are
    // already correct (decision), so IpHeaderChecksum stays 0.
    setChecksum(
      nbl,
      encodeChecksumTransmit({
        IsIPv4: carrier.version === 4 ? 1 : 0,
        IsIPv6: carrier.version === 6 ? 1 : 0,
        TcpChecksum: spec.l4.protocol === 'tcp' ? 1 : 0,
        UdpChecksum: spec.l4.protocol === 'udp' ? 1 : 0,
        IpHeaderChecksum: 0,
        TcpHeaderOffset: p.l4Offset,
      })
    );
  }
}

/**
 * Builds the NET_BUFFER_LIST for `spec`: one NET_BUFFER holding the frame, and the OOB filled
 * (handles, header info, LSO or checksum). A pooled `nbl` is reset and reused.
 */
export function build(spec: FrameSpec, nbl: NetBufferList = new NetBufferList()): NetBufferList {
  const p = plan(spec);
  const memory = new Uint8Array(p.frameLength);
  write(spec, p, memory);
  const reused = nbl.netBuffers.length === 1 ? nbl.netBuffers[0] : null; // a pooled NBL's NB
  nbl.reset();
  if (reused === null) nbl.netBuffers.push(new NetBuffer(memory));
  else {
    reused.attach(memory);
    nbl.netBuffers.push(reused);
  }
  fillOob(nbl, spec, p);
  return nbl;
}

/**
 * The per-segment overhead of an LSO send of `spec` (transport mode only, TCP), for
 * `mss.chooseMss`: the NIC copies the IP header (options included) and the TCP header into
 * every segment and adds UDP-ESP, AH and ESP around each.
 */
export function mssOverhead(spec: FrameSpec): MssOverhead {
  const where = 'framing.mssOverhead';
  if (spec.tunnel !== undefined) {
    throw new RangeError(`${where}: expected a transport-mode spec (no LSO for tunnels, D2)`);
  }
  if (spec.l4.protocol !== 'tcp') {
    throw new RangeError(`${where}: expected TCP, got ${spec.l4.protocol}`);
  }
  const t = spec.transport;
  if (t === undefined) throw new RangeError(`${where}: expected a transport bundle, got none`);
  const a = t.ah;
  return {
    ipHeaderLength: ip.headerLength(spec.ip),
    udpLength: t.udp === undefined ? 0 : udp.HEADER_LENGTH,
    ahLength: a === undefined ? 0 : ah.ahLength(a.icvLength, a.ivLength ?? 0, spec.ip.version),
    ...(t.esp === undefined
      ? {}
      : {
          esp: { ivLength: t.esp.ivLength, icvLength: t.esp.icvLength, padAlign: t.esp.padAlign },
        }),
    tcpHeaderLength: tcp.headerLength(spec.l4.header),
  };
}
