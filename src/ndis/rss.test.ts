/**
 * The Toeplitz RSS hash against Microsoft's known answers, and the hash → queue step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  hashFlow,
  NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_1,
  NdisHashFunctionToeplitz,
  NdisHashType,
  queueOf,
  Toeplitz,
  toeplitz,
  VERIFICATION_KEY,
} from './rss.ts';

const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));

/** An IPv6 address in RFC 5952 text form, to its 16 bytes. */
function v6(s: string): Uint8Array {
  const [head, tail] = s.includes('::') ? s.split('::') : [s, ''];
  const words = (x: string): number[] => (x === '' ? [] : x.split(':').map((w) => parseInt(w, 16)));
  const h = words(head);
  const t = words(tail);
  const all = [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
  return Uint8Array.from(all.flatMap((w) => [w >> 8, w & 0xff]));
}

// Source: "Verifying the RSS Hash Calculation", Microsoft Learn (windows-hardware/drivers/network/
// verifying-the-rss-hash-calculation; MicrosoftDocs/windows-driver-docs
// windows-driver-docs-pr/network/verifying-the-rss-hash-calculation.md @ 088014e6). Columns as
// there: destination address:port, source address:port, "IPv4 only", "IPv4 with TCP".
const IPV4_VECTORS: readonly (readonly [string, number, string, number, number, number])[] = [
  ['161.142.100.80', 1766, '66.9.149.187', 2794, 0x323e8fc2, 0x51ccc178],
  ['65.69.140.83', 4739, '199.92.111.2', 14230, 0xd718262a, 0xc626b0ea],
  ['12.22.207.184', 38024, '24.19.198.95', 12898, 0xd2d0a5de, 0x5c2b394a],
  ['209.142.163.6', 2217, '38.27.205.30', 48228, 0x82989176, 0xafc7327f],
  ['202.188.127.2', 1303, '153.39.163.191', 44251, 0x5d1809c5, 0x10e828a2],
];

// Same page, IPv6 table: destination (port), source (port), "IPv6 only", "IPv6 with TCP".
const IPV6_VECTORS: readonly (readonly [string, number, string, number, number, number])[] = [
  ['3ffe:2501:200:3::1', 1766, '3ffe:2501:200:1fff::7', 2794, 0x2cc18cd5, 0x40207d3d],
  ['ff02::1', 4739, '3ffe:501:8::260:97ff:fe40:efab', 14230, 0x0f0c461c, 0xdde51bbf],
  [
    'fe80::200:f8ff:fe21:67cf',
    38024,
    '3ffe:1900:4545:3:200:f8ff:fe21:67cf',
    44251,
    0x4b61e985,
    0x02d1feef,
  ],
];

test('the verification key is the page\u2019s 40 bytes', () => {
  assert.equal(VERIFICATION_KEY.length, NDIS_RSS_HASH_SECRET_KEY_MAX_SIZE_REVISION_1);
  assert.deepEqual([...VERIFICATION_KEY.subarray(0, 4)], [0x6d, 0x5a, 0x56, 0xda]);
  assert.deepEqual([...VERIFICATION_KEY.subarray(36)], [0xbe, 0xac, 0x01, 0xfa]);
});

test('ntddndis.h values', () => {
  assert.equal(NdisHashFunctionToeplitz, 1);
  assert.equal(NdisHashType.NDIS_HASH_IPV4, 0x100);
  assert.equal(NdisHashType.NDIS_HASH_TCP_IPV4, 0x200);
  assert.equal(NdisHashType.NDIS_HASH_TCP_IPV6, 0x1000);
  assert.equal(NdisHashType.NDIS_HASH_UDP_IPV4, 0x4000);
  assert.equal(NdisHashType.NDIS_HASH_UDP_IPV6_EX, 0x10000);
});

test('IPv4: every known answer of "Verifying the RSS Hash Calculation"', () => {
  for (const [dst, dport, src, sport, ipOnly, withTcp] of IPV4_VECTORS) {
    const flow = { source: v4(src), destination: v4(dst) };
    assert.equal(hashFlow(flow), ipOnly, `${src} > ${dst} IPv4 only`);
    const tcp = { ...flow, sourcePort: sport, destinationPort: dport };
    assert.equal(hashFlow(tcp), withTcp, `${src}:${sport} > ${dst}:${dport} IPv4 with TCP`);
  }
});

test('IPv6: every known answer of "Verifying the RSS Hash Calculation"', () => {
  for (const [dst, dport, src, sport, ipOnly, withTcp] of IPV6_VECTORS) {
    const flow = { source: v6(src), destination: v6(dst) };
    assert.equal(hashFlow(flow), ipOnly, `${src} > ${dst} IPv6 only`);
    const tcp = { ...flow, sourcePort: sport, destinationPort: dport };
    assert.equal(hashFlow(tcp), withTcp, `${src}.${sport} > ${dst}.${dport} IPv6 with TCP`);
  }
});

test('hashFlow equals ComputeHash over the concatenated input (RSS Hashing Functions)', () => {
  const [dst, dport, src, sport, , withTcp] = IPV4_VECTORS[0];
  const input = Uint8Array.of(
    ...v4(src),
    ...v4(dst),
    sport >> 8,
    sport & 0xff,
    dport >> 8,
    dport & 0xff
  );
  assert.equal(toeplitz(input), withTcp);
  // A reused hasher gives the same answers (reset between flows).
  const h = new Toeplitz();
  for (const [d, dp, s, sp, , want] of IPV4_VECTORS) {
    assert.equal(
      hashFlow({ source: v4(s), destination: v4(d), sourcePort: sp, destinationPort: dp }, h),
      want
    );
  }
});

test('Toeplitz is linear over XOR: hash(a ^ b) = hash(a) ^ hash(b)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      fc.uint8Array({ minLength: 12, maxLength: 12 }),
      (a, b) => {
        const x = a.map((v, i) => v ^ b[i]);
        return toeplitz(x) === (toeplitz(a) ^ toeplitz(b)) >>> 0;
      }
    )
  );
});

test('misuse throws a RangeError naming what was expected', () => {
  assert.throws(() => new Toeplitz(new Uint8Array(3)), /at least 4 bytes, got 3/);
  assert.throws(() => toeplitz(new Uint8Array(37)), /at most 36 input bytes/);
  assert.throws(
    () => hashFlow({ source: new Uint8Array(4), destination: new Uint8Array(16) }),
    /got 4 and 16/
  );
  assert.throws(
    () => hashFlow({ source: new Uint8Array(4), destination: new Uint8Array(4), sourcePort: 1 }),
    /both ports or neither/
  );
  assert.throws(() => queueOf(5, 0), /at least 1 queue, got 0/);
});

test('queueOf: hash mod queues, every queue reachable', () => {
  assert.equal(queueOf(0x51ccc178, 1), 0);
  assert.equal(queueOf(0x51ccc178, 2), 0);
  assert.equal(queueOf(0xc626b0ea, 4), 2);
  assert.equal(queueOf(0xffffffff, 2), 1);
  const seen = new Set<number>();
  for (let port = 49152; port < 49152 + 64; port++) {
    const h = hashFlow({
      source: v4('192.0.2.10'),
      destination: v4('198.51.100.20'),
      sourcePort: port,
      destinationPort: 443,
    });
    seen.add(queueOf(h, 4));
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
});
