/**
 * @module
 * Checksum offload on the send path ("Offloading Checksum Tasks"; NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO
 * in slot 0 — IsIPv4, IsIPv6, TcpChecksum, UdpChecksum, IpHeaderChecksum, TcpHeaderOffset;
 * reference §1.7, §2.12; contract D13): the TCP/UDP checksum over the pseudo-header (RFC 9293 §3.1,
 * RFC 768, RFC 8200 §8.1; sums per RFC 1071) and the IPv4 header checksum (RFC 791 §3.1).
 *
 * Rules (contract D13):
 * - The pseudo-header uses protocol 6/17 (never 50/51) and the addresses of the IP header that
 *   carries the TCP/UDP header — the inner one in tunnel mode.
 * - Under IPsec the NIC finishes the inner TCP/UDP checksum, before it encrypts, only when slot 0
 *   asks and NDIS_OFFLOAD.Flags has IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE (resp. _UDP_);
 *   without a request the transport sent it complete and the NIC leaves it alone.
 * - The outermost IPv4 header checksum of every emitted frame is computed by the NIC, asked or
 *   not, so every frame on the wire has a correct one (the inner IPv4 checksum is the transport's).
 * - Under LSO the NIC computes every segment's TCP checksum (lso.ts), whatever slot 0 says,
 *   extending the transport's seed (pseudo-header without length, D2) as hardware does; without
 *   LSO it extends the seed with length (D13). A seed that is not the pseudo-header sum is counted
 *   (`send.checksum-seed-mismatch`) and — as on hardware — yields a wrong checksum on the wire.
 *   Issue 6: an LSO segment whose ESP seal waits for the batch hands its checksum to the seal
 *   (`planFromSeed` judges the seed and plans the job; the native seal runs it first), so the
 *   segment costs no native call of its own; the bytes are those of `finishFromSeed`.
 *
 * Decisions where the contract is silent (for docs/decisions.md):
 * - A request the NIC cannot honour fails the NBL with NDIS_STATUS_INVALID_PACKET rather than
 *   sending a checksum the transport expected to be filled but was not: under IPsec without the
 *   coexistence flag → `capability:IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE` (…_UDP_…); with
 *   the offload switched off by OID_TCP_OFFLOAD_PARAMETERS → `config:TCPIPv4Checksum` (the
 *   NDIS_OFFLOAD_PARAMETERS member's name: …IPv6…, UDPIPv4Checksum, UDPIPv6Checksum).
 * - The TCP/UDP header is found by parsing; a non-zero TcpHeaderOffset that disagrees with it is
 *   refused (`csum-tcp-offset`); a request for TCP on a non-TCP packet is `csum-not-tcp` (UDP:
 *   `csum-not-udp`).
 * - IpHeaderChecksum needs no configuration check: the NIC always computes the outer one.
 * Model: the IPv6 pseudo-header uses the Destination Address of the fixed header; a Routing header
 * whose final destination differs (RFC 8200 §8.1) is not looked into.
 */
import type { Offload } from '../ndis/caps.ts';
import { ChecksumTransmit, getField } from '../ndis/oob.ts';
import { OffloadFlags } from '../ndis/oid.ts';
import { nativeAddon } from '../crypto/engine.ts';
import * as checksum from '../wire/checksum.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import type { CurrentConfig } from './config.ts';
import type { Miniport } from './miniport.ts';
import { locateL2, readIp, walkChain } from './send-locate.ts';
import type { Outcome, SendWork } from './send-work.ts';
import type { ChecksumJob } from './tx-batch.ts';

/**
 * The unfolded pseudo-header sum of the IP header at `ipStart` (RFC 9293 §3.1 for IPv4, RFC 8200
 * §8.1 for IPv6) for `protocol` and an upper-layer `length`, read from the frame without copying.
 */
export function pseudoSum(
  frame: Uint8Array,
  ipStart: number,
  version: 4 | 6,
  protocol: number,
  length: number
): number {
  // IPv4: source at 12, destination at 16; IPv6: source at 8, destination at 24.
  const from = ipStart + (version === 4 ? 12 : 8);
  const to = from + (version === 4 ? 8 : 32);
  let sum = 0;
  for (let i = from; i < to; i += 2) sum += (frame[i] << 8) | frame[i + 1];
  // IPv4: zero ‖ protocol ‖ 16-bit length; IPv6: 32-bit length ‖ zeros ‖ next header.
  return sum + protocol + (length >>> 16) + (length & 0xffff);
}

/** The job of finishFromSeed / fillTransportChecksum (synchronous: filled and run in one call). */
const job: ChecksumJob = { start: 0, end: 0, field: 0, seed: 0 };

/**
 * Writes the checksum of the TCP segment or UDP datagram at [`start`, `end`) of `frame`, carried
 * by the IP header at `ipStart`: field zeroed, then the one's complement of the sum over the
 * pseudo-header and the segment (RFC 1071); a UDP result of 0 is sent as 0xFFFF (RFC 768).
 */
export function fillTransportChecksum(
  frame: Uint8Array,
  protocol: 6 | 17,
  start: number,
  end: number,
  ipStart: number,
  version: 4 | 6
): void {
  const field = start + (protocol === 6 ? 16 : 6); // RFC 9293 §3.1 / RFC 768 checksum offsets
  frame[field] = 0;
  frame[field + 1] = 0;
  job.start = start;
  job.end = end;
  job.field = field;
  job.seed = pseudoSum(frame, ipStart, version, protocol, end - start);
  finishJob(frame, protocol, job);
}

/** Runs `job` and applies RFC 768 to a UDP result: a computed 0 is sent as all ones. */
function finishJob(frame: Uint8Array, protocol: 6 | 17, job: ChecksumJob): void {
  if (runChecksumJob(frame, job) === 0 && protocol === 17) {
    frame[job.field] = 0xff;
    frame[job.field + 1] = 0xff;
  }
}

/**
 * Finishes the TCP/UDP checksum of [`start`, `end`) from the transport's seed in the checksum
 * field, as checksum-offload hardware does: the one's-complement sum of the segment *with the
 * seed in place* (plus the segment length when the seed has none: the LSO seed of contract D2),
 * complemented (RFC 1071). Returns whether the seed was the pseudo-header sum the contract asks
 * for (D2 without length, D13 with it), so a wrong seed is reported, not just sent.
 * Model: hardware cannot tell a wrong seed; the model sends what hardware would (a wrong
 * checksum) and the caller counts `send.checksum-seed-mismatch` for the driver engineer.
 */
export function finishFromSeed(
  frame: Uint8Array,
  protocol: 6 | 17,
  start: number,
  end: number,
  ipStart: number,
  version: 4 | 6,
  seedHasLength: boolean
): boolean {
  const seedOk = planFromSeed(frame, protocol, start, end, ipStart, version, seedHasLength, job);
  finishJob(frame, protocol, job);
  return seedOk;
}

/**
 * The first half of {@link finishFromSeed}, for a checksum the ESP seal will finish (tx-batch.ts
 * `ChecksumJob`, issue 6): judges the transport's seed in the field (the return value, as
 * finishFromSeed's) and fills `out` with the job that finishFromSeed would run — the segment
 * summed with the seed in place, plus the segment length when the seed has none (D2). Writes
 * nothing. No RFC 768 rule for a UDP result of 0: the caller applies it (finishFromSeed) or
 * fuses only TCP (lso.ts).
 */
export function planFromSeed(
  frame: Uint8Array,
  protocol: 6 | 17,
  start: number,
  end: number,
  ipStart: number,
  version: 4 | 6,
  seedHasLength: boolean,
  out: ChecksumJob
): boolean {
  const field = start + (protocol === 6 ? 16 : 6); // RFC 9293 §3.1 / RFC 768 checksum offsets
  const seed = (frame[field] << 8) | frame[field + 1];
  const length = end - start;
  const expected = checksum.fold(
    pseudoSum(frame, ipStart, version, protocol, seedHasLength ? length : 0)
  );
  out.start = start;
  out.end = end;
  out.field = field;
  out.seed = seedHasLength ? 0 : length;
  // One's complement: 0x0000 and 0xFFFF are the same number.
  return seed === expected || (seed % 0xffff === 0 && expected % 0xffff === 0);
}

/**
 * Runs a checksum job in JavaScript (or one native `sum16`), as the native seal runs it: writes
 * the one's complement of `job.seed` + the sum of `frame[job.start, job.end)` at `job.field`
 * (RFC 1071), and returns it.
 */
export function runChecksumJob(frame: Uint8Array, job: ChecksumJob): number {
  const c = checksum.finish(sumRange(frame, job.start, job.end, job.seed));
  frame[job.field] = c >>> 8;
  frame[job.field + 1] = c & 0xff;
  return c;
}

/**
 * The sum of `frame[start, end)` plus `seed` as RFC 1071 16-bit words, folded or not (callers
 * fold): the native engine's `sum16` when it is loaded (the NIC's checksum engine, one call per
 * segment), else wire/checksum's word-wise `sumRange`. Both give the same folded value
 * (src/miniport/csum.test.ts).
 */
const native = nativeAddon();
export const sumRange: (frame: Uint8Array, start: number, end: number, seed: number) => number =
  native === null
    ? checksum.sumRange
    : (frame, start, end, seed) =>
        end - start < 64
          ? checksum.sumRange(frame, start, end, seed)
          : native.sum16(frame, start, end, checksum.fold(seed));

/** Writes the IPv4 header checksum of the header at `ipStart` (RFC 791 §3.1 over IHL × 4 bytes). */
export function fillIpv4HeaderChecksum(frame: Uint8Array, ipStart: number): void {
  const end = ipStart + (frame[ipStart] & 15) * 4;
  frame[ipStart + 10] = 0;
  frame[ipStart + 11] = 0;
  const c = checksum.finish(checksum.sumRange(frame, ipStart, end)); // in place, no view
  frame[ipStart + 10] = c >>> 8;
  frame[ipStart + 11] = c & 0xff;
}

/** Where the TCP/UDP header of a packet is, and which IP header carries it. */
export interface TransportLocation {
  /** 6 TCP, 17 UDP, or whatever else the packet carries (then nothing is computed). */
  protocol: number;
  start: number;
  /** One past the segment/datagram (before any ESP padding). */
  end: number;
  ipStart: number;
  version: 4 | 6;
}

/** Whether slot 0 asks for a TCP or UDP checksum (IpHeaderChecksum is always honoured). */
export function asksTransportChecksum(raw: number): boolean {
  return (raw & TRANSPORT_CHECKSUM_BITS) !== 0;
}

/** The TcpChecksum and UdpChecksum bits of slot 0 (one-bit fields, ChecksumTransmit). */
const TRANSPORT_CHECKSUM_BITS =
  (1 << ChecksumTransmit.TcpChecksum.shift) | (1 << ChecksumTransmit.UdpChecksum.shift);

/**
 * Carries out what slot 0 (`raw`) asks of the TCP/UDP checksum at `where` (D13): with
 * `underIpsec` only if NDIS_OFFLOAD.Flags has the matching coexistence flag, and only while the
 * current configuration has that checksum offload on. Returns false with the reason on
 * `outcome` for a request the NIC cannot honour (see the module notes); nothing is written then.
 */
export function offloadTransportChecksum(
  caps: Offload,
  config: CurrentConfig,
  raw: number,
  frame: Uint8Array,
  where: TransportLocation,
  underIpsec: boolean,
  outcome: Outcome
): boolean {
  const tcp = getField(raw, ChecksumTransmit.TcpChecksum) !== 0;
  const udp = getField(raw, ChecksumTransmit.UdpChecksum) !== 0;
  if (!tcp && !udp) return true;
  const v4 = where.version === 4;
  const switches = v4 ? config.checksumIPv4 : config.checksumIPv6;
  if (tcp) {
    if (
      underIpsec &&
      (caps.Flags & OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE) === 0
    ) {
      return outcome.invalid('capability:IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE');
    }
    if (!switches.tcp)
      return outcome.invalid(v4 ? 'config:TCPIPv4Checksum' : 'config:TCPIPv6Checksum');
    if (where.protocol !== IpProtocol.Tcp || where.end - where.start < 20) {
      return outcome.invalid('csum-not-tcp');
    }
    const offset = getField(raw, ChecksumTransmit.TcpHeaderOffset);
    // "Offloading Checksum Tasks": TcpHeaderOffset counts from the start of the frame.
    if (offset !== 0 && offset !== where.start) return outcome.invalid('csum-tcp-offset');
  }
  if (udp) {
    if (
      underIpsec &&
      (caps.Flags & OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE) === 0
    ) {
      return outcome.invalid('capability:IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE');
    }
    if (!switches.udp)
      return outcome.invalid(v4 ? 'config:UDPIPv4Checksum' : 'config:UDPIPv6Checksum');
    if (where.protocol !== IpProtocol.Udp || where.end - where.start < 8) {
      return outcome.invalid('csum-not-udp');
    }
  }
  // D13: without LSO the field holds the transport's pseudo-header seed with the length.
  const seedOk = finishFromSeed(
    frame,
    where.protocol === IpProtocol.Tcp ? 6 : 17,
    where.start,
    where.end,
    where.ipStart,
    where.version,
    true
  );
  if (!seedOk) outcome.checksumSeedMismatches++;
  return true;
}

/**
 * The send work for a frame without IPsec (OffloadHandle 0, or IPsec offload not configured —
 * seed rule 1): the TCP/UDP checksum slot 0 asks for (D13 without IPsec: plain checksum offload)
 * and the IPv4 header checksum. A frame that is not IP, or whose IP header does not parse, goes
 * out untouched unless slot 0 asks for a TCP/UDP checksum (then `csum-not-ip` or the IP reason).
 */
export function offloadPlainFrame(
  mp: Miniport,
  frame: Uint8Array,
  checksumRaw: number,
  work: SendWork
): boolean {
  const o = work.outcome;
  const asks = asksTransportChecksum(checksumRaw);
  const l2 = work.l2;
  locateL2(frame, l2);
  if (l2.version === 0) return asks ? o.invalid('csum-not-ip') : true;
  const ip = work.outer;
  if (!readIp(frame, l2.ipStart, frame.length, l2.version, 'within', ip, o)) {
    if (asks) return false;
    o.reset(); // Model: a NIC sends what it cannot parse as it is.
    return true;
  }
  if (asks) {
    if (!walkChain(frame, ip, false, o)) return false;
    const l4 = work.l4;
    l4.protocol = ip.upperProtocol;
    l4.start = ip.upperOffset;
    l4.end = ip.end;
    l4.ipStart = ip.start;
    l4.version = ip.version;
    if (!offloadTransportChecksum(mp.capabilities, mp.config, checksumRaw, frame, l4, false, o)) {
      return false;
    }
  }
  if (ip.version === 4) fillIpv4HeaderChecksum(frame, ip.start); // D13: every frame
  return true;
}
