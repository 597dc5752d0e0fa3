/**
 * @module
 * Tests of the native batched ESP engine (issue 6) against the node:crypto engine: random SAs
 * (every algorithm esp.ts has, random keys, SPIs, sequence numbers, ESN on and off, GCM ICV
 * lengths) and random packets (payload 0–1500 bytes) are sealed by both engines and compared
 * byte for byte; each engine opens the other's packets; bit flips fail; batches in one buffer
 * match `sealMany`; errors match; `sealBatch` with checksum jobs equals the RFC 1071 checksum
 * (wire/checksum) written first, then an ordinary seal. The native half runs only when the addon
 * loaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeEngine, engineReason, nativeAddon } from './engine.ts';
import { createEsp, type EspConfig } from './esp.ts';
import {
  CHECKSUM_JOB_WORDS,
  NO_CHECKSUM,
  createEspOnEngine,
  createNativeEsp,
  nativeEspAvailable,
  type BatchEspTransform,
} from './native-esp.ts';
import * as checksum from '../wire/checksum.ts';
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

/** A batch of `count` random packets for `t` at random (odd too) offsets in one buffer. */
function batchOf(
  r: Random,
  t: EspTransform,
  count: number
): { buffer: Uint8Array; offsets: Uint32Array; lengths: Uint32Array; highs: Uint32Array } {
  const packets = Array.from({ length: count }, () => packet(r, t));
  const offsets = new Uint32Array(count);
  let at = 0;
  packets.forEach((p, k) => {
    at += uint(r, 9); // a gap of 0–8 bytes: any alignment
    offsets[k] = at;
    at += p.length;
  });
  const buffer = new Uint8Array(at + uint(r, 9));
  r.fill(buffer);
  packets.forEach((p, k) => {
    buffer.set(p, offsets[k]);
  });
  const lengths = Uint32Array.from(packets, (p) => p.length);
  const highs = Uint32Array.from(packets, () => uint(r, 0x7fffffff) * 2 + uint(r, 2));
  return { buffer, offsets, lengths, highs };
}

/** Random jobs inside each packet's body (about one in four packets has none). */
function jobsFor(
  r: Random,
  t: EspTransform,
  offsets: Uint32Array,
  lengths: Uint32Array
): Uint32Array {
  const jobs = new Uint32Array(offsets.length * CHECKSUM_JOB_WORDS);
  for (let k = 0; k < offsets.length; k++) {
    const j = k * CHECKSUM_JOB_WORDS;
    const bodyStart = offsets[k] + 8 + t.ivLength;
    const bodyLength = lengths[k] - 8 - t.ivLength - t.icvLength;
    if (uint(r, 4) === 0 || bodyLength < 2) {
      jobs[j + 2] = NO_CHECKSUM;
      continue;
    }
    const start = bodyStart + uint(r, bodyLength - 1); // at least 2 bytes before the body ends
    const end = start + 2 + uint(r, bodyStart + bodyLength - start - 1);
    jobs[j] = start;
    jobs[j + 1] = end;
    jobs[j + 2] = start + uint(r, end - start - 1);
    jobs[j + 3] = uint(r, 4) === 0 ? 0xffffffff : uint(r, 0x20000); // up to u32 max
  }
  return jobs;
}

/** wire/checksum's RFC 1071 checksum of each job, written big-endian at its field. */
function runJobs(buffer: Uint8Array, jobs: Uint32Array): void {
  for (let j = 0; j < jobs.length; j += CHECKSUM_JOB_WORDS) {
    if (jobs[j + 2] === NO_CHECKSUM) continue;
    const c = checksum.finish(checksum.sum16(buffer.subarray(jobs[j], jobs[j + 1]), jobs[j + 3]));
    buffer[jobs[j + 2]] = c >>> 8;
    buffer[jobs[j + 2] + 1] = c & 0xff;
  }
}

test(
  'native: sealBatch with checksum jobs = the RFC 1071 checksum (wire/checksum) written first, then the seal',
  { skip: SKIP },
  () => {
    const r = seededRandom(0x5eed);
    const cases = [
      ['aes-gcm-128', null],
      ['aes-cbc-128', 'hmac-sha1-96'],
      ['null', 'hmac-sha256-128'],
      ['chacha20-poly1305', null],
    ] as const;
    for (let round = 0; round < 40; round++) {
      const [e, i] = cases[round % cases.length];
      const cfg = config(r, e, i, round);
      const nat = createNativeEsp(cfg);
      const { buffer, offsets, lengths, highs } = batchOf(r, nat, 1 + uint(r, 12));
      const jobs = jobsFor(r, nat, offsets, lengths);
      const want = buffer.slice();
      runJobs(want, jobs);
      // With ivsWritten the CBC IVs already in the buffer are used: both sides agree.
      nat.sealBatch(want, offsets, lengths, highs, offsets.length, true);
      nat.sealBatch(buffer, offsets, lengths, highs, offsets.length, true, jobs);
      assert.equal(hex(buffer), hex(want), `round ${round} ${e}+${i ?? ''}`);
      nat.destroy();
    }
  }
);

test(
  'native: a checksum job lands in the clear before the seal (NULL + HMAC) and a NO_CHECKSUM packet is untouched',
  { skip: SKIP },
  () => {
    const nat = createNativeEsp({
      encryption: 'null',
      integrity: 'hmac-sha256-128',
      encryptionKey: new Uint8Array(0),
      integrityKey: new Uint8Array(32).fill(3),
      esn: false,
    });
    // Two packets: 8 + 44 (payload 42, pad 0, pad length, next header) + 16 bytes each.
    const length = 8 + 44 + 16;
    const buffer = new Uint8Array(2 * length + 1);
    for (let k = 0; k < buffer.length; k++) buffer[k] = (k * 37 + 1) & 0xff;
    const offsets = Uint32Array.of(1, 1 + length); // odd offsets
    const lengths = Uint32Array.of(length, length);
    const body = offsets[0] + 8;
    // Packet 0: a 41-byte range (odd) with the field at its start + 16, seed 0x12345.
    const jobs = Uint32Array.of(body, body + 41, body + 16, 0x12345, 0, 0, NO_CHECKSUM, 0);
    const region = buffer.slice(body, body + 41);
    const before = buffer.slice(offsets[1], offsets[1] + length - 16);
    nat.sealBatch(buffer, offsets, lengths, new Uint32Array(2), 2, false, jobs);
    const c = checksum.finish(checksum.sum16(region, 0x12345));
    assert.equal((buffer[body + 16] << 8) | buffer[body + 17], c, 'the checksum field');
    assert.notEqual(c, (region[16] << 8) | region[17], 'the field changed');
    region[16] = c >>> 8;
    region[17] = c & 0xff;
    assert.equal(hex(buffer.subarray(body, body + 41)), hex(region), 'nothing else in the range');
    assert.equal(hex(buffer.subarray(offsets[1], offsets[1] + length - 16)), hex(before));
    nat.destroy();
  }
);

test(
  'native: a checksum job outside its packet, a field outside its range or too few jobs → RangeError, nothing sealed',
  { skip: SKIP },
  () => {
    const nat: BatchEspTransform = createNativeEsp({
      encryption: 'aes-gcm-128',
      integrity: null,
      encryptionKey: new Uint8Array(20).fill(5),
      esn: false,
    });
    const length = 8 + 8 + 36 + 16;
    const buffer = new Uint8Array(2 * length).fill(0x5a);
    const offsets = Uint32Array.of(0, length);
    const lengths = Uint32Array.of(length, length);
    const highs = new Uint32Array(2);
    const bad: [string, Uint32Array][] = [
      [
        'start before the packet',
        Uint32Array.of(16, 40, 20, 0, length - 1, length + 20, length + 2, 0),
      ],
      [
        'end past the packet',
        Uint32Array.of(16, 40, 20, 0, length + 16, 2 * length + 1, length + 20, 0),
      ],
      ['field at end - 1', Uint32Array.of(16, 40, 39, 0, 0, 0, NO_CHECKSUM, 0)],
      ['field before start', Uint32Array.of(16, 40, 15, 0, 0, 0, NO_CHECKSUM, 0)],
      ['end before start', Uint32Array.of(40, 16, 20, 0, 0, 0, NO_CHECKSUM, 0)],
      ['one job for two packets', Uint32Array.of(16, 40, 20, 0)],
    ];
    for (const [what, jobs] of bad) {
      assert.throws(
        () => {
          nat.sealBatch(buffer, offsets, lengths, highs, 2, false, jobs);
        },
        (e: unknown) => e instanceof RangeError && /checksum job|jobs/.test(e.message),
        what
      );
      assert.ok(
        buffer.every((b) => b === 0x5a),
        `${what}: nothing written`
      );
    }
    nat.destroy();
  }
);
