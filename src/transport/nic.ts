/**
 * @module
 * What the transport sees of its NIC: the two NDIS entry points it calls (an OID request and
 * MiniportSendNetBufferLists through NdisSendNetBufferLists). Completions
 * (NdisMSendNetBufferListsComplete), receive indications (NdisMIndicateReceiveNetBufferLists) and
 * status indications come back through callbacks the host wires (sim). The transport never
 * imports the miniport (contract §2): any object with these methods is a NIC.
 */
import type { NetBufferList } from '../ndis/nbl.ts';

/** An OID request as NDIS passes it (type, OID, buffer; `baseAddress` for `Next` pointers). */
export interface NicOidRequest {
  readonly type: 'set' | 'query';
  readonly oid: number;
  readonly buffer: Uint8Array;
  readonly baseAddress?: bigint;
}

/** An OID request's outcome. */
export interface NicOidResult {
  readonly status: number;
  readonly bytesRead: number;
  readonly bytesWritten: number;
  readonly bytesNeeded: number;
}

/** The NIC as the transport drives it. */
export interface Nic {
  oidRequest(request: NicOidRequest): NicOidResult;
  sendNetBufferLists(first: NetBufferList | null): void;
}
