/**
 * @module
 * The receiving transport's inbound SAs (RFC 4301 §4.4.2, the SAD reduced to what the model
 * needs): for each SaConfig (policy.ts) the software transforms (crypto/esp, crypto/ah — used
 * when the NIC did not process a packet) and one anti-replay window per SA of the bundle
 * (replay.ts; RFC 4303 §3.4.3, RFC 4302 §3.4.3). Lookup by SPI, protocol and destination
 * (RFC 4301 §4.1: unicast SAs are found by SPI, plus the destination where SPIs are not unique;
 * reference §4.2 step 2 does the same on the NIC).
 */
import { createAuth } from '../crypto/ah.ts';
import { createEsp } from '../crypto/esp.ts';
import type { AuthTransform, EspTransform } from '../crypto/transform.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import type { SaConfig } from './policy.ts';
import { DEFAULT_WINDOW_SIZE, ReplayWindow } from './replay.ts';

/** One SA of an inbound bundle (the ESP or the AH part) with its state. */
export interface InboundSa {
  readonly bundle: SaConfig;
  readonly protocol: 'esp' | 'ah';
  readonly spi: number;
  readonly window: ReplayWindow;
  /** ESP: the transform (IV and ICV lengths for stripping offloaded packets). */
  readonly esp: EspTransform | null;
  /** AH: the transform. */
  readonly auth: AuthTransform | null;
  /** IV bytes after the ESP header, or before the AH ICV (AES-GMAC). */
  readonly ivLength: number;
  readonly icvLength: number;
}

function windowOf(config: SaConfig): ReplayWindow {
  // Model: a replayWindow below 1 means the default (RFC 4303 §3.4.3: 64); the window starts
  // below the sender's first number, so a sender starting near 2^32 is estimated right (A2.2).
  const size = config.replayWindow >= 1 ? config.replayWindow : DEFAULT_WINDOW_SIZE;
  const first = config.initialSequence > 0n ? config.initialSequence : 1n;
  return new ReplayWindow({ esn: config.esn, windowSize: size, start: first - 1n });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isWildcard(a: Uint8Array): boolean {
  for (const b of a) if (b !== 0) return false;
  return true;
}

/** The inbound SA database: every SA of every bundle, found by SPI, protocol and destination. */
export class InboundSad {
  readonly #bySpi = new Map<number, InboundSa[]>();
  readonly #byName = new Map<string, SaConfig>();

  /** Builds the transforms and windows; throws (API misuse) on a bad key or algorithm. */
  constructor(configs: readonly SaConfig[]) {
    for (const c of configs) {
      if (this.#byName.has(c.name)) {
        throw new RangeError(`InboundSad: expected unique SA names, got ${c.name} twice`);
      }
      this.#byName.set(c.name, c);
      const e = c.esp;
      if (c.protocol !== 'ah') {
        if (e === undefined) {
          throw new TypeError(`InboundSad ${c.name}: expected an esp part for ${c.protocol}`);
        }
        const esp = createEsp({
          encryption: e.encryption,
          integrity: e.integrity,
          encryptionKey: e.encryptionKey,
          ...(e.integrityKey === undefined ? {} : { integrityKey: e.integrityKey }),
          ...(e.icvLength === undefined ? {} : { icvLength: e.icvLength }),
          esn: c.esn,
        });
        this.#add({
          bundle: c,
          protocol: 'esp',
          spi: e.spi,
          window: windowOf(c),
          esp,
          auth: null,
          ivLength: esp.ivLength,
          icvLength: esp.icvLength,
        });
      }
      const a = c.ah;
      if (c.protocol !== 'esp') {
        if (a === undefined) {
          throw new TypeError(`InboundSad ${c.name}: expected an ah part for ${c.protocol}`);
        }
        const auth = createAuth({ integrity: a.integrity, key: a.integrityKey, esn: c.esn });
        this.#add({
          bundle: c,
          protocol: 'ah',
          spi: a.spi,
          window: windowOf(c),
          esp: null,
          auth,
          ivLength: auth.ivLength,
          icvLength: auth.icvLength,
        });
      }
    }
  }

  #add(sa: InboundSa): void {
    const list = this.#bySpi.get(sa.spi);
    if (list === undefined) this.#bySpi.set(sa.spi, [sa]);
    else list.push(sa);
  }

  /** The bundle named `name`. */
  config(name: string): SaConfig | undefined {
    return this.#byName.get(name);
  }

  /** The SA for an AH (51) or ESP (50) header with `spi` addressed to `destination`. */
  lookup(spi: number, protocol: number, destination: Uint8Array): InboundSa | undefined {
    const list = this.#bySpi.get(spi);
    if (list === undefined) return undefined;
    const want = protocol === IpProtocol.Ah ? 'ah' : 'esp';
    for (const sa of list) {
      if (sa.protocol !== want) continue;
      const d = sa.bundle.destination;
      if (isWildcard(d) || sameBytes(d, destination)) return sa;
    }
    return undefined;
  }

  /** Every SA, for reports. */
  *all(): Generator<InboundSa, void, undefined> {
    for (const list of this.#bySpi.values()) yield* list;
  }
}
