/**
 * The SA table on its own: handles (bigint and u32 halves, D8: never reused, deleted ones keep
 * failing, handles past 2^32), the receive index (SPIs sharing a slot), and KeyedSa's lazy crypto
 * contexts and key zeroing (issue 6).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createEsp } from '../crypto/esp.ts';
import { seededRandom } from '../crypto/random.ts';
import type { EspTransform } from '../crypto/transform.ts';
import { KeyedSa, SaTable, type SaBundle } from './sa-table.ts';
import type { ElementPlan } from './validate.ts';

const RANDOM = seededRandom(1);
const NO_KEY = new Uint8Array(0);

/** An ESP AES-GCM-128 element plan (20 key bytes: key ‖ salt). */
function gcmPlan(spi: number): ElementPlan {
  return {
    operation: 'esp',
    spi,
    esn: false,
    seqHigh: 0,
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: Uint8Array.from({ length: 20 }, (_, i) => (spi + i) & 0xff),
    integrityKey: NO_KEY,
    icvLength: 16,
  };
}

/** An AH HMAC-SHA-256-128 element plan. */
function ahPlan(spi: number): ElementPlan {
  return {
    operation: 'ah',
    spi,
    esn: true,
    seqHigh: 7,
    encryption: null,
    integrity: 'hmac-sha256-128',
    encryptionKey: NO_KEY,
    integrityKey: Uint8Array.from({ length: 32 }, (_, i) => (spi * 3 + i) & 0xff),
    icvLength: 16,
  };
}

/** Creates and inserts a bundle of one ESP SA (plus AH when `ah`) to `destination`. */
function add(
  table: SaTable,
  spi: number,
  options: { inbound?: boolean; destination?: Uint8Array; ah?: boolean } = {}
): SaBundle {
  const plans = options.ah === true ? [gcmPlan(spi), ahPlan(spi + 1)] : [gcmPlan(spi)];
  const bundle = table.create(
    {
      inbound: options.inbound ?? false,
      ipv6: false,
      source: Uint8Array.of(192, 0, 2, 1),
      destination: options.destination ?? Uint8Array.of(198, 51, 100, spi & 0xff),
      udpEspEncapsulation: 0,
    },
    plans.map((p) => new KeyedSa(p, table, RANDOM))
  );
  table.insert(bundle);
  return bundle;
}

/** The bytes `t` seals one fixed ESP packet into (the IV given, so transforms compare). */
function sealed(t: EspTransform): Uint8Array {
  const p = new Uint8Array(8 + t.ivLength + 2 * t.padAlign + t.icvLength);
  p.set([0, 0, 0x10, 0x01, 0, 0, 0, 5]);
  for (let i = 0; i < 2 * t.padAlign; i++) p[8 + t.ivLength + i] = i;
  t.seal(p, 0, new Uint8Array(t.ivLength).fill(0x5a));
  return p;
}

/** A transform keyed directly from `plan`, for comparison. */
function direct(plan: ElementPlan): EspTransform {
  return createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: plan.encryptionKey,
    icvLength: plan.icvLength,
    esn: plan.esn,
  });
}

/** The two u32 halves of a handle, as an NBL info slot stores them. */
function halves(handle: bigint): [number, number] {
  return [Number(handle & 0xffff_ffffn), Number(handle >> 32n)];
}

test('D8: handles are issued from 1 upward; get and getByHalves find the same bundle', () => {
  const table = new SaTable(16);
  const a = add(table, 0x100);
  const b = add(table, 0x200);
  assert.deepEqual([a.handle, b.handle], [1n, 2n]);
  for (const bundle of [a, b]) {
    assert.equal(table.get(bundle.handle), bundle);
    assert.equal(table.getByHalves(...halves(bundle.handle)), bundle);
  }
  assert.deepEqual([...table.bundles()], [a, b]);
  assert.equal(table.size, 2);
});

test('D8: unknown, zero, deleted and out-of-range handles name no bundle, by bigint or by halves', () => {
  const table = new SaTable(16);
  const a = add(table, 0x100);
  const b = add(table, 0x200);
  for (const h of [0n, 3n, 1024n, 1025n, 2n ** 32n + 1n, 2n ** 53n, 2n ** 64n - 1n, -1n]) {
    assert.equal(table.get(h), undefined, `get(${h})`);
    if (h >= 0n) assert.equal(table.getByHalves(...halves(h)), undefined, `getByHalves(${h})`);
  }
  assert.equal(table.delete(a.handle), true);
  assert.equal(table.get(a.handle), undefined);
  assert.equal(table.getByHalves(1, 0), undefined, 'a deleted handle keeps failing');
  assert.equal(table.delete(a.handle), false, 'deleting twice');
  assert.equal(table.getByHalves(2, 0), b);
  // Halves that are not u32 values name nothing (they never come out of an NBL info slot).
  for (const [low, high] of [
    [-1, 0],
    [2.5, 0],
    [2 ** 32 + 2, 0],
    [2, -1],
    [2, 0.5],
    [Number.NaN, 0],
    [2, 2 ** 21],
    [2, 0xffff_ffff],
  ]) {
    assert.equal(table.getByHalves(low, high), undefined, `getByHalves(${low}, ${high})`);
  }
  // A new bundle gets a new handle, never the deleted one.
  const c = add(table, 0x300);
  assert.equal(c.handle, 3n);
  assert.equal(table.get(1n), undefined);
});

test('handles past 2^32: both halves in use, the same bundle by bigint and by halves', () => {
  const table = new SaTable(16, 2 ** 32 - 2);
  const bundles = [0x10, 0x20, 0x30].map((spi) => add(table, spi));
  assert.deepEqual(
    bundles.map((b) => b.handle),
    [2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 1n]
  );
  assert.deepEqual(halves(bundles[1].handle), [0, 1]);
  for (const b of bundles) {
    assert.equal(table.get(b.handle), b);
    assert.equal(table.getByHalves(...halves(b.handle)), b);
  }
  // The low half alone names a different (absent) handle.
  assert.equal(table.getByHalves(0, 0), undefined);
  assert.equal(table.getByHalves(1, 0), undefined);
  table.delete(bundles[1].handle);
  assert.equal(table.getByHalves(0, 1), undefined);
  assert.equal(table.getByHalves(1, 1), bundles[2]);
});

test('the last handles below 2^53 are exact; then nextHandle refuses to go on', () => {
  const table = new SaTable(4, Number.MAX_SAFE_INTEGER - 1);
  const last = add(table, 0x40);
  assert.equal(last.handle, 2n ** 53n - 1n);
  assert.equal(table.getByHalves(0xffff_ffff, 0x1f_ffff), last);
  assert.equal(table.get(2n ** 53n - 1n), last);
  assert.throws(() => table.nextHandle(), RangeError);
  assert.throws(() => new SaTable(4, -1), RangeError);
  assert.throws(() => new SaTable(4, 1.5), RangeError);
});

test('insert refuses a full table, a handle in use and a handle never issued', () => {
  const table = new SaTable(2);
  const a = add(table, 0x100);
  assert.throws(() => {
    table.insert(a);
  }, /already in use/);
  const stray: SaBundle = { ...a, handle: 99n, elements: [] };
  assert.throws(() => {
    table.insert(stray);
  }, /expected a handle from nextHandle\(\), got 99/);
  add(table, 0x200);
  assert.throws(() => add(table, 0x300), /table full \(capacity 2\)/);
  assert.equal(table.size, 2);
});

test('plain bundles with nextHandle() (the test kits) are found by bigint and by halves', () => {
  const table = new SaTable(4);
  const handle = table.nextHandle();
  const bundle: SaBundle = {
    handle,
    inbound: false,
    ipv6: false,
    source: new Uint8Array(4),
    destination: new Uint8Array(4),
    udpEspEncapsulation: 0,
    elements: [],
    inFlight: 0,
  };
  table.insert(bundle);
  assert.equal(table.get(handle), bundle);
  assert.equal(table.getByHalves(Number(handle), 0), bundle);
  assert.equal(table.delete(handle), true);
  assert.equal(table.getByHalves(Number(handle), 0), undefined);
});

test('fast-check: getByHalves(low, high) is get(BigInt(high) << 32n | BigInt(low)) after any adds and deletes', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1000, 2 ** 32 - 3000, 2 ** 40, Number.MAX_SAFE_INTEGER - 5000),
      fc.array(fc.oneof(fc.constant(-1), fc.nat(4000)), { maxLength: 120 }),
      fc.array(fc.tuple(fc.nat(5000), fc.constantFrom(0, 1, 0x100, 0x1f_ffff, 0xffff_ffff))),
      (start, ops, probes) => {
        const table = new SaTable(10_000, start);
        const live: SaBundle[] = [];
        const gone: SaBundle[] = [];
        for (const op of ops) {
          if (op < 0 || live.length === 0) live.push(add(table, 0x1000 + live.length));
          else {
            const [b] = live.splice(op % live.length, 1);
            table.delete(b.handle);
            gone.push(b);
          }
        }
        for (const b of live) assert.equal(table.getByHalves(...halves(b.handle)), b);
        for (const b of gone) assert.equal(table.getByHalves(...halves(b.handle)), undefined);
        for (const [offset, high] of probes) {
          const low = (start + offset) % 2 ** 32;
          const h = (BigInt(high) << 32n) | BigInt(low);
          assert.equal(table.getByHalves(low, high), table.get(h));
        }
        assert.equal(table.size, live.length);
        assert.deepEqual(
          [...table.bundles()].map((b) => b.handle),
          live.map((b) => b.handle).sort((x, y) => (x < y ? -1 : 1))
        );
      }
    )
  );
});

test('a table emptied and refilled past many handle chunks keeps finding every bundle', () => {
  const table = new SaTable(5000);
  const first = Array.from({ length: 3000 }, (_, i) => add(table, i + 1));
  for (const b of first) table.delete(b.handle);
  assert.equal(table.size, 0);
  assert.deepEqual([...table.bundles()], []);
  const second = Array.from({ length: 3000 }, (_, i) => add(table, i + 1));
  assert.equal(second[0].handle, 3001n);
  for (const b of second) assert.equal(table.getByHalves(...halves(b.handle)), b);
  for (const b of first) assert.equal(table.get(b.handle), undefined);
  assert.equal(table.size, 3000);
});

test('RFC 4301 §4.1: inbound SAs whose SPIs share the low 30 bits are told apart, and deleted one by one', () => {
  const table = new SaTable(16);
  const dst = Uint8Array.of(10, 0, 0, 1);
  const other = Uint8Array.of(10, 0, 0, 2);
  // Same slot: SPIs 5, 5 + 2^30, 5 + 2^31 (as u32), to two destinations.
  const a = add(table, 5, { inbound: true, destination: dst });
  const b = add(table, 5 + 2 ** 30, { inbound: true, destination: dst });
  const c = add(table, (5 + 2 ** 31) >>> 0, { inbound: true, destination: dst });
  const d = add(table, 5, { inbound: true, destination: other });
  const out = add(table, 6, { destination: dst });
  const find = (spi: number, d2: Uint8Array): SaBundle | undefined =>
    table.findInbound(spi, 'esp', d2)?.bundle;
  assert.equal(find(5, dst), a);
  assert.equal(find(5 + 2 ** 30, dst), b);
  assert.equal(find(5 + 2 ** 31, dst), c);
  assert.equal(find((5 + 2 ** 31) | 0, dst), c, 'a negative int32 SPI is read as its u32 value');
  assert.equal(find(5, other), d);
  assert.equal(table.findInbound(5, 'ah', dst), undefined, 'protocol compared');
  assert.equal(find(6, dst), undefined, 'outbound bundles are not in the receive index');
  assert.equal(find(5, Uint8Array.of(10, 0, 0, 3)), undefined);
  assert.equal(find(5, new Uint8Array(16)), undefined, 'address length compared');
  assert.throws(() => add(table, 5 + 2 ** 30, { inbound: true, destination: dst }), /in use/);
  table.delete(b.handle); // the middle of the chain
  assert.equal(find(5 + 2 ** 30, dst), undefined);
  assert.deepEqual([find(5, dst), find(5 + 2 ** 31, dst), find(5, other)], [a, c, d]);
  table.delete(d.handle); // the head
  table.delete(a.handle);
  assert.deepEqual(
    [find(5, dst), find(5 + 2 ** 31, dst), find(5, other)],
    [undefined, c, undefined]
  );
  table.delete(c.handle);
  assert.equal(find(5 + 2 ** 31, dst), undefined);
  assert.equal(table.getByHalves(...halves(out.handle)), out);
});

test('issue 6: an AH+ESP bundle keys each SA on first use only; contexts counted; keys zeroed on delete', () => {
  const table = new SaTable(4);
  const bundle = add(table, 0x500, { ah: true });
  const [esp, ah] = bundle.elements;
  assert.ok(esp instanceof KeyedSa && ah instanceof KeyedSa);
  assert.deepEqual(
    [esp.operation, esp.spi, esp.esn, esp.seqHigh, esp.encryption, esp.integrity],
    ['esp', 0x500, false, 0, 'aes-gcm-128', null]
  );
  assert.deepEqual(
    [ah.operation, ah.spi, ah.esn, ah.seqHigh, ah.encryption, ah.integrity],
    ['ah', 0x501, true, 7, null, 'hmac-sha256-128']
  );
  assert.equal(esp.auth, null);
  assert.equal(ah.esp, null);
  assert.deepEqual([esp.keyed, ah.keyed, table.contexts], [false, false, 0]);
  const t = esp.esp;
  assert.ok(t !== null);
  assert.equal(t.icvLength, 16);
  assert.deepEqual(sealed(t), sealed(direct(gcmPlan(0x500))), "keyed with the plan's key");
  assert.equal(esp.esp, t, 'one context per SA');
  assert.deepEqual([esp.keyed, ah.keyed, table.contexts], [true, false, 1]);
  assert.ok(ah.auth !== null);
  assert.equal(table.contexts, 2);
  esp.counters.packets += 2;
  esp.counters.bytes += 300;
  assert.deepEqual([esp.counters.packets, esp.counters.bytes], [2, 300]);
  assert.deepEqual([ah.counters.packets, ah.counters.bytes], [0, 0]);
  table.delete(bundle.handle);
  assert.equal(table.contexts, 0);
  assert.equal(esp.keyed, false);
  assert.throws(() => esp.esp, TypeError, 'a destroyed SA cannot be keyed again');
});

test('an SA deleted before first use has its key zeroed and cannot be keyed; its slot is reused', () => {
  const table = new SaTable(4);
  const a = add(table, 0x600);
  const [element] = a.elements;
  table.delete(a.handle);
  assert.throws(() => element.esp, /expected a live SA, got one ended by destroy\(\)/);
  assert.equal(table.contexts, 0);
  // The next SA with a key of the same length takes the freed slot, with its own key bytes.
  const b = add(table, 0x711);
  const t = b.elements[0].esp;
  assert.ok(t !== null);
  assert.equal(table.contexts, 1);
  assert.deepEqual(sealed(t), sealed(direct(gcmPlan(0x711))));
  assert.notDeepEqual(sealed(t), sealed(direct(gcmPlan(0x600))), 'no trace of the old key');
});
