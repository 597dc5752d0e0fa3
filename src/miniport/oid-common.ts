/**
 * @module
 * What every OID handler of the control path shares: the completion record, the short operation
 * names for counters and the two refusal counters of contract §4 (`oid.<op>.malformed:<field>`,
 * `oid.<op>.reject:<reason>`). Used by ctrlpath.ts (the dispatcher), oid-sa.ts and oid-config.ts.
 * Pages: "MiniportOidRequest", "NDIS_OID_REQUEST".
 */
import type { Failure } from '../ndis/abi.ts';
import { Oid, oidName } from '../ndis/oid.ts';
import type { NdisStatus } from '../ndis/status.ts';
import type { OidRequest, OidResult } from './ctrlpath.ts';
import type { Miniport } from './miniport.ts';

/** Short names for counters: `oid.<op>.…`. */
const OPS: ReadonlyMap<number, string> = new Map([
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA, 'add-sa'],
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX, 'add-sa-ex'],
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA, 'delete-sa'],
  [Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA, 'update-sa'],
  [Oid.OID_TCP_OFFLOAD_PARAMETERS, 'offload-parameters'],
  [Oid.OID_OFFLOAD_ENCAPSULATION, 'offload-encapsulation'],
  [Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 'hardware-capabilities'],
  [Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG, 'current-config'],
]);

export function done(
  status: NdisStatus,
  bytesRead = 0,
  bytesWritten = 0,
  bytesNeeded = 0
): OidResult {
  return { status, bytesRead, bytesWritten, bytesNeeded };
}

export function op(request: OidRequest): string {
  return OPS.get(request.oid) ?? oidName(request.oid);
}

/** A buffer that does not decode: the decoder's D15 status, counted by field. */
export function malformed(mp: Miniport, request: OidRequest, f: Failure): OidResult {
  mp.counters.add(`oid.${op(request)}.malformed:${f.field}`);
  return done(f.status, 0, 0, f.bytesNeeded ?? 0);
}

export function reject(mp: Miniport, request: OidRequest, reason: string): void {
  mp.counters.add(`oid.${op(request)}.reject:${reason}`);
}
