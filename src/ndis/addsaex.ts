/**
 * @module
 * IPSEC_OFFLOAD_V2_ADD_SA_EX, the single structure OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX carries
 * (NDIS 6.30+), for x64 and x86. Pages: "IPSEC_OFFLOAD_V2_ADD_SA_EX structure",
 * "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX" (ndis.h). Reference: ndis-ipsecov2.md §2.6, §4.3;
 * contract D7, D15.
 *
 * Like ADD_SA without `Next` and `KeyData`: the key array is at `KeyOffset` bytes from the start
 * of the structure, `KeyLength` bytes long; `SourceSwitchPortId` and `VlanId` are reserved.
 */
import {
  checkHeader,
  dataView,
  fail,
  readPointer,
  tooShort,
  truncated,
  writeHeader,
  writePointer,
  type Arch,
  type Decoded,
  type FieldTable,
} from './abi.ts';
import { ObjectType, Revision } from './oid.ts';
import { readBody, writeBody, type SaBundle } from './sa.ts';
import { NdisStatus } from './status.ts';
import { needUint } from '../wire/bytes.ts';

/**
 * IPSEC_OFFLOAD_V2_ADD_SA_EX field offsets per architecture (natural alignment; §2.6, marked
 * [INFERRED] there: no PDB dump was found). SIZEOF_REVISION_1 = RTL_SIZEOF_THROUGH_FIELD(…, VlanId).
 */
export const ADD_SA_EX = {
  x64: {
    Header: 0x00,
    NumExtHdrs: 0x04,
    Flags: 0x08,
    SrcAddr: 0x0c,
    IPv4DestAddr: 0x10,
    IPv6DestAddr: 0x1c,
    OffloadHandle: 0x30,
    UdpEspEncapsulation: 0x38,
    SecAssoc: 0x3c,
    KeyLength: 0x9c,
    KeyOffset: 0xa0,
    SourceSwitchPortId: 0xa4,
    VlanId: 0xa8,
    SIZEOF_REVISION_1: 0xaa,
    size: 0xb0,
  },
  x86: {
    Header: 0x00,
    NumExtHdrs: 0x04,
    Flags: 0x08,
    SrcAddr: 0x0c,
    IPv4DestAddr: 0x10,
    IPv6DestAddr: 0x1c,
    OffloadHandle: 0x2c,
    UdpEspEncapsulation: 0x30,
    SecAssoc: 0x34,
    KeyLength: 0x94,
    KeyOffset: 0x98,
    SourceSwitchPortId: 0x9c,
    VlanId: 0xa0,
    SIZEOF_REVISION_1: 0xa2,
    size: 0xa4,
  },
} as const;

/** A decoded IPSEC_OFFLOAD_V2_ADD_SA_EX. */
export interface AddSaEx extends SaBundle {
  /** Byte offset of the key array from the start of the structure. */
  readonly keyOffset: number;
  /** Reserved (NDIS_SWITCH_PORT_ID). */
  readonly sourceSwitchPortId: number;
  /** Reserved. */
  readonly vlanId: number;
}

/** Encoder input: the key goes right after the structure unless `keyOffset` says otherwise. */
export type AddSaExInit = SaBundle & {
  readonly keyOffset?: number;
  readonly sourceSwitchPortId?: number;
  readonly vlanId?: number;
};

const FIELDS = (arch: Arch): FieldTable => {
  const L = ADD_SA_EX[arch];
  return [
    ['Header', L.Header],
    ['NumExtHdrs', L.NumExtHdrs],
    ['Flags', L.Flags],
    ['SrcAddr', L.SrcAddr],
    ['DestAddr', L.IPv4DestAddr],
    ['OffloadHandle', L.OffloadHandle],
    ['UdpEspEncapsulation', L.UdpEspEncapsulation],
    ['SecAssoc', L.SecAssoc],
    ['KeyLength', L.KeyLength],
    ['KeyOffset', L.KeyOffset],
    ['SourceSwitchPortId', L.SourceSwitchPortId],
    ['VlanId', L.VlanId],
  ];
};

/**
 * Encodes one IPSEC_OFFLOAD_V2_ADD_SA_EX followed by its key array (at `keyOffset`, default the
 * structure's size). Header.Size = NDIS_SIZEOF_…_ADD_SA_EX_REVISION_1. Throws a RangeError for a
 * value that does not fit or a keyOffset inside the structure.
 */
export function encodeAddSaEx(sa: AddSaExInit, arch: Arch): Uint8Array {
  const L = ADD_SA_EX[arch];
  const keyOffset = sa.keyOffset ?? L.size;
  needUint('IPSEC_OFFLOAD_V2_ADD_SA_EX.KeyOffset', keyOffset, 0xffff_ffff);
  if (keyOffset < L.SIZEOF_REVISION_1) {
    throw new RangeError(
      `IPSEC_OFFLOAD_V2_ADD_SA_EX.KeyOffset: expected at least 0x${L.SIZEOF_REVISION_1.toString(16)} (after the structure), got ${keyOffset}`
    );
  }
  const out = new Uint8Array(Math.max(L.size, keyOffset + sa.keyData.length));
  const dv = dataView(out);
  writeHeader(dv, L.Header, {
    Type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    Revision: Revision.NDIS_IPSEC_OFFLOAD_V2_ADD_SA_EX_REVISION_1,
    Size: L.SIZEOF_REVISION_1,
  });
  writeBody(dv, 0, L, sa, arch, 'IPSEC_OFFLOAD_V2_ADD_SA_EX');
  dv.setUint32(L.KeyOffset, keyOffset, true);
  const port = sa.sourceSwitchPortId ?? 0;
  const vlan = sa.vlanId ?? 0;
  needUint('IPSEC_OFFLOAD_V2_ADD_SA_EX.SourceSwitchPortId', port, 0xffff_ffff);
  needUint('IPSEC_OFFLOAD_V2_ADD_SA_EX.VlanId', vlan, 0xffff);
  dv.setUint32(L.SourceSwitchPortId, port, true);
  dv.setUint16(L.VlanId, vlan, true);
  out.set(sa.keyData, keyOffset);
  return out;
}

/**
 * Decodes an IPSEC_OFFLOAD_V2_ADD_SA_EX. Never throws on bad bytes: short buffer or key array past
 * the end → NDIS_STATUS_BUFFER_TOO_SHORT with bytesNeeded; wrong Header → NDIS_STATUS_INVALID_LENGTH;
 * NumExtHdrs outside 1…2 or a key array overlapping the structure → NDIS_STATUS_INVALID_DATA.
 */
export function decodeAddSaEx(bytes: Uint8Array, arch: Arch): Decoded<AddSaEx> {
  const L = ADD_SA_EX[arch];
  if (bytes.length < L.SIZEOF_REVISION_1) {
    return truncated(FIELDS(arch), 0, L.SIZEOF_REVISION_1, bytes.length);
  }
  const dv = dataView(bytes);
  const bad = checkHeader(dv, 0, {
    type: ObjectType.NDIS_OBJECT_TYPE_DEFAULT,
    revision: Revision.NDIS_IPSEC_OFFLOAD_V2_ADD_SA_EX_REVISION_1,
    size: L.SIZEOF_REVISION_1,
  });
  if (bad) return bad;
  const body = readBody(dv, 0, L, arch);
  if (!body.ok) return body;
  const { keyLength, ...bundle } = body.value;
  const keyOffset = dv.getUint32(L.KeyOffset, true);
  let keyData = new Uint8Array(0);
  if (keyLength > 0) {
    if (keyOffset < L.SIZEOF_REVISION_1) {
      return fail(
        NdisStatus.NDIS_STATUS_INVALID_DATA,
        'KeyOffset',
        L.KeyOffset,
        `key array at 0x${keyOffset.toString(16)} overlaps the structure (ends at 0x${L.SIZEOF_REVISION_1.toString(16)})`
      );
    }
    const needed = keyOffset + keyLength;
    if (needed > bytes.length) return tooShort('KeyLength', L.KeyLength, needed, bytes.length);
    keyData = bytes.slice(keyOffset, needed);
  }
  return {
    ok: true,
    value: {
      ...bundle,
      keyData,
      keyOffset,
      sourceSwitchPortId: dv.getUint32(L.SourceSwitchPortId, true),
      vlanId: dv.getUint16(L.VlanId, true),
    },
  };
}

/** Reads the OffloadHandle of an ADD_SA_EX buffer. */
export function readAddSaExHandle(bytes: Uint8Array, arch: Arch): bigint {
  checkSize('readAddSaExHandle', bytes, arch);
  return readPointer(dataView(bytes), ADD_SA_EX[arch].OffloadHandle, arch);
}

/** Writes the OID's output, the OffloadHandle (NULL on failure); RangeError if it does not fit. */
export function writeAddSaExHandle(bytes: Uint8Array, handle: bigint, arch: Arch): void {
  checkSize('writeAddSaExHandle', bytes, arch);
  writePointer(
    dataView(bytes),
    ADD_SA_EX[arch].OffloadHandle,
    handle,
    arch,
    'IPSEC_OFFLOAD_V2_ADD_SA_EX.OffloadHandle'
  );
}

/** Throws a RangeError unless the fixed part of the structure fits in `bytes`. */
function checkSize(where: string, bytes: Uint8Array, arch: Arch): void {
  const size = ADD_SA_EX[arch].SIZEOF_REVISION_1;
  if (bytes.length < size)
    throw new RangeError(`${where}: expected at least ${size} bytes, got ${bytes.length}`);
}
