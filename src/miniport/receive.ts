/**
 * @module
 * The receive path of the model NIC ("Receiving Network Data with IPsec Offload Version 2",
 * NdisMIndicateReceiveNetBufferLists, NDIS_IPSEC_OFFLOAD_V2_NET_BUFFER_LIST_INFO,
 * NDIS_IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO; reference §1.5, §2.9, §2.11, §3.5, §4.2,
 * §6 items 15–17; contract D3, D8, D12, D14).
 *
 * Every received frame becomes one NET_BUFFER_LIST with one NET_BUFFER over the frame's bytes;
 * a batch of frames is indicated as one chain, like one NdisMIndicateReceiveNetBufferLists call.
 * Before indicating, the NIC applies the rules of reference §4.2 in order:
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
 * Model: NBLs are allocated per frame and owned by the protocol after indication (no
 * MiniportReturnNetBufferLists pool); the UDP checksum of UDP-ESP over IPv6 is not verified (the
 * transport's checksum check does it).
 */
import type { OpenResult } from '../crypto/transform.ts';
import { NetBuffer, NetBufferList, NetBufferListInfo } from '../ndis/nbl.ts';
import { CryptoStatus, UdpEsp } from '../ndis/oid.ts';
import { HeaderReceive, IpsecReceive, setField } from '../ndis/oob.ts';
import * as ah from '../wire/ah.ts';
import { ipsecConfigured } from './config.ts';
import type { Miniport } from './miniport.ts';
import { readRxIp, RxLayer, spiReadable, walkRx } from './recv-locate.ts';
import {
  highCandidates,
  inboundState,
  nearlyExhausted,
  noteAuthenticated,
  noteFailure,
  type HighCandidates,
} from './recv-state.ts';
import type { SaBundle, SaElement, SaElementRef } from './sa-table.ts';
import {
  be16,
  be32,
  checkIpsecLayer,
  innerVersion,
  isTunnelProtocol,
  locateL2,
  type L2,
} from './send-locate.ts';
import { IpLayer, Outcome } from './send-work.ts';

const {
  CRYPTO_SUCCESS,
  CRYPTO_GENERIC_ERROR,
  CRYPTO_TRANSPORT_AH_AUTH_FAILED,
  CRYPTO_TRANSPORT_ESP_AUTH_FAILED,
  CRYPTO_TUNNEL_AH_AUTH_FAILED,
  CRYPTO_TUNNEL_ESP_AUTH_FAILED,
  CRYPTO_INVALID_PACKET_SYNTAX,
  CRYPTO_INVALID_PROTOCOL,
} = CryptoStatus;
const SLOT_IPSEC = NetBufferListInfo.IPsecOffloadV2NetBufferListInfo;
const SLOT_HEADER = NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo;

/** `CRYPTO_TRANSPORT_ESP_AUTH_FAILED` → `transport-esp-auth-failed`, by value (counter names). */
const CRYPTO_KEYS: readonly string[] = Object.entries(CryptoStatus)
  .sort(([, a], [, b]) => a - b)
  .map(([name]) =>
    name
      .replace(/^CRYPTO_/, '')
      .toLowerCase()
      .replaceAll('_', '-')
  );

/** The counter-name form of a CryptoStatus value. */
export function cryptoKey(cryptoStatus: number): string {
  return CRYPTO_KEYS[cryptoStatus] ?? `unknown-${cryptoStatus}`;
}

const ZERO4 = new Uint8Array(4);
const ZERO16 = new Uint8Array(16);

/** Scratch for the AH ICV input (grown on demand; the receive path is synchronous). */
let icvScratch = new Uint8Array(2048);

/**
 * The receive path's working state for one batch, reused for every frame (like the descriptors
 * of a receive ring): the parsed layers and the result that becomes the NBL's OOB.
 */
class RxWork {
  readonly l2: L2 = { ipStart: 0, version: 0, tagged: false };
  readonly outer: RxLayer = new RxLayer(new IpLayer());
  readonly inner: RxLayer = new RxLayer(new IpLayer());
  /** For send-locate's checkIpsecLayer (rule 3 reasons). */
  readonly outcome: Outcome = new Outcome();
  readonly candidates: HighCandidates = { first: 0, second: -1 };
  /** The bundle the packet matched (rule 2), or null: then no IPsecOV2 OOB is set. */
  matched: SaBundle | null = null;
  /** The inner (transport) bundle of transport over tunnel, once matched. */
  innerMatched: SaBundle | null = null;
  cryptoDone = false;
  nextCryptoDone = false;
  /** An ICV of the bundle being processed was checked (successfully or not). */
  checked = false;
  status: number = CRYPTO_SUCCESS;
  saDeleteReq = false;
  /** The ESN high half AH verified with (contract D3). */
  ahHigh = 0;
  /** The element a failure is counted on. */
  failedElement: SaElement | null = null;
  headerSet = false;
  nextHeader = 0;
  padLength = 0;
  /** What the last bundle protected: its payload and Next Header. */
  payloadStart = 0;
  payloadEnd = 0;
  payloadProtocol = 0;

  /** Forgets the previous frame. */
  begin(): void {
    this.matched = null;
    this.innerMatched = null;
    this.cryptoDone = false;
    this.nextCryptoDone = false;
    this.checked = false;
    this.status = CRYPTO_SUCCESS;
    this.saDeleteReq = false;
    this.ahHigh = 0;
    this.failedElement = null;
    this.headerSet = false;
    this.nextHeader = 0;
    this.padLength = 0;
    this.payloadStart = 0;
    this.payloadEnd = 0;
    this.payloadProtocol = 0;
  }
}

/**
 * NdisMIndicateReceiveNetBufferLists for a batch: builds one NBL per frame (one NET_BUFFER over
 * the frame's bytes, decrypted in place), applies the receive rules of reference §4.2 to each,
 * chains them in order and indicates the chain once through `mp.indicateReceive`. Returns the
 * first NBL (null when nothing was indicated). Never throws for any frame bytes.
 */
export function receiveFrames(mp: Miniport, frames: readonly Uint8Array[]): NetBufferList | null {
  const work = new RxWork();
  let first: NetBufferList | null = null;
  let last: NetBufferList | null = null;
  let count = 0;
  for (const frame of frames) {
    mp.counters.add('receive.frame');
    if (mp.state !== 'running') {
      // NDIS: a paused (or resetting, halted) miniport does not indicate receives.
      mp.counters.add(`receive.drop:${mp.state}`);
      continue;
    }
    const nbl = new NetBufferList(new NetBuffer(frame));
    receiveInto(mp, nbl, frame, work);
    if (last === null) first = nbl;
    else last.next = nbl;
    last = nbl;
    count++;
  }
  if (first !== null) {
    mp.counters.add('receive.indicated', count);
    mp.indicateReceive(first);
  }
  return first;
}

/**
 * The per-frame part of {@link receiveFrames}: one NBL over `frame` with the receive OOB set by
 * the rules of reference §4.2, not indicated. Never throws for any frame bytes.
 */
export function receiveFrame(mp: Miniport, frame: Uint8Array): NetBufferList {
  const nbl = new NetBufferList(new NetBuffer(frame));
  receiveInto(mp, nbl, frame, new RxWork());
  return nbl;
}

/** Rules 1–7 for one frame; the result goes into the NBL's slots 1 and 12. */
function receiveInto(mp: Miniport, nbl: NetBufferList, frame: Uint8Array, w: RxWork): void {
  w.begin();
  try {
    processFrame(mp, frame, w);
  } catch {
    // Never an exception out of the receive path: a matched packet reports CRYPTO_GENERIC_ERROR.
    mp.counters.add('receive.internal');
    if (w.matched !== null) w.status = CRYPTO_GENERIC_ERROR;
  }
  if (w.matched === null) return; // rules 1–2: no IPsecOV2 OOB
  // Rule 7: the model's SaDeleteReq policy, for every bundle the packet matched.
  w.saDeleteReq =
    saDeleteRequested(mp, w.matched) ||
    (w.innerMatched !== null && saDeleteRequested(mp, w.innerMatched));
  const c = mp.counters;
  let raw = 0;
  if (w.saDeleteReq) {
    raw = setField(raw, IpsecReceive.SaDeleteReq, 1);
    c.add('receive.sa-delete-req');
  }
  if (w.cryptoDone) {
    raw = setField(raw, IpsecReceive.CryptoDone, 1);
    c.add('receive.crypto-done');
    c.add(`receive.crypto:${cryptoKey(w.status)}`);
    // §2.9: NextCryptoDone requires CryptoDone.
    if (w.nextCryptoDone) {
      raw = setField(raw, IpsecReceive.NextCryptoDone, 1);
      c.add('receive.next-crypto-done');
    }
  } else if (w.status !== CRYPTO_SUCCESS) {
    c.add(`receive.crypto:${cryptoKey(w.status)}`);
  }
  raw = setField(raw, IpsecReceive.CryptoStatus, w.status);
  nbl.info.setU32(SLOT_IPSEC, raw);
  if (w.status !== CRYPTO_SUCCESS) {
    noteFailure(w.failedElement ?? w.matched.elements[0], w.status);
  } else if (w.headerSet) {
    // §2.11 Receive, §6 item 17: the decrypted trailer, so the transport can strip it.
    let header = setField(0, HeaderReceive.NextHeader, w.nextHeader);
    header = setField(header, HeaderReceive.PadLength, w.padLength);
    header = setField(header, HeaderReceive.HeaderInfoSet, 1);
    nbl.info.setU32(SLOT_HEADER, header);
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

/** Rules 1–4 for one frame; the outcome is left in `w`. */
function processFrame(mp: Miniport, frame: Uint8Array, w: RxWork): void {
  const c = mp.counters;
  // Rule 1 (D12: receive offload only after OID_OFFLOAD_ENCAPSULATION).
  if (!mp.config.receiveEnabled || !ipsecConfigured(mp.config)) {
    c.add('receive.offload-disabled');
    return;
  }
  const l2 = w.l2;
  locateL2(frame, l2);
  if (l2.version === 0) {
    c.add('receive.not-ip');
    return;
  }
  const outer = w.outer;
  if (!readRxIp(frame, l2.ipStart, frame.length, l2.version, outer)) {
    c.add('receive.ip-header');
    return;
  }
  walkRx(frame, outer);
  // D14: IKE (non-ESP marker) and NAT-keepalives on port 4500 pass up untouched.
  if (outer.udpKind !== 'none' && outer.udpKind !== 'esp') {
    c.add(`receive.udp-esp:${outer.udpKind}`);
    return;
  }
  // Rule 2: SPI + destination (+ protocol).
  const ref = lookup(mp, frame, outer);
  if (ref === undefined) {
    c.add(outer.ip.ah < 0 && outer.ip.esp < 0 ? 'receive.plain' : 'receive.no-sa');
    return;
  }
  w.matched = ref.bundle;
  w.failedElement = ref.element;
  // Rule 3: beyond the capabilities → no IPsec processing.
  if (!admissible(mp, outer, ref.bundle, l2.tagged, w, 'receive.')) return;
  // Rule 4: the outermost bundle.
  w.checked = false;
  w.status = processBundle(mp, frame, outer, ref.bundle, false, w);
  w.cryptoDone = w.checked;
  if (w.status !== CRYPTO_SUCCESS || !isTunnelProtocol(w.payloadProtocol)) return;
  processInner(mp, frame, w);
}

/**
 * Transport over tunnel: the tunnel bundle's payload is an inner IP packet; if its AH/ESP header
 * matches an inbound SA (by the inner destination), that bundle is processed as the transport
 * portion and NextCryptoDone tells that both were checked.
 */
function processInner(mp: Miniport, frame: Uint8Array, w: RxWork): void {
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
  const ref = lookup(mp, frame, inner);
  if (ref === undefined) return; // tunnel mode only
  if (!mp.capabilities.IPsecV2.TransportTunnelCombined) {
    c.add('receive.inner:capability:TransportTunnelCombined');
    return;
  }
  if (!admissible(mp, inner, ref.bundle, false, w, 'receive.inner:')) return;
  w.innerMatched = ref.bundle;
  w.failedElement = ref.element;
  w.checked = false;
  w.status = processBundle(mp, frame, inner, ref.bundle, true, w);
  w.nextCryptoDone = w.checked;
}

/**
 * Rule 2: the inbound SA for the outermost AH header, else for the ESP header: SPI, protocol and
 * destination address of `layer` (exact, then the all-zero wildcard; reference §1.10, §6 item 15).
 */
function lookup(mp: Miniport, frame: Uint8Array, layer: RxLayer): SaElementRef | undefined {
  const ip = layer.ip;
  const destination =
    ip.version === 4
      ? frame.subarray(ip.start + 16, ip.start + 20)
      : frame.subarray(ip.start + 24, ip.start + 40);
  // Model: the IPv6 Destination Address field as received (no Routing-header final address).
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

/** Whether a bundle's ESP header is framed behind UDP in its position (D14; see the module notes). */
function expectsUdp(bundle: SaBundle, inner: boolean): boolean {
  const t = bundle.udpEspEncapsulation;
  if (inner) {
    return (
      t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT ||
      t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL
    );
  }
  return (
    t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT ||
    t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL ||
    t === UdpEsp.IPSEC_OFFLOAD_V2_TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL
  );
}

/** Whether the outer bundle is known to be the tunnel portion before decryption (module notes). */
function knownTunnel(frame: Uint8Array, layer: RxLayer, bundle: SaBundle): boolean {
  const ip = layer.ip;
  if (ip.ah >= 0 && ip.ah < ip.end && isTunnelProtocol(frame[ip.ah])) return true;
  const t = bundle.udpEspEncapsulation;
  if (
    t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL ||
    t === UdpEsp.IPSEC_OFFLOAD_V2_TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL ||
    t === UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL
  ) {
    return true;
  }
  return inboundState(bundle.elements[0]).mode === 'tunnel';
}

/**
 * Rule 4 for one bundle at `layer`: the headers against the bundle (CRYPTO_INVALID_PROTOCOL),
 * the lengths (CRYPTO_INVALID_PACKET_SYNTAX), AH verify, then ESP verify + decrypt in place with
 * the ESN high half estimated per D3; on success the payload and trailer go into `w`. Returns the
 * CRYPTO_* code; `w.checked` says whether an ICV was checked.
 */
function processBundle(
  mp: Miniport,
  frame: Uint8Array,
  layer: RxLayer,
  bundle: SaBundle,
  inner: boolean,
  w: RxWork
): number {
  const ip = layer.ip;
  let ahElement: SaElement | null = null;
  let espElement: SaElement | null = null;
  for (const element of bundle.elements) {
    if (element.operation === 'ah') ahElement = element;
    else espElement = element;
  }
  const tunnel = !inner && knownTunnel(frame, layer, bundle);

  // §3.5 CRYPTO_INVALID_PROTOCOL: the SA's protocols against the headers found.
  if (ahElement !== null) {
    w.failedElement = ahElement;
    if (ip.ah < 0) return CRYPTO_INVALID_PROTOCOL;
    if (!spiReadable(layer, ip.ah, 4)) return CRYPTO_INVALID_PACKET_SYNTAX;
    if (be32(frame, ip.ah + 4) !== ahElement.spi >>> 0) return CRYPTO_INVALID_PROTOCOL;
  } else if (ip.ah >= 0) {
    return CRYPTO_INVALID_PROTOCOL;
  }
  if (espElement !== null) {
    w.failedElement = espElement;
    if (ip.esp < 0) return CRYPTO_INVALID_PROTOCOL;
    if (!spiReadable(layer, ip.esp, 0)) return CRYPTO_INVALID_PACKET_SYNTAX;
    if (be32(frame, ip.esp) !== espElement.spi >>> 0) return CRYPTO_INVALID_PROTOCOL;
    if (ip.udp >= 0 !== expectsUdp(bundle, inner)) return CRYPTO_INVALID_PROTOCOL;
  } else if (ip.esp >= 0) {
    return CRYPTO_INVALID_PROTOCOL;
  }

  // §3.5 CRYPTO_INVALID_PACKET_SYNTAX: "IP total length too small for the AH/ESP fields".
  w.failedElement = bundle.elements[0];
  if (layer.lengthBad) return CRYPTO_INVALID_PACKET_SYNTAX;
  if (ip.udp >= 0 && be16(frame, ip.udp + 4) !== ip.end - ip.udp) {
    return CRYPTO_INVALID_PACKET_SYNTAX; // RFC 768: Length covers header and data
  }
  const ipBytes = ip.end - ip.start;

  // AH first: it is outside the ESP header (reference §1.11, §6 item 16).
  let ahLength = 0;
  if (ahElement !== null) {
    w.failedElement = ahElement;
    const auth = ahElement.auth!;
    ahLength = ah.ahLength(auth.icvLength, auth.ivLength, ip.version);
    // RFC 4302 §2.2, §2.6: the Payload Len of this SA's ICV (and GMAC IV), whole.
    if ((frame[ip.ah + 1] + 2) * 4 !== ahLength || ip.ah + ahLength > ip.end) {
      return CRYPTO_INVALID_PACKET_SYNTAX;
    }
    const verdict = verifyAh(mp, frame, layer, ahElement, w);
    if (verdict === 'generic') return CRYPTO_GENERIC_ERROR;
    w.checked = true;
    if (verdict !== 'ok') {
      return tunnel ? CRYPTO_TUNNEL_AH_AUTH_FAILED : CRYPTO_TRANSPORT_AH_AUTH_FAILED;
    }
  }

  if (espElement === null) {
    // AH only (RFC 4302 §3.1): what AH protects follows it, in the clear.
    w.payloadStart = ip.ah + ahLength;
    w.payloadEnd = ip.end;
    w.payloadProtocol = frame[ip.ah];
    const mode = isTunnelProtocol(w.payloadProtocol) ? 'tunnel' : 'transport';
    noteAuthenticated(ahElement!, w.ahHigh, be32(frame, ip.ah + 8), mode);
    countSa(ahElement!, ipBytes);
    return CRYPTO_SUCCESS;
  }

  // ESP (RFC 4303 §3.4): verify, then decrypt in place.
  w.failedElement = espElement;
  const esp = espElement.esp!;
  const bodyStart = ip.esp + 8 + esp.ivLength;
  const icvStart = ip.end - esp.icvLength;
  if (icvStart - bodyStart < 2) return CRYPTO_INVALID_PACKET_SYNTAX;
  const packet = frame.subarray(ip.esp, ip.end);
  const low = be32(frame, ip.esp + 4);
  const candidates = w.candidates;
  highCandidates(espElement, low, candidates);
  let high = candidates.first;
  let result: OpenResult = esp.open(packet, high);
  if (result === 'icv-mismatch' && candidates.second >= 0) {
    // D3: the other candidate, once.
    const retry = esp.open(packet, candidates.second);
    if (retry === 'ok') {
      mp.counters.add('receive.esn-retry');
      high = candidates.second;
      result = retry;
    }
  }
  if (result === 'bad-length') return CRYPTO_INVALID_PACKET_SYNTAX; // not whole cipher blocks
  w.checked = true;
  if (result !== 'ok') {
    return tunnel ? CRYPTO_TUNNEL_ESP_AUTH_FAILED : CRYPTO_TRANSPORT_ESP_AUTH_FAILED;
  }
  // The ICV verified: the NIC saw this sequence number (D3), whatever the trailer says.
  const padLength = frame[icvStart - 2];
  const nextHeader = frame[icvStart - 1];
  const mode = isTunnelProtocol(nextHeader) ? 'tunnel' : 'transport';
  noteAuthenticated(espElement, high, low, mode);
  if (ahElement !== null) noteAuthenticated(ahElement, w.ahHigh, be32(frame, ip.ah + 8), mode);
  // RFC 4303 §2.4–§2.6: payload ‖ padding 1, 2, … ‖ Pad Length ‖ Next Header.
  const padStart = icvStart - 2 - padLength;
  if (padStart < bodyStart) return CRYPTO_INVALID_PACKET_SYNTAX;
  for (let i = 0; i < padLength; i++) {
    if (frame[padStart + i] !== i + 1) return CRYPTO_INVALID_PACKET_SYNTAX;
  }
  if (ahElement !== null) countSa(ahElement, ipBytes);
  countSa(espElement, ipBytes);
  w.payloadStart = bodyStart;
  w.payloadEnd = padStart;
  w.payloadProtocol = nextHeader;
  w.headerSet = true;
  w.nextHeader = nextHeader;
  w.padLength = padLength;
  return CRYPTO_SUCCESS;
}

/** Adds one authenticated packet of `bytes` IP bytes to an SA's counters. */
function countSa(element: SaElement, bytes: number): void {
  element.counters.packets += 1;
  element.counters.bytes += bytes;
}

/**
 * Verifies the AH ICV of `layer`'s IP packet (RFC 4302 §3.4.4): the ICV input with mutable
 * fields and the ICV zeroed (wire/ah icvInput — without the ESN high half, which the transform
 * appends itself), the estimated high half, then the other candidate once (D3). Leaves the high
 * half that verified in `w.ahHigh`. 'generic' when the ICV input cannot be formed.
 */
function verifyAh(
  mp: Miniport,
  frame: Uint8Array,
  layer: RxLayer,
  element: SaElement,
  w: RxWork
): OpenResult | 'generic' {
  const ip = layer.ip;
  const auth = element.auth!;
  const packet = frame.subarray(ip.start, ip.end);
  if (icvScratch.length < packet.length) icvScratch = new Uint8Array(packet.length * 2);
  const input = ah.icvInput(packet, icvScratch, {
    icvLength: auth.icvLength,
    ivLength: auth.ivLength,
  });
  if (!input.ok) {
    mp.counters.add(`receive.ah-icv-input:${input.error.reason}`);
    return 'generic';
  }
  if (ip.start + input.value.ahOffset !== ip.ah) {
    mp.counters.add('receive.ah-icv-input:ah-offset');
    return 'generic';
  }
  const icvAt = ip.start + input.value.icvOffset;
  const icv = frame.subarray(icvAt, icvAt + auth.icvLength);
  const ivAt = ip.ah + ah.FIXED_LENGTH;
  const iv = auth.ivLength > 0 ? frame.subarray(ivAt, ivAt + auth.ivLength) : null;
  const candidates = w.candidates;
  highCandidates(element, be32(frame, ip.ah + 8), candidates);
  w.ahHigh = candidates.first;
  let result = auth.verify(input.value.input, candidates.first, iv, icv);
  if (result === 'icv-mismatch' && candidates.second >= 0) {
    const retry = auth.verify(input.value.input, candidates.second, iv, icv);
    if (retry === 'ok') {
      mp.counters.add('receive.esn-retry');
      w.ahHigh = candidates.second;
      result = retry;
    }
  }
  return result;
}
