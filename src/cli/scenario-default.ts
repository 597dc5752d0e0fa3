/**
 * @module
 * The scenario `ipsecov2 run` runs without a file (examples/default.json is the same, and a test
 * says so): a TCP stream with LSOv2 over ESP AES-GCM-128 in transport mode over IPv4, and a UDP
 * flow over a tunnel-mode ESP AES-CBC-128 + HMAC-SHA-256-128 SA over IPv6 between tunnel
 * gateways, both from host a to host b; keys from the seed.
 */
import type { ScenarioFile } from './scenario-schema.ts';

/** The embedded default scenario. */
export const DEFAULT_SCENARIO: ScenarioFile = {
  description:
    'TCP with LSOv2 over ESP AES-GCM-128 transport (IPv4) and UDP over ESP AES-CBC-128+HMAC-SHA-256-128 tunnel (IPv6)',
  hosts: {
    a: { mac: '02:00:00:00:00:0a', ipv4: '192.0.2.10', ipv6: '2001:db8::a' },
    b: { mac: '02:00:00:00:00:0b', ipv4: '198.51.100.20', ipv6: '2001:db8::b' },
  },
  sas: [
    {
      name: 'gcm',
      from: 'a',
      to: 'b',
      protocol: 'esp',
      mode: 'transport',
      encryption: 'aes-gcm-128',
      integrity: null,
      spi: '0x00001001',
    },
    {
      name: 'tunnel',
      from: 'a',
      to: 'b',
      protocol: 'esp',
      mode: 'tunnel',
      encryption: 'aes-cbc-128',
      integrity: 'hmac-sha256-128',
      spi: '0x00002002',
      source: '2001:db8:ffff::a',
      destination: '2001:db8:ffff::b',
    },
  ],
  flows: [
    {
      name: 'tcp',
      from: 'a',
      to: 'b',
      ip: 4,
      l4: 'tcp',
      sa: 'gcm',
      srcPort: 49152,
      dstPort: 443,
      bytes: 100000,
      writeSize: 20000,
      lso: { version: 2 },
    },
    {
      name: 'udp',
      from: 'a',
      to: 'b',
      ip: 6,
      l4: 'udp',
      sa: 'tunnel',
      srcPort: 5000,
      dstPort: 5001,
      bytes: 20000,
      writeSize: 1000,
    },
  ],
};
