/**
 * @module
 * The one table of algorithm names (contract D17) used by every layer: the CLI, scenario files,
 * keys.json, reports, the miniport's capability checks and the transforms themselves. Each name
 * carries what framing and key handling need — key length as it sits in the SA's key buffer
 * (contract D5), IV length, block size, pad alignment, ICV lengths — plus its RFC and, where
 * Microsoft defines one, its IPsecOV2 identifier (ntddndis.h / ndis.h, reference §3.4).
 *
 * RFCs: 2403 (HMAC-MD5-96), 2404 (HMAC-SHA-1-96), 2405 (DES-CBC), 2410 (NULL), 2451 (3DES-CBC),
 * 3602 (AES-CBC), 4106 (AES-GCM ESP), 4303 (ESP padding), 4543 (AES-GMAC), 4868 (HMAC-SHA-2),
 * 7634 (ChaCha20-Poly1305).
 */

// IPsecOV2 algorithm identifiers, spelled as in the SDK/WDK headers (reference §3.4) so they grep.
/** Null encryption: ESP with authentication only (RFC 2410). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_NONE = 0x001;
/** DES-CBC (RFC 2405). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_DES_CBC = 0x002;
/** Triple-DES-CBC (RFC 2451). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_3_DES_CBC = 0x004;
/** AES-GCM with a 128-bit key, combined mode (RFC 4106). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128 = 0x008;
/** AES-GCM with a 192-bit key, combined mode (RFC 4106). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_192 = 0x010;
/** AES-GCM with a 256-bit key, combined mode (RFC 4106). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_256 = 0x020;
/** AES-CBC with a 128-bit key (RFC 3602). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128 = 0x040;
/** AES-CBC with a 192-bit key (RFC 3602). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_192 = 0x080;
/** AES-CBC with a 256-bit key (RFC 3602). */
export const IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_256 = 0x100;
/** Keyed MD5: HMAC-MD5-96 (RFC 2403). */
export const IPSEC_OFFLOAD_V2_AUTHENTICATION_MD5 = 0x01;
/** HMAC-SHA-1-96 (RFC 2404). */
export const IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1 = 0x02;
/** HMAC-SHA-256-128 (RFC 4868). */
export const IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256 = 0x04;
/** AES-GMAC with a 128-bit key (RFC 4543); Microsoft names it AES_GCM_128. */
export const IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128 = 0x08;
/** AES-GMAC with a 192-bit key (RFC 4543). */
export const IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_192 = 0x10;
/** AES-GMAC with a 256-bit key (RFC 4543). */
export const IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_256 = 0x20;

/** Every encryption name, in table order. */
export const ENCRYPTION_NAMES = [
  'null',
  'des-cbc',
  '3des-cbc',
  'aes-cbc-128',
  'aes-cbc-192',
  'aes-cbc-256',
  'aes-gcm-128',
  'aes-gcm-192',
  'aes-gcm-256',
  'chacha20-poly1305',
] as const;

/** Every integrity name, in table order. */
export const INTEGRITY_NAMES = [
  'hmac-md5-96',
  'hmac-sha1-96',
  'hmac-sha256-128',
  'hmac-sha384-192',
  'hmac-sha512-256',
  'aes-gmac-128',
  'aes-gmac-192',
  'aes-gmac-256',
] as const;

/** An ESP encryption (or combined-mode) algorithm name (contract D17). */
export type EncryptionName = (typeof ENCRYPTION_NAMES)[number];
/** An integrity algorithm name, for ESP or AH (contract D17). */
export type IntegrityName = (typeof INTEGRITY_NAMES)[number];

/** What an encryption algorithm needs from framing and from the SA's key buffer. */
export interface EncryptionInfo {
  readonly name: EncryptionName;
  /** Bytes of key material in the SA's key buffer: cipher key ‖ salt for GCM/ChaCha20 (D5). */
  readonly keyLength: number;
  /** Trailing bytes of `keyLength` that are the nonce salt (RFC 4106 §8.1, RFC 7634 §2); else 0. */
  readonly saltLength: number;
  /** Bytes of the explicit IV that follows the ESP header. */
  readonly ivLength: number;
  /** The payload ‖ trailer must be a multiple of this (RFC 4303 §2.4); 1 for counter modes. */
  readonly blockSize: number;
  /** Alignment of payload through next header: max(blockSize, 4) (RFC 4303 §2.4). */
  readonly padAlign: number;
  /** Combined mode (AEAD): the ICV comes from the cipher, so ESP takes no integrity algorithm. */
  readonly combined: boolean;
  /** The ICV length used when none is asked for (0: the ICV comes from an integrity algorithm). */
  readonly icvLength: number;
  /** ICV lengths the algorithm allows (RFC 4106 §6: 8, 12, 16 for GCM). */
  readonly icvLengths: readonly number[];
  /** The RFC that defines the algorithm's use in ESP. */
  readonly rfc: string;
  /** The IPSEC_OFFLOAD_V2_ENCRYPTION_* value, or null where Microsoft has none (contract §5). */
  readonly identifier: number | null;
}

/** What an integrity algorithm needs from framing and from the SA's key buffer. */
export interface IntegrityInfo {
  readonly name: IntegrityName;
  /** Bytes of key material in the SA's key buffer: AES key ‖ 4-byte salt for GMAC (D5). */
  readonly keyLength: number;
  /** Trailing bytes of `keyLength` that are the nonce salt (RFC 4543 §5.4); else 0. */
  readonly saltLength: number;
  /** IV bytes carried in the packet: 8 for GMAC (RFC 4543 §3.1, §4), else 0. */
  readonly ivLength: number;
  /** The ICV length used when none is asked for. */
  readonly icvLength: number;
  /** ICV lengths the algorithm allows: exactly the truncation its RFC defines. */
  readonly icvLengths: readonly number[];
  /** The RFC that defines the algorithm's use in IPsec. */
  readonly rfc: string;
  /** The IPSEC_OFFLOAD_V2_AUTHENTICATION_* value, or null where Microsoft defines none. */
  readonly identifier: number | null;
}

function enc(
  name: EncryptionName,
  keyLength: number,
  saltLength: number,
  ivLength: number,
  blockSize: number,
  icvLengths: readonly number[],
  rfc: string,
  identifier: number | null
): EncryptionInfo {
  return {
    name,
    keyLength,
    saltLength,
    ivLength,
    blockSize,
    padAlign: Math.max(blockSize, 4),
    combined: icvLengths.length > 0,
    icvLength: icvLengths.length > 0 ? Math.max(...icvLengths) : 0,
    icvLengths: Object.freeze(icvLengths.length > 0 ? [...icvLengths] : [0]),
    rfc,
    identifier,
  };
}

function integ(
  name: IntegrityName,
  keyLength: number,
  saltLength: number,
  ivLength: number,
  icvLength: number,
  rfc: string,
  identifier: number | null
): IntegrityInfo {
  return {
    name,
    keyLength,
    saltLength,
    ivLength,
    icvLength,
    icvLengths: Object.freeze([icvLength]),
    rfc,
    identifier,
  };
}

const GCM_ICV = [8, 12, 16]; // RFC 4106 §6: the ICV is 8, 12 or 16 octets; 16 MUST be supported.

const ENCRYPTION: ReadonlyMap<EncryptionName, EncryptionInfo> = new Map(
  [
    enc('null', 0, 0, 0, 1, [], 'RFC 2410', IPSEC_OFFLOAD_V2_ENCRYPTION_NONE),
    // RFC 2405 §2, RFC 2451 §2: 64-bit block, explicit 8-byte IV; 3DES keys are 3 × 64 bits.
    enc('des-cbc', 8, 0, 8, 8, [], 'RFC 2405', IPSEC_OFFLOAD_V2_ENCRYPTION_DES_CBC),
    enc('3des-cbc', 24, 0, 8, 8, [], 'RFC 2451', IPSEC_OFFLOAD_V2_ENCRYPTION_3_DES_CBC),
    // RFC 3602 §2.4, §3: 128-bit block and a 16-byte explicit IV.
    enc('aes-cbc-128', 16, 0, 16, 16, [], 'RFC 3602', IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128),
    enc('aes-cbc-192', 24, 0, 16, 16, [], 'RFC 3602', IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_192),
    enc('aes-cbc-256', 32, 0, 16, 16, [], 'RFC 3602', IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_256),
    // RFC 4106 §3.1 (8-byte IV), §8.1 (key ‖ 4-byte salt): counter mode, no block padding.
    enc('aes-gcm-128', 20, 4, 8, 1, GCM_ICV, 'RFC 4106', IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128),
    enc('aes-gcm-192', 28, 4, 8, 1, GCM_ICV, 'RFC 4106', IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_192),
    enc('aes-gcm-256', 36, 4, 8, 1, GCM_ICV, 'RFC 4106', IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_256),
    // RFC 7634 §2: 256-bit key ‖ 4-byte salt, 8-byte IV, 16-byte tag; software side only (§5).
    enc('chacha20-poly1305', 36, 4, 8, 1, [16], 'RFC 7634', null),
  ].map((i): [EncryptionName, EncryptionInfo] => [i.name, Object.freeze(i)])
);

const INTEGRITY: ReadonlyMap<IntegrityName, IntegrityInfo> = new Map(
  [
    integ('hmac-md5-96', 16, 0, 0, 12, 'RFC 2403', IPSEC_OFFLOAD_V2_AUTHENTICATION_MD5),
    integ('hmac-sha1-96', 20, 0, 0, 12, 'RFC 2404', IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1),
    integ('hmac-sha256-128', 32, 0, 0, 16, 'RFC 4868', IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256),
    integ('hmac-sha384-192', 48, 0, 0, 24, 'RFC 4868', null),
    integ('hmac-sha512-256', 64, 0, 0, 32, 'RFC 4868', null),
    // RFC 4543 §3.1 (8-byte IV), §3.4 (16-byte ICV, never truncated), §5.4 (key ‖ 4-byte salt).
    integ('aes-gmac-128', 20, 4, 8, 16, 'RFC 4543', IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128),
    integ('aes-gmac-192', 28, 4, 8, 16, 'RFC 4543', IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_192),
    integ('aes-gmac-256', 36, 4, 8, 16, 'RFC 4543', IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_256),
  ].map((i): [IntegrityName, IntegrityInfo] => [i.name, Object.freeze(i)])
);

const ENCRYPTION_BY_ID: ReadonlyMap<number, EncryptionName> = new Map(
  [...ENCRYPTION.values()].flatMap((i): [number, EncryptionName][] =>
    i.identifier === null ? [] : [[i.identifier, i.name]]
  )
);
const INTEGRITY_BY_ID: ReadonlyMap<number, IntegrityName> = new Map(
  [...INTEGRITY.values()].flatMap((i): [number, IntegrityName][] =>
    i.identifier === null ? [] : [[i.identifier, i.name]]
  )
);

/** True when `s` is one of the encryption names. */
export function isEncryptionName(s: unknown): s is EncryptionName {
  return typeof s === 'string' && ENCRYPTION.has(s as EncryptionName);
}

/** True when `s` is one of the integrity names. */
export function isIntegrityName(s: unknown): s is IntegrityName {
  return typeof s === 'string' && INTEGRITY.has(s as IntegrityName);
}

function describe(s: unknown): string {
  return typeof s === 'string' ? JSON.stringify(s) : `a ${typeof s}`;
}

/** Returns `s` as an encryption name, or throws a TypeError naming every valid one. */
export function toEncryptionName(s: unknown, where = 'toEncryptionName'): EncryptionName {
  if (isEncryptionName(s)) return s;
  throw new TypeError(
    `${where}: expected an encryption name (${ENCRYPTION_NAMES.join(', ')}), got ${describe(s)}`
  );
}

/** Returns `s` as an integrity name, or throws a TypeError naming every valid one. */
export function toIntegrityName(s: unknown, where = 'toIntegrityName'): IntegrityName {
  if (isIntegrityName(s)) return s;
  throw new TypeError(
    `${where}: expected an integrity name (${INTEGRITY_NAMES.join(', ')}), got ${describe(s)}`
  );
}

/** The table entry for an encryption name; throws a TypeError for an unknown name. */
export function encryptionInfo(name: EncryptionName): EncryptionInfo {
  const info = ENCRYPTION.get(name);
  if (info === undefined) return encryptionInfo(toEncryptionName(name, 'encryptionInfo'));
  return info;
}

/** The table entry for an integrity name; throws a TypeError for an unknown name. */
export function integrityInfo(name: IntegrityName): IntegrityInfo {
  const info = INTEGRITY.get(name);
  if (info === undefined) return integrityInfo(toIntegrityName(name, 'integrityInfo'));
  return info;
}

/** The encryption name for an IPSEC_OFFLOAD_V2_ENCRYPTION_* value, or undefined if none. */
export function encryptionByIdentifier(identifier: number): EncryptionName | undefined {
  return ENCRYPTION_BY_ID.get(identifier);
}

/** The integrity name for an IPSEC_OFFLOAD_V2_AUTHENTICATION_* value, or undefined if none. */
export function integrityByIdentifier(identifier: number): IntegrityName | undefined {
  return INTEGRITY_BY_ID.get(identifier);
}
