import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import { MAX_MSS, chooseMss, segmentCount, segmentLength, type MssOverhead } from './mss.ts';

test('D3: segmentCount is ceil(payload / MSS)', () => {
  assert.equal(segmentCount(1, 1460), 1);
  assert.equal(segmentCount(1460, 1460), 1);
  assert.equal(segmentCount(1461, 1460), 2);
  assert.equal(segmentCount(65535, 1), 65535);
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 24 }),
      fc.integer({ min: 1, max: MAX_MSS }),
      (n, mss) => {
        const c = segmentCount(n, mss);
        assert.ok((c - 1) * mss < n && n <= c * mss);
      }
    )
  );
  assert.throws(
    () => segmentCount(0, 1460),
    /mss.segmentCount: expected a TCP payload of at least 1 byte/
  );
  assert.throws(() => segmentCount(10, 0), /expected an MSS from 1/);
  assert.throws(() => segmentCount(10, MAX_MSS + 1), RangeError);
});

test('D2: segmentLength of ESP over IPv4 — AES-CBC + HMAC-SHA1-96 and AES-GCM', () => {
  // 20 IP + 8 ESP + 16 IV + roundup16(20 TCP + 1400 + 2) = 1424 + 12 ICV = 1480.
  const cbc: MssOverhead = {
    ipHeaderLength: 20,
    udpLength: 0,
    ahLength: 0,
    esp: { ivLength: 16, icvLength: 12, padAlign: 16 },
    tcpHeaderLength: 20,
  };
  assert.equal(segmentLength(1400, cbc), 1480);
  assert.equal(chooseMss(1500, cbc), 1418, '20 + 8 + 16 + 1440 + 12 = 1496; 1440 = 20 + 1418 + 2');
  assert.equal(segmentLength(1418, cbc), 1496);
  assert.equal(segmentLength(1419, cbc), 1512);
  const gcm: MssOverhead = { ...cbc, esp: { ivLength: 8, icvLength: 16, padAlign: 4 } };
  // 20 + 8 + 8 + 16 = 52 fixed; the block of 4 that fits 1448 → 1448 − 2 − 20 = 1426.
  assert.equal(chooseMss(1500, gcm), 1426);
  // AH alone has no padding: MTU − headers.
  assert.equal(
    chooseMss(1500, { ipHeaderLength: 20, udpLength: 0, ahLength: 24, tcpHeaderLength: 20 }),
    1436
  );
});

test('D2: chooseMss refuses an MTU that leaves no room for payload', () => {
  const o: MssOverhead = {
    ipHeaderLength: 60,
    udpLength: 8,
    ahLength: 0,
    esp: { ivLength: 16, icvLength: 32, padAlign: 16 },
    tcpHeaderLength: 60,
  };
  assert.throws(() => chooseMss(68, o), /mss.chooseMss: expected an MTU that leaves room/);
  assert.throws(() => chooseMss(70_000, o), /expected mtu/);
  assert.throws(() => chooseMss(1500, { ...o, udpLength: 4 }), /udpLength 0 or 8/);
  assert.throws(
    () => chooseMss(1500, { ...o, esp: { ivLength: 16, icvLength: 12, padAlign: 5 } }),
    /padAlign/
  );
});

/** A brute-force reference: the segment length written out, and a linear search for the largest MSS. */
function referenceLength(d: number, o: MssOverhead): number {
  const before = o.ipHeaderLength + o.udpLength + o.ahLength;
  if (o.esp === undefined) return before + o.tcpHeaderLength + d;
  const plain = o.tcpHeaderLength + d + 2;
  const padded = Math.ceil(plain / o.esp.padAlign) * o.esp.padAlign;
  return before + 8 + o.esp.ivLength + padded + o.esp.icvLength;
}

const geometryArb = fc.oneof(
  fc.constantFrom(
    ...(['aes-gcm-128', 'aes-cbc-128', '3des-cbc', 'chacha20-poly1305'] as const).map((n) => {
      const e = encryptionInfo(n);
      return {
        ivLength: e.ivLength,
        icvLength: e.combined ? e.icvLength : 12,
        padAlign: e.padAlign,
      };
    })
  ),
  fc.record(
    {
      ivLength: fc.integer({ min: 0, max: 32 }),
      icvLength: fc.integer({ min: 0, max: 64 }),
      padAlign: fc.integer({ min: 1, max: 64 }).map((k) => 4 * k),
    },
    { noNullPrototype: true }
  )
);

const overheadArb: fc.Arbitrary<MssOverhead> = fc
  .record(
    {
      ip: fc.constantFrom(20, 24, 40, 60, 40 + 24),
      udp: fc.constantFrom(0, 8),
      ah: fc.constantFrom(0, integrityInfo('hmac-sha1-96').icvLength + 12, 32, 40),
      esp: fc.option(geometryArb, { nil: undefined }),
      tcp: fc.integer({ min: 5, max: 15 }).map((w) => 4 * w),
    },
    { noNullPrototype: true }
  )
  .map((r) => ({
    ipHeaderLength: r.ip,
    udpLength: r.esp === undefined ? 0 : r.udp,
    ahLength: r.esp === undefined && r.ah === 0 ? 24 : r.ah,
    ...(r.esp === undefined ? {} : { esp: r.esp }),
    tcpHeaderLength: r.tcp,
  }));

test('D2 property: chooseMss is the largest MSS whose every segment (any length up to it) fits the MTU', () => {
  fc.assert(
    fc.property(overheadArb, fc.integer({ min: 68, max: 9216 }), (o, mtu) => {
      // Brute force: the largest d whose segment fits; segment length never shrinks as d grows.
      let best = 0;
      for (let d = mtu; d >= 1; d--) {
        if (referenceLength(d, o) <= mtu) {
          best = d;
          break;
        }
      }
      if (best === 0) {
        assert.throws(() => chooseMss(mtu, o), RangeError);
        return;
      }
      const mss = chooseMss(mtu, o);
      assert.equal(mss, best);
      assert.equal(segmentLength(mss, o), referenceLength(mss, o));
      assert.ok(segmentLength(mss + 1, o) > mtu, 'one byte more does not fit');
      // Every shorter (last) segment fits too: worst-case padding included.
      for (let d = 1; d <= mss; d += Math.max(1, Math.floor(mss / 97))) {
        assert.ok(segmentLength(d, o) <= mtu, `a segment of ${d} bytes fits`);
      }
    }),
    { numRuns: 500 }
  );
});
