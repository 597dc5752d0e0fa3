/**
 * @module
 * keys.json (issue 5): the SAs of a run, one entry per SA and direction, so that an observer —
 * `ipsecov2 decode`, Wireshark (through `sim/wireshark.ts`'s esp_sa), scapy — can decrypt and
 * verify the capture. An AH+ESP bundle gives an `esp` and an `ah` entry (ESP inside, AH
 * outside: reference §1.11). Algorithm names are contract D17's; keys are lower-case hex and
 * GCM/GMAC keys carry their 4-byte salt at the end (contract D5, RFC 4106 §8.1, RFC 4543 §5.4).
 *
 * ```json
 * { "sas": [ { "name": "sut", "direction": "a->b", "spi": "0x00001001", "protocol": "esp",
 *   "mode": "transport", "src": "192.0.2.10", "dst": "198.51.100.20",
 *   "encryption": "aes-gcm-128", "integrity": null, "encryptionKey": "00…", "integrityKey": null,
 *   "icvLength": 16, "esn": false, "udpEncapsulation": null } ] }
 * ```
 */
import * as z from 'zod';
import {
  encryptionInfo,
  ENCRYPTION_NAMES,
  integrityInfo,
  INTEGRITY_NAMES,
  type EncryptionName,
  type IntegrityName,
} from '../crypto/names.ts';
import type { SaDescription } from '../transport/sa-entry.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import type { HostSpec, SystemSa } from './system.ts';

/** One SA in one direction, as keys.json carries it. */
export interface KeyEntry {
  /** The bundle's name (SaConfig.name); both entries of an AH+ESP bundle share it. */
  readonly name: string;
  /** `"<from>-><to>"` by host name, e.g. `"a->b"`. */
  readonly direction: string;
  /** `"0x"` and 8 lower-case hex digits, e.g. `"0x00001001"`. */
  readonly spi: string;
  readonly protocol: 'esp' | 'ah';
  readonly mode: 'transport' | 'tunnel';
  /** The SA's endpoints (tunnel endpoints in tunnel mode) as text: `192.0.2.1`, `2001:db8::1`. */
  readonly src: string;
  readonly dst: string;
  /** ESP: the encryption (or combined-mode) algorithm, `null` encryption included; AH: null. */
  readonly encryption: EncryptionName | null;
  /** The integrity algorithm; null for combined modes (AES-GCM, ChaCha20-Poly1305). */
  readonly integrity: IntegrityName | null;
  /** Lower-case hex; GCM/ChaCha20 keys with the 4-byte salt appended (D5); null for AH. */
  readonly encryptionKey: string | null;
  /** Lower-case hex; GMAC keys with the 4-byte salt appended (D5); null for combined modes. */
  readonly integrityKey: string | null;
  /** ICV bytes on the wire (GCM: 8, 12 or 16; else the integrity algorithm's). */
  readonly icvLength: number;
  /** Extended sequence numbers (RFC 4303 §2.2.1). */
  readonly esn: boolean;
  /** UDP encapsulation of ESP (RFC 3948), or null. */
  readonly udpEncapsulation: { readonly srcPort: number; readonly dstPort: number } | null;
}

/** The whole keys.json. */
export interface KeysFile {
  readonly sas: readonly KeyEntry[];
}

/** The result of {@link parseKeys}: the file, or the JSON path of the first bad field. */
export type ParseKeysResult =
  | { readonly ok: true; readonly value: KeysFile }
  | {
      readonly ok: false;
      readonly path: string;
      readonly expected: string;
      readonly found: string;
    };

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('hex');
}

/** An IP address as text: IPv4 dotted quad or IPv6 (RFC 5952 form, as ipv6.formatAddress). */
function formatIp(address: Uint8Array): string {
  return address.length === 4 ? ipv4.formatAddress(address) : ipv6.formatAddress(address);
}

/** `"0x"` + 8 lower-case hex digits. */
export function formatSpi(spi: number): string {
  return `0x${(spi >>> 0).toString(16).padStart(8, '0')}`;
}

/**
 * The keys.json entries of `sas` (in order; an AH+ESP bundle gives its ESP entry, then its AH
 * entry). The `to` host of a direction is the host of `hosts` that is not `from`.
 */
export function keyEntries(sas: readonly SystemSa[], hosts: readonly HostSpec[]): KeyEntry[] {
  const out: KeyEntry[] = [];
  for (const sa of sas) {
    const to = hosts.find((h) => h.name !== sa.from);
    if (!hosts.some((h) => h.name === sa.from) || to === undefined) {
      throw new RangeError(
        `keyEntries: expected SA ${JSON.stringify(sa.name)} to be sent by one of the hosts (${hosts
          .map((h) => h.name)
          .join(', ')}), got from ${JSON.stringify(sa.from)}`
      );
    }
    const common = {
      name: sa.name,
      direction: `${sa.from}->${to.name}`,
      mode: sa.mode,
      src: formatIp(sa.source),
      dst: formatIp(sa.destination),
      esn: sa.esn,
      udpEncapsulation:
        sa.udpEncapsulation === null
          ? null
          : { srcPort: sa.udpEncapsulation.srcPort, dstPort: sa.udpEncapsulation.dstPort },
    };
    if (sa.protocol !== 'ah') {
      const esp = sa.esp;
      if (esp === undefined) {
        throw new TypeError(`keyEntries: expected an esp part for ${sa.protocol} SA ${sa.name}`);
      }
      const enc = encryptionInfo(esp.encryption);
      const icvLength = enc.combined
        ? (esp.icvLength ?? enc.icvLength)
        : esp.integrity === null
          ? 0
          : integrityInfo(esp.integrity).icvLength;
      out.push({
        ...common,
        spi: formatSpi(esp.spi),
        protocol: 'esp',
        encryption: esp.encryption,
        integrity: esp.integrity,
        encryptionKey: hex(esp.encryptionKey),
        integrityKey: esp.integrityKey === undefined ? null : hex(esp.integrityKey),
        icvLength,
      });
    }
    if (sa.protocol !== 'esp') {
      const ah = sa.ah;
      if (ah === undefined) {
        throw new TypeError(`keyEntries: expected an ah part for ${sa.protocol} SA ${sa.name}`);
      }
      out.push({
        ...common,
        spi: formatSpi(ah.spi),
        protocol: 'ah',
        encryption: null,
        integrity: ah.integrity,
        encryptionKey: null,
        integrityKey: hex(ah.integrityKey),
        icvLength: integrityInfo(ah.integrity).icvLength,
        // RFC 3948 encapsulates ESP only; an AH SA is never UDP-encapsulated.
        udpEncapsulation: null,
      });
    }
  }
  return out;
}

// --- parsing -------------------------------------------------------------------------------

const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const SPI = /^0x[0-9a-fA-F]{1,8}$/;

function isAddress(text: string): boolean {
  try {
    if (text.includes(':')) ipv6.parseAddress(text);
    else ipv4.parseAddress(text);
    return true;
  } catch {
    return false;
  }
}

const port = z.number({ error: 'a port number 0..65535' }).int().min(0).max(65535);

const entrySchema = z
  .object({
    name: z.string({ error: 'a string' }),
    direction: z
      .string({ error: 'a string like "a->b"' })
      .regex(/^[^>]+->[^>]+$/, { error: 'a string like "a->b"' }),
    spi: z
      .string({ error: 'a hex string like "0x00001001"' })
      .regex(SPI, { error: 'a hex string like "0x00001001"' }),
    protocol: z.enum(['esp', 'ah'], { error: '"esp" or "ah"' }),
    mode: z.enum(['transport', 'tunnel'], { error: '"transport" or "tunnel"' }),
    src: z
      .string({ error: 'an IPv4 or IPv6 address' })
      .refine(isAddress, { error: 'an IPv4 or IPv6 address' }),
    dst: z
      .string({ error: 'an IPv4 or IPv6 address' })
      .refine(isAddress, { error: 'an IPv4 or IPv6 address' }),
    encryption: z
      .enum(ENCRYPTION_NAMES, { error: `null or one of ${ENCRYPTION_NAMES.join(', ')}` })
      .nullable(),
    integrity: z
      .enum(INTEGRITY_NAMES, { error: `null or one of ${INTEGRITY_NAMES.join(', ')}` })
      .nullable(),
    encryptionKey: z
      .string({ error: 'null or a hex string' })
      .regex(HEX, { error: 'null or a hex string' })
      .nullable(),
    integrityKey: z
      .string({ error: 'null or a hex string' })
      .regex(HEX, { error: 'null or a hex string' })
      .nullable(),
    icvLength: z.number({ error: 'an ICV length in bytes' }).int().min(0).max(64),
    esn: z.boolean({ error: 'true or false' }),
    udpEncapsulation: z
      .object(
        { srcPort: port, dstPort: port },
        { error: 'null or an object { "srcPort", "dstPort" }' }
      )
      .nullable(),
  })
  .superRefine((e, ctx) => {
    const bad = (field: string, expected: string): void => {
      ctx.addIssue({ code: 'custom', path: [field], message: expected });
    };
    if (e.src.includes(':') !== e.dst.includes(':')) {
      bad('dst', `an address of the IP version of src (${e.src})`);
    }
    const keyBytes = (k: string | null): number => (k === null ? 0 : k.length / 2);
    if (e.protocol === 'ah') {
      if (e.encryption !== null) bad('encryption', 'null (AH has no encryption)');
      if (e.encryptionKey !== null) bad('encryptionKey', 'null (AH has no encryption)');
      if (e.integrity === null) bad('integrity', 'an integrity algorithm (AH needs one)');
      if (e.udpEncapsulation !== null) bad('udpEncapsulation', 'null (RFC 3948 is for ESP only)');
    } else if (e.encryption === null) {
      bad('encryption', 'an encryption algorithm ("null" for integrity-only ESP)');
    } else {
      const enc = encryptionInfo(e.encryption);
      if (enc.combined && e.integrity !== null) {
        bad('integrity', `null (${e.encryption} is a combined mode)`);
      }
      if (keyBytes(e.encryptionKey) !== enc.keyLength) {
        bad('encryptionKey', `${enc.keyLength} bytes of hex for ${e.encryption}`);
      }
      if (enc.combined && !enc.icvLengths.includes(e.icvLength)) {
        bad('icvLength', `one of ${enc.icvLengths.join(', ')} for ${e.encryption}`);
      }
    }
    if (e.integrity !== null) {
      const auth = integrityInfo(e.integrity);
      if (keyBytes(e.integrityKey) !== auth.keyLength) {
        bad('integrityKey', `${auth.keyLength} bytes of hex for ${e.integrity}`);
      }
      if (e.icvLength !== auth.icvLength) {
        bad('icvLength', `${auth.icvLength} for ${e.integrity}`);
      }
    } else if (e.integrityKey !== null) {
      bad('integrityKey', 'null (no integrity algorithm)');
    }
  });

const fileSchema = z.object(
  { sas: z.array(entrySchema, { error: 'an array of SA entries' }) },
  { error: 'an object { "sas": [...] }' }
);

/** `sas[2].spi` from `['sas', 2, 'spi']`; `(root)` for the empty path. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(root)' : out;
}

function valueAt(json: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = json;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

function describeFound(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'an array';
  if (v !== null && typeof v === 'object') return 'an object';
  const text = JSON.stringify(v);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/**
 * Validates a parsed keys.json (zod 4): the file, or the JSON path of the first bad field
 * (`sas[2].spi`), what it should be and what it is. Checks types, names (contract D17), hex,
 * addresses, key lengths against the algorithm table (D5) and ICV lengths.
 */
export function parseKeys(json: unknown): ParseKeysResult {
  const result = fileSchema.safeParse(json);
  if (result.success) return { ok: true, value: result.data };
  const issue = result.error.issues[0];
  return {
    ok: false,
    path: formatPath(issue.path),
    expected: issue.message,
    found: describeFound(valueAt(json, issue.path)),
  };
}

// --- to the transport's SA descriptions ------------------------------------------------------

function bytesOf(text: string | null): Uint8Array | undefined {
  return text === null ? undefined : Uint8Array.from(Buffer.from(text, 'hex'));
}

/**
 * The SaDescription (transport/sa-entry.ts) of one keys.json entry, for `Keyring.add`. keys.json
 * does not carry the ESN high half: `seqHigh` (default 0) is the one the observer starts from
 * (the Keyring also tries the next one, RFC 4303 Appendix A2 in short).
 */
export function toSaDescription(entry: KeyEntry, seqHigh = 0): SaDescription {
  const encryptionKey = bytesOf(entry.encryptionKey);
  const integrityKey = bytesOf(entry.integrityKey);
  return {
    protocol: entry.protocol,
    spi: Number.parseInt(entry.spi.slice(2), 16) >>> 0,
    ...(entry.protocol === 'esp' && entry.encryption !== null
      ? { encryption: entry.encryption }
      : {}),
    integrity: entry.integrity,
    ...(encryptionKey === undefined ? {} : { encryptionKey }),
    ...(integrityKey === undefined ? {} : { integrityKey }),
    ...(entry.protocol === 'esp' &&
    entry.encryption !== null &&
    encryptionInfo(entry.encryption).combined
      ? { icvLength: entry.icvLength }
      : {}),
    esn: entry.esn,
    ...(entry.esn ? { seqHigh } : {}),
  };
}

/** The SaDescriptions of one entry or of a whole file's entries, in order, for `Keyring.add`. */
export function toSaDescriptions(
  entries: KeyEntry | readonly KeyEntry[],
  seqHigh = 0
): SaDescription[] {
  const list: readonly KeyEntry[] = Array.isArray(entries) ? entries : [entries as KeyEntry];
  return list.map((e) => toSaDescription(e, seqHigh));
}
