/**
 * @module
 * IPSEC_OFFLOAD_V2_UPDATE_SA, the structure OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA carries to give
 * an ESN SA new high-order sequence-number bits, for x64 and x86. Pages: "IPSEC_OFFLOAD_V2_UPDATE_SA
 * structure", "OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA" (ndis.h). Reference: ndis-ipsecov2.md §2.8,
 * §4.3, §6 item 8; contract D7, D15.
 *
 * Model: the OID text speaks of a linked list, but the structure has no `Next` (PDB-confirmed);
 * one OID buffer holds one IPSEC_OFFLOAD_V2_UPDATE_SA.
 */
import {
  checkHeader,
  dataView,
  readPointer,
  truncated,
  writeHeader,
  writePointer,
  type Arch,
  type Decoded,
  type FieldTable,
} from './abi.ts';
import { ObjectType, Revision } from './oid.ts';
import { needUint } from '../wire/bytes.ts';

/**
 * IPSEC_OFFLOAD_V2_UPDATE_SA field offsets per architecture (x64 from the ndis.sys PDB, x86
 * computed; §2.8). SIZEOF_REVISION_1 = RTL_SIZEOF_THROUGH_FIELD(…, SequenceNumberHighOrder).
 */
export const UPDATE_SA = {
  x64: {
    Header: 0x00,
    OffloadHandle: 0x08,
    Operation: 0x10,
    Spi: 0x14,
    SequenceNumberHighOrder: 0x18,
    SIZEOF_REVISION_1: 0x1c,
    size: 0x20,
  },
  x86: {
    Header: 0x00,
    OffloadHandle: 0x04,
    Operation: 0x08,
    Spi: 0x0c,
    SequenceNumberHighOrder: 0x10,
    SIZEOF_REVISION_1: 0x14,
    size: 0x14,
  },
} as const;

/** A decoded IPSEC_OFFLOAD_V2_UPDATE_SA. */
export interface UpdateSa {
  /** The SA bundle: a handle ADD_SA returned. */
  readonly offloadHandle: bigint;
  /** Which SA of the bundle: IPsecOffloadV2Ah (1) or IPsecOffloadV2Esp (2) (not checked here). */
  readonly operation: number;
  /** That SA's SPI (stored in network byte order, D7). */
  readonly spi: number;
  /** The new ESN high-order 32 bits. */
  readonly sequenceNumberHighOrder: number;
}

const FIELDS = (arch: Arch): FieldTable => {
  const L = UPDATE_SA[arch];
  return [
    ['Header', L.Header],
    ['OffloadHandle', L.OffloadHandle],
    ['Operation', L.Operation],
    ['Spi', L.Spi],
    ['SequenceNumberHighOrder', L.SequenceNumberHighOrder],
  ];
};

/** Encodes one IPSEC_OFFLOAD_V2_UPDATE_SA (sizeof bytes); RangeError for a value that does not fit. */
export function encodeUpdateSa(u: UpdateSa, arch: Arch): Uint8Array {
  const L = UPDATE_SA[arch];
  const out = new Uint8Array(L.size);
  const dv = dataView(out);
  writeHeader(dv, L.Header, {
    Type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    Revision: Revision.NDIS_IPSEC_OFFLOAD_V2_UPDATE_SA_REVISION_1,
    Size: L.SIZEOF_REVISION_1,
  });
  writePointer(
    dv,
    L.OffloadHandle,
    u.offloadHandle,
    arch,
    'IPSEC_OFFLOAD_V2_UPDATE_SA.OffloadHandle'
  );
  needUint('IPSEC_OFFLOAD_V2_UPDATE_SA.Operation', u.operation, 0xffff_ffff);
  needUint('IPSEC_OFFLOAD_V2_UPDATE_SA.Spi', u.spi, 0xffff_ffff);
  needUint(
    'IPSEC_OFFLOAD_V2_UPDATE_SA.SequenceNumberHighOrder',
    u.sequenceNumberHighOrder,
    0xffff_ffff
  );
  dv.setUint32(L.Operation, u.operation, true);
  // Contract D7: the SPI is stored in network byte order inside its ULONG.
  dv.setUint32(L.Spi, u.spi, false);
  dv.setUint32(L.SequenceNumberHighOrder, u.sequenceNumberHighOrder, true);
  return out;
}

/**
 * Decodes an IPSEC_OFFLOAD_V2_UPDATE_SA. Never throws on bad bytes: short buffer →
 * NDIS_STATUS_BUFFER_TOO_SHORT with bytesNeeded; wrong Header → NDIS_STATUS_INVALID_LENGTH.
 */
export function decodeUpdateSa(bytes: Uint8Array, arch: Arch): Decoded<UpdateSa> {
  const L = UPDATE_SA[arch];
  if (bytes.length < L.SIZEOF_REVISION_1)
    return truncated(FIELDS(arch), 0, L.SIZEOF_REVISION_1, bytes.length);
  const dv = dataView(bytes);
  const bad = checkHeader(dv, 0, {
    type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    revision: Revision.NDIS_IPSEC_OFFLOAD_V2_UPDATE_SA_REVISION_1,
    size: L.SIZEOF_REVISION_1,
  });
  if (bad) return bad;
  return {
    ok: true,
    value: {
      offloadHandle: readPointer(dv, L.OffloadHandle, arch),
      operation: dv.getUint32(L.Operation, true),
      spi: dv.getUint32(L.Spi, false),
      sequenceNumberHighOrder: dv.getUint32(L.SequenceNumberHighOrder, true),
    },
  };
}
