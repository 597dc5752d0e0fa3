/**
 * @module
 * Tests of the AH integrity transform on the native engine (issue 6) against the node:crypto
 * engine (ah.ts): every AH integrity algorithm × ESN on and off × random keys, data (0–1500
 * bytes), sequence-number high halves and GMAC IVs, both engines compared byte for byte and with
 * @noble; each verifies the other's ICV. Known answers from RFC 2202 §2–§3, RFC 4868 §2.7.2 and
 * draft-mcgrew-gcm-test-01 §4 (the vectors of ah.test.ts); 'icv-mismatch' for a flip of every
 * bit position of every input region; 'bad-length'; the same errors; destroy. The native half
 * runs only when the addon loaded.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fc from 'fast-check';
import { createAuth, type AuthConfig } from './ah.ts';
import { activeEngine, nativeAddon } from './engine.ts';
import { createAuthOnEngine, createNativeAuth, nativeAuthAvailable } from './native-auth.ts';
import { INTEGRITY_NAMES, integrityInfo, type IntegrityName } from './names.ts';
import type { AuthTransform, OpenResult } from './transform.ts';
import { nobleIcv } from '../../tests/noble-auth.ts';
import { concat, toHex } from '../../tests/vectors/bytes.ts';
import * as vectors from '../../tests/vectors/hmac.ts';
import * as mcgrew from '../../tests/vectors/mcgrew-gcm.ts';

const SKIP: string | false = nativeAddon() === null ? 'issue #6: native addon not built' : false;

/** Both engines' ICV for the same call. */
function both(
  js: AuthTransform,
  nat: AuthTransform,
  data: Uint8Array,
  seqHigh: number,
  iv: Uint8Array | null
): [string, string] {
  const a = new Uint8Array(js.icvLength);
  const b = new Uint8Array(nat.icvLength);
  js.compute(data, seqHigh, iv, a);
  nat.compute(data, seqHigh, iv, b);
  return [toHex(a), toHex(b)];
}

/** What a call throws, as `Kind: message`, or 'returned …'. */
function outcome(call: () => unknown): string {
  try {
    return `returned ${String(call())}`;
  } catch (e) {
    return e instanceof Error ? `${e.constructor.name}: ${e.message}` : String(e);
  }
}

test('engine: createAuthOnEngine computes and verifies on whichever engine is active', () => {
  assert.equal(nativeAuthAvailable(), activeEngine() === 'native');
  const key = new Uint8Array(32).fill(0x0b);
  const t = createAuthOnEngine({ integrity: 'hmac-sha256-128', key, esn: false });
  const data = Uint8Array.from({ length: 100 }, (_, i) => i);
  const icv = new Uint8Array(16);
  t.compute(data, 0, null, icv);
  assert.equal(toHex(icv), toHex(nobleIcv('hmac-sha256-128', key, data, false, 0, null)));
  assert.equal(t.verify(data, 0, null, icv), 'ok');
  t.destroy();
});

test('native: without the addon createNativeAuth says so (IPSECOV2_ENGINE=js in a child process)', () => {
  const module = new URL('./native-auth.js', import.meta.url).href;
  const script = `import(${JSON.stringify(module)}).then((m) => {
    try { m.createNativeAuth({ integrity: 'hmac-sha1-96', key: new Uint8Array(20), esn: false }); }
    catch (e) { process.stdout.write(e.constructor.name + ': ' + e.message); }
  });`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
    env: { ...process.env, IPSECOV2_ENGINE: 'js' },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(
    r.stdout,
    'TypeError: createNativeAuth: expected the native engine loaded, got node:crypto'
  );
});

for (const integrity of INTEGRITY_NAMES) {
  test(
    `native ${integrity}: byte-identical to node:crypto and @noble, ESN on and off`,
    {
      skip: SKIP,
    },
    () => {
      const info = integrityInfo(integrity);
      fc.assert(
        fc.property(
          fc.uint8Array({ minLength: info.keyLength, maxLength: info.keyLength }),
          fc.uint8Array({ maxLength: 1500 }),
          fc.uint8Array({ minLength: info.ivLength, maxLength: info.ivLength }),
          fc.boolean(),
          fc.integer({ min: 0, max: 0xffffffff }),
          (key, data, ivBytes, esn, seqHigh) => {
            const config: AuthConfig = { integrity, key, esn };
            const js = createAuth(config);
            const nat = createNativeAuth(config);
            assert.deepEqual(
              [nat.integrity, nat.esn, nat.icvLength, nat.ivLength],
              [js.integrity, js.esn, js.icvLength, js.ivLength]
            );
            const iv = info.ivLength === 0 ? null : ivBytes;
            const [a, b] = both(js, nat, data, seqHigh, iv);
            assert.equal(b, a);
            assert.equal(b, toHex(nobleIcv(integrity, key, data, esn, seqHigh, iv)));
            const icv = Uint8Array.from(Buffer.from(b, 'hex'));
            assert.equal(nat.verify(data, seqHigh, iv, icv), 'ok', 'native verifies');
            assert.equal(js.verify(data, seqHigh, iv, icv), 'ok', 'node:crypto verifies native');
            // RFC 4302 §2.5.1: the high half is covered only with ESN.
            const other = (seqHigh ^ 0x00010000) >>> 0;
            const want: OpenResult = esn ? 'icv-mismatch' : 'ok';
            assert.equal(nat.verify(data, other, iv, icv), want);
            assert.equal(js.verify(data, other, iv, icv), want);
            js.destroy();
            nat.destroy();
          }
        ),
        { numRuns: 60 }
      );
    }
  );
}

test('native: RFC 2202 §2–§3 HMAC-MD5-96 and HMAC-SHA-1-96 known answers', { skip: SKIP }, () => {
  let checked = 0;
  for (const [cases, integrity] of [
    [vectors.RFC2202_MD5, 'hmac-md5-96'],
    [vectors.RFC2202_SHA1, 'hmac-sha1-96'],
  ] as const) {
    for (const c of cases) {
      // Only keys of the IPsec length (RFC 2403: 128 bits, RFC 2404: 160 bits) fit an AH SA.
      if (c.key.length !== integrityInfo(integrity).keyLength) continue;
      const t = createNativeAuth({ integrity, key: c.key, esn: false });
      const out = new Uint8Array(12);
      t.compute(c.data, 0, null, out);
      assert.equal(toHex(out), toHex(c.mac.subarray(0, 12)), c.name);
      assert.equal(t.verify(c.data, 0, null, c.mac.subarray(0, 12)), 'ok', c.name);
      t.destroy();
      checked++;
    }
  }
  assert.ok(checked >= 4, `expected RFC 2202 cases with IPsec key lengths, got ${checked}`);
});

test('native: RFC 4868 §2.7.2 AUTH256/384/512 known answers', { skip: SKIP }, () => {
  assert.equal(vectors.RFC4868_AUTH.length, 12);
  for (const c of vectors.RFC4868_AUTH) {
    const t = createNativeAuth({ integrity: c.integrity, key: c.key, esn: false });
    assert.equal(t.icvLength, c.mac.length);
    const out = new Uint8Array(t.icvLength);
    t.compute(c.data, 0, null, out);
    assert.equal(toHex(out), toHex(c.mac), c.name);
    assert.equal(t.verify(c.data, 0, null, c.mac), 'ok', c.name);
    t.destroy();
  }
});

test('native: AES-GMAC gives the draft-mcgrew-gcm-test-01 §4 p.19 GMAC tag', { skip: SKIP }, () => {
  // RFC 4543 §4 uses the GMAC of §2 with nonce = salt ‖ IV (§3.2); only the AAD differs from
  // ESP (§3.3). Fed the ESP AAD of the draft's GMAC packet, it must give that packet's tag.
  const c = mcgrew.CASES.find((x) => x.algorithm === 'AES-GMAC-ESP');
  assert.ok(c !== undefined);
  const t = createNativeAuth({
    integrity: 'aes-gmac-128',
    key: concat(c.key, c.nonce.subarray(0, 4)),
    esn: false,
  });
  const out = new Uint8Array(16);
  t.compute(c.aad, 0, c.nonce.subarray(4), out);
  assert.equal(toHex(out), toHex(c.packet.subarray(c.packet.length - 16)));
  assert.equal(t.verify(c.aad, 0, c.nonce.subarray(4), out), 'ok');
  t.destroy();
});

test(
  "native: a flip of any bit of data, IV, ICV or (ESN) seqHigh is 'icv-mismatch'",
  {
    skip: SKIP,
  },
  () => {
    for (const integrity of INTEGRITY_NAMES) {
      const info = integrityInfo(integrity);
      for (const esn of [false, true]) {
        const key = Uint8Array.from({ length: info.keyLength }, (_, i) => i * 7 + 3);
        const config: AuthConfig = { integrity, key, esn };
        const js = createAuth(config);
        const nat = createNativeAuth(config);
        const data = Uint8Array.from({ length: 200 }, (_, i) => (i * 29 + 1) & 0xff);
        const iv = info.ivLength === 0 ? null : Uint8Array.from({ length: 8 }, (_, i) => 0xa0 + i);
        const seqHigh = 0x12345678;
        const icv = new Uint8Array(nat.icvLength);
        nat.compute(data, seqHigh, iv, icv);
        const regions: [string, Uint8Array][] = [
          ['data', data],
          ['icv', icv],
        ];
        if (iv !== null) regions.push(['iv', iv]);
        for (const [name, region] of regions) {
          // Every bit of the first, a middle and the last byte of each region.
          for (const at of new Set([0, region.length >> 1, region.length - 1])) {
            for (let bit = 0; bit < 8; bit++) {
              region[at] ^= 1 << bit;
              const what = `${integrity} esn=${esn} ${name}[${at}] bit ${bit}`;
              assert.equal(nat.verify(data, seqHigh, iv, icv), 'icv-mismatch', what);
              assert.equal(js.verify(data, seqHigh, iv, icv), 'icv-mismatch', what);
              region[at] ^= 1 << bit;
            }
          }
        }
        for (let bit = 0; bit < 32; bit++) {
          const high = (seqHigh ^ (2 ** bit)) >>> 0;
          const want: OpenResult = esn ? 'icv-mismatch' : 'ok';
          assert.equal(nat.verify(data, high, iv, icv), want, `${integrity} seqHigh bit ${bit}`);
        }
        assert.equal(nat.verify(data, seqHigh, iv, icv), 'ok', `${integrity}: restored`);
        js.destroy();
        nat.destroy();
      }
    }
  }
);

test("native: wrong ICV or IV length is 'bad-length' as on node:crypto", { skip: SKIP }, () => {
  for (const integrity of INTEGRITY_NAMES) {
    const info = integrityInfo(integrity);
    const config: AuthConfig = {
      integrity,
      key: new Uint8Array(info.keyLength).fill(5),
      esn: true,
    };
    const js = createAuth(config);
    const nat = createNativeAuth(config);
    const data = new Uint8Array(40).fill(1);
    const n = info.icvLength;
    const ivs = [null, new Uint8Array(0), new Uint8Array(7), new Uint8Array(8), new Uint8Array(9)];
    const icvs = [
      new Uint8Array(0),
      new Uint8Array(n - 1),
      new Uint8Array(n),
      new Uint8Array(n + 1),
    ];
    let bad = 0;
    for (const iv of ivs) {
      for (const icv of icvs) {
        const want = js.verify(data, 0, iv, icv);
        const what = `${integrity} iv ${iv === null ? 'null' : iv.length} icv ${icv.length}`;
        assert.equal(nat.verify(data, 0, iv, icv), want, what);
        if (want === 'bad-length') bad++;
        else assert.equal(want, 'icv-mismatch', what);
      }
    }
    // Only the right IV length (0 as null or empty for HMAC, 8 for GMAC) with the right ICV.
    assert.equal(bad, ivs.length * icvs.length - (info.ivLength === 0 ? 2 : 1), integrity);
    js.destroy();
    nat.destroy();
  }
});

test('native: compute misuse throws the node:crypto engine errors', { skip: SKIP }, () => {
  for (const integrity of ['hmac-sha1-96', 'aes-gmac-192'] as const) {
    const info = integrityInfo(integrity);
    const config: AuthConfig = { integrity, key: new Uint8Array(info.keyLength), esn: false };
    const engines = [createAuth(config), createNativeAuth(config)];
    const n = info.icvLength;
    const iv = info.ivLength === 0 ? null : new Uint8Array(8);
    const data = new Uint8Array(4);
    // [seqHigh, iv, out length] of compute calls that throw on both engines.
    const calls: [number, Uint8Array | null, number][] = [
      [0, iv, n + 1],
      [0, new Uint8Array(3), n],
      [0, iv === null ? new Uint8Array(8) : null, n],
      [2 ** 32, iv, n],
      [1.5, iv, n],
    ];
    for (const [high, v, length] of calls) {
      const [a, b] = engines.map((t) =>
        outcome(() => {
          t.compute(data, high, v, new Uint8Array(length));
        })
      );
      assert.match(a, /^RangeError: ah\.compute: expected /);
      assert.equal(b, a);
    }
    const [a, b] = engines.map((t) => outcome(() => t.verify(data, -1, iv, new Uint8Array(n))));
    assert.match(a, /^RangeError: ah\.verify: expected seqHigh/);
    assert.equal(b, a);
    for (const t of engines) t.destroy();
  }
});

test('native: destroy, then compute and verify throw a TypeError', { skip: SKIP }, () => {
  for (const integrity of INTEGRITY_NAMES) {
    const info = integrityInfo(integrity);
    const t = createNativeAuth({ integrity, key: new Uint8Array(info.keyLength), esn: false });
    const iv = info.ivLength === 0 ? null : new Uint8Array(8);
    const out = new Uint8Array(t.icvLength);
    t.compute(new Uint8Array(10), 0, iv, out);
    t.destroy();
    t.destroy(); // a second destroy is harmless
    assert.throws(
      () => {
        t.compute(new Uint8Array(10), 0, iv, out);
      },
      (e: unknown) =>
        e instanceof TypeError &&
        e.message === 'ah.compute: expected a live transform, got one ended by destroy()'
    );
    assert.throws(
      () => t.verify(new Uint8Array(10), 0, iv, out),
      (e: unknown) =>
        e instanceof TypeError &&
        e.message === 'ah.verify: expected a live transform, got one ended by destroy()'
    );
  }
});

test(
  'native: createNativeAuth refuses what createAuth refuses, with its messages',
  {
    skip: SKIP,
  },
  () => {
    const secret = new Uint8Array(64).map((_, i) => 0xb0 + (i % 16));
    const configs: AuthConfig[] = [
      { integrity: 'hmac-sha1-96', key: secret.subarray(0, 16), esn: false },
      { integrity: 'aes-gmac-256', key: secret.subarray(0, 32), esn: true },
      { integrity: 'hmac-md5-96', key: secret.subarray(0, 16), esn: false, icvLength: 16 },
      { integrity: 'aes-gmac-128', key: secret.subarray(0, 20), esn: false, icvLength: 8 },
      { integrity: 'hmac-sha256-128', key: secret.subarray(0, 32), esn: 1 as unknown as boolean },
      { integrity: 'hmac-sha2' as IntegrityName, key: secret, esn: false },
      { integrity: 'hmac-sha256-128', key: [1, 2] as unknown as Uint8Array, esn: false },
    ];
    for (const config of configs) {
      const want = outcome(() => createAuth(config));
      assert.match(want, /^(TypeError|RangeError): createAuth: expected /);
      assert.equal(
        outcome(() => createNativeAuth(config)),
        want
      );
    }
  }
);

test('native addon: AH and ESP SAs are not interchangeable', { skip: SKIP }, () => {
  const addon = nativeAddon()!;
  const ah = addon.authCreate(0, 'sha256', new Uint8Array(32), new Uint8Array(0), 16, false);
  const one = Uint32Array.of(0);
  assert.throws(
    () => {
      addon.seal(ah, new Uint8Array(64), one, Uint32Array.of(64), one, 1, false);
    },
    (e: unknown) =>
      e instanceof TypeError &&
      e.message === 'engine.seal: expected an ESP SA, got an AH SA from authCreate()'
  );
  const esp = addon.createSa(
    0,
    '',
    new Uint8Array(0),
    new Uint8Array(0),
    'sha1',
    new Uint8Array(20),
    12,
    0,
    1,
    4,
    false
  );
  assert.throws(
    () => {
      addon.authCompute(esp, new Uint8Array(4), 0, null, new Uint8Array(12));
    },
    (e: unknown) =>
      e instanceof TypeError &&
      e.message === 'engine.authCompute: expected an AH SA, got an ESP SA from createSa()'
  );
  assert.throws(() => {
    addon.authVerify(ah, new Uint16Array(4) as unknown as Uint8Array, 0, null, new Uint8Array(16));
  }, TypeError);
  assert.throws(
    () => addon.authCreate(1, 'aes-128-cbc', new Uint8Array(16), new Uint8Array(4), 16, false),
    (e: unknown) => e instanceof RangeError && e.message === 'engine.authCreate: not a GCM cipher'
  );
  addon.destroySa(ah);
  addon.destroySa(esp);
});
