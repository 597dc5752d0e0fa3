/**
 * @module
 * Rule 4 of the receive path for one bundle (reference §4.2, §3.5, §6 item 16; contract D3,
 * D14): the headers against the bundle (CRYPTO_INVALID_PROTOCOL), the lengths
 * (CRYPTO_INVALID_PACKET_SYNTAX), AH verify, then ESP verify + decrypt in place and the trailer.
 * The decisions behind each code are listed in receive.ts.
 *
 * The ESP step is split in three so that a batch can open the packets of one SA with one call
 * (recv-batch.ts): {@link checkBundle} up to the open, the open itself (here per packet, or by the
 * batch), and {@link finishEsp} after it. {@link processBundle} runs the three in a row.
 */
import type { BatchEspTransform } from '../crypto/native-esp.ts';
import type { EspTransform, OpenResult } from '../crypto/transform.ts';
import { CryptoStatus, UdpEsp } from '../ndis/oid.ts';
import * as ah from '../wire/ah.ts';
import type { Miniport } from './miniport.ts';
import { NOT_OPENED, type RxContext, type RxWork } from './recv-context.ts';
import { spiReadable, type RxLayer } from './recv-locate.ts';
import { highCandidates, inboundState, noteAuthenticated } from './recv-state.ts';
import type { SaBundle, SaElement } from './sa-table.ts';
import { be16, be32, isTunnelProtocol } from './send-locate.ts';

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

/** {@link checkBundle}: the ESP packet is checked and waits for its open. */
export const PENDING = -1;

/** Open results, as `openBatch` reports them (crypto/native-esp.ts). */
export const OPEN_OK = 0;
export const OPEN_MISMATCH = 1;
export const OPEN_BAD_LENGTH = 2;

/** Scratch for the AH ICV input (grown on demand; the receive path is synchronous). */
let icvScratch = new Uint8Array(2048);

/** Whether an ESP transform opens batches (the native engine; node:crypto's does not). */
export function opensBatches(esp: EspTransform): esp is BatchEspTransform {
  return typeof (esp as Partial<BatchEspTransform>).openBatch === 'function';
}

/** Whether a bundle's ESP header is framed behind UDP in its position (D14; see receive.ts). */
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

/**
 * Whether the bundle at `layer` is known to be the tunnel portion before decryption (receive.ts
 * notes): never for the inner bundle. Asked only when an ICV failed — the SA's mode is read then,
 * as it stands after every earlier frame of the batch.
 */
function knownTunnel(frame: Uint8Array, layer: RxLayer, bundle: SaBundle, inner: boolean): boolean {
  if (inner) return false;
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
 * Rule 4 for one bundle at `layer`, in order: the bundle's headers and lengths, then AH verify.
 * Returns the CRYPTO_* code when processing ends here (AH-only bundles end here), or
 * {@link PENDING} with the ESP packet's positions and low sequence half left in `w`.
 * `w.checked` says whether an ICV was checked.
 */
export function checkBundle(
  mp: Miniport,
  ctx: RxContext,
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
  w.ahElement = ahElement;
  w.espElement = espElement;

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
  w.ipBytes = ip.end - ip.start;

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
    const verdict = verifyAh(mp, ctx, frame, layer, ahElement, w);
    if (verdict === 'generic') return CRYPTO_GENERIC_ERROR;
    w.checked = true;
    if (verdict !== 'ok') {
      return knownTunnel(frame, layer, bundle, inner)
        ? CRYPTO_TUNNEL_AH_AUTH_FAILED
        : CRYPTO_TRANSPORT_AH_AUTH_FAILED;
    }
  }

  if (espElement === null) {
    // AH only (RFC 4302 §3.1): what AH protects follows it, in the clear.
    w.payloadStart = ip.ah + ahLength;
    w.payloadEnd = ip.end;
    w.payloadProtocol = frame[ip.ah];
    const mode = isTunnelProtocol(w.payloadProtocol) ? 'tunnel' : 'transport';
    noteAuthenticated(ahElement!, w.ahHigh, be32(frame, ip.ah + 8), mode);
    countSa(ahElement!, w.ipBytes);
    return CRYPTO_SUCCESS;
  }

  // ESP (RFC 4303 §3.4): what the open needs.
  w.failedElement = espElement;
  const esp = espElement.esp!;
  w.espAt = ip.esp;
  w.espEnd = ip.end;
  w.bodyStart = ip.esp + 8 + esp.ivLength;
  w.icvStart = ip.end - esp.icvLength;
  if (w.icvStart - w.bodyStart < 2) return CRYPTO_INVALID_PACKET_SYNTAX;
  w.low = be32(frame, ip.esp + 4);
  w.opened = NOT_OPENED;
  return PENDING;
}

/** Opens the ESP packet of `w` in place with ESN high half `high`; an OPEN_* result. */
export function openOne(ctx: RxContext, w: RxWork, high: number): number {
  const esp = w.espElement!.esp!;
  if (opensBatches(esp)) {
    ctx.offsets[0] = w.espAt;
    ctx.lengths[0] = w.espEnd - w.espAt;
    ctx.highs[0] = high;
    esp.openBatch(w.frame, ctx.offsets, ctx.lengths, ctx.highs, 1, ctx.results);
    return ctx.results[0];
  }
  return openCode(esp.open(w.frame.subarray(w.espAt, w.espEnd), high));
}

function openCode(result: OpenResult): number {
  return result === 'ok' ? OPEN_OK : result === 'icv-mismatch' ? OPEN_MISMATCH : OPEN_BAD_LENGTH;
}

/**
 * Opens the ESP packet of `w` now (D3): the estimated high half, then the other candidate once.
 * Leaves the high half that opened it in `w.espHigh`; returns an OPEN_* result.
 */
export function openNow(ctx: RxContext, w: RxWork): number {
  const candidates = w.candidates;
  highCandidates(w.espElement!, w.low, candidates);
  w.espHigh = candidates.first;
  const result = openOne(ctx, w, candidates.first);
  return result === OPEN_MISMATCH ? retrySecond(ctx, w, candidates.second) : result;
}

/** D3: after an ICV mismatch, the other candidate, once (counted `receive.esn-retry`). */
function retrySecond(ctx: RxContext, w: RxWork, second: number): number {
  if (second < 0 || openOne(ctx, w, second) !== OPEN_OK) return OPEN_MISMATCH;
  ctx.counters.bump(ctx.slots.esnRetry);
  w.espHigh = second;
  return OPEN_OK;
}

/**
 * The open of a packet the batch (recv-batch.ts) may already have opened: its result stands when
 * the ESN candidates are still those it was opened with (always without ESN); else the packet is
 * opened now — or, when the batch's open succeeded and has already decrypted it, the result the
 * sequential open would reach is derived (see receive.ts notes). Returns an OPEN_* result.
 */
export function settleOpen(ctx: RxContext, w: RxWork): number {
  if (w.opened === NOT_OPENED) return openNow(ctx, w);
  const tried = w.tried;
  const now = w.candidates;
  highCandidates(w.espElement!, w.low, now);
  if (now.first === tried.first && now.second === tried.second) {
    w.espHigh = tried.first;
    return w.opened === OPEN_MISMATCH ? retrySecond(ctx, w, tried.second) : w.opened;
  }
  // T moved under this packet (an earlier frame of the batch authenticated it elsewhere).
  if (w.opened !== OPEN_OK) return openNow(ctx, w); // the bytes are as received
  w.espHigh = now.first;
  if (w.espElement!.esp!.icvLength === 0 || now.first === tried.first) return OPEN_OK;
  // The ICV covers the high half (RFC 4303 §2.2.1): only `tried.first` verifies.
  if (now.second !== tried.first) return OPEN_MISMATCH;
  ctx.counters.bump(ctx.slots.esnRetry);
  w.espHigh = tried.first;
  return OPEN_OK;
}

/**
 * After the open of `w`'s ESP packet (`result`, an OPEN_* value): the ICV verdict, the trailer
 * (RFC 4303 §2.4–§2.6), the SA's receive state and counters, and the payload in `w`. Returns the
 * CRYPTO_* code.
 */
export function finishEsp(
  frame: Uint8Array,
  layer: RxLayer,
  bundle: SaBundle,
  inner: boolean,
  w: RxWork,
  result: number
): number {
  if (result === OPEN_BAD_LENGTH) return CRYPTO_INVALID_PACKET_SYNTAX; // not whole cipher blocks
  w.checked = true;
  if (result !== OPEN_OK) {
    return knownTunnel(frame, layer, bundle, inner)
      ? CRYPTO_TUNNEL_ESP_AUTH_FAILED
      : CRYPTO_TRANSPORT_ESP_AUTH_FAILED;
  }
  const espElement = w.espElement!;
  const ahElement = w.ahElement;
  const icvStart = w.icvStart;
  // The ICV verified: the NIC saw this sequence number (D3), whatever the trailer says.
  const padLength = frame[icvStart - 2];
  const nextHeader = frame[icvStart - 1];
  const mode = isTunnelProtocol(nextHeader) ? 'tunnel' : 'transport';
  noteAuthenticated(espElement, w.espHigh, w.low, mode);
  if (ahElement !== null) {
    noteAuthenticated(ahElement, w.ahHigh, be32(frame, layer.ip.ah + 8), mode);
  }
  // RFC 4303 §2.4–§2.6: payload ‖ padding 1, 2, … ‖ Pad Length ‖ Next Header.
  const padStart = icvStart - 2 - padLength;
  if (padStart < w.bodyStart) return CRYPTO_INVALID_PACKET_SYNTAX;
  for (let i = 0; i < padLength; i++) {
    if (frame[padStart + i] !== i + 1) return CRYPTO_INVALID_PACKET_SYNTAX;
  }
  if (ahElement !== null) countSa(ahElement, w.ipBytes);
  countSa(espElement, w.ipBytes);
  w.payloadStart = w.bodyStart;
  w.payloadEnd = padStart;
  w.payloadProtocol = nextHeader;
  w.headerSet = true;
  w.nextHeader = nextHeader;
  w.padLength = padLength;
  return CRYPTO_SUCCESS;
}

/** Rule 4 for one bundle, start to end (AH bundles, the inner bundle, packets not batched). */
export function processBundle(
  mp: Miniport,
  ctx: RxContext,
  frame: Uint8Array,
  layer: RxLayer,
  bundle: SaBundle,
  inner: boolean,
  w: RxWork
): number {
  const code = checkBundle(mp, ctx, frame, layer, bundle, inner, w);
  if (code !== PENDING) return code;
  return finishEsp(frame, layer, bundle, inner, w, openNow(ctx, w));
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
  ctx: RxContext,
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
      ctx.counters.bump(ctx.slots.esnRetry);
      w.ahHigh = candidates.second;
      result = retry;
    }
  }
  return result;
}
