/**
 * @module
 * LSO sizing for IPsec-offloaded TCP (contract D2, D3): how many segments — and so how many
 * ESP/AH sequence numbers — one large send takes, how long each segment's IP packet is after
 * the NIC adds its ESP header, IV, padding, trailer and ICV (RFC 4303 §2.4, §2.8) or its AH
 * header (RFC 4302 §2.6), and the largest MSS whose every segment fits the link MTU.
 */
import * as esp from '../wire/esp.ts';

/** The per-segment bytes around the TCP payload, as the NIC builds each segment (D2). */
export interface MssOverhead {
  /** The segment's IP header, options or extension headers included (copied into every segment). */
  readonly ipHeaderLength: number;
  /** 8 for UDP-ESP (RFC 3948), else 0. */
  readonly udpLength: number;
  /** The AH header length with its ICV and alignment padding (`ah.ahLength`), or 0. */
  readonly ahLength: number;
  /** The ESP SA's geometry, or undefined for AH alone. */
  readonly esp?: esp.Geometry;
  /** The TCP header, options included (copied into every segment). */
  readonly tcpHeaderLength: number;
}

/** The largest MSS the LSO OOB can carry (a 20-bit field, nbllso.h). */
export const MAX_MSS = 0xf_ffff;

function needLength(where: string, name: string, value: number, max: number): void {
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(`${where}: expected ${name} from 0 to ${max}, got ${value}`);
  }
}

function needOverhead(where: string, o: MssOverhead): void {
  needLength(where, 'ipHeaderLength', o.ipHeaderLength, 0xffff);
  if (o.udpLength !== 0 && o.udpLength !== 8) {
    throw new RangeError(`${where}: expected udpLength 0 or 8, got ${o.udpLength}`);
  }
  needLength(where, 'ahLength', o.ahLength, 0xffff);
  needLength(where, 'tcpHeaderLength', o.tcpHeaderLength, 60);
  if (o.esp !== undefined) esp.planEsp(0, o.esp); // validates the geometry
}

/**
 * The number of segments (and ESP/AH sequence numbers, D3) an LSO send of `payloadLength` TCP
 * payload bytes takes at `mss`: ceil(payloadLength / mss).
 */
export function segmentCount(payloadLength: number, mss: number): number {
  if (!Number.isSafeInteger(payloadLength) || payloadLength < 1) {
    throw new RangeError(
      `mss.segmentCount: expected a TCP payload of at least 1 byte, got ${payloadLength}`
    );
  }
  if (!Number.isInteger(mss) || mss < 1 || mss > MAX_MSS) {
    throw new RangeError(`mss.segmentCount: expected an MSS from 1 to ${MAX_MSS}, got ${mss}`);
  }
  return Math.ceil(payloadLength / mss);
}

/**
 * The IP packet length of one segment carrying `dataLength` TCP payload bytes: IP header, UDP,
 * AH, ESP header and IV, TCP header and data, the minimal padding of RFC 4303 §2.4, Pad Length,
 * Next Header and the ICV.
 */
export function segmentLength(dataLength: number, overhead: MssOverhead): number {
  needLength('mss.segmentLength', 'dataLength', dataLength, 0xffff_ffff);
  needOverhead('mss.segmentLength', overhead);
  const inner = overhead.tcpHeaderLength + dataLength;
  const before = overhead.ipHeaderLength + overhead.udpLength + overhead.ahLength;
  return overhead.esp === undefined
    ? before + inner
    : before + esp.planEsp(inner, overhead.esp).totalLength;
}

/**
 * The largest MSS such that every segment of an LSO send — whatever its length up to the MSS,
 * with the padding the NIC adds for that length — fits an IP MTU of `mtu` bytes; throws a
 * RangeError when not even one payload byte fits.
 */
export function chooseMss(mtu: number, overhead: MssOverhead): number {
  needLength('mss.chooseMss', 'mtu', mtu, 0xffff);
  needOverhead('mss.chooseMss', overhead);
  const before = overhead.ipHeaderLength + overhead.udpLength + overhead.ahLength;
  let mss: number;
  const g = overhead.esp;
  if (g === undefined) {
    mss = mtu - before - overhead.tcpHeaderLength;
  } else {
    // RFC 4303 §2.4: TCP header + data + padding + 2 is a multiple of padAlign. Take the largest
    // such multiple that fits what the MTU leaves after the fixed parts; with MSS bytes of data the
    // padding is then 0, and one byte more would need a whole further block. Segment length is
    // non-decreasing in the data length, so every shorter (last) segment fits too.
    const room = mtu - before - esp.HEADER_LENGTH - g.ivLength - g.icvLength;
    const block = Math.floor(room / g.padAlign) * g.padAlign;
    mss = block - esp.TRAILER_FIXED_LENGTH - overhead.tcpHeaderLength;
  }
  if (mss < 1) {
    throw new RangeError(
      `mss.chooseMss: expected an MTU that leaves room for TCP payload, got ${mtu} (overhead without payload: ${segmentLength(0, overhead)} bytes)`
    );
  }
  return Math.min(mss, MAX_MSS);
}
