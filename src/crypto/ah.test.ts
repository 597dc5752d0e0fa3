/**
 * @module
 * Tests of the AH integrity transform (RFC 4302) and the shared HMAC helper: known answers from
 * RFC 2202 (HMAC-MD5, HMAC-SHA-1), RFC 4231 (HMAC-SHA-256/384/512, incl. the truncation of test
 * case 5) and RFC 4868 §2.7.2 (HMAC-SHA-256-128, -384-192, -512-256 as IPsec uses them); AES-GMAC
 * (RFC 4543 §4) checked against the GMAC of draft-mcgrew-gcm-test-01 and against @noble; ESN
 * (RFC 4302 §2.5.1) against @noble/hashes; tamper detection; creation errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { equalConstantTime, hmac, hmacInto } from './_hmac.ts';
import { createAuth, type AuthConfig } from './ah.ts';
import { INTEGRITY_NAMES, integrityInfo, type IntegrityName } from './names.ts';
import { nobleIcv } from '../../tests/noble-auth.ts';
import { concat, toHex } from '../../tests/vectors/bytes.ts';
import * as vectors from '../../tests/vectors/hmac.ts';
import * as mcgrew from '../../tests/vectors/mcgrew-gcm.ts';

test('RFC 2202 §2–§3: HMAC-MD5 and HMAC-SHA-1, full and -96', () => {
  for (const [hash, cases, integrity] of [
    ['md5', vectors.RFC2202_MD5, 'hmac-md5-96'],
    ['sha1', vectors.RFC2202_SHA1, 'hmac-sha1-96'],
  ] as const) {
    for (const c of cases) {
      assert.equal(toHex(hmac(hash, c.key, c.data, c.mac.length)), toHex(c.mac), c.name);
      // Where the key has the IPsec length (RFC 2403: 128 bits, RFC 2404: 160 bits), the AH
      // transform gives the leftmost 96 bits.
      if (c.key.length === integrityInfo(integrity).keyLength) {
        const t = createAuth({ integrity, key: c.key, esn: false });
        const out = new Uint8Array(12);
        t.compute(c.data, 0, null, out);
        assert.equal(toHex(out), toHex(c.mac.subarray(0, 12)), `${c.name} through AH`);
        assert.equal(t.verify(c.data, 0, null, c.mac.subarray(0, 12)), 'ok');
      }
    }
  }
});

test('RFC 4231 §4.2–§4.8: HMAC-SHA-256/384/512, test case 5 truncated to 128 bits', () => {
  for (const hash of ['sha256', 'sha384', 'sha512'] as const) {
    for (const c of vectors.RFC4231[hash]) {
      assert.equal(toHex(hmac(hash, c.key, c.data, c.mac.length)), toHex(c.mac), c.name);
      const out = new Uint8Array(c.mac.length);
      hmacInto(hash, c.key, [c.data.subarray(0, 3), c.data.subarray(3)], out);
      assert.equal(toHex(out), toHex(c.mac), `${c.name} in two parts`);
    }
  }
});

test('RFC 4868 §2.7.2: AUTH256/384/512 test cases through the AH transform', () => {
  assert.equal(vectors.RFC4868_AUTH.length, 12);
  for (const c of vectors.RFC4868_AUTH) {
    const hash =
      c.integrity === 'hmac-sha256-128'
        ? 'sha256'
        : c.integrity === 'hmac-sha384-192'
          ? 'sha384'
          : 'sha512';
    assert.equal(toHex(hmac(hash, c.key, c.data)), toHex(c.full), `${c.name} PRF`);
    const t = createAuth({ integrity: c.integrity, key: c.key, esn: false });
    assert.equal(t.icvLength, c.mac.length);
    const out = new Uint8Array(t.icvLength);
    t.compute(c.data, 0, null, out);
    assert.equal(toHex(out), toHex(c.mac), c.name);
    assert.equal(t.verify(c.data, 0, null, c.mac), 'ok', c.name);
  }
});

test('AES-GMAC: the AH transform gives the draft-mcgrew GMAC tag for the same key, nonce and AAD', () => {
  // RFC 4543 §4 uses the GMAC of §2 with nonce = salt ‖ IV (§3.2); only the AAD differs from ESP
  // (§3.3). Fed the ESP AAD of draft-mcgrew-gcm-test-01 §4 p.19, it must give that packet's tag.
  const c = mcgrew.CASES.find((x) => x.algorithm === 'AES-GMAC-ESP');
  assert.ok(c !== undefined);
  const t = createAuth({
    integrity: 'aes-gmac-128',
    key: concat(c.key, c.nonce.subarray(0, 4)),
    esn: false,
  });
  assert.equal(t.ivLength, 8);
  const out = new Uint8Array(16);
  t.compute(c.aad, 0, c.nonce.subarray(4), out);
  assert.equal(toHex(out), toHex(c.packet.subarray(c.packet.length - 16)));
});

for (const integrity of INTEGRITY_NAMES) {
  test(`${integrity}: AH ICV equals @noble's, with and without ESN; any bit flip fails`, () => {
    const info = integrityInfo(integrity);
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: info.keyLength, maxLength: info.keyLength }),
        fc.uint8Array({ maxLength: 1500 }),
        fc.uint8Array({ minLength: info.ivLength, maxLength: info.ivLength }),
        fc.boolean(),
        fc.integer({ min: 0, max: 0xffffffff }),
        fc.nat(),
        (key, data, ivBytes, esn, seqHigh, flip) => {
          const config: AuthConfig = { integrity, key, esn };
          const t = createAuth(config);
          const iv = info.ivLength === 0 ? null : ivBytes;
          const out = new Uint8Array(t.icvLength);
          t.compute(data, seqHigh, iv, out);
          assert.equal(toHex(out), toHex(nobleIcv(integrity, key, data, esn, seqHigh, ivBytes)));
          assert.equal(t.verify(data, seqHigh, iv, out), 'ok');
          // Flip one bit of data ‖ IV ‖ ICV.
          const all = concat(data, ivBytes, out);
          const bit = flip % (all.length * 8);
          all[bit >> 3] ^= 1 << (bit & 7);
          const d = all.subarray(0, data.length);
          const v = all.subarray(data.length, data.length + ivBytes.length);
          const icv = all.subarray(data.length + ivBytes.length);
          assert.equal(t.verify(d, seqHigh, iv === null ? null : v, icv), 'icv-mismatch');
          assert.equal(
            t.verify(data, (seqHigh ^ 0x80000000) >>> 0, iv, out),
            esn ? 'icv-mismatch' : 'ok'
          );
        }
      ),
      { numRuns: 30 }
    );
  });
}

test("verify: wrong ICV or IV length is 'bad-length', never a throw", () => {
  const h = createAuth({ integrity: 'hmac-sha256-128', key: new Uint8Array(32), esn: false });
  assert.equal(h.verify(new Uint8Array(20), 0, null, new Uint8Array(12)), 'bad-length');
  assert.equal(
    h.verify(new Uint8Array(20), 0, new Uint8Array(8), new Uint8Array(16)),
    'bad-length'
  );
  const g = createAuth({ integrity: 'aes-gmac-256', key: new Uint8Array(36), esn: true });
  assert.equal(g.verify(new Uint8Array(20), 0, null, new Uint8Array(16)), 'bad-length');
  assert.equal(
    g.verify(new Uint8Array(20), 0, new Uint8Array(7), new Uint8Array(16)),
    'bad-length'
  );
  assert.equal(
    g.verify(new Uint8Array(20), 0, new Uint8Array(8), new Uint8Array(15)),
    'bad-length'
  );
  assert.equal(
    g.verify(new Uint8Array(20), 0, new Uint8Array(8), new Uint8Array(16)),
    'icv-mismatch'
  );
});

test('compute misuse and destroy', () => {
  const g = createAuth({ integrity: 'aes-gmac-128', key: new Uint8Array(20), esn: true });
  assert.throws(
    () => {
      g.compute(new Uint8Array(4), 0, null, new Uint8Array(16));
    },
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'ah.compute: expected a 8-byte iv for aes-gmac-128, got 0 bytes'
  );
  assert.throws(
    () => {
      g.compute(new Uint8Array(4), 0, new Uint8Array(8), new Uint8Array(12));
    },
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'ah.compute: expected a 16-byte out for aes-gmac-128, got 12 bytes'
  );
  assert.throws(
    () => {
      g.compute(new Uint8Array(4), 2 ** 32, new Uint8Array(8), new Uint8Array(16));
    },
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'ah.compute: expected seqHigh as an integer 0 … 2^32 − 1, got 4294967296'
  );
  assert.throws(
    () => g.verify(new Uint8Array(4), -1, new Uint8Array(8), new Uint8Array(16)),
    RangeError
  );
  g.destroy();
  assert.throws(
    () => {
      g.compute(new Uint8Array(4), 0, new Uint8Array(8), new Uint8Array(16));
    },
    (e: unknown) =>
      e instanceof TypeError &&
      e.message === 'ah.compute: expected a live transform, got one ended by destroy()'
  );
  assert.throws(
    () => g.verify(new Uint8Array(4), 0, new Uint8Array(8), new Uint8Array(16)),
    TypeError
  );
});

const SECRET = new Uint8Array(64).map((_, i) => 0xb0 + (i % 16));

test('createAuth: wrong key length, ICV length, name; messages never show the key', () => {
  const cases: [AuthConfig, typeof TypeError | typeof RangeError, string][] = [
    [
      { integrity: 'hmac-sha1-96', key: SECRET.subarray(0, 16), esn: false },
      RangeError,
      'createAuth: expected a 20-byte key for hmac-sha1-96 (20-byte HMAC key), got 16 bytes',
    ],
    [
      { integrity: 'hmac-sha512-256', key: SECRET.subarray(0, 32), esn: false },
      RangeError,
      'createAuth: expected a 64-byte key for hmac-sha512-256 (64-byte HMAC key), got 32 bytes',
    ],
    [
      { integrity: 'aes-gmac-256', key: SECRET.subarray(0, 32), esn: false },
      RangeError,
      'createAuth: expected a 36-byte key for aes-gmac-256 (32-byte AES key ‖ 4-byte salt), got 32 bytes',
    ],
    [
      { integrity: 'hmac-md5-96', key: SECRET.subarray(0, 16), esn: false, icvLength: 16 },
      RangeError,
      'createAuth: expected icvLength 12 for hmac-md5-96, got 16',
    ],
    [
      { integrity: 'aes-gmac-128', key: SECRET.subarray(0, 20), esn: false, icvLength: 8 },
      RangeError,
      'createAuth: expected icvLength 16 for aes-gmac-128, got 8',
    ],
    [
      {
        integrity: 'hmac-sha256-128',
        key: SECRET.subarray(0, 32),
        esn: 'yes' as unknown as boolean,
      },
      TypeError,
      'createAuth: expected esn true or false, got yes',
    ],
  ];
  for (const [config, kind, message] of cases) {
    assert.throws(
      () => createAuth(config),
      (e: unknown) => {
        assert.ok(e instanceof kind);
        assert.equal(e.message, message);
        assert.ok(!e.message.includes(toHex(SECRET.subarray(0, 4))));
        return true;
      }
    );
  }
  assert.throws(
    () => createAuth({ integrity: 'hmac-sha2' as IntegrityName, key: SECRET, esn: false }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.startsWith('createAuth: expected an integrity name (hmac-md5-96,') &&
      e.message.endsWith('got "hmac-sha2"')
  );
});

test('equalConstantTime compares bytes and lengths', () => {
  assert.ok(equalConstantTime(new Uint8Array([1, 2]), new Uint8Array([1, 2])));
  assert.ok(!equalConstantTime(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  assert.ok(!equalConstantTime(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3])));
  assert.ok(equalConstantTime(new Uint8Array(0), new Uint8Array(0)));
  assert.throws(
    () => {
      hmacInto('md5', new Uint8Array(16), [], new Uint8Array(17));
    },
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'hmacInto: expected at most 16 output bytes for HMAC-md5, got 17'
  );
});
