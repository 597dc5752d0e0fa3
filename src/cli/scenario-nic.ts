/**
 * @module
 * A scenario's `nic` overrides applied to the model NIC's capability record (ndis/caps.ts
 * defaultCapabilities): NDIS_IPSEC_OFFLOAD_V2 members by Microsoft's names or friendly names,
 * algorithm sets as lists of contract D17 names, checksum coexistence as NDIS_OFFLOAD.Flags bits,
 * and LSOv1/LSOv2 switched off by a MaxOffLoadSize of 0.
 */
import {
  encryptionInfo,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from '../crypto/names.ts';
import type { IpsecOffloadV2, Offload } from '../ndis/caps.ts';
import { OffloadFlags } from '../ndis/oid.ts';
import type { NicOverrides } from './scenario-schema.ts';
import { ScenarioError } from './scenario-path.ts';

type Member = keyof IpsecOffloadV2;

/** Friendly name → NDIS_IPSEC_OFFLOAD_V2 member. */
export const FRIENDLY: Readonly<Record<string, Member>> = {
  ipv6: 'IPv6Supported',
  ah: 'Ah',
  esp: 'Esp',
  ahEsp: 'AhEspCombined',
  transport: 'Transport',
  tunnel: 'Tunnel',
  transportOverTunnel: 'TransportTunnelCombined',
  lso: 'LsoSupported',
  esn: 'ExtendedSequenceNumbers',
  udpEsp: 'UdpEsp',
  integrity: 'AuthenticationAlgorithms',
  encryption: 'EncryptionAlgorithms',
  capacity: 'SaOffloadCapacity',
};

function mask(
  value: readonly string[] | number,
  path: readonly PropertyKey[],
  identifier: (name: string) => number | null
): number {
  if (typeof value === 'number') return value;
  let bits = 0;
  value.forEach((n, i) => {
    const id = identifier(n);
    if (id === null) {
      throw new ScenarioError(
        [...path, i],
        'an algorithm with an IPSEC_OFFLOAD_V2 identifier (a NIC cannot offer it)',
        n
      );
    }
    bits |= id;
  });
  return bits;
}

/** Applies `overrides` (at JSON path `path`) to `caps`; returns the new record. */
export function applyNic(
  caps: Offload,
  overrides: NicOverrides,
  path: readonly PropertyKey[]
): Offload {
  const ipsec: Record<string, unknown> = { ...caps.IPsecV2 };
  const o = overrides as Record<string, unknown>;
  for (const [friendly, member] of Object.entries(FRIENDLY)) {
    if (o[friendly] !== undefined && o[member] !== undefined) {
      throw new ScenarioError(
        [...path, friendly],
        `only one of ${friendly} and ${member}`,
        o[friendly]
      );
    }
  }
  for (const [key, value] of Object.entries(o)) {
    if (value === undefined) continue;
    const member =
      (FRIENDLY[key] as Member | undefined) ?? (key in caps.IPsecV2 ? (key as Member) : undefined);
    if (member === undefined) continue;
    if (member === 'EncryptionAlgorithms') {
      ipsec[member] = mask(
        value as readonly string[] | number,
        [...path, key],
        (n) => encryptionInfo(n as EncryptionName).identifier
      );
    } else if (member === 'AuthenticationAlgorithms') {
      ipsec[member] = mask(
        value as readonly string[] | number,
        [...path, key],
        (n) => integrityInfo(n as IntegrityName).identifier
      );
    } else ipsec[member] = value;
  }
  let flags = caps.Flags;
  const flag = (on: boolean | undefined, bit: number): void => {
    if (on === true) flags |= bit;
    if (on === false) flags &= ~bit;
  };
  flag(
    overrides.tcpChecksumCoexistence,
    OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE
  );
  flag(
    overrides.udpChecksumCoexistence,
    OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE
  );
  const v1 = caps.LsoV1.IPv4;
  const v2 = caps.LsoV2;
  return {
    ...caps,
    Flags: flags,
    IPsecV2: ipsec as unknown as IpsecOffloadV2,
    LsoV1: overrides.lsoV1 === false ? { IPv4: { ...v1, MaxOffLoadSize: 0 } } : caps.LsoV1,
    LsoV2:
      overrides.lsoV2 === false
        ? { IPv4: { ...v2.IPv4, MaxOffLoadSize: 0 }, IPv6: { ...v2.IPv6, MaxOffLoadSize: 0 } }
        : caps.LsoV2,
  };
}
