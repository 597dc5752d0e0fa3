/**
 * @module
 * IPSEC_OFFLOAD_V2_DELETE_SA, the linked list that OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA carries,
 * for x64 and x86. Pages: "IPSEC_OFFLOAD_V2_DELETE_SA structure",
 * "OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA" (ndis.h). Reference: ndis-ipsecov2.md §2.7, §4.3;
 * contract D15 (outcomes, `Next` pointers).
 *
 * Each entry names one SA bundle by the handle ADD_SA returned; `Next` is the absolute address of
 * the next entry inside the same buffer, whose own address is part of the input.
 */
import {
  alignUp,
  checkBase,
  dataView,
  pointerSize,
  readPointer,
  walkList,
  writeHeader,
  writePointer,
  type Arch,
  type Decoded,
  type FieldTable,
} from './abi.ts';
import { ObjectType, Revision } from './oid.ts';
import type { EncodedList } from './addsa.ts';

/**
 * IPSEC_OFFLOAD_V2_DELETE_SA field offsets per architecture (computed from natural alignment;
 * §2.7). SIZEOF_REVISION_1 = RTL_SIZEOF_THROUGH_FIELD(…, OffloadHandle) = sizeof.
 */
export const DELETE_SA = {
  x64: { Header: 0x00, Next: 0x08, OffloadHandle: 0x10, SIZEOF_REVISION_1: 0x18, size: 0x18 },
  x86: { Header: 0x00, Next: 0x04, OffloadHandle: 0x08, SIZEOF_REVISION_1: 0x0c, size: 0x0c },
} as const;

/** One decoded DELETE_SA entry. */
export interface DeleteSaEntry {
  /** The SA bundle to delete: a handle ADD_SA returned. */
  readonly offloadHandle: bigint;
  /** Byte offset of this entry from the start of the buffer. */
  readonly entryOffset: number;
}

const FIELDS = (arch: Arch): FieldTable => {
  const L = DELETE_SA[arch];
  return [
    ['Header', L.Header],
    ['Next', L.Next],
    ['OffloadHandle', L.OffloadHandle],
  ];
};

/** Encodes one DELETE_SA entry per handle, linked by absolute `Next` addresses from `baseAddress`. */
export function encodeDeleteSaList(
  handles: readonly bigint[],
  baseAddress: bigint,
  arch: Arch
): EncodedList {
  if (handles.length === 0)
    throw new RangeError('encodeDeleteSaList: expected at least one handle, got 0');
  const L = DELETE_SA[arch];
  const stride = alignUp(L.size, pointerSize(arch));
  const bytes = new Uint8Array(stride * handles.length);
  checkBase('encodeDeleteSaList', baseAddress, bytes.length, arch);
  const dv = dataView(bytes);
  const entryOffsets = handles.map((_, i) => i * stride);
  handles.forEach((handle, i) => {
    const at = entryOffsets[i];
    const next = i + 1 < handles.length ? baseAddress + BigInt(at + stride) : 0n;
    writeHeader(dv, at + L.Header, {
      Type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
      Revision: Revision.NDIS_IPSEC_OFFLOAD_V2_DELETE_SA_REVISION_1,
      Size: L.SIZEOF_REVISION_1,
    });
    writePointer(dv, at + L.Next, next, arch, 'IPSEC_OFFLOAD_V2_DELETE_SA.Next');
    writePointer(
      dv,
      at + L.OffloadHandle,
      handle,
      arch,
      'IPSEC_OFFLOAD_V2_DELETE_SA.OffloadHandle'
    );
  });
  return { bytes, entryOffsets };
}

/**
 * Decodes the DELETE_SA list in `bytes`, which sits at `baseAddress`. Never throws on bad bytes:
 * short buffer → NDIS_STATUS_BUFFER_TOO_SHORT with bytesNeeded; wrong Header →
 * NDIS_STATUS_INVALID_LENGTH; a bad `Next` → NDIS_STATUS_INVALID_DATA (contract D15).
 */
export function decodeDeleteSaList(
  bytes: Uint8Array,
  baseAddress: bigint,
  arch: Arch
): Decoded<DeleteSaEntry[]> {
  checkBase('decodeDeleteSaList', baseAddress, bytes.length, arch);
  const L = DELETE_SA[arch];
  return walkList<DeleteSaEntry>(bytes, baseAddress, arch, {
    nextOffset: L.Next,
    minSize: L.SIZEOF_REVISION_1,
    type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    revision: Revision.NDIS_IPSEC_OFFLOAD_V2_DELETE_SA_REVISION_1,
    fields: FIELDS(arch),
    decodeEntry(dv, at) {
      const offloadHandle = readPointer(dv, at + L.OffloadHandle, arch);
      return {
        ok: true,
        value: { value: { offloadHandle, entryOffset: at }, span: L.SIZEOF_REVISION_1 },
      };
    },
  });
}
