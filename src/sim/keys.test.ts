/**
 * @module
 * keys.json (issue 5): entries from a run's SAs, the JSON round trip through parseKeys, every bad
 * field named by its JSON path, the SaDescriptions a Keyring takes, and the esp_sa table
 * (sim/wireshark.ts) written from the same entries.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { keyEntries, parseKeys, toSaDescriptions, type KeyEntry } from './keys.ts';
import { Keyring } from './keyring.ts';
import type { HostSpec, SystemSa } from './system.ts';
import { espSaCoverage, espSaTable } from './wireshark.ts';

const mac = new Uint8Array(6);
const HOSTS: readonly HostSpec[] = [
  { name: 'a', mac, ipv4: ipv4.parseAddress('192.0.2.1'), ipv6: ipv6.parseAddress('2001:db8::1') },
  { name: 'b', mac, ipv4: ipv4.parseAddress('192.0.2.2'), ipv6: ipv6.parseAddress('2001:db8::2') },
];

const key = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

const common = {
  esn: false,
  initialSequence: 1n,
  replayWindow: 64,
  udpEncapsulation: null,
} as const;

const SAS: readonly SystemSa[] = [
  {
    ...common,
    from: 'a',
    name: 'gcm',
    protocol: 'esp',
    mode: 'transport',
    esp: { spi: 0x1001, encryption: 'aes-gcm-128', integrity: null, encryptionKey: key(20, 0xab) },
    source: HOSTS[0].ipv4 as Uint8Array,
    destination: HOSTS[1].ipv4 as Uint8Array,
  },
  {
    ...common,
    from: 'b',
    name: 'bundle',
    protocol: 'ah+esp',
    mode: 'tunnel',
    esn: true,
    esp: {
      spi: 0x2002,
      encryption: 'aes-cbc-256',
      integrity: 'hmac-sha256-128',
      encryptionKey: key(32, 1),
      integrityKey: key(32, 2),
    },
    ah: { spi: 0x3003, integrity: 'aes-gmac-128', integrityKey: key(20, 3) },
    udpEncapsulation: { srcPort: 4500, dstPort: 4500 },
    source: HOSTS[1].ipv6 as Uint8Array,
    destination: HOSTS[0].ipv6 as Uint8Array,
  },
];

test('keyEntries: one entry per SA and direction, AH+ESP as esp then ah', () => {
  const entries = keyEntries(SAS, HOSTS);
  assert.deepEqual(entries[0], {
    name: 'gcm',
    direction: 'a->b',
    spi: '0x00001001',
    protocol: 'esp',
    mode: 'transport',
    src: '192.0.2.1',
    dst: '192.0.2.2',
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: 'ab'.repeat(20),
    integrityKey: null,
    icvLength: 16,
    esn: false,
    udpEncapsulation: null,
  });
  assert.deepEqual(
    entries.map((e) => [e.protocol, e.spi, e.direction, e.src, e.dst, e.icvLength]),
    [
      ['esp', '0x00001001', 'a->b', '192.0.2.1', '192.0.2.2', 16],
      ['esp', '0x00002002', 'b->a', '2001:db8::2', '2001:db8::1', 16],
      ['ah', '0x00003003', 'b->a', '2001:db8::2', '2001:db8::1', 16],
    ]
  );
  assert.equal(entries[2].encryption, null);
  assert.equal(entries[2].udpEncapsulation, null);
  assert.deepEqual(entries[1].udpEncapsulation, { srcPort: 4500, dstPort: 4500 });
  assert.throws(() => keyEntries([{ ...SAS[0], from: 'x' }], HOSTS), /one of the hosts/);
});

test('keys.json round trip: keyEntries → JSON → parseKeys', () => {
  const file = { sas: keyEntries(SAS, HOSTS) };
  const parsed = parseKeys(JSON.parse(JSON.stringify(file)));
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value, file);
});

test('parseKeys names the JSON path of the first bad field', () => {
  const good = (): KeyEntry[] => keyEntries(SAS, HOSTS).map((e) => ({ ...e }));
  const bad = (i: number, patch: Record<string, unknown>): unknown => {
    const sas: unknown[] = good();
    sas[i] = { ...(sas[i] as object), ...patch };
    return { sas };
  };
  const cases: [unknown, string][] = [
    [null, '(root)'],
    [{}, 'sas'],
    [{ sas: 'x' }, 'sas'],
    [{ sas: [1] }, 'sas[0]'],
    [bad(2, { spi: '1001' }), 'sas[2].spi'],
    [bad(2, { spi: 4097 }), 'sas[2].spi'],
    [bad(0, { name: 7 }), 'sas[0].name'],
    [bad(0, { direction: 'ab' }), 'sas[0].direction'],
    [bad(0, { protocol: 'ipcomp' }), 'sas[0].protocol'],
    [bad(0, { mode: 'beet' }), 'sas[0].mode'],
    [bad(0, { src: '192.0.2' }), 'sas[0].src'],
    [bad(0, { dst: '2001:db8::2' }), 'sas[0].dst'],
    [bad(0, { encryption: 'aes-gcm-64' }), 'sas[0].encryption'],
    [bad(0, { encryption: null }), 'sas[0].encryption'],
    [bad(1, { integrity: 'hmac-sha1' }), 'sas[1].integrity'],
    [bad(0, { integrity: 'hmac-sha1-96' }), 'sas[0].integrity'],
    [bad(0, { encryptionKey: 'abc' }), 'sas[0].encryptionKey'],
    [bad(0, { encryptionKey: 'ab'.repeat(16) }), 'sas[0].encryptionKey'],
    [bad(1, { integrityKey: 'zz'.repeat(32) }), 'sas[1].integrityKey'],
    [bad(1, { integrityKey: null }), 'sas[1].integrityKey'],
    [bad(0, { icvLength: 10 }), 'sas[0].icvLength'],
    [bad(1, { icvLength: 12 }), 'sas[1].icvLength'],
    [bad(0, { esn: 'no' }), 'sas[0].esn'],
    [bad(1, { udpEncapsulation: { srcPort: 4500 } }), 'sas[1].udpEncapsulation.dstPort'],
    [
      bad(1, { udpEncapsulation: { srcPort: 70000, dstPort: 1 } }),
      'sas[1].udpEncapsulation.srcPort',
    ],
    [bad(2, { udpEncapsulation: { srcPort: 1, dstPort: 1 } }), 'sas[2].udpEncapsulation'],
    [bad(2, { encryption: 'null' }), 'sas[2].encryption'],
  ];
  for (const [json, path] of cases) {
    const r = parseKeys(json);
    if (r.ok) assert.fail(`${path}: accepted`);
    assert.equal(r.path, path, `${JSON.stringify(json).slice(0, 120)} → ${r.expected}`);
    assert.ok(r.expected.length > 0 && r.found.length > 0);
  }
  const spi = parseKeys(bad(2, { spi: 4097 }));
  assert.deepEqual(spi, {
    ok: false,
    path: 'sas[2].spi',
    expected: 'a hex string like "0x00001001"',
    found: '4097',
  });
  const missing = parseKeys({ sas: [{ ...good()[0], icvLength: undefined }] });
  assert.ok(!missing.ok && missing.path === 'sas[0].icvLength' && missing.found === 'nothing');
});

test('toSaDescriptions: what Keyring.add takes, from keys.json text', () => {
  const entries = keyEntries(SAS, HOSTS);
  const d = toSaDescriptions(entries);
  assert.deepEqual(d[0], {
    protocol: 'esp',
    spi: 0x1001,
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: key(20, 0xab),
    icvLength: 16,
    esn: false,
  });
  assert.deepEqual(d[2], {
    protocol: 'ah',
    spi: 0x3003,
    integrity: 'aes-gmac-128',
    integrityKey: key(20, 3),
    esn: true,
    seqHigh: 0,
  });
  assert.deepEqual(toSaDescriptions(entries[1], 7), [{ ...d[1], seqHigh: 7 }]);
  const ring = new Keyring();
  for (const sa of d) ring.add(sa);
});

test('esp_sa: Wireshark 4.0 records for what it can check, the rest skipped with a reason', () => {
  const entries = keyEntries(SAS, HOSTS);
  const table = espSaTable(entries);
  const records = table.split('\n').filter((l) => l.startsWith('"'));
  assert.deepEqual(records, [
    `"IPv4","192.0.2.1","192.0.2.2","0x00001001","AES-GCM with 16 octet ICV [RFC4106]","0x${'ab'.repeat(20)}","NULL",""`,
  ]);
  const coverage = espSaCoverage(entries);
  assert.deepEqual(
    coverage.written.map((e) => e.spi),
    ['0x00001001']
  );
  assert.deepEqual(
    coverage.skipped.map((s) => [s.spi, s.reason.split(':')[0]]),
    [
      ['0x00002002', 'ESN'],
      ['0x00003003', 'AH'],
    ]
  );
  const v6 = keyEntries([{ ...SAS[1], esn: false, protocol: 'esp' }], HOSTS);
  assert.deepEqual(
    espSaTable(v6)
      .split('\n')
      .filter((l) => l.startsWith('"')),
    [
      `"IPv6","2001:db8::2","2001:db8::1","0x00002002","AES-CBC [RFC3602]","0x${'01'.repeat(32)}","HMAC-SHA-256-128 [RFC4868]","0x${'02'.repeat(32)}"`,
    ]
  );
  const gmac = keyEntries(
    [
      {
        ...SAS[0],
        esp: {
          spi: 5,
          encryption: 'null',
          integrity: 'aes-gmac-128',
          encryptionKey: key(0, 0),
          integrityKey: key(20, 1),
        },
      },
      {
        ...SAS[0],
        esp: {
          spi: 6,
          encryption: 'chacha20-poly1305',
          integrity: null,
          encryptionKey: key(36, 1),
        },
      },
    ],
    HOSTS
  );
  assert.deepEqual(
    espSaCoverage(gmac).skipped.map((s) => s.reason.split(':')[0]),
    ['aes-gmac-128', 'chacha20-poly1305']
  );
});
