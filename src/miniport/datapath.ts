/**
 * @module
 * MiniportSendNetBufferLists of the model NIC ("Sending Network Data with IPsec Offload Version
 * 2", "Offloading the Segmentation of Large TCP Packets", "Offloading Checksum Tasks",
 * NdisMSendNetBufferListsComplete; reference §1.4–§1.12, §4.1; contract D1–D4, D8–D14, D16).
 *
 * The chain is walked once, in order; each NET_BUFFER_LIST goes through the seed's checks in the
 * seed's order, then is completed exactly once (D11):
 *
 * 0. Adapter state (D16): paused or halted → NDIS_STATUS_PAUSED; resetting →
 *    NDIS_STATUS_RESET_IN_PROGRESS.
 * 1. "Checks whether the hardware is configured for IPsec offload; if not, process the send
 *    without the offload services" — an IPsec-marked NBL then goes out as a plain one and is
 *    counted as `send.ipsec-not-configured` (D10: the only way an IPsec-marked packet leaves
 *    unprocessed).
 * 2. "Checks the handles … OffloadHandle 0 means no IPsec offload … if the miniport cannot find
 *    the offloaded SA, fail the send with NDIS_STATUS_FAILURE" (slot 1 OffloadHandle, slot 11
 *    TunnelHandle; D8: unknown, deleted and inbound handles alike); OffloadHandle 0 with a
 *    TunnelHandle is malformed (D4, D9).
 * 3. "Checks the NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO to decide whether to segment"
 *    (slot 2; D2: LSO switched off or not LsoSupported for IPsec → NDIS_STATUS_FAILURE; LSO on a
 *    tunnel packet or MSS 0 → NDIS_STATUS_INVALID_PACKET).
 * 4. "Completes the required AH and ESP processing for all send packets in the NBL" — every
 *    NET_BUFFER through protect.ts (or lso.ts), checksum offload (csum.ts) in either case.
 *
 * Atomic NBLs (D10): every frame of an NBL is built into the NIC's own buffer first (the
 * protocol's NET_BUFFER memory is never written) and handed to the Link only once every
 * NET_BUFFER succeeded; a failed NBL puts nothing on the wire. Its per-SA counts are applied only
 * then too. Failures are counted as `send.fail:<status>:<reason>` (status without the
 * `NDIS_STATUS_` prefix, lower case, `-` for `_`: `send.fail:invalid-packet:spi-mismatch`); other
 * counters: `send.nbl`, `send.frame`, `send.success`, `send.ipsec-not-configured`.
 * Nothing throws out of the send path: an unexpected exception fails its NBL with
 * NDIS_STATUS_FAILURE, reason `internal`.
 *
 * Completion (D11): the NBL's Next is cleared and it is completed alone (one
 * NdisMSendNetBufferListsComplete per NBL). An LSO NBL gets its completion info in slot 2:
 * LsoV1TransmitComplete.TcpPayload = the TCP payload bytes sent (0 when the NBL failed), or
 * LsoV2TransmitComplete {Type NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE, Reserved 0}.
 *
 * Decisions where the contract is silent (for docs/decisions.md):
 * - A resetting adapter fails sends with NDIS_STATUS_RESET_IN_PROGRESS (D16 names only paused);
 *   a halted one with NDIS_STATUS_PAUSED (it has stopped sending for good).
 * - An SA whose protocol the current configuration excludes (IPsecV2 = ESP only, an AH SA) fails
 *   with NDIS_STATUS_FAILURE `not-configured:ah` / `not-configured:esp` rather than going out
 *   unprotected: the seed's first bullet is about IPsec offload as a whole.
 * - Reasons for bad handles: `unknown-handle` (never added, or deleted: handles are never
 *   reused), `inbound-handle`, and `unknown-tunnel-handle`, `inbound-tunnel-handle`.
 * - `send.ipsec-not-configured` counts IPsec-marked NBLs that were sent (a failed one is counted
 *   under its failure only).
 * - Per-SA `bytes` count the IP packet that carries the SA's header, as it leaves the NIC (outer
 *   packet for the tunnel SA, inner packet for the transport SA of transport-over-tunnel).
 * - An NBL with no NET_BUFFER succeeds with no frames.
 * - Exceptions thrown by the Link or by the completion callback belong to the caller and
 *   propagate; the send path's own work never throws.
 * Model: the NIC transmits synchronously from inside MiniportSendNetBufferLists and completes
 * each NBL right after its frames; a hardware NIC queues them and completes from its interrupt.
 */
import { NetBufferListInfo, type NetBufferList } from '../ndis/nbl.ts';
import {
  encodeLsoV1TransmitComplete,
  encodeLsoV2TransmitComplete,
  getChecksum,
  getField,
  getLso,
  HeaderTransmit,
  LsoTransmit,
  LsoV2Transmit,
  LsoV1Transmit,
  setLso,
} from '../ndis/oob.ts';
import { Lso } from '../ndis/oid.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import { ipsecConfigured } from './config.ts';
import { offloadPlainFrame } from './csum.ts';
import { segmentNetBuffer, type LsoRequest } from './lso.ts';
import type { Miniport } from './miniport.ts';
import { protectFrame } from './protect.ts';
import type { SaBundle } from './sa-table.ts';
import { SendWork, type NblRecord } from './send-work.ts';
import { TxSlab } from './tx-batch.ts';

const { NDIS_STATUS_PAUSED, NDIS_STATUS_RESET_IN_PROGRESS } = NdisStatus;
const SLOT_IPSEC = NetBufferListInfo.IPsecOffloadV2NetBufferListInfo;
const SLOT_TUNNEL = NetBufferListInfo.IPsecOffloadV2TunnelNetBufferListInfo;
const SLOT_HEADER = NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo;

/**
 * The send path's reusable state of one miniport: a free list of SendWork (a re-entrant call from a
 * completion or transmit callback takes another one, with its own transmit memory).
 */
interface SendState {
  readonly free: SendWork[];
  readonly slots: SendSlots;
}

/** Counter slots of the send path's per-NBL counters (Counters.slot, resolved once). */
interface SendSlots {
  readonly nbl: number;
  readonly frame: number;
  readonly success: number;
  readonly notConfigured: number;
  readonly seedMismatch: number;
}

const states = new WeakMap<Miniport, SendState>();

function stateOf(mp: Miniport): SendState {
  let s = states.get(mp);
  if (s === undefined) {
    const c = mp.counters;
    s = {
      free: [],
      slots: {
        nbl: c.slot('send.nbl'),
        frame: c.slot('send.frame'),
        success: c.slot('send.success'),
        notConfigured: c.slot('send.ipsec-not-configured'),
        seedMismatch: c.slot('send.checksum-seed-mismatch'),
      },
    };
    states.set(mp, s);
  }
  return s;
}

/**
 * MiniportSendNetBufferLists: processes the NBL chain starting at `first` in order, puts each
 * successful NBL's frames on `mp.link`, and completes every NBL exactly once through
 * `mp.completeNbl` with its status (contract D10, D11). The chain is processed in batches of up
 * to 256 frames: every NBL of a batch is checked and built, then the batch's deferred ESP seals
 * run (one native call per SA), then its NBLs are transmitted and completed in chain order.
 * Model: completing after the batch's seals keeps an SA alive for the NBLs that use it even if a
 * completion handler deletes it (D16).
 */
export function sendNetBufferLists(mp: Miniport, first: NetBufferList | null): void {
  const state = stateOf(mp);
  const work = state.free.pop() ?? new SendWork(new TxSlab(mp.link.copies === true));
  work.endBatch(); // a batch left by an exception from a callback is dropped
  const lso: LsoRequest = work.lso;
  try {
    let nbl = first;
    while (nbl !== null) {
      const next = nbl.next;
      mp.counters.bump(state.slots.nbl); // before anything can throw out of the loop
      work.beginNbl();
      const lsoRaw = getLso(nbl);
      try {
        processNbl(mp, nbl, lsoRaw, lso, work);
      } catch {
        // Never an exception out of the send path (D9): the NBL fails whole, nothing is sent.
        work.outcome.failure('internal');
      }
      work.park(nbl, lsoRaw);
      if (work.batchFull) finishBatch(mp, work, state.slots);
      nbl = next;
    }
    finishBatch(mp, work, state.slots);
  } finally {
    state.free.push(work);
  }
}

/** Steps 0–4 for one NBL; the outcome and the frames to send end up in `work`. */
function processNbl(
  mp: Miniport,
  nbl: NetBufferList,
  lsoRaw: number,
  lso: LsoRequest,
  work: SendWork
): boolean {
  const o = work.outcome;

  // 0. D16: a paused adapter does not send.
  if (mp.state === 'paused' || mp.state === 'halted') return o.fail(NDIS_STATUS_PAUSED, mp.state);
  if (mp.state === 'resetting') return o.fail(NDIS_STATUS_RESET_IN_PROGRESS, 'resetting');

  // 1.–2. Seed: IPsec configured? Then the handles (D8); 0 = no IPsec work.
  const info = nbl.info;
  const offloadSet = info.getU32(SLOT_IPSEC) !== 0 || info.getHighU32(SLOT_IPSEC) !== 0;
  const tunnelSet = info.getU32(SLOT_TUNNEL) !== 0 || info.getHighU32(SLOT_TUNNEL) !== 0;
  let primary: SaBundle | null = null;
  let tunnel: SaBundle | null = null;
  if (offloadSet || tunnelSet) {
    if (!ipsecConfigured(mp.config)) {
      work.unprocessed = true; // seed rule 1, D10: sent without IPsec processing, counted
    } else {
      // D4, D9: a tunnel SA without a transport/tunnel OffloadHandle is malformed.
      if (!offloadSet) return o.invalid('tunnel-handle-without-offload-handle');
      const table = mp.saTable;
      primary = table.getByHalves(info.getU32(SLOT_IPSEC), info.getHighU32(SLOT_IPSEC)) ?? null;
      if (primary === null) return o.failure('unknown-handle');
      if (primary.inbound) return o.failure('inbound-handle');
      if (tunnelSet) {
        tunnel = table.getByHalves(info.getU32(SLOT_TUNNEL), info.getHighU32(SLOT_TUNNEL)) ?? null;
        if (tunnel === null) return o.failure('unknown-tunnel-handle');
        if (tunnel.inbound) return o.failure('inbound-tunnel-handle');
      }
      if (
        !configuredFor(mp, primary, work) ||
        (tunnel !== null && !configuredFor(mp, tunnel, work))
      ) {
        return false;
      }
      // D16: the NBL is in the NIC's hands until it completes.
      work.primaryBundle = primary;
      primary.inFlight++;
      if (tunnel !== null) {
        work.tunnelBundle = tunnel;
        tunnel.inFlight++;
      }
      readHeaderOob(info.getU32(SLOT_HEADER), work);
    }
  }

  // 3. LSO (slot 2): "Offloading the Segmentation of Large TCP Packets", D2.
  if (lsoRaw !== 0) {
    if (!readLso(mp, lsoRaw, primary !== null, lso, o)) return false;
    if (tunnel !== null) return o.invalid('lso-tunnel'); // D2, D12
    if (lso.mss === 0) return o.invalid('lso-mss-zero'); // D9
    // "Offloading the Segmentation…": an LSOv2 NBL carries exactly one NET_BUFFER.
    if (lso.version === 2 && nbl.netBuffers.length !== 1) return o.invalid('lso-v2-net-buffers');
    for (const nb of nbl.netBuffers) {
      if (!segmentNetBuffer(mp, nb.data(), lso, primary, work)) return false;
    }
    return true;
  }

  // 4. Every NET_BUFFER: a copy in the NIC's buffer, protected (or checksummed) in place.
  const checksumRaw = getChecksum(nbl);
  for (const nb of nbl.netBuffers) {
    // Model: a NIC DMAs the NET_BUFFER into its own transmit buffer; we copy it, so the protocol's
    // memory is never written (a failed NBL can be retried in software from intact plaintext).
    const data = nb.data();
    const frame = work.slab.take(data.length);
    frame.set(data);
    const ok =
      primary === null
        ? offloadPlainFrame(mp, frame, checksumRaw, work)
        : protectFrame(mp, frame, primary, tunnel, checksumRaw, work);
    if (!ok) return false;
    work.frames.push(frame);
  }
  return true;
}

/**
 * The current configuration must still include the bundle's protocols (OID_TCP_OFFLOAD_PARAMETERS
 * IPsecV2 AH / ESP settings); otherwise NDIS_STATUS_FAILURE `not-configured:ah|esp`.
 */
function configuredFor(mp: Miniport, bundle: SaBundle, work: SendWork): boolean {
  for (const element of bundle.elements) {
    if (element.operation === 'ah' && !mp.config.ipsecAh) {
      return work.outcome.failure('not-configured:ah');
    }
    if (element.operation === 'esp' && !mp.config.ipsecEsp) {
      return work.outcome.failure('not-configured:esp');
    }
  }
  return true;
}

/** Decodes slot 12 (Transmit) into `work.header`, offsets in bytes (D4), without allocating. */
function readHeaderOob(raw: number, work: SendWork): void {
  if (raw === work.headerRaw) return; // the same slot 12 as the NBL before: already decoded
  work.headerRaw = raw;
  const h = work.header;
  h.nextHeader = getField(raw, HeaderTransmit.NextHeader);
  h.padLength = getField(raw, HeaderTransmit.PadLength);
  h.ahOffset = getField(raw, HeaderTransmit.AhHeaderOffset) * 4;
  h.espOffset = getField(raw, HeaderTransmit.EspHeaderOffset) * 4;
}

/**
 * Decodes slot 2 into `lso` and checks that the configuration allows it (D2: LSO switched off by
 * OID_TCP_OFFLOAD_PARAMETERS, or IPsec work on a NIC without LsoSupported → NDIS_STATUS_FAILURE).
 */
function readLso(
  mp: Miniport,
  raw: number,
  ipsec: boolean,
  lso: LsoRequest,
  o: SendWork['outcome']
): boolean {
  const v2 = getField(raw, LsoTransmit.Type) === Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE;
  lso.version = v2 ? 2 : 1;
  lso.mss = getField(raw, LsoV1Transmit.MSS);
  lso.tcpHeaderOffset = getField(raw, LsoV1Transmit.TcpHeaderOffset);
  lso.ipv6 = v2 && getField(raw, LsoV2Transmit.IPVersion) === Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6;
  const config = mp.config;
  const enabled = !v2 ? config.lsoV1 : lso.ipv6 ? config.lsoV2IPv6 : config.lsoV2IPv4;
  if (!enabled) return o.failure(v2 ? 'lso-v2-disabled' : 'lso-v1-disabled');
  if (ipsec && !mp.capabilities.IPsecV2.LsoSupported)
    return o.failure('lso-not-supported-with-ipsec');
  return true;
}

/**
 * Ends a batch: runs the deferred ESP seals, then for each NBL in order transmits or drops its
 * frames, counts, writes the LSO completion info and completes it (D10, D11).
 */
function finishBatch(mp: Miniport, work: SendWork, slots: SendSlots): void {
  const records = work.records;
  if (work.seals.count > 0) {
    work.seals.flush((owner) => {
      const r = records[owner];
      if (r.status === NdisStatus.NDIS_STATUS_SUCCESS) {
        r.status = NdisStatus.NDIS_STATUS_FAILURE;
        r.reason = 'internal';
      }
    });
  }
  const n = work.recordCount;
  for (let i = 0; i < n; i++) finishNbl(mp, records[i], work.frames, slots);
  work.endBatch();
}

/** Transmits or drops one NBL's frames, counts, writes LSO completion info, completes (D10, D11). */
function finishNbl(
  mp: Miniport,
  r: NblRecord,
  frames: readonly Uint8Array[],
  slots: SendSlots
): void {
  const counters = mp.counters;
  const nbl = r.nbl!;
  const ok = r.status === NdisStatus.NDIS_STATUS_SUCCESS;
  if (ok) {
    for (let i = r.frameStart; i < r.frameEnd; i++) mp.link.transmit(frames[i]);
    counters.bump(slots.frame, r.frameEnd - r.frameStart);
    counters.bump(slots.success);
    if (r.unprocessed) counters.bump(slots.notConfigured);
    r.commitCounts();
  } else {
    counters.add(`send.fail:${statusKey(r.status)}:${r.reason}`);
  }
  if (r.checksumSeedMismatches > 0) counters.bump(slots.seedMismatch, r.checksumSeedMismatches);
  const lsoRaw = r.lsoRaw;
  if (lsoRaw !== 0) {
    // D11, "Offloading the Segmentation…": the completion view of slot 2.
    setLso(
      nbl,
      getField(lsoRaw, LsoTransmit.Type) === Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE
        ? encodeLsoV2TransmitComplete({ Type: Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE })
        : encodeLsoV1TransmitComplete({
            TcpPayload: ok ? r.tcpPayload : 0,
            Type: Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE,
          })
    );
  }
  if (r.primaryBundle !== null) r.primaryBundle.inFlight--;
  if (r.tunnelBundle !== null) r.tunnelBundle.inFlight--;
  nbl.next = null; // completed alone (D11)
  mp.completeNbl(nbl, r.status);
}

/** `NDIS_STATUS_INVALID_PACKET` → `invalid-packet` (the counter-name form of a status). */
export function statusKey(status: number): string {
  return statusName(status)
    .replace(/^NDIS_STATUS_/, '')
    .toLowerCase()
    .replaceAll('_', '-');
}
