/**
 * @module
 * A simulated host: name, MAC, IPv4/IPv6 addresses, a static neighbour table, an MTU, its NIC
 * and its security policy (outbound and inbound SaConfigs, flows). It reads the NIC's
 * capabilities by OID query at start and on each NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG
 * (reference §1.2, contract D12), keeps its SAs in the SA database (sadb.ts), sends through the
 * sender (sender.ts), and turns IPsec offload off the way D10 asks: stop handing the NIC IPsec
 * work, wait for outstanding NBLs, then set OID_TCP_OFFLOAD_PARAMETERS.
 */
import type { Random } from '../crypto/transform.ts';
import {
  encodeOffloadParameters,
  noChange,
  type Offload,
  type OffloadParameters,
} from '../ndis/caps.ts';
import type { NetBufferList } from '../ndis/nbl.ts';
import { Oid, OffloadParameter } from '../ndis/oid.ts';
import { NdisStatus } from '../ndis/status.ts';
import type { Nic } from './nic.ts';
import type { FlowConfig, SaConfig } from './policy.ts';
import { Sadb, type Rekey, type SaState } from './sadb.ts';
import { Sender, type FlowState, type SendFailure } from './sender.ts';
import { lsoLimitsOf, type BundleRole, type TxCapabilities } from './tx-caps.ts';
import { bundlesOf, rolesOf } from './tx-spec.ts';

/** One entry of the static neighbour table (Model: no ARP/ND). */
export interface Neighbour {
  readonly address: Uint8Array;
  readonly mac: Uint8Array;
}

/** A status indication as NDIS delivers it to the protocol (NdisMIndicateStatusEx). */
export interface HostStatusIndication {
  readonly status: number;
  readonly offload?: Offload;
}

/** How a host is built. */
export interface HostOptions {
  readonly name: string;
  readonly mac: Uint8Array;
  readonly ipv4?: Uint8Array;
  readonly ipv6?: Uint8Array;
  readonly nic: Nic;
  /** Keys of rekeyed SAs and software CBC IVs (contract D6). */
  readonly random: Random;
  /** IP MTU of the link (default 1500). */
  readonly mtu?: number;
  readonly neighbours: readonly Neighbour[];
  /** Outbound bundles (this host sends with them). */
  readonly outbound: readonly SaConfig[];
  /** Inbound bundles (the peer's outbound ones; the receiver verifies with them). */
  readonly inbound?: readonly SaConfig[];
  readonly flows: readonly FlowConfig[];
  /**
   * The flows this host receives (the peer's flows over `inbound`): they say which inbound
   * transport SA travels inside which inbound tunnel SA, so those bundles are added with their
   * transport-over-tunnel roles (UdpEspEncapsulation 4 or 8, TransportTunnelCombined; §1.9).
   */
  readonly inboundFlows?: readonly FlowConfig[];
  /** The NDIS_OFFLOAD of NDIS_BIND_PARAMETERS: the LSO limits (none: no LSO until indicated). */
  readonly bind?: Offload;
  readonly rekeyMargin?: bigint;
  readonly rekey?: Rekey;
  readonly onRekey?: (old: SaConfig, next: SaConfig) => void;
  readonly batch?: number;
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * The role of `sa` from `roles` (by policy name; a rekeyed generation `name#n` keeps its
 * bundle's role), else from its mode alone.
 */
function roleOf(roles: ReadonlyMap<string, BundleRole>, sa: SaConfig): BundleRole {
  return (
    roles.get(sa.name) ??
    roles.get(sa.name.replace(/#\d+$/, '')) ??
    (sa.mode === 'tunnel' ? 'tunnel' : 'transport')
  );
}

/** True when `p` turns IPsec offload (or one of AH/ESP) off. */
function removesIpsec(p: OffloadParameters): boolean {
  const P = OffloadParameter;
  const reduces = (v: number): boolean =>
    v !== P.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE &&
    v !== P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED;
  return reduces(p.IPsecV2) || reduces(p.IPsecV2IPv4);
}

/** A host of the simulation. */
export class Host {
  readonly name: string;
  readonly mac: Uint8Array;
  readonly ipv4: Uint8Array | undefined;
  readonly ipv6: Uint8Array | undefined;
  readonly mtu: number;
  readonly sadb: Sadb;
  readonly sender: Sender;
  readonly #nic: Nic;
  readonly #neighbours: Map<string, Uint8Array>;
  readonly #options: HostOptions;
  #lso: Pick<TxCapabilities, 'lsoV1' | 'lsoV2IPv4' | 'lsoV2IPv6'>;
  /** Roles of the inbound bundles by policy name (from `inboundFlows`). */
  readonly #inboundRoles = new Map<string, BundleRole>();
  #hold = false;
  #pending: OffloadParameters | null = null;
  /** The status of the last OID_TCP_OFFLOAD_PARAMETERS set, or null while pending. */
  lastParametersStatus: number | null = null;

  constructor(options: HostOptions) {
    this.name = options.name;
    this.mac = options.mac;
    this.ipv4 = options.ipv4;
    this.ipv6 = options.ipv6;
    this.mtu = options.mtu ?? 1500;
    this.#nic = options.nic;
    this.#options = options;
    this.#neighbours = new Map(options.neighbours.map((n) => [hex(n.address), n.mac]));
    this.#lso = lsoLimitsOf(options.bind);
    this.sadb = new Sadb({
      nic: options.nic,
      random: options.random,
      ...(options.rekeyMargin === undefined ? {} : { rekeyMargin: options.rekeyMargin }),
      ...(options.rekey === undefined ? {} : { rekey: options.rekey }),
      ...(options.onRekey === undefined ? {} : { onRekey: options.onRekey }),
    });
    this.sender = new Sender({
      nic: options.nic,
      sadb: this.sadb,
      random: options.random,
      mtu: this.mtu,
      mac: options.mac,
      address: (v) => this.#address(v),
      neighbour: (a) => this.#neighbour(a),
      capabilities: () => this.capabilities,
      hold: () => this.#hold,
      completed: () => {
        this.#continueParameters();
      },
      ...(options.batch === undefined ? {} : { batch: options.batch }),
    });
  }

  #address(version: 4 | 6): Uint8Array {
    const a = version === 4 ? this.ipv4 : this.ipv6;
    if (a === undefined)
      throw new RangeError(`Host ${this.name}: expected an IPv${version} address`);
    return a;
  }

  #neighbour(address: Uint8Array): Uint8Array {
    const mac = this.#neighbours.get(hex(address));
    if (mac === undefined) {
      throw new RangeError(
        `Host ${this.name}: expected a neighbour entry for ${hex(address)}, got none`
      );
    }
    return mac;
  }

  /** The capability record the sender decides from (D12). */
  get capabilities(): TxCapabilities {
    return { ipsec: this.sadb.ipsec, ...this.#lso };
  }

  /**
   * Reads the capabilities by OID query, registers the policy and adds every bundle the NIC can
   * take (outbound and inbound) in one ADD_SA list.
   */
  start(): void {
    this.sadb.queryCapabilities();
    const roles = this.#roles(this.#options.flows, this.#options.outbound);
    for (const sa of this.#options.outbound) this.sadb.addOutbound(sa, roleOf(roles, sa));
    this.sadb.reconcile();
    const inbound = this.#options.inbound ?? [];
    for (const [name, role] of this.#roles(this.#options.inboundFlows ?? [], inbound, false)) {
      this.#inboundRoles.set(name, role);
    }
    for (const sa of inbound) this.sadb.addInbound(sa, roleOf(this.#inboundRoles, sa));
    for (const f of this.#options.flows) this.sender.addFlow(f);
  }

  /**
   * Where each SA of `sas` sits in the packets of `flows` (tx-caps.ts BundleRole); an unknown SA
   * name throws when `strict` (the host's own flows), else is left out (a peer flow in clear).
   */
  #roles(
    flows: readonly FlowConfig[],
    sas: readonly SaConfig[],
    strict = true
  ): Map<string, BundleRole> {
    const roles = new Map<string, BundleRole>();
    const byName = new Map(sas.map((s) => [s.name, s]));
    for (const f of flows) {
      if (!strict && [f.sa, f.tunnelSa].some((n) => n !== undefined && !byName.has(n))) continue;
      const b = bundlesOf(f, (n) => {
        const s = byName.get(n);
        if (s === undefined)
          throw new RangeError(`Host ${this.name}: flow ${f.name} names unknown SA ${n}`);
        return s;
      });
      const r = rolesOf(b);
      if (b.transport !== null) roles.set(b.transport, r.transport);
      if (b.tunnel !== null) roles.set(b.tunnel, r.tunnel);
    }
    return roles;
  }

  /** Adds an inbound bundle later (a peer's rekey): to the NIC when it can take it. */
  addInbound(sa: SaConfig): SaState {
    return this.sadb.addInbound(sa, roleOf(this.#inboundRoles, sa));
  }

  /** The inbound SaConfigs, current generation (for the receiver). */
  inboundSas(): SaConfig[] {
    return this.sadb
      .states()
      .filter((s) => s.inbound)
      .map((s) => s.config);
  }

  /** Writes `bytes` on flow `flow` (TCP stream or one UDP datagram). */
  write(flow: string, bytes: Uint8Array): void {
    this.sender.write(flow, bytes);
  }

  /** NdisMSendNetBufferListsComplete (the sim wires the miniport's completion here). */
  onSendComplete(nbl: NetBufferList | null): void {
    this.sender.onSendComplete(nbl);
  }

  /** NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG: re-read the capabilities and reconcile the SAs. */
  onStatusIndication(indication: HostStatusIndication): void {
    if (indication.status !== NdisStatus.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG) return;
    if (indication.offload !== undefined) this.#lso = lsoLimitsOf(indication.offload);
    this.sadb.queryCapabilities();
    this.sadb.reconcile();
  }

  /** SaDeleteReq seen by the receiver: delete the inbound bundle and its outbound peer. */
  saDeleteRequested(spi: number, destination?: Uint8Array): number {
    return this.sadb.saDeleteRequested(spi, destination);
  }

  /**
   * Sets OID_TCP_OFFLOAD_PARAMETERS. When `p` removes IPsec offload, D10 first: no new IPsec work
   * goes to the NIC, and the OID is set only when no offloaded NBL is outstanding — now
   * ('done') or from the last completion ('pending'; `lastParametersStatus` says how it went).
   */
  setOffloadParameters(p: OffloadParameters): 'done' | 'pending' {
    if (!removesIpsec(p)) {
      this.#set(p);
      return 'done';
    }
    this.#hold = true;
    this.#pending = p;
    this.lastParametersStatus = null;
    return this.#continueParameters() ? 'done' : 'pending';
  }

  /** Turns IPsec offload v2 off (both settings) the D10 way. */
  disableIpsecOffload(): 'done' | 'pending' {
    const off = OffloadParameter.NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED;
    return this.setOffloadParameters({ ...noChange(), IPsecV2: off, IPsecV2IPv4: off });
  }

  /** Sets the pending parameters once no offloaded NBL is outstanding; true when it did. */
  #continueParameters(): boolean {
    const p = this.#pending;
    if (p === null || this.sender.offloadedOutstanding > 0) return false;
    this.#pending = null;
    this.#set(p);
    this.#hold = false;
    return true;
  }

  #set(p: OffloadParameters): void {
    const r = this.#nic.oidRequest({
      type: 'set',
      oid: Oid.OID_TCP_OFFLOAD_PARAMETERS,
      buffer: encodeOffloadParameters(p),
    });
    this.lastParametersStatus = r.status;
    // The indication normally did this already; a NIC that does not indicate is read again.
    this.sadb.queryCapabilities();
    this.sadb.reconcile();
  }

  /** DELETE_SA for everything the NIC holds (teardown). */
  teardown(): void {
    this.sadb.teardown();
  }

  /** One flow's counters and failures. */
  flow(name: string): FlowState {
    return this.sender.flow(name);
  }

  /** Every failure of every flow. */
  get failures(): readonly SendFailure[] {
    return this.sender.failures;
  }
}
