/**
 * @module
 * The oracle's judgement of one LSO send: the frames the NIC put on the wire for one large TCP
 * packet, checked one by one with `checkFrame` and then against each other and the original.
 *
 * LSO rules (NDIS "Offloading the Segmentation of Large TCP Packets"; reference §4.1; contract
 * D2/D3): ceil(payload / MSS) segments, each MSS bytes of payload but the last; TCP sequence
 * number += MSS per segment; ports, ACK, window, urgent pointer and options copied; FIN and PSH
 * only on the last segment; IPv4 ID + 1 per segment (LSOv2: wrapping within 0x0000–0x7FFF), TTL/
 * TOS/DF (IPv6: hop limit, traffic class, flow label) copied; every IP packet within the MTU.
 * IPsec (contract D3, D6): segment i carries the 64-bit sequence number first + i, its low half
 * on the wire and its high half in the ICV/AAD; GCM/GMAC IVs are that 64-bit number.
 */
import { describeMismatch, firstDifference, hexNum, toHex, u32 } from './bytes.ts';
import { checkFrame, type FrameView, type OracleSa } from './frame.ts';

/** The TCP header of the large packet, as the transport framed it. */
export interface TcpTemplate {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  /** The 9 flag bits of the large packet (e.g. ACK | PSH | FIN). */
  readonly flags: number;
  readonly window: number;
  readonly urgent: number;
  readonly options: Uint8Array;
}

/** Everything the frames of one LSO send must agree with. */
export interface LsoExpectation {
  /** The SA; its `seqHigh` is replaced per frame by the high half of firstSeq + i. */
  readonly sa: OracleSa;
  readonly ipVersion: 4 | 6;
  readonly lsoVersion: 1 | 2;
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  /** IPv4 Identification of the large packet (the first segment's). */
  readonly ipId: number;
  /** IPv4 TTL / IPv6 hop limit. */
  readonly ttl: number;
  /** IPv4 TOS / IPv6 traffic class. */
  readonly tos: number;
  readonly flowLabel: number;
  readonly dontFragment: boolean;
  readonly tcp: TcpTemplate;
  readonly payload: Uint8Array;
  readonly mss: number;
  /** Largest IP packet allowed on the link. */
  readonly mtu: number;
  /** The 64-bit ESP/AH sequence number of segment 0 (high half = the SA's high half with ESN). */
  readonly firstSeq: bigint;
  /** True for GCM/GMAC: the IV must be the 64-bit sequence number (contract D6). */
  readonly ivIsSequence: boolean;
}

/** The judgement: every problem found (empty = all good), the parsed frames, the payload rebuilt. */
export interface LsoReport {
  readonly problems: readonly string[];
  readonly views: readonly (FrameView | undefined)[];
  readonly reassembled: Uint8Array;
}

const FIN = 0x01;
const PSH = 0x08;

/** The IPv4 ID of segment `i` (LSOv1: 16-bit wrap; LSOv2: within 0x0000–0x7FFF, contract D2). */
export function expectedIpId(first: number, i: number, lsoVersion: 1 | 2): number {
  if (lsoVersion === 2) {
    if (first > 0x7fff)
      throw new RangeError(`expectedIpId: LSOv2 first ID must be <= 0x7fff, got ${first}`);
    return (first + i) % 0x8000;
  }
  return (first + i) % 0x10000;
}

/** Judges the frames of one LSO send; see the module comment. */
export function checkLsoFrames(frames: readonly Uint8Array[], e: LsoExpectation): LsoReport {
  const problems: string[] = [];
  const problem = (i: number | 'run', field: string, expected: unknown, found: unknown): void => {
    problems.push(
      `${i === 'run' ? 'run' : `frame ${i}`}: ${field}: expected ${String(expected)}, found ${String(found)}`
    );
  };
  const count = Math.ceil(e.payload.length / e.mss);
  if (frames.length !== count)
    problem('run', 'frames', `ceil(${e.payload.length}/${e.mss}) = ${count}`, frames.length);

  const views: (FrameView | undefined)[] = [];
  const pieces: Uint8Array[] = [];
  for (let i = 0; i < frames.length; i++) {
    const seq = e.firstSeq + BigInt(i);
    const seqHigh = Number(seq >> 32n);
    const seqLow = Number(seq & 0xffff_ffffn);
    if (!e.sa.esn && seqHigh !== 0) {
      problem(
        i,
        'seq',
        'no frame past sequence number 0xffffffff without ESN (RFC 4303 §3.3.3)',
        hexNum(seq, 16)
      );
    }
    const result = checkFrame(frames[i], { ...e.sa, seqHigh: e.sa.esn ? seqHigh >>> 0 : 0 });
    if (!result.ok) {
      problems.push(`frame ${i}: ${describeMismatch(result)}`);
      views.push(undefined);
      continue;
    }
    const v = result.value;
    views.push(v);
    const last = i === count - 1;
    const expectedLength = last ? e.payload.length - (count - 1) * e.mss : e.mss;

    // IP header.
    if (v.ip.version !== e.ipVersion) problem(i, 'ip.version', e.ipVersion, v.ip.version);
    if (v.ip.packetLength > e.mtu)
      problem(i, 'ip.packetLength', `<= MTU ${e.mtu}`, v.ip.packetLength);
    if (toHex(v.ip.src) !== toHex(e.src)) problem(i, 'ip.src', toHex(e.src), toHex(v.ip.src));
    if (toHex(v.ip.dst) !== toHex(e.dst)) problem(i, 'ip.dst', toHex(e.dst), toHex(v.ip.dst));
    if (v.ip.ttl !== e.ttl) problem(i, 'ip.ttl', e.ttl, v.ip.ttl);
    if (v.ip.tos !== e.tos) problem(i, 'ip.tos', e.tos, v.ip.tos);
    if (e.ipVersion === 4) {
      const id = expectedIpId(e.ipId, i, e.lsoVersion);
      if (v.ip.id !== id) problem(i, 'ipv4.id', hexNum(id, 4), hexNum(v.ip.id, 4));
      if (v.ip.dontFragment !== e.dontFragment)
        problem(i, 'ipv4.df', e.dontFragment, v.ip.dontFragment);
    } else if (v.ip.flowLabel !== e.flowLabel) {
      problem(i, 'ipv6.flowLabel', hexNum(e.flowLabel, 5), hexNum(v.ip.flowLabel, 5));
    }

    // IPsec header.
    if (v.ipsec.seqLow !== seqLow)
      problem(i, `${v.ipsec.protocol}.seq`, hexNum(seqLow), hexNum(v.ipsec.seqLow));
    if (e.ivIsSequence) {
      const iv = v.ipsec.iv;
      const found = iv.length === 8 ? (BigInt(u32(iv, 0)) << 32n) | BigInt(u32(iv, 4)) : -1n;
      const want = e.sa.esn ? seq : BigInt(seqLow);
      if (found !== want) problem(i, `${v.ipsec.protocol}.iv`, hexNum(want, 16), toHex(iv));
    }

    // TCP header.
    const t = v.tcp;
    const tcpSeq = (e.tcp.seq + i * e.mss) % 0x1_0000_0000;
    if (t.seq !== tcpSeq) problem(i, 'tcp.seq', hexNum(tcpSeq), hexNum(t.seq));
    if (t.srcPort !== e.tcp.srcPort) problem(i, 'tcp.srcPort', e.tcp.srcPort, t.srcPort);
    if (t.dstPort !== e.tcp.dstPort) problem(i, 'tcp.dstPort', e.tcp.dstPort, t.dstPort);
    if (t.ack !== e.tcp.ack) problem(i, 'tcp.ack', hexNum(e.tcp.ack), hexNum(t.ack));
    const flags = last ? e.tcp.flags : e.tcp.flags & ~(FIN | PSH);
    if (t.flags !== flags) problem(i, 'tcp.flags', hexNum(flags, 3), hexNum(t.flags, 3));
    if (t.window !== e.tcp.window) problem(i, 'tcp.window', e.tcp.window, t.window);
    if (t.urgent !== e.tcp.urgent) problem(i, 'tcp.urgent', e.tcp.urgent, t.urgent);
    if (toHex(t.options, 60) !== toHex(e.tcp.options, 60)) {
      problem(i, 'tcp.options', toHex(e.tcp.options, 60), toHex(t.options, 60));
    }
    if (t.payload.length !== expectedLength)
      problem(i, 'tcp.payloadLength', expectedLength, t.payload.length);
    const start = i * e.mss;
    const want = e.payload.subarray(start, start + t.payload.length);
    const d = firstDifference(want, t.payload);
    if (d >= 0) problem(i, `tcp.payload[${d}]`, want[d] ?? 'end', t.payload[d] ?? 'end');
    pieces.push(t.payload);
  }

  let total = 0;
  for (const p of pieces) total += p.length;
  const reassembled = new Uint8Array(total);
  let at = 0;
  for (const p of pieces) {
    reassembled.set(p, at);
    at += p.length;
  }
  const d = firstDifference(e.payload, reassembled);
  if (d >= 0) problem('run', `reassembly[${d}]`, e.payload[d] ?? 'end', reassembled[d] ?? 'end');
  return { problems, views, reassembled };
}
