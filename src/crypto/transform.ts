/**
 * @module
 * The one interface every IPsec transform implements, so the miniport, the software transport
 * and the receiver never know which engine or algorithm is behind an SA (Linux `struct
 * xfrm_type`, scapy `CryptAlgo`/`AuthAlgo`). One keyed object per SA, reused for every packet;
 * `sealMany`/`openMany` take a batch so a faster engine can replace the node:crypto one later
 * without touching callers (issue 6).
 *
 * Failure kinds (contract §4): a wrong key length or ICV length throws a RangeError when the
 * transform is created; an ICV that does not verify is a value (`'icv-mismatch'`), never a throw.
 */
import type { EncryptionName, IntegrityName } from './names.ts';

/** Random bytes, injected (contract D6): core code never calls a global random generator. */
export interface Random {
  /** Fills `out` with random bytes. */
  fill(out: Uint8Array): void;
}

/** What framing needs to know about an ESP SA before any byte is written (RFC 4303 §2). */
export interface EspGeometry {
  /** Bytes of the IV field that follows the ESP header (0, 8 or 16). */
  readonly ivLength: number;
  /** Bytes of the ICV field at the end of the packet (0 when there is no integrity). */
  readonly icvLength: number;
  /** The alignment of payload ‖ padding ‖ pad length ‖ next header: max(cipher block, 4). */
  readonly padAlign: number;
}

/** The outcome of opening one ESP packet or verifying one ICV. */
export type OpenResult = 'ok' | 'icv-mismatch' | 'bad-length';

/**
 * An ESP transform keyed for one SA: encryption ‖ integrity, or a combined mode.
 *
 * A packet is the bytes from the SPI to the end of the ICV field:
 * `SPI(4) ‖ Seq(4) ‖ IV(ivLength) ‖ payload ‖ padding ‖ padLength(1) ‖ nextHeader(1) ‖ ICV(icvLength)`.
 * The sequence number's low half is read from the packet; the high half (ESN, RFC 4303 §2.2.1)
 * is passed in and is used only when the SA was created with `esn: true`.
 */
export interface EspTransform extends EspGeometry {
  readonly encryption: EncryptionName;
  readonly integrity: IntegrityName | null;
  readonly esn: boolean;
  /**
   * Seals one packet in place: writes the IV — `iv` if given (any algorithm: known-answer tests,
   * golden-model input), else the 64-bit sequence number seqHigh ‖ seqLow for GCM/GMAC/ChaCha20
   * (contract D6; seqHigh counts as 0 without ESN), else bytes from the SA's `Random` for CBC —
   * encrypts payload through next header, and writes the ICV. The padding is the caller's: this
   * only requires payload through next header to be a positive multiple of `padAlign`. Throws a
   * RangeError if the length does not fit the geometry or `iv` has the wrong length, a TypeError
   * for a CBC SA with neither `iv` nor `Random`.
   */
  seal(packet: Uint8Array, seqHigh: number, iv?: Uint8Array): void;
  /**
   * Verifies the ICV and decrypts in place (the IV and ICV fields are left as they were; on
   * 'icv-mismatch' and 'bad-length' nothing is written). 'bad-length': payload through next
   * header shorter than 2 bytes or not whole cipher blocks. Never throws for packet bytes.
   */
  open(packet: Uint8Array, seqHigh: number): OpenResult;
  /** Seals each `packets[i]` with `seqHigh[i]`, as `seal` would. */
  sealMany(packets: readonly Uint8Array[], seqHigh: ArrayLike<number>): void;
  /** Opens each `packets[i]` with `seqHigh[i]`; writes each result to `results[i]`. */
  openMany(packets: readonly Uint8Array[], seqHigh: ArrayLike<number>, results: OpenResult[]): void;
  /** Overwrites the key material held by this transform (SA deletion, contract issue 3). */
  destroy(): void;
}

/**
 * An integrity transform keyed for one SA, for AH (RFC 4302) — HMAC or AES-GMAC (RFC 4543 §4).
 * The caller prepares the ICV input (mutable fields and the ICV field zeroed: wire/ah); the
 * transform appends the ESN high half itself when `esn` (RFC 4302 §2.5.1; for GMAC it ends the
 * AAD, which RFC 4543 §4 defines as the RFC 4302 authenticated data). For AES-GMAC the 8-byte IV
 * stays in place inside the ICV input — RFC 4543 §7: "the IV is included in the additional
 * authenticated data" — and only the 16-byte ICV is zeroed.
 */
export interface AuthTransform {
  readonly integrity: IntegrityName;
  readonly esn: boolean;
  /** ICV bytes written by `compute` (12 for HMAC-*-96, 16 for SHA-256-128 and GMAC, …). */
  readonly icvLength: number;
  /** IV bytes the AH header carries before the ICV: 8 for AES-GMAC (RFC 4543 §4 Fig. 5), else 0. */
  readonly ivLength: number;
  /**
   * Computes the ICV over `data` (‖ seqHigh when `esn`) into `out` (icvLength bytes). For GMAC,
   * `iv` (8 bytes) forms the nonce with the salt.
   */
  compute(data: Uint8Array, seqHigh: number, iv: Uint8Array | null, out: Uint8Array): void;
  /**
   * Computes the ICV and compares it with `icv` in constant time; 'bad-length' when `icv` or `iv`
   * has the wrong length (packet bytes: never a throw).
   */
  verify(data: Uint8Array, seqHigh: number, iv: Uint8Array | null, icv: Uint8Array): OpenResult;
  /** Overwrites the key material held by this transform. */
  destroy(): void;
}
