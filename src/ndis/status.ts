/**
 * @module
 * NDIS_STATUS codes used by the IPsec offload v2 model, spelled and valued as in Microsoft's WDK
 * `ndis.h` ("status codes returned by drivers", "new status codes used in NDIS 6", "offload
 * specific status indication codes") and `ntstatus.h`. Reference: ndis-ipsecov2.md §3.2.
 *
 * Status codes are an open set (style practice 6): an NBL or OID may carry any 32-bit value, and
 * {@link statusName} prints unknown ones as `0x…` hex so a value from a Windows trace survives.
 */

/** The NDIS_STATUS values this model names; keys are Microsoft's macro names. */
export const NdisStatus = {
  // ndis.h: NDIS_STATUS_SUCCESS = STATUS_SUCCESS.
  NDIS_STATUS_SUCCESS: 0x00000000,
  // ndis.h: NDIS_STATUS_PENDING = STATUS_PENDING; an OID or send completes later.
  NDIS_STATUS_PENDING: 0x00000103,
  NDIS_STATUS_NOT_RECOGNIZED: 0x00010001,
  NDIS_STATUS_NOT_COPIED: 0x00010002,
  // DELETE_SA while the miniport is resetting (OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA page).
  NDIS_STATUS_NOT_ACCEPTED: 0x00010003,
  // Offload status indications (ndis.h "offload specific status indication codes").
  NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG: 0x40020006,
  NDIS_STATUS_TASK_OFFLOAD_HARDWARE_CAPABILITIES: 0x40020007,
  // Microsoft's spelling (sic: "ENCASPULATION") in ndis.h.
  NDIS_STATUS_OFFLOAD_ENCASPULATION_CHANGE: 0x40020008,
  // ndis.h: NDIS_STATUS_BUFFER_OVERFLOW = STATUS_BUFFER_OVERFLOW.
  NDIS_STATUS_BUFFER_OVERFLOW: 0x80000005,
  // ndis.h: NDIS_STATUS_FAILURE = STATUS_UNSUCCESSFUL; a send whose SA handle is unknown (D8).
  NDIS_STATUS_FAILURE: 0xc0000001,
  // ndis.h: NDIS_STATUS_INVALID_PARAMETER = STATUS_INVALID_PARAMETER (UPDATE_SA of an unknown SA).
  NDIS_STATUS_INVALID_PARAMETER: 0xc000000d,
  // ndis.h: NDIS_STATUS_RESOURCES = STATUS_INSUFFICIENT_RESOURCES (SA capacity exhausted, D15).
  NDIS_STATUS_RESOURCES: 0xc000009a,
  // ndis.h: NDIS_STATUS_NOT_SUPPORTED = STATUS_NOT_SUPPORTED.
  NDIS_STATUS_NOT_SUPPORTED: 0xc00000bb,
  NDIS_STATUS_CLOSING: 0xc0010002,
  NDIS_STATUS_BAD_VERSION: 0xc0010004,
  NDIS_STATUS_ADAPTER_NOT_FOUND: 0xc0010006,
  NDIS_STATUS_DEVICE_FAILED: 0xc0010008,
  // DELETE_SA aborted, e.g. by MiniportResetEx.
  NDIS_STATUS_REQUEST_ABORTED: 0xc001000c,
  NDIS_STATUS_RESET_IN_PROGRESS: 0xc001000d,
  // A malformed send request (contract D9).
  NDIS_STATUS_INVALID_PACKET: 0xc001000f,
  NDIS_STATUS_ADAPTER_NOT_READY: 0xc0010011,
  // Generic OID validation: buffer length / contents (contract D15).
  NDIS_STATUS_INVALID_LENGTH: 0xc0010014,
  NDIS_STATUS_INVALID_DATA: 0xc0010015,
  NDIS_STATUS_BUFFER_TOO_SHORT: 0xc0010016,
  NDIS_STATUS_INVALID_OID: 0xc0010017,
  NDIS_STATUS_ADAPTER_REMOVED: 0xc0010018,
  // ndis.h: NDIS_STATUS_PAUSED = STATUS_NDIS_PAUSED = 0xC023002A (a paused adapter's sends, D16).
  NDIS_STATUS_PAUSED: 0xc023002a,
  // ndis.h: NDIS_STATUS_LOW_POWER_STATE = STATUS_NDIS_LOW_POWER_STATE.
  NDIS_STATUS_LOW_POWER_STATE: 0xc023002f,
} as const;

/** An NDIS_STATUS value: one of {@link NdisStatus} or any other 32-bit code (an open set). */
export type NdisStatus = number;

/** The name of each known value (first name wins if two names share a value). */
const NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries(NdisStatus)
    .reverse()
    .map(([name, value]): [number, string] => [value, name])
);

/** Microsoft's name for `value` (`NDIS_STATUS_FAILURE`), or `0x…` eight-digit hex if unknown. */
export function statusName(value: NdisStatus): string {
  return NAMES.get(value) ?? hex32(value);
}

/** True for NT_SUCCESS-style values: success (0x0…) and informational (0x4…) severities. */
export function isSuccess(value: NdisStatus): boolean {
  // ntdef.h NT_SUCCESS(Status) is ((NTSTATUS)(Status) >= 0): the top bit is clear.
  return value >>> 0 < 0x80000000;
}

/** `0x` and eight upper-case hex digits of the low 32 bits of `value`. */
function hex32(value: number): string {
  return `0x${(value >>> 0).toString(16).toUpperCase().padStart(8, '0')}`;
}
