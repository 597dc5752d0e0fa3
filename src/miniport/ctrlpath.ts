/**
 * @module
 * The miniport's control path: MiniportOidRequest and MiniportDirectOidRequest in one entry point,
 * shaped like netvmini's `ctrlpath.c` (one `switch (oid)`, a paraphrase of each OID's documented
 * meaning above its case, unknown OIDs → NDIS_STATUS_NOT_SUPPORTED). Pages:
 * "OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA", "…_ADD_SA_EX", "…_DELETE_SA", "…_UPDATE_SA",
 * "Managing Security Associations in IPsec Offload Version 2", "OID_TCP_OFFLOAD_PARAMETERS",
 * "OID_OFFLOAD_ENCAPSULATION", "NDIS_OFFLOAD_ENCAPSULATION", "OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES",
 * "OID_TCP_OFFLOAD_CURRENT_CONFIG", "Direct OID Request Interface in NDIS 6.1".
 * Reference: ndis-ipsecov2.md §1.2, §1.3, §3.1, §3.2, §4.3, §6 items 8 and 10; contract D12, D15, D16.
 *
 * Failure kinds (contract §4): every refusal is an NDIS status on the request plus a named counter
 * (`oid.<op>.malformed:<field>` for bytes that do not decode, `oid.<op>.reject:<reason>` for what
 * the NIC refuses); nothing a caller puts into an InformationBuffer makes this module throw. A
 * refused request changes nothing: every request is judged completely before it is applied.
 *
 * Model: the miniport does not distinguish MiniportOidRequest from MiniportDirectOidRequest. Every
 * request completes synchronously (never NDIS_STATUS_PENDING), so requests are serialized by
 * construction; the unserialized direct-OID rules of NDIS 6.1 have nothing to act on.
 *
 * The handlers live beside it: the SA OIDs in oid-sa.ts, the configuration OIDs and the capability
 * queries in oid-config.ts, the completion and refusal helpers they share in oid-common.ts.
 */
import { Oid, oidName, type NdisOid } from '../ndis/oid.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import { HALTED_OID_STATUS } from './lifecycle.ts';
import type { Miniport } from './miniport.ts';
import { done } from './oid-common.ts';
import {
  currentOffload,
  hardwareCapabilities,
  offloadEncapsulation,
  offloadParameters,
  queryIpsec,
} from './oid-config.ts';
import { addSa, addSaEx, deleteSa, updateSa } from './oid-sa.ts';

/** One NDIS_OID_REQUEST as the model sees it: a set or a query of one OID with its buffer. */
export interface OidRequest {
  /** NdisRequestSetInformation or NdisRequestQueryInformation. */
  readonly type: 'set' | 'query';
  readonly oid: NdisOid;
  /** InformationBuffer (InformationBufferLength = its length); ADD_SA handles are written into it. */
  readonly buffer: Uint8Array;
  /**
   * The address the buffer sits at, for OID structures linked by absolute `Next` pointers
   * (contract D15); default 0, i.e. `Next` values are offsets from the buffer's start.
   */
  readonly baseAddress?: bigint;
}

/** How an OID request completed: its status and NDIS_OID_REQUEST's byte counts. */
export interface OidResult {
  readonly status: NdisStatus;
  /** Set: bytes of the buffer the miniport consumed (all of them on success). */
  readonly bytesRead: number;
  /** Query: bytes written into the buffer. */
  readonly bytesWritten: number;
  /** With NDIS_STATUS_BUFFER_TOO_SHORT (or INVALID_LENGTH): the buffer length that would do. */
  readonly bytesNeeded: number;
}

// ---------------------------------------------------------------------------------------------
// The entry point.
// ---------------------------------------------------------------------------------------------

const S = NdisStatus;

/**
 * Handles one OID request (MiniportOidRequest / MiniportDirectOidRequest) and returns how it
 * completed; counts `oid.request:<OID>` and `oid.status:<OID>:<STATUS>` for every request.
 * Throws only for our own misuse: a `baseAddress` that is not pointer-aligned.
 */
export function oidRequest(mp: Miniport, request: OidRequest): OidResult {
  const name = oidName(request.oid);
  mp.counters.add(`oid.request:${name}`);
  let result: OidResult;
  if (mp.state === 'halted') {
    // MiniportHaltEx has run: the adapter takes no more requests (lifecycle.ts).
    mp.counters.add(`oid.refused:halted`);
    result = done(HALTED_OID_STATUS);
  } else {
    const set = request.type === 'set';
    switch (request.oid) {
      // Adds one or more SAs (a linked list of IPSEC_OFFLOAD_V2_ADD_SA); the miniport writes a
      // handle into each entry it offloads, NULL into each it cannot; success if any was offloaded.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA:
        result = set ? addSa(mp, request) : notSupported(mp, request);
        break;

      // Adds one SA bundle (IPSEC_OFFLOAD_V2_ADD_SA_EX, NDIS 6.30); success iff it was offloaded,
      // otherwise its handle is NULL.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX:
        result = set ? addSaEx(mp, request) : notSupported(mp, request);
        break;

      // Deletes the SA bundles named by a linked list of IPSEC_OFFLOAD_V2_DELETE_SA and frees
      // their resources; NDIS_STATUS_NOT_ACCEPTED while the miniport is resetting.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA:
        result = set ? deleteSa(mp, request) : notSupported(mp, request);
        break;

      // Gives an ESN SA new high-order sequence-number bits (IPSEC_OFFLOAD_V2_UPDATE_SA);
      // NDIS_STATUS_INVALID_PARAMETER if the SA is unknown or does not use ESN.
      case Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA:
        result = set ? updateSa(mp, request) : notSupported(mp, request);
        break;

      // Sets the current TCP/IP offload configuration (NDIS_OFFLOAD_PARAMETERS); the miniport then
      // indicates NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG. Query requests are not supported.
      case Oid.OID_TCP_OFFLOAD_PARAMETERS:
        result = set ? offloadParameters(mp, request) : notSupported(mp, request);
        break;

      // Sets the encapsulation for task offload and activates the configured offloads; receive
      // offloads start only now. NDIS answers the query itself.
      case Oid.OID_OFFLOAD_ENCAPSULATION:
        result = set ? offloadEncapsulation(mp, request) : notSupported(mp, request);
        break;

      // Queries the offload capabilities the hardware supports (NDIS_OFFLOAD).
      case Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES:
        result = set
          ? notSupported(mp, request)
          : queryIpsec(request, hardwareCapabilities(mp).IPsecV2);
        break;

      // Queries the current offload configuration (NDIS_OFFLOAD).
      // Model: NDIS answers this query from the miniport's last indication; here the miniport does.
      case Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG:
        result = set ? notSupported(mp, request) : queryIpsec(request, currentOffload(mp).IPsecV2);
        break;

      default:
        result = notSupported(mp, request);
        break;
    }
  }
  mp.counters.add(`oid.status:${name}:${statusName(result.status)}`);
  return result;
}

/** netvmini: an OID (or a request type of it) the miniport does not handle. */
function notSupported(mp: Miniport, request: OidRequest): OidResult {
  mp.counters.add(`oid.not-supported:${oidName(request.oid)}:${request.type}`);
  return done(S.NDIS_STATUS_NOT_SUPPORTED);
}
