/**
 * @module
 * Which crypto engine runs ESP (issue 6): the batched native addon (native/, N-API over the
 * OpenSSL that Node ships) when it was built and loads, else node:crypto. The addon is optional:
 * `npm install` tries to build it (scripts/build-native.mjs) and never fails without it; every
 * transform has byte-identical output on both engines (src/crypto/native-esp.test.ts).
 *
 * `IPSECOV2_ENGINE=js` forces node:crypto; `IPSECOV2_ENGINE=native` asks for the addon (a load
 * failure still falls back, and the reason says so).
 */
import { createCipheriv } from 'node:crypto';
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
  open(
    sa: unknown,
    buffer: Uint8Array,
    offsets: Uint32Array,
    lengths: Uint32Array,
    seqHigh: Uint32Array,
    count: number,
    results: Uint8Array
  ): void;
}

/** The name of an engine, as `ipsecov2 doctor` prints it. */
export type EngineName = 'native' | 'node:crypto';

/** Where the built addon may be: from dist/src/crypto (compiled) or src/crypto (sources). */
const CANDIDATES: readonly string[] = [
  '../../../native/build/Release/engine.node',
  '../../native/build/Release/engine.node',
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
    if (typeof addon.seal !== 'function' || typeof addon.createSa !== 'function') {
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
 * Seals one AES-128-GCM packet (ESN, IV = sequence number) with the addon and with node:crypto
 * and compares the bytes: an addon that loads but disagrees is not used. Null when they agree.
 */
function selfTest(addon: NativeAddon): string | null {
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
    addon.seal(sa, packet, one, Uint32Array.of(packet.length), Uint32Array.of(seqHigh), 1, false);
    addon.destroySa(sa);
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

/** The engine ESP runs on: 'native' when the addon loaded, else 'node:crypto'. */
export function activeEngine(): EngineName {
  return state().addon === null ? 'node:crypto' : 'native';
}

/** Why that engine is active, in one line. */
export function engineReason(): string {
  return state().reason;
}
