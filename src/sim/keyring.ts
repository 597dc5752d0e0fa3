/**
 * @module
 * The keys an observer knows — the receiving host, the decoder, the demo — turned into the
 * `openEsp` / `verifyAh` hooks of `wire/pretty.ts`: ESP packets are verified and decrypted with a
 * receive-side transform per SA (RFC 4303 §3.4), AH ICVs are recomputed over the mutable-field-
 * zeroed packet (RFC 4302 §3.3.3). SAs are found by SPI, protocol and — when the SA was added
 * with one — destination address (RFC 4301 §4.1), falling back to SPI and protocol alone (a NAT
 * may have rewritten the destination an observer sees).
 *
 * With ESN the high half of the sequence number is not on the wire: each SA keeps the highest
 * 64-bit sequence number that verified and estimates the high half of the next packet from it
 * (RFC 4303 Appendix A2, with the window taken as 2^31: the nearest candidate), then retries once
 * with the other neighbouring high half. `lastSequence` tells the caller which 64-bit number the
 * last verified packet had.
 */
import { createAuth } from '../crypto/ah.ts';
import { createEsp } from '../crypto/esp.ts';
import type { AuthTransform, EspTransform } from '../crypto/transform.ts';
import type { SaDescription } from '../transport/sa-entry.ts';
import * as ah from '../wire/ah.ts';
import type { EspOpened, Options } from '../wire/pretty.ts';
import { estimateHigh } from '../wire/seqnum.ts';

/** One known SA: how it was described, its receive-side transform, and the highest sequence seen. */
interface Entry {
  readonly sa: SaDescription;
  readonly esp: EspTransform | null;
  readonly auth: AuthTransform | null;
  /** The highest verified sequence number: high and low halves (RFC 4303 Appendix A: Th, Tl). */
  topHigh: number;
  topLow: number;
}

/** The window W of the RFC 4303 A2.2 estimate: 2^31 centres it on the highest number seen. */
const ESTIMATE_WINDOW = 2 ** 31;

/** Hex of an address, the map key part for a destination. */
const addressKey = (a: Uint8Array): string => Buffer.from(a).toString('hex');

/**
 * The high halves to try for low half `low`: first the RFC 4303 Appendix A2.2 estimate
 * (`wire/seqnum.estimateHigh`, as the receiving NIC does), then the other neighbour.
 */
function candidates(entry: Entry, low: number): readonly [number, number] {
  const th = entry.topHigh;
  const first = estimateHigh(
    low >>> 0,
    (BigInt(th) << 32n) | BigInt(entry.topLow),
    ESTIMATE_WINDOW
  );
  const second = first === th ? th + 1 : th;
  return [first >>> 0, second >>> 0];
}

/** Records a verified packet's 64-bit sequence number as the SA's highest when it is. */
function advance(entry: Entry, high: number, low: number): bigint {
  if (high > entry.topHigh || (high === entry.topHigh && low > entry.topLow)) {
    entry.topHigh = high;
    entry.topLow = low;
  }
  return (BigInt(high) << 32n) | BigInt(low);
}

/** SAs by protocol and SPI, with receive-side transforms built once. */
export class Keyring {
  readonly #entries = new Map<string, Entry>();
  #last: bigint | null = null;
  /** The AH ICV input is built here (grown, never per packet). */
  #scratch = new Uint8Array(2048);

  /**
   * The 64-bit sequence number (the estimated ESN high half ‖ the wire's low half; without ESN
   * the wire's 32 bits) of the last packet that verified, or null before any.
   */
  get lastSequence(): bigint | null {
    return this.#last;
  }

  /**
   * Adds an SA (as the transport described it), optionally with its destination address (4 or
   * 16 bytes) so SAs sharing an SPI are told apart; its keys are used for decoding only.
   */
  add(sa: SaDescription, destination?: Uint8Array): void {
    const esn = sa.esn ?? false;
    let espT: EspTransform | null = null;
    let authT: AuthTransform | null = null;
    if (sa.protocol === 'esp') {
      espT = createEsp({
        encryption: sa.encryption ?? 'null',
        integrity: sa.integrity ?? null,
        encryptionKey: sa.encryptionKey ?? new Uint8Array(0),
        ...(sa.integrityKey ? { integrityKey: sa.integrityKey } : {}),
        ...(sa.icvLength !== undefined ? { icvLength: sa.icvLength } : {}),
        esn,
      });
    } else {
      if (!sa.integrity || !sa.integrityKey) {
        throw new TypeError(
          `Keyring.add: expected an integrity algorithm and key for AH SPI ${sa.spi}`
        );
      }
      authT = createAuth({ integrity: sa.integrity, key: sa.integrityKey, esn });
    }
    const seqHigh = esn ? (sa.seqHigh ?? 0) >>> 0 : 0;
    const entry: Entry = { sa, esp: espT, auth: authT, topHigh: seqHigh, topLow: 0 };
    const key = `${sa.protocol}:${sa.spi >>> 0}`;
    if (destination !== undefined) this.#entries.set(`${key}:${addressKey(destination)}`, entry);
    // The SPI alone finds the first SA added with it (an observer behind a NAT sees another
    // destination); an SA without a destination replaces it.
    if (destination === undefined || !this.#entries.has(key)) this.#entries.set(key, entry);
  }

  #find(protocol: 'esp' | 'ah', spi: number, destination?: Uint8Array): Entry | undefined {
    const key = `${protocol}:${spi >>> 0}`;
    if (destination !== undefined) {
      const exact = this.#entries.get(`${key}:${addressKey(destination)}`);
      if (exact) return exact;
    }
    return this.#entries.get(key);
  }

  /** The pretty-printer hooks that decrypt ESP and verify AH with these keys. */
  hooks(): Options {
    return {
      openEsp: (packet, ip) => this.openEsp(packet, ip.destination),
      verifyAh: (packet, ahOffset, spi) => this.verifyAh(packet, ahOffset, spi),
    };
  }

  /**
   * Opens an ESP packet (a copy: it is decrypted in place) sent to `destination`; undefined when
   * the SPI is unknown.
   */
  openEsp(packet: Uint8Array, destination?: Uint8Array): EspOpened | undefined {
    if (packet.length < 8) return undefined;
    const dv = new DataView(packet.buffer, packet.byteOffset, 8);
    const entry = this.#find('esp', dv.getUint32(0), destination);
    if (!entry?.esp) return undefined;
    const t = entry.esp;
    const low = dv.getUint32(4);
    // With ESN the high half is not on the wire: the estimate, then the other neighbour (a failed
    // open writes nothing, so a retry sees the same bytes).
    const [first, second] = t.esn ? candidates(entry, low) : [0, 0];
    let high = first;
    let result = t.open(packet, high);
    if (result === 'icv-mismatch' && t.esn) result = t.open(packet, (high = second));
    if (result !== 'ok') return { ok: false, defect: result.replace('-', ' ') };
    this.#last = advance(entry, high, low);
    const name = entry.sa.integrity
      ? `${entry.sa.encryption ?? 'null'}+${entry.sa.integrity}`
      : (entry.sa.encryption ?? 'null');
    return {
      ok: true,
      plaintext: packet.subarray(8 + t.ivLength, packet.length - t.icvLength),
      ivLength: t.ivLength,
      icvLength: t.icvLength,
      note: name,
    };
  }

  /** Verifies the AH ICV of `packet` (from its IP header); undefined when the SPI is unknown. */
  verifyAh(packet: Uint8Array, ahOffset: number, spi: number): string | null | undefined {
    const entry = this.#find('ah', spi, destinationOf(packet));
    if (!entry?.auth) return undefined;
    const t = entry.auth;
    if (this.#scratch.length < packet.length) this.#scratch = new Uint8Array(packet.length * 2);
    const scratch = this.#scratch;
    const input = ah.icvInput(packet, scratch, { icvLength: t.icvLength, ivLength: t.ivLength });
    if (!input.ok) return `${input.error.reason} at ${input.error.offset}`;
    const { icvOffset } = input.value;
    const iv = t.ivLength > 0 ? packet.subarray(icvOffset - t.ivLength, icvOffset) : null;
    const icv = packet.subarray(icvOffset, icvOffset + t.icvLength);
    const low =
      ahOffset + 12 <= packet.length
        ? new DataView(packet.buffer, packet.byteOffset + ahOffset + 8, 4).getUint32(0)
        : 0;
    const [first, second] = t.esn ? candidates(entry, low) : [0, 0];
    let high = first;
    let verdict = t.verify(input.value.input, high, iv, icv);
    if (verdict === 'icv-mismatch' && t.esn) {
      verdict = t.verify(input.value.input, (high = second), iv, icv);
    }
    if (verdict !== 'ok') return verdict.replace('-', ' ');
    this.#last = advance(entry, high, low);
    return null;
  }
}

/** The destination address of an IP packet (IPv4 or IPv6), or undefined when too short. */
function destinationOf(packet: Uint8Array): Uint8Array | undefined {
  const version = packet.length > 0 ? packet[0] >>> 4 : 0;
  if (version === 4 && packet.length >= 20) return packet.subarray(16, 20);
  if (version === 6 && packet.length >= 40) return packet.subarray(24, 40);
  return undefined;
}
