/**
 * @module
 * Tests of the native batched ESP engine (issue 6) against the node:crypto engine: random SAs
 * (every algorithm esp.ts has, random keys, SPIs, sequence numbers, ESN on and off, GCM ICV
 * lengths) and random packets (payload 0–1500 bytes) are sealed by both engines and compared
 * byte for byte; each engine opens the other's packets; bit flips fail; batches in one buffer
 * match `sealMany`; errors match. The native half runs only when the addon loaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeEngine, engineReason, nativeAddon } from './engine.ts';
import { createEsp, type EspConfig } from './esp.ts';
import { createEspOnEngine, createNativeEsp, nativeEspAvailable } from './native-esp.ts';
import {
  ENCRYPTION_NAMES,
  INTEGRITY_NAMES,
  encryptionInfo,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from './names.ts';
import { seededRandom } from './random.ts';
import type { EspTransform, OpenResult, Random } from './transform.ts';

const SKIP: string | false = nativeAddon() === null ? 'issue #6: native addon not built' : false;

/** Every (encryption, integrity) pair createEsp accepts. */
function suites(): [EncryptionName, IntegrityName | null][] {
  const out: [EncryptionName, IntegrityName | null][] = [];
  for (const e of ENCRYPTION_NAMES) {
    const enc = encryptionInfo(e);
    if (enc.combined) {
      out.push([e, null]);
      continue;
    }
    if (e !== 'null') out.push([e, null]);
    for (const i of INTEGRITY_NAMES) {
      if (integrityInfo(i).saltLength > 0 && e !== 'null') continue;
      out.push([e, i]);
    }
  }
  return out;
}

function bytes(r: Random, n: number): Uint8Array {
  const b = new Uint8Array(n);
  r.fill(b);
  return b;
}

function uint(r: Random, bound: number): number {
  const b = bytes(r, 4);
  return new DataView(b.buffer).getUint32(0) % bound;
}

function config(r: Random, e: EncryptionName, i: IntegrityName | null, seed: number): EspConfig {
  const enc = encryptionInfo(e);
  const esn = uint(r, 2) === 1;
  const base = {
    encryption: e,
    integrity: i,
    encryptionKey: bytes(r, enc.keyLength),
    esn,
    random: seededRandom(seed),
  };
  const icv = enc.combined ? enc.icvLengths[uint(r, enc.icvLengths.length)] : undefined;
  return {
    ...base,
    ...(i === null ? {} : { integrityKey: bytes(r, integrityInfo(i).keyLength) }),
    ...(icv === undefined ? {} : { icvLength: icv }),
  };
}

/** A framed packet: random SPI, Seq, payload (0–1500 bytes) and RFC 4303 padding. */
function packet(r: Random, t: EspTransform): Uint8Array {
  const payload = uint(r, 1501);
  const pad = (t.padAlign - ((payload + 2) % t.padAlign)) % t.padAlign;
  const body = payload + pad + 2;
  const p = new Uint8Array(8 + t.ivLength + body + t.icvLength);
  r.fill(p.subarray(0, 8));
  r.fill(p.subarray(8 + t.ivLength, 8 + t.ivLength + payload));
  for (let k = 0; k < pad; k++) p[8 + t.ivLength + payload + k] = k + 1;
  p[8 + t.ivLength + body - 2] = pad;
  p[8 + t.ivLength + body - 1] = uint(r, 256);
  return p;
}

function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

test('engine: one of the two engines is active and says why', () => {
  const engine: string = activeEngine();
  assert.ok(['native', 'node:crypto'].includes(engine));
  assert.ok(engineReason().length > 0);
  assert.equal(nativeEspAvailable(), engine === 'native');
  if (process.env['IPSECOV2_ENGINE'] === 'js') assert.equal(engine, 'node:crypto');
});

test('engine: createEspOnEngine seals and opens on whichever engine is active', () => {
  const t = createEspOnEngine({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: new Uint8Array(20).fill(1),
    esn: false,
  });
  const plain = new Uint8Array(8 + 8 + 64 + 16).fill(9);
  const p = plain.slice();
  t.seal(p, 0);
  assert.notEqual(hex(p), hex(plain));
  assert.equal(t.open(p, 0), 'ok');
  assert.equal(hex(p.subarray(16, 80)), hex(plain.subarray(16, 80)));
  t.destroy();
});

test('native: byte-identical to node:crypto for every algorithm, both ways', { skip: SKIP }, () => {
  const r = seededRandom(0x6e6174);
  for (const [e, i] of suites()) {
    for (let round = 0; round < 6; round++) {
      const seed = uint(r, 1 << 30);
      const cfg = config(r, e, i, seed);
      const js = createEsp(cfg);
      const nat = createNativeEsp({ ...cfg, random: seededRandom(seed) });
      const what = `${e}+${i ?? '-'} esn=${cfg.esn} icv=${js.icvLength}`;
      assert.deepEqual(
        [nat.ivLength, nat.icvLength, nat.padAlign, nat.esn],
        [js.ivLength, js.icvLength, js.padAlign, js.esn]
      );
      for (let k = 0; k < 4; k++) {
        const plain = packet(r, js);
        const high = uint(r, 2) === 1 ? 0xffffffff : uint(r, 0x100000000);
        const a = plain.slice();
        const b = plain.slice();
        js.seal(a, high);
        nat.seal(b, high);
        assert.equal(hex(b), hex(a), `${what}: sealed bytes`);
        const a2 = a.slice();
        assert.equal(nat.open(a, high), 'ok', `${what}: native opens node:crypto`);
        assert.equal(js.open(b, high), 'ok', `${what}: node:crypto opens native`);
        assert.equal(hex(a), hex(b), `${what}: opened bytes`);
        const body = plain.subarray(8 + js.ivLength, plain.length - js.icvLength);
        assert.equal(hex(a.subarray(8 + js.ivLength, a.length - js.icvLength)), hex(body));
        if (js.icvLength > 0) {
          const bit = uint(r, a2.length * 8);
          const x = a2.slice();
          x[bit >> 3] ^= 1 << (bit & 7);
          const y = x.slice();
          assert.equal(nat.open(x, high), 'icv-mismatch', `${what}: bit ${bit}`);
          assert.equal(hex(x), hex(y), `${what}: nothing written on a mismatch`);
          assert.equal(js.open(y, high), 'icv-mismatch');
          if (cfg.esn) assert.equal(nat.open(a2.slice(), (high ^ 1) >>> 0), 'icv-mismatch');
        }
      }
      js.destroy();
      nat.destroy();
    }
  }
});

test('native: explicit IVs and bad lengths match node:crypto', { skip: SKIP }, () => {
  const r = seededRandom(7);
  for (const [e, i] of suites()) {
    const cfg = config(r, e, i, 1);
    const js = createEsp(cfg);
    const nat = createNativeEsp(cfg);
    const plain = packet(r, js);
    const iv = bytes(r, js.ivLength);
    const a = plain.slice();
    const b = plain.slice();
    js.seal(a, 3, iv);
    nat.seal(b, 3, iv);
    assert.equal(hex(b), hex(a), `${e}+${i ?? '-'}: explicit iv`);
    for (const len of [0, 7, 8 + js.ivLength + js.icvLength, 8 + js.ivLength + js.icvLength + 3]) {
      const p = new Uint8Array(len);
      const q = new Uint8Array(len);
      assert.equal(nat.open(p, 0), js.open(q, 0), `${e}+${i ?? '-'}: open ${len} bytes`);
      const errors: string[] = [];
      for (const t of [js, nat]) {
        try {
          t.seal(new Uint8Array(len), 0);
          errors.push('sealed');
        } catch (err) {
          errors.push(String(err));
        }
      }
      assert.equal(errors[1], errors[0]);
    }
    if (js.ivLength > 0) {
      assert.throws(() => {
        nat.seal(plain.slice(), 0, new Uint8Array(js.ivLength + 1));
      }, RangeError);
    }
    nat.destroy();
    assert.throws(() => {
      nat.seal(plain.slice(), 0);
    }, /ended by destroy/);
    assert.throws(() => {
      nat.open(plain.slice(), 0);
    }, /ended by destroy/);
    js.destroy();
  }
});

test('native: batches in one buffer match node:crypto sealMany/openMany', { skip: SKIP }, () => {
  const r = seededRandom(99);
  for (const [e, i] of suites()) {
    const cfg = config(r, e, i, 5);
    const js = createEsp(cfg);
    const nat = createNativeEsp({ ...cfg, random: seededRandom(5) });
    const plains = Array.from({ length: 9 }, () => packet(r, js));
    const highs = plains.map(() => uint(r, 0x100000000));
    const total = plains.reduce((s, p) => s + p.length + 3, 0);
    const shared = new Uint8Array(total);
    const mine: Uint8Array[] = [];
    let at = 0;
    for (const p of plains) {
      at += 3; // gaps: packets need not be adjacent
      shared.set(p, at);
      mine.push(shared.subarray(at, at + p.length));
      at += p.length;
    }
    const theirs = plains.map((p) => p.slice());
    js.sealMany(theirs, highs);
    nat.sealMany(mine, highs);
    for (let k = 0; k < plains.length; k++) assert.equal(hex(mine[k]), hex(theirs[k]));
    if (js.icvLength > 0) mine[4][mine[4].length - 1] ^= 0x80;
    const sealed = shared.slice();
    const got: OpenResult[] = [];
    const want: OpenResult[] = [];
    nat.openMany(mine, highs, got);
    js.openMany(
      theirs.map((p, k) => (k === 4 && js.icvLength > 0 ? mine[4].slice() : p)),
      highs,
      want
    );
    assert.deepEqual(got, want);
    // The raw batch API: offsets inside one buffer, no per-packet objects.
    const offsets = new Uint32Array(mine.map((p) => p.byteOffset));
    const lengths = new Uint32Array(mine.map((p) => p.length));
    const high32 = new Uint32Array(highs);
    const results = new Uint8Array(mine.length);
    nat.openBatch(sealed, offsets, lengths, high32, mine.length, results);
    assert.deepEqual(
      [...results],
      want.map((w) => ['ok', 'icv-mismatch', 'bad-length'].indexOf(w))
    );
    assert.throws(() => {
      nat.sealBatch(shared, new Uint32Array([total]), new Uint32Array([16]), high32, 1);
    }, RangeError);
    assert.equal(hex(sealed), hex(shared), 'openBatch opens as openMany does');
    js.destroy();
    nat.destroy();
  }
});

test('native: sealMany seals the packets before a bad one, then throws', { skip: SKIP }, () => {
  const cfg: EspConfig = {
    encryption: 'aes-cbc-128',
    integrity: 'hmac-sha1-96',
    encryptionKey: new Uint8Array(16).fill(1),
    integrityKey: new Uint8Array(20).fill(2),
    esn: false,
    random: seededRandom(3),
  };
  const js = createEsp(cfg);
  const nat = createNativeEsp({ ...cfg, random: seededRandom(3) });
  const buf = new Uint8Array(200);
  const mine = [buf.subarray(0, 8 + 16 + 32 + 12), buf.subarray(100, 110)];
  const theirs = mine.map((p) => p.slice());
  const errors: string[] = [];
  for (const [t, ps] of [
    [js, theirs],
    [nat, mine],
  ] as const) {
    try {
      t.sealMany(ps, [0, 0]);
    } catch (err) {
      errors.push(String(err));
    }
  }
  assert.equal(errors.length, 2);
  assert.equal(errors[1], errors[0]);
  assert.equal(hex(mine[0]), hex(theirs[0]));
});

test(
  'native: sealBatch with ivsWritten keeps the IVs in place, as seal(packet, high, iv) does',
  { skip: SKIP },
  () => {
    for (const [encryption, integrity, keyLength, integrityKeyLength] of [
      ['aes-cbc-128', 'hmac-sha1-96', 16, 20],
      ['3des-cbc', 'hmac-sha256-128', 24, 32],
      ['aes-gcm-128', null, 20, 0],
    ] as const) {
      const cfg: EspConfig = {
        encryption,
        integrity,
        encryptionKey: new Uint8Array(keyLength).fill(7),
        ...(integrity === null ? {} : { integrityKey: new Uint8Array(integrityKeyLength).fill(9) }),
        esn: true,
        random: seededRandom(11),
      };
      const js = createEsp(cfg);
      const nat = createNativeEsp(cfg);
      const length = 8 + js.ivLength + 3 * js.padAlign + js.icvLength;
      const buffer = new Uint8Array(3 * 100);
      const offsets = new Uint32Array([0, 100, 200]);
      const lengths = new Uint32Array(3).fill(length);
      const highs = new Uint32Array([0, 1, 0xffffffff]);
      const theirs: Uint8Array[] = [];
      for (let k = 0; k < 3; k++) {
        const p = buffer.subarray(offsets[k], offsets[k] + length);
        for (let i = 0; i < p.length; i++) p[i] = (i * 31 + k) & 0xff;
        const iv = p.slice(8, 8 + js.ivLength); // the caller's IV, already in the field
        const copy = p.slice();
        js.seal(copy, highs[k], js.ivLength > 0 && encryption !== 'aes-gcm-128' ? iv : undefined);
        theirs.push(copy);
      }
      nat.sealBatch(buffer, offsets, lengths, highs, 3, true);
      for (let k = 0; k < 3; k++) {
        assert.equal(
          hex(buffer.subarray(offsets[k], offsets[k] + length)),
          hex(theirs[k]),
          `${encryption} #${k}`
        );
      }
      js.destroy();
      nat.destroy();
    }
  }
);
