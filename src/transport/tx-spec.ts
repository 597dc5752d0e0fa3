/**
 * @module
 * From a flow and the bundles that protect it to the framing description of one packet
 * (FrameSpec, spec.ts): which SA is the transport bundle and which the tunnel bundle (reference
 * §1.10), the IP headers, the SA geometry from the algorithm registry (contract D17), the TCP or
 * UDP part, and the largest payload that fits the MTU.
 */
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import * as tcp from '../wire/tcp.ts';
import type { FrameSpec, L4Spec, LsoSpec, Protection } from './framing.ts';
import { plan } from './framing.ts';
import type { IpSpec } from './ip.ts';
import type { EspConfig, FlowConfig, SaConfig } from './policy.ts';
import type { BundleRole } from './tx-caps.ts';

/** The policy names of a flow's bundles, by where they sit. */
export interface FlowBundles {
  readonly transport: string | null;
  readonly tunnel: string | null;
}

/** Which of the flow's SAs is the transport bundle and which the tunnel bundle. */
export function bundlesOf(flow: FlowConfig, byName: (name: string) => SaConfig): FlowBundles {
  if (flow.tunnelSa !== undefined) {
    if (flow.sa === undefined) return { transport: null, tunnel: flow.tunnelSa };
    return { transport: flow.sa, tunnel: flow.tunnelSa };
  }
  if (flow.sa === undefined) return { transport: null, tunnel: null };
  return byName(flow.sa).mode === 'tunnel'
    ? { transport: null, tunnel: flow.sa }
    : { transport: flow.sa, tunnel: null };
}

/** The role of each bundle of `b` (tx-caps.ts, for the capability and UdpEsp decisions). */
export function rolesOf(b: FlowBundles): { transport: BundleRole; tunnel: BundleRole } {
  const combined = b.transport !== null && b.tunnel !== null;
  return {
    transport: combined ? 'inner-over-tunnel' : 'transport',
    tunnel: combined ? 'outer-under-transport' : 'tunnel',
  };
}

/** The ESP geometry of `e` from the registry: IV, ICV, pad alignment (RFC 4303 §2). */
export function espGeometry(e: EspConfig): {
  ivLength: number;
  icvLength: number;
  padAlign: number;
} {
  const enc = encryptionInfo(e.encryption);
  const integ = e.integrity === null ? null : integrityInfo(e.integrity);
  const ivLength = enc.ivLength > 0 ? enc.ivLength : (integ?.ivLength ?? 0);
  const icvLength = enc.combined ? (e.icvLength ?? enc.icvLength) : (integ?.icvLength ?? 0);
  return { ivLength, icvLength, padAlign: enc.padAlign };
}

/**
 * The framing Protection of bundle `sa` with 64-bit sequence number `seq` and `handle`
 * (software frames use a placeholder handle: framing needs one, the NBL never carries it).
 */
export function protectionOf(sa: SaConfig, seq: bigint, handle: bigint): Protection {
  const e = sa.protocol === 'ah' ? undefined : sa.esp;
  const a = sa.protocol === 'esp' ? undefined : sa.ah;
  const u = sa.udpEncapsulation;
  return {
    handle,
    ...(e === undefined ? {} : { esp: { spi: e.spi, sequenceNumber: seq, ...espGeometry(e) } }),
    ...(a === undefined
      ? {}
      : {
          ah: {
            spi: a.spi,
            sequenceNumber: seq,
            icvLength: integrityInfo(a.integrity).icvLength,
            ivLength: integrityInfo(a.integrity).ivLength,
          },
        }),
    ...(u === null ? {} : { udp: { srcPort: u.srcPort, dstPort: u.dstPort } }),
  };
}

/** One packet's bundles with their sequence numbers and handles. */
export interface PacketBundles {
  readonly transport: {
    readonly sa: SaConfig;
    readonly seq: bigint;
    readonly handle: bigint;
  } | null;
  readonly tunnel: { readonly sa: SaConfig; readonly seq: bigint; readonly handle: bigint } | null;
}

/** What the packet carries besides its bundles. */
export interface PacketShape {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly version: 4 | 6;
  readonly macSource: Uint8Array;
  readonly macDestination: Uint8Array;
  readonly identification: number;
  readonly dontFragment: boolean;
}

/** The FrameSpec of one packet (non-LSO `checksum: 'complete'`, D13; LSO: the NIC's seed, D2). */
export function frameSpec(
  shape: PacketShape,
  bundles: PacketBundles,
  l4: L4Spec,
  lso: LsoSpec | undefined
): FrameSpec {
  const host: IpSpec =
    shape.version === 4
      ? {
          version: 4,
          source: shape.source,
          destination: shape.destination,
          identification: shape.identification,
          dontFragment: shape.dontFragment,
        }
      : { version: 6, source: shape.source, destination: shape.destination };
  const t = bundles.tunnel;
  const outer: IpSpec | null =
    t === null
      ? null
      : t.sa.source.length === 4
        ? {
            version: 4,
            source: t.sa.source,
            destination: t.sa.destination,
            identification: shape.identification,
            dontFragment: shape.dontFragment,
          }
        : { version: 6, source: t.sa.source, destination: t.sa.destination };
  const tr = bundles.transport;
  return {
    ethernet: { source: shape.macSource, destination: shape.macDestination },
    ip: outer ?? host,
    ...(t === null || outer === null
      ? {}
      : { tunnel: { protection: protectionOf(t.sa, t.seq, t.handle), inner: host } }),
    ...(tr === null ? {} : { transport: protectionOf(tr.sa, tr.seq, tr.handle) }),
    l4,
    ...(lso === undefined ? { checksum: 'complete' as const } : { lso }),
  };
}

/** A TCP header of the flow: ACK always, PSH on the last segment of a write (RFC 9293 §3.9.1). */
export function tcpHeader(flow: FlowConfig, seq: number, last: boolean): tcp.Header {
  return {
    srcPort: flow.srcPort,
    dstPort: flow.dstPort,
    sequenceNumber: seq >>> 0,
    acknowledgmentNumber: 1,
    flags: tcp.Flags.Ack | (last ? tcp.Flags.Psh : 0),
    window: 65535,
    urgentPointer: 0,
    options: [],
  };
}

const ZEROS = new Uint8Array(0x1_0000);

/**
 * The largest TCP payload of one non-LSO packet shaped like `spec` whose outermost IP packet fits
 * `mtu` (the same for offloaded and software frames: their structure is identical).
 */
export function maxPayload(spec: FrameSpec, mtu: number): number {
  const fits = (n: number): boolean => {
    const l4: L4Spec =
      spec.l4.protocol === 'tcp'
        ? { ...spec.l4, payload: ZEROS.subarray(0, n) }
        : { ...spec.l4, payload: ZEROS.subarray(0, n) };
    return plan({ ...spec, l4 }).levels[0].packetLength <= mtu;
  };
  const base = plan({ ...spec, l4: { ...spec.l4, payload: ZEROS.subarray(0, 0) } }).levels[0]
    .packetLength;
  let n = Math.min(mtu - base, ZEROS.length);
  while (n > 0 && !fits(n)) n--;
  if (n < 1) {
    throw new RangeError(`maxPayload: expected an MTU that leaves room for payload, got ${mtu}`);
  }
  return n;
}
