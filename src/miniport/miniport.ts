/**
 * @module
 * The simulated NIC: one adapter with its capability record, current configuration, SA table,
 * counters and state, and the two entry points NDIS calls — `oidRequest` (MiniportOidRequest /
 * MiniportDirectOidRequest, in ctrlpath.ts) and `sendNetBufferLists` (MiniportSendNetBufferLists,
 * in datapath.ts) — and `receive`, where frames from the wire come in and go up through
 * `indicateReceive` (NdisMIndicateReceiveNetBufferLists, receive.ts), whose NBLs the protocol hands
 * back through `returnNetBufferLists` (MiniportReturnNetBufferLists). Frames leave through a
 * `Link`; every NBL comes back exactly once through the `complete` callback
 * (NdisMSendNetBufferListsComplete, contract D11). Like netvmini, the model
 * keeps the shape of a hardware miniport even where a shortcut would do.
 */
import type { Random } from '../crypto/transform.ts';
import type { Arch } from '../ndis/abi.ts';
import { defaultCapabilities, type Offload } from '../ndis/caps.ts';
import type { NetBufferList } from '../ndis/nbl.ts';
import { Counters } from './counters.ts';
import { initialConfig, type CurrentConfig } from './config.ts';
import { SaTable } from './sa-table.ts';
import { oidRequest, type OidRequest, type OidResult } from './ctrlpath.ts';
import { completeReset, halt, pause, reset, restart } from './lifecycle.ts';
import { sendNetBufferLists } from './datapath.ts';
import { receiveFrames } from './receive.ts';
import { RxContext } from './recv-context.ts';
import type { SaBundle } from './sa-table.ts';

/** Where the NIC puts frames on the wire. */
export interface Link {
  /**
   * Transmits one complete Ethernet frame. Without `copies` the Link owns `frame` afterwards; with
   * `copies` the frame's memory goes back to the NIC when `transmit` returns.
   */
  transmit(frame: Uint8Array): void;
  /**
   * True when `transmit` copies whatever it keeps of a frame (or keeps nothing: a counting sink),
   * so the NIC may reuse its transmit buffers as a ring (issue 6, miniport/tx-batch.ts). Default:
   * false — every frame is fresh memory the Link may keep.
   */
  readonly copies?: boolean;
}

/** A status indication (NdisMIndicateStatusEx), e.g. NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG. */
export interface StatusIndication {
  readonly status: number;
  /** The NDIS_OFFLOAD the indication carries: the current configuration as a capability record. */
  readonly offload?: Offload;
}

/** The adapter's run state (MiniportPause / MiniportRestart / MiniportResetEx / MiniportHaltEx). */
export type AdapterState = 'running' | 'paused' | 'resetting' | 'halted';

/** How a miniport is built: its hardware, where frames go, and whom it calls back. */
export interface MiniportOptions {
  /** The hardware's capability record (default: `defaultCapabilities()`). */
  readonly capabilities?: Offload;
  /** The wire. */
  readonly link: Link;
  /** NdisMSendNetBufferListsComplete: called with each completed NBL (status set). */
  readonly complete: (nbl: NetBufferList) => void;
  /** NdisMIndicateStatusEx. */
  readonly indicateStatus?: (indication: StatusIndication) => void;
  /** IV source for CBC transforms (contract D6). */
  readonly random: Random;
  /** Pointer size of the OID structures this miniport accepts (default 'x64'). */
  readonly arch?: Arch;
  /** NdisMIndicateReceiveNetBufferLists: called once per received batch with its NBL chain. */
  readonly indicateReceive?: (first: NetBufferList) => void;
  /** The model's SaDeleteReq policy hook: true asks the transport to delete this inbound bundle. */
  readonly saDeleteRequest?: (bundle: SaBundle) => boolean;
}

/** The simulated IPsecOV2 NIC. */
export class Miniport {
  readonly capabilities: Offload;
  readonly arch: Arch;
  readonly link: Link;
  readonly random: Random;
  readonly counters: Counters = new Counters();
  /** The receive path's state: NBL pool, counter slots, per-frame work (recv-context.ts). */
  readonly rx: RxContext = new RxContext(this.counters);
  readonly saTable: SaTable;
  config: CurrentConfig;
  state: AdapterState = 'running';
  readonly #complete: (nbl: NetBufferList) => void;
  readonly #indicate: (indication: StatusIndication) => void;
  readonly #indicateReceive: (first: NetBufferList) => void;
  /** MiniportOptions.saDeleteRequest (receive.ts, reference §4.2 rule 7). */
  readonly saDeleteRequest: ((bundle: SaBundle) => boolean) | undefined;

  constructor(options: MiniportOptions) {
    this.capabilities = options.capabilities ?? defaultCapabilities();
    this.arch = options.arch ?? 'x64';
    this.link = options.link;
    this.random = options.random;
    this.#complete = options.complete;
    this.#indicate =
      options.indicateStatus ??
      ((): void => {
        /* no protocol bound */
      });
    this.#indicateReceive =
      options.indicateReceive ??
      ((): void => {
        /* no protocol bound */
      });
    this.saDeleteRequest = options.saDeleteRequest;
    this.saTable = new SaTable(this.capabilities.IPsecV2.SaOffloadCapacity);
    this.config = initialConfig(this.capabilities);
  }

  /** Completes one NBL with `status` (exactly once per NBL: D11); the data path counts it. */
  completeNbl(nbl: NetBufferList, status: number): void {
    nbl.status = status;
    this.#complete(nbl);
  }

  /** Raises a status indication to the bound protocol. */
  indicateStatus(indication: StatusIndication): void {
    this.#indicate(indication);
  }

  /** MiniportOidRequest / MiniportDirectOidRequest (ctrlpath.ts). */
  oidRequest(request: OidRequest): OidResult {
    return oidRequest(this, request);
  }

  /** MiniportSendNetBufferLists (datapath.ts): sends the chain, completing each NBL once. */
  sendNetBufferLists(first: NetBufferList | null): void {
    sendNetBufferLists(this, first);
  }

  /** Receives a batch of frames from the wire and indicates them as one NBL chain (receive.ts). */
  receive(frames: readonly Uint8Array[]): NetBufferList | null {
    return receiveFrames(this, frames);
  }

  /**
   * MiniportReturnNetBufferLists: the protocol gives back a chain of NBLs this miniport indicated
   * (or built with receiveFrame); they go back to the receive pool (recv-pool.ts) and must not be
   * read afterwards. Throws a RangeError, returning none, if an NBL of the chain was not indicated
   * by this miniport or was already returned.
   */
  returnNetBufferLists(first: NetBufferList | null): void {
    this.rx.pool.giveBack(first);
  }

  /** NdisMIndicateReceiveNetBufferLists: hands a chain of received NBLs to the bound protocol. */
  indicateReceive(first: NetBufferList): void {
    this.#indicateReceive(first);
  }

  /** MiniportPause (lifecycle.ts). */
  pause(): number {
    return pause(this);
  }

  /** MiniportRestart (lifecycle.ts). */
  restart(): number {
    return restart(this);
  }

  /** MiniportResetEx: enters `resetting` until lifecycle.ts completeReset (NdisMResetComplete). */
  reset(): number {
    return reset(this);
  }

  /** NdisMResetComplete: leaves `resetting` for the state before the reset (lifecycle.ts). */
  completeReset(): void {
    completeReset(this);
  }

  /** MiniportHaltEx: deletes every SA, then `halted` (lifecycle.ts). */
  halt(): void {
    halt(this);
  }
}
