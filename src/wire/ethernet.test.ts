import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertCodecLaws, type Codec } from '../../tests/laws.ts';
import { fromHex } from './bytes.ts';
import * as ethernet from './ethernet.ts';

const codec: Codec<ethernet.Header, ethernet.Frame> = ethernet;

/** Hex with `//` comments per line. */
const hex = (text: string): Uint8Array => fromHex(text.replace(/\/\/.*$/gm, ''));

// The Neighbor Solicitation frame quoted in Fuchsia's netsvc checksum test (`ChecksumTest,
// Checksum`, which includes src/bringup/bin/netsvc/inet6.h): IPv6 to a solicited-node group.
const NS_FRAME = hex(`
  3333ff3d785c   // destination 33:33:ff:3d:78:5c (IPv6 multicast, RFC 2464 §7)
  f6ad045f8f68   // source f6:ad:04:5f:8f:68
  86dd           // EtherType IPv6
  6000 0000 0020 3aff                     // IPv6: payload 32, ICMPv6, hop limit 255
  fe80 0000 0000 0000 1257 df14 68b8 b61a // source fe80::1257:df14:68b8:b61a
  ff02 0000 0000 0000 0000 0001 ff3d 785c // destination ff02::1:ff3d:785c
  8700 0000 0000 0000 fe80 0000 0000 0000 50b6 a1fe fe3d 785c 0101 f6ad 045f 8f68
`);

const NS_HEADER: ethernet.Header = {
  destination: ethernet.parseMac('33:33:ff:3d:78:5c'),
  source: ethernet.parseMac('f6:ad:04:5f:8f:68'),
  etherType: ethernet.EtherType.Ipv6,
};

// An 802.1Q-tagged frame built by hand: PCP 5, DEI 1, VID 100, carrying IPv4.
const TAGGED = hex(`
  020000000002   // destination
  020000000001   // source
  8100           // TPID
  b064           // TCI: PCP 5 (101), DEI 1, VID 0x064 = 100
  0800           // EtherType IPv4
  4500           // payload starts
`);

test('Fuchsia NS frame: getters, parse and emit', () => {
  const v = new ethernet.View(NS_FRAME);
  assert.equal(ethernet.formatMac(v.destination), '33:33:ff:3d:78:5c');
  assert.equal(ethernet.formatMac(v.source), 'f6:ad:04:5f:8f:68');
  assert.equal(v.tagged, false);
  assert.equal(v.headerLength, 14);
  assert.equal(v.etherType, 0x86dd);
  assert.equal(v.typeOrTpid, 0x86dd);
  const r = ethernet.parse(NS_FRAME);
  assert.ok(r.ok);
  assert.deepEqual(r.value.header, NS_HEADER);
  assert.equal(r.value.payload.length, 72);
  assert.equal(r.value.payload.byteOffset, NS_FRAME.byteOffset + 14, 'payload is a view');
  const out = new Uint8Array(14).fill(0xa5);
  assert.equal(ethernet.emit(NS_HEADER, out), 14);
  assert.deepEqual(out, NS_FRAME.subarray(0, 14));
  assertCodecLaws(codec, NS_HEADER, NS_FRAME.subarray(14));
});

test('802.1Q tag: getters, parse, emit and setters', () => {
  const r = ethernet.parse(TAGGED);
  assert.ok(r.ok);
  const header: ethernet.Header = {
    destination: fromHex('020000000002'),
    source: fromHex('020000000001'),
    vlan: { pcp: 5, dei: true, vid: 100 },
    etherType: ethernet.EtherType.Ipv4,
  };
  assert.deepEqual(r.value.header, header);
  assert.deepEqual(r.value.payload, fromHex('4500'));
  assertCodecLaws(codec, header, fromHex('4500'));
  const bytes = TAGGED.slice();
  const v = new ethernet.View(bytes);
  assert.deepEqual(
    [v.tagged, v.headerLength, v.pcp, v.dei, v.vid, v.etherType],
    [true, 18, 5, true, 100, 0x0800]
  );
  v.pcp = 2;
  v.dei = false;
  v.vid = 0xfff;
  v.etherType = 0x86dd;
  assert.deepEqual(bytes.subarray(12, 18), fromHex('8100 4fff 86dd'));
  v.typeOrTpid = 0x0806;
  assert.deepEqual([v.tagged, v.headerLength, v.etherType], [false, 14, 0x0806]);
  v.destination.set(ethernet.parseMac('ff:ff:ff:ff:ff:ff'));
  assert.deepEqual(bytes.subarray(0, 6), fromHex('ffffffffffff'));
});

test('truncated frames fail at the first missing byte', () => {
  for (const [bytes, offset] of [
    [NS_FRAME.subarray(0, 0), 0],
    [NS_FRAME.subarray(0, 13), 13],
    [TAGGED.subarray(0, 17), 17],
  ] as const) {
    assert.deepEqual(ethernet.parse(bytes), {
      ok: false,
      error: { layer: 'ethernet', reason: 'truncated', offset },
    });
  }
  assert.ok(ethernet.parse(TAGGED.subarray(0, 18)).ok, 'an empty payload is fine');
});

test('MAC text round-trips; EtherType names', () => {
  assert.deepEqual(ethernet.parseMac('02:00:00:00:00:01'), fromHex('020000000001'));
  assert.deepEqual(ethernet.parseMac('0A-1b-2C-3d-4E-5f'), fromHex('0a1b2c3d4e5f'));
  assert.equal(ethernet.formatMac(fromHex('0a1b2c3d4e5f')), '0a:1b:2c:3d:4e:5f');
  for (const bad of [
    '02:00:00:00:00',
    '02:00:00:00:00:01:02',
    '2:00:00:00:00:01',
    'zz:00:00:00:00:01',
  ]) {
    assert.throws(() => ethernet.parseMac(bad), TypeError, bad);
  }
  assert.throws(() => ethernet.formatMac(new Uint8Array(5)), /6-byte MAC address, got 5/);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 6, maxLength: 6 }), (mac) => {
      assert.deepEqual(ethernet.parseMac(ethernet.formatMac(mac)), mac);
    })
  );
  assert.equal(ethernet.etherTypeName(0x0800), 'ipv4');
  assert.equal(ethernet.etherTypeName(0x86dd), 'ipv6');
  assert.equal(ethernet.etherTypeName(0x88cc), 'unknown(0x88cc)');
});

test('emit misuse throws RangeError', () => {
  assert.throws(() => ethernet.emit(NS_HEADER, new Uint8Array(13)), /at least 14 bytes, got 13/);
  const tagged = { ...NS_HEADER, vlan: { pcp: 0, dei: false, vid: 1 } };
  assert.throws(() => ethernet.emit(tagged, new Uint8Array(17)), /at least 18 bytes/);
  assert.throws(
    () => ethernet.emit({ ...NS_HEADER, vlan: { pcp: 8, dei: false, vid: 1 } }, new Uint8Array(18)),
    RangeError
  );
  assert.throws(
    () =>
      ethernet.emit({ ...NS_HEADER, vlan: { pcp: 0, dei: false, vid: 4096 } }, new Uint8Array(18)),
    RangeError
  );
  assert.throws(
    () => ethernet.emit({ ...NS_HEADER, source: new Uint8Array(4) }, new Uint8Array(18)),
    /6-byte/
  );
  assert.throws(
    () => ethernet.emit({ ...NS_HEADER, etherType: 0x10000 }, new Uint8Array(18)),
    RangeError
  );
});

// fc.record builds null-prototype objects; spread into plain ones for deepStrictEqual.
const vlanArb = fc
  .record({
    pcp: fc.integer({ min: 0, max: 7 }),
    dei: fc.boolean(),
    vid: fc.integer({ min: 0, max: 4095 }),
  })
  .map((v) => ({ ...v }));
const headerArb: fc.Arbitrary<ethernet.Header> = fc
  .tuple(
    fc.uint8Array({ minLength: 6, maxLength: 6 }),
    fc.uint8Array({ minLength: 6, maxLength: 6 }),
    fc.option(vlanArb, { nil: undefined }),
    // A frame whose EtherType is 0x8100 would be read as a second tag: left out of the untagged case.
    fc.integer({ min: 0, max: 0xffff })
  )
  .filter(([, , vlan, etherType]) => vlan !== undefined || etherType !== ethernet.EtherType.Vlan)
  .map(([destination, source, vlan, etherType]) =>
    vlan === undefined
      ? { destination, source, etherType }
      : { destination, source, vlan, etherType }
  );

test('parse(emit(h)) = h for generated headers, with the codec laws', () => {
  fc.assert(
    fc.property(headerArb, fc.uint8Array({ maxLength: 24 }), (header, payload) => {
      assertCodecLaws(codec, header, payload);
    }),
    { numRuns: 200 }
  );
});

test('parse never throws on arbitrary bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.boolean(), (bytes, tag) => {
      if (tag && bytes.length >= 14) bytes.set([0x81, 0x00], 12);
      const r = ethernet.parse(bytes);
      if (r.ok)
        assert.equal(r.value.payload.length, bytes.length - ethernet.headerLength(r.value.header));
      else assert.ok(r.error.offset <= bytes.length);
    }),
    { numRuns: 500 }
  );
});
