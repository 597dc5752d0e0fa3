/**
 * @module
 * The send side of the host stack: application writes on flows become framed NBLs (contract D1
 * non-LSO, D2 LSO), handed to the NIC in chains (NdisSendNetBufferLists), with software IPsec
 * where the NIC cannot take the work (software.ts) and IP fragmentation after IPsec for UDP
 * datagrams larger than the MTU (D16). Sequence numbers come from the SA database, one per LSO
 * segment (D3); an NBL whose reservation moves an ESN high half ends its chain, and the next NBL
 * of that bundle waits until UPDATE_SA has given the NIC the new high half (D3). Every completion
 * is accounted to its flow; a failed NBL is reported with its status, never lost (D11).
 *
 * Decisions where the contract is silent:
 * - One packet is offloaded only if every bundle it carries is offloaded (a software tunnel around
 *   an offloaded transport SA cannot be built: the NIC would protect after the transport).
 * - Non-LSO TCP and UDP checksums are complete in the frame (D13 allows it), so software and
 *   offloaded frames are the same bytes before IPsec.
 * - A TCP write that would make fewer LSO segments than MinSegmentCount goes as MSS segments.
 * - IPv4 Identification counts per host within 0x0000–0x7FFF (safe for LSOv2, D2).
 */
import type { Random } from '../crypto/transform.ts';
import { NetBuffer, NetBufferList } from '../ndis/nbl.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import type { Reservation } from '../wire/seqnum.ts';
import * as framing from './framing.ts';
import { chooseMss } from './mss.ts';
import type { Nic } from './nic.ts';
import type { FlowConfig } from './policy.ts';
import type { Sadb, SaState } from './sadb.ts';
import { protect, type SoftwareLevel } from './software.ts';
import { lsoFor, type TxCapabilities } from './tx-caps.ts';
import { fragment } from './tx-fragment.ts';
import {
  bundlesOf,
  frameSpec,
  maxPayload,
  tcpHeader,
  type FlowBundles,
  type PacketBundles,
  type PacketShape,
} from './tx-spec.ts';

/** A failed send, as reported to its flow. */
export interface SendFailure {
  readonly flow: string;
  readonly status: number;
  readonly statusName: string;
  /** `nic` (completed with a failure status) or the transport's own reason. */
  readonly reason: string;
  /** Application bytes that did not go out. */
  readonly bytes: number;
}

/** Counters of one flow. */
export interface FlowCounters {
  /** Frames (segments, datagrams, fragments) the NIC completed successfully. */
  packetsSent: number;
  /** Application bytes in successfully completed NBLs. */
  bytesSent: number;
  nblsSent: number;
  nblsFailed: number;
  /** NBLs handed to the NIC with IPsec offload, and with software IPsec. */
  nblsOffloaded: number;
  nblsSoftware: number;
}

/** One flow's send state. */
export class FlowState {
  readonly config: FlowConfig;
  readonly bundles: FlowBundles;
  readonly counters: FlowCounters = {
    packetsSent: 0,
    bytesSent: 0,
    nblsSent: 0,
    nblsFailed: 0,
    nblsOffloaded: 0,
    nblsSoftware: 0,
  };
  readonly failures: SendFailure[] = [];
  /** The next TCP sequence number (RFC 9293 §3.4). */
  tcpSeq = 1;

  constructor(config: FlowConfig, bundles: FlowBundles) {
    this.config = config;
    this.bundles = bundles;
  }
}

/** What the transport keeps with each NBL (ProtocolReserved). */
interface SendRecord {
  readonly owner: Sender;
  readonly flow: FlowState;
  readonly states: readonly SaState[];
  readonly reservations: readonly Reservation[];
  readonly offloaded: boolean;
  readonly frames: number;
  readonly bytes: number;
}

/** Where the sender's packets come from and go to. */
export interface SenderOptions {
  readonly nic: Nic;
  readonly sadb: Sadb;
  readonly random: Random;
  /** IP MTU of the link. */
  readonly mtu: number;
  readonly mac: Uint8Array;
  readonly address: (version: 4 | 6) => Uint8Array;
  /** The MAC of a neighbour by IP address (static table). */
  readonly neighbour: (address: Uint8Array) => Uint8Array;
  readonly capabilities: () => TxCapabilities;
  /** True while IPsec work must not go to the NIC (D10). */
  readonly hold: () => boolean;
  /** NBLs per NdisSendNetBufferLists call (default 32). */
  readonly batch?: number;
  /** Called after each completion (the host continues a pending D10 change). */
  readonly completed?: () => void;
}

const PLACEHOLDER_HANDLE = 1n;

/** The sending transport of one host. */
/** Completed NBLs a sender keeps for reuse. */
const POOL_LIMIT = 256;

export class Sender {
  readonly #o: SenderOptions;
  readonly #flows = new Map<string, FlowState>();
  readonly #queue: NetBufferList[] = [];
  /**
   * Completed NBLs for the next sends (NdisAllocateNetBufferListPool): `framing.build` resets and
   * refills one instead of allocating an NBL, its NblInfo and its NET_BUFFER per packet.
   */
  readonly #pool: NetBufferList[] = [];
  #ipId = 1;
  #ipv6Id = 1;
  #flushing = false;
  /** NBLs handed to the NIC and not completed; of those, with IPsec offload. */
  outstanding = 0;
  offloadedOutstanding = 0;
  /** Every failure of every flow, in order. */
  readonly failures: SendFailure[] = [];

  constructor(options: SenderOptions) {
    this.#o = options;
  }

  /** Adds a flow; throws for a flow without an SA (framing needs a bundle) or an unknown SA. */
  addFlow(flow: FlowConfig): FlowState {
    if (flow.sa === undefined && flow.tunnelSa === undefined) {
      throw new RangeError(`Sender.addFlow ${flow.name}: expected sa or tunnelSa, got neither`);
    }
    const sadb = this.#o.sadb;
    const bundles = bundlesOf(flow, (name) => {
      const s = sadb.outbound(name);
      if (s === undefined) throw new RangeError(`Sender.addFlow ${flow.name}: unknown SA ${name}`);
      return s.config;
    });
    const state = new FlowState(flow, bundles);
    this.#flows.set(flow.name, state);
    return state;
  }

  /** The flow named `name`. */
  flow(name: string): FlowState {
    const f = this.#flows.get(name);
    if (f === undefined) throw new RangeError(`Sender: expected a flow name, got ${name}`);
    return f;
  }

  /** Every flow. */
  flows(): FlowState[] {
    return [...this.#flows.values()];
  }

  /** Sends `bytes` on flow `name`: a TCP stream write or one UDP datagram. */
  write(name: string, bytes: Uint8Array): void {
    const flow = this.flow(name);
    if (flow.config.l4 === 'tcp') this.#writeTcp(flow, bytes);
    else this.#writeUdp(flow, bytes);
    this.flush();
  }

  #states(flow: FlowState): { transport: SaState | null; tunnel: SaState | null } {
    const sadb = this.#o.sadb;
    const b = flow.bundles;
    return {
      transport: b.transport === null ? null : sadb.current(b.transport),
      tunnel: b.tunnel === null ? null : sadb.current(b.tunnel),
    };
  }

  #shape(flow: FlowState, tunnel: SaState | null, tcp: boolean, id: number): PacketShape {
    const c = flow.config;
    const transport = flow.bundles.transport;
    const destination =
      c.destination ??
      (transport === null ? undefined : this.#o.sadb.outbound(transport)?.config.destination);
    if (destination === undefined) {
      throw new RangeError(`Sender ${c.name}: expected a destination for a tunnel-only flow`);
    }
    const outerDst = tunnel === null ? destination : tunnel.config.destination;
    return {
      source: this.#o.address(c.ipVersion),
      destination,
      version: c.ipVersion,
      macSource: this.#o.mac,
      macDestination: this.#o.neighbour(outerDst),
      identification: id,
      dontFragment: tcp,
    };
  }

  /** Reserves `count` numbers on each state; null (failure reported) when one runs out. */
  #reserve(
    flow: FlowState,
    states: readonly SaState[],
    count: number,
    bytes: number
  ): Reservation[] | null {
    const out: Reservation[] = [];
    for (const s of states) {
      const r = this.#o.sadb.reserve(s, count);
      if (!r.ok) {
        this.#fail(flow, NdisStatus.NDIS_STATUS_FAILURE, r.reason, bytes);
        return null;
      }
      out.push(r.value);
    }
    return out;
  }

  #writeTcp(flow: FlowState, bytes: Uint8Array): void {
    let off = 0;
    while (off < bytes.length) {
      const { transport, tunnel } = this.#states(flow);
      const states = [transport, tunnel].filter((s): s is SaState => s !== null);
      const offload = !this.#o.hold() && states.every((s) => s.offloaded);
      const wanted = flow.config.lso;
      const lso =
        offload && wanted !== undefined
          ? lsoFor(
              this.#o.capabilities(),
              wanted.version,
              flow.config.ipVersion,
              tunnel !== null,
              true
            )
          : null;
      const shape = this.#shape(flow, tunnel, true, this.#ipId);
      const probe = this.#bundles(transport, tunnel, 1n, offload);
      const header = tcpHeader(flow.config, flow.tcpSeq, false);
      const probeSpec = frameSpec(
        shape,
        probe,
        { protocol: 'tcp', header, payload: bytes },
        undefined
      );
      const mss =
        wanted?.mss ??
        (tunnel === null
          ? chooseMss(this.#o.mtu, framing.mssOverhead(probeSpec))
          : maxPayload(probeSpec, this.#o.mtu));
      const remaining = bytes.length - off;
      let chunk = Math.min(remaining, mss);
      let useLso = false;
      if (lso !== null) {
        let cap = lso.limit.maxOffLoadSize;
        if (lso.version === 1) cap = Math.min(cap, 0xffff - 512); // 16-bit Total Length (D2)
        const perNbl = Math.max(mss, Math.floor(cap / mss) * mss);
        const candidate = Math.min(remaining, perNbl);
        if (Math.ceil(candidate / mss) >= Math.max(2, lso.limit.minSegmentCount)) {
          chunk = candidate;
          useLso = true;
        }
      }
      const segments = useLso ? Math.ceil(chunk / mss) : 1;
      const reservations = this.#reserve(flow, states, segments, chunk);
      if (reservations === null) {
        off += chunk;
        flow.tcpSeq = (flow.tcpSeq + chunk) >>> 0;
        continue;
      }
      const last = off + chunk === bytes.length;
      const seqOf = (s: SaState | null): bigint =>
        s === null ? 0n : reservations[states.indexOf(s)].first;
      const spec = frameSpec(
        shape,
        this.#bundles(transport, tunnel, 0n, offload, seqOf),
        {
          protocol: 'tcp',
          header: tcpHeader(flow.config, flow.tcpSeq, last),
          payload: bytes.subarray(off, off + chunk),
        },
        useLso && lso !== null ? { version: lso.version, mss } : undefined
      );
      const nbl = offload
        ? framing.build(spec, this.#pool.pop())
        : this.#software(spec, transport, tunnel, seqOf, null);
      this.#ipId = (this.#ipId + segments) % 0x8000;
      this.#enqueue(nbl, flow, states, reservations, offload, segments, chunk);
      off += chunk;
      flow.tcpSeq = (flow.tcpSeq + chunk) >>> 0;
    }
  }

  #writeUdp(flow: FlowState, bytes: Uint8Array): void {
    const { transport, tunnel } = this.#states(flow);
    const states = [transport, tunnel].filter((s): s is SaState => s !== null);
    const reservations = this.#reserve(flow, states, 1, bytes.length);
    if (reservations === null) return;
    const seqOf = (s: SaState | null): bigint =>
      s === null ? 0n : reservations[states.indexOf(s)].first;
    const id = this.#ipId;
    this.#ipId = (this.#ipId + 1) % 0x8000;
    const shape = this.#shape(flow, tunnel, false, id);
    const l4 = {
      protocol: 'udp' as const,
      srcPort: flow.config.srcPort,
      dstPort: flow.config.dstPort,
      payload: bytes,
    };
    const probe = frameSpec(
      shape,
      this.#bundles(transport, tunnel, 0n, false, seqOf),
      l4,
      undefined
    );
    // D16: a packet that needs fragmentation is never offloaded.
    const big = framing.plan(probe).levels[0].packetLength > this.#o.mtu;
    const offload = !big && !this.#o.hold() && states.every((s) => s.offloaded);
    const spec = frameSpec(
      shape,
      this.#bundles(transport, tunnel, 0n, offload, seqOf),
      l4,
      undefined
    );
    let nbl: NetBufferList;
    if (offload) nbl = framing.build(spec, this.#pool.pop());
    else {
      const v6Id = this.#ipv6Id;
      this.#ipv6Id = (this.#ipv6Id + 1) >>> 0 || 1;
      nbl = this.#software(
        spec,
        transport,
        tunnel,
        seqOf,
        big ? (spec.ip.version === 4 ? id : v6Id) : null
      );
    }
    this.#enqueue(nbl, flow, states, reservations, offload, nbl.netBuffers.length, bytes.length);
  }

  #bundles(
    transport: SaState | null,
    tunnel: SaState | null,
    fallback: bigint,
    offload: boolean,
    seqOf?: (s: SaState | null) => bigint
  ): PacketBundles {
    const one = (s: SaState | null): PacketBundles['transport'] =>
      s === null
        ? null
        : {
            sa: s.config,
            seq: seqOf?.(s) ?? (fallback === 0n ? 1n : fallback),
            handle: offload ? s.handle : PLACEHOLDER_HANDLE,
          };
    return { transport: one(transport), tunnel: one(tunnel) };
  }

  /** Frames `spec` and protects it in software; fragments it when `fragmentId` is given (D16). */
  #software(
    spec: framing.FrameSpec,
    transport: SaState | null,
    tunnel: SaState | null,
    seqOf: (s: SaState | null) => bigint,
    fragmentId: number | null
  ): NetBufferList {
    const p = framing.plan(spec);
    const frame = new Uint8Array(p.frameLength);
    framing.emit(spec, frame);
    const level = (s: SaState | null): SoftwareLevel | null => {
      if (s === null) return null;
      const t = s.software(this.#o.random);
      return { esp: t.esp, auth: t.auth, high: Number(seqOf(s) >> 32n) };
    };
    protect(frame, p, tunnel === null ? [level(transport)] : [level(tunnel), level(transport)]);
    const frames =
      fragmentId === null
        ? [frame]
        : fragment(frame, p.levels[0].ipOffset, this.#o.mtu, fragmentId);
    return new NetBufferList(...frames.map((f) => new NetBuffer(f)));
  }

  #enqueue(
    nbl: NetBufferList,
    flow: FlowState,
    states: readonly SaState[],
    reservations: readonly Reservation[],
    offloaded: boolean,
    frames: number,
    bytes: number
  ): void {
    const record: SendRecord = {
      owner: this,
      flow,
      states,
      reservations,
      offloaded,
      frames,
      bytes,
    };
    nbl.protocolReserved = record;
    if (offloaded) {
      flow.counters.nblsOffloaded++;
      for (const st of states) st.pending++;
    } else flow.counters.nblsSoftware++;
    this.#queue.push(nbl);
  }

  #fail(flow: FlowState, status: number, reason: string, bytes: number): void {
    const f: SendFailure = {
      flow: flow.config.name,
      status,
      statusName: statusName(status),
      reason,
      bytes,
    };
    flow.counters.nblsFailed++;
    flow.failures.push(f);
    this.failures.push(f);
  }

  /**
   * Hands queued NBLs to the NIC in chains. An offloaded NBL goes only when the NIC holds the
   * high half its bundle's first sequence number needs — UPDATE_SA is pushed once the bundle has
   * nothing in flight — and an NBL that moves a high half ends its chain (D3).
   */
  flush(): void {
    // A NIC that completes inside sendNetBufferLists re-enters here: the outer loop goes on, so
    // chains leave in queue order.
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      this.#flushLoop();
    } finally {
      this.#flushing = false;
    }
  }

  #flushLoop(): void {
    const batch = this.#o.batch ?? 32;
    while (this.#queue.length > 0) {
      const chain: NetBufferList[] = [];
      const touched = new Set<SaState>();
      for (const nbl of this.#queue) {
        if (chain.length >= batch) break;
        const rec = nbl.protocolReserved as SendRecord;
        let ready = true;
        let ends = false;
        if (rec.offloaded) {
          for (let i = 0; i < rec.states.length; i++) {
            const s = rec.states[i];
            const r = rec.reservations[i];
            const need = Number(r.first >> 32n);
            if (s.nicHigh !== need && s.inFlight === 0 && !touched.has(s)) {
              this.#o.sadb.update(s, need);
            }
            if (s.nicHigh !== need) ready = false;
            if (r.highChanges) ends = true;
          }
        }
        if (!ready) break;
        chain.push(nbl);
        for (const s of rec.states) touched.add(s);
        if (ends) break;
      }
      if (chain.length === 0) return; // waiting for completions (D3)
      this.#queue.splice(0, chain.length);
      chain.forEach((n, i) => {
        n.next = chain[i + 1] ?? null;
        const rec = n.protocolReserved as SendRecord;
        this.outstanding++;
        if (rec.offloaded) {
          this.offloadedOutstanding++;
          for (const s of rec.states) s.inFlight++;
        }
      });
      this.#o.nic.sendNetBufferLists(chain[0]);
    }
  }

  /** NdisMSendNetBufferListsComplete: accounts every NBL of the chain to its flow (D11). */
  onSendComplete(first: NetBufferList | null): void {
    let nbl = first;
    while (nbl !== null) {
      const next = nbl.next;
      this.#complete(nbl);
      nbl = next;
    }
    this.#o.sadb.retire();
    this.#o.completed?.();
    this.flush();
  }

  #complete(nbl: NetBufferList): void {
    const rec = nbl.protocolReserved as SendRecord | undefined;
    if (rec?.owner !== this) return;
    nbl.protocolReserved = undefined;
    this.outstanding--;
    if (rec.offloaded) {
      this.offloadedOutstanding--;
      for (const s of rec.states) {
        s.inFlight--;
        s.pending--;
      }
    }
    const flow = rec.flow;
    if (nbl.status === NdisStatus.NDIS_STATUS_SUCCESS) {
      flow.counters.nblsSent++;
      flow.counters.packetsSent += rec.frames;
      flow.counters.bytesSent += rec.bytes;
      for (const s of rec.states) {
        if (rec.offloaded) s.counters.offloaded += rec.frames;
        else s.counters.software += rec.frames;
      }
    } else {
      this.#fail(flow, nbl.status, 'nic', rec.bytes);
    }
    // D3: after the NBL that moved a high half completes, UPDATE_SA before any later NBL.
    rec.states.forEach((s, i) => {
      const r = rec.reservations[i];
      if (r.highChanges && s.inFlight === 0) this.#o.sadb.update(s, Number(r.next >> 32n));
    });
    if (this.#pool.length < POOL_LIMIT) this.#pool.push(nbl); // the NIC is done with it (D11)
  }
}
