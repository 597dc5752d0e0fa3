import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as udp from './udp.ts';
import * as checksum from './checksum.ts';
import { fromHex } from './bytes.ts';
import { assertCodecLaws, type Codec } from '../../tests/laws.ts';

const codec: Codec<udp.Header, udp.Datagram> = udp;

/** Hex with `//` comments to the end of each line. */
const hex = (s: string): Uint8Array => fromHex(s.replace(/\/\/.*$/gm, ''));

// A captured Sun RPC portmapper GETPORT call, from the sample 'TCPIPTRACE' output in Wireshark's
// wiretap/vms.c (VMS prints each 32-bit word byte-reversed; un-reversed here). The IP header
// (4500 0054 178f 0000 4011 4c71, 10.12.1.80 → 10.12.1.50) is correct, and so is the UDP checksum.
const SRC = fromHex('0a0c0150'); // 10.12.1.80
const DST = fromHex('0a0c0132'); // 10.12.1.50
const DATAGRAM = hex(`
  02db      // Source Port 731
  006f      // Destination Port 111 (sunrpc)
  0040      // Length 64
  b6c0      // Checksum 0xb6c0
  3c4ce527 00000000 00000002   // RPC: XID, CALL, RPC version 2
  000186a0 00000002 00000003   // program 100000 (portmapper), version 2, procedure 3 (GETPORT)
  00000000 00000000 00000000 00000000   // null credentials and verifier
  000186a5 00000001 00000006 00000000   // mountd (100005) v1 over TCP (6), port 0
`);
const PSEUDO = checksum.pseudoHeaderV4(SRC, DST, 17, DATAGRAM.length);

test('captured datagram: getters, parse, checksum', () => {
  assert.equal(DATAGRAM.length, 64);
  const v = new udp.View(DATAGRAM);
  assert.equal(v.srcPort, 731);
  assert.equal(v.dstPort, 111);
  assert.equal(v.length, 64);
  assert.equal(v.checksum, 0xb6c0);
  assert.equal(v.payload.length, 56);
  const r = udp.parse(DATAGRAM);
  assert.ok(r.ok);
  assert.deepEqual(r.value.header, { srcPort: 731, dstPort: 111 });
  assert.deepEqual(r.value.payload, DATAGRAM.subarray(8));
  assert.ok(udp.checksumValid(DATAGRAM, PSEUDO, 4));
  const wrongAddress = checksum.pseudoHeaderV4(SRC, fromHex('0a0c0133'), 17, 64);
  assert.ok(!udp.checksumValid(DATAGRAM, wrongAddress, 4));
});

test('captured datagram: emit + fillChecksum rebuild every byte from junk', () => {
  for (const junk of [0xa5, 0x17, 0x00, 0xff]) {
    const out = new Uint8Array(64).fill(junk);
    assert.equal(udp.emit({ srcPort: 731, dstPort: 111 }, out, 56), 8);
    out.set(DATAGRAM.subarray(8), 8);
    udp.fillChecksum(out, PSEUDO);
    assert.deepEqual(out, DATAGRAM);
  }
});

test('View setters patch fields in place', () => {
  const b = DATAGRAM.slice();
  const v = new udp.View(b);
  v.srcPort = 4500;
  v.dstPort = 4500;
  v.length = 9;
  v.checksum = 0;
  assert.deepEqual(b.subarray(0, 8), fromHex('1194 1194 0009 0000'));
  assert.equal(v.payload.length, 1);
});

test('codec laws on the captured header and payload', () => {
  assertCodecLaws(codec, { srcPort: 731, dstPort: 111 }, DATAGRAM.subarray(8));
});

test('truncation at every length fails; at and past Length parses', () => {
  for (let n = 0; n < 64; n++) {
    const r = udp.parse(DATAGRAM.slice(0, n));
    assert.ok(!r.ok, `${n} bytes`);
    assert.deepEqual(r.error, { layer: 'udp', reason: 'truncated', offset: n });
  }
  const padded = new Uint8Array(70);
  padded.set(DATAGRAM);
  const r = udp.parse(padded);
  assert.ok(r.ok, 'bytes past Length are the link layer padding');
  assert.equal(r.value.payload.length, 56);
});

test('Length below 8 is bad-length at offset 4', () => {
  for (const length of [0, 1, 7]) {
    const b = DATAGRAM.slice();
    new udp.View(b).length = length;
    assert.deepEqual(udp.parse(b), {
      ok: false,
      error: { layer: 'udp', reason: 'bad-length', offset: 4 },
    });
  }
});

test('checksum 0 means "none" over IPv4 and is invalid over IPv6 (RFC 768, RFC 8200 §8.1)', () => {
  const b = DATAGRAM.slice();
  new udp.View(b).checksum = 0;
  assert.ok(udp.checksumValid(b, PSEUDO, 4));
  assert.ok(!udp.checksumValid(b, PSEUDO, 6));
  assert.ok(!udp.checksumValid(b.subarray(0, 7), PSEUDO, 4), 'too short to hold a checksum');
});

test('a computed checksum of 0 is sent as 0xffff (RFC 768)', () => {
  // Choose the last data word so that the one's-complement sum of everything is 0xffff.
  const b = new Uint8Array(12);
  udp.emit({ srcPort: 1, dstPort: 2 }, b, 4);
  const v6 = checksum.pseudoHeaderV6(
    fromHex('20010db8000000000000000000000001'),
    fromHex('20010db8000000000000000000000002'),
    17,
    b.length
  );
  const partial = checksum.fold(checksum.sum16(b, v6));
  const word = 0xffff - partial;
  b[10] = word >>> 8;
  b[11] = word & 0xff;
  assert.equal(checksum.finish(checksum.sum16(b, v6)), 0, 'the computed checksum is 0');
  udp.fillChecksum(b, v6);
  assert.equal(new udp.View(b).checksum, 0xffff);
  assert.ok(udp.checksumValid(b, v6, 6));
});

test('fillChecksum then checksumValid, over IPv4 and IPv6 (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.uint8Array({ maxLength: 100 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (srcPort, dstPort, payload, src, dst) => {
        const b = new Uint8Array(8 + payload.length);
        udp.emit({ srcPort, dstPort }, b, payload.length);
        b.set(payload, 8);
        const pseudo = checksum.pseudoHeaderV6(src, dst, 17, b.length);
        udp.fillChecksum(b, pseudo);
        assert.notEqual(new udp.View(b).checksum, 0);
        assert.ok(udp.checksumValid(b, pseudo, 6));
        if (payload.length > 0) {
          b[8] ^= 0x01;
          assert.ok(!udp.checksumValid(b, pseudo, 6), 'a flipped bit is caught');
        }
      }
    )
  );
});

test('parse(emit(h)) = h for generated headers (property)', () => {
  fc.assert(
    fc.property(
      fc.record(
        {
          srcPort: fc.integer({ min: 0, max: 0xffff }),
          dstPort: fc.integer({ min: 0, max: 0xffff }),
        },
        { noNullPrototype: true }
      ),
      fc.uint8Array({ maxLength: 64 }),
      (h, payload) => {
        assertCodecLaws(codec, h, payload);
      }
    )
  );
});

test('parse of random bytes never throws', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const r = udp.parse(bytes);
      if (r.ok) assert.ok(r.value.payload.length + 8 <= bytes.length);
      else assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length);
    })
  );
});

test('misuse throws RangeError', () => {
  assert.throws(() => udp.emit({ srcPort: 1, dstPort: 2 }, new Uint8Array(7), 0), RangeError);
  assert.throws(
    () => udp.emit({ srcPort: 1, dstPort: 2 }, new Uint8Array(8), 0xfff8),
    /payloadLength: expected an integer from 0 to 65527/
  );
  assert.throws(() => udp.emit({ srcPort: 65536, dstPort: 2 }, new Uint8Array(8), 0), /srcPort/);
  assert.throws(() => {
    udp.fillChecksum(new Uint8Array(4), 0);
  }, RangeError);
});
