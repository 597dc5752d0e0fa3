/**
 * @module
 * Tests of simulated time: the virtual clock moves only when told, and the frame stamper
 * serialises frames behind each other at the line rate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ETHERNET_OVERHEAD,
  FrameStamper,
  MIN_FRAME_LENGTH,
  NANOS_PER_SECOND,
  VirtualClock,
} from './clock.ts';

test('VirtualClock stands still until advanced, and never goes back', () => {
  const clock = new VirtualClock();
  assert.equal(clock.nowNanos(), 0n);
  assert.equal(clock.nowNanos(), 0n);
  assert.equal(clock.advance(1500), 1500n);
  assert.equal(clock.advance(2n), 1502n);
  assert.equal(clock.advance(0), 1502n);
  assert.equal(clock.advanceTo(1000n), 1502n, 'advanceTo an earlier time does nothing');
  assert.equal(clock.advanceTo(5000n), 5000n);
  assert.equal(
    new VirtualClock(1_700_000_000n * NANOS_PER_SECOND).nowNanos(),
    1_700_000_000_000_000_000n
  );
});

test('VirtualClock rejects negative and fractional durations with a RangeError', () => {
  const clock = new VirtualClock();
  assert.throws(() => clock.advance(-1), RangeError);
  assert.throws(() => clock.advance(-1n), RangeError);
  assert.throws(() => clock.advance(0.5), /expected an integer number of nanoseconds, got 0.5/);
  assert.throws(() => new VirtualClock(-5n), RangeError);
  assert.equal(clock.nowNanos(), 0n, 'a refused advance changes nothing');
});

test('FrameStamper without a rate stamps every frame with the current time', () => {
  const clock = new VirtualClock(100n);
  const s = new FrameStamper(clock);
  assert.equal(s.stamp(1500), 100n);
  assert.equal(s.stamp(1500), 100n);
  assert.equal(s.lastDurationNanos, 0n);
  clock.advance(7);
  assert.equal(s.stamp(60), 107n);
});

test('FrameStamper at 1 Gb/s serialises back-to-back frames, preamble, FCS and gap included', () => {
  const clock = new VirtualClock();
  const s = new FrameStamper(clock, { bitsPerSecond: 1_000_000_000 });
  // (1500 + 24) bytes × 8 bits at 1 ns per bit.
  assert.equal(s.durationNanos(1500), BigInt((1500 + ETHERNET_OVERHEAD) * 8));
  assert.equal(s.stamp(1500), 0n);
  assert.equal(s.stamp(1500), 12192n, 'the second frame waits for the first');
  assert.equal(s.stamp(60), 24384n);
  clock.advance(1_000_000);
  assert.equal(s.stamp(60), 1_000_000n, 'an idle link sends at once');
});

test('FrameStamper rounds durations up and rejects a bad rate', () => {
  const s = new FrameStamper(new VirtualClock(), { bitsPerSecond: 9 });
  // 1 byte, padded to 60, plus 24: 672 bits at 9 b/s = 74.67 s → 74_666_666_667 ns.
  assert.equal(s.durationNanos(1), 74_666_666_667n);
  assert.equal(s.durationNanos(0), s.durationNanos(MIN_FRAME_LENGTH), 'short frames are padded');
  assert.ok(s.durationNanos(61) > s.durationNanos(60));
  assert.throws(() => new FrameStamper(new VirtualClock(), { bitsPerSecond: 0 }), RangeError);
  assert.throws(() => new FrameStamper(new VirtualClock(), { bitsPerSecond: 1.5 }), RangeError);
});

test('FrameStamper departures never overlap and never precede the clock', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({ wait: fc.nat(50_000), length: fc.integer({ min: 0, max: 9000 }) }), {
        maxLength: 60,
      }),
      fc.constantFrom(10_000_000, 1_000_000_000, 10_000_000_000),
      (steps, rate) => {
        const clock = new VirtualClock();
        const s = new FrameStamper(clock, { bitsPerSecond: rate });
        let busyUntil = 0n;
        for (const { wait, length } of steps) {
          clock.advance(wait);
          const departure = s.stamp(length);
          assert.ok(departure >= clock.nowNanos());
          assert.ok(departure >= busyUntil);
          assert.ok(departure === clock.nowNanos() || departure === busyUntil);
          busyUntil = departure + s.lastDurationNanos;
        }
      }
    )
  );
});
