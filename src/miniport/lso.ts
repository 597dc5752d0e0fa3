/**
 * @module
 * Large send offload, alone and combined with IPsec ("Offloading the Segmentation of Large TCP
 * Packets"; "Sending Network Data with IPsec Offload Version 2": "with a combined LSO and IPsec
 * offload the NET_BUFFER might have padding that is discarded while the NIC segments the large
 * packet … segmented packets might need padding", and "the ESP trailer is not framed";
 * NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO; reference §1.6, §4.1; contract D2, D3, D13).
 *
 * The NET_BUFFER (D2) holds: frame headers, the IP header, [UDP-ESP header], [AH header with a
 * zeroed ICV field], [ESP header (SPI, first sequence number) and IV field], the TCP header, the
 * whole TCP payload, then PadLength filler bytes — no ESP trailer, no ICV. The NIC discards the
 * filler, cuts the TCP payload into MSS-sized pieces (all MSS bytes but the last) and builds one
 * complete frame per piece, written straight into that frame's buffer (lengths planned first,
 * style practice 7):
 *
 * - the headers up to the TCP header, copied;
 * - IPv4 Total Length / IPv6 Payload Length of the segment, IPv4 Identification + i (LSOv2: the
 *   low 15 bits wrap within 0x0000–0x7FFF), IPv4 header checksum;
 * - the TCP header with options copied, Sequence Number + i × MSS, FIN and PSH only on the last
 *   segment, CWR only on the first, and the segment's checksum computed from the pseudo-header
 *   (D13: before encryption), extending the transport's seed in the field (D2);
 * - the segment's payload, then the ESP trailer for its length — padding 1, 2, …, Pad Length,
 *   Next Header 6 from the OOB (RFC 4303 §2.4–§2.6) — and a zeroed ICV field;
 * - ESP/AH sequence number first + i (D3), with the high half + 1 after a wrap of the low 32 bits
 *   (ESN only; the SA's SequenceNumberHighOrder itself is left for the transport's UPDATE_SA);
 * - then the protection of protect.ts: ESP seal, UDP-ESP Length/checksum (D14), AH ICV.
 *
 * Refusals: `lso-v1-ipv6`, `lso-ip-version`, `ip-length` (LSOv1: Total Length ≠ the bytes from
 * the IP header to the end of the NET_BUFFER; LSOv2: not 0), `lso-tunnel`, `lso-next-header`,
 * `lso-tcp-offset`, `lso-pad-length`, `lso-tcp-header`, `lso-max-offload-size`, `lso-empty`,
 * `lso-min-segment-count`, `capability:IpOptions`, `capability:TcpOptions`,
 * `capability:IpExtensionHeadersSupported`, `capability:TcpOptionsSupported`, `sequence-zero`
 * (all NDIS_STATUS_INVALID_PACKET) and `counter-exhausted` (NDIS_STATUS_FAILURE, D3).
 *
 * Decisions where the contract is silent (for docs/decisions.md):
 * - MaxOffLoadSize bounds the TCP payload (user data) of the large packet, headers and filler
 *   excluded; MinSegmentCount is compared with ceil(payload / MSS); an empty payload is refused.
 * - LSOv2 IDs: the first segment keeps the transport's Identification; later ones add i to its
 *   low 15 bits modulo 0x8000 and keep its top bit.
 * - Without IPsec the TCP header is where TcpHeaderOffset says (anything between the IP header
 *   and it is copied as opaque header bytes, as a NIC does); with IPsec it must be exactly where
 *   the ESP IV (or the AH header) ends.
 * - LSOv1 may carry several NET_BUFFERs; each is segmented on its own (LSOv2 allows one).
 * - Every IPv4 segment's Total Length, Identification and checksum are rewritten; IPv4 flags are
 *   copied as framed (DF stays as the transport set it).
 * - The LSO capability members are judged per packet like D12's: IPv4 options without
 *   LsoV1.IPv4.IpOptions, TCP options without TcpOptions (LSOv2 IPv6: IpExtensionHeadersSupported,
 *   TcpOptionsSupported) → `capability:<field>`.
 * - The PadLength filler is discarded for AH-only bundles too (D2 describes the filler after the
 *   TCP payload without naming ESP); a transport sending AH sets it to 0.
 * - `lso-v1-ipv6`, `lso-ip-version`, `lso-v2-net-buffers` refuse what the LSO page forbids
 *   (LSOv1 is IPv4 only; IPVersion must match; one NET_BUFFER per LSOv2 NBL) as malformed (D9).
 * Model: no MTU is modelled (a segment's size is the transport's choice of MSS), and
 * NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH is not enforced.
 * Issue 6: each segment is written straight into NIC transmit memory (tx-batch.ts `TxSlab`) and
 * its ESP seal joins the batch's one native call per SA; when it does, its TCP checksum joins the
 * seal as a checksum job (the native seal finishes it just before encrypting the segment, D13),
 * so a segment costs no native call of its own. Otherwise (no IPsec, AH, UDP-ESP over IPv6, the
 * node:crypto engine) the checksum is finished at once (csum.ts `finishFromSeed`); both give the
 * same bytes.
 */
import type { Offload } from '../ndis/caps.ts';
import { OffloadSupport } from '../ndis/oid.ts';
import * as esp from '../wire/esp.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import { joinEsn, LOW_MAX, reserveSegments, seqAdd } from '../wire/seqnum.ts';
import { Flags } from '../wire/tcp.ts';
import { fillIpv4HeaderChecksum, finishFromSeed, planFromSeed } from './csum.ts';
import type { Miniport } from './miniport.ts';
import { protectLayout, sealDeferred } from './protect.ts';
import type { SaBundle, SaElement } from './sa-table.ts';
import {
  be16,
  be32,
  checkIpsecLayer,
  hasEsp,
  isTunnelProtocol,
  locateL2,
  matchBundle,
  put16,
  put32,
  readIp,
  udpEncapsulated,
  walkChain,
} from './send-locate.ts';
import type { IpLayer, Outcome, SendWork } from './send-work.ts';
import type { ChecksumJob } from './tx-batch.ts';

const SUPPORTED = OffloadSupport.NDIS_OFFLOAD_SUPPORTED;

/** The current segment's TCP checksum job (refilled per segment; SealQueue copies it). */
const segmentChecksum: ChecksumJob = { start: 0, end: 0, field: 0, seed: 0 };

/** What slot 2 asks for (LsoV1Transmit / LsoV2Transmit), decoded once per NBL. */
export interface LsoRequest {
  /** 1: NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE, 2: NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE. */
  version: 1 | 2;
  /** Maximum segment size: TCP payload bytes per segment. */
  mss: number;
  /** Offset of the TCP header from the first byte of the frame ("Offloading the Segmentation…"). */
  tcpHeaderOffset: number;
  /** LsoV2Transmit.IPVersion = NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6 (always false for LSOv1). */
  ipv6: boolean;
}

/** Returns the segment count of an LSO send: ceil(payload / MSS) (D2, D3). */
export function segmentCount(payloadLength: number, mss: number): number {
  return Math.ceil(payloadLength / mss);
}

/**
 * Segments one LSO NET_BUFFER (`data`) into complete frames appended to `work.frames`, protecting
 * each for `primary` (the OffloadHandle bundle, or null for plain LSO), and adds the TCP payload
 * to `work.tcpPayload`. On false the outcome says why; frames appended so far must be dropped.
 */
export function segmentNetBuffer(
  mp: Miniport,
  data: Uint8Array,
  lso: LsoRequest,
  primary: SaBundle | null,
  work: SendWork
): boolean {
  const o = work.outcome;
  const caps = mp.capabilities;
  const l2 = work.l2;
  locateL2(data, l2);
  if (l2.version === 0) return o.invalid(data.length < 14 ? 'frame-truncated' : 'not-ip');
  // "Offloading the Segmentation of Large TCP Packets": LSOv1 is IPv4 only; LSOv2 says which.
  if (lso.version === 1 && l2.version !== 4) return o.invalid('lso-v1-ipv6');
  if (lso.version === 2 && (l2.version === 6) !== lso.ipv6) return o.invalid('lso-ip-version');
  const ip = work.outer;
  const rule = lso.version === 1 ? 'exact' : 'zero'; // D2 length fields
  if (!readIp(data, l2.ipStart, data.length, l2.version, rule, ip, o)) return false;
  const layout = work.primary;
  layout.reset('only', ip);

  let tcpStart: number;
  let payloadEnd = data.length;
  if (primary !== null) {
    if (!walkChain(data, ip, hasEsp(primary) && udpEncapsulated(primary, 'only'), o)) return false;
    if (!checkIpsecLayer(caps, mp.config, ip, primary, l2.tagged, o)) return false;
    if (!matchBundle(data, primary, layout, work.header, ip.start, 'lso', o)) return false;
    // D2, D12: never LSO for a tunnel packet; the segments' Next Header is TCP.
    if (isTunnelProtocol(layout.payloadProtocol)) return o.invalid('lso-tunnel');
    if (layout.payloadProtocol !== IpProtocol.Tcp) return o.invalid('lso-next-header');
    if (!caps.IPsecV2.Transport) return o.invalid('capability:Transport');
    tcpStart = layout.payloadStart;
    if (tcpStart !== lso.tcpHeaderOffset) return o.invalid('lso-tcp-offset');
    const filler = work.header.padLength; // seed: padding discarded while segmenting
    if (filler > data.length - tcpStart) return o.invalid('lso-pad-length');
    payloadEnd = data.length - filler;
  } else {
    if (!walkChain(data, ip, false, o)) return false;
    tcpStart = lso.tcpHeaderOffset;
    if (tcpStart < ip.start + ip.headerLength) return o.invalid('lso-tcp-offset');
  }

  // RFC 9293 §3.1: Data Offset in 32-bit words, 5 to 15.
  if (tcpStart + 20 > payloadEnd) return o.invalid('lso-tcp-header');
  const tcpLength = (data[tcpStart + 12] >>> 4) * 4;
  if (tcpLength < 20 || tcpStart + tcpLength > payloadEnd) return o.invalid('lso-tcp-header');
  if (!checkLsoCapabilities(caps, lso, ip, tcpLength, o)) return false;

  const dataStart = tcpStart + tcpLength;
  const length = payloadEnd - dataStart;
  const limits = lso.version === 1 ? caps.LsoV1.IPv4 : lso.ipv6 ? caps.LsoV2.IPv6 : caps.LsoV2.IPv4;
  if (length > limits.MaxOffLoadSize) return o.invalid('lso-max-offload-size');
  if (length === 0) return o.invalid('lso-empty');
  const count = segmentCount(length, lso.mss);
  if (count < limits.MinSegmentCount) return o.invalid('lso-min-segment-count');

  // D3: segment i carries first + i; check the whole range before anything is built.
  const ahElement = primary === null ? null : layout.ah;
  const espElement = primary === null ? null : layout.esp;
  const ahLow = ahElement === null ? 0 : be32(data, layout.ahStart + 8);
  const espLow = espElement === null ? 0 : be32(data, layout.espStart + 4);
  const ahHigh = ahElement === null ? 0 : highOf(ahElement);
  const espHigh = espElement === null ? 0 : highOf(espElement);
  if (ahElement !== null && !reserve(ahElement, ahHigh, ahLow, count, o)) return false;
  if (espElement !== null && !reserve(espElement, espHigh, espLow, count, o)) return false;

  const ipStart = ip.start;
  const v4 = ip.version === 4;
  const v2 = lso.version === 2;
  const id = v4 ? be16(data, ipStart + 4) : 0;
  const tcpSeq = be32(data, tcpStart + 4);
  const tcpFlags = data[tcpStart + 13];
  const transform = espElement === null ? null : espElement.esp!;
  const mss = lso.mss;
  // Issue 6: the same for every segment — its seal waits for the batch, its checksum with it.
  const fused = primary !== null && sealDeferred(layout, work);
  const headers = data.subarray(0, dataStart); // one view per send, not per segment

  for (let i = 0; i < count; i++) {
    // Plan (style practice 7): this segment's payload, padding and frame length.
    const from = dataStart + i * mss;
    const segmentLength = Math.min(mss, length - i * mss);
    const tcpEnd = dataStart + segmentLength;
    let total = tcpEnd;
    let pad = 0;
    if (transform !== null) {
      pad = esp.padLengthFor(tcpLength + segmentLength, transform.padAlign);
      total += pad + esp.TRAILER_FIXED_LENGTH + transform.icvLength;
    }
    // Every byte of `out` is written below (transmit memory is not zeroed, tx-batch.ts).
    const out = work.slab.take(total);
    out.set(headers);
    out.set(data.subarray(from, from + segmentLength), dataStart);
    if (transform !== null) {
      const icvAt = tcpEnd + esp.writeTrailer(out, pad, IpProtocol.Tcp, tcpEnd);
      out.fill(0, icvAt, total); // D1: the ICV field starts as zeros
    }

    // The IP header of this segment.
    if (v4) {
      put16(out, ipStart + 2, total - ipStart);
      // "Offloading the Segmentation…": ID + 1 per segment; LSOv2 wraps within 0x0000–0x7FFF.
      put16(out, ipStart + 4, v2 ? (id & 0x8000) | ((id + i) & 0x7fff) : (id + i) & 0xffff);
    } else {
      put16(out, ipStart + 4, total - ipStart - 40);
    }

    // The TCP header: sequence number, flags, checksum (D13: before encryption).
    put32(out, tcpStart + 4, seqAdd(tcpSeq, i * mss));
    let flags = tcpFlags;
    if (i > 0) flags &= ~Flags.Cwr;
    if (i < count - 1) flags &= ~(Flags.Fin | Flags.Psh);
    out[tcpStart + 13] = flags;
    // D2: the field holds the transport's seed without length; the NIC extends it per segment
    // (fused: the seed is judged now and stays in the field until the seal's checksum job).
    const seedOk = fused
      ? planFromSeed(out, 6, tcpStart, tcpEnd, ipStart, ip.version, false, segmentChecksum)
      : finishFromSeed(out, 6, tcpStart, tcpEnd, ipStart, ip.version, false);
    if (!seedOk) o.checksumSeedMismatches++;

    if (primary !== null) {
      // D3: first + i; the high half steps up once the low half has wrapped (ESN only).
      if (ahElement !== null) {
        put32(out, layout.ahStart + 8, seqAdd(ahLow, i));
        layout.ahHigh = ahLow + i > LOW_MAX ? ahHigh + 1 : ahHigh;
      }
      if (espElement !== null) {
        put32(out, layout.espStart + 4, seqAdd(espLow, i));
        layout.espHigh = espLow + i > LOW_MAX ? espHigh + 1 : espHigh;
      }
      ip.end = total;
      layout.espEnd = total;
      if (!protectLayout(mp, out, layout, o, work, fused ? segmentChecksum : null)) return false;
      work.countLayout(layout, total - ipStart);
    }
    if (v4) fillIpv4HeaderChecksum(out, ipStart);
    work.frames.push(out);
  }
  work.tcpPayload += length;
  return true;
}

/** The high half of an element's sequence numbers: SequenceNumberHighOrder with ESN, else 0. */
function highOf(element: SaElement): number {
  return element.esn ? element.seqHigh : 0;
}

/**
 * Reserves `count` sequence numbers from (high, low) for one SA (D3, wire/seqnum): 0 is never sent
 * (`sequence-zero`); a send that would pass the last sendable number — 2^32 − 1 without ESN,
 * 2^64 − 1 with — fails whole (`counter-exhausted`, NDIS_STATUS_FAILURE).
 */
function reserve(
  element: SaElement,
  high: number,
  low: number,
  count: number,
  o: Outcome
): boolean {
  const r = reserveSegments(joinEsn(high, low), count, element.esn);
  if (r.ok) return true;
  return r.reason === 'sequence-zero' ? o.invalid('sequence-zero') : o.failure('counter-exhausted');
}

/**
 * The LSO capability fields (NDIS_TCP_LARGE_SEND_OFFLOAD_V1 IpOptions/TcpOptions,
 * NDIS_TCP_LARGE_SEND_OFFLOAD_V2 IPv6 IpExtensionHeadersSupported/TcpOptionsSupported): a large
 * packet whose IP options, extension headers or TCP options the NIC cannot segment is refused
 * with `capability:<field>`.
 */
function checkLsoCapabilities(
  caps: Offload,
  lso: LsoRequest,
  ip: IpLayer,
  tcpLength: number,
  o: Outcome
): boolean {
  if (lso.version === 1) {
    const v1 = caps.LsoV1.IPv4;
    if (ip.options && v1.IpOptions !== SUPPORTED) return o.invalid('capability:IpOptions');
    if (tcpLength > 20 && v1.TcpOptions !== SUPPORTED) return o.invalid('capability:TcpOptions');
    return true;
  }
  if (!lso.ipv6) return true;
  const v6 = caps.LsoV2.IPv6;
  if (ip.extensions && v6.IpExtensionHeadersSupported !== SUPPORTED) {
    return o.invalid('capability:IpExtensionHeadersSupported');
  }
  if (tcpLength > 20 && v6.TcpOptionsSupported !== SUPPORTED) {
    return o.invalid('capability:TcpOptionsSupported');
  }
  return true;
}
