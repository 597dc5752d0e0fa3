import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { assertCodecLaws, type Codec } from '../../tests/laws.ts';
import { fromHex } from './bytes.ts';
import * as checksum from './checksum.ts';
import * as ipv4 from './ipv4.ts';

const codec: Codec<ipv4.Header, ipv4.Packet> = ipv4;

/** Hex with `//` comments per line. */
const hex = (text: string): Uint8Array => fromHex(text.replace(/\/\/.*$/gm, ''));

// A captured IPv4/TCP segment: an FTP client sending "STOR salasanat.zip" (a Wireshark dump
// published with a Snort exercise; the 16-byte Linux cooked-capture header is left out).
// Both the IP header checksum and the TCP checksum are correct.
const FTP = hex(`
  45                  // version 4, IHL 5 (20 bytes)
  00                  // type of service 0
  003c                // total length 60
  1bdd                // identification 0x1bdd
  4000                // flags DF, fragment offset 0
  80                  // time to live 128
  06                  // protocol 6 (TCP)
  0f98                // header checksum
  50dd914d            // source 80.221.145.77
  50dd9c3f            // destination 80.221.156.63
  c2e7 0015           // TCP source port 49895, destination port 21 (ftp)
  a2937c19 dacef013   // sequence, acknowledgment
  5018 1eef 2725 0000 // data offset 5, PSH+ACK, window 7919, checksum 0x2725, urgent 0
  53544f522073616c6173616e61742e7a69700d0a // "STOR salasanat.zip\\r\\n"
`);

const FTP_HEADER: ipv4.Header = {
  typeOfService: 0,
  identification: 0x1bdd,
  dontFragment: true,
  moreFragments: false,
  fragmentOffset: 0,
  timeToLive: 128,
  protocol: ipv4.IpProtocol.Tcp,
  sourceAddress: ipv4.parseAddress('80.221.145.77'),
  destinationAddress: ipv4.parseAddress('80.221.156.63'),
  options: new Uint8Array(0),
};

test('captured FTP segment: View getters', () => {
  const v = new ipv4.View(FTP);
  assert.equal(v.version, 4);
  assert.equal(v.headerLength, 20);
  assert.equal(v.typeOfService, 0);
  assert.equal(v.totalLength, 60);
  assert.equal(v.identification, 0x1bdd);
  assert.equal(v.flags, 0b010);
  assert.equal(v.dontFragment, true);
  assert.equal(v.moreFragments, false);
  assert.equal(v.fragmentOffset, 0);
  assert.equal(v.timeToLive, 128);
  assert.equal(v.protocol, 6);
  assert.equal(v.headerChecksum, 0x0f98);
  assert.equal(ipv4.formatAddress(v.sourceAddress), '80.221.145.77');
  assert.equal(ipv4.formatAddress(v.destinationAddress), '80.221.156.63');
  assert.equal(v.options.length, 0);
  assert.equal(v.payload.length, 40);
  assert.equal(v.checksumValid, true);
  const seed = checksum.pseudoHeaderV4(v.sourceAddress, v.destinationAddress, 6, 40);
  assert.equal(checksum.finish(checksum.sum16(v.payload, seed)), 0, 'TCP checksum verifies');
});

test('captured FTP segment: parse, and emit reproduces the header bytes', () => {
  const r = ipv4.parse(FTP);
  assert.ok(r.ok);
  assert.deepEqual(r.value.header, FTP_HEADER);
  assert.equal(r.value.headerLength, 20);
  assert.equal(r.value.checksumValid, true);
  assert.equal(r.value.payload.length, 40);
  assert.equal(r.value.payload.byteOffset, FTP.byteOffset + 20, 'payload is a view');
  const out = new Uint8Array(20).fill(0xa5);
  assert.equal(ipv4.emit(FTP_HEADER, out, 40), 20);
  assert.deepEqual(out, FTP.subarray(0, 20));
  assertCodecLaws(codec, FTP_HEADER, FTP.subarray(20));
});

test('View setters write the fields they name and fillChecksum repairs the checksum', () => {
  const bytes = FTP.slice();
  const v = new ipv4.View(bytes);
  v.timeToLive = 127;
  assert.equal(v.checksumValid, false);
  v.fillChecksum();
  assert.equal(v.checksumValid, true);
  assert.equal(v.headerChecksum, checksum.update(0x0f98, 0x8006, 0x7f06), 'RFC 1624 agrees');
  v.moreFragments = true;
  v.fragmentOffset = 0x1abc;
  v.dontFragment = false;
  assert.deepEqual([v.flags, v.fragmentOffset, bytes[6], bytes[7]], [0b001, 0x1abc, 0x3a, 0xbc]);
  v.flags = 0b110;
  assert.deepEqual([v.dontFragment, v.moreFragments, v.fragmentOffset], [true, false, 0x1abc]);
  v.typeOfService = 0xb8;
  v.totalLength = 44;
  v.identification = 7;
  v.protocol = 17;
  v.headerChecksum = 0xbeef;
  v.destinationAddress.set([192, 0, 2, 1]);
  assert.deepEqual(
    bytes.subarray(0, 20),
    fromHex('45b8 002c 0007 dabc 7f11 beef 50dd914d c0000201')
  );
  v.headerLength = 24;
  assert.equal(bytes[0], 0x46);
  v.version = 5;
  assert.equal(bytes[0], 0x56);
});

test('options: emit pads with EOL to 4 bytes, parse returns the options before EOL', () => {
  const header: ipv4.Header = {
    ...FTP_HEADER,
    protocol: ipv4.IpProtocol.Udp,
    options: fromHex('01 9404 0000 01'), // NOP, Router Alert (RFC 2113), NOP: 6 bytes
  };
  assert.equal(ipv4.headerLength(header), 28);
  const packet = assertCodecLaws(codec, header, fromHex('0102030405'));
  assert.deepEqual(packet.subarray(20, 28), fromHex('01 9404 0000 01 0000'));
  assert.equal(packet[0], 0x47, 'IHL 7');
  const r = ipv4.parse(packet);
  assert.ok(r.ok);
  assert.equal(r.value.headerLength, 28);
  assert.deepEqual(
    [...ipv4.walkOptions(new ipv4.View(packet).options)],
    [
      { type: 1, offset: 0, length: 1 },
      { type: 148, offset: 1, length: 4 },
      { type: 1, offset: 5, length: 1 },
      { type: 0, offset: 6, length: 1 },
    ]
  );
  // Bytes after End of Option List are padding, not options.
  const junkAfterEol = packet.slice();
  junkAfterEol.set(fromHex('00 ff'), 26);
  new ipv4.View(junkAfterEol).fillChecksum();
  const j = ipv4.parse(junkAfterEol);
  assert.ok(j.ok);
  assert.deepEqual(j.value.header.options, fromHex('01 9404 0000 01'));
});

test('a wrong checksum is reported, not refused', () => {
  const bytes = FTP.slice();
  bytes[11] ^= 1;
  const r = ipv4.parse(bytes);
  assert.ok(r.ok);
  assert.equal(r.value.checksumValid, false);
  assert.deepEqual(r.value.header, FTP_HEADER);
});

test('parse failures name the reason and the offending offset', () => {
  const reject = (bytes: Uint8Array, reason: string, offset: number): void => {
    const r = ipv4.parse(bytes);
    assert.ok(!r.ok, `expected ${reason}`);
    assert.deepEqual(r.error, { layer: 'ipv4', reason, offset });
  };
  reject(new Uint8Array(0), 'truncated', 0);
  reject(FTP.subarray(0, 19), 'truncated', 19);
  const v6 = FTP.slice();
  v6[0] = 0x65;
  reject(v6, 'bad-version', 0);
  const ihl4 = FTP.slice();
  ihl4[0] = 0x44;
  reject(ihl4, 'bad-ihl', 0);
  const ihl15 = FTP.slice(0, 40);
  ihl15[0] = 0x4f;
  reject(ihl15, 'truncated', 40);
  reject(FTP.subarray(0, 59), 'length-mismatch', 2);
  const short = FTP.slice();
  short[3] = 19;
  reject(short, 'length-mismatch', 2);
  // Options: a TLV whose length runs past the header, a length below 2, a missing length octet.
  const withOptions = (options: string): Uint8Array => {
    const o = fromHex(options);
    const out = new Uint8Array(20 + o.length);
    out.set(FTP.subarray(0, 20));
    out[0] = 0x40 | ((20 + o.length) >>> 2);
    out[3] = out.length;
    out.set(o, 20);
    return out;
  };
  reject(withOptions('01 01 9406 0000'), 'bad-option', 22);
  reject(withOptions('9401 0000'), 'bad-option', 20);
  reject(withOptions('010101 94'), 'bad-option', 23);
  assert.ok(ipv4.parse(withOptions('01 00 ff ff')).ok, 'nothing is read after EOL');
});

test('protocol names and option constants', () => {
  assert.equal(ipv4.protocolName(6), 'tcp');
  assert.equal(ipv4.protocolName(50), 'esp');
  assert.equal(ipv4.protocolName(51), 'ah');
  assert.equal(ipv4.protocolName(58), 'icmpv6');
  assert.equal(ipv4.protocolName(200), 'unknown(200)');
  assert.equal(ipv4.IpProtocol.Ipip, 4);
  assert.equal(ipv4.OptionType.LooseSourceRoute, 0x83);
  assert.equal(ipv4.OptionType.StrictSourceRoute, 0x89);
});

test('address text round-trips and refuses malformed input', () => {
  assert.deepEqual(ipv4.parseAddress('192.0.2.1'), fromHex('c0000201'));
  assert.equal(ipv4.formatAddress(fromHex('c6336407')), '198.51.100.7');
  assert.equal(ipv4.formatAddress(ipv4.parseAddress('0.0.0.0')), '0.0.0.0');
  for (const bad of [
    '192.0.2',
    '192.0.2.256',
    '192.0.2.01',
    '1.2.3.4.5',
    ' 1.2.3.4',
    'a.b.c.d',
    '',
  ]) {
    assert.throws(() => ipv4.parseAddress(bad), TypeError, bad);
  }
  assert.throws(() => ipv4.formatAddress(new Uint8Array(16)), /expected a 4-byte address/);
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (a) => {
      assert.deepEqual(ipv4.parseAddress(ipv4.formatAddress(a)), a);
    })
  );
});

test('emit misuse throws RangeError', () => {
  const out = new Uint8Array(64);
  assert.throws(() => ipv4.emit(FTP_HEADER, new Uint8Array(19), 0), /at least 20 bytes, got 19/);
  assert.throws(() => ipv4.emit({ ...FTP_HEADER, timeToLive: 256 }, out, 0), RangeError);
  assert.throws(() => ipv4.emit({ ...FTP_HEADER, fragmentOffset: 0x2000 }, out, 0), RangeError);
  assert.throws(
    () => ipv4.emit({ ...FTP_HEADER, sourceAddress: new Uint8Array(16) }, out, 0),
    /4-byte/
  );
  assert.throws(
    () => ipv4.emit({ ...FTP_HEADER, options: new Uint8Array(41) }, out, 0),
    /40 bytes/
  );
  assert.throws(() => ipv4.emit(FTP_HEADER, out, 0xffff - 19), RangeError);
  assert.equal(ipv4.emit(FTP_HEADER, out, 0xffff - 20), 20);
});

/** Option TLV lists without EOL: NOPs and options of type 2..255 with up to 8 data bytes. */
const optionsArb = fc
  .array(
    fc.oneof(
      fc.constant(Uint8Array.of(1)),
      fc
        .tuple(fc.integer({ min: 2, max: 255 }), fc.uint8Array({ maxLength: 8 }))
        .map(([type, data]) => Uint8Array.of(type, data.length + 2, ...data))
    ),
    { maxLength: 8 }
  )
  .map((parts) => Uint8Array.from(parts.flatMap((p) => [...p])))
  .filter((o) => o.length <= 40);

// fc.record builds null-prototype objects; spread into plain ones for deepStrictEqual.
const headerArb: fc.Arbitrary<ipv4.Header> = fc
  .record({
    typeOfService: fc.integer({ min: 0, max: 255 }),
    identification: fc.integer({ min: 0, max: 0xffff }),
    dontFragment: fc.boolean(),
    moreFragments: fc.boolean(),
    fragmentOffset: fc.integer({ min: 0, max: 0x1fff }),
    timeToLive: fc.integer({ min: 0, max: 255 }),
    protocol: fc.integer({ min: 0, max: 255 }),
    sourceAddress: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    destinationAddress: fc.uint8Array({ minLength: 4, maxLength: 4 }),
    options: optionsArb,
  })
  .map((h) => ({ ...h }));

test('parse(emit(h)) = h for generated headers, with the codec laws', () => {
  fc.assert(
    fc.property(headerArb, fc.uint8Array({ maxLength: 32 }), (header, payload) => {
      const packet = assertCodecLaws(codec, header, payload);
      const r = ipv4.parse(packet);
      assert.ok(r.ok && r.value.checksumValid);
    }),
    { numRuns: 200 }
  );
});

test('parse never throws on arbitrary bytes, nor on bytes that look like IPv4', () => {
  const noThrow = (bytes: Uint8Array): void => {
    const r = ipv4.parse(bytes);
    if (!r.ok) assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length);
    else assert.ok(r.value.headerLength + r.value.payload.length <= bytes.length);
  };
  fc.assert(fc.property(fc.uint8Array({ maxLength: 80 }), noThrow), { numRuns: 500 });
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 15 }),
      fc.uint8Array({ minLength: 20, maxLength: 80 }),
      (ihl, bytes) => {
        bytes[0] = 0x40 | ihl;
        bytes[2] = 0;
        bytes[3] = Math.min(bytes[3], bytes.length);
        noThrow(bytes);
        for (const option of ipv4.walkOptions(bytes.subarray(20, ihl * 4))) {
          assert.ok(option.offset + option.length <= ihl * 4 - 20);
        }
      }
    ),
    { numRuns: 500 }
  );
});
