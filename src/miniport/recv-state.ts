/**
 * @module
 * What the NIC remembers per inbound SA for "Receiving Network Data with IPsec Offload Version 2"
 * (reference §4.2, §1.8; contract D3): the highest sequence number it authenticated — the "T" of
 * RFC 4303 Appendix A2, from which it estimates the ESN high half of each packet (it makes no
 * replay decision: the transport does anti-replay) — whether the SA has shown itself a tunnel SA,
 * and the SA's receive failures by CRYPTO_* code. The SaDeleteReq policy of the model reads it.
 *
 * Model: the state lives beside the SA table (a WeakMap keyed by the SA element), so the control
 * path's SA records stay as they are and a deleted SA's state goes with it.
 */
import { CryptoStatus } from '../ndis/oid.ts';
import { estimateHigh } from '../wire/seqnum.ts';
import type { SaElement } from './sa-table.ts';

/**
 * The replay window W the NIC assumes when it estimates a high half (RFC 4303 A2.2).
 * Model: the NIC does not know the transport's window; 2^31 centres the estimate on the highest
 * authenticated number (up to 2^31 behind or ahead), and the second candidate (D3) covers the rest.
 */
export const ESN_ESTIMATE_WINDOW: number = 2 ** 31;

/**
 * The model's SaDeleteReq threshold: fewer sequence numbers than this left before the SA's
 * counter would cycle (RFC 4303 §3.3.3: it never may) — 2^32 without ESN, 2^64 with.
 */
export const SA_DELETE_REMAINING: number = 2 ** 20;

/** The mode an inbound SA has shown: from a decrypted Next Header, an AH Next Header or its UDP-ESP type. */
export type InboundMode = 'unknown' | 'transport' | 'tunnel';

/** The receive state of one inbound SA element. */
export interface InboundSaState {
  /** At least one packet authenticated on this SA. */
  authenticated: boolean;
  /** The highest authenticated 64-bit sequence number, high and low halves (RFC 4303 A2 "T"). */
  highestHigh: number;
  highestLow: number;
  /** The mode of the last packet authenticated on the SA. */
  mode: InboundMode;
  /** Packets whose processing failed on this SA, by CryptoStatus value (index 0 stays 0). */
  readonly failures: number[];
}

const states = new WeakMap<SaElement, InboundSaState>();

/** The receive state of an inbound SA element (created empty on first use). */
export function inboundState(element: SaElement): InboundSaState {
  let state = states.get(element);
  if (state === undefined) {
    state = {
      authenticated: false,
      highestHigh: 0,
      highestLow: 0,
      mode: 'unknown',
      failures: new Array<number>(CryptoStatus.CRYPTO_INVALID_PROTOCOL + 1).fill(0),
    };
    states.set(element, state);
  }
  return state;
}

/** A 64-bit sequence number as its two 32-bit halves. */
export interface SeqHalves {
  high: number;
  low: number;
}

/** Scratch for highCandidates (the receive path is synchronous). */
const top: SeqHalves = { high: 0, low: 0 };

/** The two ESN high halves the NIC tries, in order; `second` is -1 when there is no other. */
export interface HighCandidates {
  first: number;
  second: number;
}

/**
 * Fills `out` with the high halves to try for a packet whose low half is `low` (contract D3):
 * without ESN only 0 (the transform ignores it); with ESN the RFC 4303 A2.2 estimate from the
 * highest authenticated number — or from SequenceNumberHighOrder (ADD_SA, UPDATE_SA) when that
 * is ahead — then the other of "the current and the next value", once.
 */
export function highCandidates(element: SaElement, low: number, out: HighCandidates): void {
  if (!element.esn) {
    out.first = 0;
    out.second = -1;
    return;
  }
  // T = the larger of the highest authenticated number and SequenceNumberHighOrder ‖ 0 (ADD_SA,
  // or UPDATE_SA when the transport pushed a newer high half).
  windowTop(element, top);
  candidatesAt(low, top.high, top.low, out);
}

/**
 * The ESN candidates of {@link highCandidates} for a given T = th ‖ tl (the receive batch asks
 * what they would be once T has moved). The estimate never decreases as T grows.
 */
export function candidatesAt(low: number, th: number, tl: number, out: HighCandidates): void {
  const estimate = estimateHigh(low >>> 0, (BigInt(th) << 32n) | BigInt(tl), ESN_ESTIMATE_WINDOW);
  out.first = estimate;
  // D3: "tries the current and the next value once" — the other of Th and Th + 1.
  out.second = estimate === th ? (th < 0xffff_ffff ? th + 1 : -1) : th;
}

/** The T the ESN candidates of `element` are estimated from now (see {@link highCandidates}). */
export function windowTop(element: SaElement, out: SeqHalves): void {
  const state = inboundState(element);
  const given = element.seqHigh >>> 0;
  const ahead = !state.authenticated || given > state.highestHigh;
  out.high = ahead ? given : state.highestHigh;
  out.low = ahead ? 0 : state.highestLow;
}

/** Records that sequence number high ‖ low authenticated on `element`, and the packet's mode. */
export function noteAuthenticated(
  element: SaElement,
  high: number,
  low: number,
  mode: InboundMode
): void {
  const state = inboundState(element);
  const h = element.esn ? high >>> 0 : 0;
  const l = low >>> 0;
  if (
    !state.authenticated ||
    h > state.highestHigh ||
    (h === state.highestHigh && l > state.highestLow)
  ) {
    state.highestHigh = h;
    state.highestLow = l;
  }
  state.authenticated = true;
  state.mode = mode;
}

/** Counts a failed packet on `element` under its CryptoStatus value. */
export function noteFailure(element: SaElement, cryptoStatus: number): void {
  const failures = inboundState(element).failures;
  if (cryptoStatus > 0 && cryptoStatus < failures.length) failures[cryptoStatus]++;
}

/**
 * The model's exhaustion rule for SaDeleteReq: the highest authenticated number has fewer than
 * {@link SA_DELETE_REMAINING} successors before the counter would cycle (low half without ESN,
 * the whole 64 bits with ESN).
 */
export function nearlyExhausted(element: SaElement): boolean {
  const state = states.get(element);
  if (state === undefined || !state.authenticated) return false;
  if (element.esn && state.highestHigh !== 0xffff_ffff) return false;
  return state.highestLow >= 2 ** 32 - SA_DELETE_REMAINING;
}
