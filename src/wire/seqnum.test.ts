import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as seqnum from './seqnum.ts';

const TWO32 = 0x1_0000_0000n;

test('TCP: seqAdd and seqDiff wrap modulo 2^32 (RFC 9293 §3.4)', () => {
  assert.equal(seqnum.seqAdd(0xffff_ffff, 1), 0);
  assert.equal(seqnum.seqAdd(0xffff_fff0, 0x20), 0x10);
  assert.equal(seqnum.seqAdd(5, -10), 0xffff_fffb);
  assert.equal(seqnum.seqDiff(0x10, 0xffff_fff0), 0x20);
  assert.equal(seqnum.seqDiff(0xffff_fff0, 0x10), -0x20);
});

test('TCP: seqLessThan across the wrap, both directions', () => {
  assert.ok(seqnum.seqLessThan(1, 2));
  assert.ok(!seqnum.seqLessThan(2, 1));
  assert.ok(!seqnum.seqLessThan(7, 7));
  assert.ok(seqnum.seqLessThanOrEqual(7, 7));
  // 0xffffffff is just before 0 once the space wraps.
  assert.ok(seqnum.seqLessThan(0xffff_ffff, 0));
  assert.ok(!seqnum.seqLessThan(0, 0xffff_ffff));
  assert.ok(seqnum.seqLessThan(0xffff_ff00, 0x100));
});

test('TCP: seqInWindow, including a window that straddles 2^32', () => {
  assert.ok(seqnum.seqInWindow(100, 100, 1));
  assert.ok(!seqnum.seqInWindow(101, 100, 1));
  assert.ok(!seqnum.seqInWindow(99, 100, 10));
  assert.ok(!seqnum.seqInWindow(5, 5, 0), 'an empty window holds nothing');
  for (const s of [0xffff_fffe, 0xffff_ffff, 0, 1, 2]) {
    assert.ok(seqnum.seqInWindow(s, 0xffff_fffe, 5), `0x${s.toString(16)} in [2^32-2, +5)`);
  }
  assert.ok(!seqnum.seqInWindow(3, 0xffff_fffe, 5));
  assert.ok(!seqnum.seqInWindow(0xffff_fffd, 0xffff_fffe, 5));
});

test('TCP: seqLessThan agrees with true order for numbers less than 2^31 apart', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 0xffff_ffff }),
      fc.integer({ min: 1, max: 0x7fff_ffff }),
      (a, d) => {
        const b = seqnum.seqAdd(a, d);
        assert.ok(seqnum.seqLessThan(a, b));
        assert.ok(!seqnum.seqLessThan(b, a));
        assert.equal(seqnum.seqDiff(b, a), d);
      }
    )
  );
});

test('ESN: splitEsn/joinEsn round trip and the halves', () => {
  assert.deepEqual(seqnum.splitEsn(0x0000_0001_0000_0002n), { high: 1, low: 2 });
  assert.deepEqual(seqnum.splitEsn(seqnum.ESN_MAX), { high: 0xffff_ffff, low: 0xffff_ffff });
  assert.equal(seqnum.joinEsn(0xffff_ffff, 0), 0xffff_ffff_0000_0000n);
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: seqnum.ESN_MAX }), (s) => {
      const { high, low } = seqnum.splitEsn(s);
      assert.equal(seqnum.joinEsn(high, low), s);
    })
  );
  assert.throws(() => seqnum.splitEsn(-1n), RangeError);
  assert.throws(() => seqnum.splitEsn(seqnum.ESN_MAX + 1n), /expected a sequence number/);
  assert.throws(() => seqnum.joinEsn(0x1_0000_0000, 0), /expected an integer from 0 to/);
});

test('nextSeq: first packet is 1; the 32-bit counter never cycles without ESN (RFC 4303 §3.3.3)', () => {
  assert.deepEqual(seqnum.nextSeq(0n, false), { ok: true, value: 1n });
  assert.deepEqual(seqnum.nextSeq(0xffff_fffen, false), { ok: true, value: 0xffff_ffffn });
  assert.deepEqual(seqnum.nextSeq(0xffff_ffffn, false), {
    ok: false,
    reason: 'counter-exhausted',
  });
  // With ESN the low half goes through 0 on the wire: 2^32 is a valid number to send.
  assert.deepEqual(seqnum.nextSeq(0xffff_ffffn, true), { ok: true, value: TWO32 });
  assert.deepEqual(seqnum.nextSeq(seqnum.ESN_MAX, true), {
    ok: false,
    reason: 'counter-exhausted',
  });
});

test('reserveSegments: one number per segment, wrap rule of contract D3', () => {
  const r = seqnum.reserveSegments(7n, 3, false);
  assert.deepEqual(r, {
    ok: true,
    value: { first: 7n, last: 9n, next: 10n, wraps: false, highChanges: false },
  });

  // Without ESN, ending exactly at 2^32 − 1 is fine; one more segment fails the whole send.
  const edge = seqnum.reserveSegments(0xffff_fffen, 2, false);
  assert.ok(edge.ok);
  assert.equal(edge.value.last, 0xffff_ffffn);
  assert.equal(edge.value.wraps, false);
  assert.deepEqual(seqnum.reserveSegments(0xffff_fffen, 3, false), {
    ok: false,
    reason: 'counter-exhausted',
  });

  // With ESN a burst across 2^32: segments 2, 3 use high half + 1 and low 0, 1.
  const burst = seqnum.reserveSegments(0xffff_fffen, 4, true);
  assert.ok(burst.ok);
  assert.equal(burst.value.last, TWO32 + 1n);
  assert.equal(burst.value.next, TWO32 + 2n);
  assert.equal(burst.value.wraps, true);
  assert.equal(burst.value.highChanges, true);
  assert.deepEqual(seqnum.splitEsn(burst.value.first + 2n), { high: 1, low: 0 });

  // Ending exactly at the boundary: no segment wraps, but the next send starts a new high half.
  const upTo = seqnum.reserveSegments(0xffff_fffen, 2, true);
  assert.ok(upTo.ok);
  assert.equal(upTo.value.wraps, false);
  assert.equal(upTo.value.highChanges, true);

  assert.deepEqual(seqnum.reserveSegments(0n, 1, true), { ok: false, reason: 'sequence-zero' });
  assert.deepEqual(seqnum.reserveSegments(seqnum.ESN_MAX, 2, true), {
    ok: false,
    reason: 'counter-exhausted',
  });
  assert.throws(() => seqnum.reserveSegments(1n, 0, true), /expected a count of at least 1/);
  assert.throws(() => seqnum.reserveSegments(1n, 1.5, true), RangeError);
});

test('reserveSegments: next = first + count and wraps iff the halves differ (property)', () => {
  fc.assert(
    fc.property(
      fc.bigInt({ min: 1n, max: 0xffff_ffff_0000n }),
      fc.integer({ min: 1, max: 100_000 }),
      (first, count) => {
        const r = seqnum.reserveSegments(first, count, true);
        assert.ok(r.ok);
        assert.equal(r.value.next, first + BigInt(count));
        assert.equal(r.value.wraps, first >> 32n !== r.value.last >> 32n);
      }
    )
  );
});

// RFC 4303 Appendix A2.2, each case by name. W = 64 throughout.
const W = 64;

test('estimateHigh Case A (Tl >= W − 1), Seql >= Bl → Th', () => {
  const top = seqnum.joinEsn(5, 1000); // Th = 5, Tl = 1000, Bl = 937
  assert.equal(seqnum.estimateHigh(937, top, W), 5, 'exactly Bl');
  assert.equal(seqnum.estimateHigh(1000, top, W), 5, 'T itself (a replay)');
  assert.equal(seqnum.estimateHigh(5000, top, W), 5, 'ahead within the subspace');
  assert.equal(seqnum.estimateHigh(0xffff_ffff, top, W), 5);
});

test('estimateHigh Case A, Seql < Bl → Th + 1 (forward across 2^32)', () => {
  const top = seqnum.joinEsn(5, 0xffff_ff00); // Bl = 0xfffffec1
  assert.equal(seqnum.estimateHigh(0, top, W), 6, 'low half wrapped to 0');
  assert.equal(seqnum.estimateHigh(3, top, W), 6);
  assert.equal(seqnum.estimateHigh(0xffff_fec0, top, W), 6, 'one below Bl');
  assert.equal(seqnum.estimateHigh(0xffff_fec1, top, W), 5, 'Bl itself');
  assert.equal(seqnum.estimateSeq(3, top, W), seqnum.joinEsn(6, 3));
});

test('estimateHigh Case B (Tl < W − 1), Seql >= Bl → Th − 1 (backward across 2^32)', () => {
  const top = seqnum.joinEsn(6, 10); // Bl = 10 − 64 + 1 mod 2^32 = 0xffffffcb
  assert.equal(seqnum.estimateHigh(0xffff_ffcb, top, W), 5, 'exactly Bl, before the wrap');
  assert.equal(seqnum.estimateHigh(0xffff_ffff, top, W), 5, 'last number before the wrap');
  assert.equal(seqnum.estimateSeq(0xffff_fff0, top, W), seqnum.joinEsn(5, 0xffff_fff0));
});

test('estimateHigh Case B, Seql < Bl → Th', () => {
  const top = seqnum.joinEsn(6, 10);
  assert.equal(seqnum.estimateHigh(0, top, W), 6, 'low 0 after the wrap (ESN sends it)');
  assert.equal(seqnum.estimateHigh(10, top, W), 6, 'T itself');
  assert.equal(seqnum.estimateHigh(5000, top, W), 6, 'ahead');
  assert.equal(seqnum.estimateHigh(0xffff_ffca, top, W), 6, 'one below Bl');
});

test('estimateHigh: boundary Tl = W − 1 is Case A with Bl = 0', () => {
  const top = seqnum.joinEsn(3, W - 1);
  assert.equal(seqnum.estimateHigh(0, top, W), 3);
  assert.equal(seqnum.estimateHigh(0xffff_ffff, top, W), 3);
});

test('estimateHigh: the ends of the 64-bit space are clamped (Model)', () => {
  // Th = 0 in Case B: there is no subspace −1.
  assert.equal(seqnum.estimateHigh(0xffff_fff0, seqnum.joinEsn(0, 10), W), 0);
  // Th = 2^32 − 1 in Case A: there is no subspace 2^32.
  assert.equal(seqnum.estimateHigh(0, seqnum.joinEsn(0xffff_ffff, 1000), W), 0xffff_ffff);
});

test('estimateHigh: misuse throws RangeError', () => {
  assert.throws(() => seqnum.estimateHigh(1, 100n, 0), /expected a window size/);
  assert.throws(() => seqnum.estimateHigh(-1, 100n, 64), RangeError);
  assert.throws(() => seqnum.estimateHigh(1, -1n, 64), RangeError);
});

test('estimateSeq recovers every sequence number in [T − W + 1, T − W + 1 + 2^32) (property)', () => {
  // A2.2 is exact for any packet whose full number lies in the 2^32 numbers from Bl upwards.
  fc.assert(
    fc.property(
      fc.bigInt({ min: TWO32, max: seqnum.ESN_MAX - 2n * TWO32 }),
      fc.integer({ min: 1, max: 4096 }),
      fc.bigInt({ min: 0n, max: TWO32 - 1n }),
      (top, w, offset) => {
        const seq = top - BigInt(w) + 1n + offset;
        const { low } = seqnum.splitEsn(seq);
        assert.equal(seqnum.estimateSeq(low, top, w), seq);
      }
    )
  );
});
