/**
 * @module
 * Which crypto engine runs ESP and AH (issue 6): the native addon (native/, N-API over the
 * OpenSSL that Node ships) when it was built and loads, else node:crypto. The addon is optional:
 * `npm install` tries to build it (scripts/build-native.mjs) and never fails without it; every
 * transform has byte-identical output on both engines (src/crypto/native-esp.test.ts,
 * src/crypto/native-auth.test.ts).
 *
 * `IPSECOV2_ENGINE=js` forces node:crypto; `IPSECOV2_ENGINE=native` asks for the addon (a load
 * failure still falls back, and the reason says so).
 */
import { createCipheriv, createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The addon's functions (native/engine.c). An SA is an opaque external handle. */
export interface NativeAddon {
  /** OpenSSL's version text as seen by the addon's headers. */
  readonly openssl: string;
  createSa(
    mode: number,
    cipherName: string,
    cipherKey: Uint8Array,
    salt: Uint8Array,
    digestName: string,
    macKey: Uint8Array,
    icvLength: number,
    ivLength: number,
    blockSize: number,
    padAlign: number,
    esn: boolean
  ): unknown;
  destroySa(sa: unknown): void;
  seal(
    sa: unknown,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    ivPresent: boolean
  ): void;
  /**
   * `seal`, and before packet i is sealed its checksum job `jobs[4i … 4i + 4)` = [start, end,
   * field, seed] (absolute offsets into `buffer`; field 0xFFFFFFFF: none): the one's complement of
   * seed + the sum of `buffer[start, end)` as big-endian 16-bit words (RFC 1071), written
   * big-endian at `field`, which must lie in [start, end − 2], all inside packet i.
   */
  sealWithChecksums(
    sa: unknown,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    ivPresent: boolean,
    jobs: Uint32Array
  ): void;
  open(
    sa: unknown,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    results: Uint8Array
  ): void;
  /**
   * Keys one AH SA (RFC 4302): mode 0 HMAC (`name` a digest such as 'sha256', `salt` empty),
   * mode 1 AES-GMAC (`name` 'aes-128-gcm' …, `key` the AES key, `salt` its 4 bytes, RFC 4543
   * §5.4). `destroySa` ends it.
   */
  authCreate(
    mode: number,
    name: string,
    key: Uint8Array,
    salt: Uint8Array,
    icvLength: number,
    esn: boolean
  ): unknown;
  /** Writes the ICV of `data` (‖ seqHigh with ESN) into `out`; `iv`: the GMAC IV, else null. */
  authCompute(
    sa: unknown,
    data: Uint8Array,
    seqHigh: number,
    iv: Uint8Array | null,
    out: Uint8Array
  ): void;
  /** Compares in constant time: 0 ok, 1 icv-mismatch, 2 bad-length (`icv` or `iv` length). */
  authVerify(
    sa: unknown,
    data: Uint8Array,
    seqHigh: number,
    iv: Uint8Array | null,
    icv: Uint8Array
  ): number;
  /**
   * `seed` plus the sum of `buffer[start, end)` as big-endian 16-bit words, folded to 16 bits
   * (RFC 1071): the checksum offload engine's sum, for the miniport's TCP/UDP checksums.
   */
  sum16(buffer: Uint8Array, start: number, end: number, seed: number): number;
}

/** The name of an engine, as `ipsecov2 doctor` prints it. */
export type EngineName = 'native' | 'node:crypto';

/** Where the built addon may be: from dist/src/crypto (compiled) or src/crypto (sources). */
const CANDIDATES: readonly string[] = [
  '../../../native/build/Release/engine.node',
  '../../native/build/Release/engine.node',
];

/**
 * The functions a loaded addon must have; an older build without the AH ones or the fused
 * checksum (`sealWithChecksums`) is not used.
 */
const FUNCTIONS: readonly string[] = [
  'createSa',
  'destroySa',
  'seal',
  'sealWithChecksums',
  'open',
  'authCreate',
  'authCompute',
  'authVerify',
  'sum16',
];

interface Loaded {
  readonly addon: NativeAddon | null;
  readonly reason: string;
}

function load(): Loaded {
  const wanted = process.env['IPSECOV2_ENGINE'];
  if (wanted === 'js' || wanted === 'node:crypto') {
    return { addon: null, reason: `IPSECOV2_ENGINE=${wanted} forces the node:crypto engine` };
  }
  const path = CANDIDATES.map((c) => fileURLToPath(new URL(c, import.meta.url))).find((p) =>
    existsSync(p)
  );
  if (path === undefined) {
    return {
      addon: null,
      reason: 'native addon not built (native/build/Release/engine.node missing)',
    };
  }
  try {
    const require = createRequire(import.meta.url);
    const addon = require(path) as NativeAddon;
    const table = addon as unknown as Record<string, unknown>;
    if (FUNCTIONS.some((f) => typeof table[f] !== 'function')) {
      return { addon: null, reason: `native addon at ${path} lacks the expected functions` };
    }
    const failed = selfTest(addon);
    if (failed !== null)
      return { addon: null, reason: `native addon failed its self-test: ${failed}` };
    return { addon, reason: `native addon loaded from ${path} (${addon.openssl})` };
  } catch (e) {
    const message = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return { addon: null, reason: `native addon failed to load: ${message}` };
  }
}

/**
 * Seals one AES-128-GCM packet (ESN, IV = sequence number), once with a checksum job, and computes
 * one ESN HMAC-SHA-256-128 AH ICV with the addon and with node:crypto and compares the bytes: an
 * addon that loads but disagrees is not used. Null when they agree.
 */
function selfTest(addon: NativeAddon): string | null {
  return selfTestEsp(addon) ?? selfTestAuth(addon);
}

function selfTestAuth(addon: NativeAddon): string | null {
  const key = Uint8Array.from({ length: 32 }, (_, i) => i * 13 + 1);
  const data = Uint8Array.from({ length: 77 }, (_, i) => (i * 31 + 5) & 0xff);
  const high = Uint8Array.of(0x89, 0xab, 0xcd, 0xef); // RFC 4302 §2.5.1: appended after the data
  const want = createHmac('sha256', key).update(data).update(high).digest().subarray(0, 16);
  const got = new Uint8Array(16);
  try {
    const sa = addon.authCreate(0, 'sha256', key, new Uint8Array(0), 16, true);
    addon.authCompute(sa, data, 0x89abcdef, null, got);
    addon.destroySa(sa);
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return got.every((b, i) => b === want[i])
    ? null
    : 'AH HMAC-SHA-256-128 output differs from node:crypto';
}

function selfTestEsp(addon: NativeAddon): string | null {
  const key = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  const salt = Uint8Array.of(0xca, 0xfe, 0xba, 0xbe);
  const packet = Uint8Array.from({ length: 8 + 8 + 36 + 16 }, (_, i) => (i * 29 + 3) & 0xff);
  const seqHigh = 0x01020304;
  const iv = Uint8Array.of(1, 2, 3, 4, ...packet.subarray(4, 8));
  const nonce = Uint8Array.of(...salt, ...iv);
  const aad = Uint8Array.of(...packet.subarray(0, 4), 1, 2, 3, 4, ...packet.subarray(4, 8));
  const cipher = createCipheriv('aes-128-gcm', key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad);
  const body = cipher.update(packet.subarray(16, 52));
  cipher.final();
  const want = Uint8Array.of(...packet.subarray(0, 8), ...iv, ...body, ...cipher.getAuthTag());
  try {
    const sa = addon.createSa(
      2,
      'aes-128-gcm',
      key,
      salt,
      '',
      new Uint8Array(0),
      16,
      8,
      1,
      4,
      true
    );
    const one = Uint32Array.of(0);
    const lengths = Uint32Array.of(packet.length);
    const highs = Uint32Array.of(seqHigh);
    // A checksum job over [16, 51) (odd length), field at 20, seed 0x1fffe, against the RFC 1071
    // sum written here and an ordinary seal: the job must run before the packet is encrypted.
    const fused = packet.slice();
    const check = packet.slice();
    let sum = 0x1fffe;
    for (let i = 16; i < 51; i += 2) sum += (check[i] << 8) | (i + 1 < 51 ? check[i + 1] : 0);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    const c = ~sum & 0xffff;
    check[20] = c >>> 8;
    check[21] = c & 0xff;
    addon.seal(sa, packet, one, lengths, highs, 1, false);
    addon.seal(sa, check, one, lengths, highs, 1, false);
    const job = Uint32Array.of(16, 51, 20, 0x1fffe);
    addon.sealWithChecksums(sa, fused, one, lengths, highs, 1, false, job);
    addon.destroySa(sa);
    if (!fused.every((b, i) => b === check[i])) return 'the fused checksum differs from RFC 1071';
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
  return packet.every((b, i) => b === want[i])
    ? null
    : 'AES-128-GCM output differs from node:crypto';
}

let loaded: Loaded | null = null;

function state(): Loaded {
  loaded ??= load();
  return loaded;
}

/** The loaded addon, or null when node:crypto is the engine. */
export function nativeAddon(): NativeAddon | null {
  return state().addon;
}

/** The engine ESP and AH run on: 'native' when the addon loaded, else 'node:crypto'. */
export function activeEngine(): EngineName {
  return state().addon === null ? 'node:crypto' : 'native';
}

/** Why that engine is active, in one line. */
export function engineReason(): string {
  return state().reason;
}
