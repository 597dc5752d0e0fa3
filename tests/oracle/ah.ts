/**
 * @module
 * The oracle's AH verifier: an IP packet carrying an AH header directly after its base header,
 * and the SA; the ICV is recomputed from scratch.
 *
 * RFC 4302 §2 (format: Next Header, Payload Length = AH length in 4-byte units minus 2, Reserved
 * = 0, SPI, Sequence Number, ICV), §2.5.1 (ESN: the high 32 bits are not sent and enter the ICV
 * after the packet), §2.6 (the ICV field is padded so the AH header is a multiple of 4 bytes
 * over IPv4 and of 8 bytes over IPv6; contract D1: that padding is zero), §3.3.3.1 (mutable
 * fields are zeroed for the ICV: IPv4 TOS, Flags, Fragment Offset, TTL, Header Checksum
 * (§3.3.3.1.1.1); IPv6 Traffic Class, Flow Label, Hop Limit (§3.3.3.1.2.1); the ICV field itself
 * (§3.3.3.1)). RFC 4543 §4 (AES-GMAC in AH: the 8-byte IV follows the Sequence Number, the whole
 * packet is the AAD, nonce = salt ‖ IV, ICV 16 bytes).
 *
 * Scope: IPv4 without options and IPv6 without extension headers before AH (what the LSO tests
 * send); anything else is reported as a mismatch, never silently accepted.
 */
import { be32, concat, equal, hexNum, mismatch, toHex, u16, u32, type Checked } from './bytes.ts';
import { gmacTag, hmacIcv, integritySpec, type OracleIntegrity } from './crypto.ts';

/** An AH SA as the oracle sees it. */
export interface AhSa {
  readonly protocol: 'ah';
  readonly spi: number;
  readonly integrity: Exclude<OracleIntegrity, 'none'>;
  /** For AES-GMAC: AES key ‖ 4-byte salt (contract D5). */
  readonly integrityKey: Uint8Array;
  readonly icvLength: number;
  readonly esn: boolean;
  readonly seqHigh: number;
}

/** A verified AH header. */
export interface AhOpened {
  readonly spi: number;
  readonly seqLow: number;
  readonly nextHeader: number;
  /** Bytes of the AH header, ICV and padding included. */
  readonly length: number;
  readonly iv: Uint8Array;
  readonly icv: Uint8Array;
}

/**
 * Verifies the AH header at `ahOffset` of `ipPacket` (the whole IP packet, header first), whose
 * IP version is `ipVersion`; `nextHeader`, if given, is the value AH's Next Header must carry.
 */
export function verifyAh(
  ipPacket: Uint8Array,
  ipVersion: 4 | 6,
  ahOffset: number,
  sa: AhSa,
  nextHeader?: number
): Checked<AhOpened> {
  const integ = integritySpec(sa.integrity);
  if (sa.integrityKey.length !== integ.keyLength || sa.icvLength !== integ.icvLength) {
    throw new RangeError(
      `oracle AH SA: expected a ${integ.keyLength}-byte key and ICV ${integ.icvLength} for ${sa.integrity}, got ${sa.integrityKey.length} and ${sa.icvLength}`
    );
  }
  const baseLength = ipVersion === 4 ? 20 : 40;
  if (ahOffset !== baseLength) {
    return mismatch('ah.offset', `${baseLength} (AH right after the base header)`, ahOffset);
  }
  if (ipPacket.length < ahOffset + 12)
    return mismatch('ah.length', '>= 12 bytes', ipPacket.length - ahOffset);
  const ahNext = ipPacket[ahOffset];
  const length = (ipPacket[ahOffset + 1] + 2) * 4;
  const unit = ipVersion === 4 ? 4 : 8;
  const expectedLength = Math.ceil((12 + integ.ivLength + sa.icvLength) / unit) * unit;
  if (length !== expectedLength) {
    return mismatch('ah.length', `${expectedLength} bytes (RFC 4302 §2.6, contract D1)`, length);
  }
  if (ahOffset + length > ipPacket.length) {
    return mismatch('ah.length', `<= ${ipPacket.length - ahOffset}`, length);
  }
  const reserved = u16(ipPacket, ahOffset + 2);
  if (reserved !== 0) return mismatch('ah.reserved', 0, reserved);
  const spi = u32(ipPacket, ahOffset + 4);
  if (spi !== sa.spi) return mismatch('ah.spi', hexNum(sa.spi), hexNum(spi));
  const seqLow = u32(ipPacket, ahOffset + 8);
  if (seqLow === 0 && (!sa.esn || sa.seqHigh === 0)) {
    return mismatch('ah.seq', 'non-zero (RFC 4302 §3.3.2)', hexNum(seqLow));
  }
  const ivAt = ahOffset + 12;
  const icvAt = ivAt + integ.ivLength;
  const iv = ipPacket.slice(ivAt, icvAt);
  const icv = ipPacket.slice(icvAt, icvAt + sa.icvLength);
  for (let i = icvAt + sa.icvLength; i < ahOffset + length; i++) {
    if (ipPacket[i] !== 0) return mismatch('ah.icvPadding', 0, ipPacket[i]);
  }
  if (nextHeader !== undefined && ahNext !== nextHeader) {
    return mismatch('ah.nextHeader', nextHeader, ahNext);
  }

  // RFC 4302 §3.3.3.1: a copy with every mutable field and the whole ICV field zeroed.
  const covered = ipPacket.slice();
  if (ipVersion === 4) {
    const ihl = (covered[0] & 0x0f) * 4;
    if (ihl !== 20) return mismatch('ipv4.ihl', '20 under AH (oracle scope: no options)', ihl);
    covered[1] = 0; // TOS (DSCP + ECN)
    covered[6] = 0; // Flags + Fragment Offset
    covered[7] = 0;
    covered[8] = 0; // TTL
    covered[10] = 0; // Header Checksum
    covered[11] = 0;
  } else {
    covered[0] &= 0xf0; // Traffic Class (high nibble part) …
    covered[1] = 0; // … Traffic Class (low nibble) and Flow Label …
    covered[2] = 0;
    covered[3] = 0; // … Flow Label
    covered[7] = 0; // Hop Limit
  }
  covered.fill(0, icvAt, ahOffset + length);
  // RFC 4302 §2.5.1 / RFC 4543 §4: with ESN the high half follows the packet in the ICV input.
  const input = sa.esn ? concat(covered, be32(sa.seqHigh)) : covered;
  const expected =
    integ.mode === 'gmac'
      ? gmacTag(sa.integrityKey, iv, input)
      : hmacIcv(
          sa.integrity as 'hmac-md5-96' | 'hmac-sha1-96' | 'hmac-sha256-128',
          sa.integrityKey,
          input
        );
  if (!equal(expected, icv)) return mismatch('ah.icv', toHex(expected), toHex(icv));
  return { ok: true, value: { spi, seqLow, nextHeader: ahNext, length, iv, icv } };
}
