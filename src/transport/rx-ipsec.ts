/**
 * @module
 * The receiving transport's AH and ESP steps (receiver.ts walks the frame and calls them per
 * IP level): SA by SPI + protocol + destination (rx-sa.ts); anti-replay check (RFC 4303
 * §3.4.3); the ICV verified by the NIC (CryptoDone, data decrypted in place) or here in software
 * (crypto transforms, ESN high half from the window, RFC 4303 A2.2); the window advanced only
 * then; the ESP trailer checked (RFC 4303 §2.4–§2.6). Failures are named with the CRYPTO_*
 * CryptoStatus names on both paths.
 */
import * as ah from '../wire/ah.ts';
import * as esp from '../wire/esp.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import { CryptoStatus } from '../ndis/oid.ts';
import { bump, type Counters } from './rx-flow.ts';
import { u32, type IpHeader } from './rx-ip.ts';
import type { InboundSad, InboundSa } from './rx-sa.ts';

const STATUS_NAMES = new Map<number, string>(
  Object.entries(CryptoStatus).map(([name, value]): [number, string] => [value, name])
);

/** The counter name of a CryptoStatus value. */
export function cryptoStatusName(status: number): string {
  return STATUS_NAMES.get(status) ?? `CRYPTO_STATUS_${status}`;
}

const SYNTAX = 'CRYPTO_INVALID_PACKET_SYNTAX';

/** Per-frame state: what the NIC reported for the frame and what its AH/ESP steps left. */
export class RxFrame {
  /** IP levels the NIC processed (CryptoDone → 1, NextCryptoDone → 2). */
  offloaded = 0;
  /** A failure CryptoStatus the NIC reported (0: none). */
  failStatus = 0;
  headerInfo = 0;
  /** The innermost trailer the NIC decrypted (Next Header, Pad Length; −1: none). */
  offloadNh = -1;
  offloadPad = 0;
  deleteReq = false;
  /** Bundle names the packet arrived under, outermost first. */
  readonly applied: string[] = [];
  firstSa: InboundSa | null = null;
  // The region an ESP step leaves: payload start, end, Next Header.
  start = 0;
  end = 0;
}

/** What the AH/ESP steps need of their receiver. */
export interface RxIpsecOptions {
  readonly sad: InboundSad;
  /** The receiver's event counters (software-esp, offloaded-ah, sa-delete-requests, …). */
  readonly counters: Counters;
  /** The frame being processed. */
  readonly frame: RxFrame;
  /** Drops the frame for `reason`, charged to the first flow of `sa` when given. */
  readonly drop: (reason: string, sa: InboundSa | null) => void;
  /** Called once per SA when the NIC sets SaDeleteReq on a packet of that SA (reference §1.3). */
  readonly onSaDeleteRequest: ((saName: string) => void) | undefined;
}

/** The AH and ESP steps of one receiver. */
export class RxIpsec {
  readonly #sad: InboundSad;
  readonly #counters: Counters;
  readonly #frame: RxFrame;
  readonly #drop: (reason: string, sa: InboundSa | null) => void;
  readonly #onSaDelete: ((saName: string) => void) | undefined;
  readonly #deleteRequested = new Set<string>();
  #scratch = new Uint8Array(2048);

  constructor(options: RxIpsecOptions) {
    this.#sad = options.sad;
    this.#counters = options.counters;
    this.#frame = options.frame;
    this.#drop = options.drop;
    this.#onSaDelete = options.onSaDeleteRequest;
  }

  /** Notes the SA a packet arrived under; answers SaDeleteReq for the first one. */
  #note(sa: InboundSa): void {
    const frame = this.#frame;
    const name = sa.bundle.name;
    if (frame.applied[frame.applied.length - 1] !== name) frame.applied.push(name);
    if (frame.firstSa !== null) return;
    frame.firstSa = sa;
    if (frame.deleteReq) {
      bump(this.#counters, 'sa-delete-requests');
      if (!this.#deleteRequested.has(name)) {
        this.#deleteRequested.add(name);
        this.#onSaDelete?.(name);
      }
    }
  }

  /** Drops the frame under the CryptoStatus the NIC reported (reference §4.2 step 6). */
  cryptoFailure(sa: InboundSa | null): void {
    bump(this.#counters, 'offload-failed');
    this.#drop(cryptoStatusName(this.#frame.failStatus), sa);
  }

  #lookup(ip: IpHeader, off: number, protocol: number): InboundSa | null {
    const frame = this.#frame;
    // RFC 4302 §2: the AH SPI follows Next Header, Payload Len, Reserved; RFC 4303 §2: ESP's leads.
    const spi = u32(ip.packet, protocol === IpProtocol.Ah ? off + 4 : off);
    const sa = this.#sad.lookup(spi, protocol, ip.destination);
    if (sa === undefined) {
      if (frame.deleteReq && frame.firstSa === null) bump(this.#counters, 'sa-delete-unmatched');
      this.#drop(frame.failStatus !== 0 ? cryptoStatusName(frame.failStatus) : 'no-sa', null);
      return null;
    }
    this.#note(sa);
    return sa;
  }

  /** The anti-replay check (RFC 4303 §3.4.3): the full sequence number, or null (dropped). */
  #check(sa: InboundSa, low: number): bigint | null {
    const c = sa.window.check(low);
    if (c.verdict === 'new') return c.seq;
    this.#drop(c.verdict === 'replay' ? 'replay' : 'replay-too-old', sa);
    return null;
  }

  /** After the ICV verified: the window moves (RFC 4303 §3.4.3); false when a copy won. */
  #accept(sa: InboundSa, seq: bigint): boolean {
    if (sa.window.accept(seq) === 'new') return true;
    this.#drop('replay', sa);
    return false;
  }

  #tunnelLevel(sa: InboundSa): boolean {
    return sa.bundle.mode === 'tunnel';
  }

  /** One AH header (RFC 4302 §3.4); returns its length, or −1 when the frame was dropped. */
  ah(ip: IpHeader, off: number, end: number, depth: number): number {
    const frame = this.#frame;
    const packet = ip.packet;
    if (end - off < ah.FIXED_LENGTH) {
      this.#drop(frame.failStatus !== 0 ? cryptoStatusName(frame.failStatus) : SYNTAX, null);
      return -1;
    }
    const sa = this.#lookup(ip, off, IpProtocol.Ah);
    if (sa === null) return -1;
    if (frame.failStatus !== 0) {
      this.cryptoFailure(sa);
      return -1;
    }
    const length = (packet[off + 1] + 2) * 4; // RFC 4302 §2.2
    if (length < ah.FIXED_LENGTH + sa.ivLength + sa.icvLength || off + length > end) {
      this.#drop(SYNTAX, sa);
      return -1;
    }
    const seq = this.#check(sa, u32(packet, off + 8));
    if (seq === null) return -1;
    if (depth >= frame.offloaded) {
      bump(this.#counters, 'software-ah');
      if (this.#scratch.length < packet.length) this.#scratch = new Uint8Array(packet.length * 2);
      const input = ah.icvInput(packet, this.#scratch, {
        icvLength: sa.icvLength,
        ivLength: sa.ivLength,
      });
      if (!input.ok || input.value.ahOffset !== off) {
        this.#drop(SYNTAX, sa);
        return -1;
      }
      const icvAt = input.value.icvOffset;
      const iv = sa.ivLength > 0 ? packet.subarray(icvAt - sa.ivLength, icvAt) : null;
      // The AuthTransform appends the ESN high half itself (RFC 4302 §2.5.1).
      const verdict = sa.auth!.verify(
        input.value.input,
        Number(seq >> 32n),
        iv,
        packet.subarray(icvAt, icvAt + sa.icvLength)
      );
      if (verdict !== 'ok') {
        const failed = this.#tunnelLevel(sa)
          ? 'CRYPTO_TUNNEL_AH_AUTH_FAILED'
          : 'CRYPTO_TRANSPORT_AH_AUTH_FAILED';
        this.#drop(verdict === 'icv-mismatch' ? failed : SYNTAX, sa);
        return -1;
      }
    } else {
      bump(this.#counters, 'offloaded-ah');
    }
    return this.#accept(sa, seq) ? length : -1;
  }

  /**
   * One ESP packet from `off` to `end` (RFC 4303 §3.4): verified and decrypted (or found so by
   * the NIC), trailer checked; sets the payload region and returns its Next Header, or −1.
   */
  esp(ip: IpHeader, off: number, end: number, depth: number, viaUdp: boolean): number {
    const frame = this.#frame;
    const packet = ip.packet;
    if (end - off < esp.HEADER_LENGTH) {
      this.#drop(frame.failStatus !== 0 ? cryptoStatusName(frame.failStatus) : SYNTAX, null);
      return -1;
    }
    const sa = this.#lookup(ip, off, IpProtocol.Esp);
    if (sa === null) return -1;
    if (frame.failStatus !== 0) {
      this.cryptoFailure(sa);
      return -1;
    }
    if (viaUdp !== (sa.bundle.udpEncapsulation !== null)) {
      this.#drop('udp-encapsulation-mismatch', sa); // RFC 3948 §5.1 / RFC 4301 §5.2
      return -1;
    }
    const header = esp.HEADER_LENGTH + sa.ivLength;
    if (end - off < header + esp.TRAILER_FIXED_LENGTH + sa.icvLength) {
      this.#drop(SYNTAX, sa);
      return -1;
    }
    const seq = this.#check(sa, u32(packet, off + 4));
    if (seq === null) return -1;
    const bytes = packet.subarray(off, end);
    const offloaded = depth < frame.offloaded;
    if (offloaded) {
      bump(this.#counters, 'offloaded-esp');
    } else {
      bump(this.#counters, 'software-esp');
      const verdict = sa.esp!.open(bytes, Number(seq >> 32n));
      if (verdict !== 'ok') {
        const failed = this.#tunnelLevel(sa)
          ? 'CRYPTO_TUNNEL_ESP_AUTH_FAILED'
          : 'CRYPTO_TRANSPORT_ESP_AUTH_FAILED';
        this.#drop(verdict === 'icv-mismatch' ? failed : SYNTAX, sa);
        return -1;
      }
    }
    if (!this.#accept(sa, seq)) return -1;
    const trailer = esp.parseTrailer(bytes.subarray(header, bytes.length - sa.icvLength));
    if (!trailer.ok) {
      this.#drop('esp-bad-trailer', sa);
      return -1;
    }
    const t = trailer.value;
    if (offloaded) {
      frame.offloadNh = t.nextHeader;
      frame.offloadPad = t.padLength;
    }
    // RFC 4303 §2.4: the receiver SHOULD inspect the padding; a wrong one is counted (the ICV
    // proved the sender, so the payload is delivered).
    if (!t.padValid) bump(this.#counters, 'esp-bad-padding');
    frame.start = off + header;
    frame.end = off + header + t.payloadLength;
    return t.nextHeader;
  }
}
