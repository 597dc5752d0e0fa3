/**
 * @module
 * What the send queues of sim/queues.ts share (issue 6, multi-queue): the outbound SA bundles
 * and TCP flows of a run, how a flow's k-th send is framed (contract D1/D2 through
 * transport/framing.ts), and how a frame on the wire is told apart again (its SA and sequence
 * number, and which flow and send it carries once decrypted). Everything here is plain data that
 * crosses to a worker thread by structured clone.
 */
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as framing from '../transport/framing.ts';
import type { FrameSpec, Protection } from '../transport/framing.ts';
import type { SaDescription } from '../transport/sa-entry.ts';

/** One outbound SA bundle every queue holds (one ADD_SA entry, one shared counter slot). */
export interface QueueSa {
  /** Endpoints as on the wire: 4 bytes each (IPv4) or 16 (IPv6). */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** ESP, AH, or ESP then AH (ADD_SA order, reference §1.11); `esn` as each SA says. */
  readonly sas: readonly SaDescription[];
  /** The first sequence number to send (default 1); near 2^32 with ESN to cross the boundary. */
  readonly firstSequence?: bigint;
}

/** One TCP flow: its bundle, its ports (the RSS 4-tuple with the bundle's addresses), its sends. */
export interface QueueFlow {
  /** Index into the run's {@link QueueSa} list. */
  readonly sa: number;
  readonly sourcePort: number;
  readonly destinationPort: number;
  /** TCP payload bytes of every send. */
  readonly payload: number;
  /** LSOv2 sends with this MSS: one sequence number per segment (D3); none: one frame per send. */
  readonly mss?: number;
}

/** The first sequence number of `sa` (1 unless given). */
export function firstSequence(sa: QueueSa): bigint {
  return sa.firstSequence ?? 1n;
}

/** Whether bundle `sa` uses extended sequence numbers (every SA of the bundle must agree). */
export function bundleEsn(sa: QueueSa): boolean {
  const esn = sa.sas.map((d) => d.esn ?? false);
  if (esn.some((e) => e !== esn[0])) {
    throw new RangeError(
      `queue SA: expected every SA of a bundle to agree on esn, got ${esn.join(', ')}`
    );
  }
  return esn[0] ?? false;
}

/** The MAC addresses of every queue frame. */
export const QUEUE_ETHERNET: { readonly source: Uint8Array; readonly destination: Uint8Array } = {
  source: ethernet.parseMac('02:00:00:00:00:0a'),
  destination: ethernet.parseMac('02:00:00:00:00:0b'),
};

/** The framing Protection of `sa` with sequence number `seq` and `handle`. */
export function protectionOf(sa: QueueSa, seq: bigint, handle: bigint): Protection {
  let p: Protection = { handle };
  for (const d of sa.sas) {
    if (d.protocol === 'esp') {
      const enc = encryptionInfo(d.encryption ?? 'null');
      const integ = d.integrity == null ? null : integrityInfo(d.integrity);
      p = {
        ...p,
        esp: {
          spi: d.spi,
          sequenceNumber: seq,
          ivLength: enc.ivLength > 0 ? enc.ivLength : (integ?.ivLength ?? 0),
          icvLength: enc.combined ? (d.icvLength ?? enc.icvLength) : (integ?.icvLength ?? 0),
          padAlign: enc.padAlign,
        },
      };
    } else {
      const integ = integrityInfo(d.integrity!);
      p = {
        ...p,
        ah: {
          spi: d.spi,
          sequenceNumber: seq,
          icvLength: integ.icvLength,
          ivLength: integ.ivLength,
        },
      };
    }
  }
  return p;
}

/** Writes the payload of send `k` of flow `flow` into `out` (distinct per flow and send). */
export function fillPayload(flow: number, k: number, out: Uint8Array): Uint8Array {
  for (let i = 0; i < out.length; i++) out[i] = (flow * 131 + k * 31 + i * 7 + (i >>> 8)) & 0xff;
  return out;
}

/** Whether send `k` of a flow is one the workload makes the NIC fail (every failEvery-th). */
export function isFailing(k: number, failEvery: number): boolean {
  return failEvery > 0 && k % failEvery === failEvery - 1;
}

/** The TCP sequence number of send `k` of a flow: its payload's first byte (RFC 9293 §3.4). */
export function tcpSequence(flow: QueueFlow, k: number): number {
  return (1000 + k * flow.payload) >>> 0;
}

/**
 * The frame of send `k` of flow `flows[f]` on bundle `sa` with sequence number `seq`, as the
 * transport describes it to framing (D1, or D2 with LSO). `payload` is the send's TCP payload.
 */
export function frameSpec(
  sa: QueueSa,
  flow: QueueFlow,
  k: number,
  seq: bigint,
  handle: bigint,
  payload: Uint8Array
): FrameSpec {
  const ip =
    sa.source.length === 4
      ? {
          version: 4 as const,
          source: sa.source,
          destination: sa.destination,
          identification: k & 0xffff,
          dontFragment: true,
        }
      : { version: 6 as const, source: sa.source, destination: sa.destination };
  return {
    ethernet: QUEUE_ETHERNET,
    ip,
    transport: protectionOf(sa, seq, handle),
    l4: {
      protocol: 'tcp',
      header: {
        srcPort: flow.sourcePort,
        dstPort: flow.destinationPort,
        sequenceNumber: tcpSequence(flow, k),
        acknowledgmentNumber: 1,
        flags: 0x18, // PSH, ACK
        window: 65535,
        urgentPointer: 0,
        options: [],
      },
      payload,
    },
    ...(flow.mss === undefined ? {} : { lso: { version: 2 as const, mss: flow.mss } }),
  };
}

/** Frames (sequence numbers) one send of `flow` takes: ceil(payload / MSS) with LSO, else 1. */
export function segmentsOf(sa: QueueSa, flow: QueueFlow): number {
  const spec = frameSpec(sa, flow, 0, 1n, 1n, new Uint8Array(flow.payload));
  return framing.plan(spec).segments;
}

/** Where a frame's outermost IPsec header is, and what it says. */
export interface FrameIpsec {
  /** 50 (ESP) or 51 (AH). */
  readonly protocol: number;
  /** Offset of the AH/ESP header in the frame. */
  readonly offset: number;
  readonly spi: number;
  /** The low 32 bits of the sequence number, as on the wire. */
  readonly sequence: number;
}

/**
 * The outermost AH/ESP header of an Ethernet frame carrying IPv4 (no options needed) or IPv6
 * (no extension headers), or null for anything else. For verifying queue output, not a parser of
 * wire input (wire/ holds those).
 */
export function frameIpsec(frame: Uint8Array): FrameIpsec | null {
  const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (frame.length < 14) return null;
  const type = dv.getUint16(12);
  let protocol: number;
  let offset: number;
  if (type === 0x0800 && frame.length >= 34) {
    protocol = frame[14 + 9];
    offset = 14 + (frame[14] & 0x0f) * 4;
  } else if (type === 0x86dd && frame.length >= 54) {
    protocol = frame[14 + 6];
    offset = 14 + 40;
  } else {
    return null;
  }
  if ((protocol !== IpProtocol.Esp && protocol !== IpProtocol.Ah) || frame.length < offset + 12) {
    return null;
  }
  // RFC 4303 §2 / RFC 4302 §2: ESP starts with SPI, Sequence Number; AH with Next Header,
  // Payload Len, Reserved, then SPI and Sequence Number.
  const at = protocol === IpProtocol.Esp ? offset : offset + 4;
  return { protocol, offset, spi: dv.getUint32(at), sequence: dv.getUint32(at + 4) };
}
