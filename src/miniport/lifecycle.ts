/**
 * @module
 * The adapter's run states and the NDIS calls that move it between them: MiniportPause,
 * MiniportRestart, MiniportResetEx (with NdisMResetComplete) and MiniportHaltEx. Pages:
 * "Miniport Adapter States and Operations", "MiniportPause", "MiniportRestart", "MiniportResetEx",
 * "NdisMResetComplete", "MiniportHaltEx", "OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA" (reset),
 * "Impact of Network Interface Changes on IPsec Offloads" (V1: the miniport deletes its SAs).
 * Reference: ndis-ipsecov2.md §1.3, §3.2, §4.3; contract D16.
 *
 * What each state means for the rest of the miniport (they read `mp.state`):
 * - `paused`: sends fail with NDIS_STATUS_PAUSED (data path); OIDs are still handled, as NDIS
 *   sends OID requests to a paused miniport.
 * - `resetting`: DELETE_SA answers NDIS_STATUS_NOT_ACCEPTED (oid-sa.ts); other OIDs are handled.
 * - `halted`: every OID fails with {@link HALTED_OID_STATUS}; the SA table is empty.
 *
 * Calling one of these in a state NDIS never calls it in is our misuse: a RangeError (contract §4).
 */
import { NdisStatus } from '../ndis/status.ts';
import type { AdapterState, Miniport } from './miniport.ts';

/**
 * The status of every OID request after MiniportHaltEx (NDIS itself would not call the miniport
 * again; the model answers rather than throws so that a late transport request is visible).
 */
export const HALTED_OID_STATUS: NdisStatus = NdisStatus.NDIS_STATUS_ADAPTER_NOT_READY;

/** The state a reset returns to, per adapter. */
const beforeReset = new WeakMap<Miniport, AdapterState>();

function expectState(mp: Miniport, where: string, allowed: readonly AdapterState[]): void {
  if (!allowed.includes(mp.state)) {
    throw new RangeError(
      `${where}: expected an adapter that is ${allowed.join(' or ')}, got ${mp.state}`
    );
  }
}

/**
 * MiniportPause: running → paused; returns NDIS_STATUS_SUCCESS.
 * Model: the data path completes every NBL inside MiniportSendNetBufferLists, so no send is
 * outstanding and the pause completes at once (hardware would first complete its pending sends).
 */
export function pause(mp: Miniport): NdisStatus {
  expectState(mp, 'pause', ['running']);
  mp.state = 'paused';
  mp.counters.add('lifecycle.pause');
  return NdisStatus.NDIS_STATUS_SUCCESS;
}

/** MiniportRestart: paused → running; returns NDIS_STATUS_SUCCESS. */
export function restart(mp: Miniport): NdisStatus {
  expectState(mp, 'restart', ['paused']);
  mp.state = 'running';
  mp.counters.add('lifecycle.restart');
  return NdisStatus.NDIS_STATUS_SUCCESS;
}

/**
 * MiniportResetEx: running or paused → resetting; returns NDIS_STATUS_PENDING, and the reset lasts
 * until {@link completeReset} (NdisMResetComplete), so a scenario can act while it is in progress.
 * Model: the SA table survives a reset (a real miniport reprograms its SAs into the reset hardware
 * from its own copy); a DELETE_SA during the reset is refused with NDIS_STATUS_NOT_ACCEPTED, and
 * NDIS_STATUS_REQUEST_ABORTED never occurs because no OID request is ever pending (oid-sa.ts).
 */
export function reset(mp: Miniport): NdisStatus {
  expectState(mp, 'reset', ['running', 'paused']);
  beforeReset.set(mp, mp.state);
  mp.state = 'resetting';
  mp.counters.add('lifecycle.reset');
  return NdisStatus.NDIS_STATUS_PENDING;
}

/** NdisMResetComplete: resetting → the state the reset began in. */
export function completeReset(mp: Miniport): void {
  expectState(mp, 'completeReset', ['resetting']);
  mp.state = beforeReset.get(mp) ?? 'running';
  beforeReset.delete(mp);
  mp.counters.add('lifecycle.reset-complete');
}

/**
 * MiniportHaltEx: the miniport deletes every SA it holds — transforms destroyed, keys zeroed —
 * without a DELETE_SA from the transport (reference §1.3, D16), counts them as
 * `lifecycle.halt.sa-deleted`, and enters `halted`, from which it never returns.
 * Model: NDIS pauses an adapter before halting it; the model also halts a running one.
 */
export function halt(mp: Miniport): void {
  expectState(mp, 'halt', ['running', 'paused']);
  const handles = Array.from(mp.saTable.bundles(), (b) => b.handle);
  for (const handle of handles) mp.saTable.delete(handle);
  mp.counters.add('lifecycle.halt.sa-deleted', handles.length);
  mp.counters.add('lifecycle.halt');
  mp.state = 'halted';
}
