/**
 * One matrix cell as a SystemSpec (src/sim/system.ts): hosts A and B with IPv4 and IPv6
 * addresses, the SA bundle under test (and the fixed tunnel SA of transport over tunnel) with
 * SPIs and keys from a seeded generator, and the flows from A to B.
 *
 * - Tunnel endpoints: separate gateway addresses owned by the hosts in ESN-off cells, the hosts'
 *   own addresses in ESN-on cells (both forms run for every IP version and mode).
 * - ESN-on cells start every SA at 2^32 − {@link ESN_BACKOFF} and send more packets than that
 *   on each SA, so every run crosses the 2^32 boundary; ESN-off cells start at 1.
 * - LSO-on cells: one TCP flow with LSO (IPv4 without ESN: LSOv1, else LSOv2), 3+ segments.
 *   LSO-off cells: one TCP flow (MSS segments) and one UDP flow (several datagrams) on the
 *   same SA(s).
 */
import { integrityInfo, encryptionInfo } from '../../src/crypto/names.ts';
import { seededRandom } from '../../src/crypto/random.ts';
import type { Random } from '../../src/crypto/transform.ts';
import type { HostSpec, SystemFlow, SystemSa, SystemSpec } from '../../src/sim/system.ts';
import type { AhConfig, EspConfig } from '../../src/transport/policy.ts';
import * as ethernet from '../../src/wire/ethernet.ts';
import * as ipv4 from '../../src/wire/ipv4.ts';
import * as ipv6 from '../../src/wire/ipv6.ts';
import { FIXED_TUNNEL, type Cell } from './table.ts';

/** Sequence numbers left below 2^32 at the start of an ESN cell. */
export const ESN_BACKOFF = 3n;

/** TCP bytes of an LSO cell (≥ 3 segments at any MSS this link allows) and of a non-LSO cell. */
export const TCP_BYTES_LSO = 6000;
export const TCP_BYTES = 4000;
/** UDP datagrams of a non-LSO cell and their size (below every cell's MTU: no fragmentation). */
export const UDP_DATAGRAMS = 3;
export const UDP_SIZE = 700;

const A = {
  name: 'a',
  mac: ethernet.parseMac('02:00:00:00:00:0a'),
  ipv4: ipv4.parseAddress('192.0.2.10'),
  ipv6: ipv6.parseAddress('2001:db8::a'),
};
const B = {
  name: 'b',
  mac: ethernet.parseMac('02:00:00:00:00:0b'),
  ipv4: ipv4.parseAddress('198.51.100.20'),
  ipv6: ipv6.parseAddress('2001:db8::b'),
};
/** Tunnel gateways: A's and B's (each reached through its host's MAC). */
const GATEWAY = {
  a: { 4: ipv4.parseAddress('203.0.113.1'), 6: ipv6.parseAddress('2001:db8:ffff::1') },
  b: { 4: ipv4.parseAddress('203.0.113.2'), 6: ipv6.parseAddress('2001:db8:ffff::2') },
};

const UDP_ESP_PORTS = { srcPort: 4500, dstPort: 4500 };

function bytes(random: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  random.fill(b);
  return b;
}

/** A random SPI ≥ 256 (RFC 4303 §2.1). */
function spi(random: Random): number {
  const b = bytes(random, 4);
  return ((((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0) | 0x100) >>> 0;
}

function espOf(
  random: Random,
  encryption: EspConfig['encryption'],
  integrity: EspConfig['integrity']
): EspConfig {
  return {
    spi: spi(random),
    encryption,
    integrity,
    encryptionKey: bytes(random, encryptionInfo(encryption).keyLength),
    ...(integrity === null
      ? {}
      : { integrityKey: bytes(random, integrityInfo(integrity).keyLength) }),
  };
}

function ahOf(random: Random, integrity: AhConfig['integrity']): AhConfig {
  return {
    spi: spi(random),
    integrity,
    integrityKey: bytes(random, integrityInfo(integrity).keyLength),
  };
}

/** The hosts of every cell (both with IPv4 and IPv6). */
export function hosts(): readonly [HostSpec, HostSpec] {
  return [A, B];
}

/** The SystemSpec of `cell`, with `seed` for keys, SPIs, payloads and IVs. */
export function cellSpec(cell: Cell, seed: number): SystemSpec {
  const random = seededRandom(seed);
  const v = cell.ip;
  const host = (h: typeof A): Uint8Array => (v === 4 ? h.ipv4 : h.ipv6);
  const initialSequence = cell.esn ? 2n ** 32n - ESN_BACKOFF : 1n;
  const common = { from: 'a', esn: cell.esn, initialSequence, replayWindow: 64 } as const;
  const tunnelSource = cell.esn ? host(A) : GATEWAY.a[v];
  const tunnelDestination = cell.esn ? host(B) : GATEWAY.b[v];

  const underTest: SystemSa = {
    ...common,
    name: 'sut',
    protocol: cell.protocol,
    mode: cell.mode === 'tunnel' ? 'tunnel' : 'transport',
    ...(cell.esp === null ? {} : { esp: espOf(random, cell.esp.encryption, cell.esp.integrity) }),
    ...(cell.ah === null ? {} : { ah: ahOf(random, cell.ah) }),
    udpEncapsulation:
      (cell.mode === 'tunnel' && cell.udpEsp === 'tunnel') ||
      (cell.mode !== 'tunnel' && cell.udpEsp === 'transport')
        ? UDP_ESP_PORTS
        : null,
    source: cell.mode === 'tunnel' ? tunnelSource : host(A),
    destination: cell.mode === 'tunnel' ? tunnelDestination : host(B),
  };
  const sas: SystemSa[] = [underTest];
  if (cell.mode === 'transport-over-tunnel') {
    sas.push({
      ...common,
      name: 'tun',
      protocol: 'esp',
      mode: 'tunnel',
      esp: espOf(random, FIXED_TUNNEL.encryption, FIXED_TUNNEL.integrity),
      udpEncapsulation: cell.udpEsp === 'tunnel' ? UDP_ESP_PORTS : null,
      source: tunnelSource,
      destination: tunnelDestination,
    });
  }

  const policy =
    cell.mode === 'transport'
      ? { sa: 'sut' }
      : cell.mode === 'tunnel'
        ? { sa: 'sut', destination: host(B) }
        : { sa: 'sut', tunnelSa: 'tun' };
  const flows: SystemFlow[] = [
    {
      name: 'tcp',
      from: 'a',
      to: 'b',
      l4: 'tcp',
      ipVersion: v,
      srcPort: 40000,
      dstPort: 443,
      ...policy,
      ...(cell.lso ? { lso: { version: v === 4 && !cell.esn ? 1 : 2 } } : {}),
      bytes: cell.lso ? TCP_BYTES_LSO : TCP_BYTES,
    },
  ];
  if (!cell.lso) {
    flows.push({
      name: 'udp',
      from: 'a',
      to: 'b',
      l4: 'udp',
      ipVersion: v,
      srcPort: 40001,
      dstPort: 5001,
      ...policy,
      bytes: UDP_DATAGRAMS * UDP_SIZE,
      writeSize: UDP_SIZE,
    });
  }
  return { seed, hosts: hosts(), sas, flows };
}
