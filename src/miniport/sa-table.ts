/**
 * @module
 * The NIC's SA table ("Managing Security Associations in IPsec Offload Version 2"): one entry per
 * ADD_SA / ADD_SA_EX entry, i.e. one direction of one SA bundle (contract D12), holding one or two
 * keyed SAs in processing order. Handles are non-zero and never reused (D8: a deleted handle must
 * keep failing). Lookups are O(1) by handle, and by SPI + destination + protocol for the receive
 * path (RFC 4301 §4.1 SAD lookup) without allocating: a Map keyed by the SPI's low 30 bits (a small
 * integer) holds the few candidates, compared on SPI, protocol and destination bytes.
 *
 * Issue 6 (scale): an SA keeps a copy of its key bytes and creates its crypto context (the
 * EspTransform / AuthTransform) on first use, so a million idle SAs cost only their bookkeeping;
 * `SaTable.contexts` counts the contexts that exist, separately from `size`.
 */
import { createAuth } from '../crypto/ah.ts';
import { createEspOnEngine } from '../crypto/native-esp.ts';
import type { AuthTransform, EspTransform, Random } from '../crypto/transform.ts';
import type { EncryptionName, IntegrityName } from '../crypto/names.ts';
import type { ElementPlan } from './validate.ts';

/** Which SA of a bundle: IPsecOffloadV2Ah or IPsecOffloadV2Esp. */
export type Operation = 'ah' | 'esp';

/** Per-SA traffic counters. */
export interface SaCounters {
  packets: number;
  bytes: number;
}

/** One IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION of a bundle, keyed. */
export interface SaElement {
  readonly operation: Operation;
  /** The SPI as a number (the wire's big-endian value). */
  readonly spi: number;
  readonly esn: boolean;
  /** SequenceNumberHighOrder: set at ADD_SA, advanced by UPDATE_SA (contract D3). */
  seqHigh: number;
  readonly encryption: EncryptionName | null;
  readonly integrity: IntegrityName | null;
  /**
   * The ESP transform (operation 'esp'), else null. Created on first read (issue 6: crypto
   * contexts are lazy); reading it on an SA deleted before it was ever keyed throws a TypeError.
   */
  readonly esp: EspTransform | null;
  /** The AH transform (operation 'ah'), else null; created on first read like `esp`. */
  readonly auth: AuthTransform | null;
  readonly counters: SaCounters;
}

/**
 * An SA element that holds a copy of its key bytes (encryption ‖ integrity) and creates its
 * transform on first use. The key copy is zeroed and dropped once the transform has its own copy,
 * and by `destroy` (SA deletion) otherwise; `destroy` also destroys a transform that exists.
 * The keying must have passed validate.ts, which checks everything createEsp / createAuth check
 * (names, combinations, key and ICV lengths), so creating the transform later cannot throw.
 */
export class KeyedSa implements SaElement {
  readonly operation: Operation;
  readonly spi: number;
  readonly esn: boolean;
  seqHigh: number;
  readonly encryption: EncryptionName | null;
  readonly integrity: IntegrityName | null;
  readonly counters: SaCounters = { packets: 0, bytes: 0 };
  readonly #icvLength: number;
  readonly #encryptionKeyLength: number;
  readonly #table: SaTable;
  readonly #random: Random;
  /** The key bytes (encryption ‖ integrity) as 16-bit words: ~60 bytes instead of a ~220-byte Uint8Array. */
  #key: number[] | null;
  readonly #keyLength: number;
  #esp: EspTransform | null = null;
  #auth: AuthTransform | null = null;

  /** `random`: where the transform's CBC IVs come from (contract D6). */
  constructor(keying: ElementPlan, table: SaTable, random: Random) {
    this.operation = keying.operation;
    this.spi = keying.spi >>> 0;
    this.esn = keying.esn;
    this.seqHigh = keying.seqHigh;
    this.encryption = keying.encryption;
    this.integrity = keying.integrity;
    this.#icvLength = keying.icvLength;
    this.#table = table;
    this.#random = random;
    const e = keying.encryptionKey;
    const a = keying.integrityKey;
    this.#encryptionKeyLength = e.length;
    const n = e.length + a.length;
    this.#keyLength = n;
    const key = new Array<number>((n + 1) >> 1).fill(0);
    for (let i = 0; i < n; i++)
      key[i >> 1] |= (i < e.length ? e[i] : a[i - e.length]) << ((i & 1) * 8);
    this.#key = key;
  }

  get esp(): EspTransform | null {
    const t = this.#esp;
    if (t !== null || this.operation !== 'esp') return t;
    return this.#keyEsp();
  }

  get auth(): AuthTransform | null {
    const t = this.#auth;
    if (t !== null || this.operation !== 'ah') return t;
    return this.#keyAuth();
  }

  /** True once this SA's transform (its crypto context) exists. */
  get keyed(): boolean {
    return this.#esp !== null || this.#auth !== null;
  }

  /** Zeroes the key copy and destroys the transform, if any (SA deletion; idempotent). */
  destroy(): void {
    this.#dropKey();
    if (this.#esp !== null || this.#auth !== null) this.#table.noteContext(-1);
    this.#esp?.destroy();
    this.#auth?.destroy();
    this.#esp = null;
    this.#auth = null;
  }

  /** A transient copy of the key bytes for createEsp/createAuth (which copy them); zeroed after. */
  #liveKey(): Uint8Array {
    const key = this.#key;
    if (key === null) {
      throw new TypeError(`SaElement: expected a live SA, got one ended by destroy()`);
    }
    const out = new Uint8Array(this.#keyLength);
    for (let i = 0; i < out.length; i++) out[i] = (key[i >> 1] >> ((i & 1) * 8)) & 0xff;
    return out;
  }

  #dropKey(): void {
    this.#key?.fill(0);
    this.#key = null;
  }

  #keyEsp(): EspTransform {
    const key = this.#liveKey();
    const split = this.#encryptionKeyLength;
    if (this.encryption === null)
      throw new TypeError('SaElement: expected an ESP SA with a cipher');
    const t = createEspOnEngine({
      encryption: this.encryption,
      integrity: this.integrity,
      encryptionKey: key.subarray(0, split),
      ...(this.integrity === null ? {} : { integrityKey: key.subarray(split) }),
      icvLength: this.#icvLength,
      esn: this.esn,
      random: this.#random,
    });
    key.fill(0);
    this.#esp = t;
    this.#dropKey(); // the transform holds its own copy
    this.#table.noteContext(1);
    return t;
  }

  #keyAuth(): AuthTransform {
    const key = this.#liveKey();
    if (this.integrity === null) throw new TypeError('SaElement: expected an AH SA with integrity');
    const t = createAuth({ integrity: this.integrity, key, esn: this.esn });
    key.fill(0);
    this.#auth = t;
    this.#dropKey();
    this.#table.noteContext(1);
    return t;
  }
}

/** One entry of the SA table: one direction of one SA bundle. */
export interface SaBundle {
  /** The OffloadHandle given back to the transport: non-zero, never reused. */
  readonly handle: bigint;
  readonly inbound: boolean;
  readonly ipv6: boolean;
  /** Endpoints as on the wire (4 or 16 bytes); all zero = wildcard. */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** The IPSEC_OFFLOAD_V2_*UDP_ESP_ENCAPSULATION* value of the entry. */
  readonly udpEspEncapsulation: number;
  /** The SAs in processing order (ADD_SA SecAssoc order). */
  readonly elements: readonly SaElement[];
  /**
   * NBLs of this bundle the data path has accepted and not yet completed (D16).
   * Model: the send path runs each NBL to completion synchronously and looks its bundles up once,
   * so a DELETE_SA between two NBLs never splits one NBL between old keys and none (P27).
   */
  inFlight: number;
}

/** Receive-lookup slot of an SPI: its low 30 bits, always a small integer (no allocation). */
function slotOf(spi: number): number {
  return spi & 0x3fff_ffff;
}

/** Byte-wise equality of two addresses (lengths included). */
function sameAddress(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The candidate in `list` for SPI + protocol + destination, or its index -1. */
function indexIn(
  list: readonly SaElementRef[],
  spi: number,
  protocol: Operation,
  destination: Uint8Array
): number {
  for (let i = 0; i < list.length; i++) {
    const r = list[i];
    if (
      r.element.spi === spi &&
      r.element.operation === protocol &&
      sameAddress(r.bundle.destination, destination)
    ) {
      return i;
    }
  }
  return -1;
}

/** The SA table of one miniport. */
export class SaTable {
  /** SaOffloadCapacity: how many bundles fit (contract D12). */
  readonly capacity: number;
  readonly #byHandle = new Map<bigint, SaBundle>();
  /** Inbound SAs by `slotOf(spi)`: the few candidates sharing those 30 bits. */
  readonly #inbound = new Map<number, SaElementRef[]>();
  #lastHandle = 0n;
  #contexts = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Number of bundles held. */
  get size(): number {
    return this.#byHandle.size;
  }

  /** Number of crypto contexts (transforms) that exist: created lazily on an SA's first use. */
  get contexts(): number {
    return this.#contexts;
  }

  /** KeyedSa bookkeeping: a context was created (+1) or destroyed (-1). */
  noteContext(delta: 1 | -1): void {
    this.#contexts += delta;
  }

  /** True when another bundle would exceed `capacity`. */
  get full(): boolean {
    return this.#byHandle.size >= this.capacity;
  }

  /** The next handle: never 0, never a handle given out before (D8). */
  nextHandle(): bigint {
    this.#lastHandle += 1n;
    return this.#lastHandle;
  }

  /** Inserts a bundle created with `nextHandle()`. Throws if the table is full or the handle is taken. */
  insert(bundle: SaBundle): void {
    if (this.full) throw new RangeError(`SaTable.insert: table full (capacity ${this.capacity})`);
    if (this.#byHandle.has(bundle.handle)) {
      throw new RangeError(`SaTable.insert: handle ${bundle.handle} already in use`);
    }
    if (bundle.inbound) {
      for (const element of bundle.elements) {
        if (this.findInbound(element.spi, element.operation, bundle.destination)) {
          throw new RangeError(
            `SaTable.insert: expected a free inbound ${element.operation} SPI ${element.spi >>> 0}, got one in use`
          );
        }
      }
    }
    this.#byHandle.set(bundle.handle, bundle);
    if (bundle.inbound) {
      for (const element of bundle.elements) {
        const slot = slotOf(element.spi);
        const list = this.#inbound.get(slot);
        const ref: SaElementRef = { bundle, element };
        if (list === undefined) this.#inbound.set(slot, [ref]);
        else list.push(ref);
      }
    }
  }

  /** The bundle with this handle, or undefined (never a deleted one). */
  get(handle: bigint): SaBundle | undefined {
    return this.#byHandle.get(handle);
  }

  /** Removes a bundle and destroys its transforms (keys zeroed). Returns false if unknown. */
  delete(handle: bigint): boolean {
    const bundle = this.#byHandle.get(handle);
    if (!bundle) return false;
    this.#byHandle.delete(handle);
    if (bundle.inbound) {
      for (const element of bundle.elements) {
        const slot = slotOf(element.spi);
        const list = this.#inbound.get(slot);
        if (list === undefined) continue;
        // Only this bundle's own entry: another inbound bundle may hold the same key.
        const at = list.findIndex((r) => r.bundle === bundle && r.element === element);
        if (at < 0) continue;
        if (list.length === 1) this.#inbound.delete(slot);
        else list.splice(at, 1);
      }
    }
    for (const element of bundle.elements) {
      if (element instanceof KeyedSa) element.destroy();
      else {
        element.esp?.destroy();
        element.auth?.destroy();
      }
    }
    return true;
  }

  /**
   * The inbound SA for a received header: SPI + protocol + destination (RFC 4301 §4.1), the
   * destination compared byte for byte (an all-zero wildcard matches only an all-zero argument:
   * the receive path asks for the exact address first, then for the wildcard). No allocation.
   */
  findInbound(spi: number, protocol: Operation, destination: Uint8Array): SaElementRef | undefined {
    const u = spi >>> 0;
    const list = this.#inbound.get(slotOf(u));
    if (list === undefined) return undefined;
    const at = indexIn(list, u, protocol, destination);
    return at < 0 ? undefined : list[at];
  }

  /** Every bundle, in insertion order. */
  bundles(): IterableIterator<SaBundle> {
    return this.#byHandle.values();
  }
}

/** An SA element together with the bundle it belongs to. */
export interface SaElementRef {
  readonly bundle: SaBundle;
  readonly element: SaElement;
}
