/**
 * @module
 * The receive path of the model NIC ("Receiving Network Data with IPsec Offload Version 2",
 * NdisMIndicateReceiveNetBufferLists, NDIS_IPSEC_OFFLOAD_V2_NET_BUFFER_LIST_INFO,
 * NDIS_IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO; reference §1.5, §2.9, §2.11, §3.5, §4.2,
 * §6 items 15–17; contract D3, D8, D12, D14).
 *
 * Every received frame becomes one NET_BUFFER_LIST with one NET_BUFFER over the frame's bytes;
 * a batch of frames is indicated as one chain, like one NdisMIndicateReceiveNetBufferLists call.
 * Before indicating, the NIC applies the rules of reference §4.2 to each frame, in order:
 *
 * 1. Receive offload not enabled (no OID_OFFLOAD_ENCAPSULATION yet, D12) or IPsec offload not
 *    configured → indicate with no IPsec processing (slot 1 stays 0: CryptoDone 0).
 * 2. Look up the SPI + destination address + protocol (§6 item 15, RFC 4301 §4.1) among the
 *    inbound SAs — the outermost AH, else the ESP header (behind UDP on port 4500, D14; IKE and
 *    NAT-keepalives pass up untouched). No match → indicate without setting the IPsecOV2 OOB.
 * 3. A packet beyond the reported capabilities or the current configuration (IPv4 options,
 *    IPv6 extension headers, AH+ESP, UDP-ESP, 802.1Q, IPv6 while IPsecV2IPv4, a fragment) →
 *    indicate without IPsec processing, counted as `receive.<reason>` (e.g.
 *    `receive.capability:IPv4Options`).
 * 4. Process the outermost bundle — AH verify, then ESP verify + decrypt in place (§6 item 16) —
 *    and, when its payload is an inner IP packet whose AH/ESP matches another inbound SA,
 *    the inner (transport) bundle the same way (transport over tunnel). CryptoDone = 1 when the
 *    NIC checked an ICV; NextCryptoDone = 1 when it checked both the tunnel and the transport
 *    payload; CryptoStatus = the CRYPTO_* result (§3.5).
 * 5. Not processed → CryptoDone 0, NextCryptoDone 0, CryptoStatus CRYPTO_SUCCESS (V1 rule).
 * 6. Always indicate the packet, even on errors, in whatever form it is.
 * 7. SaDeleteReq when the model's policy asks (see {@link saDeleteRequested}).
 *
 * The data is indicated in place (§4.2 [INFERRED], §6 item 17): headers, IV, the now-plaintext
 * payload, trailer and ICV all remain. The header OOB (slot 12) Receive {NextHeader, PadLength,
 * HeaderInfoSet 1} copies the decrypted ESP trailer so the transport can strip it.
 *
 * Counters: `receive.frame`, `receive.indicated`, `receive.drop:<state>`,
 * `receive.offload-disabled`, `receive.not-ip`, `receive.ip-header`, `receive.plain`,
 * `receive.udp-esp:ike|keepalive|truncated`, `receive.no-sa`, `receive.<rule-3 reason>`,
 * `receive.crypto-done`, `receive.next-crypto-done`, `receive.crypto:<code>` (e.g.
 * `receive.crypto:transport-esp-auth-failed`), `receive.esn-retry`, `receive.sa-delete-req`,
 * `receive.ah-icv-input:<reason>`, `receive.inner:<reason>`, `receive.internal`. Per SA: the
 * element's `counters` (packets, bytes of the IP packet carrying its header) for every packet
 * whose bundle processing succeeded, and `inboundState(element).failures` by CRYPTO_* code
 * (recv-state.ts).
 *
 * Decisions where the contract is silent (for docs/decisions.md):
 * - CryptoDone = 1 means "an ICV was checked", whatever the result: an AUTH_FAILED packet has
 *   CryptoDone 1; a packet refused before any ICV check (INVALID_PACKET_SYNTAX, INVALID_PROTOCOL,
 *   GENERIC_ERROR) has CryptoDone 0 with that status, so the transport can tell both apart from
 *   an unprocessed packet (CryptoDone 0, CRYPTO_SUCCESS).
 * - Tunnel vs transport CRYPTO codes: the inner bundle of transport-over-tunnel is the transport
 *   portion; the outer bundle is the tunnel portion when that is known before decryption — an AH
 *   Next Header of 4/41, a tunnel UDP-ESP type (2, 4, 8), or the SA's last authenticated packet
 *   was a tunnel packet (ADD_SA has no mode, D12) — else the transport portion.
 * - A header mismatch with the bundle is CRYPTO_INVALID_PROTOCOL: a bundle element missing from
 *   the packet, a header the bundle lacks (AH+ESP packet, ESP-only bundle: found by the ESP SPI
 *   after the AH SPI matched nothing), a second SPI that is not the bundle's, or UDP-ESP framing
 *   that the SA's UdpEspEncapsulation does not call for (outer: types 1, 2, 4; inner: 1, 8).
 * - CRYPTO_INVALID_PACKET_SYNTAX: an IP length field past the frame, an SPI or header cut off,
 *   an AH Payload Len other than RFC 4302 §2.6 gives for the SA, an ESP packet shorter than its
 *   header, IV, ICV and trailer or not whole cipher blocks, a UDP Length that is not the rest of
 *   the packet, and after decryption a Pad Length past the payload or padding other than 1, 2, 3, …
 *   (D1: the sender's padding).
 * - CRYPTO_GENERIC_ERROR: AH's ICV input cannot be formed (wire/mutable: e.g. a malformed IPv4
 *   option or an unknown IPv6 Routing type), or an unexpected exception (`receive.internal`).
 * - The header OOB is set only when CryptoStatus is CRYPTO_SUCCESS, and describes the innermost
 *   ESP trailer decrypted (the transport SA's in transport over tunnel when it has ESP, as D1 does
 *   for send); AH-only: HeaderInfoSet 0.
 * - A destination of all zeros in ADD_SA is a wildcard (reference §1.10): the exact destination
 *   is looked up first, then the wildcard.
 * - A paused, resetting or halted adapter indicates nothing (NDIS: no receive indications while
 *   paused): its frames are dropped and counted `receive.drop:<state>`.
 * - Capability checks that need the decrypted Next Header (Transport, Tunnel) are not applied on
 *   receive; TransportTunnelCombined is (the inner bundle is then left unprocessed).
 * - An inner IP packet that cannot be read, or whose IPsec header matches no inbound SA, ends
 *   processing after the tunnel bundle (CryptoDone 1, NextCryptoDone 0).
 * - A batch is processed in three phases (issue 6; one record per frame, recv-context.ts; rule 4
 *   for one bundle, recv-bundle.ts), with the result of processing it frame by frame:
 *   (1) rules 1–3 and the checks of rule 4 up to the ESP open, for every frame — nothing
 *   here changes SA state; (2) the ESP packets of ESP-only bundles opened with one `openBatch` per
 *   SA and receive buffer (recv-batch.ts); (3) in frame order, the rest of rule 4 (AH bundles
 *   whole, the ESN retry, the trailer, the SA's receive state and counters, the inner bundle of
 *   transport over tunnel) and rules 5–7. A frame that shares bytes with an earlier frame of the
 *   batch starts a new part of it (so every frame is read as the frame-by-frame path would read
 *   it), as do the RX_BATCH_FRAMES + 1st frame and a frame in the RX_BATCH_BUFFERS + 1st buffer.
 *   The ESN candidates of a batched open are those the frame-by-frame path would try (recv-batch.ts
 *   checks); should an earlier frame's inner bundle move the SA's highest authenticated number
 *   under a packet the batch has already decrypted, its verdict is derived from the ICV covering
 *   the high half (RFC 4303 §2.2.1) — the one difference left: such a packet, if it fails, is
 *   indicated decrypted.
 * - The rule 7 hook (MiniportOptions.saDeleteRequest) is a predicate: it runs in phase 3 and must
 *   not change the adapter's SAs or state while a batch is processed.
 * Ownership (MiniportReturnNetBufferLists): indicated NBLs come from the adapter's pool
 * (recv-pool.ts) and belong to the protocol until it returns them through
 * `Miniport.returnNetBufferLists`; one never returned costs only its allocation. The NET_BUFFER
 * views the caller's frame — the model's receive buffer — which is decrypted in place.
 * Model: the UDP checksum of UDP-ESP over IPv6 is not verified (the transport's checksum check
 * does it).
 */
import type { NetBufferList } from '../ndis/nbl.ts';
import { NetBufferListInfo } from '../ndis/nbl.ts';
import { CryptoStatus } from '../ndis/oid.ts';
import { HeaderReceive, IpsecReceive, setField } from '../ndis/oob.ts';
import { ipsecConfigured } from './config.ts';
import type { Miniport } from './miniport.ts';
import { openPending } from './recv-batch.ts';
import { checkBundle, finishEsp, PENDING, processBundle, settleOpen } from './recv-bundle.ts';
import { RX_BATCH_FRAMES, RxContext, Stage, type RxWork } from './recv-context.ts';
import { readRxIp, RxLayer, spiReadable, walkRx } from './recv-locate.ts';
import { nearlyExhausted, noteFailure } from './recv-state.ts';
import type { SaBundle, SaElementRef } from './sa-table.ts';
import { be32, checkIpsecLayer, innerVersion, isTunnelProtocol, locateL2 } from './send-locate.ts';

export { cryptoKey } from './recv-context.ts';

const { CRYPTO_SUCCESS, CRYPTO_GENERIC_ERROR } = CryptoStatus;
const SLOT_IPSEC = NetBufferListInfo.IPsecOffloadV2NetBufferListInfo;
const SLOT_HEADER = NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo;

// The receive OOB's bit-fields (§2.9, §2.11) as the value of a 1 in each, computed once.
const SA_DELETE_REQ = setField(0, IpsecReceive.SaDeleteReq, 1);
const CRYPTO_DONE = setField(0, IpsecReceive.CryptoDone, 1);
const NEXT_CRYPTO_DONE = setField(0, IpsecReceive.NextCryptoDone, 1);
const CRYPTO_STATUS_ONE = setField(0, IpsecReceive.CryptoStatus, 1);
const NEXT_HEADER_ONE = setField(0, HeaderReceive.NextHeader, 1);
const PAD_LENGTH_ONE = setField(0, HeaderReceive.PadLength, 1);
const HEADER_INFO_SET = setField(0, HeaderReceive.HeaderInfoSet, 1);

/** The adapter's receive context, or a context of its own for a nested call. */
function enter(mp: Miniport): RxContext {
  const ctx = mp.rx.busy ? new RxContext(mp.counters, mp.rx.pool) : mp.rx;
  ctx.busy = true;
  return ctx;
}

/**
 * NdisMIndicateReceiveNetBufferLists for a batch: one NBL per frame (one NET_BUFFER over the
 * frame's bytes, decrypted in place), the receive rules of reference §4.2 applied to each, chained
 * in order and indicated once through `mp.indicateReceive`. Returns the first NBL (null when
 * nothing was indicated); the protocol owns the chain until it returns it. Never throws for any
 * frame bytes.
 */
export function receiveFrames(mp: Miniport, frames: readonly Uint8Array[]): NetBufferList | null {
  const ctx = enter(mp);
  const s = ctx.slots;
  const c = mp.counters;
  let first: NetBufferList | null = null;
  let last: NetBufferList | null = null;
  let count = 0;
  let k = 0;
  try {
    for (const frame of frames) {
      c.bump(s.frame);
      if (mp.state !== 'running') {
        // NDIS: a paused (or resetting, halted) miniport does not indicate receives.
        c.add(`receive.drop:${mp.state}`);
        continue;
      }
      // A frame sharing bytes with an earlier one of the batch waits for it to be processed.
      if (k === RX_BATCH_FRAMES || !ctx.placeFrame(frame)) {
        settle(mp, ctx, k);
        k = 0;
        ctx.forgetFrames();
        ctx.placeFrame(frame);
      }
      const w = ctx.work(k++);
      w.begin(frame);
      const nbl = ctx.pool.take(frame);
      w.nbl = nbl;
      admit(mp, ctx, frame, w);
      if (last === null) first = nbl;
      else last.next = nbl;
      last = nbl;
      count++;
    }
    settle(mp, ctx, k);
  } finally {
    ctx.forgetFrames();
    ctx.busy = false;
  }
  if (first !== null) {
    c.bump(s.indicated, count);
    mp.indicateReceive(first);
  }
  return first;
}

/**
 * The per-frame part of {@link receiveFrames}: one NBL over `frame` with the receive OOB set by
 * the rules of reference §4.2, not indicated (the caller owns it, and may return it through
 * `Miniport.returnNetBufferLists`). Never throws for any frame bytes.
 */
export function receiveFrame(mp: Miniport, frame: Uint8Array): NetBufferList {
  const ctx = enter(mp);
  try {
    const w = ctx.work(0);
    w.begin(frame);
    const nbl = ctx.pool.take(frame);
    w.nbl = nbl;
    admit(mp, ctx, frame, w);
    settle(mp, ctx, 1);
    return nbl;
  } finally {
    ctx.busy = false;
  }
}

/** Phases 2 and 3 for frames [0, k) of the batch (module notes). */
function settle(mp: Miniport, ctx: RxContext, k: number): void {
  if (k === 0) return;
  openPending(ctx, k);
  const works = ctx.works;
  for (let i = 0; i < k; i++) {
    const w = works[i];
    complete(mp, ctx, w);
    finish(mp, ctx, w, w.nbl!);
    w.release();
  }
}

/** Never an exception out of the receive path: a matched packet reports CRYPTO_GENERIC_ERROR. */
function internalError(ctx: RxContext, w: RxWork): void {
  ctx.counters.bump(ctx.slots.internal);
  if (w.matched !== null) w.status = CRYPTO_GENERIC_ERROR;
  w.stage = Stage.Done;
}

/** Phase 1 for one frame: rules 1–3, then rule 4 up to the ESP open (ESP-only bundles). */
function admit(mp: Miniport, ctx: RxContext, frame: Uint8Array, w: RxWork): void {
  try {
    if (!applyRules(mp, ctx, frame, w)) return;
    const bundle = w.matched!;
    for (const element of bundle.elements) {
      if (element.operation === 'ah') {
        w.stage = Stage.Sequential; // AH verify reads SA state: in frame order, phase 3
        return;
      }
    }
    w.checked = false;
    const code = checkBundle(mp, ctx, frame, w.outer, bundle, false, w);
    if (code === PENDING) {
      w.stage = Stage.EspPending;
      return;
    }
    w.status = code;
    w.cryptoDone = w.checked;
  } catch {
    internalError(ctx, w);
  }
}

/** Phase 3, rule 4 for one frame: the rest of its outer bundle, then its inner bundle. */
function complete(mp: Miniport, ctx: RxContext, w: RxWork): void {
  if (w.stage === Stage.Done) return;
  const frame = w.frame;
  try {
    const bundle = w.matched!;
    w.checked = false;
    w.status =
      w.stage === Stage.Sequential
        ? processBundle(mp, ctx, frame, w.outer, bundle, false, w)
        : finishEsp(frame, w.outer, bundle, false, w, settleOpen(ctx, w));
    w.cryptoDone = w.checked;
    if (w.status === CRYPTO_SUCCESS && isTunnelProtocol(w.payloadProtocol)) {
      processInner(mp, ctx, frame, w);
    }
  } catch {
    internalError(ctx, w);
  }
}

/** Rules 5–7 for one frame: the result goes into the NBL's slots 1 and 12. */
function finish(mp: Miniport, ctx: RxContext, w: RxWork, nbl: NetBufferList): void {
  if (w.matched === null) return; // rules 1–2: no IPsecOV2 OOB
  // Rule 7: the model's SaDeleteReq policy, for every bundle the packet matched.
  w.saDeleteReq =
    saDeleteRequested(mp, w.matched) ||
    (w.innerMatched !== null && saDeleteRequested(mp, w.innerMatched));
  const c = mp.counters;
  const s = ctx.slots;
  let raw = 0;
  if (w.saDeleteReq) {
    raw += SA_DELETE_REQ;
    c.bump(s.saDeleteReq);
  }
  if (w.cryptoDone) {
    raw += CRYPTO_DONE;
    c.bump(s.cryptoDone);
    c.bump(s.crypto[w.status]);
    // §2.9: NextCryptoDone requires CryptoDone.
    if (w.nextCryptoDone) {
      raw += NEXT_CRYPTO_DONE;
      c.bump(s.nextCryptoDone);
    }
  } else if (w.status !== CRYPTO_SUCCESS) {
    c.bump(s.crypto[w.status]);
  }
  nbl.info.setU32(SLOT_IPSEC, raw + w.status * CRYPTO_STATUS_ONE);
  if (w.status !== CRYPTO_SUCCESS) {
    noteFailure(w.failedElement ?? w.matched.elements[0], w.status);
  } else if (w.headerSet) {
    // §2.11 Receive, §6 item 17: the decrypted trailer, so the transport can strip it.
    nbl.info.setU32(
      SLOT_HEADER,
      w.nextHeader * NEXT_HEADER_ONE + w.padLength * PAD_LENGTH_ONE + HEADER_INFO_SET
    );
  }
}

/**
 * The model's SaDeleteReq policy (reference §1.3, §4.2 rule 7): the MiniportOptions hook says
 * so, or an SA of the bundle has nearly exhausted its sequence space (recv-state.ts). The NIC
 * keeps the SA until the transport deletes it.
 */
export function saDeleteRequested(mp: Miniport, bundle: SaBundle): boolean {
  if (mp.saDeleteRequest?.(bundle) === true) return true;
  for (const element of bundle.elements) if (nearlyExhausted(element)) return true;
  return false;
}

/** Rules 1–3 for one frame; true when the packet goes on to rule 4 (`w.matched` is set). */
function applyRules(mp: Miniport, ctx: RxContext, frame: Uint8Array, w: RxWork): boolean {
  const c = mp.counters;
  const s = ctx.slots;
  // Rule 1 (D12: receive offload only after OID_OFFLOAD_ENCAPSULATION).
  if (!mp.config.receiveEnabled || !ipsecConfigured(mp.config)) {
    c.bump(s.offloadDisabled);
    return false;
  }
  const l2 = w.l2;
  locateL2(frame, l2);
  if (l2.version === 0) {
    c.bump(s.notIp);
    return false;
  }
  const outer = w.outer;
  if (!readRxIp(frame, l2.ipStart, frame.length, l2.version, outer)) {
    c.bump(s.ipHeader);
    return false;
  }
  walkRx(frame, outer);
  // D14: IKE (non-ESP marker) and NAT-keepalives on port 4500 pass up untouched.
  if (outer.udpKind !== 'none' && outer.udpKind !== 'esp') {
    c.add(`receive.udp-esp:${outer.udpKind}`);
    return false;
  }
  // Rule 2: SPI + destination (+ protocol).
  const ref = lookup(mp, ctx, frame, outer);
  if (ref === undefined) {
    c.bump(outer.ip.ah < 0 && outer.ip.esp < 0 ? s.plain : s.noSa);
    return false;
  }
  w.matched = ref.bundle;
  w.failedElement = ref.element;
  // Rule 3: beyond the capabilities → no IPsec processing.
  return admissible(mp, outer, ref.bundle, l2.tagged, w, 'receive.');
}

/**
 * Transport over tunnel: the tunnel bundle's payload is an inner IP packet; if its AH/ESP header
 * matches an inbound SA (by the inner destination), that bundle is processed as the transport
 * portion and NextCryptoDone tells that both were checked.
 */
function processInner(mp: Miniport, ctx: RxContext, frame: Uint8Array, w: RxWork): void {
  const c = mp.counters;
  const inner = w.inner;
  const version = innerVersion(w.payloadProtocol);
  if (!readRxIp(frame, w.payloadStart, w.payloadEnd, version, inner)) {
    c.add('receive.inner:ip-header');
    return;
  }
  walkRx(frame, inner);
  if (inner.udpKind !== 'none' && inner.udpKind !== 'esp') {
    c.add(`receive.inner:udp-esp:${inner.udpKind}`);
    return;
  }
  const ref = lookup(mp, ctx, frame, inner);
  if (ref === undefined) return; // tunnel mode only
  if (!mp.capabilities.IPsecV2.TransportTunnelCombined) {
    c.add('receive.inner:capability:TransportTunnelCombined');
    return;
  }
  if (!admissible(mp, inner, ref.bundle, false, w, 'receive.inner:')) return;
  w.innerMatched = ref.bundle;
  w.failedElement = ref.element;
  w.checked = false;
  w.status = processBundle(mp, ctx, frame, inner, ref.bundle, true, w);
  w.nextCryptoDone = w.checked;
}

/**
 * Rule 2: the inbound SA for the outermost AH header, else for the ESP header: SPI, protocol and
 * destination address of `layer` (exact, then the all-zero wildcard; reference §1.10, §6 item 15).
 */
function lookup(
  mp: Miniport,
  ctx: RxContext,
  frame: Uint8Array,
  layer: RxLayer
): SaElementRef | undefined {
  const ip = layer.ip;
  // Model: the IPv6 Destination Address field as received (no Routing-header final address).
  const destination = ip.version === 4 ? ctx.destination4 : ctx.destination16;
  const at = ip.version === 4 ? ip.start + 16 : ip.start + 24;
  for (let i = 0; i < destination.length; i++) destination[i] = frame[at + i];
  const wildcard = ip.version === 4 ? ZERO4 : ZERO16;
  const table = mp.saTable;
  if (spiReadable(layer, ip.ah, 4)) {
    const spi = be32(frame, ip.ah + 4);
    const ref = table.findInbound(spi, 'ah', destination) ?? table.findInbound(spi, 'ah', wildcard);
    if (ref !== undefined) return ref;
  }
  if (spiReadable(layer, ip.esp, 0)) {
    const spi = be32(frame, ip.esp);
    return table.findInbound(spi, 'esp', destination) ?? table.findInbound(spi, 'esp', wildcard);
  }
  return undefined;
}

const ZERO4 = new Uint8Array(4);
const ZERO16 = new Uint8Array(16);

/**
 * Rule 3 (contract D12 per packet): the IP layer's capabilities and configuration
 * (send-locate's checkIpsecLayer: 802.1Q, IPv6 while IPsecV2IPv4, IPv4 options, IPv6 extension
 * headers, fragments), the bundle's protocols in the configuration, AH+ESP (`AhEspCombined`)
 * and UDP-ESP (`UdpEsp`). Counts `<prefix><reason>` and returns false when the packet is left alone.
 */
function admissible(
  mp: Miniport,
  layer: RxLayer,
  bundle: SaBundle,
  tagged: boolean,
  w: RxWork,
  prefix: string
): boolean {
  const o = w.outcome;
  o.reset();
  const v2 = mp.capabilities.IPsecV2;
  const ip = layer.ip;
  let reason = '';
  if (!checkIpsecLayer(mp.capabilities, mp.config, ip, bundle, tagged, o)) reason = o.reason;
  else if (ip.ah >= 0 && ip.esp >= 0 && !v2.AhEspCombined) reason = 'capability:AhEspCombined';
  else if (ip.udp >= 0 && v2.UdpEsp === 0) reason = 'capability:UdpEsp';
  else {
    for (const element of bundle.elements) {
      if (element.operation === 'ah' && !mp.config.ipsecAh) reason = 'not-configured:ah';
      if (element.operation === 'esp' && !mp.config.ipsecEsp) reason = 'not-configured:esp';
    }
  }
  if (reason === '') return true;
  mp.counters.add(`${prefix}${reason}`);
  return false;
}
