/**
 * @module
 * Typed accessors over the NBL out-of-band structures that IPsec offload v2 uses, at their exact
 * bit positions, each as an encode/decode pair to and from the raw slot value so a value copied
 * from a Windows trace round-trips. Pages and headers: "NDIS_IPSEC_OFFLOAD_V2_NET_BUFFER_LIST_INFO",
 * "NDIS_IPSEC_OFFLOAD_V2_TUNNEL_NET_BUFFER_LIST_INFO", "NDIS_IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO"
 * (ndis.h), "NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO" (nbllso.h),
 * "NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO" (nblchecksum.h). Reference: ndis-ipsecov2.md
 * §2.9–§2.12, Appendix A.
 *
 * MSVC allocates bit-fields from bit 0 of the ULONG upward (§2, confirmed by PDB bit positions),
 * and every bit-field union lives in the low 32 bits of the pointer-sized slot: those encode to a
 * `number` (u32); the handle members (`OffloadHandle`, `TunnelHandle`) are the whole slot and
 * encode to a `bigint` (u64). Field names are Microsoft's; 1-bit fields are 0 or 1 as in C.
 * Bits the header leaves unnamed are kept as `Unnamed` so every u32 round-trips.
 *
 * Units: `AhHeaderOffset`/`EspHeaderOffset` are raw 4-byte units, as on the wire (contract D4);
 * {@link ahHeaderOffsetBytes}, {@link espHeaderOffsetBytes} and {@link headerOffsetUnits} convert.
 * `TcpHeaderOffset` (LSO and checksum) is in bytes from the start of the frame.
 */
import { needUint } from '../wire/bytes.ts';
import { NetBufferListInfo, type NetBufferList } from './nbl.ts';

/** Where a bit-field sits in its ULONG: the lowest bit and the width. */
export interface BitField {
  readonly shift: number;
  readonly width: number;
}

/** A bit layout: Microsoft's field names mapped to their positions. */
export type BitLayout = Readonly<Record<string, BitField>>;

/** The decoded fields of a layout, each a number. */
export type Fields<L extends BitLayout> = { readonly [K in keyof L]: number };

/** Encoder input: like {@link Fields}, but the fields named in `R` (reserved bits) may be left out (0). */
export type FieldsInit<L extends BitLayout, R extends keyof L = never> = {
  readonly [K in Exclude<keyof L, R>]: number;
} & { readonly [K in R]?: number };

// ---------------------------------------------------------------------------------------------
// Layouts (one table per structure; bit 0 = least significant).
// ---------------------------------------------------------------------------------------------

/** NDIS_IPSEC_OFFLOAD_V2_NET_BUFFER_LIST_INFO.Receive, slot 1 (ndis.h; §2.9). */
export const IpsecReceive = {
  SaDeleteReq: { shift: 0, width: 1 },
  CryptoDone: { shift: 1, width: 1 },
  NextCryptoDone: { shift: 2, width: 1 },
  Reserved: { shift: 3, width: 13 },
  CryptoStatus: { shift: 16, width: 16 },
} as const;

/** NDIS_IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO.Transmit, slot 12 (ndis.h; §2.11). */
export const HeaderTransmit = {
  NextHeader: { shift: 0, width: 8 },
  PadLength: { shift: 8, width: 8 },
  // (byte offset of the AH header from the start of the IP header) / 4.
  AhHeaderOffset: { shift: 16, width: 8 },
  // (byte offset of the ESP header from the start of the IP header) / 4.
  EspHeaderOffset: { shift: 24, width: 8 },
} as const;

/** NDIS_IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO.Receive, slot 12 (ndis.h; §2.11). */
export const HeaderReceive = {
  NextHeader: { shift: 0, width: 8 },
  PadLength: { shift: 8, width: 8 },
  HeaderInfoSet: { shift: 16, width: 1 },
  // Model: bits 17–31 are unnamed in ndis.h; kept so raw values round-trip.
  Unnamed: { shift: 17, width: 15 },
} as const;

/** NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO.Transmit, slot 2: just the Type (nbllso.h). */
export const LsoTransmit = {
  Unused: { shift: 0, width: 30 },
  Type: { shift: 30, width: 1 },
  Reserved2: { shift: 31, width: 1 },
} as const;

/** …LsoV1Transmit, slot 2 (nbllso.h; §2.12). */
export const LsoV1Transmit = {
  MSS: { shift: 0, width: 20 },
  TcpHeaderOffset: { shift: 20, width: 10 },
  Type: { shift: 30, width: 1 },
  Reserved2: { shift: 31, width: 1 },
} as const;

/** …LsoV2Transmit, slot 2 (nbllso.h; §2.12); IPVersion 0 = IPv4, 1 = IPv6. */
export const LsoV2Transmit = {
  MSS: { shift: 0, width: 20 },
  TcpHeaderOffset: { shift: 20, width: 10 },
  Type: { shift: 30, width: 1 },
  IPVersion: { shift: 31, width: 1 },
} as const;

/** …LsoV1TransmitComplete, slot 2: the TCP payload bytes sent (nbllso.h; §2.12). */
export const LsoV1TransmitComplete = {
  TcpPayload: { shift: 0, width: 30 },
  Type: { shift: 30, width: 1 },
  Reserved2: { shift: 31, width: 1 },
} as const;

/** …LsoV2TransmitComplete, slot 2: Reserved must be 0 at completion (nbllso.h; §2.12). */
export const LsoV2TransmitComplete = {
  Reserved: { shift: 0, width: 30 },
  Type: { shift: 30, width: 1 },
  Reserved2: { shift: 31, width: 1 },
} as const;

/** NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO.Transmit, slot 0 (nblchecksum.h; §2.12). */
export const ChecksumTransmit = {
  IsIPv4: { shift: 0, width: 1 },
  IsIPv6: { shift: 1, width: 1 },
  TcpChecksum: { shift: 2, width: 1 },
  UdpChecksum: { shift: 3, width: 1 },
  IpHeaderChecksum: { shift: 4, width: 1 },
  Reserved: { shift: 5, width: 11 },
  TcpHeaderOffset: { shift: 16, width: 10 },
  // Model: bits 26–31 are unnamed in nblchecksum.h; kept so raw values round-trip.
  Unnamed: { shift: 26, width: 6 },
} as const;

/** NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO.Receive, slot 0 (nblchecksum.h; §2.12). */
export const ChecksumReceive = {
  TcpChecksumFailed: { shift: 0, width: 1 },
  UdpChecksumFailed: { shift: 1, width: 1 },
  IpChecksumFailed: { shift: 2, width: 1 },
  TcpChecksumSucceeded: { shift: 3, width: 1 },
  UdpChecksumSucceeded: { shift: 4, width: 1 },
  IpChecksumSucceeded: { shift: 5, width: 1 },
  Loopback: { shift: 6, width: 1 },
  // NDIS 6.30 and later.
  TcpChecksumValueInvalid: { shift: 7, width: 1 },
  IpChecksumValueInvalid: { shift: 8, width: 1 },
  // Model: bits 9–31 are unnamed in nblchecksum.h; kept so raw values round-trip.
  Unnamed: { shift: 9, width: 23 },
} as const;

/** The decoded receive IPsec info (slot 1). */
export type IpsecReceiveFields = Fields<typeof IpsecReceive>;
/** The decoded transmit header info (slot 12). */
export type HeaderTransmitFields = Fields<typeof HeaderTransmit>;
/** The decoded receive header info (slot 12). */
export type HeaderReceiveFields = Fields<typeof HeaderReceive>;
/** The decoded LSO Transmit view (slot 2). */
export type LsoTransmitFields = Fields<typeof LsoTransmit>;
/** The decoded LSOv1 transmit info (slot 2). */
export type LsoV1TransmitFields = Fields<typeof LsoV1Transmit>;
/** The decoded LSOv2 transmit info (slot 2). */
export type LsoV2TransmitFields = Fields<typeof LsoV2Transmit>;
/** The decoded LSOv1 completion info (slot 2). */
export type LsoV1TransmitCompleteFields = Fields<typeof LsoV1TransmitComplete>;
/** The decoded LSOv2 completion info (slot 2). */
export type LsoV2TransmitCompleteFields = Fields<typeof LsoV2TransmitComplete>;
/** The decoded checksum transmit info (slot 0). */
export type ChecksumTransmitFields = Fields<typeof ChecksumTransmit>;
/** The decoded checksum receive info (slot 0). */
export type ChecksumReceiveFields = Fields<typeof ChecksumReceive>;

// ---------------------------------------------------------------------------------------------
// Generic bit-field access.
// ---------------------------------------------------------------------------------------------

/** Reads one bit-field out of a raw u32 (allocation-free, for hot paths). */
export function getField(raw: number, field: BitField): number {
  const v = raw >>> field.shift;
  // A field that reaches bit 31 needs no mask (and `1 << 32` would not make one).
  return field.shift + field.width >= 32 ? v : v & ((1 << field.width) - 1);
}

/**
 * Returns `raw` with one bit-field replaced by `value`; throws a RangeError naming `name`, the
 * width and the value when `value` does not fit.
 */
export function setField(raw: number, field: BitField, value: number, name = 'field'): number {
  const max = 2 ** field.width - 1;
  if (!Number.isInteger(value) || value < 0 || value > max) {
    throw new RangeError(
      `${name}: expected an integer from 0 to ${max} (${field.width}-bit field), got ${value}`
    );
  }
  const mask = max * 2 ** field.shift;
  // Unsigned arithmetic in doubles: bit 31 must not turn the result negative.
  return ((raw >>> 0) - ((raw >>> 0) & mask) + value * 2 ** field.shift) >>> 0;
}

/** Decodes every field of `layout` from a raw u32 slot value. */
function decode<L extends BitLayout>(where: string, layout: L, raw: number): Fields<L> {
  needUint(where, raw, 0xffff_ffff);
  const out: Record<string, number> = {};
  for (const name of Object.keys(layout)) out[name] = getField(raw, layout[name]);
  return out as Fields<L>;
}

/** Encodes `fields` (missing ones as 0) into a raw u32; RangeError if a value does not fit. */
function encode<L extends BitLayout>(
  where: string,
  layout: L,
  fields: Readonly<Partial<Record<keyof L, number>>>
): number {
  let raw = 0;
  for (const name of Object.keys(layout)) {
    raw = setField(raw, layout[name], fields[name] ?? 0, `${where}.${name}`);
  }
  return raw;
}

// ---------------------------------------------------------------------------------------------
// Slot 1: NDIS_IPSEC_OFFLOAD_V2_NET_BUFFER_LIST_INFO.
// ---------------------------------------------------------------------------------------------

/** Transmit view of slot 1: the outbound SA bundle's handle (the whole slot; 0 = no IPsec work). */
export interface IpsecTransmitFields {
  readonly OffloadHandle: bigint;
}

/** Encodes slot 1 for transmit: the raw slot value is the OffloadHandle itself. */
export function encodeIpsecTransmit(fields: IpsecTransmitFields): bigint {
  return handle('IpsecTransmit.OffloadHandle', fields.OffloadHandle);
}

/** Decodes slot 1 for transmit. */
export function decodeIpsecTransmit(raw: bigint): IpsecTransmitFields {
  return { OffloadHandle: handle('IpsecTransmit', raw) };
}

/** Encodes slot 1 for receive (SaDeleteReq, CryptoDone, NextCryptoDone, CryptoStatus). */
export function encodeIpsecReceive(fields: FieldsInit<typeof IpsecReceive, 'Reserved'>): number {
  return encode('IpsecReceive', IpsecReceive, fields);
}

/** Decodes slot 1 for receive from its low 32 bits. */
export function decodeIpsecReceive(raw: number): IpsecReceiveFields {
  return decode('IpsecReceive', IpsecReceive, raw);
}

// ---------------------------------------------------------------------------------------------
// Slot 11: NDIS_IPSEC_OFFLOAD_V2_TUNNEL_NET_BUFFER_LIST_INFO.
// ---------------------------------------------------------------------------------------------

/** Transmit view of slot 11: the outbound tunnel SA's handle in transport-over-tunnel. */
export interface TunnelTransmitFields {
  readonly TunnelHandle: bigint;
}

/** Encodes slot 11: the raw slot value is the TunnelHandle itself. */
export function encodeTunnelTransmit(fields: TunnelTransmitFields): bigint {
  return handle('TunnelTransmit.TunnelHandle', fields.TunnelHandle);
}

/** Decodes slot 11. */
export function decodeTunnelTransmit(raw: bigint): TunnelTransmitFields {
  return { TunnelHandle: handle('TunnelTransmit', raw) };
}

// ---------------------------------------------------------------------------------------------
// Slot 12: NDIS_IPSEC_OFFLOAD_V2_HEADER_NET_BUFFER_LIST_INFO.
// ---------------------------------------------------------------------------------------------

/** Encodes slot 12 for transmit; offsets in 4-byte units (see {@link headerOffsetUnits}). */
export function encodeHeaderTransmit(fields: FieldsInit<typeof HeaderTransmit>): number {
  return encode('HeaderTransmit', HeaderTransmit, fields);
}

/** Decodes slot 12 for transmit. */
export function decodeHeaderTransmit(raw: number): HeaderTransmitFields {
  return decode('HeaderTransmit', HeaderTransmit, raw);
}

/** Encodes slot 12 for receive (NextHeader, PadLength, HeaderInfoSet). */
export function encodeHeaderReceive(fields: FieldsInit<typeof HeaderReceive, 'Unnamed'>): number {
  return encode('HeaderReceive', HeaderReceive, fields);
}

/** Decodes slot 12 for receive. */
export function decodeHeaderReceive(raw: number): HeaderReceiveFields {
  return decode('HeaderReceive', HeaderReceive, raw);
}

/** AhHeaderOffset in bytes from the start of the (outermost) IP header. */
export function ahHeaderOffsetBytes(fields: Pick<HeaderTransmitFields, 'AhHeaderOffset'>): number {
  return fields.AhHeaderOffset * 4;
}

/** EspHeaderOffset in bytes from the start of the (outermost) IP header. */
export function espHeaderOffsetBytes(
  fields: Pick<HeaderTransmitFields, 'EspHeaderOffset'>
): number {
  return fields.EspHeaderOffset * 4;
}

/**
 * A header byte offset in the 4-byte units of AhHeaderOffset/EspHeaderOffset (ndis.h: "in 4 byte
 * increments"); throws a RangeError unless `bytes` is a multiple of 4 from 0 to 1020.
 */
export function headerOffsetUnits(bytes: number, name = 'headerOffsetUnits'): number {
  if (!Number.isInteger(bytes) || bytes < 0 || bytes > 1020 || bytes % 4 !== 0) {
    throw new RangeError(
      `${name}: expected a multiple of 4 bytes from 0 to 1020 (8-bit field of 4-byte units), got ${bytes}`
    );
  }
  return bytes / 4;
}

// ---------------------------------------------------------------------------------------------
// Slot 2: NDIS_TCP_LARGE_SEND_OFFLOAD_NET_BUFFER_LIST_INFO.
// ---------------------------------------------------------------------------------------------

/** Decodes the common Transmit view of slot 2 (its Type tells LSOv1 from LSOv2). */
export function decodeLsoTransmit(raw: number): LsoTransmitFields {
  return decode('LsoTransmit', LsoTransmit, raw);
}

/** Encodes slot 2 as LsoV1Transmit {MSS, TcpHeaderOffset, Type}. */
export function encodeLsoV1Transmit(fields: FieldsInit<typeof LsoV1Transmit, 'Reserved2'>): number {
  return encode('LsoV1Transmit', LsoV1Transmit, fields);
}

/** Decodes slot 2 as LsoV1Transmit. */
export function decodeLsoV1Transmit(raw: number): LsoV1TransmitFields {
  return decode('LsoV1Transmit', LsoV1Transmit, raw);
}

/** Encodes slot 2 as LsoV2Transmit {MSS, TcpHeaderOffset, Type, IPVersion}. */
export function encodeLsoV2Transmit(fields: FieldsInit<typeof LsoV2Transmit>): number {
  return encode('LsoV2Transmit', LsoV2Transmit, fields);
}

/** Decodes slot 2 as LsoV2Transmit. */
export function decodeLsoV2Transmit(raw: number): LsoV2TransmitFields {
  return decode('LsoV2Transmit', LsoV2Transmit, raw);
}

/** Encodes slot 2 as LsoV1TransmitComplete {TcpPayload, Type}. */
export function encodeLsoV1TransmitComplete(
  fields: FieldsInit<typeof LsoV1TransmitComplete, 'Reserved2'>
): number {
  return encode('LsoV1TransmitComplete', LsoV1TransmitComplete, fields);
}

/** Decodes slot 2 as LsoV1TransmitComplete. */
export function decodeLsoV1TransmitComplete(raw: number): LsoV1TransmitCompleteFields {
  return decode('LsoV1TransmitComplete', LsoV1TransmitComplete, raw);
}

/** Encodes slot 2 as LsoV2TransmitComplete {Reserved = 0, Type}. */
export function encodeLsoV2TransmitComplete(
  fields: FieldsInit<typeof LsoV2TransmitComplete, 'Reserved' | 'Reserved2'>
): number {
  return encode('LsoV2TransmitComplete', LsoV2TransmitComplete, fields);
}

/** Decodes slot 2 as LsoV2TransmitComplete. */
export function decodeLsoV2TransmitComplete(raw: number): LsoV2TransmitCompleteFields {
  return decode('LsoV2TransmitComplete', LsoV2TransmitComplete, raw);
}

// ---------------------------------------------------------------------------------------------
// Slot 0: NDIS_TCP_IP_CHECKSUM_NET_BUFFER_LIST_INFO.
// ---------------------------------------------------------------------------------------------

/** Encodes slot 0 for transmit {IsIPv4, IsIPv6, TcpChecksum, UdpChecksum, IpHeaderChecksum, TcpHeaderOffset}. */
export function encodeChecksumTransmit(
  fields: FieldsInit<typeof ChecksumTransmit, 'Reserved' | 'Unnamed'>
): number {
  return encode('ChecksumTransmit', ChecksumTransmit, fields);
}

/** Decodes slot 0 for transmit. */
export function decodeChecksumTransmit(raw: number): ChecksumTransmitFields {
  return decode('ChecksumTransmit', ChecksumTransmit, raw);
}

/** Encodes slot 0 for receive (the …Failed / …Succeeded / Loopback / …ValueInvalid bits). */
export function encodeChecksumReceive(
  fields: FieldsInit<
    typeof ChecksumReceive,
    'Unnamed' | 'Loopback' | 'TcpChecksumValueInvalid' | 'IpChecksumValueInvalid'
  >
): number {
  return encode('ChecksumReceive', ChecksumReceive, fields);
}

/** Decodes slot 0 for receive. */
export function decodeChecksumReceive(raw: number): ChecksumReceiveFields {
  return decode('ChecksumReceive', ChecksumReceive, raw);
}

// ---------------------------------------------------------------------------------------------
// The same, read from and written to an NBL's slots.
// ---------------------------------------------------------------------------------------------

const SLOT_CHECKSUM = NetBufferListInfo.TcpIpChecksumNetBufferListInfo;
const SLOT_IPSEC = NetBufferListInfo.IPsecOffloadV2NetBufferListInfo;
const SLOT_LSO = NetBufferListInfo.TcpLargeSendNetBufferListInfo;
const SLOT_TUNNEL = NetBufferListInfo.IPsecOffloadV2TunnelNetBufferListInfo;
const SLOT_HEADER = NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo;

/** The NBL's Transmit.OffloadHandle (slot 1); 0n = no IPsec offload for this NBL. */
export function getOffloadHandle(nbl: NetBufferList): bigint {
  return nbl.info.get(SLOT_IPSEC);
}

/** Sets the NBL's Transmit.OffloadHandle (slot 1). */
export function setOffloadHandle(nbl: NetBufferList, offloadHandle: bigint): void {
  nbl.info.set(SLOT_IPSEC, encodeIpsecTransmit({ OffloadHandle: offloadHandle }));
}

/** The NBL's Transmit.TunnelHandle (slot 11); 0n = none. */
export function getTunnelHandle(nbl: NetBufferList): bigint {
  return nbl.info.get(SLOT_TUNNEL);
}

/** Sets the NBL's Transmit.TunnelHandle (slot 11). */
export function setTunnelHandle(nbl: NetBufferList, tunnelHandle: bigint): void {
  nbl.info.set(SLOT_TUNNEL, encodeTunnelTransmit({ TunnelHandle: tunnelHandle }));
}

/** The NBL's IPsec receive info (slot 1). */
export function getIpsecReceive(nbl: NetBufferList): IpsecReceiveFields {
  return decodeIpsecReceive(nbl.info.getU32(SLOT_IPSEC));
}

/** Sets the NBL's IPsec receive info (slot 1). */
export function setIpsecReceive(
  nbl: NetBufferList,
  fields: FieldsInit<typeof IpsecReceive, 'Reserved'>
): void {
  nbl.info.setU32(SLOT_IPSEC, encodeIpsecReceive(fields));
}

/** The NBL's transmit header info (slot 12). */
export function getHeaderTransmit(nbl: NetBufferList): HeaderTransmitFields {
  return decodeHeaderTransmit(nbl.info.getU32(SLOT_HEADER));
}

/** Sets the NBL's transmit header info (slot 12). */
export function setHeaderTransmit(
  nbl: NetBufferList,
  fields: FieldsInit<typeof HeaderTransmit>
): void {
  nbl.info.setU32(SLOT_HEADER, encodeHeaderTransmit(fields));
}

/** The NBL's receive header info (slot 12). */
export function getHeaderReceive(nbl: NetBufferList): HeaderReceiveFields {
  return decodeHeaderReceive(nbl.info.getU32(SLOT_HEADER));
}

/** Sets the NBL's receive header info (slot 12). */
export function setHeaderReceive(
  nbl: NetBufferList,
  fields: FieldsInit<typeof HeaderReceive, 'Unnamed'>
): void {
  nbl.info.setU32(SLOT_HEADER, encodeHeaderReceive(fields));
}

/** The raw LSO slot (2) as a u32; decode it with the view its Type selects. */
export function getLso(nbl: NetBufferList): number {
  return nbl.info.getU32(SLOT_LSO);
}

/** Sets the raw LSO slot (2) from an encoded u32 (e.g. {@link encodeLsoV2Transmit}). */
export function setLso(nbl: NetBufferList, raw: number): void {
  nbl.info.setU32(SLOT_LSO, raw);
}

/** The raw checksum slot (0) as a u32. */
export function getChecksum(nbl: NetBufferList): number {
  return nbl.info.getU32(SLOT_CHECKSUM);
}

/** Sets the raw checksum slot (0) from an encoded u32. */
export function setChecksum(nbl: NetBufferList, raw: number): void {
  nbl.info.setU32(SLOT_CHECKSUM, raw);
}

/** Checks that a handle is an unsigned 64-bit value; returns it. */
function handle(name: string, value: bigint): bigint {
  if (value < 0n || value > 0xffff_ffff_ffff_ffffn) {
    throw new RangeError(
      `${name}: expected a value from 0 to 2^64-1 (a 64-bit slot), got ${value}`
    );
  }
  return value;
}
