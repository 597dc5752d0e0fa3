import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as esp from './esp.ts';
import { fromHex } from './bytes.ts';
import { assertCodecLaws, type Codec } from '../../tests/laws.ts';

const codec: Codec<esp.Header, esp.Packet> = esp;

/** Hex with `//` comments to the end of each line. */
const hex = (s: string): Uint8Array => fromHex(s.replace(/\/\/.*$/gm, ''));

// RFC 3602 §4, Case #5: transport-mode ESP, AES-CBC-128, no integrity, ping 192.168.123.3 →
// 192.168.123.100. The ESP packet after the 20-byte IP header (4500007c 08f20000 4032f9a5 …).
const CASE5_ESP = hex(`
  00004321  // SPI 0x4321
  00000001  // Sequence Number 1
  e96e8c08 ab465763 fd098d45 dd3ff893  // IV (16 bytes, AES-CBC)
  f663c25d 325c18c6 a9453e19 4e120849 a4870b66 cc6b9965 330013b4 898dc856
  a4699e52 3a55db08 0b59ec3a 8e4b7e52 775b07d1 db34ed9c 538ab50c 551b874a
  a269add0 47ad2d59 13ac19b7 cfbad4a6  // ciphertext (80 bytes); no ICV
`);

// The same case before encryption: ICMP echo (64 bytes), then the trailer.
const CASE5_ICMP = fromHex(`
  08000ebd a70a0000 8e9c083d b95b0700 08090a0b 0c0d0e0f 10111213 14151617
  18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637`);
const CASE5_PLAINTEXT = hex(`
  08000ebd a70a0000 8e9c083d b95b0700 08090a0b 0c0d0e0f 10111213 14151617
  18191a1b 1c1d1e1f 20212223 24252627 28292a2b 2c2d2e2f 30313233 34353637
  01020304 05060708 090a0b0c 0d0e  // Padding 1..14
  0e  // Pad Length 14
  01  // Next Header 1 (ICMP)
`);

const CBC: esp.Geometry = { ivLength: 16, icvLength: 0, padAlign: 16 };

test('RFC 3602 Case 5: header getters and parse', () => {
  assert.equal(CASE5_ESP.length, 8 + 16 + 80);
  const v = new esp.View(CASE5_ESP);
  assert.equal(v.spi, 0x4321);
  assert.equal(v.sequenceNumber, 1);
  assert.deepEqual(v.payload.subarray(0, 4), fromHex('e96e8c08'));
  const r = esp.parse(CASE5_ESP);
  assert.ok(r.ok);
  assert.deepEqual(r.value.header, { spi: 0x4321, sequenceNumber: 1 });
  assert.equal(r.value.payload.length, 96);
  assert.equal(r.value.payload.byteOffset, CASE5_ESP.byteOffset + 8, 'payload is a view');
});

test('RFC 3602 Case 5: emit reproduces the header bytes', () => {
  const out = new Uint8Array(8).fill(0xa5);
  assert.equal(esp.emit({ spi: 0x4321, sequenceNumber: 1 }, out), 8);
  assert.deepEqual(out, CASE5_ESP.subarray(0, 8));
});

test('RFC 3602 Case 5: planEsp gives the vector lengths (IP total 124 − 20)', () => {
  assert.deepEqual(esp.planEsp(64, CBC), {
    headerLength: 24,
    padLength: 14,
    trailerLength: 16,
    totalLength: 104,
  });
});

test('RFC 3602 Case 5: parseTrailer of the pre-encryption data', () => {
  const r = esp.parseTrailer(CASE5_PLAINTEXT);
  assert.deepEqual(r, {
    ok: true,
    value: { payloadLength: 64, padLength: 14, nextHeader: 1, padValid: true },
  });
});

test('RFC 3602 Case 5: frameEsp lays out header, zero IV, plaintext, trailer (contract D1)', () => {
  const out = new Uint8Array(120).fill(0xa5);
  const n = esp.frameEsp(
    out,
    { spi: 0x4321, sequenceNumber: 1, nextHeader: 1, payload: CASE5_ICMP },
    CBC
  );
  assert.equal(n, 104);
  assert.deepEqual(out.subarray(0, 8), CASE5_ESP.subarray(0, 8));
  assert.deepEqual(out.subarray(8, 24), new Uint8Array(16), 'IV field zero-filled');
  assert.deepEqual(out.subarray(24, 104), CASE5_PLAINTEXT);
  assert.ok(
    out.subarray(104).every((b) => b === 0xa5),
    'nothing written past the packet'
  );
});

test('View setters write the fields in network byte order', () => {
  const b = new Uint8Array(12).fill(0xee);
  const v = new esp.View(b);
  v.spi = 0x01020304;
  v.sequenceNumber = 0xfffffffe;
  assert.deepEqual(b.subarray(0, 8), fromHex('01020304 fffffffe'));
  assert.equal(v.spi, 0x01020304);
  assert.equal(v.sequenceNumber, 0xfffffffe);
});

test('codec laws on the Case 5 header with its payload', () => {
  assertCodecLaws(codec, { spi: 0x4321, sequenceNumber: 1 }, CASE5_ESP.subarray(8));
});

test('truncation at every length below 8 is `truncated` at the end of the bytes', () => {
  for (let n = 0; n < 8; n++) {
    assert.deepEqual(esp.parse(CASE5_ESP.slice(0, n)), {
      ok: false,
      error: { layer: 'esp', reason: 'truncated', offset: n },
    });
  }
  assert.ok(esp.parse(CASE5_ESP.slice(0, 8)).ok, 'a bare header parses, with empty payload');
});

test('SPI 0 is refused (RFC 4303 §2.1)', () => {
  const b = CASE5_ESP.slice();
  b.fill(0, 0, 4);
  assert.deepEqual(esp.parse(b), {
    ok: false,
    error: { layer: 'esp', reason: 'zero-spi', offset: 0 },
  });
});

const arbHeader = fc.record(
  {
    spi: fc.integer({ min: 1, max: 0xffff_ffff }),
    sequenceNumber: fc.integer({ min: 0, max: 0xffff_ffff }),
  },
  { noNullPrototype: true }
);

test('parse(emit(h)) = h for generated headers (property)', () => {
  fc.assert(
    fc.property(arbHeader, fc.uint8Array({ maxLength: 64 }), (h, payload) => {
      assertCodecLaws(codec, h, payload);
    })
  );
});

test('parse and parseTrailer of random bytes never throw', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const r = esp.parse(bytes);
      if (!r.ok) assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length);
      const t = esp.parseTrailer(bytes);
      if (t.ok) {
        assert.equal(t.value.payloadLength + t.value.padLength + 2, bytes.length);
      } else {
        assert.ok(t.error.offset >= 0 && t.error.offset <= bytes.length);
      }
    })
  );
});

test('planEsp: 0 ≤ pad < align and (payload + pad + 2) % align = 0 (property)', () => {
  const arbGeometry = fc.record({
    ivLength: fc.constantFrom(0, 8, 16),
    icvLength: fc.constantFrom(0, 8, 12, 16),
    padAlign: fc.constantFrom(4, 8, 16, 32, 256),
  });
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 70_000 }), arbGeometry, (payloadLength, g) => {
      const l = esp.planEsp(payloadLength, g);
      assert.ok(l.padLength >= 0 && l.padLength < g.padAlign);
      assert.equal((payloadLength + l.padLength + 2) % g.padAlign, 0);
      assert.equal(l.headerLength, 8 + g.ivLength);
      assert.equal(l.trailerLength, l.padLength + 2 + g.icvLength);
      assert.equal(l.totalLength, l.headerLength + payloadLength + l.trailerLength);
      // Minimal: one less pad byte would not align (unless pad is already 0).
      if (l.padLength > 0) assert.notEqual((payloadLength + l.padLength + 1) % g.padAlign, 0);
    })
  );
});

test('planEsp: GCM aligns to 4 (RFC 4106 §3 via RFC 4303 §2.4)', () => {
  const gcm = { ivLength: 8, icvLength: 16, padAlign: 4 };
  assert.equal(esp.planEsp(0, gcm).padLength, 2);
  assert.equal(esp.planEsp(2, gcm).padLength, 0);
  assert.equal(esp.planEsp(1460, gcm).padLength, 2);
  assert.deepEqual(esp.planEsp(1460, gcm), {
    headerLength: 16,
    padLength: 2,
    trailerLength: 20,
    totalLength: 1496,
  });
});

test('planEsp and frameEsp: misuse throws RangeError naming the field', () => {
  assert.throws(() => esp.planEsp(10, { ivLength: 0, icvLength: 0, padAlign: 6 }), /padAlign/);
  assert.throws(() => esp.planEsp(10, { ivLength: 0, icvLength: 0, padAlign: 512 }), /padAlign/);
  assert.throws(() => esp.planEsp(-1, CBC), /payloadLength/);
  assert.throws(
    () =>
      esp.frameEsp(
        new Uint8Array(50),
        { spi: 1, sequenceNumber: 1, nextHeader: 6, payload: CASE5_ICMP },
        CBC
      ),
    /expected a buffer of at least 104 bytes, got 50/
  );
  assert.throws(() => esp.emit({ spi: 2 ** 32, sequenceNumber: 0 }, new Uint8Array(8)), RangeError);
  assert.throws(() => esp.emit({ spi: 1, sequenceNumber: 0 }, new Uint8Array(7)), RangeError);
  assert.throws(() => esp.writeTrailer(new Uint8Array(300), 256, 6), /padLength/);
});

test('writeTrailer writes every byte it owns at an offset, and nothing else', () => {
  const out = new Uint8Array(20).fill(0x17);
  assert.equal(esp.writeTrailer(out, 5, 17, 3), 7);
  assert.deepEqual(out, fromHex('171717 0102030405 05 11 17171717171717171717'));
  const none = new Uint8Array(2).fill(0xa5);
  assert.equal(esp.writeTrailer(none, 0, 59), 2);
  assert.deepEqual(none, fromHex('003b'));
});

test('parseTrailer: failures and the padValid defect', () => {
  assert.deepEqual(esp.parseTrailer(fromHex('')), {
    ok: false,
    error: { layer: 'esp', reason: 'truncated', offset: 0 },
  });
  assert.deepEqual(esp.parseTrailer(fromHex('06')), {
    ok: false,
    error: { layer: 'esp', reason: 'truncated', offset: 1 },
  });
  // Pad Length 4 but only 3 bytes precede it.
  assert.deepEqual(esp.parseTrailer(fromHex('010203 04 06')), {
    ok: false,
    error: { layer: 'esp', reason: 'pad-length-exceeds-payload', offset: 3 },
  });
  // Exactly enough: all bytes before the trailer are padding.
  assert.deepEqual(esp.parseTrailer(fromHex('01020304 04 06')), {
    ok: true,
    value: { payloadLength: 0, padLength: 4, nextHeader: 6, padValid: true },
  });
  // Padding not 1, 2, 3 (RFC 4303 §2.4): parsed, flagged.
  assert.deepEqual(esp.parseTrailer(fromHex('aabb 010303 03 06')), {
    ok: true,
    value: { payloadLength: 2, padLength: 3, nextHeader: 6, padValid: false },
  });
});

test('dummy packets: Next Header 59 (RFC 4303 §2.6)', () => {
  assert.equal(esp.DUMMY_NEXT_HEADER, 59);
  assert.ok(esp.isDummy(59));
  assert.ok(!esp.isDummy(6));
});

test('frameEsp + parseTrailer round trip (property)', () => {
  fc.assert(
    fc.property(
      arbHeader,
      fc.integer({ min: 0, max: 255 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.constantFrom<esp.Geometry>(
        { ivLength: 16, icvLength: 12, padAlign: 16 },
        { ivLength: 8, icvLength: 16, padAlign: 4 },
        { ivLength: 0, icvLength: 12, padAlign: 4 },
        { ivLength: 8, icvLength: 8, padAlign: 8 }
      ),
      (h, nextHeader, payload, g) => {
        const layout = esp.planEsp(payload.length, g);
        const out = new Uint8Array(layout.totalLength + 5).fill(0xa5);
        const n = esp.frameEsp(out, { ...h, nextHeader, payload }, g);
        assert.equal(n, layout.totalLength);
        const parsed = esp.parse(out.subarray(0, n));
        assert.ok(parsed.ok);
        assert.deepEqual(parsed.value.header, h);
        const iv = out.subarray(8, layout.headerLength);
        assert.ok(
          iv.every((b) => b === 0),
          'zero IV'
        );
        const icv = out.subarray(n - g.icvLength, n);
        assert.ok(
          icv.every((b) => b === 0),
          'zero ICV'
        );
        const plaintext = out.subarray(layout.headerLength, n - g.icvLength);
        assert.deepEqual(esp.parseTrailer(plaintext), {
          ok: true,
          value: {
            payloadLength: payload.length,
            padLength: layout.padLength,
            nextHeader,
            padValid: true,
          },
        });
        assert.deepEqual(plaintext.subarray(0, payload.length), payload);
        assert.ok(out.subarray(n).every((b) => b === 0xa5));
      }
    )
  );
});
