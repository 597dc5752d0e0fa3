/**
 * @module
 * The transport's security policy, as records both hosts share: which SA bundles exist (one
 * record per direction: the sender's outbound SA is the receiver's inbound SA) and which flows
 * they protect (RFC 4301 §4.4: SPD and SAD, reduced to what the model needs). Keys live here;
 * the transport adds each bundle to its NIC by OID (sa-entry.ts) or keeps it in software.
 * Names follow contract D17.
 */
import type { EncryptionName, IntegrityName } from '../crypto/names.ts';

/** The ESP part of a bundle. */
export interface EspConfig {
  readonly spi: number;
  readonly encryption: EncryptionName;
  /** null for combined modes (AES-GCM, ChaCha20-Poly1305). */
  readonly integrity: IntegrityName | null;
  readonly encryptionKey: Uint8Array;
  readonly integrityKey?: Uint8Array;
  /** AES-GCM ICV length (8, 12 or 16; default 16). */
  readonly icvLength?: number;
}

/** The AH part of a bundle. */
export interface AhConfig {
  readonly spi: number;
  readonly integrity: IntegrityName;
  readonly integrityKey: Uint8Array;
}

/** One direction of one SA bundle: from `source` to `destination`. */
export interface SaConfig {
  readonly name: string;
  /** The bundle: ESP, AH, or both (ESP inside, AH outside). */
  readonly protocol: 'esp' | 'ah' | 'ah+esp';
  readonly mode: 'transport' | 'tunnel';
  readonly esp?: EspConfig;
  readonly ah?: AhConfig;
  /** Extended sequence numbers (RFC 4303 §2.2.1). */
  readonly esn: boolean;
  /** The first sequence number sent (64-bit; ≥ 1), to exercise the 2^32 wrap. */
  readonly initialSequence: bigint;
  /** Anti-replay window of the receiver (RFC 4303 §3.4.3; default 64). */
  readonly replayWindow: number;
  /** UDP encapsulation (RFC 3948), or null. */
  readonly udpEncapsulation: { readonly srcPort: number; readonly dstPort: number } | null;
  /** The SA's endpoints (the tunnel endpoints in tunnel mode), 4 or 16 bytes each. */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
}

/** One application flow from one host to another. */
export interface FlowConfig {
  readonly name: string;
  readonly l4: 'tcp' | 'udp';
  readonly ipVersion: 4 | 6;
  readonly srcPort: number;
  readonly dstPort: number;
  /** The transport-mode SA (or the only SA of a tunnel-only flow), by name; none = cleartext. */
  readonly sa?: string;
  /** The tunnel SA of a transport-over-tunnel flow, by name. */
  readonly tunnelSa?: string;
  /**
   * The peer's address (4 or 16 bytes, of `ipVersion`); default: the transport SA's destination.
   * Needed for tunnel-only flows, whose SA endpoints are the tunnel's.
   */
  readonly destination?: Uint8Array;
  /** Large send offload for TCP: version and MSS (MSS chosen from the MTU when absent). */
  readonly lso?: { readonly version: 1 | 2; readonly mss?: number };
}
