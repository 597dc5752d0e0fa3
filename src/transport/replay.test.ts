import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ESN_MAX, LOW_MAX, estimateSeq } from '../wire/seqnum.ts';
import { DEFAULT_WINDOW_SIZE, MAX_WINDOW_SIZE, ReplayWindow, type Verdict } from './replay.ts';

const TWO32 = 0x1_0000_0000n;
const low = (s: bigint): number => Number(s & 0xffff_ffffn);

/**
 * The naive reference: a Set of every accepted number, the right edge T, and RFC 4303 §3.4.3's
 * window rule written out directly. With ESN it infers the high half with the same Appendix A2.2
 * estimator (tested in wire/seqnum.test.ts) from its own T.
 */
class Reference {
  readonly accepted = new Set<bigint>();
  readonly esn: boolean;
  readonly w: number;
  /** A resumed window counts every number up to its start as seen. */
  readonly floor: bigint;
  top: bigint;
  constructor(esn: boolean, w: number, start: bigint) {
    this.esn = esn;
    this.w = w;
    this.floor = start;
    this.top = start;
  }
  seqOf(low32: number): bigint {
    return this.esn ? estimateSeq(low32, this.top, this.w) : BigInt(low32);
  }
  verdict(seq: bigint): Verdict {
    if (seq === 0n) return 'too-old';
    if (seq > this.top) return 'new';
    if (seq <= this.top - BigInt(this.w)) return 'too-old';
    return seq <= this.floor || this.accepted.has(seq) ? 'replay' : 'new';
  }
  accept(seq: bigint): Verdict {
    const v = this.verdict(seq);
    if (v !== 'new') return v;
    this.accepted.add(seq);
    if (seq > this.top) this.top = seq;
    return 'new';
  }
}

interface Op {
  readonly kind: 'ahead' | 'behind' | 'dup' | 'parallel';
  readonly delta: number;
  readonly big: boolean;
  readonly forged: boolean;
  readonly pick: number;
}

const opArb = fc.record(
  {
    kind: fc.constantFrom('ahead', 'behind', 'dup', 'parallel'),
    delta: fc.nat(),
    big: fc.boolean(),
    forged: fc.boolean(),
    pick: fc.nat(),
  },
  { noNullPrototype: true }
);

/**
 * Runs `ops` against a window and the reference. The sender's numbers come from `ahead` (new
 * numbers, sometimes big jumps), `behind` (reordered: within and beyond the window), `dup` (a
 * duplicate of an earlier arrival) and `parallel` (two copies checked before either is accepted).
 * A packet's ICV "verifies" when it is not forged and the receiver inferred its true number.
 */
function runModel(
  esn: boolean,
  w: number,
  start: bigint,
  ops: readonly Op[],
  tally: Record<string, number>
): void {
  const window = new ReplayWindow({ esn, windowSize: w, start });
  const ref = new Reference(esn, w, start);
  const max = esn ? ESN_MAX : BigInt(LOW_MAX);
  let sent = start === 0n ? 1n : start;
  const history: bigint[] = [sent];
  for (const op of ops) {
    let s: bigint;
    if (op.kind === 'ahead') {
      const span = op.big && esn ? 1 << 30 : Math.max(2, w >> 1);
      s = sent + 1n + BigInt(op.delta % span);
      if (s > max) s = max;
      sent = s;
    } else if (op.kind === 'behind') {
      s = sent - BigInt(op.delta % (3 * w));
      if (s < 0n) s = 0n;
    } else {
      s = history[op.pick % history.length];
    }
    history.push(s);
    const copies = op.kind === 'parallel' ? 2 : 1;
    const checks = [];
    for (let c = 0; c < copies; c++) {
      const r = window.check(low(s));
      const expectedSeq = ref.seqOf(low(s));
      assert.equal(r.seq, expectedSeq, `seq inferred for low 0x${low(s).toString(16)}`);
      assert.equal(r.verdict, ref.verdict(expectedSeq), `check verdict for ${s}`);
      checks.push(r);
    }
    for (const r of checks) {
      // The ICV verifies only with the right 64-bit number (ESN high half) and a genuine packet.
      if (r.verdict !== 'new' || op.forged || r.seq !== s) continue;
      assert.equal(window.accept(r.seq), ref.accept(r.seq), `accept ${r.seq}`);
    }
    assert.equal(window.top, ref.top, 'right edge T');
  }
  for (const [k, v] of Object.entries(window.counters)) tally[k] = (tally[k] ?? 0) + v;
  // Every number the reference remembers inside the window is a replay for the window too.
  for (const seq of ref.accepted) {
    assert.equal(window.has(seq), ref.verdict(seq) === 'replay', `has(${seq})`);
  }
}

/** The generated runs reach every outcome: new, replay, too old, accepted, refused late. */
function assertCoverage(tally: Record<string, number>): void {
  for (const k of ['fresh', 'replayed', 'tooOld', 'accepted', 'lateRejected']) {
    assert.ok((tally[k] ?? 0) > 0, `no ${k} outcome in any run: ${JSON.stringify(tally)}`);
  }
}

for (const w of [32, 64, 1024, 4096]) {
  test(`RFC 4303 §3.4.3: window ${w}, no ESN, agrees with the naive reference`, () => {
    const tally: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.constantFrom(0n, 1000n, BigInt(LOW_MAX) - BigInt(4 * w)),
        fc.array(opArb, { minLength: 1, maxLength: 400, size: 'max' }),
        (start, ops) => {
          runModel(false, w, start, ops, tally);
        }
      ),
      { numRuns: w >= 1024 ? 60 : 150 }
    );
    assertCoverage(tally);
  });

  test(`RFC 4303 §3.4.3 + A2.2: window ${w}, ESN, agrees with the naive reference across 2^32 boundaries`, () => {
    const tally: Record<string, number> = {};
    fc.assert(
      fc.property(
        fc.constantFrom(
          0n,
          TWO32 - BigInt(2 * w),
          5n * TWO32 - 3n,
          ESN_MAX - BigInt(4 * w),
          0x1234_5678_9abc_def0n
        ),
        fc.array(opArb, { minLength: 1, maxLength: 400, size: 'max' }),
        (start, ops) => {
          runModel(true, w, start, ops, tally);
        }
      ),
      { numRuns: w >= 1024 ? 60 : 150 }
    );
    assertCoverage(tally);
  });
}

test('RFC 4303 §3.4.3: check changes nothing; only accept after the ICV moves the window', () => {
  const w = new ReplayWindow({ esn: false });
  assert.equal(w.windowSize, DEFAULT_WINDOW_SIZE);
  assert.deepEqual(w.check(100), { verdict: 'new', seq: 100n });
  assert.deepEqual(w.check(100), { verdict: 'new', seq: 100n }, 'a forged 100 never accepted');
  assert.equal(w.top, 0n);
  assert.equal(w.accept(100n), 'new');
  assert.equal(w.top, 100n);
  assert.deepEqual(w.check(100), { verdict: 'replay', seq: 100n });
  assert.deepEqual(w.check(37), { verdict: 'new', seq: 37n }, 'T − W + 1 = 37 is inside');
  assert.deepEqual(w.check(36), { verdict: 'too-old', seq: 36n }, '36 is left of the window');
  assert.deepEqual(w.counters, {
    checked: 5,
    fresh: 3,
    replayed: 1,
    tooOld: 1,
    accepted: 1,
    lateRejected: 0,
  });
});

test('RFC 4303 §3.4.3: two copies checked before either is accepted — the second accept is refused', () => {
  const w = new ReplayWindow({ esn: true, windowSize: 64 });
  const a = w.check(7);
  const b = w.check(7);
  assert.equal(a.verdict, 'new');
  assert.equal(b.verdict, 'new');
  assert.equal(w.accept(a.seq), 'new');
  assert.equal(w.accept(b.seq), 'replay');
  assert.equal(w.counters.lateRejected, 1);
  // A resumed window counts everything inside it up to its start as seen.
  const resumed = new ReplayWindow({ esn: false, windowSize: 64, start: 1000n });
  assert.equal(resumed.check(1000).verdict, 'replay');
  assert.equal(resumed.check(937).verdict, 'replay');
  assert.equal(resumed.check(936).verdict, 'too-old');
  assert.equal(resumed.check(1001).verdict, 'new');
  assert.equal(resumed.accept(1003n), 'new');
  assert.equal(resumed.check(1001).verdict, 'new', 'bits above the start were clear');
  assert.equal(resumed.check(1003).verdict, 'replay');
  // And a number the window has since moved past is refused as too old.
  const old = w.check(8);
  assert.equal(old.verdict, 'new');
  assert.equal(w.accept(1000n), 'new');
  assert.equal(w.accept(old.seq), 'too-old');
  assert.equal(w.counters.lateRejected, 2);
});

test('RFC 4303 §3.3.3: sequence number 0 is never valid (never sent), with or without ESN', () => {
  for (const esn of [false, true]) {
    const w = new ReplayWindow({ esn });
    assert.deepEqual(w.check(0), { verdict: 'too-old', seq: 0n }, `fresh SA, esn ${esn}`);
    assert.equal(w.accept(0n), 'too-old');
    assert.equal(w.top, 0n);
  }
  // Without ESN, 0 after the counter reached 2^32 − 1 is not a wrap either.
  const w = new ReplayWindow({ esn: false, start: BigInt(LOW_MAX) });
  assert.deepEqual(w.check(0), { verdict: 'too-old', seq: 0n });
  assert.deepEqual(w.check(5), { verdict: 'too-old', seq: 5n });
  assert.deepEqual(w.check(LOW_MAX), { verdict: 'replay', seq: BigInt(LOW_MAX) });
});

test('RFC 4303 A2.2: with ESN the low half wraps at 2^32 and the high half becomes 1', () => {
  const w = new ReplayWindow({ esn: true, windowSize: 64 });
  for (let s = 0xffff_fff0; s <= 0xffff_ffff; s++) w.accept(w.check(s).seq);
  assert.equal(w.top, TWO32 - 1n);
  // Low 0 after 2^32 − 1: the next number, 2^32 (high 1, low 0) — valid with ESN.
  assert.deepEqual(w.check(0), { verdict: 'new', seq: TWO32 });
  for (let s = 0; s < 6; s++) assert.equal(w.accept(w.check(s).seq), 'new');
  assert.equal(w.top, TWO32 + 5n);
  // Late packets from before the wrap keep high 0 (case B: the window spans both subspaces).
  assert.deepEqual(w.check(0xffff_fffe), { verdict: 'replay', seq: TWO32 - 2n });
  assert.deepEqual(w.check(0xffff_ffe0), { verdict: 'new', seq: TWO32 - 32n });
  assert.deepEqual(w.check(0xffff_ffc6), { verdict: 'new', seq: TWO32 - 58n }, 'left edge');
  // One further left, A2.2 case B reads the low half as the far future of subspace 1 (Seql < Bl
  // → Seqh = Th); the ICV then fails with that high half, so the window never moves for it.
  assert.deepEqual(w.check(0xffff_ffc5), { verdict: 'new', seq: TWO32 + 0xffff_ffc5n });
  assert.deepEqual(w.check(5), { verdict: 'replay', seq: TWO32 + 5n });
  // Far behind: a low half below Bl in case A belongs to the next subspace (then fails its ICV).
  const far = new ReplayWindow({ esn: true, windowSize: 64, start: 3n * TWO32 + 1000n });
  assert.deepEqual(far.check(500), { verdict: 'new', seq: 4n * TWO32 + 500n });
  assert.deepEqual(far.check(990), { verdict: 'replay', seq: 3n * TWO32 + 990n });
  assert.deepEqual(far.check(1001), { verdict: 'new', seq: 3n * TWO32 + 1001n });
});

test('RFC 4303 §3.4.3: without ESN the counter never wraps — 2^32 − 1 is the last number', () => {
  const w = new ReplayWindow({ esn: false, windowSize: 32, start: BigInt(LOW_MAX) - 40n });
  assert.equal(w.accept(w.check(LOW_MAX).seq), 'new');
  assert.deepEqual(w.check(LOW_MAX - 31), { verdict: 'new', seq: BigInt(LOW_MAX - 31) });
  assert.deepEqual(w.check(LOW_MAX - 32), { verdict: 'too-old', seq: BigInt(LOW_MAX - 32) });
  assert.deepEqual(w.check(1), { verdict: 'too-old', seq: 1n });
  assert.throws(() => w.accept(TWO32), RangeError);
});

test('window 1024: a full window of out-of-order arrivals is all new, then all replays', () => {
  const size = 1024;
  fc.assert(
    fc.property(
      fc.shuffledSubarray(
        Array.from({ length: size }, (_, i) => i),
        { minLength: size, maxLength: size }
      ),
      fc.boolean(),
      (order, esn) => {
        const base = esn ? TWO32 - 500n : 7000n; // with ESN the window straddles 2^32
        const w = new ReplayWindow({ esn, windowSize: size, start: base });
        for (const i of order) {
          const s = base + 1n + BigInt(i);
          const r = w.check(low(s));
          assert.deepEqual(r, { verdict: 'new', seq: s });
          assert.equal(w.accept(r.seq), 'new');
        }
        assert.equal(w.top, base + BigInt(size));
        for (const i of order) {
          const s = base + 1n + BigInt(i);
          assert.deepEqual(w.check(low(s)), { verdict: 'replay', seq: s });
        }
        if (esn) {
          // T − 1024 lies left of a window that spans 2^32: A2.2 reads it as the far future.
          assert.deepEqual(w.check(low(base)), { verdict: 'new', seq: base + TWO32 });
        } else {
          assert.equal(w.check(low(base)).verdict, 'too-old', 'T − 1024 is just outside');
        }
        assert.equal(w.counters.accepted, size);
        assert.equal(w.counters.replayed, size);
      }
    ),
    { numRuns: 20 }
  );
});

test('window 65536: jumps larger than the ring clear it; the left edge is exact', () => {
  const w = new ReplayWindow({ esn: false, windowSize: 65536 });
  for (let s = 1; s <= 100; s++) w.accept(BigInt(s));
  w.accept(1_000_000n);
  assert.equal(w.check(50).verdict, 'too-old');
  assert.equal(w.check(1_000_000 - 65535).verdict, 'new');
  assert.equal(w.check(1_000_000 - 65536).verdict, 'too-old');
  w.accept(1_000_000n - 65535n);
  assert.equal(w.check(1_000_000 - 65535).verdict, 'replay');
  // A step that moves the edge by less than the ring keeps older bits that stay inside.
  w.accept(1_000_000n + 65535n);
  assert.equal(w.check(1_000_000).verdict, 'replay');
  assert.equal(w.check(1_000_001).verdict, 'new');
});

test('replay.ReplayWindow: API misuse throws RangeError naming what was expected', () => {
  assert.throws(() => new ReplayWindow({ esn: false, windowSize: 0 }), /expected a window size/);
  assert.throws(
    () => new ReplayWindow({ esn: false, windowSize: MAX_WINDOW_SIZE + 1 }),
    RangeError
  );
  assert.throws(() => new ReplayWindow({ esn: false, windowSize: 1.5 }), RangeError);
  assert.throws(() => new ReplayWindow({ esn: false, start: TWO32 }), /expected a start/);
  assert.throws(() => new ReplayWindow({ esn: true, start: -1n }), RangeError);
  const w = new ReplayWindow({ esn: true, windowSize: MAX_WINDOW_SIZE });
  assert.throws(() => w.check(-1), /replay.check: expected a 32-bit sequence number/);
  assert.throws(() => w.check(2 ** 32), RangeError);
  assert.throws(() => w.accept(ESN_MAX + 1n), /replay.accept: expected/);
});
