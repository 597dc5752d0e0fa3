/**
 * @module
 * The receive NBL pool of the model NIC (issue 6: "NBL/NB … from pools"): the
 * NET_BUFFER_LIST + NET_BUFFER pairs the receive path indicates (NdisMIndicateReceiveNetBufferLists)
 * and the protocol hands back (MiniportReturnNetBufferLists: "returns ownership of NET_BUFFER_LIST
 * structures … to a miniport driver").
 *
 * Ownership: an indicated NBL belongs to the protocol until it returns it through
 * `Miniport.returnNetBufferLists`; from then on it is the miniport's again and is reused for a
 * later frame (the protocol must not read it any more). A protocol that never returns its NBLs
 * keeps them: the pool then allocates new ones, so the only cost of not returning is allocation.
 * The NET_BUFFER always views the caller's frame (the model's receive buffer) in place; the pool
 * forgets that frame on return, so it keeps no frame alive.
 *
 * Model: NDIS asks a miniport to have every indicated NBL back before MiniportPause completes;
 * the model does not wait for them (pause is synchronous).
 */
import { NetBuffer, NetBufferList } from '../ndis/nbl.ts';

/** At most this many returned NBLs are kept for reuse (more are left to the garbage collector). */
export const RX_POOL_LIMIT = 4096;

/** One miniport's pool of receive NBLs, each with one NET_BUFFER. */
export class RxNblPool {
  readonly #free: NetBufferList[] = [];
  /** MiniportReserved of a pooled NBL while it waits here (out of the pool: the pool itself). */
  readonly #returned: object = {};
  /** NBLs this pool has created (for tests and reports). */
  allocated = 0;

  /** NBLs waiting in the pool. */
  get available(): number {
    return this.#free.length;
  }

  /**
   * An NBL with one NET_BUFFER whose data is all of `frame`, its OOB zeroed and `next` null: a
   * returned one if there is one, else a new one.
   */
  take(frame: Uint8Array): NetBufferList {
    const nbl = this.#free.pop();
    if (nbl === undefined) {
      const created = new NetBufferList(new NetBuffer(frame));
      created.miniportReserved = this;
      this.allocated++;
      return created;
    }
    nbl.miniportReserved = this;
    nbl.netBuffers[0].attach(frame);
    return nbl;
  }

  /** Whether `nbl` came from this pool and is out (indicated, not yet returned). */
  owns(nbl: NetBufferList): boolean {
    return nbl.miniportReserved === this;
  }

  /**
   * MiniportReturnNetBufferLists for a chain: checks every NBL first (a RangeError naming the
   * position of one this miniport did not indicate, or returned twice), then puts them back.
   */
  giveBack(first: NetBufferList | null): void {
    let at = 0;
    for (let nbl = first; nbl !== null; nbl = nbl.next, at++) {
      if (!this.owns(nbl)) {
        const found =
          nbl.miniportReserved === this.#returned
            ? 'one already returned'
            : 'one this miniport did not indicate';
        throw new RangeError(
          `returnNetBufferLists: expected NBL ${at} of the chain to be an indicated receive NBL of this miniport, got ${found}`
        );
      }
    }
    let nbl = first;
    while (nbl !== null) {
      const next = nbl.next;
      this.#recycle(nbl);
      nbl = next;
    }
  }

  /** Back to the just-allocated state (one NB, zeroed OOB), the frame forgotten. */
  #recycle(nbl: NetBufferList): void {
    nbl.next = null;
    nbl.status = 0;
    nbl.info.clear();
    nbl.protocolReserved = undefined;
    nbl.miniportReserved = this.#returned;
    const nbs = nbl.netBuffers;
    if (nbs.length !== 1) {
      // The protocol changed the list it was lent: it is the pool's again, as one NET_BUFFER.
      const nb = nbs[0] ?? new NetBuffer();
      nbs.length = 0;
      nbs.push(nb);
    }
    nbs[0].reset();
    if (this.#free.length < RX_POOL_LIMIT) this.#free.push(nbl);
  }
}
