/**
 * @module
 * Wireshark's `esp_sa` file (issue 5): the ESP preferences' SA table ("ESP SAs" UAT of
 * epan/dissectors/packet-ipsec.c), written from keys.json entries so that Wireshark/tshark 4.0
 * decrypts the capture and checks its ICVs.
 *
 * The file is a UAT: one line per record, every field a double-quoted string, fields separated by
 * commas, in the column order of packet-ipsec.c's `esp_uat_flds[]`: Protocol, Src IP, Dest IP,
 * SPI, Encryption, Encryption Key, Authentication, Authentication Key. The Protocol and algorithm
 * columns are `UAT_FLD_VS` fields: the file holds the value_string's *text* (a numeric code is
 * not accepted and silently falls back to the default), e.g. `"AES-CBC [RFC3602]"` for
 * `IPSEC_ENCRYPT_AES_CBC` (2). Keys are `0x`-prefixed hex (packet-ipsec.c `compute_ascii_key`).
 *
 * What Wireshark 4.0 cannot use is left out and reported by {@link espSaCoverage}:
 * - AH SAs: esp_sa is for ESP only, and 4.0's AH dissector never checks an ICV.
 * - ESN SAs: 4.0 has no ESN preference; it computes HMACs over the packet as sent and GCM's AAD
 *   as SPI ‖ 32-bit sequence number (RFC 4303 §2.2.1, RFC 4106 §5 need the high half too).
 * - AES-GMAC (ENCR_NULL_AUTH_AES_GMAC, RFC 4543): not in 4.0's authentication table.
 * - ChaCha20-Poly1305 (RFC 7634): not in 4.0's encryption table.
 */
import type { KeyEntry } from './keys.ts';

// Labels of packet-ipsec.c (Wireshark 4.0) `esp_encryption_type_vals[]`, by IPSEC_ENCRYPT_* code:
// NULL 0, TripleDES-CBC 1, AES-CBC 2, AES-CTR 3, DES-CBC 4, CAST5-CBC 7, BLOWFISH-CBC 5,
// TWOFISH-CBC 6, AES-GCM 8 (deprecated: no ICV length), AES-GCM with 8/12/16 octet ICV 9/10/11.
/** The encryption labels of Wireshark 4.0's esp_sa (the file holds the label, not the code). */
export const WIRESHARK_ENCRYPTION: Readonly<Partial<Record<string, string>>> = Object.freeze({
  null: 'NULL', // IPSEC_ENCRYPT_NULL 0
  '3des-cbc': 'TripleDES-CBC [RFC2451]', // IPSEC_ENCRYPT_3DES_CBC 1
  'aes-cbc-128': 'AES-CBC [RFC3602]', // IPSEC_ENCRYPT_AES_CBC 2 (key length from the key)
  'aes-cbc-192': 'AES-CBC [RFC3602]',
  'aes-cbc-256': 'AES-CBC [RFC3602]',
  'des-cbc': 'DES-CBC [RFC2405]', // IPSEC_ENCRYPT_DES_CBC 4
  'aes-gcm-8': 'AES-GCM with 8 octet ICV [RFC4106]', // IPSEC_ENCRYPT_AES_GCM_8 9
  'aes-gcm-12': 'AES-GCM with 12 octet ICV [RFC4106]', // IPSEC_ENCRYPT_AES_GCM_12 10
  'aes-gcm-16': 'AES-GCM with 16 octet ICV [RFC4106]', // IPSEC_ENCRYPT_AES_GCM_16 11
});

// Labels of packet-ipsec.c (Wireshark 4.0) `esp_authentication_type_vals[]`, by IPSEC_AUTH_*:
// NULL 0, HMAC-SHA-1-96 1, HMAC-SHA-256-96 (draft) 2, HMAC-SHA-256-128 3, HMAC-SHA-384-192 4,
// HMAC-SHA-512-256 5, HMAC-MD5-96 6, MAC-RIPEMD-160-96 7, ANY 64/96/128/192/256 bit 8–12.
/** The authentication labels of Wireshark 4.0's esp_sa, by contract D17 integrity name. */
export const WIRESHARK_AUTHENTICATION: Readonly<Partial<Record<string, string>>> = Object.freeze({
  none: 'NULL', // IPSEC_AUTH_NULL 0 (combined modes: the ICV is GCM's)
  'hmac-sha1-96': 'HMAC-SHA-1-96 [RFC2404]', // IPSEC_AUTH_HMAC_SHA1_96 1
  'hmac-sha256-128': 'HMAC-SHA-256-128 [RFC4868]', // IPSEC_AUTH_HMAC_SHA256_128 3
  'hmac-sha384-192': 'HMAC-SHA-384-192 [RFC4868]', // IPSEC_AUTH_HMAC_SHA384_192 4
  'hmac-sha512-256': 'HMAC-SHA-512-256 [RFC4868]', // IPSEC_AUTH_HMAC_SHA512_256 5
  'hmac-md5-96': 'HMAC-MD5-96 [RFC2403]', // IPSEC_AUTH_HMAC_MD5_96 6
});

/** One keys.json entry that esp_sa leaves out, and why. */
export interface SkippedSa {
  readonly name: string;
  readonly direction: string;
  readonly spi: string;
  readonly protocol: 'esp' | 'ah';
  readonly reason: string;
}

/** Which entries esp_sa holds (in order) and which it leaves out. */
export interface EspSaCoverage {
  readonly written: readonly KeyEntry[];
  readonly skipped: readonly SkippedSa[];
}

/** The esp_sa record of `e`, or the reason Wireshark 4.0 cannot decrypt/verify it. */
function record(e: KeyEntry): { line: string } | { reason: string } {
  if (e.protocol === 'ah') {
    return { reason: 'AH: esp_sa holds ESP SAs only, and Wireshark 4.0 does not check AH ICVs' };
  }
  if (e.esn) {
    return {
      reason:
        'ESN: Wireshark 4.0 has no extended-sequence-number support (the ICV/AAD needs the high 32 bits, RFC 4303 §2.2.1)',
    };
  }
  if (e.integrity !== null && e.integrity.startsWith('aes-gmac')) {
    return { reason: `${e.integrity}: Wireshark 4.0 has no AES-GMAC (RFC 4543)` };
  }
  const encName =
    e.encryption !== null && e.encryption.startsWith('aes-gcm')
      ? `aes-gcm-${e.icvLength}`
      : (e.encryption ?? 'null');
  const encryption = WIRESHARK_ENCRYPTION[encName];
  if (encryption === undefined) {
    return { reason: `${e.encryption ?? 'null'}: not in Wireshark 4.0's ESP encryption table` };
  }
  const authentication = WIRESHARK_AUTHENTICATION[e.integrity ?? 'none'];
  if (authentication === undefined) {
    return { reason: `${String(e.integrity)}: not in Wireshark 4.0's ESP authentication table` };
  }
  const key = (k: string | null): string => (k === null || k === '' ? '' : `0x${k}`);
  const fields = [
    e.src.includes(':') ? 'IPv6' : 'IPv4', // esp_proto_type_vals: only "IPv4" and "IPv6"
    e.src,
    e.dst,
    e.spi,
    encryption,
    key(e.encryptionKey), // GCM: AES key ‖ 4-byte salt, as keys.json has it (RFC 4106 §8.1)
    authentication,
    key(e.integrityKey),
  ];
  return { line: fields.map((f) => `"${f}"`).join(',') };
}

/** The entries esp_sa holds, and those it leaves out with the reason. */
export function espSaCoverage(entries: readonly KeyEntry[]): EspSaCoverage {
  const written: KeyEntry[] = [];
  const skipped: SkippedSa[] = [];
  for (const e of entries) {
    const r = record(e);
    if ('line' in r) written.push(e);
    else {
      skipped.push({
        name: e.name,
        direction: e.direction,
        spi: e.spi,
        protocol: e.protocol,
        reason: r.reason,
      });
    }
  }
  return { written, skipped };
}

/**
 * The content of Wireshark's `esp_sa` file for `entries`: a comment header, then one line per
 * ESP SA Wireshark 4.0 can decrypt and verify (see {@link espSaCoverage} for the rest).
 */
export function espSaTable(entries: readonly KeyEntry[]): string {
  const lines = [
    '# Wireshark ESP SAs (ESP preferences, "ESP SAs" table), written by ipsecov2 from keys.json.',
    '# Copy to ~/.config/wireshark/esp_sa (or a profile folder) and enable',
    '# esp.enable_encryption_decode and esp.enable_authentication_check.',
  ];
  for (const e of entries) {
    const r = record(e);
    if ('line' in r) lines.push(r.line);
    else lines.push(`# skipped ${e.protocol} ${e.spi} (${e.name} ${e.direction}): ${r.reason}`);
  }
  return `${lines.join('\n')}\n`;
}
