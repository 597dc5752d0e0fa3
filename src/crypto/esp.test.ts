/**
 * @module
 * Tests of the ESP transform (RFC 4303): known answers from RFC 3602 §4, draft-mcgrew-gcm-test-01
 * §4 (RFC 4106 GCM, RFC 4543 GMAC), RFC 7634 Appendix A (ChaCha20-Poly1305), FIPS 81 (DES) and
 * NIST SP 800-67 (3DES); properties against packets built independently with @noble/ciphers,
 * @noble/hashes and the from-the-tables DES of tests/des-reference.ts; tamper detection; batch
 * calls; and every creation error.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { cbc, gcm } from '@noble/ciphers/aes.js';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256, sha384, sha512 } from '@noble/hashes/sha2.js';
import { cbcDecryptInPlace, cbcEncryptInPlace } from './_cbc.ts';
import { createEsp, type EspConfig } from './esp.ts';
import { encryptionInfo, integrityInfo, type EncryptionName, type IntegrityName } from './names.ts';
import { seededRandom } from './random.ts';
import type { EspTransform, OpenResult } from './transform.ts';
import { cbcEncrypt, desBlock, tdeaBlock } from '../../tests/des-reference.ts';
import { concat, toHex } from '../../tests/vectors/bytes.ts';
import * as des from '../../tests/vectors/des.ts';
import * as mcgrew from '../../tests/vectors/mcgrew-gcm.ts';
import * as rfc3602 from '../../tests/vectors/rfc3602.ts';
import * as rfc7634 from '../../tests/vectors/rfc7634.ts';

// ---------------------------------------------------------------------------------------------
// Framing helpers (the wire layer's job, redone here so the tests stand alone).

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** RFC 4303 §2.4: payload ‖ 1, 2, 3, … ‖ pad length ‖ next header, aligned to `padAlign`. */
function trailer(payload: Uint8Array, nextHeader: number, padAlign: number): Uint8Array {
  const pad = (padAlign - ((payload.length + 2) % padAlign)) % padAlign;
  const body = new Uint8Array(payload.length + pad + 2);
  body.set(payload);
  for (let i = 0; i < pad; i++) body[payload.length + i] = i + 1;
  body[body.length - 2] = pad;
  body[body.length - 1] = nextHeader;
  return body;
}

/** D1 framing: SPI ‖ seq ‖ zero IV ‖ body ‖ zero ICV. */
function frame(t: EspTransform, spi: number, seq: number, body: Uint8Array): Uint8Array {
  return concat(u32(spi), u32(seq), new Uint8Array(t.ivLength), body, new Uint8Array(t.icvLength));
}

function bodyOf(t: EspTransform, packet: Uint8Array): Uint8Array {
  return packet.subarray(8 + t.ivLength, packet.length - t.icvLength);
}

// ---------------------------------------------------------------------------------------------
// Known answers.

test('RFC 3602 §4 Cases #1–#4: raw AES-CBC-128 through the CBC cipher', () => {
  for (const c of rfc3602.RAW) {
    const data = new Uint8Array(c.plaintext);
    cbcEncryptInPlace('aes-128-cbc', c.key, c.iv, data);
    assert.equal(toHex(data), toHex(c.ciphertext), c.name);
    cbcDecryptInPlace('aes-128-cbc', c.key, c.iv, data);
    assert.deepEqual(data, c.plaintext, c.name);
  }
});

test('RFC 3602 §4 Cases #5–#8: seal with the given IV gives the ESP packet; open recovers it', () => {
  for (const c of rfc3602.ESP) {
    const t = createEsp({
      encryption: 'aes-cbc-128',
      integrity: null,
      encryptionKey: c.key,
      esn: false,
    });
    const body = trailer(c.payload, c.nextHeader, t.padAlign);
    const packet = frame(t, c.spi, c.seq, body);
    t.seal(packet, 0, c.iv);
    assert.equal(toHex(packet), toHex(c.packet), c.name);
    const received = new Uint8Array(c.packet);
    assert.equal(t.open(received, 0), 'ok', c.name);
    assert.deepEqual(bodyOf(t, received), body, c.name);
    assert.deepEqual(received.subarray(8, 24), c.iv, `${c.name}: the IV field is left as it was`);
  }
});

/** The SA and packet pieces of a draft-mcgrew case, per RFC 4106 §4/§8.1 and RFC 4543 §3.2. */
function mcgrewSa(c: mcgrew.McgrewCase): {
  t: EspTransform;
  seqHigh: number;
  seqLow: Uint8Array;
  iv: Uint8Array;
  body: Uint8Array;
} {
  const salt = c.nonce.subarray(0, 4);
  const keymat = concat(c.key, salt); // contract D5: key ‖ salt
  const esn = c.seq.length === 8;
  const aes = c.key.length * 8;
  const config: EspConfig =
    c.algorithm === 'AES-GCM-ESP'
      ? {
          encryption: `aes-gcm-${aes}` as EncryptionName,
          integrity: null,
          encryptionKey: keymat,
          esn,
        }
      : {
          encryption: 'null',
          integrity: `aes-gmac-${aes}` as IntegrityName,
          encryptionKey: new Uint8Array(0),
          integrityKey: keymat,
          esn,
        };
  const t = createEsp(config);
  const seqHigh = esn ? new DataView(c.seq.buffer, c.seq.byteOffset).getUint32(0) : 0;
  // GMAC encrypts nothing: the body is the packet between IV and ICV.
  const body =
    c.algorithm === 'AES-GCM-ESP' ? c.plaintext : c.packet.subarray(16, c.packet.length - 16);
  return { t, seqHigh, seqLow: c.seq.subarray(c.seq.length - 4), iv: c.nonce.subarray(4), body };
}

test('draft-mcgrew-gcm-test-01 §4: every AES-GCM and AES-GMAC ESP packet, sealed and opened', () => {
  assert.equal(mcgrew.CASES.length, 17);
  for (const c of mcgrew.CASES) {
    // The draft's AAD column is SPI ‖ seq (RFC 4106 §5) — or, for GMAC, SPI ‖ seq ‖ IV ‖ payload
    // (RFC 4543 §3.3): a check on the transcription and on the AAD rule this transform follows.
    const expectedAad =
      c.algorithm === 'AES-GCM-ESP'
        ? concat(c.spi, c.seq)
        : c.packet.subarray(0, c.packet.length - 16);
    assert.deepEqual(c.aad, expectedAad, `${c.name}: aad`);
    const { t, seqHigh, seqLow, iv, body } = mcgrewSa(c);
    assert.equal(t.icvLength, 16);
    const packet = concat(c.spi, seqLow, new Uint8Array(8), body, new Uint8Array(16));
    t.seal(packet, seqHigh, iv);
    assert.equal(toHex(packet), toHex(c.packet), c.name);
    const received = new Uint8Array(c.packet);
    assert.equal(t.open(received, seqHigh), 'ok', c.name);
    assert.deepEqual(bodyOf(t, received), body, c.name);
    if (t.esn) {
      // The high half is not on the wire: a wrong guess must fail (RFC 4303 Appendix A2).
      assert.equal(t.open(new Uint8Array(c.packet), (seqHigh + 1) >>> 0), 'icv-mismatch', c.name);
    }
  }
});

test('RFC 7634 Appendix A: the ChaCha20-Poly1305 ESP example, sealed byte for byte and opened', () => {
  const t = createEsp({
    encryption: 'chacha20-poly1305',
    integrity: null,
    encryptionKey: rfc7634.KEYMAT,
    esn: false,
  });
  const body = trailer(rfc7634.INNER, rfc7634.NEXT_HEADER, t.padAlign);
  assert.equal(body[body.length - 2], rfc7634.PAD_LENGTH);
  const expected = concat(u32(rfc7634.SPI), u32(rfc7634.SEQ), rfc7634.ESP_PAYLOAD);
  const packet = frame(t, rfc7634.SPI, rfc7634.SEQ, body);
  t.seal(packet, 0, rfc7634.ESP_PAYLOAD.subarray(0, 8));
  assert.equal(toHex(packet), toHex(expected));
  const received = new Uint8Array(expected);
  assert.equal(t.open(received, 0), 'ok');
  assert.deepEqual(bodyOf(t, received), body);
  // And an independent implementation opens the RFC's bytes the same way (RFC 7634 §2, §2.1).
  const nonce = concat(rfc7634.KEYMAT.subarray(32), rfc7634.ESP_PAYLOAD.subarray(0, 8));
  const aad = expected.subarray(0, 8);
  const opened = chacha20poly1305(rfc7634.KEYMAT.subarray(0, 32), nonce, aad).decrypt(
    rfc7634.ESP_PAYLOAD.subarray(8)
  );
  assert.deepEqual(opened, body);
});

test('FIPS 81 Appendix C: DES-CBC through ESP (DES as 3DES-EDE with K ‖ K ‖ K)', () => {
  const t = createEsp({
    encryption: 'des-cbc',
    integrity: null,
    encryptionKey: des.FIPS81_KEY,
    esn: false,
  });
  const packet = frame(t, 0x100, 1, des.FIPS81_PLAINTEXT);
  t.seal(packet, 0, des.FIPS81_IV);
  assert.equal(toHex(bodyOf(t, packet)), toHex(des.FIPS81_CBC));
  assert.equal(t.open(packet, 0), 'ok');
  assert.deepEqual(bodyOf(t, packet), des.FIPS81_PLAINTEXT);
});

test('NIST SP 800-67 Appendix B.1: 3DES through ESP, one block per packet with a zero IV (= ECB)', () => {
  const t = createEsp({
    encryption: '3des-cbc',
    integrity: null,
    encryptionKey: des.SP800_67_KEY,
    esn: false,
  });
  for (let block = 0; block < 3; block++) {
    const plain = des.SP800_67_PLAINTEXT.subarray(8 * block, 8 * block + 8);
    const packet = frame(t, 1, 1, plain);
    t.seal(packet, 0, new Uint8Array(8));
    assert.equal(
      toHex(bodyOf(t, packet)),
      toHex(des.SP800_67_ECB.subarray(8 * block, 8 * block + 8)),
      `block ${block + 1}`
    );
  }
});

test('the reference DES reproduces Grabbe, FIPS 81 and SP 800-67 (so it can judge node:crypto)', () => {
  assert.equal(toHex(desBlock(des.GRABBE.key, des.GRABBE.plaintext)), toHex(des.GRABBE.ciphertext));
  assert.equal(
    toHex(desBlock(des.GRABBE.key, des.GRABBE.ciphertext, true)),
    toHex(des.GRABBE.plaintext)
  );
  const ecb = (block: (b: Uint8Array) => Uint8Array, data: Uint8Array): string =>
    toHex(concat(...[0, 8, 16].map((at) => block(data.subarray(at, at + 8)))));
  assert.equal(
    ecb((b) => desBlock(des.FIPS81_KEY, b), des.FIPS81_PLAINTEXT),
    toHex(des.FIPS81_ECB)
  );
  assert.equal(
    toHex(cbcEncrypt((b) => desBlock(des.FIPS81_KEY, b), des.FIPS81_IV, des.FIPS81_PLAINTEXT)),
    toHex(des.FIPS81_CBC)
  );
  assert.equal(
    ecb((b) => tdeaBlock(des.SP800_67_KEY, b), des.SP800_67_PLAINTEXT),
    toHex(des.SP800_67_ECB)
  );
});

// ---------------------------------------------------------------------------------------------
// Default IVs (contract D6).

test('D6: GCM, ChaCha20 and GMAC IVs default to the 64-bit sequence number', () => {
  const configs: EspConfig[] = [
    { encryption: 'aes-gcm-128', integrity: null, encryptionKey: new Uint8Array(20), esn: true },
    {
      encryption: 'chacha20-poly1305',
      integrity: null,
      encryptionKey: new Uint8Array(36),
      esn: true,
    },
    {
      encryption: 'null',
      integrity: 'aes-gmac-256',
      encryptionKey: new Uint8Array(0),
      integrityKey: new Uint8Array(36),
      esn: true,
    },
  ];
  for (const config of configs) {
    for (const esn of [true, false]) {
      const t = createEsp({ ...config, esn });
      const packet = frame(t, 0x1001, 0x89abcdef, trailer(new Uint8Array(10), 6, 4));
      t.seal(packet, 0x01234567);
      // Without ESN the high half is 0 (RFC 4303 §2.2.1: 32-bit sequence numbers never cycle).
      assert.equal(toHex(packet.subarray(8, 16)), esn ? '0123456789abcdef' : '0000000089abcdef');
    }
  }
});

test('D6: CBC IVs come from the injected Random; none and no iv is a TypeError', () => {
  const key = new Uint8Array(16).fill(7);
  const t = createEsp({
    encryption: 'aes-cbc-128',
    integrity: null,
    encryptionKey: key,
    esn: false,
    random: seededRandom(99),
  });
  const packet = frame(t, 1, 1, trailer(new Uint8Array(30), 4, 16));
  t.seal(packet, 0);
  const expectedIv = new Uint8Array(16);
  seededRandom(99).fill(expectedIv);
  assert.deepEqual(packet.subarray(8, 24), expectedIv);
  const bare = createEsp({
    encryption: 'aes-cbc-128',
    integrity: null,
    encryptionKey: key,
    esn: false,
  });
  assert.throws(
    () => {
      bare.seal(frame(bare, 1, 1, trailer(new Uint8Array(30), 4, 16)), 0);
    },
    (e: unknown) =>
      e instanceof TypeError &&
      e.message === 'esp.seal: expected an iv (this aes-cbc-128 SA has no Random), got none'
  );
});

// ---------------------------------------------------------------------------------------------
// The independent oracle: ESP packets built with @noble/ciphers, @noble/hashes and des-reference.

type Hash = Parameters<typeof hmac>[0];
const HASH: Record<string, Hash> = {
  'hmac-md5-96': md5,
  'hmac-sha1-96': sha1,
  'hmac-sha256-128': sha256,
  'hmac-sha384-192': sha384,
  'hmac-sha512-256': sha512,
};

interface Combo {
  readonly encryption: EncryptionName;
  readonly integrity: IntegrityName | null;
  readonly icvLength?: number;
}

/** Builds the sealed packet from the framed plaintext packet (IV already in place), with noble. */
function oracleSeal(
  combo: Combo,
  encryptionKey: Uint8Array,
  integrityKey: Uint8Array,
  icvLength: number,
  esn: boolean,
  seqHigh: number,
  framed: Uint8Array,
  ivLength: number
): Uint8Array {
  const header = framed.subarray(0, 8);
  const iv = framed.subarray(8, 8 + ivLength);
  const body = framed.subarray(8 + ivLength, framed.length - icvLength);
  const hi = esn ? u32(seqHigh) : new Uint8Array(0);
  const spi = header.subarray(0, 4);
  const lo = header.subarray(4, 8);
  const enc = encryptionInfo(combo.encryption);
  if (enc.combined) {
    // RFC 4106 §4, §5; RFC 7634 §2, §2.1.
    const key = encryptionKey.subarray(0, enc.keyLength - 4);
    const nonce = concat(encryptionKey.subarray(enc.keyLength - 4), iv);
    const aad = concat(spi, hi, lo);
    const sealed =
      combo.encryption === 'chacha20-poly1305'
        ? chacha20poly1305(key, nonce, aad).encrypt(body)
        : gcm(key, nonce, aad).encrypt(body);
    // RFC 4106 §6: a shorter ICV is the leftmost bytes of the 16-byte tag.
    return concat(header, iv, sealed.subarray(0, body.length + icvLength));
  }
  if (combo.integrity !== null && integrityInfo(combo.integrity).saltLength > 0) {
    // RFC 4543 §3.3: AAD = SPI ‖ [seqHigh] ‖ seqLow ‖ IV ‖ body; empty plaintext.
    const info = integrityInfo(combo.integrity);
    const key = integrityKey.subarray(0, info.keyLength - 4);
    const nonce = concat(integrityKey.subarray(info.keyLength - 4), iv);
    const tag = gcm(key, nonce, concat(spi, hi, lo, iv, body)).encrypt(new Uint8Array(0));
    return concat(header, iv, body, tag);
  }
  let ciphertext = body;
  if (combo.encryption === 'des-cbc') {
    ciphertext = cbcEncrypt((b) => desBlock(encryptionKey, b), iv, body);
  } else if (combo.encryption === '3des-cbc') {
    ciphertext = cbcEncrypt((b) => tdeaBlock(encryptionKey, b), iv, body);
  } else if (combo.encryption !== 'null') {
    ciphertext = cbc(encryptionKey, iv, { disablePadding: true }).encrypt(body);
  }
  const covered = concat(header, iv, ciphertext);
  if (combo.integrity === null) return covered;
  // RFC 4303 §3.3.2.1 step 4: HMAC over SPI … Next Header ‖ [seqHigh], leftmost bytes.
  const mac = hmac(HASH[combo.integrity], integrityKey, concat(covered, hi)).subarray(0, icvLength);
  return concat(covered, mac);
}

const HMACS: IntegrityName[] = [
  'hmac-md5-96',
  'hmac-sha1-96',
  'hmac-sha256-128',
  'hmac-sha384-192',
  'hmac-sha512-256',
];
const COMBOS: Combo[] = [
  ...(['aes-cbc-128', 'aes-cbc-192', 'aes-cbc-256'] as const).flatMap((encryption) =>
    [null, ...HMACS].map((integrity): Combo => ({ encryption, integrity }))
  ),
  ...HMACS.map((integrity): Combo => ({ encryption: 'null', integrity })),
  ...(['aes-gcm-128', 'aes-gcm-192', 'aes-gcm-256'] as const).flatMap((encryption) =>
    [8, 12, 16].map((icvLength): Combo => ({ encryption, integrity: null, icvLength }))
  ),
  { encryption: 'chacha20-poly1305', integrity: null },
  { encryption: 'null', integrity: 'aes-gmac-128' },
  { encryption: 'null', integrity: 'aes-gmac-192' },
  { encryption: 'null', integrity: 'aes-gmac-256' },
];
// The reference DES is slow: fewer runs and short payloads.
const DES_COMBOS: Combo[] = [
  { encryption: 'des-cbc', integrity: null },
  { encryption: 'des-cbc', integrity: 'hmac-sha1-96' },
  { encryption: '3des-cbc', integrity: null },
  { encryption: '3des-cbc', integrity: 'hmac-sha256-128' },
];

function name(c: Combo): string {
  return `${c.encryption}+${c.integrity ?? 'none'}${c.icvLength === undefined ? '' : `/${c.icvLength}`}`;
}

const u32Arb = fc.integer({ min: 0, max: 0xffffffff });

function caseArb(combo: Combo, maxPayload: number) {
  const enc = encryptionInfo(combo.encryption);
  const integ = combo.integrity === null ? null : integrityInfo(combo.integrity);
  return fc.record({
    encryptionKey: fc.uint8Array({ minLength: enc.keyLength, maxLength: enc.keyLength }),
    integrityKey: fc.uint8Array({
      minLength: integ?.keyLength ?? 0,
      maxLength: integ?.keyLength ?? 0,
    }),
    spi: u32Arb,
    seqLow: u32Arb,
    seqHigh: u32Arb,
    esn: fc.boolean(),
    payload: fc.uint8Array({ maxLength: maxPayload }),
    nextHeader: fc.integer({ min: 0, max: 255 }),
    seed: fc.nat(),
    flip: fc.nat(),
  });
}

function checkAgainstOracle(combo: Combo, runs: number, maxPayload: number): void {
  fc.assert(
    fc.property(caseArb(combo, maxPayload), (c) => {
      const config: EspConfig = {
        encryption: combo.encryption,
        integrity: combo.integrity,
        encryptionKey: c.encryptionKey,
        ...(combo.integrity === null ? {} : { integrityKey: c.integrityKey }),
        ...(combo.icvLength === undefined ? {} : { icvLength: combo.icvLength }),
        esn: c.esn,
        random: seededRandom(c.seed),
      };
      const t = createEsp(config);
      const body = trailer(c.payload, c.nextHeader, t.padAlign);
      const framed = frame(t, c.spi, c.seqLow, body);
      const sealed = new Uint8Array(framed);
      t.seal(sealed, c.seqHigh);
      const enc = encryptionInfo(combo.encryption);
      if (enc.combined || combo.integrity?.startsWith('aes-gmac') === true) {
        // D6: the IV is the 64-bit sequence number (high half 0 without ESN).
        assert.deepEqual(sealed.subarray(8, 16), concat(u32(c.esn ? c.seqHigh : 0), u32(c.seqLow)));
      }
      framed.set(sealed.subarray(8, 8 + t.ivLength), 8); // take the IV the transform chose
      const expected = oracleSeal(
        combo,
        c.encryptionKey,
        c.integrityKey,
        t.icvLength,
        c.esn,
        c.seqHigh,
        framed,
        t.ivLength
      );
      assert.equal(toHex(sealed), toHex(expected), 'seal equals the independent packet');

      // open takes the oracle's packet back to the framed plaintext, IV and ICV untouched.
      const opened = new Uint8Array(expected);
      assert.equal(t.open(opened, c.seqHigh), 'ok');
      assert.deepEqual(bodyOf(t, opened), body);
      assert.deepEqual(opened.subarray(0, 8 + t.ivLength), expected.subarray(0, 8 + t.ivLength));
      assert.deepEqual(
        opened.subarray(opened.length - t.icvLength),
        expected.subarray(expected.length - t.icvLength)
      );

      if (t.icvLength > 0) {
        // One flipped bit anywhere from SPI to ICV must fail, and leave the packet as it was.
        const bit = c.flip % (expected.length * 8);
        const tampered = new Uint8Array(expected);
        tampered[bit >> 3] ^= 1 << (bit & 7);
        const copy = new Uint8Array(tampered);
        assert.equal(t.open(tampered, c.seqHigh), 'icv-mismatch', `bit ${bit} flipped`);
        assert.deepEqual(tampered, copy, 'a failed open writes nothing');
        // With ESN a wrong high half fails too; without ESN it is not an input at all.
        const other = (c.seqHigh ^ 1) >>> 0;
        assert.equal(t.open(new Uint8Array(expected), other), c.esn ? 'icv-mismatch' : 'ok');
      }
    }),
    { numRuns: runs }
  );
}

for (const combo of COMBOS) {
  test(`${name(combo)}: seal equals the @noble packet, open opens it, any bit flip fails`, () => {
    checkAgainstOracle(combo, 25, 1500);
  });
}

for (const combo of DES_COMBOS) {
  test(`${name(combo)}: seal equals the reference-DES packet, open opens it, any bit flip fails`, () => {
    checkAgainstOracle(combo, 8, 40);
  });
}

test('DES equals 3DES with the key K ‖ K ‖ K', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.uint8Array({ minLength: 8, maxLength: 8 }),
      fc.integer({ min: 1, max: 40 }),
      (k, iv, blocks) => {
        const body = new Uint8Array(8 * blocks).map((_, i) => (i * 37 + k[i % 8]) & 0xff);
        const single = createEsp({
          encryption: 'des-cbc',
          integrity: null,
          encryptionKey: k,
          esn: false,
        });
        const triple = createEsp({
          encryption: '3des-cbc',
          integrity: null,
          encryptionKey: concat(k, k, k),
          esn: false,
        });
        const a = frame(single, 1, 1, body);
        const b = frame(triple, 1, 1, body);
        single.seal(a, 0, iv);
        triple.seal(b, 0, iv);
        assert.deepEqual(a, b);
      }
    ),
    { numRuns: 50 }
  );
});

// ---------------------------------------------------------------------------------------------
// Batches, bad lengths, misuse.

test('sealMany and openMany equal one call per packet', () => {
  const configs: EspConfig[] = [
    {
      encryption: 'aes-gcm-256',
      integrity: null,
      encryptionKey: new Uint8Array(36).fill(3),
      esn: true,
    },
    {
      encryption: 'aes-cbc-128',
      integrity: 'hmac-sha256-128',
      encryptionKey: new Uint8Array(16).fill(1),
      integrityKey: new Uint8Array(32).fill(2),
      esn: true,
      random: seededRandom(5),
    },
  ];
  for (const config of configs) {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.uint8Array({ maxLength: 300 }), u32Arb, u32Arb), { maxLength: 12 }),
        (items) => {
          const one = createEsp({
            ...config,
            ...(config.random ? { random: seededRandom(5) } : {}),
          });
          const many = createEsp({
            ...config,
            ...(config.random ? { random: seededRandom(5) } : {}),
          });
          const singles = items.map(([p, lo]) => frame(one, 9, lo, trailer(p, 17, one.padAlign)));
          const batch = singles.map((p) => new Uint8Array(p));
          const highs = items.map(([, , hi]) => hi);
          singles.forEach((p, i) => {
            one.seal(p, highs[i]);
          });
          many.sealMany(batch, highs);
          assert.deepEqual(batch, singles);
          if (batch.length > 0) batch[0][0] ^= 0x80; // one bad packet in the batch
          const copies = batch.map((p) => new Uint8Array(p));
          const expected = copies.map((p, i) => one.open(p, highs[i]));
          const results: OpenResult[] = [];
          many.openMany(batch, highs, results);
          assert.deepEqual(results, expected);
          assert.deepEqual(batch, copies, 'openMany leaves the same bytes as open');
          if (results.length > 0) assert.equal(results[0], 'icv-mismatch');
          assert.ok(results.slice(1).every((r) => r === 'ok'));
        }
      ),
      { numRuns: 30 }
    );
  }
  const t = createEsp(configs[0]);
  assert.throws(
    () => {
      t.sealMany([new Uint8Array(40)], []);
    },
    (e: unknown) =>
      e instanceof RangeError && e.message === 'esp.sealMany: expected 1 seqHigh values, got 0'
  );
  assert.throws(
    () => {
      t.openMany([], [1], []);
    },
    (e: unknown) =>
      e instanceof RangeError && e.message === 'esp.openMany: expected 0 seqHigh values, got 1'
  );
});

test("open: 'bad-length' for short packets and partial cipher blocks; never a throw", () => {
  const cbcT = createEsp({
    encryption: 'aes-cbc-256',
    integrity: 'hmac-sha1-96',
    encryptionKey: new Uint8Array(32),
    integrityKey: new Uint8Array(20),
    esn: false,
  });
  assert.equal(cbcT.open(new Uint8Array(8 + 16 + 12 + 1), 0), 'bad-length'); // 1-byte body
  assert.equal(cbcT.open(new Uint8Array(8 + 16 + 17 + 12), 0), 'bad-length'); // not whole blocks
  assert.equal(cbcT.open(new Uint8Array(8 + 16 + 16 + 12), 0), 'icv-mismatch');
  const gcmT = createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: new Uint8Array(20),
    esn: false,
  });
  assert.equal(gcmT.open(new Uint8Array(8 + 8 + 16 + 1), 0), 'bad-length');
  assert.equal(gcmT.open(new Uint8Array(3), 0), 'bad-length');
  const transforms = [
    cbcT,
    gcmT,
    createEsp({
      encryption: 'des-cbc',
      integrity: null,
      encryptionKey: new Uint8Array(8),
      esn: true,
    }),
    createEsp({
      encryption: 'null',
      integrity: 'aes-gmac-128',
      encryptionKey: new Uint8Array(0),
      integrityKey: new Uint8Array(20),
      esn: true,
    }),
    createEsp({
      encryption: 'chacha20-poly1305',
      integrity: null,
      encryptionKey: new Uint8Array(36),
      esn: true,
    }),
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 200 }), u32Arb, (bytes, hi) => {
      for (const t of transforms) {
        assert.ok(['ok', 'icv-mismatch', 'bad-length'].includes(t.open(new Uint8Array(bytes), hi)));
      }
    })
  );
});

test('seal misuse: wrong length, wrong iv length, bad seqHigh, destroyed SA', () => {
  const t = createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: new Uint8Array(20),
    icvLength: 12,
    esn: true,
  });
  assert.equal(t.ivLength, 8);
  assert.equal(t.icvLength, 12);
  assert.equal(t.padAlign, 4);
  assert.throws(
    () => {
      t.seal(new Uint8Array(8 + 8 + 6 + 12), 0);
    },
    (e: unknown) =>
      e instanceof RangeError &&
      e.message ===
        'esp.seal: expected 8 + 8 (IV) + a positive multiple of 4 (payload through next header) + 12 (ICV) bytes, got 34'
  );
  assert.throws(
    () => {
      t.seal(new Uint8Array(8 + 8 + 8 + 12), 0, new Uint8Array(16));
    },
    (e: unknown) =>
      e instanceof RangeError &&
      e.message === 'esp.seal: expected a 8-byte iv for aes-gcm-128, got 16 bytes'
  );
  for (const bad of [-1, 2 ** 32, 1.5, Number.NaN]) {
    assert.throws(
      () => {
        t.seal(new Uint8Array(36), bad);
      },
      (e: unknown) =>
        e instanceof RangeError &&
        e.message === `esp.seal: expected seqHigh as an integer 0 … 2^32 − 1, got ${bad}`
    );
    assert.throws(() => t.open(new Uint8Array(36), bad), RangeError);
  }
  t.destroy();
  assert.throws(
    () => {
      t.seal(new Uint8Array(36), 0);
    },
    (e: unknown) =>
      e instanceof TypeError &&
      e.message === 'esp.seal: expected a live transform, got one ended by destroy()'
  );
  assert.throws(() => t.open(new Uint8Array(36), 0), TypeError);
});

test('the transform does not keep a reference to the caller’s key buffers', () => {
  const key = new Uint8Array(20).fill(9);
  const t = createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: key,
    esn: false,
  });
  const a = frame(t, 1, 1, trailer(new Uint8Array(5), 6, 4));
  const b = new Uint8Array(a);
  t.seal(a, 0);
  key.fill(0); // e.g. the caller wipes its copy after ADD_SA
  t.seal(b, 0);
  assert.deepEqual(a, b);
});

// ---------------------------------------------------------------------------------------------
// Creation errors: each names what was expected and what was found, and never shows a key.

const SECRET = new Uint8Array(64).map((_, i) => 0xa0 + (i % 16));

function rejects(
  config: EspConfig,
  kind: typeof TypeError | typeof RangeError,
  message: string
): void {
  assert.throws(
    () => createEsp(config),
    (e: unknown) => {
      assert.ok(e instanceof kind, `expected a ${kind.name}, got ${String(e)}`);
      assert.equal(e.message, message);
      assert.ok(!e.message.includes(toHex(SECRET.subarray(0, 4))), 'no key bytes in the message');
      return true;
    }
  );
}

test('createEsp: wrong key lengths', () => {
  rejects(
    {
      encryption: 'aes-gcm-128',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 16),
      esn: false,
    },
    RangeError,
    'createEsp: expected a 20-byte encryptionKey for aes-gcm-128 (16-byte AES key ‖ 4-byte salt), got 16 bytes'
  );
  rejects(
    {
      encryption: 'aes-gcm-256',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 32),
      esn: false,
    },
    RangeError,
    'createEsp: expected a 36-byte encryptionKey for aes-gcm-256 (32-byte AES key ‖ 4-byte salt), got 32 bytes'
  );
  rejects(
    {
      encryption: 'chacha20-poly1305',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 32),
      esn: false,
    },
    RangeError,
    'createEsp: expected a 36-byte encryptionKey for chacha20-poly1305 (32-byte ChaCha20 key ‖ 4-byte salt), got 32 bytes'
  );
  rejects(
    {
      encryption: 'aes-cbc-192',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 16),
      esn: false,
    },
    RangeError,
    'createEsp: expected a 24-byte encryptionKey for aes-cbc-192 (24-byte AES key), got 16 bytes'
  );
  rejects(
    { encryption: '3des-cbc', integrity: null, encryptionKey: SECRET.subarray(0, 16), esn: false },
    RangeError,
    'createEsp: expected a 24-byte encryptionKey for 3des-cbc (24-byte DES key), got 16 bytes'
  );
  rejects(
    { encryption: 'des-cbc', integrity: null, encryptionKey: SECRET.subarray(0, 7), esn: false },
    RangeError,
    'createEsp: expected a 8-byte encryptionKey for des-cbc (8-byte DES key), got 7 bytes'
  );
  rejects(
    {
      encryption: 'null',
      integrity: 'hmac-sha1-96',
      encryptionKey: SECRET.subarray(0, 16),
      integrityKey: SECRET.subarray(0, 20),
      esn: false,
    },
    RangeError,
    'createEsp: expected an empty encryptionKey for encryption null, got 16 bytes'
  );
  rejects(
    {
      encryption: 'aes-cbc-128',
      integrity: 'hmac-sha256-128',
      encryptionKey: SECRET.subarray(0, 16),
      integrityKey: SECRET.subarray(0, 20),
      esn: false,
    },
    RangeError,
    'createEsp: expected a 32-byte integrityKey for hmac-sha256-128 (32-byte HMAC key), got 20 bytes'
  );
  rejects(
    {
      encryption: 'null',
      integrity: 'aes-gmac-192',
      encryptionKey: new Uint8Array(0),
      integrityKey: SECRET.subarray(0, 24),
      esn: false,
    },
    RangeError,
    'createEsp: expected a 28-byte integrityKey for aes-gmac-192 (24-byte AES key ‖ 4-byte salt), got 24 bytes'
  );
  rejects(
    {
      encryption: 'aes-cbc-128',
      integrity: 'hmac-md5-96',
      encryptionKey: SECRET.subarray(0, 16),
      esn: false,
    },
    TypeError,
    'createEsp: expected an integrityKey (Uint8Array) for hmac-md5-96, got none'
  );
  rejects(
    {
      encryption: 'aes-cbc-128',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 16),
      integrityKey: SECRET.subarray(0, 16),
      esn: false,
    },
    TypeError,
    'createEsp: expected no integrityKey (integrity is null), got 16 bytes'
  );
});

test('createEsp: ICV lengths', () => {
  const gcm128 = {
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: SECRET.subarray(0, 20),
    esn: false,
  } as const;
  for (const icvLength of [8, 12, 16])
    assert.equal(createEsp({ ...gcm128, icvLength }).icvLength, icvLength);
  assert.equal(createEsp(gcm128).icvLength, 16); // RFC 4106 §6: absent means 16 (D5 maps 0 → 16 in ndis)
  rejects(
    { ...gcm128, icvLength: 4 },
    RangeError,
    'createEsp: expected icvLength 8 | 12 | 16 for aes-gcm-128, got 4'
  );
  rejects(
    {
      encryption: 'chacha20-poly1305',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 36),
      icvLength: 8,
      esn: false,
    },
    RangeError,
    'createEsp: expected icvLength 16 for chacha20-poly1305, got 8'
  );
  rejects(
    {
      encryption: 'aes-cbc-128',
      integrity: 'hmac-sha1-96',
      encryptionKey: SECRET.subarray(0, 16),
      integrityKey: SECRET.subarray(0, 20),
      icvLength: 20,
      esn: false,
    },
    RangeError,
    'createEsp: expected icvLength 12 for hmac-sha1-96, got 20'
  );
  rejects(
    {
      encryption: 'null',
      integrity: 'aes-gmac-128',
      encryptionKey: new Uint8Array(0),
      integrityKey: SECRET.subarray(0, 20),
      icvLength: 12,
      esn: false,
    },
    RangeError,
    'createEsp: expected icvLength 16 for aes-gmac-128, got 12'
  );
  rejects(
    {
      encryption: 'aes-cbc-128',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 16),
      icvLength: 12,
      esn: false,
    },
    RangeError,
    'createEsp: expected icvLength 0 for aes-cbc-128 without integrity, got 12'
  );
});

test('createEsp: combinations and names', () => {
  rejects(
    {
      encryption: 'aes-gcm-128',
      integrity: 'hmac-sha1-96',
      encryptionKey: SECRET.subarray(0, 20),
      integrityKey: SECRET.subarray(0, 20),
      esn: false,
    },
    TypeError,
    'createEsp: expected integrity null with the combined mode aes-gcm-128 (RFC 4106: the cipher makes the ICV), got hmac-sha1-96'
  );
  rejects(
    {
      encryption: 'chacha20-poly1305',
      integrity: 'aes-gmac-128',
      encryptionKey: SECRET.subarray(0, 36),
      integrityKey: SECRET.subarray(0, 20),
      esn: false,
    },
    TypeError,
    'createEsp: expected integrity null with the combined mode chacha20-poly1305 (RFC 7634: the cipher makes the ICV), got aes-gmac-128'
  );
  rejects(
    { encryption: 'null', integrity: null, encryptionKey: new Uint8Array(0), esn: false },
    TypeError,
    'createEsp: expected an integrity algorithm with encryption null (RFC 4303 §3.2: both MUST NOT be NULL), got integrity null'
  );
  rejects(
    {
      encryption: 'aes-cbc-128',
      integrity: 'aes-gmac-128',
      encryptionKey: SECRET.subarray(0, 16),
      integrityKey: SECRET.subarray(0, 20),
      esn: false,
    },
    TypeError,
    'createEsp: expected encryption null with aes-gmac-128 (RFC 4543 §3: ENCR_NULL_AUTH_AES_GMAC is a combined mode used with no other cipher), got aes-cbc-128'
  );
  assert.throws(
    () =>
      createEsp({
        encryption: 'aes-128-gcm' as EncryptionName,
        integrity: null,
        encryptionKey: SECRET,
        esn: false,
      }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.startsWith('createEsp: expected an encryption name (null, des-cbc,') &&
      e.message.endsWith('got "aes-128-gcm"')
  );
  assert.throws(
    () =>
      createEsp({
        encryption: 'null',
        integrity: 'sha1' as IntegrityName,
        encryptionKey: new Uint8Array(0),
        esn: false,
      }),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.includes('expected an integrity name') &&
      e.message.endsWith('got "sha1"')
  );
  assert.throws(
    () =>
      createEsp({
        encryption: 'aes-gcm-128',
        integrity: null,
        encryptionKey: SECRET.subarray(0, 20),
        esn: 1 as unknown as boolean,
      }),
    (e: unknown) =>
      e instanceof TypeError && e.message === 'createEsp: expected esn true or false, got 1'
  );
});

test('createEsp: valid combinations report their geometry', () => {
  const g = (config: EspConfig): string => {
    const t = createEsp(config);
    return `${t.ivLength}/${t.icvLength}/${t.padAlign}`;
  };
  assert.equal(
    g({
      encryption: 'aes-cbc-128',
      integrity: 'hmac-sha1-96',
      encryptionKey: SECRET.subarray(0, 16),
      integrityKey: SECRET.subarray(0, 20),
      esn: false,
    }),
    '16/12/16'
  );
  assert.equal(
    g({
      encryption: '3des-cbc',
      integrity: 'hmac-md5-96',
      encryptionKey: SECRET.subarray(0, 24),
      integrityKey: SECRET.subarray(0, 16),
      esn: false,
    }),
    '8/12/8'
  );
  assert.equal(
    g({
      encryption: 'null',
      integrity: 'hmac-sha512-256',
      encryptionKey: new Uint8Array(0),
      integrityKey: SECRET.subarray(0, 64),
      esn: false,
    }),
    '0/32/4'
  );
  assert.equal(
    g({
      encryption: 'null',
      integrity: 'aes-gmac-256',
      encryptionKey: new Uint8Array(0),
      integrityKey: SECRET.subarray(0, 36),
      esn: false,
    }),
    '8/16/4'
  );
  assert.equal(
    g({
      encryption: 'chacha20-poly1305',
      integrity: null,
      encryptionKey: SECRET.subarray(0, 36),
      esn: true,
    }),
    '8/16/4'
  );
});
