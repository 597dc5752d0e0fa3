/**
 * @module
 * The two-host system (contract §2 Flow): host A and host B, each a transport (`transport/host.ts`
 * sending, `transport/receiver.ts` receiving) over its own simulated NIC (`miniport`), joined by a
 * link (`sim/link.ts`) that a pcapng tap, a seeded fault injector and a NAT box may wrap. One
 * injected virtual clock and one seed drive everything: a run with a seed is byte-for-byte
 * reproducible (contract D6). The NICs' callbacks are wired as NDIS wires them: send completions
 * to the host (NdisMSendNetBufferListsComplete), receive indications to the receiver
 * (NdisMIndicateReceiveNetBufferLists), status indications to the host, SaDeleteReq to the host's
 * SA database.
 */
import { createHash } from 'node:crypto';
import { seededRandom } from '../crypto/random.ts';
import type { Random } from '../crypto/transform.ts';
import { Miniport } from '../miniport/miniport.ts';
import type { SaBundle } from '../miniport/sa-table.ts';
import type { Offload } from '../ndis/caps.ts';
import { encodeOffloadEncapsulation, OffloadSet } from '../ndis/encapsulation.ts';
import { Encapsulation, Oid } from '../ndis/oid.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import { Host } from '../transport/host.ts';
import type { FlowConfig, SaConfig } from '../transport/policy.ts';
import { Receiver } from '../transport/receiver.ts';
import { VirtualClock } from './clock.ts';
import { FaultInjector, type FaultOptions } from './faults.ts';
import { Tap, Wire, type Direction, type Link } from './link.ts';
import { Nat } from './nat.ts';
import { captureObserver, PcapngWriter } from './pcapng.ts';

/** One host of the system. */
export interface HostSpec {
  readonly name: string;
  readonly mac: Uint8Array;
  readonly ipv4?: Uint8Array;
  readonly ipv6?: Uint8Array;
  /** Its NIC's capability record (default: the fully capable model NIC). */
  readonly capabilities?: Offload;
  /**
   * Whether `start` enables receive offload with OID_OFFLOAD_ENCAPSULATION (default true). False
   * leaves the NIC's receive path off (D12): every received packet is the transport's to verify
   * and decrypt in software.
   */
  readonly receiveOffload?: boolean;
  /**
   * The NIC's SaDeleteReq policy (MiniportOptions.saDeleteRequest; reference §4.2 rule 7): true
   * asks the transport to delete the inbound bundle the packet arrived on and its outbound peer.
   */
  readonly saDeleteRequest?: (bundle: SaBundle) => boolean;
}

/** An SA bundle and the host that sends with it (the other host receives with it). */
export interface SystemSa extends SaConfig {
  readonly from: string;
}

/** A flow and what the application writes on it. */
export interface SystemFlow extends FlowConfig {
  readonly from: string;
  readonly to: string;
  /** Application bytes in all. */
  readonly bytes: number;
  /** Bytes per application write (default: all at once). */
  readonly writeSize?: number;
}

/** The link between the hosts. */
export interface LinkSpec {
  readonly mtu?: number;
  /** Link rate in bits per second (default 10 Gbit/s): frames take time on the wire. */
  readonly bitsPerSecond?: number;
  /** One-way propagation delay in nanoseconds (default 1,000). */
  readonly latencyNanos?: number;
  /** Faults on frames from A to B. */
  readonly faultsAToB?: Omit<FaultOptions, 'random'>;
  /** Faults on frames from B to A. */
  readonly faultsBToA?: Omit<FaultOptions, 'random'>;
  /** A NAT box in front of host A (A is inside): its public IPv4 address. */
  readonly natPublicAddress?: Uint8Array;
}

/**
 * Sees one frame on the link: `sent` as it enters the fault injector (after the NAT; its index
 * among a direction's `sent` frames is the injector's frame index), `arrived` as the link hands
 * it to the receiving NIC (after every wrapper: what the capture holds). The receiving NIC
 * decrypts in place, so an observer that keeps a frame must copy it.
 */
export type FrameObserver = (
  frame: Uint8Array,
  direction: Direction,
  stage: 'sent' | 'arrived'
) => void;

/** Everything a run is made of. */
export interface SystemSpec {
  readonly seed: number;
  readonly hosts: readonly [HostSpec, HostSpec];
  readonly sas: readonly SystemSa[];
  readonly flows: readonly SystemFlow[];
  readonly link?: LinkSpec;
  /** Record a pcapng capture of every frame as it crossed the link. */
  readonly capture?: boolean;
  /** Writes per call of the pump (default 1: after every write the link is drained). */
  readonly writesPerPump?: number;
  /** Called with every frame on the link (see {@link FrameObserver}). */
  readonly observe?: FrameObserver;
}

/** One flow's result: what was sent and what came out at the other end. */
export interface FlowResult {
  readonly name: string;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly packetsDelivered: number;
  readonly bytesDelivered: number;
  readonly sentSha256: string;
  readonly deliveredSha256: string;
  /** NBLs that failed at the NIC, reported to the flow. */
  readonly sendFailures: number;
  /** Drops at the receiver charged to this flow, by reason. */
  readonly drops: Readonly<Record<string, number>>;
  /** TCP: gaps the receiving flow declared lost, and the sequence-number bytes in them. */
  readonly lossGaps: number;
  readonly lossBytes: number;
}

/** What a run produced. */
export interface SystemResult {
  readonly flows: readonly FlowResult[];
  /** Each NIC's counters. */
  readonly nics: Readonly<Record<string, Record<string, number>>>;
  /** Each receiver's drops by reason. */
  readonly receiverDrops: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Frames that crossed the link, both directions. */
  readonly frames: number;
  /** The capture, when asked for. */
  readonly pcapng: Uint8Array | null;
}

/** How many application writes `System.run` makes for `spec` (for progress displays). */
export function writeCount(spec: SystemSpec): number {
  return spec.flows.reduce(
    (n, f) => n + Math.ceil(f.bytes / (f.writeSize ?? Math.max(f.bytes, 1))),
    0
  );
}

/** The per-host parts, wired. */
interface Side {
  readonly spec: HostSpec;
  readonly nic: Miniport;
  readonly host: Host;
  readonly receiver: Receiver;
  /** Frames that arrived for this host's NIC, waiting to be received as one batch. */
  readonly inbox: Uint8Array[];
}

function sameBytes(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((v, i) => v === y[i]);
}

/** A seed for each component, derived from the run's seed (so components never share a stream). */
function derive(seed: number, label: string): Random {
  const digest = createHash('sha256').update(`${seed}:${label}`).digest();
  return seededRandom(digest.readBigUInt64BE(0));
}

/** Neighbour entries: every address of `peer` maps to its MAC (Model: no ARP/ND). */
function neighboursOf(
  peer: HostSpec,
  extra: readonly Uint8Array[]
): { address: Uint8Array; mac: Uint8Array }[] {
  const out: { address: Uint8Array; mac: Uint8Array }[] = [];
  if (peer.ipv4) out.push({ address: peer.ipv4, mac: peer.mac });
  if (peer.ipv6) out.push({ address: peer.ipv6, mac: peer.mac });
  for (const a of extra) out.push({ address: a, mac: peer.mac });
  return out;
}

/** The two-host system of one run. */
export class System {
  readonly spec: SystemSpec;
  readonly clock: VirtualClock = new VirtualClock();
  readonly wire: Wire;
  readonly a: Side;
  readonly b: Side;
  readonly faults: { readonly aToB: FaultInjector | null; readonly bToA: FaultInjector | null };
  readonly nat: Nat | null;
  readonly #capture: PcapngWriter | null;
  readonly #payloads = new Map<string, Uint8Array>();

  constructor(spec: SystemSpec) {
    this.spec = spec;
    const [hostA, hostB] = spec.hosts;
    const link = spec.link ?? {};
    // Model: a full-duplex point-to-point Ethernet link; the rate and delay only set timestamps.
    this.wire = new Wire(this.clock, {
      bitsPerSecond: link.bitsPerSecond ?? 10_000_000_000,
      latencyNanos: BigInt(link.latencyNanos ?? 1_000),
    });
    this.#capture = spec.capture === true ? new PcapngWriter() : null;
    // A's transmit path: [NAT outbound] → [faults] → tap → wire.a; B's likewise.
    const tapped = (inner: Link, direction: Direction): Link =>
      this.#capture ? new Tap(inner, this.clock, direction, captureObserver(this.#capture)) : inner;
    const observe = spec.observe;
    // The observer's `sent` tap sits in front of the fault injector (its frame indexes).
    const offered = (inner: Link, direction: Direction): Link =>
      observe === undefined
        ? inner
        : new Tap(inner, this.clock, direction, (frame) => {
            observe(frame, direction, 'sent');
          });
    const faultsAB = link.faultsAToB
      ? new FaultInjector(tapped(this.wire.a, 'a-to-b'), {
          ...link.faultsAToB,
          random: derive(spec.seed, 'faults-ab'),
        })
      : null;
    const faultsBA = link.faultsBToA
      ? new FaultInjector(tapped(this.wire.b, 'b-to-a'), {
          ...link.faultsBToA,
          random: derive(spec.seed, 'faults-ba'),
        })
      : null;
    this.faults = { aToB: faultsAB, bToA: faultsBA };
    let linkA: Link = offered(faultsAB ?? tapped(this.wire.a, 'a-to-b'), 'a-to-b');
    let linkB: Link = offered(faultsBA ?? tapped(this.wire.b, 'b-to-a'), 'b-to-a');
    this.nat = link.natPublicAddress ? new Nat({ publicAddress: link.natPublicAddress }) : null;
    if (this.nat) {
      linkA = this.nat.outbound(linkA);
      linkB = this.nat.inbound(linkB);
    }
    this.a = this.#side(hostA, hostB, linkA, 'a');
    this.b = this.#side(hostB, hostA, linkB, 'b');
  }

  #side(me: HostSpec, peer: HostSpec, link: Link, label: string): Side {
    const spec = this.spec;
    const outbound = spec.sas.filter((s) => s.from === me.name);
    const inbound = spec.sas
      .filter((s) => s.from !== me.name)
      .map((s) => this.#insideView(s, me, label));
    const sending = spec.flows.filter((f) => f.from === me.name);
    const receiving = spec.flows.filter((f) => f.to === me.name);
    // Tunnel endpoints of the peer are reached through the peer's MAC too.
    const peerEndpoints = outbound.map((s) => s.destination);
    const inbox: Uint8Array[] = [];
    let host: Host | null = null;
    let receiver: Receiver | null = null;
    const nic: Miniport = new Miniport({
      ...(me.capabilities ? { capabilities: me.capabilities } : {}),
      ...(me.saDeleteRequest ? { saDeleteRequest: me.saDeleteRequest } : {}),
      link,
      random: derive(spec.seed, `nic-${label}`),
      complete: (nbl) => host?.onSendComplete(nbl),
      indicateStatus: (indication) => host?.onStatusIndication(indication),
      // ProtocolReceiveNetBufferLists consumes the chain at once (the receiver copies what it
      // keeps), then NdisReturnNetBufferLists gives the NBLs back to the NIC's pool.
      indicateReceive: (first) => {
        receiver?.receive(first);
        nic.returnNetBufferLists(first);
      },
    });
    host = new Host({
      name: me.name,
      mac: me.mac,
      ...(me.ipv4 ? { ipv4: me.ipv4 } : {}),
      ...(me.ipv6 ? { ipv6: me.ipv6 } : {}),
      nic,
      random: derive(spec.seed, `host-${label}`),
      mtu: spec.link?.mtu ?? 1500,
      neighbours: neighboursOf(peer, peerEndpoints),
      outbound,
      inbound,
      flows: sending,
      inboundFlows: receiving,
      bind: nic.capabilities,
    });
    const addresses = [me.ipv4, me.ipv6, ...inbound.map((s) => s.destination)].filter(
      (a): a is Uint8Array => a !== undefined
    );
    const h = host;
    // The sender's first TCP sequence number (sender.ts: FlowState.tcpSeq starts at 1): a
    // handshake would tell the receiver (RFC 9293 §3.4); without one, a lost first segment would
    // go unreported, so the system tells it.
    const initialSequence: Record<string, number> = {};
    for (const f of receiving) if (f.l4 === 'tcp') initialSequence[f.name] = 1;
    receiver = new Receiver({
      addresses,
      sas: inbound,
      flows: receiving,
      initialSequence,
      onSaDeleteRequest: (name) => {
        const sa = inbound.find((s) => s.name === name);
        const spi = sa?.esp?.spi ?? sa?.ah?.spi;
        if (spi !== undefined) h.saDeleteRequested(spi);
      },
    });
    return { spec: me, nic, host, receiver, inbox };
  }

  /**
   * The inbound SA as host A behind the NAT knows it. The peer addresses its packets to the NAT's
   * public address (the SA's destination as the peer sees it); the NAT hands them to A with A's
   * own address, so A's NIC and receiver look the SA up by that address (RFC 3947: IKE's NAT-D
   * tells each end what the other sees; each end's SAD holds its own view).
   */
  #insideView(sa: SystemSa, me: HostSpec, label: string): SystemSa {
    const pub = this.spec.link?.natPublicAddress;
    if (label !== 'a' || pub === undefined || me.ipv4 === undefined) return sa;
    if (!sameBytes(sa.destination, pub)) return sa;
    return { ...sa, destination: me.ipv4 };
  }

  /** Starts both hosts: capabilities by OID, SAs added, receive offload enabled (D12). */
  start(): void {
    for (const side of [this.a, this.b]) {
      side.host.start();
      if (side.spec.receiveOffload === false) continue;
      const r = side.nic.oidRequest({
        type: 'set',
        oid: Oid.OID_OFFLOAD_ENCAPSULATION,
        buffer: encodeOffloadEncapsulation({
          IPv4: {
            Enabled: OffloadSet.NDIS_OFFLOAD_SET_ON,
            EncapsulationType: Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3,
            HeaderSize: 14,
          },
          IPv6: {
            Enabled: OffloadSet.NDIS_OFFLOAD_SET_ON,
            EncapsulationType: Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3,
            HeaderSize: 14,
          },
        }),
      });
      if (r.status !== NdisStatus.NDIS_STATUS_SUCCESS) {
        throw new Error(
          `System.start: OID_OFFLOAD_ENCAPSULATION on ${side.spec.name} → ${statusName(r.status)}`
        );
      }
    }
  }

  /**
   * Delivers every frame on the link, batch by batch, until the link is quiet. Frames a reorder
   * fault holds back stay held until enough later frames overtake them (so a reorder can span
   * writes), unless `releaseHeld` (the end of a run) sends them now.
   */
  pump(releaseHeld = false): number {
    let n = 0;
    for (;;) {
      if (releaseHeld) {
        this.faults.aToB?.flush();
        this.faults.bToA?.flush();
      }
      const next = this.wire.nextArrivalNanos();
      if (next === undefined) return n;
      this.clock.advanceTo(next);
      const observe = this.spec.observe;
      n += this.wire.deliver(
        (frame) => {
          observe?.(frame, 'b-to-a', 'arrived');
          this.a.inbox.push(frame);
        },
        (frame) => {
          observe?.(frame, 'a-to-b', 'arrived');
          this.b.inbox.push(frame);
        }
      );
      for (const side of [this.a, this.b]) {
        if (side.inbox.length === 0) continue;
        const batch = side.inbox.splice(0);
        side.nic.receive(batch);
      }
    }
  }

  /** The application bytes of `flow` (seeded, so a run is reproducible). */
  payloadOf(flow: SystemFlow): Uint8Array {
    let p = this.#payloads.get(flow.name);
    if (p === undefined) {
      p = new Uint8Array(flow.bytes);
      derive(this.spec.seed, `payload-${flow.name}`).fill(p);
      this.#payloads.set(flow.name, p);
    }
    return p;
  }

  /**
   * Runs every flow to its end: writes, pumps, flushes; returns the result. `progress` is told
   * the number of writes done after each one.
   */
  run(progress?: (writes: number) => void): SystemResult {
    this.start();
    const writesPerPump = this.spec.writesPerPump ?? 1;
    let writes = 0;
    for (const flow of this.spec.flows) {
      const side = flow.from === this.a.spec.name ? this.a : this.b;
      const payload = this.payloadOf(flow);
      const size = flow.writeSize ?? Math.max(payload.length, 1);
      for (let at = 0; at < payload.length; at += size) {
        side.host.write(flow.name, payload.subarray(at, Math.min(at + size, payload.length)));
        if (++writes % writesPerPump === 0) this.pump();
        progress?.(writes);
      }
    }
    this.pump(true);
    this.a.receiver.flush();
    this.b.receiver.flush();
    return this.result();
  }

  /** The result so far. */
  result(): SystemResult {
    const flows = this.spec.flows.map((flow): FlowResult => {
      const from = flow.from === this.a.spec.name ? this.a : this.b;
      const to = from === this.a ? this.b : this.a;
      const sent = from.host.flow(flow.name).counters;
      const got = to.receiver.flow(flow.name);
      const payload = this.payloadOf(flow);
      return {
        name: flow.name,
        packetsSent: sent.packetsSent,
        bytesSent: sent.bytesSent,
        packetsDelivered: got?.packetsDelivered ?? 0,
        bytesDelivered: got?.bytesDelivered ?? 0,
        sentSha256: createHash('sha256').update(payload).digest('hex'),
        deliveredSha256: got?.sha256 ?? '',
        sendFailures: sent.nblsFailed,
        drops: got?.drops ?? {},
        lossGaps: got?.lossGaps ?? 0,
        lossBytes: got?.lossBytes ?? 0,
      };
    });
    return {
      flows,
      nics: {
        [this.a.spec.name]: this.a.nic.counters.snapshot(),
        [this.b.spec.name]: this.b.nic.counters.snapshot(),
      },
      receiverDrops: {
        [this.a.spec.name]: { ...this.a.receiver.drops },
        [this.b.spec.name]: { ...this.b.receiver.drops },
      },
      frames: this.wire.aToB.counters.transmitted + this.wire.bToA.counters.transmitted,
      pcapng: this.#capture ? this.#capture.bytes() : null,
    };
  }
}
