/**
 * @module
 * The per-packet IPsec work of the send path ("Sending Network Data with IPsec Offload Version 2":
 * "Complete the required AH and ESP processing for all send packets in the NET_BUFFER_LIST … the
 * NIC performs the cryptographic operations on the packet data"; reference §4.1; contract D1, D3,
 * D4, D6, D9, D12–D14) on one fully framed packet in its frame buffer:
 *
 * 1. find the IP header behind the Ethernet header, walk its chain, and match the OffloadHandle
 *    bundle's AH/ESP headers against the OOB offsets and SPI (D4), the ESP trailer against the
 *    OOB NextHeader/PadLength and the cipher block (D1, D9); with a TunnelHandle, first the tunnel
 *    SA's headers right after the outer IP (or UDP) header, whose trailer the NIC parses itself,
 *    then the transport SA's headers in the inner packet (D4);
 * 2. judge the per-packet capabilities (D12): IPv4 options, IPv6 extension headers, Transport,
 *    Tunnel (ESP Next Header or AH Next Header 4/41), TransportTunnelCombined;
 * 3. refuse sequence number 0 (D3);
 * 4. finish the inner TCP/UDP checksum when asked (csum.ts, D13) — before encryption;
 * 5. protect, inner bundle first: ESP seal (IV: the sequence number for GCM/GMAC, the adapter's
 *    Random for CBC, D6), then the UDP-ESP Length and checksum (D14), then AH over the result
 *    (RFC 4302 §3.3.3, mutable fields zeroed; an AES-GMAC IV is the sequence number and stays in
 *    the ICV input, RFC 4543 §7); then the tunnel bundle the same way;
 * 6. compute the outer IPv4 header checksum (D13).
 *
 * Refusals (besides send-locate.ts): `capability:Transport`, `capability:Tunnel`,
 * `capability:TransportTunnelCombined`, `tunnel-next-header`, `nested-tunnel`, `sequence-zero`,
 * `ah-mutable:<wire reason>` — each NDIS_STATUS_INVALID_PACKET.
 *
 * Decisions where the contract is silent (for docs/decisions.md):
 * - A tunnel SA's ESP trailer is checked like the transport's (padding 1, 2, …; Next Header 4 or
 *   41; whole cipher blocks) and the inner IP packet must fill the tunnel payload exactly
 *   (`tunnel-trailer`, `ip-length`): the NIC must find the transport SA's headers in it.
 * - A Next Header of 4/41 in the OffloadHandle bundle of a transport-over-tunnel packet (a tunnel
 *   in a tunnel) is refused as `nested-tunnel`.
 * - `capability:Transport` is judged like `Tunnel` (a transport-mode packet on a NIC that does
 *   not report Transport).
 * - UDP-ESP over IPv4 is sent with UDP checksum 0 even if the transport framed another value
 *   (RFC 3948 §2.1, D14).
 * - A 64-bit sequence number of 0 (no ESN: a wire value of 0) is a malformed request,
 *   NDIS_STATUS_INVALID_PACKET `sequence-zero` (D3 says only that 0 is never sent).
 * - The NIC draws each CBC IV from the adapter's Random (MiniportOptions.random) and hands it to
 *   the transform explicitly, so the IVs do not depend on how the control path built the SA.
 * - An AES-GMAC IV (AH or ESP) of an SA without ESN is 0 ‖ low 32 bits (D6: the 64-bit sequence
 *   number, whose high half is 0 without ESN).
 * - The inner TCP/UDP is found by parsing: directly after ESP/AH in transport mode (no walk
 *   through IPv6 extension headers inside the ESP payload), behind the inner IP header in tunnel
 *   mode.
 */
import type { AuthTransform } from '../crypto/transform.ts';
import * as ah from '../wire/ah.ts';
import {
  asksTransportChecksum,
  fillIpv4HeaderChecksum,
  fillTransportChecksum,
  offloadTransportChecksum,
  runChecksumJob,
} from './csum.ts';
import type { Miniport } from './miniport.ts';
import type { SaBundle } from './sa-table.ts';
import {
  be32,
  checkIpsecLayer,
  hasEsp,
  innerVersion,
  isCbc,
  isTunnelProtocol,
  locateL2,
  matchBundle,
  put16,
  put32,
  readIp,
  udpEncapsulated,
  walkChain,
} from './send-locate.ts';
import type { Outcome, SaLayout, SendWork } from './send-work.ts';
import { isBatchTransform, type ChecksumJob } from './tx-batch.ts';

/** Scratch for the AH ICV input (grown on demand; the send path is synchronous). */
let icvScratch = new Uint8Array(2048);
/** CBC IV scratch, one per IV length (8: DES/3DES, 16: AES). */
const ivScratch8 = new Uint8Array(8);
const ivScratch16 = new Uint8Array(16);

/**
 * Reads the sequence numbers of `layout`'s AH and ESP headers into `layout.ahHigh`/`espHigh`
 * (the SA's SequenceNumberHighOrder with ESN, else 0) and refuses the 64-bit value 0
 * (`sequence-zero`; D3, RFC 4303 §3.3.3: the first packet carries 1).
 */
export function readSequenceNumbers(
  frame: Uint8Array,
  layout: SaLayout,
  outcome: Outcome
): boolean {
  if (layout.ah !== null) {
    layout.ahHigh = layout.ah.esn ? layout.ah.seqHigh : 0;
    if (layout.ahHigh === 0 && be32(frame, layout.ahStart + 8) === 0) {
      return outcome.invalid('sequence-zero');
    }
  }
  if (layout.esp !== null) {
    layout.espHigh = layout.esp.esn ? layout.esp.seqHigh : 0;
    if (layout.espHigh === 0 && be32(frame, layout.espStart + 4) === 0) {
      return outcome.invalid('sequence-zero');
    }
  }
  return true;
}

/**
 * Issue 6: whether nothing else in the frame depends on `layout`'s ESP seal, so that the seal may
 * wait for the batch's one native call (tx-batch.ts) — no AH over it, no UDP checksum over it
 * (UDP-ESP over IPv6); a tunnel SA around it makes the caller pass `batch` null.
 */
function deferrable(layout: SaLayout): boolean {
  return layout.ah === null && (layout.udpStart < 0 || layout.ip.version === 4);
}

/**
 * True when {@link protectLayout} with this `batch` will defer `layout`'s ESP seal to the batch
 * (an ESP SA on an engine with `sealBatch`, and {@link deferrable}): a checksum job handed to it
 * is then run by the native seal, else by protectLayout itself in JavaScript.
 */
export function sealDeferred(layout: SaLayout, batch: SendWork | null): boolean {
  const element = layout.esp;
  return batch !== null && element !== null && deferrable(layout) && isBatchTransform(element.esp!);
}

/**
 * Applies one bundle's protection to the built frame at the positions of `layout`: `checksum` (a
 * TCP checksum inside the ESP payload, D13: before encryption — joined to a deferred seal, else
 * run here), ESP seal of [ESP header, end of ICV) with `layout.espHigh` (D3), the UDP-ESP Length
 * and checksum (D14), then the AH ICV with `layout.ahHigh`. Fails only when AH's ICV input cannot
 * be formed (`ah-mutable:<reason>`, e.g. an IPv6 Routing header whose receiver form is unknown).
 */
export function protectLayout(
  mp: Miniport,
  frame: Uint8Array,
  layout: SaLayout,
  outcome: Outcome,
  batch: SendWork | null,
  checksum: ChecksumJob | null = null
): boolean {
  const espElement = layout.esp;
  if (espElement !== null) {
    const transform = espElement.esp!;
    // Issue 6: a seal nothing else in this frame depends on waits for the batch's one native call
    // (sealDeferred), its checksum job with it.
    if (batch !== null && deferrable(layout) && isBatchTransform(transform)) {
      if (transform.randomIv) {
        // Contract D6: drawn now, in packet order, exactly as an immediate seal draws it.
        const iv = transform.ivLength === 8 ? ivScratch8 : ivScratch16;
        mp.random.fill(iv);
        frame.set(iv, layout.espStart + 8);
      }
      batch.seals.add(
        transform,
        frame,
        layout.espStart,
        layout.espEnd,
        layout.espHigh,
        batch.recordIndex,
        checksum
      );
      if (layout.udpStart >= 0) fixUdpEsp(frame, layout);
      return true;
    }
  }
  if (checksum !== null) runChecksumJob(frame, checksum); // D13: before anything is sealed
  if (espElement !== null) {
    const transform = espElement.esp!;
    const packet = frame.subarray(layout.espStart, layout.espEnd);
    if (isCbc(espElement.encryption)) {
      // Contract D6: CBC IVs come from the adapter's injected Random, one per packet.
      // Model: hardware has its own RNG; the injected source keeps runs reproducible.
      const iv = transform.ivLength === 8 ? ivScratch8 : ivScratch16;
      mp.random.fill(iv);
      transform.seal(packet, layout.espHigh, iv);
    } else {
      // GCM, GMAC: the transform writes the 64-bit sequence number as IV (D6); NULL has none.
      transform.seal(packet, layout.espHigh);
    }
    if (layout.udpStart >= 0) fixUdpEsp(frame, layout);
  }
  if (layout.ah !== null) return authenticate(frame, layout, layout.ah.auth!, outcome);
  return true;
}

/**
 * Contract D14: keep the transport's UDP header, rewrite its Length to the sealed datagram, and
 * its checksum — 0 over IPv4 (RFC 3948 §2.1), computed over IPv6 (RFC 8200 §8.1).
 */
function fixUdpEsp(frame: Uint8Array, layout: SaLayout): void {
  const start = layout.udpStart;
  const end = layout.espEnd;
  put16(frame, start + 4, end - start);
  if (layout.ip.version === 4) put16(frame, start + 6, 0);
  else fillTransportChecksum(frame, 17, start, end, layout.ip.start, 6);
}

/**
 * Computes the AH ICV (RFC 4302 §3.3.3) over the IP packet of `layout` and writes it into the
 * frame. For AES-GMAC the NIC first writes the 8-byte IV = the 64-bit sequence number (D6; high
 * half 0 without ESN), which the ICV input keeps (RFC 4543 §7). The ESN high half is appended by
 * the transform itself (RFC 4302 §2.5.1), so the ICV input is built without it.
 */
function authenticate(
  frame: Uint8Array,
  layout: SaLayout,
  auth: AuthTransform,
  outcome: Outcome
): boolean {
  const ip = layout.ip;
  const ivAt = layout.ahStart + ah.FIXED_LENGTH;
  if (auth.ivLength > 0) {
    put32(frame, ivAt, layout.ah!.esn ? layout.ahHigh : 0);
    frame.copyWithin(ivAt + 4, layout.ahStart + 8, layout.ahStart + 12); // low half
  }
  const packet = frame.subarray(ip.start, ip.end);
  if (icvScratch.length < packet.length) icvScratch = new Uint8Array(packet.length * 2);
  const input = ah.icvInput(packet, icvScratch, {
    icvLength: auth.icvLength,
    ivLength: auth.ivLength,
  });
  if (!input.ok) return outcome.invalid(`ah-mutable:${input.error.reason}`);
  if (ip.start + input.value.ahOffset !== layout.ahStart) return outcome.invalid('ah-offset');
  const icvAt = ip.start + input.value.icvOffset;
  auth.compute(
    input.value.input,
    layout.ahHigh,
    auth.ivLength > 0 ? frame.subarray(ivAt, ivAt + auth.ivLength) : null,
    frame.subarray(icvAt, icvAt + auth.icvLength)
  );
  return true;
}

/**
 * Checks and protects one framed, non-LSO IPsec packet (contract D1) in `frame` — the NIC's own
 * copy of the NET_BUFFER — for the OffloadHandle bundle `primary` and the TunnelHandle bundle
 * `tunnel` (or null), with the NBL's header OOB in `work.header` and checksum OOB `checksumRaw`.
 * On success the frame is ready for the wire and its per-SA counts are noted in `work`.
 */
export function protectFrame(
  mp: Miniport,
  frame: Uint8Array,
  primary: SaBundle,
  tunnel: SaBundle | null,
  checksumRaw: number,
  work: SendWork
): boolean {
  const o = work.outcome;
  const caps = mp.capabilities;
  const v2 = caps.IPsecV2;
  const l2 = work.l2;
  locateL2(frame, l2);
  if (l2.version === 0) return o.invalid(frame.length < 14 ? 'frame-truncated' : 'not-ip');
  const outer = work.outer;
  if (!readIp(frame, l2.ipStart, frame.length, l2.version, 'exact', outer, o)) return false;
  const pl = work.primary;
  const tl = work.tunnel;

  if (tunnel !== null) {
    // Transport over tunnel (D4): the tunnel SA's headers first, found by parsing.
    if (!v2.TransportTunnelCombined) return o.invalid('capability:TransportTunnelCombined');
    if (!walkChain(frame, outer, hasEsp(tunnel) && udpEncapsulated(tunnel, 'tunnel'), o)) {
      return false;
    }
    if (!checkIpsecLayer(caps, mp.config, outer, tunnel, l2.tagged, o)) return false;
    tl.reset('tunnel', outer);
    if (!matchBundle(frame, tunnel, tl, null, outer.start, 'framed', o)) return false;
    if (!isTunnelProtocol(tl.payloadProtocol)) return o.invalid('tunnel-next-header');
    // Then the transport SA's headers inside the inner packet, at the OOB offsets.
    const inner = work.inner;
    const version = innerVersion(tl.payloadProtocol);
    if (!readIp(frame, tl.payloadStart, tl.payloadEnd, version, 'exact', inner, o)) return false;
    if (!walkChain(frame, inner, hasEsp(primary) && udpEncapsulated(primary, 'transport'), o)) {
      return false;
    }
    if (!checkIpsecLayer(caps, mp.config, inner, primary, false, o)) return false;
    pl.reset('transport', inner);
    if (!matchBundle(frame, primary, pl, work.header, outer.start, 'framed', o)) return false;
    if (isTunnelProtocol(pl.payloadProtocol)) return o.invalid('nested-tunnel');
  } else {
    if (!walkChain(frame, outer, hasEsp(primary) && udpEncapsulated(primary, 'only'), o)) {
      return false;
    }
    if (!checkIpsecLayer(caps, mp.config, outer, primary, l2.tagged, o)) return false;
    pl.reset('only', outer);
    if (!matchBundle(frame, primary, pl, work.header, outer.start, 'framed', o)) return false;
    // D12: ADD_SA has no mode; Next Header 4 or 41 makes a tunnel packet.
    if (isTunnelProtocol(pl.payloadProtocol)) {
      if (!v2.Tunnel) return o.invalid('capability:Tunnel');
    } else if (!v2.Transport) {
      return o.invalid('capability:Transport');
    }
  }

  if (!readSequenceNumbers(frame, pl, o)) return false;
  if (tunnel !== null && !readSequenceNumbers(frame, tl, o)) return false;

  // D13: the inner TCP/UDP checksum, before anything is encrypted.
  if (asksTransportChecksum(checksumRaw)) {
    if (!locateTransport(frame, pl, work)) return false;
    if (!offloadTransportChecksum(caps, mp.config, checksumRaw, frame, work.l4, true, o)) {
      return false;
    }
  }

  // Inner bundle first: the tunnel SA protects the transport SA's result (ADD_SA order: ESP, AH).
  if (!protectLayout(mp, frame, pl, o, tunnel === null ? work : null)) return false;
  if (tunnel !== null && !protectLayout(mp, frame, tl, o, work)) return false;
  if (outer.version === 4) fillIpv4HeaderChecksum(frame, outer.start); // D13
  work.countLayout(pl, pl.ip.end - pl.ip.start);
  if (tunnel !== null) work.countLayout(tl, tl.ip.end - tl.ip.start);
  return true;
}

/**
 * Finds the TCP/UDP header that `layout` protects, and the IP header that carries it (D13: the
 * inner one in tunnel mode), into `work.l4`.
 */
function locateTransport(frame: Uint8Array, layout: SaLayout, work: SendWork): boolean {
  const l4 = work.l4;
  if (!isTunnelProtocol(layout.payloadProtocol)) {
    l4.protocol = layout.payloadProtocol;
    l4.start = layout.payloadStart;
    l4.end = layout.payloadEnd;
    l4.ipStart = layout.ip.start;
    l4.version = layout.ip.version;
    return true;
  }
  // Tunnel mode: the inner IP packet is the ESP (or AH) payload.
  const inner = work.innermost;
  const version = innerVersion(layout.payloadProtocol);
  const end = layout.payloadEnd;
  if (!readIp(frame, layout.payloadStart, end, version, 'exact', inner, work.outcome)) return false;
  if (!walkChain(frame, inner, false, work.outcome)) return false;
  l4.protocol = inner.upperProtocol;
  l4.start = inner.upperOffset;
  l4.end = inner.end;
  l4.ipStart = inner.start;
  l4.version = inner.version;
  return true;
}
