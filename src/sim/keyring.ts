/**
 * @module
 * The keys an observer knows — the receiving host, the decoder, the demo — turned into the
 * `openEsp` / `verifyAh` hooks of `wire/pretty.ts`: ESP packets are verified and decrypted with a
 * receive-side transform per SA (RFC 4303 §3.4), AH ICVs are recomputed over the mutable-field-
 * zeroed packet (RFC 4302 §3.3.3). SAs are found by SPI and protocol (RFC 4301 §4.1; the
 * destination check belongs to the receiving NIC, not to an observer).
 */
import { createAuth } from '../crypto/ah.ts';
import { createEsp } from '../crypto/esp.ts';
import type { AuthTransform, EspTransform } from '../crypto/transform.ts';
import type { SaDescription } from '../transport/sa-entry.ts';
import * as ah from '../wire/ah.ts';
import type { EspOpened, Options } from '../wire/pretty.ts';

/** One known SA: how it was described, and its receive-side transform. */
interface Entry {
  readonly sa: SaDescription;
  readonly esp: EspTransform | null;
  readonly auth: AuthTransform | null;
}

/** SAs by protocol and SPI, with receive-side transforms built once. */
export class Keyring {
  readonly #entries = new Map<string, Entry>();

  /** Adds an SA (as the transport described it); its keys are used for decoding only. */
  add(sa: SaDescription): void {
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
    this.#entries.set(`${sa.protocol}:${sa.spi >>> 0}`, { sa, esp: espT, auth: authT });
  }

  /** The pretty-printer hooks that decrypt ESP and verify AH with these keys. */
  hooks(): Options {
    return {
      openEsp: (packet) => this.openEsp(packet),
      verifyAh: (packet, ahOffset, spi) => this.verifyAh(packet, ahOffset, spi),
    };
  }

  /** Opens an ESP packet (a copy: it is decrypted in place); undefined when the SPI is unknown. */
  openEsp(packet: Uint8Array): EspOpened | undefined {
    if (packet.length < 8) return undefined;
    const spi = new DataView(packet.buffer, packet.byteOffset, 8).getUint32(0);
    const entry = this.#entries.get(`esp:${spi}`);
    if (!entry?.esp) return undefined;
    const t = entry.esp;
    const seqHigh = entry.sa.seqHigh ?? 0;
    // With ESN the high half is not on the wire: try the known one, then the next (RFC 4303
    // Appendix A2 in short; a failed open writes nothing, so a retry sees the same bytes).
    let result = t.open(packet, seqHigh);
    if (result === 'icv-mismatch' && t.esn) result = t.open(packet, (seqHigh + 1) >>> 0);
    if (result !== 'ok') return { ok: false, defect: result.replace('-', ' ') };
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
  verifyAh(packet: Uint8Array, _ahOffset: number, spi: number): string | null | undefined {
    const entry = this.#entries.get(`ah:${spi >>> 0}`);
    if (!entry?.auth) return undefined;
    const t = entry.auth;
    const scratch = new Uint8Array(packet.length);
    const input = ah.icvInput(packet, scratch, { icvLength: t.icvLength, ivLength: t.ivLength });
    if (!input.ok) return `${input.error.reason} at ${input.error.offset}`;
    const { icvOffset } = input.value;
    const iv = t.ivLength > 0 ? packet.subarray(icvOffset - t.ivLength, icvOffset) : null;
    const icv = packet.subarray(icvOffset, icvOffset + t.icvLength);
    const seqHigh = entry.sa.seqHigh ?? 0;
    let verdict = t.verify(input.value.input, seqHigh, iv, icv);
    if (verdict === 'icv-mismatch' && t.esn) {
      verdict = t.verify(input.value.input, (seqHigh + 1) >>> 0, iv, icv);
    }
    return verdict === 'ok' ? null : verdict.replace('-', ' ');
  }
}
