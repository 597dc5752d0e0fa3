/**
 * @module
 * The NDIS receive-side-scaling hash (pages "RSS Hashing Functions", "RSS Hashing Types",
 * "RSS Configuration", "Verifying the RSS Hash Calculation"; ntddndis.h): the Toeplitz function
 * `NdisHashFunctionToeplitz` over the IPv4/IPv6 addresses and, for TCP/UDP, the ports, and the
 * step from a hash value to a queue. The multi-queue send path (sim/queues.ts, issue 6) pins each
 * flow to the send queue its hash names, as Windows runs a connection on the CPU RSS gave it.
 *
 * Hashing does not allocate: a {@link Toeplitz} object is fed byte by byte, and
 * {@link hashFlow} feeds the addresses and ports straight from their arrays.
 */

/** The hash function (ntddndis.h): "the primary RSS hash function", the only one for miniports. */
export const NdisHashFunctionToeplitz = 0x0000_0001;

/** Hash types (ntddndis.h "What kind of hash field type the protocol asks the miniport to do"). */
export const NdisHashType = {
  NDIS_HASH_IPV4: 0x0000_0100,
  NDIS_HASH_TCP_IPV4: 0x0000_0200,
  NDIS_HASH_IPV6: 0x0000_0400,
  NDIS_HASH_IPV6_EX: 0x0000_0800,
  NDIS_HASH_TCP_IPV6: 0x0000_1000,
  NDIS_HASH_TCP_IPV6_EX: 0x0000_2000,
  // NDIS 6.80.
  NDIS_HASH_UDP_IPV4: 0x0000_4000,
  NDIS_HASH_UDP_IPV6: 0x0000_8000,
  NDIS_HASH_UDP_IPV6_EX: 0x0001_0000,
} as const;

/** NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_1: the Toeplitz key is 40 bytes (320 bits). */
export const NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_1 = 40;

/**
 * The secret key of "Verifying the RSS Hash Calculation" (MicrosoftDocs/windows-driver-docs,
 * network/verifying-the-rss-hash-calculation.md); the model uses it as its default key.
 */
// prettier-ignore
export const VERIFICATION_KEY: Uint8Array = Uint8Array.of(
  0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2,
  0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
  0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4,
  0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
  0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa
);

/**
 * ComputeHash of "RSS Hashing Functions", fed one input byte at a time:
 *
 * ```
 * result = 0
 * For each bit b in input[] from left to right
 *   if (b == 1) result ^= (left-most 32 bits of K)
 *   shift K left 1 bit position
 * ```
 *
 * The left-most 32 bits of the shifted K are kept in `#window`; each input bit pulls the next key
 * bit in. An input of n bytes needs a key of at least n + 4 bytes (36 + 4 = 40 for IPv6 + ports).
 */
export class Toeplitz {
  readonly #key: Uint8Array;
  #window = 0;
  /** The next key bit to shift into the window (bits 0–31 are in it from the start). */
  #keyBit = 32;
  #result = 0;

  /** A hasher over `key` (at least 4 bytes; the verification key by default). */
  constructor(key: Uint8Array = VERIFICATION_KEY) {
    if (key.length < 4) {
      throw new RangeError(`Toeplitz: expected a key of at least 4 bytes, got ${key.length}`);
    }
    this.#key = key;
    this.reset();
  }

  /** Starts a new hash (result 0, K unshifted). */
  reset(): void {
    const k = this.#key;
    this.#window = ((k[0] << 24) | (k[1] << 16) | (k[2] << 8) | k[3]) >>> 0;
    this.#keyBit = 32;
    this.#result = 0;
  }

  /** Feeds the next input byte, most significant bit first; RangeError when K runs out. */
  byte(value: number): void {
    const k = this.#key;
    if (this.#keyBit + 8 > k.length * 8) {
      throw new RangeError(
        `Toeplitz.byte: expected at most ${k.length - 4} input bytes for a ${k.length}-byte key, got more`
      );
    }
    let w = this.#window;
    let r = this.#result;
    let bit = this.#keyBit;
    for (let i = 7; i >= 0; i--) {
      if (((value >>> i) & 1) === 1) r ^= w;
      // Shift K left one bit: the window takes K's next bit at its right end.
      w = ((w << 1) | ((k[bit >>> 3] >>> (7 - (bit & 7))) & 1)) >>> 0;
      bit++;
    }
    this.#window = w;
    this.#result = r >>> 0;
    this.#keyBit = bit;
  }

  /** Feeds `bytes` in order. */
  bytes(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) this.byte(bytes[i]);
  }

  /** Feeds a 16-bit value in network byte order (a port as it is in the packet). */
  u16(value: number): void {
    this.byte((value >>> 8) & 0xff);
    this.byte(value & 0xff);
  }

  /** The hash of everything fed since the last reset, an unsigned 32-bit value. */
  get value(): number {
    return this.#result;
  }
}

/** ComputeHash(input, n) under `key` (default: the verification key). */
export function toeplitz(input: Uint8Array, key: Uint8Array = VERIFICATION_KEY): number {
  const t = new Toeplitz(key);
  t.bytes(input);
  return t.value;
}

/** A flow as RSS sees it: addresses (4 or 16 bytes) and, for TCP/UDP hash types, the ports. */
export interface RssFlow {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  /** With both ports: NDIS_HASH_TCP_IPV4/IPV6 (or UDP); without: NDIS_HASH_IPV4/IPV6. */
  readonly sourcePort?: number;
  readonly destinationPort?: number;
}

/**
 * The RSS hash of `flow` into `hasher` (reset first). "RSS Hashing Functions": IPv4 with TCP
 * `Input[12] = @12-15, @16-19, @20-21, @22-23` (SourceAddress, DestinationAddress, SourcePort,
 * DestinationPort, in packet order); IPv4 only `Input[8] = @12-15, @16-19`; IPv6 with TCP
 * `Input[36] = @8-23, @24-39, @40-41, @42-43`; IPv6 only `Input[32] = @8-23, @24-39`. UDP hash
 * types (NDIS 6.80) take the same ports as TCP.
 */
export function hashFlow(flow: RssFlow, hasher: Toeplitz = new Toeplitz()): number {
  const { source, destination, sourcePort, destinationPort } = flow;
  if (source.length !== destination.length || (source.length !== 4 && source.length !== 16)) {
    throw new RangeError(
      `rss.hashFlow: expected 4- or 16-byte source and destination of one IP version, got ${source.length} and ${destination.length}`
    );
  }
  if ((sourcePort === undefined) !== (destinationPort === undefined)) {
    throw new RangeError('rss.hashFlow: expected both ports or neither, got one');
  }
  hasher.reset();
  hasher.bytes(source);
  hasher.bytes(destination);
  if (sourcePort !== undefined && destinationPort !== undefined) {
    hasher.u16(sourcePort);
    hasher.u16(destinationPort);
  }
  return hasher.value;
}

/**
 * The queue (of `queues`) that serves hash value `hash`.
 *
 * Model: a NIC masks the hash to its least significant bits and reads the CPU (queue) from an
 * indirection table of 2–8 entries per processor that the protocol sets and rebalances ("RSS
 * Configuration"). We use `hash mod queues`: for a power-of-two number of queues that is the
 * indirection table filled 0, 1, …, queues − 1 repeatedly and never rebalanced.
 */
export function queueOf(hash: number, queues: number): number {
  if (!Number.isInteger(queues) || queues < 1) {
    throw new RangeError(`rss.queueOf: expected at least 1 queue, got ${queues}`);
  }
  return (hash >>> 0) % queues;
}
