/**
 * @module
 * The NIC's SA table ("Managing Security Associations in IPsec Offload Version 2"): one entry per
 * ADD_SA / ADD_SA_EX entry, i.e. one direction of one SA bundle (contract D12), holding one or two
 * keyed SAs in processing order. Handles are non-zero and never reused (D8: a deleted handle must
 * keep failing). Lookups are O(1) and allocate nothing: by handle (a bigint, or the two u32 halves
 * an NBL info slot holds: `getByHalves`), and by SPI + destination + protocol for the receive path
 * (RFC 4301 §4.1 SAD lookup), where a Map keyed by the SPI's low 30 bits (a small integer) holds
 * the chain of the few candidates, compared on SPI, protocol and destination bytes.
 *
 * Issue 6 (scale): an SA keeps a copy of its key bytes and creates its crypto context (the
 * EspTransform / AuthTransform) on first use, so a million idle SAs cost only their bookkeeping;
 * `SaTable.contexts` counts the contexts that exist, separately from `size`. The bookkeeping is
 * compact (sa-store.ts): handles are numbers below 2^53 indexed in arrays, key bytes live in a
 * shared slab, endpoints are views into shared chunks — about 400 bytes per idle ESP bundle.
 */
import { createAuthOnEngine } from '../crypto/native-auth.ts';
import { createEspOnEngine } from '../crypto/native-esp.ts';
import type { AuthTransform, EspTransform, Random } from '../crypto/transform.ts';
import type { EncryptionName, IntegrityName } from '../crypto/names.ts';
import { AddressPool, HandleIndex, KeySlab, MAX_HANDLE, sameBytes } from './sa-store.ts';
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

/** KeyedSa shape bits: operation 'esp', ESN; the ICV length above them. */
const SHAPE_ESP = 1;
const SHAPE_ESN = 2;
const SHAPE_ICV_SHIFT = 2;

/**
 * An SA element that holds a copy of its key bytes (encryption ‖ integrity, in the table's
 * KeySlab) and creates its transform on first use. The key copy is zeroed and freed once the
 * transform has its own copy, and by `destroy` (SA deletion) otherwise; `destroy` also destroys a
 * transform that exists. The keying must have passed validate.ts, which checks everything
 * createEsp / createAuth check (names, combinations, key and ICV lengths), so creating the
 * transform later cannot throw.
 *
 * Issue 6 (scale): the element is its own `counters` record, and operation, ESN and ICV length
 * share one small integer, so an idle SA is one object of about a dozen fields.
 */
export class KeyedSa implements SaElement, SaCounters {
  readonly spi: number;
  seqHigh: number;
  readonly encryption: EncryptionName | null;
  readonly integrity: IntegrityName | null;
  /** SaCounters: packets processed on this SA. */
  packets = 0;
  /** SaCounters: bytes processed on this SA. */
  bytes = 0;
  /** SHAPE_ESP | SHAPE_ESN | icvLength << SHAPE_ICV_SHIFT. */
  readonly #shape: number;
  readonly #table: SaTable;
  readonly #random: Random;
  /** Address of the key bytes in the table's KeySlab; -1 once freed. */
  #keyAt: number;
  /** Encryption key length | total key length << 16. */
  readonly #keyLengths: number;
  /** The transform (EspTransform for 'esp', AuthTransform for 'ah') once created. */
  #transform: EspTransform | AuthTransform | null = null;

  /** `random`: where the transform's CBC IVs come from (contract D6). */
  constructor(keying: ElementPlan, table: SaTable, random: Random) {
    const e = keying.encryptionKey;
    const a = keying.integrityKey;
    const total = e.length + a.length;
    if (total > 0xffff || keying.icvLength > 0xff) {
      throw new RangeError(
        `KeyedSa: expected at most 65535 key bytes and a 255-byte ICV, got ${total} and ${keying.icvLength}`
      );
    }
    this.spi = keying.spi >>> 0;
    this.seqHigh = keying.seqHigh;
    this.encryption = keying.encryption;
    this.integrity = keying.integrity;
    this.#shape =
      (keying.operation === 'esp' ? SHAPE_ESP : 0) |
      (keying.esn ? SHAPE_ESN : 0) |
      (keying.icvLength << SHAPE_ICV_SHIFT);
    this.#table = table;
    this.#random = random;
    this.#keyLengths = e.length | (total << 16);
    this.#keyAt = table.keys.store(e, a);
  }

  get operation(): Operation {
    return (this.#shape & SHAPE_ESP) !== 0 ? 'esp' : 'ah';
  }

  get esn(): boolean {
    return (this.#shape & SHAPE_ESN) !== 0;
  }

  /** The element's own packet and byte counts (it is its own SaCounters record). */
  get counters(): SaCounters {
    return this;
  }

  get esp(): EspTransform | null {
    if ((this.#shape & SHAPE_ESP) === 0) return null;
    const t = this.#transform as EspTransform | null;
    return t !== null ? t : this.#keyEsp();
  }

  get auth(): AuthTransform | null {
    if ((this.#shape & SHAPE_ESP) !== 0) return null;
    const t = this.#transform as AuthTransform | null;
    return t !== null ? t : this.#keyAuth();
  }

  /** True once this SA's transform (its crypto context) exists. */
  get keyed(): boolean {
    return this.#transform !== null;
  }

  /** Zeroes the key copy and destroys the transform, if any (SA deletion; idempotent). */
  destroy(): void {
    this.#dropKey();
    const t = this.#transform;
    if (t === null) return;
    this.#transform = null;
    this.#table.noteContext(-1);
    t.destroy();
  }

  /** A transient copy of the key bytes for createEsp/createAuth (which copy them); zeroed after. */
  #liveKey(): Uint8Array {
    if (this.#keyAt < 0) {
      throw new TypeError(`SaElement: expected a live SA, got one ended by destroy()`);
    }
    return this.#table.keys.read(this.#keyAt, this.#keyLengths >>> 16);
  }

  #dropKey(): void {
    if (this.#keyAt < 0) return;
    this.#table.keys.free(this.#keyAt, this.#keyLengths >>> 16);
    this.#keyAt = -1;
  }

  #keyEsp(): EspTransform {
    const key = this.#liveKey();
    const split = this.#keyLengths & 0xffff;
    if (this.encryption === null)
      throw new TypeError('SaElement: expected an ESP SA with a cipher');
    const t = createEspOnEngine({
      encryption: this.encryption,
      integrity: this.integrity,
      encryptionKey: key.subarray(0, split),
      ...(this.integrity === null ? {} : { integrityKey: key.subarray(split) }),
      icvLength: this.#shape >>> SHAPE_ICV_SHIFT,
      esn: this.esn,
      random: this.#random,
    });
    key.fill(0);
    this.#transform = t;
    this.#dropKey(); // the transform holds its own copy
    this.#table.noteContext(1);
    return t;
  }

  #keyAuth(): AuthTransform {
    const key = this.#liveKey();
    if (this.integrity === null) throw new TypeError('SaElement: expected an AH SA with integrity');
    const t = createAuthOnEngine({ integrity: this.integrity, key, esn: this.esn });
    key.fill(0);
    this.#transform = t;
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

/** The endpoints and flags of a bundle to create (the decoded ADD_SA / ADD_SA_EX entry's). */
export interface BundleInit {
  readonly inbound: boolean;
  readonly ipv6: boolean;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly udpEspEncapsulation: number;
}

/**
 * A bundle created by {@link SaTable.create}: its handle kept as a number (exact: handles stay
 * below 2^53), its endpoints as shared read-only views (AddressPool).
 */
class TableBundle implements SaBundle {
  /** The handle as a number; `handle` gives it as the bigint of the interface. */
  readonly id: number;
  readonly inbound: boolean;
  readonly ipv6: boolean;
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly udpEspEncapsulation: number;
  readonly elements: readonly SaElement[];
  inFlight = 0;

  constructor(id: number, init: BundleInit, elements: readonly SaElement[], pool: AddressPool) {
    this.id = id;
    this.inbound = init.inbound;
    this.ipv6 = init.ipv6;
    this.source = pool.copy(init.source);
    this.destination = pool.copy(init.destination);
    this.udpEspEncapsulation = init.udpEspEncapsulation;
    this.elements = elements;
  }

  get handle(): bigint {
    return BigInt(this.id);
  }
}

/** Receive-lookup slot of an SPI: its low 30 bits, always a small integer (no allocation). */
function slotOf(spi: number): number {
  return spi & 0x3fff_ffff;
}

/** One inbound SA in the receive index: the chain of SAs whose SPIs share a slot. */
class InboundRef implements SaElementRef {
  readonly bundle: SaBundle;
  readonly element: SaElement;
  next: InboundRef | null;

  constructor(bundle: SaBundle, element: SaElement, next: InboundRef | null) {
    this.bundle = bundle;
    this.element = element;
    this.next = next;
  }
}

/** MAX_HANDLE as a bigint. */
const MAX_HANDLE_BIG = BigInt(MAX_HANDLE);

/** The number a bundle's bigint handle stands for, or -1 if no handle can be that value. */
function handleNumber(handle: bigint): number {
  return handle >= 1n && handle <= MAX_HANDLE_BIG ? Number(handle) : -1;
}

/** The SA table of one miniport. */
export class SaTable {
  /** SaOffloadCapacity: how many bundles fit (contract D12). */
  readonly capacity: number;
  /** KeyedSa bookkeeping: the key bytes of SAs without a crypto context yet. */
  readonly keys: KeySlab = new KeySlab();
  readonly #byHandle = new HandleIndex<SaBundle>();
  /** Inbound SAs by `slotOf(spi)`: the chain of candidates sharing those 30 bits. */
  readonly #inbound = new Map<number, InboundRef>();
  readonly #addresses = new AddressPool();
  #lastHandle: number;
  #contexts = 0;

  /** `lastHandle`: the handle issued before the first one (default 0; tests start higher). */
  constructor(capacity: number, lastHandle = 0) {
    if (!Number.isSafeInteger(lastHandle) || lastHandle < 0) {
      throw new RangeError(
        `SaTable: expected lastHandle a safe integer ≥ 0, got ${String(lastHandle)}`
      );
    }
    this.capacity = capacity;
    this.#lastHandle = lastHandle;
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
    return BigInt(this.#issue());
  }

  /**
   * A bundle with the next handle, not yet inserted: `elements` as given, the endpoints copied
   * (as read-only views shared with equal addresses of other bundles).
   */
  create(init: BundleInit, elements: readonly SaElement[]): SaBundle {
    return new TableBundle(this.#issue(), init, elements, this.#addresses);
  }

  #issue(): number {
    if (this.#lastHandle >= MAX_HANDLE) {
      throw new RangeError(`SaTable.nextHandle: expected a handle below 2^53, got none left`);
    }
    this.#lastHandle += 1;
    return this.#lastHandle;
  }

  /**
   * Inserts a bundle created with `nextHandle()` or `create`. Throws if the table is full or the
   * handle is taken or was never issued.
   */
  insert(bundle: SaBundle): void {
    if (this.full) throw new RangeError(`SaTable.insert: table full (capacity ${this.capacity})`);
    const h = bundle instanceof TableBundle ? bundle.id : handleNumber(bundle.handle);
    if (h < 1 || h > this.#lastHandle) {
      throw new RangeError(
        `SaTable.insert: expected a handle from nextHandle(), got ${bundle.handle}`
      );
    }
    if (this.#byHandle.get(h) !== undefined) {
      throw new RangeError(`SaTable.insert: handle ${bundle.handle} already in use`);
    }
    const elements = bundle.elements;
    if (bundle.inbound) {
      for (let i = 0; i < elements.length; i++) {
        const element = elements[i];
        if (this.findInbound(element.spi, element.operation, bundle.destination)) {
          throw new RangeError(
            `SaTable.insert: expected a free inbound ${element.operation} SPI ${element.spi >>> 0}, got one in use`
          );
        }
      }
    }
    this.#byHandle.set(h, bundle);
    if (bundle.inbound) {
      for (let i = 0; i < elements.length; i++) {
        const slot = slotOf(elements[i].spi);
        const head = this.#inbound.get(slot) ?? null;
        this.#inbound.set(slot, new InboundRef(bundle, elements[i], head));
      }
    }
  }

  /** The bundle with this handle, or undefined (never a deleted one). */
  get(handle: bigint): SaBundle | undefined {
    return this.#byHandle.get(handleNumber(handle));
  }

  /**
   * The bundle whose handle is `high · 2^32 + low`, the two u32 halves of an NBL info slot
   * (NblInfo.getU32 / getHighU32), or undefined: the same bundle as
   * `get(BigInt(high) << 32n | BigInt(low))`, without allocating (for the send path).
   */
  getByHalves(low: number, high: number): SaBundle | undefined {
    // Handles stay below 2^53: a high half above 2^21 - 1 names none (nor does a non-u32 half).
    if (low >>> 0 !== low || high >>> 0 !== high || high > 0x1f_ffff) return undefined;
    return this.#byHandle.get(high * 0x1_0000_0000 + low);
  }

  /** Removes a bundle and destroys its transforms (keys zeroed). Returns false if unknown. */
  delete(handle: bigint): boolean {
    const h = handleNumber(handle);
    const bundle = this.#byHandle.get(h);
    if (!bundle) return false;
    this.#byHandle.delete(h, this.#lastHandle);
    if (bundle.inbound) {
      for (const element of bundle.elements) this.#unlinkInbound(bundle, element);
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

  /** Removes this bundle's own entry for `element` (another inbound bundle may hold the same key). */
  #unlinkInbound(bundle: SaBundle, element: SaElement): void {
    const slot = slotOf(element.spi);
    let previous: InboundRef | null = null;
    for (let r = this.#inbound.get(slot) ?? null; r !== null; previous = r, r = r.next) {
      if (r.bundle !== bundle || r.element !== element) continue;
      if (previous !== null) previous.next = r.next;
      else if (r.next !== null) this.#inbound.set(slot, r.next);
      else this.#inbound.delete(slot);
      return;
    }
  }

  /**
   * The inbound SA for a received header: SPI + protocol + destination (RFC 4301 §4.1), the
   * destination compared byte for byte (an all-zero wildcard matches only an all-zero argument:
   * the receive path asks for the exact address first, then for the wildcard). No allocation.
   */
  findInbound(spi: number, protocol: Operation, destination: Uint8Array): SaElementRef | undefined {
    const u = spi >>> 0;
    for (let r = this.#inbound.get(slotOf(u)) ?? null; r !== null; r = r.next) {
      const e = r.element;
      if (e.spi === u && e.operation === protocol && sameBytes(r.bundle.destination, destination))
        return r;
    }
    return undefined;
  }

  /** Every bundle, in handle order (the order they were inserted: handles are issued in order). */
  bundles(): IterableIterator<SaBundle> {
    return this.#byHandle.values();
  }
}

/** An SA element together with the bundle it belongs to. */
export interface SaElementRef {
  readonly bundle: SaBundle;
  readonly element: SaElement;
}
