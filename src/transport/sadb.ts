/**
 * @module
 * The host's SA database for its NIC ("Managing Security Associations in IPsec Offload Version
 * 2"; reference §1.2, §1.3, §1.12, §4.3; contract D3, D10, D12, D15, D16): it reads the NIC's
 * capabilities by OID query, decides per SA bundle whether the NIC can take it (tx-caps.ts),
 * adds the offloadable ones — outbound and inbound — with OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA and
 * the binary x64 list, checks every returned handle (NULL → that bundle stays in software,
 * counted), deletes them with DELETE_SA, pushes UPDATE_SA when an ESN high half changes, rekeys
 * before a non-ESN counter runs out, and honours SaDeleteReq. Every bundle, offloaded or not,
 * keeps its sequence counter here.
 *
 * Decisions where the contract is silent:
 * - The transport counts its own entries against SaOffloadCapacity and does not ask for more
 *   (reference §1.2: "should not exceed it"); a NULL handle from the NIC is still handled.
 * - A failed UPDATE_SA or an SA the NIC no longer accepts after a configuration change moves the
 *   bundle to software (DELETE_SA first when the NIC still holds it).
 * - After SaDeleteReq the two bundles stay valid in software and are not offered to the NIC again
 *   (the NIC asked for space, V1 rule).
 */
import { createAuth } from '../crypto/ah.ts';
import { createEsp } from '../crypto/esp.ts';
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import type { AuthTransform, EspTransform, Random } from '../crypto/transform.ts';
import { encodeAddSaList, readAddSaHandle } from '../ndis/addsa.ts';
import {
  decodeIpsecOffloadV2,
  IPSEC_OFFLOAD_V2,
  NO_IPSEC_OFFLOAD_V2,
  type IpsecOffloadV2,
} from '../ndis/caps.ts';
import { encodeDeleteSaList } from '../ndis/deletesa.ts';
import { Oid, Operation } from '../ndis/oid.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import { encodeUpdateSa } from '../ndis/updatesa.ts';
import { LOW_MAX, reserveSegments, type Reservation, type SeqResult } from '../wire/seqnum.ts';
import type { Nic } from './nic.ts';
import type { SaConfig } from './policy.ts';
import { addSaEntry, type SaDescription } from './sa-entry.ts';
import { bundleRefusal, hasRoom, udpEspType, type BundleRole } from './tx-caps.ts';

/** Where the OID structures sit in the model's address space (x64: 8-aligned; D15). */
const BASE = 0x10_0000n;

/** Software transforms of one bundle (created on first use, contract §5). */
export interface SoftwareTransforms {
  readonly esp: EspTransform | null;
  readonly auth: AuthTransform | null;
}

/** One bundle (one direction of one SaConfig generation) and its offload state. */
export class SaState {
  readonly key: string;
  readonly config: SaConfig;
  readonly inbound: boolean;
  readonly role: BundleRole;
  readonly generation: number;
  /** The OffloadHandle, or 0n while the bundle is in software. */
  handle = 0n;
  /** Why it is in software (`capability:<member>`, `capacity`, `null-handle`, …), or null. */
  why: string | null = null;
  /** Never offer it to the NIC again (SaDeleteReq, retired). */
  noReoffload = false;
  /** The next 64-bit sequence number to send (outbound). */
  next: bigint;
  /** SequenceNumberHighOrder the NIC holds for this bundle (ESN, D3). */
  nicHigh: number;
  /** Offloaded NBLs of this bundle handed to the NIC and not yet completed. */
  inFlight = 0;
  /** Offloaded NBLs of this bundle queued or in flight (its handle must live until they complete). */
  pending = 0;
  /** Packets (frames) sent through this bundle, by who did the IPsec work. */
  readonly counters = { offloaded: 0, software: 0 };
  #software: SoftwareTransforms | null = null;

  constructor(
    key: string,
    config: SaConfig,
    inbound: boolean,
    role: BundleRole,
    generation: number
  ) {
    this.key = key;
    this.config = config;
    this.inbound = inbound;
    this.role = role;
    this.generation = generation;
    this.next = config.initialSequence;
    this.nicHigh = Number(config.initialSequence >> 32n);
  }

  /** True while the NIC holds the bundle. */
  get offloaded(): boolean {
    return this.handle !== 0n;
  }

  /** The bundle's software transforms (CBC IVs from `random`, contract D6). */
  software(random: Random): SoftwareTransforms {
    this.#software ??= softwareTransforms(this.config, random);
    return this.#software;
  }

  /** Overwrites the software keys (teardown, retirement). */
  destroy(): void {
    this.#software?.esp?.destroy();
    this.#software?.auth?.destroy();
    this.#software = null;
  }
}

function softwareTransforms(sa: SaConfig, random: Random): SoftwareTransforms {
  const e = sa.esp;
  const a = sa.ah;
  return {
    esp:
      sa.protocol === 'ah' || e === undefined
        ? null
        : createEsp({
            encryption: e.encryption,
            integrity: e.integrity,
            encryptionKey: e.encryptionKey,
            ...(e.integrityKey === undefined ? {} : { integrityKey: e.integrityKey }),
            ...(e.icvLength === undefined ? {} : { icvLength: e.icvLength }),
            esn: sa.esn,
            random,
          }),
    auth:
      sa.protocol === 'esp' || a === undefined
        ? null
        : createAuth({ integrity: a.integrity, key: a.integrityKey, esn: sa.esn }),
  };
}

/** The SaDescriptions of `sa` in ADD_SA order: ESP then AH (reference §1.11). */
function descriptions(sa: SaConfig, seqHigh: number): SaDescription[] {
  const out: SaDescription[] = [];
  const esn = sa.esn;
  if (sa.protocol !== 'ah' && sa.esp !== undefined) {
    const e = sa.esp;
    out.push({
      protocol: 'esp',
      spi: e.spi,
      encryption: e.encryption,
      integrity: e.integrity,
      encryptionKey: e.encryptionKey,
      ...(e.integrityKey === undefined ? {} : { integrityKey: e.integrityKey }),
      ...(e.icvLength === undefined ? {} : { icvLength: e.icvLength }),
      esn,
      seqHigh,
    });
  }
  if (sa.protocol !== 'esp' && sa.ah !== undefined) {
    const a = sa.ah;
    out.push({
      protocol: 'ah',
      spi: a.spi,
      integrity: a.integrity,
      integrityKey: a.integrityKey,
      esn,
      seqHigh,
    });
  }
  return out;
}

/** Makes the next generation of an SA when it is rekeyed. */
export type Rekey = (old: SaConfig, generation: number) => SaConfig;

/** Options of the SA database. */
export interface SadbOptions {
  readonly nic: Nic;
  readonly random: Random;
  /** Rekey a non-ESN SA when fewer than this many sequence numbers remain (default 65536). */
  readonly rekeyMargin?: bigint;
  /** The next generation of a rekeyed SA (default: fresh SPIs and keys from `random`). */
  readonly rekey?: Rekey;
  /** Told about each rekey, so the peer can add the new inbound SA. */
  readonly onRekey?: (old: SaConfig, next: SaConfig) => void;
}

/** A named event count of the database. */
export type SadbCounters = Record<string, number>;

/** The default next generation: fresh SPIs (≥ 256, RFC 4303 §2.1) and keys of the same sizes. */
export function defaultRekey(random: Random): Rekey {
  const bytes = (n: number): Uint8Array => {
    const b = new Uint8Array(n);
    random.fill(b);
    return b;
  };
  const spi = (): number => {
    const b = bytes(4);
    return ((((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) | 0x100) >>> 0;
  };
  return (old, generation) => ({
    ...old,
    name: `${old.name.replace(/#\d+$/, '')}#${generation}`,
    initialSequence: 1n,
    ...(old.esp === undefined
      ? {}
      : {
          esp: {
            ...old.esp,
            spi: spi(),
            encryptionKey: bytes(encryptionInfo(old.esp.encryption).keyLength),
            ...(old.esp.integrity === null
              ? {}
              : { integrityKey: bytes(integrityInfo(old.esp.integrity).keyLength) }),
          },
        }),
    ...(old.ah === undefined
      ? {}
      : {
          ah: {
            ...old.ah,
            spi: spi(),
            integrityKey: bytes(integrityInfo(old.ah.integrity).keyLength),
          },
        }),
  });
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The SA database of one host and its NIC. */
export class Sadb {
  readonly #nic: Nic;
  readonly #margin: bigint;
  readonly #rekey: Rekey;
  readonly #onRekey: ((old: SaConfig, next: SaConfig) => void) | undefined;
  /** The current generation of each bundle, by policy name (outbound) or `in:` name. */
  readonly #states = new Map<string, SaState>();
  /** Old generations waiting for their in-flight NBLs before DELETE_SA. */
  readonly #retiring: SaState[] = [];
  /** The NIC's current NDIS_IPSEC_OFFLOAD_V2 (OID_TCP_OFFLOAD_CURRENT_CONFIG). */
  ipsec: IpsecOffloadV2 = NO_IPSEC_OFFLOAD_V2;
  /** What the hardware could do (OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES). */
  hardware: IpsecOffloadV2 = NO_IPSEC_OFFLOAD_V2;
  readonly counters: SadbCounters = {};

  constructor(options: SadbOptions) {
    this.#nic = options.nic;
    this.#margin = options.rekeyMargin ?? 65536n;
    if (this.#margin < 0n || this.#margin > BigInt(LOW_MAX)) {
      throw new RangeError(
        `Sadb: expected rekeyMargin from 0 to 2^32 − 1, got ${String(this.#margin)}`
      );
    }
    this.#rekey = options.rekey ?? defaultRekey(options.random);
    this.#onRekey = options.onRekey;
  }

  #count(name: string, n = 1): void {
    this.counters[name] = (this.counters[name] ?? 0) + n;
  }

  #oid(type: 'set' | 'query', oid: number, buffer: Uint8Array, baseAddress = BASE): number {
    const r = this.#nic.oidRequest({ type, oid, buffer, baseAddress });
    this.#count(`oid:${statusName(r.status)}`);
    return r.status;
  }

  /** Reads NDIS_IPSEC_OFFLOAD_V2 by OID query (hardware and current); a failed query is "none". */
  queryCapabilities(): IpsecOffloadV2 {
    const read = (oid: number): IpsecOffloadV2 => {
      const buffer = new Uint8Array(IPSEC_OFFLOAD_V2.size);
      if (this.#oid('query', oid, buffer) !== NdisStatus.NDIS_STATUS_SUCCESS)
        return NO_IPSEC_OFFLOAD_V2;
      const d = decodeIpsecOffloadV2(buffer);
      return d.ok ? d.value : NO_IPSEC_OFFLOAD_V2;
    };
    this.hardware = read(Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES);
    this.ipsec = read(Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG);
    return this.ipsec;
  }

  /** Registers an outbound bundle under its policy name (no OID yet: see {@link reconcile}). */
  addOutbound(sa: SaConfig, role: BundleRole): SaState {
    const state = new SaState(sa.name, sa, false, role, 0);
    this.#states.set(sa.name, state);
    return state;
  }

  /** Registers an inbound bundle and offers it to the NIC at once (the receiver needs it there). */
  addInbound(
    sa: SaConfig,
    role: BundleRole = sa.mode === 'tunnel' ? 'tunnel' : 'transport'
  ): SaState {
    const state = new SaState(`in:${sa.name}`, sa, true, role, 0);
    this.#states.set(state.key, state);
    this.#add([state]);
    return state;
  }

  /** The current generation of outbound bundle `name`. */
  outbound(name: string): SaState | undefined {
    return this.#states.get(name);
  }

  /** Every current bundle (outbound and inbound). */
  states(): SaState[] {
    return [...this.#states.values()];
  }

  /** ADD_SA entries the NIC holds for this host (current and retiring generations). */
  entriesHeld(): number {
    let n = 0;
    for (const s of this.#states.values()) if (s.offloaded) n++;
    for (const s of this.#retiring) if (s.offloaded) n++;
    return n;
  }

  /**
   * Brings the NIC in line with the capability record: bundles it no longer takes are deleted
   * (DELETE_SA) and go software; bundles it now takes are added in one ADD_SA list (D12).
   */
  reconcile(): void {
    const drop = [...this.#states.values()].filter(
      (s) => s.offloaded && bundleRefusal(this.ipsec, s.config, s.role) !== null
    );
    this.#delete(drop, 'reconfigured');
    const add = [...this.#states.values()].filter((s) => !s.offloaded && !s.noReoffload);
    this.#add(add);
  }

  /** Adds the bundles the record allows, one ADD_SA list, and checks every handle (D15). */
  #add(candidates: readonly SaState[]): void {
    const chosen: SaState[] = [];
    let held = this.entriesHeld();
    for (const s of candidates) {
      const refusal = bundleRefusal(this.ipsec, s.config, s.role);
      if (refusal !== null) {
        s.why = refusal;
        this.#count(`software:${refusal}`);
        continue;
      }
      if (!hasRoom(this.ipsec, held)) {
        s.why = 'capacity';
        this.#count('software:capacity');
        continue;
      }
      held++;
      chosen.push(s);
    }
    if (chosen.length === 0) return;
    const entries = chosen.map((s) =>
      addSaEntry({
        inbound: s.inbound,
        source: s.config.source,
        destination: s.config.destination,
        udpEspEncapsulation: udpEspType(s.config, s.role),
        sas: descriptions(s.config, s.nicHigh),
      })
    );
    const list = encodeAddSaList(entries, BASE, 'x64');
    const status = this.#oid('set', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA, list.bytes);
    // Reference §4.3: the NIC writes a handle into each entry it took and NULL into the others;
    // every handle is read and checked, whatever the status (a failed request leaves all NULL).
    chosen.forEach((s, i) => {
      const handle =
        status === NdisStatus.NDIS_STATUS_SUCCESS
          ? readAddSaHandle(list.bytes, list.entryOffsets[i], 'x64')
          : 0n;
      if (handle === 0n) {
        s.why = 'null-handle';
        this.#count('software:null-handle');
      } else {
        s.handle = handle;
        s.why = null;
        this.#count('offloaded');
      }
    });
    list.bytes.fill(0); // the keys do not outlive the request
  }

  /** DELETE_SA for the offloaded bundles of `states` (one list); they go software. */
  #delete(states: readonly SaState[], why: string): void {
    const held = states.filter((s) => s.offloaded);
    if (held.length === 0) return;
    const list = encodeDeleteSaList(
      held.map((s) => s.handle),
      BASE,
      'x64'
    );
    const status = this.#oid('set', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA, list.bytes);
    this.#count(
      status === NdisStatus.NDIS_STATUS_SUCCESS ? 'deleted' : 'delete-failed',
      held.length
    );
    for (const s of held) {
      s.handle = 0n;
      s.why = why;
    }
  }

  /**
   * The current generation of outbound bundle `name`, rekeyed first when it is a non-ESN SA with
   * fewer than the rekey margin of sequence numbers left (RFC 4303 §3.3.3: never cycle).
   */
  current(name: string): SaState {
    const state = this.#states.get(name);
    if (state === undefined || state.inbound) {
      throw new RangeError(`Sadb.current: expected an outbound SA name, got ${name}`);
    }
    if (!state.config.esn && state.next > BigInt(LOW_MAX) - this.#margin) return this.rekey(name);
    return state;
  }

  /** Reserves `count` sequence numbers of `state` (one per segment, D3). */
  reserve(state: SaState, count: number): SeqResult<Reservation> {
    const result = reserveSegments(state.next, count, state.config.esn);
    if (result.ok) state.next = result.value.next;
    return result;
  }

  /**
   * Rekeys outbound bundle `name`: the next generation is added (ADD_SA when the NIC takes it),
   * becomes current, and the old one is deleted once its in-flight NBLs have completed.
   */
  rekey(name: string): SaState {
    const old = this.#states.get(name);
    if (old === undefined) throw new RangeError(`Sadb.rekey: expected an SA name, got ${name}`);
    const generation = old.generation + 1;
    const config = this.#rekey(old.config, generation);
    const state = new SaState(name, config, old.inbound, old.role, generation);
    this.#states.set(name, state);
    old.noReoffload = true;
    this.#retiring.push(old);
    this.#count('rekey');
    this.retire();
    this.#add([state]);
    this.#onRekey?.(old.config, config);
    return state;
  }

  /** Deletes retired generations whose NBLs have all completed. */
  retire(): void {
    for (let i = this.#retiring.length - 1; i >= 0; i--) {
      const s = this.#retiring[i];
      if (s.pending > 0) continue;
      this.#delete([s], 'retired');
      s.destroy();
      this.#retiring.splice(i, 1);
    }
  }

  /**
   * UPDATE_SA for each SA of bundle `state` with the high half `high` (D3); on failure the
   * bundle goes software.
   */
  update(state: SaState, high: number): void {
    if (!state.offloaded || state.nicHigh === high) return;
    for (const d of descriptions(state.config, high)) {
      const bytes = encodeUpdateSa(
        {
          offloadHandle: state.handle,
          operation:
            d.protocol === 'esp' ? Operation.IPsecOffloadV2Esp : Operation.IPsecOffloadV2Ah,
          spi: d.spi,
          sequenceNumberHighOrder: high,
        },
        'x64'
      );
      const status = this.#oid('set', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA, bytes);
      if (status !== NdisStatus.NDIS_STATUS_SUCCESS) {
        this.#count('update-failed');
        this.#delete([state], 'update-failed');
        return;
      }
      this.#count('update-sa');
    }
    state.nicHigh = high;
  }

  /**
   * SaDeleteReq from the receive path (reference §1.3): DELETE_SA once for the inbound bundle with
   * `spi` (ESP or AH) and once for its outbound peer (the bundle with the endpoints swapped);
   * both stay valid in software. Returns how many bundles were deleted.
   */
  saDeleteRequested(spi: number, destination?: Uint8Array): number {
    const inbound = [...this.#states.values()].find(
      (s) =>
        s.inbound &&
        (s.config.esp?.spi === spi || s.config.ah?.spi === spi) &&
        (destination === undefined || sameBytes(destination, s.config.destination))
    );
    if (inbound === undefined) return 0;
    const peer = [...this.#states.values()].find(
      (s) =>
        !s.inbound &&
        s.config.protocol === inbound.config.protocol &&
        sameBytes(s.config.source, inbound.config.destination) &&
        sameBytes(s.config.destination, inbound.config.source)
    );
    const pair = peer === undefined ? [inbound] : [inbound, peer];
    const before = pair.filter((s) => s.offloaded).length;
    for (const s of pair) s.noReoffload = true;
    this.#delete(pair, 'sa-delete-req');
    this.#count('sa-delete-req');
    return before;
  }

  /** DELETE_SA for every bundle the NIC holds (teardown); all go software. */
  teardown(): void {
    this.#delete([...this.#states.values(), ...this.#retiring], 'teardown');
    for (const s of this.#states.values()) s.noReoffload = true;
  }
}
