/** Scenario files to SystemSpecs: defaults, keys from the seed, NIC overrides, NAT views. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OffloadFlags } from '../ndis/oid.ts';
import { defaultCapabilities } from '../ndis/caps.ts';
import { DEFAULT_SCENARIO } from './scenario-default.ts';
import { applyNic } from './scenario-nic.ts';
import { loadScenario } from './scenario.ts';
import { jsonPath } from './scenario-path.ts';

test('scenario: the default resolves with keys from the seed, recorded as generated', () => {
  const s = loadScenario(DEFAULT_SCENARIO);
  assert.equal(s.seed, 1);
  assert.deepEqual(s.generatedKeys, [
    'sas[0].keys.encryption',
    'sas[1].keys.encryption',
    'sas[1].keys.integrity',
  ]);
  assert.equal(s.spec.sas[0].esp?.encryptionKey.length, 20);
  assert.equal(s.spec.sas[0].initialSequence, 1n);
  assert.equal(s.spec.sas[0].replayWindow, 64);
  assert.equal(s.spec.sas[1].source.length, 16);
  assert.equal(s.spec.flows[1].destination?.length, 16);
  const other = loadScenario(DEFAULT_SCENARIO, 2);
  const key = (x: typeof s): Uint8Array | undefined => x.spec.sas[0].esp?.encryptionKey;
  assert.notDeepEqual(key(other), key(s));
  assert.deepEqual(key(loadScenario(DEFAULT_SCENARIO)), key(s));
});

test('scenario: SPIs and 64-bit initial sequence numbers in every written form', () => {
  const file = structuredClone(DEFAULT_SCENARIO);
  file.sas![0] = { ...file.sas![0], spi: 4097, esn: true, initialSequence: '0xfffffffe' };
  file.sas![1] = { ...file.sas![1], initialSequence: '4294967295' };
  const s = loadScenario(file);
  assert.equal(s.spec.sas[0].esp?.spi, 4097);
  assert.equal(s.spec.sas[0].initialSequence, 0xfffffffen);
  assert.equal(s.spec.sas[1].initialSequence, 0xffffffffn);
});

test('scenario: NIC overrides by friendly and Microsoft names; both at once is an error', () => {
  const caps = applyNic(
    defaultCapabilities(),
    {
      capacity: 0,
      encryption: ['aes-gcm-128'],
      LsoSupported: false,
      tcpChecksumCoexistence: false,
      lsoV1: false,
    },
    ['nic']
  );
  assert.equal(caps.IPsecV2.SaOffloadCapacity, 0);
  assert.equal(caps.IPsecV2.EncryptionAlgorithms, 0x008);
  assert.equal(caps.IPsecV2.LsoSupported, false);
  assert.equal(caps.Flags & OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE, 0);
  assert.ok(caps.Flags & OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE);
  assert.equal(caps.LsoV1.IPv4.MaxOffLoadSize, 0);
  assert.throws(
    () =>
      applyNic(defaultCapabilities(), { capacity: 1, SaOffloadCapacity: 2 }, ['hosts', 'a', 'nic']),
    { message: 'hosts.a.nic.capacity: expected only one of capacity and SaOffloadCapacity, got 1' }
  );
});

test('scenario: behind a NAT the outside host’s transport SA goes to the public address', () => {
  const s = loadScenario({
    hosts: {
      a: { mac: '02:00:00:00:00:0a', ipv4: '10.0.0.10' },
      b: { mac: '02:00:00:00:00:0b', ipv4: '198.51.100.20' },
    },
    sas: [
      {
        name: 'down',
        from: 'b',
        to: 'a',
        protocol: 'esp',
        encryption: 'aes-gcm-128',
        spi: '0x100',
        udpEncapsulation: { dstPort: 49152 },
      },
    ],
    flows: [{ name: 'down', from: 'b', to: 'a', l4: 'udp', sa: 'down', bytes: 100 }],
    link: { nat: { publicAddress: '203.0.113.7' } },
  });
  assert.deepEqual(s.spec.sas[0].destination, new Uint8Array([203, 0, 113, 7]));
  assert.deepEqual(s.spec.sas[0].udpEncapsulation, { srcPort: 4500, dstPort: 49152 });
  assert.deepEqual(s.spec.flows[0].destination, new Uint8Array([203, 0, 113, 7]));
  assert.equal(s.spec.flows[0].srcPort, 40000);
  assert.equal(s.spec.flows[0].dstPort, 5000);
});

test('scenario: JSON paths', () => {
  assert.equal(jsonPath(['sas', 1, 'encryption']), 'sas[1].encryption');
  assert.equal(jsonPath(['hosts', 'host a', 'mac']), 'hosts["host a"].mac');
  assert.equal(jsonPath([]), '(the file)');
});
