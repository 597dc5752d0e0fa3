import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import * as ah from './ah.ts';
import * as checksum from './checksum.ts';
import { fromHex } from './bytes.ts';
import { zeroMutableFields } from './mutable.ts';
import type { Parsed } from './parsed.ts';
import { assertCodecLaws, type Codec } from '../../tests/laws.ts';

/** Hex with `//` comments to the end of each line. */
const hex = (s: string): Uint8Array => fromHex(s.replace(/\/\/.*$/gm, ''));

/** The codec laws need a one-argument parse: bind the SA's sizes from the header. */
function codecFor(h: ah.Header): Codec<ah.Header, ah.Packet> {
  return {
    headerLength: ah.headerLength,
    emit: ah.emit,
    parse: (bytes) =>
      ah.parse(bytes, { ipVersion: h.ipVersion, ivLength: h.ivLength, icvLength: h.icvLength }),
  };
}

/** Sets a correct IPv4 header checksum (bytes 10–11) on a 20-byte header. */
function fixIpv4Checksum(packet: Uint8Array): Uint8Array {
  packet[10] = 0;
  packet[11] = 0;
  const c = checksum.checksum(packet.subarray(0, 20));
  packet[10] = c >>> 8;
  packet[11] = c & 0xff;
  return packet;
}

// HMAC-SHA1-96 over IPv4, transport mode: 12 + 12 = 24 bytes, no padding (RFC 4302 §2.6).
const V4_AH = hex(`
  11          // Next Header 17 (UDP)
  04          // Payload Len 4: 24 bytes / 4 − 2
  0000        // Reserved
  00001001    // SPI 0x1001
  00000007    // Sequence Number 7
  000000000000000000000000   // ICV, 12 bytes, zero as framed (contract D1)
`);
const V4_HEADER: ah.Header = {
  nextHeader: 17,
  spi: 0x1001,
  sequenceNumber: 7,
  ivLength: 0,
  icvLength: 12,
  ipVersion: 4,
};
const UDP = hex(`
  1234 0035 000c 0000   // UDP 4660 → 53, length 12, checksum 0
  deadbeef              // data
`);
const V4_PACKET = fixIpv4Checksum(
  hex(`
  45 b8 0038  // version 4, IHL 5, TOS 0xb8, Total Length 56 = 20 + 24 + 12
  1234 4000   // Identification, DF
  40 33 0000  // TTL 64, protocol 51 (AH), checksum (set below)
  c0000201    // 192.0.2.1
  c0000202    // 192.0.2.2
  ${Buffer.from(V4_AH).toString('hex')}
  ${Buffer.from(UDP).toString('hex')}
`)
);
// What the ICV is computed over: TOS, flags, TTL and checksum zeroed (RFC 4302 §3.3.3.1.1.1),
// the ICV zero (§3.3.3), the rest as sent.
const V4_ICV_INPUT = hex(`
  45 00 0038  1234 0000  00 33 0000  c0000201 c0000202
  11 04 0000 00001001 00000007 000000000000000000000000
  1234 0035 000c 0000 deadbeef
`);

// HMAC-SHA-256-128 over IPv6: 12 + 16 = 28, padded to 32 (RFC 4302 §2.6; contract D1).
const V6_AH = hex(`
  11          // Next Header 17 (UDP)
  06          // Payload Len 6: 32 bytes / 4 − 2
  0000        // Reserved
  00002002    // SPI 0x2002
  fffffffe    // Sequence Number 2^32 − 2
  00000000000000000000000000000000   // ICV, 16 bytes
  00000000    // padding to a multiple of 8 bytes
`);
const V6_HEADER: ah.Header = {
  nextHeader: 17,
  spi: 0x2002,
  sequenceNumber: 0xfffffffe,
  ivLength: 0,
  icvLength: 16,
  ipVersion: 6,
};
const V6_PACKET = hex(`
  6b812345    // version 6, Traffic Class 0xb8, Flow Label 0x12345
  002c 33 40  // Payload Length 44 = 32 + 12, Next Header 51 (AH), Hop Limit 64
  20010db8000000000000000000000001   // 2001:db8::1
  20010db8000000000000000000000002   // 2001:db8::2
  ${Buffer.from(V6_AH).toString('hex')}
  ${Buffer.from(UDP).toString('hex')}
`);

// AES-GMAC (RFC 4543 §4): the 8-byte IV precedes the 16-byte ICV; IPv6 pads 36 → 40 (erratum 3643).
const GMAC_V6_AH = hex(`
  06 08 0000          // Next Header 6 (TCP), Payload Len 8: 40 / 4 − 2, Reserved
  00003003 00000001   // SPI 0x3003, Sequence Number 1
  0000000000000001    // IV: the 64-bit sequence number (contract D6)
  a1a2a3a4a5a6a7a8a9aaabacadaeafb0   // ICV (tag), 16 bytes
  00000000            // padding
`);

test('ahLength and payloadLengthField: RFC 4302 §2.6 alignment', () => {
  assert.equal(ah.ahLength(12, 0, 4), 24, 'HMAC-SHA1-96 over IPv4');
  assert.equal(ah.ahLength(12, 0, 6), 24, 'HMAC-SHA1-96 over IPv6 (already 8-aligned)');
  assert.equal(ah.ahLength(16, 0, 4), 28, 'HMAC-SHA-256-128 over IPv4');
  assert.equal(ah.ahLength(16, 0, 6), 32, 'HMAC-SHA-256-128 over IPv6: 12 + 16 + 4');
  assert.equal(ah.ahLength(16, 8, 4), 36, 'AES-GMAC over IPv4');
  assert.equal(ah.ahLength(16, 8, 6), 40, 'AES-GMAC over IPv6 (RFC 4543 erratum 3643)');
  assert.equal(ah.ahLength(24, 0, 6), 40, 'HMAC-SHA-384-192 over IPv6');
  assert.equal(ah.payloadLengthField(24), 4);
  assert.equal(ah.payloadLengthField(32), 6);
  assert.equal(ah.payloadLengthField(12), 1);
  assert.throws(() => ah.payloadLengthField(30), /expected a multiple of 4/);
  assert.throws(() => ah.payloadLengthField(8), RangeError);
  assert.throws(() => ah.ahLength(1020, 0, 4), /at most 1028 bytes, got 1032/);
  assert.throws(() => ah.ahLength(12, 0, 5 as ah.IpVersion), /ipVersion 4 or 6/);
});

test('IPv4 SHA1-96 (24 bytes): emit into junk, getters, parse', () => {
  const out = new Uint8Array(30).fill(0xa5);
  assert.equal(ah.emit(V4_HEADER, out), 24);
  assert.deepEqual(out.subarray(0, 24), V4_AH);
  assert.ok(out.subarray(24).every((b) => b === 0xa5));

  const v = new ah.View(V4_PACKET.subarray(20));
  assert.equal(v.nextHeader, 17);
  assert.equal(v.payloadLength, 4);
  assert.equal(v.headerLength, 24);
  assert.equal(v.reserved, 0);
  assert.equal(v.spi, 0x1001);
  assert.equal(v.sequenceNumber, 7);
  assert.equal(v.authenticationData.length, 12);
  assert.deepEqual(v.payload, UDP);

  const r = ah.parse(V4_PACKET.subarray(20), { ipVersion: 4, icvLength: 12 });
  assert.ok(r.ok);
  assert.deepEqual(r.value.header, V4_HEADER);
  assert.equal(r.value.icv.length, 12);
  assert.equal(r.value.iv.length, 0);
  assert.equal(r.value.padding.length, 0);
  assert.deepEqual(r.value.payload, UDP);
});

test('IPv6 SHA-256-128 (32 bytes): emit into junk, parse exposes ICV and padding', () => {
  const out = new Uint8Array(32).fill(0x17);
  assert.equal(ah.emit(V6_HEADER, out), 32);
  assert.deepEqual(out, V6_AH);
  const r = ah.parse(V6_PACKET.subarray(40), { ipVersion: 6, icvLength: 16 });
  assert.ok(r.ok);
  assert.deepEqual(r.value.header, V6_HEADER);
  assert.equal(r.value.headerLength, 32);
  assert.equal(r.value.icv.length, 16);
  assert.equal(r.value.padding.length, 4);
  assert.equal(r.value.icv.byteOffset, V6_PACKET.byteOffset + 52, 'a subarray at byte 12 of AH');
  // Without the SA's ICV length, everything after the IV is ICV (padding included).
  const blind = ah.parse(V6_PACKET.subarray(40), { ipVersion: 6 });
  assert.ok(blind.ok);
  assert.equal(blind.value.header.icvLength, 20);
});

test('AES-GMAC: IV then ICV then padding (RFC 4543 §4)', () => {
  const r = ah.parse(GMAC_V6_AH, { ipVersion: 6, ivLength: ah.GMAC_IV_LENGTH, icvLength: 16 });
  assert.ok(r.ok);
  assert.deepEqual(r.value.iv, fromHex('0000000000000001'));
  assert.deepEqual(r.value.icv, fromHex('a1a2a3a4a5a6a7a8a9aaabacadaeafb0'));
  assert.deepEqual(r.value.padding, fromHex('00000000'));
  const gmac: ah.Header = {
    nextHeader: 6,
    spi: 0x3003,
    sequenceNumber: 1,
    ivLength: 8,
    icvLength: 16,
    ipVersion: 6,
  };
  assert.deepEqual(r.value.header, gmac);
  const out = new Uint8Array(40).fill(0xa5);
  assert.equal(ah.emit(gmac, out), 40);
  assert.deepEqual(out.subarray(0, 12), GMAC_V6_AH.subarray(0, 12));
  assert.ok(
    out.subarray(12).every((b) => b === 0),
    'IV, ICV and padding framed as zeros'
  );
  assertCodecLaws(codecFor({ ...gmac, ipVersion: 4 }), { ...gmac, ipVersion: 4 });
});

test('bad-payload-length, icv-length-mismatch and truncated', () => {
  const fail = (reason: string, offset: number) => ({
    ok: false,
    error: { layer: 'ah', reason, offset },
  });
  const b = V6_AH.slice();
  b[1] = 0; // 8 bytes: cannot hold SPI and sequence number
  assert.deepEqual(ah.parse(b, { ipVersion: 4 }), fail('bad-payload-length', 1));
  b[1] = 5; // 28 bytes: aligned for IPv4, not for IPv6
  assert.ok(ah.parse(b, { ipVersion: 4 }).ok);
  assert.deepEqual(ah.parse(b, { ipVersion: 6 }), fail('bad-payload-length', 1));
  assert.deepEqual(ah.parse(b, { ipVersion: 4, icvLength: 12 }), fail('icv-length-mismatch', 1));
  b[1] = 1; // 12 bytes: no room for an 8-byte IV
  assert.deepEqual(ah.parse(b, { ipVersion: 4, ivLength: 8 }), fail('bad-payload-length', 1));
  b[1] = 6;
  assert.deepEqual(ah.parse(b.subarray(0, 31), { ipVersion: 6 }), fail('truncated', 31));
  for (let n = 0; n < 12; n++) {
    assert.deepEqual(ah.parse(b.subarray(0, n), { ipVersion: 6 }), fail('truncated', n));
  }
});

test('codec laws: the IPv4, IPv6 and GMAC headers, with payload', () => {
  assertCodecLaws(codecFor(V4_HEADER), V4_HEADER, UDP);
  assertCodecLaws(codecFor(V6_HEADER), V6_HEADER, UDP);
});

const arbHeader: fc.Arbitrary<ah.Header> = fc.record(
  {
    nextHeader: fc.integer({ min: 0, max: 255 }),
    spi: fc.integer({ min: 0, max: 0xffff_ffff }),
    sequenceNumber: fc.integer({ min: 0, max: 0xffff_ffff }),
    ivLength: fc.constantFrom(0, 8),
    icvLength: fc.integer({ min: 0, max: 64 }),
    ipVersion: fc.constantFrom<ah.IpVersion>(4, 6),
  },
  { noNullPrototype: true }
);

test('parse(emit(h)) = h for generated headers (property)', () => {
  fc.assert(
    fc.property(arbHeader, fc.uint8Array({ maxLength: 24 }), (h, payload) => {
      const bytes = assertCodecLaws(codecFor(h), h, payload);
      assert.equal(
        bytes.length - payload.length,
        ah.ahLength(h.icvLength, h.ivLength, h.ipVersion)
      );
      assert.equal((bytes.length - payload.length) % (h.ipVersion === 4 ? 4 : 8), 0);
    })
  );
});

test('parse of random bytes never throws', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 80 }),
      fc.constantFrom<ah.IpVersion>(4, 6),
      fc.option(fc.integer({ min: 0, max: 40 }), { nil: undefined }),
      fc.constantFrom(0, 8),
      (bytes, ipVersion, icvLength, ivLength) => {
        const r = ah.parse(
          bytes,
          icvLength === undefined ? { ipVersion, ivLength } : { ipVersion, ivLength, icvLength }
        );
        if (r.ok) assert.ok(r.value.headerLength <= bytes.length);
        else assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length);
      }
    )
  );
});

test('icvInput over IPv4: mutable fields and ICV zeroed, copy in scratch, original untouched', () => {
  const original = V4_PACKET.slice();
  const scratch = new Uint8Array(100).fill(0xee);
  const r = ah.icvInput(V4_PACKET, scratch, { icvLength: 12 });
  assert.ok(r.ok);
  assert.deepEqual(r.value.input, V4_ICV_INPUT);
  assert.equal(r.value.input.buffer, scratch.buffer);
  assert.equal(r.value.ahOffset, 20);
  assert.equal(r.value.icvOffset, 32);
  assert.equal(r.value.icvLength, 12);
  assert.deepEqual(V4_PACKET, original, 'the packet itself is not modified');
});

test('icvInput: sender and receiver agree although a router changed TTL and TOS', () => {
  const key = fromHex('0102030405060708090a0b0c0d0e0f1011121314');
  const mac = (input: Uint8Array): Uint8Array =>
    new Uint8Array(createHmac('sha1', key).update(input).digest().subarray(0, 12));
  // Sender: MAC the ICV input, write the ICV into the packet.
  const sent = V4_PACKET.slice();
  const scratch = new Uint8Array(sent.length);
  const s = ah.icvInput(sent, scratch, { icvLength: 12 });
  assert.ok(s.ok);
  const icv = mac(s.value.input);
  sent.set(icv, s.value.icvOffset);
  // In transit: TTL 64 → 63, ECN set; the header checksum follows.
  const received = sent.slice();
  received[8] = 63;
  received[1] = 0xbb;
  fixIpv4Checksum(received);
  const r = ah.icvInput(received, scratch, { icvLength: 12 });
  assert.ok(r.ok);
  assert.deepEqual(
    mac(r.value.input),
    received.subarray(r.value.icvOffset, r.value.icvOffset + 12)
  );
  // A changed payload byte is caught.
  received[received.length - 1] ^= 1;
  const t = ah.icvInput(received, scratch, { icvLength: 12 });
  assert.ok(t.ok);
  assert.notDeepEqual(mac(t.value.input), icv);
});

test('icvInput over IPv6: ICV zeroed, padding kept as sent (RFC 4302 §3.3.3.2.1)', () => {
  const packet = V6_PACKET.slice();
  packet.fill(0x5a, 52, 68); // a received ICV
  packet.fill(0x77, 68, 72); // a peer's non-zero padding
  const r = ah.icvInput(packet, new Uint8Array(packet.length), { icvLength: 16 });
  assert.ok(r.ok);
  const input = r.value.input;
  assert.deepEqual(
    input.subarray(0, 8),
    fromHex('60000000 002c 33 00'),
    'class, flow, hop limit 0'
  );
  assert.deepEqual(input.subarray(8, 40), packet.subarray(8, 40), 'addresses kept');
  assert.deepEqual(input.subarray(40, 52), V6_AH.subarray(0, 12));
  assert.ok(
    input.subarray(52, 68).every((b) => b === 0),
    'ICV zeroed'
  );
  assert.deepEqual(input.subarray(68, 72), fromHex('77777777'), 'padding as sent');
  assert.deepEqual(input.subarray(72), UDP);
  assert.equal(r.value.icvOffset, 52);
});

test('icvInput with AES-GMAC keeps the IV and zeroes only the tag (RFC 4543 §4)', () => {
  const packet = hex(`
    60000000 0034 33 40                  // Payload Length 52 = 40 + 12
    20010db8000000000000000000000001
    20010db8000000000000000000000002
    ${Buffer.from(GMAC_V6_AH).toString('hex')}
    ${Buffer.from(UDP).toString('hex')}
  `);
  const r = ah.icvInput(packet, new Uint8Array(200), {
    icvLength: 16,
    ivLength: ah.GMAC_IV_LENGTH,
  });
  assert.ok(r.ok);
  assert.equal(r.value.icvOffset, 40 + 12 + 8);
  assert.deepEqual(r.value.input.subarray(52, 60), fromHex('0000000000000001'), 'IV kept');
  assert.ok(
    r.value.input.subarray(60, 76).every((b) => b === 0),
    'tag zeroed'
  );
});

test('icvInput failures come back as results with IP-relative offsets', () => {
  // The SA says 16-byte ICV, the IPv4 packet carries a 24-byte AH.
  const r = ah.icvInput(V4_PACKET, new Uint8Array(100), { icvLength: 16 });
  assert.deepEqual(r, {
    ok: false,
    error: { layer: 'ah', reason: 'icv-length-mismatch', offset: 21 },
  });
  // Not an AH packet at all (protocol UDP): mutable.ts refuses it.
  const udpPacket = fixIpv4Checksum(V4_PACKET.slice());
  udpPacket[9] = 17;
  fixIpv4Checksum(udpPacket);
  const n = ah.icvInput(udpPacket, new Uint8Array(100), { icvLength: 12 });
  assert.ok(!n.ok);
  // Truncated inside the AH header: the IP layer already refuses it.
  const t = ah.icvInput(V4_PACKET.subarray(0, 30), new Uint8Array(100), { icvLength: 12 });
  assert.ok(!t.ok);
});

test('icvInput misuse throws RangeError', () => {
  assert.throws(
    () => ah.icvInput(V4_PACKET, new Uint8Array(10), { icvLength: 12 }),
    /expected a buffer of at least 56 bytes, got 10/
  );
  const shared = new Uint8Array(200);
  const packet = shared.subarray(0, V4_PACKET.length);
  packet.set(V4_PACKET);
  assert.throws(() => ah.icvInput(packet, shared.subarray(20), { icvLength: 12 }), /overlap/);
  assert.ok(ah.icvInput(packet, shared.subarray(V4_PACKET.length), { icvLength: 12 }).ok);
});

/**
 * icvInput as it was before its allocation-free path: `mutable.zeroMutableFields` on a copy, then
 * `parse` with the SA's sizes, then the ICV zeroed (RFC 4302 §3.3.3). Plain objects, for deepEqual.
 */
function icvInputOracle(
  ipPacket: Uint8Array,
  icvLength: number,
  ivLength: number
): Parsed<{ input: Uint8Array; ahOffset: number; icvOffset: number; icvLength: number }> {
  const packet = ipPacket.slice();
  const located = zeroMutableFields(packet);
  if (!located.ok) return located;
  const ahOffset = located.value.ahOffset;
  const ipVersion = packet[0] >>> 4 === 4 ? 4 : 6;
  const r = ah.parse(packet.subarray(ahOffset), { ipVersion, ivLength, icvLength });
  if (!r.ok) {
    return { ok: false, error: { ...r.error, offset: r.error.offset + ahOffset } };
  }
  const icvOffset = ahOffset + ah.FIXED_LENGTH + ivLength;
  packet.fill(0, icvOffset, icvOffset + icvLength);
  return { ok: true, value: { input: packet, ahOffset, icvOffset, icvLength } };
}

/** A plain result (fresh arrays, no shared objects) for comparing with the oracle. */
function plain(r: Parsed<ah.IcvInput>): unknown {
  return r.ok ? { ok: true, value: { ...r.value, input: r.value.input.slice() } } : r;
}

/** `arb` in one case of four, else null. */
function rarely<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

/**
 * Packets the allocation-free path takes — IPv4 without options, IPv6 with Next Header AH — and
 * near misses: random header bytes (TOS, flags, fragment fields, TTL, flow label), lengths that
 * fit or not, Payload Len right or wrong, a version/IHL, protocol or Next Header byte changed.
 */
const plainPackets = fc
  .record({
    v6: fc.boolean(),
    header: fc.uint8Array({ minLength: 40, maxLength: 40 }),
    body: fc.uint8Array({ minLength: 0, maxLength: 120 }),
    icvLength: fc.constantFrom(12, 16, 24, 32),
    ivLength: fc.constantFrom(0, 0, 8),
    payloadLen: rarely(fc.integer({ min: 0, max: 12 })),
    totalSkew: fc.constantFrom(0, 0, 0, -1, 1, -30),
    mutate: rarely(fc.tuple(fc.integer({ min: 0, max: 60 }), fc.nat(255))),
    truncate: rarely(fc.nat(80)),
  })
  .map((c) => {
    const ipLength = c.v6 ? 40 : 20;
    const align = c.v6 ? 8 : 4;
    const ahLength = Math.ceil((12 + c.ivLength + c.icvLength) / align) * align;
    const packet = new Uint8Array(ipLength + ahLength + c.body.length);
    packet.set(c.header.subarray(0, ipLength));
    packet.set(c.body, ipLength + ahLength);
    const ahAt = ipLength;
    for (let i = 0; i < ahLength; i++) packet[ahAt + i] = (i * 37 + c.body.length) & 0xff;
    packet[ahAt + 1] = c.payloadLen ?? ahLength / 4 - 2;
    const total = packet.length + c.totalSkew;
    if (c.v6) {
      packet[0] = 0x60 | (packet[0] & 15);
      packet[4] = ((total - 40) >> 8) & 0xff;
      packet[5] = (total - 40) & 0xff;
      packet[6] = 51;
    } else {
      packet[0] = 0x45;
      packet[2] = (total >> 8) & 0xff;
      packet[3] = total & 0xff;
      packet[6] &= c.header[0] < 128 ? 0xc0 : 0xff; // mostly not a fragment
      if (c.header[0] < 128) packet[7] = 0;
      packet[9] = 51;
    }
    if (c.mutate !== null && c.mutate[0] < packet.length) packet[c.mutate[0]] = c.mutate[1];
    const bytes = c.truncate === null ? packet : packet.subarray(0, c.truncate);
    return { bytes, icvLength: c.icvLength, ivLength: c.ivLength };
  });

test('icvInput: the allocation-free path gives what zeroMutableFields + parse give', () => {
  const scratch = new Uint8Array(400).fill(0xee);
  let taken = 0;
  const reasons = new Set<string>();
  fc.assert(
    fc.property(plainPackets, ({ bytes, icvLength, ivLength }) => {
      const want = icvInputOracle(bytes, icvLength, ivLength);
      const got = ah.icvInput(bytes, scratch, { icvLength, ivLength });
      assert.deepEqual(plain(got), plain(want as Parsed<ah.IcvInput>));
      if (got.ok) {
        taken++;
        assert.equal(got.value.input.buffer, scratch.buffer);
        assert.equal(got.value.input.length, bytes.length);
      } else {
        reasons.add(`${got.error.layer}:${got.error.reason}`);
      }
    }),
    { numRuns: 2000 }
  );
  assert.ok(taken > 500, `expected many packets to reach an ok result, got ${taken}`);
  // The near misses reach the general path's verdicts, each layer's.
  for (const reason of [
    'ipv4:length-mismatch',
    'ipv4:fragment',
    'ipv6:length-mismatch',
    'ah:truncated',
    'ah:icv-length-mismatch',
  ]) {
    assert.ok(reasons.has(reason), `expected a near miss refused as ${reason}`);
  }
});

test('icvInput: a call reuses the result of the last call with the same scratch', () => {
  const scratch = new Uint8Array(100);
  const a = ah.icvInput(V4_PACKET, scratch, { icvLength: 12 });
  assert.ok(a.ok);
  const b = ah.icvInput(V6_PACKET, scratch, { icvLength: 16 });
  assert.ok(b.ok);
  assert.equal(b, a, 'one result object per scratch');
  assert.equal(b.value.ahOffset, 40);
  assert.equal(b.value.icvOffset, 52);
  assert.equal(b.value.input.length, V6_PACKET.length);
  const c = ah.icvInput(V4_PACKET, new Uint8Array(100), { icvLength: 12 });
  assert.ok(c.ok);
  assert.notEqual(c, b, 'another scratch, another result');
  assert.deepEqual(c.value.input, V4_ICV_INPUT);
});
