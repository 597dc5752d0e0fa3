/**
 * @module
 * The NIC's SA table ("Managing Security Associations in IPsec Offload Version 2"): one entry per
 * ADD_SA / ADD_SA_EX entry, i.e. one direction of one SA bundle (contract D12), holding one or two
 * keyed transforms in processing order. Handles are non-zero and never reused (D8: a deleted
 * handle must keep failing). Lookups are O(1) by handle, and by SPI + destination + protocol for
 * the receive path (RFC 4301 §4.1 SAD lookup).
 */
import type { AuthTransform, EspTransform } from '../crypto/transform.ts';
import type { EncryptionName, IntegrityName } from '../crypto/names.ts';

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
  /** The ESP transform (operation 'esp'), else null. */
  readonly esp: EspTransform | null;
  /** The AH transform (operation 'ah'), else null. */
  readonly auth: AuthTransform | null;
  readonly counters: SaCounters;
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

/** Key for the receive lookup: SPI, protocol and destination address. */
function inboundKey(spi: number, protocol: Operation, destination: Uint8Array): string {
  let k = `${protocol}:${spi >>> 0}:`;
  for (const b of destination) k += b.toString(16).padStart(2, '0');
  return k;
}

/** The SA table of one miniport. */
export class SaTable {
  /** SaOffloadCapacity: how many bundles fit (contract D12). */
  readonly capacity: number;
  readonly #byHandle = new Map<bigint, SaBundle>();
  readonly #inbound = new Map<string, SaElementRef>();
  #lastHandle = 0n;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  /** Number of bundles held. */
  get size(): number {
    return this.#byHandle.size;
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
        if (this.#inbound.has(inboundKey(element.spi, element.operation, bundle.destination))) {
          throw new RangeError(
            `SaTable.insert: expected a free inbound ${element.operation} SPI ${element.spi >>> 0}, got one in use`
          );
        }
      }
    }
    this.#byHandle.set(bundle.handle, bundle);
    if (bundle.inbound) {
      for (const element of bundle.elements) {
        this.#inbound.set(inboundKey(element.spi, element.operation, bundle.destination), {
          bundle,
          element,
        });
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
        const key = inboundKey(element.spi, element.operation, bundle.destination);
        // Only this bundle's own entry: another inbound bundle may hold the same key.
        if (this.#inbound.get(key)?.bundle === bundle) this.#inbound.delete(key);
      }
    }
    for (const element of bundle.elements) {
      element.esp?.destroy();
      element.auth?.destroy();
    }
    return true;
  }

  /** The inbound SA for a received header: SPI + protocol + destination (RFC 4301 §4.1). */
  findInbound(spi: number, protocol: Operation, destination: Uint8Array): SaElementRef | undefined {
    return this.#inbound.get(inboundKey(spi, protocol, destination));
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
