/**
 * @module
 * The NDIS 6 packet object model: NET_BUFFER, NET_BUFFER_LIST and the NBL's out-of-band (OOB)
 * information slots (`NET_BUFFER_LIST_INFO(Nbl, Id)`). Pages: "NET_BUFFER structure",
 * "NET_BUFFER_LIST structure", "NET_BUFFER_LIST_INFO macro", "NDIS_NET_BUFFER_LIST_INFO
 * enumeration"; headers `ndis/nbl.h`, `ndis/nblinfo.h`. Reference: ndis-ipsecov2.md §2.12.
 *
 * Speed (issue 6): every object here can be reused from a pool through `reset()`, and accessors
 * do not allocate per packet — `data()` returns a cached view, `NblInfo` keeps its slots in one
 * `Uint32Array` so 32-bit OOB structures are read without creating a bigint.
 */
import type { NdisStatus } from './status.ts';

/**
 * NDIS_NET_BUFFER_LIST_INFO slot numbers (nblinfo.h). Aliases share a number as in the header:
 * `IPsecOffloadV2NetBufferListInfo` = `IPsecOffloadV1NetBufferListInfo` = 1.
 */
export const NetBufferListInfo = {
  TcpIpChecksumNetBufferListInfo: 0,
  TcpOffloadBytesTransferred: 0,
  IPsecOffloadV1NetBufferListInfo: 1,
  IPsecOffloadV2NetBufferListInfo: 1,
  TcpLargeSendNetBufferListInfo: 2,
  TcpReceiveNoPush: 2,
  ClassificationHandleNetBufferListInfo: 3,
  Ieee8021QNetBufferListInfo: 4,
  NetBufferListCancelId: 5,
  MediaSpecificInformation: 6,
  NetBufferListFrameType: 7,
  NetBufferListProtocolId: 7,
  NetBufferListHashValue: 8,
  NetBufferListHashInfo: 9,
  WfpNetBufferListInfo: 10,
  // NDIS 6.1 (IPsec offload v2).
  IPsecOffloadV2TunnelNetBufferListInfo: 11,
  IPsecOffloadV2HeaderNetBufferListInfo: 12,
  // NDIS 6.20.
  NetBufferListCorrelationId: 13,
  NetBufferListFilteringInfo: 14,
  MediaSpecificInformationEx: 15,
  NblOriginalInterfaceIfIndex: 16,
  TcpReceiveBytesTransferred: 17,
} as const;

/**
 * The number of OOB slots an NBL carries in this model.
 * Model: Windows' MaxNetBufferListInfo depends on the NDIS version and, after NDIS 6.30, on the
 * architecture (Vista SP1 has 13); we keep the slots that x86 and x64 number alike (0–17).
 */
export const MaxNetBufferListInfo = 18;

/**
 * The OOB slots of one NBL: `NetBufferListInfo[MaxNetBufferListInfo]`, each a pointer-sized value.
 *
 * Values are unsigned 64-bit: `get`/`set` take a bigint (so a raw value copied from a Windows
 * trace, e.g. an x64 kernel pointer, is stored and read back unchanged); `getU32`/`setU32` give
 * the low 32 bits, where every bit-field OOB structure lives (§2.9–§2.12), without allocating.
 * Model: on x86 a slot is 32 bits; x86 values simply leave the high half 0.
 */
export class NblInfo {
  // Slot i is [lo, hi] at indices 2i, 2i + 1.
  readonly #words = new Uint32Array(2 * MaxNetBufferListInfo);

  /** The whole slot as an unsigned 64-bit value. */
  get(slot: number): bigint {
    const i = index(slot);
    return (BigInt(this.#words[i + 1]) << 32n) | BigInt(this.#words[i]);
  }

  /** Stores a whole slot (`NET_BUFFER_LIST_INFO(nbl, slot) = value`); value in [0, 2^64). */
  set(slot: number, value: bigint): void {
    if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
      throw new RangeError(
        `NblInfo.set: expected a value from 0 to 2^64-1 for slot ${slot}, got ${value}`
      );
    }
    const i = index(slot);
    this.#words[i] = Number(value & 0xffff_ffffn);
    this.#words[i + 1] = Number(value >> 32n);
  }

  /** The low 32 bits of a slot (the ULONG bit-field view of the union). */
  getU32(slot: number): number {
    return this.#words[index(slot)];
  }

  /** The high 32 bits of a slot (0 for every value an x86 system could store). */
  getHighU32(slot: number): number {
    return this.#words[index(slot) + 1];
  }

  /** Stores a 32-bit value zero-extended into the whole slot, as `info.Value = (PVOID)ulong` does. */
  setU32(slot: number, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
      throw new RangeError(
        `NblInfo.setU32: expected an integer from 0 to 0xFFFFFFFF for slot ${slot}, got ${value}`
      );
    }
    const i = index(slot);
    this.#words[i] = value;
    this.#words[i + 1] = 0;
  }

  /** Zeroes every slot (an NBL fresh from NdisAllocateNetBufferList has zeroed OOB). */
  clear(): void {
    this.#words.fill(0);
  }

  /** Copies every slot from `other` (as NdisCopySendNetBufferListInfo would, for all slots). */
  copyFrom(other: NblInfo): void {
    this.#words.set(other.#words);
  }
}

/** The word index of `slot`; throws a RangeError for a slot outside [0, MaxNetBufferListInfo). */
function index(slot: number): number {
  // `slot >>> 0 === slot` is true exactly for integers 0 … 2^32 − 1 (the hot path: one compare).
  if (slot >>> 0 !== slot || slot >= MaxNetBufferListInfo) {
    throw new RangeError(
      `NblInfo: expected a slot from 0 to ${MaxNetBufferListInfo - 1}, got ${slot}`
    );
  }
  return 2 * slot;
}

const EMPTY = new Uint8Array(0);

/**
 * One packet: NET_BUFFER with its data window `[dataOffset, dataOffset + dataLength)` inside its
 * backing memory (`DataOffset`, `DataLength`; the bytes before the window are "unused data
 * space" a driver can retreat into to prepend headers).
 * Model: a NET_BUFFER describes its memory with an MDL chain; we model one contiguous buffer.
 */
export class NetBuffer {
  #memory: Uint8Array = EMPTY;
  #dataOffset = 0;
  #dataLength = 0;
  #view: Uint8Array | undefined;

  /** A NetBuffer over `memory` whose data is `length` bytes from `offset` (default: all of it). */
  constructor(memory: Uint8Array = EMPTY, offset = 0, length: number = memory.length - offset) {
    this.attach(memory, offset, length);
  }

  /** The backing memory (the whole MDL chain, including unused space before the data). */
  get memory(): Uint8Array {
    return this.#memory;
  }

  /** NET_BUFFER_DATA_OFFSET: where the data starts in `memory`. */
  get dataOffset(): number {
    return this.#dataOffset;
  }

  /** NET_BUFFER_DATA_LENGTH: how many bytes of data there are. */
  get dataLength(): number {
    return this.#dataLength;
  }

  /** The data bytes, a view into `memory` (cached: no allocation until the window changes). */
  data(): Uint8Array {
    this.#view ??= this.#memory.subarray(this.#dataOffset, this.#dataOffset + this.#dataLength);
    return this.#view;
  }

  /** Points this NetBuffer at `memory` with a data window; throws a RangeError if out of bounds. */
  attach(memory: Uint8Array, offset = 0, length: number = memory.length - offset): void {
    if (
      !Number.isInteger(offset) ||
      !Number.isInteger(length) ||
      offset < 0 ||
      length < 0 ||
      offset + length > memory.length
    ) {
      throw new RangeError(
        `NetBuffer.attach: expected a window inside ${memory.length} bytes, got offset ${offset} length ${length}`
      );
    }
    this.#memory = memory;
    this.#dataOffset = offset;
    this.#dataLength = length;
    this.#view = undefined;
  }

  /** Sets the data window (DataOffset, DataLength) inside the current memory. */
  setWindow(offset: number, length: number): void {
    this.attach(this.#memory, offset, length);
  }

  /** NdisAdvanceNetBufferDataStart: drops `n` bytes from the front of the data. */
  advance(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.#dataLength) {
      throw new RangeError(`NetBuffer.advance: expected 0 to ${this.#dataLength} bytes, got ${n}`);
    }
    this.setWindow(this.#dataOffset + n, this.#dataLength - n);
  }

  /** NdisRetreatNetBufferDataStart: grows the data by `n` bytes at the front, into unused space. */
  retreat(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.#dataOffset) {
      throw new RangeError(
        `NetBuffer.retreat: expected 0 to ${this.#dataOffset} bytes of unused space, got ${n}`
      );
    }
    // Model: NDIS would allocate a new MDL when the unused space is too small; we refuse.
    this.setWindow(this.#dataOffset - n, this.#dataLength + n);
  }

  /** Forgets the memory so the object can go back to a pool. */
  reset(): void {
    this.attach(EMPTY, 0, 0);
  }
}

/**
 * NET_BUFFER_LIST: an ordered list of NET_BUFFERs that share OOB information, the `Next` link of
 * an NBL chain, and the completion `Status`.
 */
export class NetBufferList {
  /** NET_BUFFER_LIST_NEXT_NBL: the next NBL of the chain, or null. */
  next: NetBufferList | null = null;
  /** NET_BUFFER_LIST_STATUS: set by the miniport before it completes the NBL. */
  status: NdisStatus = 0;
  /** The NET_BUFFERs in order (NET_BUFFER_LIST_FIRST_NB, then each NET_BUFFER_NEXT_NB). */
  readonly netBuffers: NetBuffer[] = [];
  /** The OOB slots, NET_BUFFER_LIST_INFO(this, slot). */
  readonly info: NblInfo = new NblInfo();
  /** ProtocolReserved: owned by the protocol (transport) that allocated the NBL. */
  protocolReserved: unknown = undefined;
  /** MiniportReserved: owned by the miniport while the NBL is in its hands. */
  miniportReserved: unknown = undefined;

  /** An NBL holding `netBuffers`, in order. */
  constructor(...netBuffers: NetBuffer[]) {
    this.netBuffers.push(...netBuffers);
  }

  /** Returns the NBL to its just-allocated state (no NBs, zeroed OOB) for reuse from a pool. */
  reset(): void {
    this.next = null;
    this.status = 0;
    this.netBuffers.length = 0;
    this.info.clear();
    this.protocolReserved = undefined;
    this.miniportReserved = undefined;
  }
}

/** Iterates an NBL chain from `first` along `next` (a hot loop may walk `next` itself). */
export function* chain(first: NetBufferList | null): Generator<NetBufferList, void, undefined> {
  for (let nbl = first; nbl !== null; nbl = nbl.next) yield nbl;
}

/** The number of NBLs in the chain starting at `first`. */
export function chainLength(first: NetBufferList | null): number {
  let n = 0;
  for (let nbl = first; nbl !== null; nbl = nbl.next) n++;
  return n;
}

/** Links `nbls` into a chain in order (the last `next` becomes null); returns the first or null. */
export function link(nbls: readonly NetBufferList[]): NetBufferList | null {
  for (let i = 0; i < nbls.length; i++) nbls[i].next = nbls[i + 1] ?? null;
  return nbls[0] ?? null;
}
