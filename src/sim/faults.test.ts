/**
 * @module
 * Tests of the fault injector: every kind happens exactly where scheduled and is counted and
 * recorded; parameters left open are drawn from the injected `Random`; a seeded injector is
 * byte-for-byte reproducible; the caller's frames are never modified.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { seededRandom } from '../crypto/random.ts';
import { FAULT_KINDS, FaultInjector, type FaultOptions, type ScheduledFault } from './faults.ts';
import type { Link } from './link.ts';

/** A link that keeps what it is given. */
function sink(): Link & { readonly frames: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  return {
    frames,
    transmit(frame: Uint8Array): void {
      frames.push(frame);
    },
  };
}

/** Frame `i`: 20 bytes, each `i`. */
const frame = (i: number): Uint8Array => new Uint8Array(20).fill(i);

/** Runs frames 0..n−1 through an injector and returns it with the frames out (after a flush). */
function run(
  n: number,
  options: FaultOptions
): { injector: FaultInjector; out: Uint8Array[]; input: Uint8Array[] } {
  const s = sink();
  const injector = new FaultInjector(s, options);
  const input = Array.from({ length: n }, (_, i) => frame(i));
  for (const f of input) injector.transmit(f);
  injector.flush();
  return { injector, out: s.frames, input };
}

const tags = (frames: Uint8Array[]): number[] => frames.map((f) => f[0]);

test('no faults: every frame passes through as the same array', () => {
  const { injector, out, input } = run(5, {});
  assert.equal(out.length, 5);
  for (let i = 0; i < 5; i++) assert.equal(out[i], input[i]);
  assert.deepEqual(injector.records, []);
  assert.equal(injector.counters.frames, 5);
  assert.equal(injector.counters.forwarded, 5);
});

test('drop: the scheduled frame is gone, counted and recorded', () => {
  const { injector, out } = run(5, { schedule: [{ index: 2, kind: 'drop' }] });
  assert.deepEqual(tags(out), [0, 1, 3, 4]);
  assert.deepEqual(injector.records, [{ index: 2, kind: 'drop' }]);
  assert.equal(injector.counters.drop, 1);
  assert.equal(injector.counters.forwarded, 4);
});

test('duplicate: the frame goes out twice, the second a copy', () => {
  const { injector, out } = run(3, { schedule: [{ index: 1, kind: 'duplicate' }] });
  assert.deepEqual(tags(out), [0, 1, 1, 2]);
  assert.notEqual(
    out[1],
    out[2],
    'a receiver that decrypts in place must not see its own edit twice'
  );
  assert.deepEqual(out[1], out[2]);
  assert.deepEqual(injector.records, [{ index: 1, kind: 'duplicate' }]);
  assert.equal(injector.counters.duplicate, 1);
});

test('reorder: the frame is held back until `hold` later frames have passed', () => {
  const one = run(5, { schedule: [{ index: 1, kind: 'reorder' }] });
  assert.deepEqual(tags(one.out), [0, 2, 1, 3, 4]);
  assert.deepEqual(one.injector.records, [{ index: 1, kind: 'reorder', hold: 1 }]);
  const two = run(6, { schedule: [{ index: 1, kind: 'reorder', hold: 3 }] });
  assert.deepEqual(tags(two.out), [0, 2, 3, 4, 1, 5]);
  assert.equal(two.injector.counters.reorder, 1);
  const dflt = run(6, { hold: 2, schedule: [{ index: 0, kind: 'reorder' }] });
  assert.deepEqual(tags(dflt.out), [1, 2, 0, 3, 4, 5]);
});

test('reorder past the last frame waits for flush', () => {
  const s = sink();
  const injector = new FaultInjector(s, { schedule: [{ index: 1, kind: 'reorder', hold: 5 }] });
  for (let i = 0; i < 3; i++) injector.transmit(frame(i));
  assert.deepEqual(tags(s.frames), [0, 2]);
  assert.equal(injector.held, 1);
  injector.flush();
  assert.deepEqual(tags(s.frames), [0, 2, 1]);
  assert.equal(injector.held, 0);
});

test('corrupt: one byte of a copy changes at the given offset; the caller’s frame does not', () => {
  const { injector, out, input } = run(4, {
    schedule: [{ index: 3, kind: 'corrupt', offset: 5, xor: 0x80 }],
  });
  const expected = frame(3);
  expected[5] ^= 0x80;
  assert.deepEqual(out[3], expected);
  assert.deepEqual(input[3], frame(3), 'the original is untouched');
  assert.deepEqual(injector.records, [{ index: 3, kind: 'corrupt', offset: 5, xor: 0x80 }]);
  assert.equal(injector.counters.corrupt, 1);
});

test('truncate: the frame is cut to the given length', () => {
  const { injector, out } = run(2, { schedule: [{ index: 0, kind: 'truncate', length: 7 }] });
  assert.deepEqual(out[0], new Uint8Array(7));
  assert.deepEqual(out[1], frame(1));
  assert.deepEqual(injector.records, [
    { index: 0, kind: 'truncate', length: 7, originalLength: 20 },
  ]);
  assert.equal(injector.counters.truncate, 1);
});

test('open parameters are drawn from the random source and recorded', () => {
  const { injector, out } = run(3, {
    random: seededRandom(1),
    schedule: [
      { index: 0, kind: 'corrupt' },
      { index: 2, kind: 'truncate' },
    ],
  });
  const [c, t] = injector.records;
  assert.ok(c.kind === 'corrupt' && t.kind === 'truncate');
  assert.ok(c.offset >= 0 && c.offset < 20);
  assert.ok(c.xor >= 1 && c.xor <= 255);
  const diff = [...out[0]].flatMap((b, i) => (b === 0 ? [] : [i]));
  assert.deepEqual(diff, [c.offset], 'exactly the recorded byte changed');
  assert.equal(out[0][c.offset], c.xor);
  assert.ok(t.length < 20);
  assert.equal(out[2].length, t.length);
});

test('faults that cannot apply are skipped and counted, not thrown', () => {
  const s = sink();
  const injector = new FaultInjector(s, {
    schedule: [
      { index: 0, kind: 'truncate', length: 20 }, // not shorter
      { index: 1, kind: 'corrupt', offset: 20, xor: 1 }, // past the end
    ],
  });
  injector.transmit(frame(0));
  injector.transmit(frame(1));
  const empty = new FaultInjector(s, {
    random: seededRandom(3),
    schedule: [
      { index: 0, kind: 'truncate' },
      { index: 0, kind: 'corrupt' },
    ],
  });
  empty.transmit(new Uint8Array(0));
  assert.deepEqual(injector.records, []);
  assert.equal(injector.counters.skipped, 2);
  assert.equal(empty.counters.skipped, 2);
  assert.equal(s.frames.length, 3);
});

test('faults combine in order: truncate, corrupt, duplicate, reorder; drop wins', () => {
  const { injector, out } = run(4, {
    schedule: [
      { index: 0, kind: 'drop' },
      { index: 0, kind: 'duplicate' },
      { index: 1, kind: 'reorder' },
      { index: 1, kind: 'duplicate' },
      { index: 1, kind: 'corrupt', offset: 3, xor: 0xff },
      { index: 1, kind: 'truncate', length: 4 },
    ],
  });
  assert.deepEqual(tags(out), [2, 1, 1, 3]);
  assert.deepEqual(out[1], Uint8Array.of(1, 1, 1, 0xfe));
  assert.deepEqual(out[2], out[1]);
  assert.notEqual(out[2], out[1]);
  assert.deepEqual(injector.records, [
    { index: 0, kind: 'drop' },
    { index: 1, kind: 'truncate', length: 4, originalLength: 20 },
    { index: 1, kind: 'corrupt', offset: 3, xor: 0xff },
    { index: 1, kind: 'duplicate' },
    { index: 1, kind: 'reorder', hold: 1 },
  ]);
});

test('misuse is refused when the injector is built', () => {
  const s = sink();
  assert.throws(() => new FaultInjector(s, { probabilities: { drop: 1.5 } }), RangeError);
  assert.throws(() => new FaultInjector(s, { probabilities: { drop: Number.NaN } }), RangeError);
  assert.throws(
    () => new FaultInjector(s, { probabilities: { drop: 0.1 } }),
    /expected a random source/
  );
  assert.throws(
    () => new FaultInjector(s, { schedule: [{ index: 0, kind: 'corrupt', offset: 1 }] }),
    TypeError
  );
  assert.throws(
    () => new FaultInjector(s, { schedule: [{ index: 0, kind: 'corrupt', offset: 1, xor: 0 }] }),
    RangeError
  );
  assert.throws(
    () => new FaultInjector(s, { schedule: [{ index: -1, kind: 'drop' }] }),
    RangeError
  );
  assert.throws(() => new FaultInjector(s, { hold: 0 }), RangeError);
  assert.throws(
    () => new FaultInjector(s, { schedule: [{ index: 0, kind: 'reorder', hold: 0 }] }),
    RangeError
  );
});

/** Deterministic pseudo-frames of varying length (no randomness of the test's own). */
function frames(n: number): Uint8Array[] {
  return Array.from({ length: n }, (_, i) => {
    const f = new Uint8Array(40 + ((i * 37) % 1400));
    for (let j = 0; j < f.length; j++) f[j] = (i * 31 + j * 7) & 0xff;
    return f;
  });
}

const ALL = { drop: 0.05, truncate: 0.05, corrupt: 0.1, duplicate: 0.05, reorder: 0.05 };

function runSeeded(
  seed: number,
  input: readonly Uint8Array[]
): { out: Uint8Array[]; injector: FaultInjector } {
  const s = sink();
  const injector = new FaultInjector(s, {
    random: seededRandom(seed),
    probabilities: ALL,
    hold: 2,
  });
  for (const f of input) injector.transmit(f);
  injector.flush();
  return { out: s.frames, injector };
}

test('a seeded injector is byte-for-byte reproducible, and another seed differs', () => {
  const input = frames(2000);
  const a = runSeeded(42, input);
  const b = runSeeded(42, input);
  assert.deepEqual(b.out, a.out);
  assert.deepEqual(b.injector.records, a.injector.records);
  assert.deepEqual(b.injector.counters, a.injector.counters);
  const c = runSeeded(43, input);
  assert.notDeepEqual(c.injector.records, a.injector.records);
  // Every kind happened, at roughly its rate (2000 frames; generous bounds).
  const k = a.injector.counters;
  for (const kind of FAULT_KINDS) {
    const expected = 2000 * ALL[kind];
    assert.ok(k[kind] > expected * 0.5 && k[kind] < expected * 1.6, `${kind}: ${k[kind]}`);
  }
  assert.equal(k.forwarded, 2000 - k.drop + k.duplicate);
});

test('a probability of 1 hits every frame, 0 none', () => {
  const always = run(10, { random: seededRandom(5), probabilities: { duplicate: 1 } });
  assert.equal(always.out.length, 20);
  assert.equal(always.injector.counters.duplicate, 10);
  const never = run(10, { random: seededRandom(5), probabilities: { drop: 0 } });
  assert.equal(never.out.length, 10);
});

test('property: outputs and counters agree with the records for any schedule', () => {
  const entry: fc.Arbitrary<ScheduledFault> = fc.oneof(
    fc.record({ index: fc.nat(29), kind: fc.constant('drop' as const) }, { noNullPrototype: true }),
    fc.record(
      { index: fc.nat(29), kind: fc.constant('duplicate' as const) },
      { noNullPrototype: true }
    ),
    fc.record(
      {
        index: fc.nat(29),
        kind: fc.constant('reorder' as const),
        hold: fc.integer({ min: 1, max: 5 }),
      },
      { noNullPrototype: true }
    ),
    fc.record(
      {
        index: fc.nat(29),
        kind: fc.constant('corrupt' as const),
        offset: fc.integer({ min: 1, max: 25 }), // byte 0 is the frame's tag
        xor: fc.integer({ min: 1, max: 255 }),
      },
      { noNullPrototype: true }
    ),
    fc.record(
      {
        index: fc.nat(29),
        kind: fc.constant('truncate' as const),
        length: fc.integer({ min: 1, max: 25 }),
      },
      { noNullPrototype: true }
    )
  );
  fc.assert(
    fc.property(fc.array(entry, { maxLength: 20 }), (schedule) => {
      const { injector, out, input } = run(30, { schedule });
      const r = injector.records;
      const count = (kind: string): number => r.filter((x) => x.kind === kind).length;
      for (const kind of FAULT_KINDS) assert.equal(injector.counters[kind], count(kind));
      assert.equal(out.length, 30 - count('drop') + count('duplicate'));
      assert.equal(injector.counters.forwarded, out.length);
      const dropped = new Set(r.filter((x) => x.kind === 'drop').map((x) => x.index));
      const present = new Set(tags(out));
      for (let i = 0; i < 30; i++) assert.equal(present.has(i), !dropped.has(i), `frame ${i}`);
      for (let i = 0; i < 30; i++) assert.deepEqual(input[i], frame(i), 'inputs untouched');
    })
  );
});
