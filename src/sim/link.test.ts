/**
 * @module
 * Tests of the link: a channel delivers in order, each frame at departure + serialisation +
 * latency; a wire merges its two directions by arrival time; a tap sees every frame and passes it
 * on untouched; and the link takes frames through the miniport's own `Link` interface.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Link as NicLink } from '../miniport/miniport.ts';
import { VirtualClock } from './clock.ts';
import { Channel, Tap, Wire, type Direction, type Link } from './link.ts';

const frame = (tag: number, length = 64): Uint8Array => new Uint8Array(length).fill(tag);

test('the NIC-side Link of the miniport accepts a Channel, a Tap and a Wire end', () => {
  const clock = new VirtualClock();
  const wire = new Wire(clock);
  const nic: NicLink[] = [
    wire.a,
    wire.b,
    new Channel(clock),
    new Tap(wire.a, clock, 'a-to-b', () => undefined),
  ];
  const back: Link[] = nic;
  assert.equal(back.length, 4);
});

test('a channel delivers in order, each frame once its latency has passed, stamped with its arrival', () => {
  const clock = new VirtualClock(1_000n);
  const ch = new Channel(clock, { latencyNanos: 500n });
  ch.transmit(frame(1));
  clock.advance(100);
  ch.transmit(frame(2));
  ch.transmit(frame(3));
  assert.equal(ch.pending, 3);
  assert.equal(ch.nextArrivalNanos(), 1_500n);
  assert.equal(ch.receive(), undefined, 'nothing has arrived yet');
  clock.advanceTo(1_500n);
  const first = ch.receive();
  assert.deepEqual(first, { frame: frame(1), timestampNanos: 1_500n });
  assert.equal(ch.receive(), undefined, 'the next two arrive at 1600');
  clock.advance(100);
  const got: [number, bigint][] = [];
  assert.equal(
    ch.deliver((f, t) => got.push([f[0], t])),
    2
  );
  assert.deepEqual(got, [
    [2, 1_600n],
    [3, 1_600n],
  ]);
  assert.equal(ch.pending, 0);
  assert.equal(ch.nextArrivalNanos(), undefined);
  assert.deepEqual(ch.counters, { transmitted: 3, bytes: 192, delivered: 3 });
});

test('a channel hands over the very array transmitted (the link owns it now)', () => {
  const ch = new Channel(new VirtualClock());
  const f = frame(9);
  ch.transmit(f);
  assert.equal(ch.receive()?.frame, f);
});

test('a channel with a line rate stamps arrival after serialisation', () => {
  const clock = new VirtualClock();
  const ch = new Channel(clock, { bitsPerSecond: 1_000_000_000, latencyNanos: 1_000n });
  ch.transmit(frame(1, 1500));
  ch.transmit(frame(2, 1500));
  clock.advance(1_000_000);
  const t: bigint[] = [];
  ch.deliver((_f, ts) => t.push(ts));
  // First: 12192 ns on the wire + 1000 latency; the second leaves when the first is done.
  assert.deepEqual(t, [13_192n, 25_384n]);
});

test('channel: any interleaving of sends, clock steps and receives keeps order and stamps', () => {
  type Op = { op: 'send'; length: number } | { op: 'wait'; ns: number } | { op: 'recv' };
  const op = fc.oneof(
    fc.record(
      { op: fc.constant('send' as const), length: fc.integer({ min: 4, max: 1600 }) },
      { noNullPrototype: true }
    ),
    fc.record({ op: fc.constant('wait' as const), ns: fc.nat(20_000) }, { noNullPrototype: true }),
    fc.record({ op: fc.constant('recv' as const) }, { noNullPrototype: true })
  );
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 200 }),
      fc.bigInt({ min: 0n, max: 10_000n }),
      fc.option(fc.constantFrom(100_000_000, 1_000_000_000), { nil: undefined }),
      (ops: Op[], latency, rate) => {
        const clock = new VirtualClock();
        const ch = new Channel(clock, {
          latencyNanos: latency,
          ...(rate === undefined ? {} : { bitsPerSecond: rate }),
        });
        let sent = 0;
        let next = 0;
        let last = -1n;
        const check = (f: Uint8Array, ts: bigint): void => {
          // Each frame carries its send number in its first four bytes.
          assert.equal(new DataView(f.buffer, f.byteOffset).getUint32(0), next);
          assert.ok(ts <= clock.nowNanos(), 'never delivered before it arrives');
          assert.ok(ts >= last, 'arrival stamps never decrease');
          last = ts;
          next++;
        };
        for (const o of ops) {
          if (o.op === 'send') {
            const f = new Uint8Array(o.length);
            new DataView(f.buffer).setUint32(0, sent++);
            ch.transmit(f);
          } else if (o.op === 'wait') clock.advance(o.ns);
          else ch.deliver(check);
        }
        clock.advance(10_000_000_000n);
        ch.deliver(check);
        assert.equal(next, sent);
        assert.equal(ch.pending, 0);
      }
    )
  );
});

test('a channel keeps order across queue compaction', () => {
  const clock = new VirtualClock();
  const ch = new Channel(clock);
  let sent = 0;
  let got = 0;
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 700; i++) {
      const f = new Uint8Array(4);
      new DataView(f.buffer).setUint32(0, sent++);
      ch.transmit(f);
    }
    for (let i = 0; i < 500; i++) {
      const a = ch.receive();
      assert.ok(a);
      assert.equal(new DataView(a.frame.buffer).getUint32(0), got++);
    }
  }
  ch.deliver((f) => {
    assert.equal(new DataView(f.buffer).getUint32(0), got++);
  });
  assert.equal(got, sent);
});

test('a channel rejects a negative latency', () => {
  assert.throws(() => new Channel(new VirtualClock(), { latencyNanos: -1n }), RangeError);
});

test('a wire delivers both directions in arrival order, A→B first on a tie', () => {
  const clock = new VirtualClock();
  const wire = new Wire(clock, { latencyNanos: 10n });
  const log: string[] = [];
  wire.a.transmit(frame(1));
  clock.advance(5);
  wire.b.transmit(frame(2));
  wire.a.transmit(frame(3));
  assert.equal(wire.pending, 3);
  assert.equal(wire.nextArrivalNanos(), 10n);
  clock.advance(100);
  const n = wire.deliver(
    (f, t) => log.push(`A got ${f[0]} at ${t}`),
    (f, t) => log.push(`B got ${f[0]} at ${t}`)
  );
  assert.equal(n, 3);
  assert.deepEqual(log, ['B got 1 at 10', 'B got 3 at 15', 'A got 2 at 15']);
  assert.equal(wire.nextArrivalNanos(), undefined);
});

test('a wire leaves a reply queued during delivery for the next call', () => {
  const clock = new VirtualClock();
  const wire = new Wire(clock);
  const log: string[] = [];
  const toA = (f: Uint8Array): void => {
    log.push(`A got ${f[0]}`);
  };
  const toB = (f: Uint8Array): void => {
    log.push(`B got ${f[0]}`);
    wire.b.transmit(frame(f[0] + 100)); // B answers at once
  };
  wire.a.transmit(frame(1));
  assert.equal(wire.deliver(toA, toB), 1);
  assert.deepEqual(log, ['B got 1']);
  assert.equal(wire.deliver(toA, toB), 1);
  assert.deepEqual(log, ['B got 1', 'A got 101']);
  assert.equal(wire.deliver(toA, toB), 0);
});

test('a tap shows every frame with the time and direction, and passes the same array on', () => {
  const clock = new VirtualClock(42n);
  const ch = new Channel(clock);
  const seen: [Uint8Array, bigint, Direction][] = [];
  const tap = new Tap(ch, clock, 'b-to-a', (f, t, d) => seen.push([f, t, d]));
  const f1 = frame(1);
  const f2 = frame(2, 0);
  tap.transmit(f1);
  clock.advance(8);
  tap.transmit(f2);
  assert.deepEqual(seen, [
    [f1, 42n, 'b-to-a'],
    [f2, 50n, 'b-to-a'],
  ]);
  assert.equal(seen[0][0], f1);
  assert.equal(ch.receive()?.frame, f1);
  assert.equal(ch.receive()?.frame, f2);
  assert.equal(tap.frames, 2);
  assert.equal(tap.bytes, 64);
});

test('taps compose: both see the frame in chain order', () => {
  const clock = new VirtualClock();
  const ch = new Channel(clock);
  const order: string[] = [];
  const inner = new Tap(ch, clock, 'a-to-b', () => order.push('inner'));
  const outer = new Tap(inner, clock, 'a-to-b', () => order.push('outer'));
  outer.transmit(frame(1));
  assert.deepEqual(order, ['outer', 'inner']);
  assert.equal(ch.pending, 1);
});
