/**
 * @module
 * The oracle's ESP opener: one ESP packet (SPI through ICV, no IP header) and its SA in, the
 * verified and decrypted payload out — or the first field that is wrong.
 *
 * RFC 4303 §2 (packet format: SPI, Sequence Number, IV, payload, Padding, Pad Length, Next
 * Header, ICV), §2.2.1 (ESN: the high 32 bits are never sent; for a separate integrity algorithm
 * they are appended after the packet for the ICV only), §2.4 (padding: payload ‖ padding ‖ Pad
 * Length ‖ Next Header is a multiple of max(cipher block, 4); default padding bytes are 1, 2,
 * 3, …), §3.3.3 (sequence number 0 is never sent), §3.4.4 (ICV checked before decryption).
 * RFC 3602 (AES-CBC, 16-byte IV), RFC 4106 §5 (GCM AAD = SPI ‖ Sequence Number, or SPI ‖ ESN
 * high ‖ ESN low), RFC 4543 §3.3 (ENCR_NULL_AUTH_AES_GMAC: AAD = SPI ‖ seq [‖ high] ‖ IV ‖
 * payload ‖ trailer, in the order SPI ‖ seq-hi ‖ seq-lo ‖ IV ‖ …).
 *
 * "Minimal" padding (the NIC's job, contract D2) means the Pad Length is the smallest that aligns:
 * with the total a multiple of the alignment, exactly when Pad Length < alignment.
 */
import { be32, concat, equal, hexNum, mismatch, toHex, u32, type Checked } from './bytes.ts';
import {
  cbcDecrypt,
  encryptionSpec,
  gcmOpen,
  gmacTag,
  hmacIcv,
  integritySpec,
  type OracleEncryption,
  type OracleIntegrity,
} from './crypto.ts';

/** An ESP SA as the oracle sees it. */
export interface EspSa {
  readonly protocol: 'esp';
  readonly spi: number;
  readonly encryption: OracleEncryption;
  /** Encryption key material; for AES-GCM the AES key ‖ 4-byte salt (contract D5). */
  readonly encryptionKey: Uint8Array;
  /** 'none' for AES-GCM (combined mode) and for packets without an ICV. */
  readonly integrity: OracleIntegrity;
  /** Integrity key; for AES-GMAC the AES key ‖ 4-byte salt. */
  readonly integrityKey: Uint8Array;
  /** ICV bytes on the wire: 8, 12 or 16 for GCM; the integrity algorithm's otherwise. */
  readonly icvLength: number;
  readonly esn: boolean;
  /** The ESN high half used in the ICV/AAD (ignored without ESN). */
  readonly seqHigh: number;
}

/** How strictly the trailer is judged, and which Next Header is expected. */
export interface EspOptions {
  /** 'strict' (default): padding 1, 2, …, n and minimal; 'skip': only the Pad Length bounds. */
  readonly trailer?: 'strict' | 'skip';
  /** The Next Header the trailer must carry; undefined = any. */
  readonly nextHeader?: number;
}

/** An opened ESP packet. */
export interface EspOpened {
  readonly spi: number;
  readonly seqLow: number;
  readonly iv: Uint8Array;
  readonly icv: Uint8Array;
  /** Payload ‖ Padding ‖ Pad Length ‖ Next Header, decrypted. */
  readonly plaintext: Uint8Array;
  /** The payload alone (what Next Header names, e.g. a TCP segment). */
  readonly payload: Uint8Array;
  readonly padLength: number;
  readonly nextHeader: number;
}

/** Throws a RangeError when the SA itself is unusable (the test's mistake, not the packet's). */
function checkSa(sa: EspSa): void {
  const enc = encryptionSpec(sa.encryption);
  const integ = integritySpec(sa.integrity);
  if (sa.encryptionKey.length !== enc.keyLength) {
    throw new RangeError(
      `oracle ESP SA: expected a ${enc.keyLength}-byte ${sa.encryption} key, got ${sa.encryptionKey.length}`
    );
  }
  if (sa.integrityKey.length !== integ.keyLength) {
    throw new RangeError(
      `oracle ESP SA: expected a ${integ.keyLength}-byte ${sa.integrity} key, got ${sa.integrityKey.length}`
    );
  }
  if (enc.mode === 'gcm') {
    if (sa.integrity !== 'none' || ![8, 12, 16].includes(sa.icvLength)) {
      throw new RangeError(
        `oracle ESP SA: AES-GCM takes no integrity algorithm and an ICV of 8, 12 or 16, got ${sa.integrity} and ${sa.icvLength}`
      );
    }
  } else if (sa.icvLength !== integ.icvLength) {
    throw new RangeError(
      `oracle ESP SA: expected ICV length ${integ.icvLength} for ${sa.integrity}, got ${sa.icvLength}`
    );
  }
  if (integ.mode === 'gmac' && enc.mode !== 'null') {
    throw new RangeError(
      'oracle ESP SA: AES-GMAC in ESP is ENCR_NULL_AUTH_AES_GMAC (encryption null)'
    );
  }
}

/**
 * Opens one ESP packet (`packet` = SPI … ICV): checks the SPI, that the sequence number is not 0,
 * the ICV, the alignment, the trailer (per `options`), and returns the decrypted fields.
 */
export function openEsp(
  packet: Uint8Array,
  sa: EspSa,
  options: EspOptions = {}
): Checked<EspOpened> {
  checkSa(sa);
  const enc = encryptionSpec(sa.encryption);
  const integ = integritySpec(sa.integrity);
  const ivLength = enc.ivLength + integ.ivLength;
  const icvLength = sa.icvLength;
  const minimum = 8 + ivLength + 2 + icvLength;
  if (packet.length < minimum) return mismatch('esp.length', `>= ${minimum}`, packet.length);

  const spi = u32(packet, 0);
  if (spi !== sa.spi) return mismatch('esp.spi', hexNum(sa.spi), hexNum(spi));
  const seqLow = u32(packet, 4);
  if (seqLow === 0 && (!sa.esn || sa.seqHigh === 0)) {
    // RFC 4303 §3.3.3: the first packet sent has sequence number 1; 0 is never sent.
    return mismatch('esp.seq', 'non-zero (RFC 4303 §3.3.3)', hexNum(seqLow));
  }
  const iv = packet.subarray(8, 8 + ivLength);
  const body = packet.subarray(8 + ivLength, packet.length - icvLength);
  const icv = packet.subarray(packet.length - icvLength);
  const high = sa.esn ? be32(sa.seqHigh) : new Uint8Array(0);

  let plaintext: Uint8Array;
  let expectedIcv: Uint8Array;
  switch (enc.mode) {
    case 'gcm': {
      // RFC 4106 §5: AAD = SPI ‖ 32-bit seq, or SPI ‖ ESN high ‖ ESN low.
      const aad = concat(packet.subarray(0, 4), high, packet.subarray(4, 8));
      const opened = gcmOpen(sa.encryptionKey, iv, aad, body);
      if (!opened.consistent) throw new Error('oracle: GCTR and noble GCM disagree (oracle bug)');
      plaintext = opened.plaintext;
      expectedIcv = opened.tag.subarray(0, icvLength);
      break;
    }
    case 'cbc':
    case 'null': {
      if (integ.mode === 'hmac') {
        // RFC 4303 §2.2.1, §3.3.2.1: ICV over SPI ‖ seq ‖ IV ‖ ciphertext, then ESN high (not sent).
        const covered = concat(packet.subarray(0, packet.length - icvLength), high);
        expectedIcv = hmacIcv(
          sa.integrity as 'hmac-md5-96' | 'hmac-sha1-96' | 'hmac-sha256-128',
          sa.integrityKey,
          covered
        );
      } else if (integ.mode === 'gmac') {
        // RFC 4543 §3.3: AAD = SPI ‖ [seq high] ‖ seq low ‖ IV ‖ payload ‖ trailer; no plaintext.
        const aad = concat(packet.subarray(0, 4), high, packet.subarray(4, 8), iv, body);
        expectedIcv = gmacTag(sa.integrityKey, iv, aad);
      } else {
        expectedIcv = new Uint8Array(0);
      }
      if (enc.mode === 'cbc') {
        if (body.length === 0 || body.length % 16 !== 0) {
          return mismatch(
            'esp.alignment',
            'a positive multiple of 16 ciphertext bytes',
            body.length
          );
        }
        // RFC 4303 §3.4.4.1: the ICV is verified before decryption.
        if (!equal(expectedIcv, icv)) return mismatch('esp.icv', toHex(expectedIcv), toHex(icv));
        plaintext = cbcDecrypt(sa.encryptionKey, iv, body);
      } else {
        plaintext = body.slice();
      }
      break;
    }
  }
  if (!equal(expectedIcv, icv)) return mismatch('esp.icv', toHex(expectedIcv), toHex(icv));

  // RFC 4303 §2.4: payload ‖ padding ‖ pad length ‖ next header fills whole alignment units.
  if (plaintext.length % enc.align !== 0) {
    return mismatch(
      'esp.alignment',
      `a multiple of ${enc.align} bytes (payload through Next Header)`,
      plaintext.length
    );
  }
  const padLength = plaintext[plaintext.length - 2];
  const nextHeader = plaintext[plaintext.length - 1];
  if (padLength > plaintext.length - 2) {
    return mismatch('esp.padLength', `<= ${plaintext.length - 2}`, padLength);
  }
  const payloadLength = plaintext.length - 2 - padLength;
  if ((options.trailer ?? 'strict') === 'strict') {
    for (let k = 0; k < padLength; k++) {
      const b = plaintext[payloadLength + k];
      // RFC 4303 §2.4: "the first padding byte … is 1, with subsequent bytes … 2, 3, …".
      if (b !== k + 1) return mismatch(`esp.padding[${k}]`, k + 1, b);
    }
    if (padLength >= enc.align) {
      return mismatch(
        'esp.padLength',
        `minimal: ${padLength % enc.align} (alignment ${enc.align})`,
        padLength
      );
    }
  }
  if (options.nextHeader !== undefined && nextHeader !== options.nextHeader) {
    return mismatch('esp.nextHeader', options.nextHeader, nextHeader);
  }
  return {
    ok: true,
    value: {
      spi,
      seqLow,
      iv: iv.slice(),
      icv: icv.slice(),
      plaintext,
      payload: plaintext.subarray(0, payloadLength),
      padLength,
      nextHeader,
    },
  };
}
