/**
 * The oracle (tests/oracle/) proven before it judges anything: it opens every published ESP
 * vector we hold (draft-mcgrew-gcm-test-01 §4: AES-GCM with and without ESN and AES-GMAC;
 * RFC 3602 §4 Cases #5–#8: AES-CBC), its HMACs match RFC 2202 / RFC 4868 and its GMAC the
 * draft's tag; and every check fires on exactly the fault it names — a flipped bit, a wrong ESN
 * high half, bad or non-minimal padding, a wrong Next Header, a bad IPv4 / TCP / UDP checksum, a
 * wrong length, sequence number 0, mutable versus immutable AH fields (RFC 4302 §3.3.3.1), a
 * segment out of order or with the wrong flags, and a leaked plaintext window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { verifyAh, type AhSa } from './oracle/ah.ts';
import {
  be32,
  concat,
  describeMismatch,
  onesSum,
  toHex,
  u32,
  type Checked,
} from './oracle/bytes.ts';
import {
  cbcDecrypt,
  cbcEncrypt,
  gcmSeal,
  gmacTag,
  hmacIcv,
  type OracleEncryption,
} from './oracle/crypto.ts';
import { openEsp, type EspSa } from './oracle/esp.ts';
import { checkFrame, pseudoHeader } from './oracle/frame.ts';
import { findPlaintextRuns, firstRepeatedWindow, noisePayload } from './oracle/leak.ts';
import {
  checkLsoFrames,
  expectedIpId,
  type LsoExpectation,
  type TcpTemplate,
} from './oracle/lso.ts';
import { CASES as MCGREW } from './vectors/mcgrew-gcm.ts';
import { ESP as RFC3602_ESP, RAW as RFC3602_RAW } from './vectors/rfc3602.ts';
import { RFC2202_MD5, RFC2202_SHA1, RFC4868_AUTH } from './vectors/hmac.ts';

/** Asserts a failed check on exactly `field` (prefix match for indexed fields). */
function assertFails<T>(r: Checked<T>, field: string, what: string): void {
  if (r.ok) assert.fail(`${what}: expected a failure on ${field}, but the oracle accepted it`);
  assert.ok(r.field.startsWith(field), `${what}: expected ${field}, got ${describeMismatch(r)}`);
}

function assertOk<T>(r: Checked<T>, what: string): T {
  if (!r.ok) assert.fail(`${what}: ${describeMismatch(r)}`);
  return r.value;
}

test('the oracle imports only @noble/ciphers, @noble/hashes and itself (no src/, no receiver)', () => {
  // Compiled to dist/tests/; the sources sit in tests/oracle/ under the project root.
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const dir = join(root, 'tests', 'oracle');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length >= 7, `found the oracle sources: ${files.join(', ')}`);
  for (const f of files) {
    const text = readFileSync(join(dir, f), 'utf8');
    for (const m of text.matchAll(/^(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)) {
      const spec = m[1];
      assert.ok(
        /^\.\/[a-z-]+\.ts$/.test(spec) || /^@noble\/(ciphers|hashes)\//.test(spec),
        `tests/oracle/${f} imports ${spec}`
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// Published vectors.
// ---------------------------------------------------------------------------------------------

function gcmName(keyLength: number): OracleEncryption {
  return keyLength === 16 ? 'aes-gcm-128' : keyLength === 24 ? 'aes-gcm-192' : 'aes-gcm-256';
}

function mcgrewSa(c: (typeof MCGREW)[number]): EspSa {
  const esn = c.seq.length === 8;
  const salt = c.nonce.subarray(0, 4);
  const keyMaterial = concat(c.key, salt);
  if (c.algorithm === 'AES-GMAC-ESP') {
    return {
      protocol: 'esp',
      spi: u32(c.spi, 0),
      encryption: 'null',
      encryptionKey: new Uint8Array(0),
      integrity: 'aes-gmac-128',
      integrityKey: keyMaterial,
      icvLength: 16,
      esn,
      seqHigh: esn ? u32(c.seq, 0) : 0,
    };
  }
  return {
    protocol: 'esp',
    spi: u32(c.spi, 0),
    encryption: gcmName(c.key.length),
    encryptionKey: keyMaterial,
    integrity: 'none',
    integrityKey: new Uint8Array(0),
    icvLength: 16,
    esn,
    seqHigh: esn ? u32(c.seq, 0) : 0,
  };
}

test('draft-mcgrew-gcm-test-01 §4: the oracle opens all 17 ESP packets (GCM with and without ESN, GMAC)', () => {
  assert.equal(MCGREW.length, 17);
  for (const c of MCGREW) {
    const sa = mcgrewSa(c);
    const opened = assertOk(openEsp(c.packet, sa, { trailer: 'skip' }), c.name);
    assert.equal(toHex(opened.iv), toHex(c.nonce.subarray(4)), `${c.name}: IV`);
    if (c.algorithm === 'AES-GCM-ESP') {
      assert.equal(toHex(opened.plaintext, 1e6), toHex(c.plaintext, 1e6), `${c.name}: plaintext`);
    } else {
      assert.equal(
        toHex(opened.plaintext, 1e6),
        toHex(c.packet.subarray(16, c.packet.length - 16), 1e6),
        `${c.name}: GMAC leaves the payload in clear`
      );
      // The GMAC primitive alone reproduces the draft's tag from its AAD.
      assert.equal(
        toHex(gmacTag(sa.integrityKey, c.nonce.subarray(4), c.aad)),
        toHex(c.packet.subarray(c.packet.length - 16))
      );
    }
    // Every case's trailer is default padding 1, 2, … and minimal (the README's "inconsistent
    // trailers" are Next Header values and inner checksums, which this test does not judge).
    assertOk(openEsp(c.packet, sa, { trailer: 'strict' }), `${c.name} (strict trailer)`);
  }
});

test('draft-mcgrew-gcm-test-01 §4: every flipped bit and every wrong ESN high half fails the ICV', () => {
  for (const c of MCGREW) {
    const sa = mcgrewSa(c);
    for (let i = 0; i < c.packet.length; i++) {
      const bad = c.packet.slice();
      bad[i] ^= 1 << (i % 8);
      // A flipped SPI byte is caught as the wrong SPI; a low half flipped to 0 as sequence 0.
      const r = openEsp(bad, sa, { trailer: 'skip' });
      if (r.ok) assert.fail(`${c.name}: bit flip at byte ${i} accepted`);
      if (i >= 8) assert.equal(r.field, 'esp.icv', `${c.name}: byte ${i}: ${describeMismatch(r)}`);
      if (i < 4) assert.equal(r.field, 'esp.spi');
    }
    if (sa.esn) {
      assertFails(
        openEsp(c.packet, { ...sa, seqHigh: (sa.seqHigh + 1) >>> 0 }, { trailer: 'skip' }),
        'esp.icv',
        `${c.name} high + 1`
      );
      assertFails(
        openEsp(c.packet, { ...sa, esn: false }, { trailer: 'skip' }),
        'esp',
        `${c.name} without ESN`
      );
    } else {
      assertFails(
        openEsp(c.packet, { ...sa, esn: true, seqHigh: 1 }, { trailer: 'skip' }),
        'esp.icv',
        `${c.name} with ESN`
      );
    }
  }
});

test('RFC 3602 §4: raw AES-CBC Cases #1–#4 and ESP Cases #5–#8 open with a strict trailer', () => {
  for (const c of RFC3602_RAW) {
    assert.equal(
      toHex(cbcDecrypt(c.key, c.iv, c.ciphertext), 1e6),
      toHex(c.plaintext, 1e6),
      c.name
    );
    assert.equal(
      toHex(cbcEncrypt(c.key, c.iv, c.plaintext), 1e6),
      toHex(c.ciphertext, 1e6),
      c.name
    );
  }
  for (const c of RFC3602_ESP) {
    const sa: EspSa = {
      protocol: 'esp',
      spi: c.spi,
      encryption: 'aes-cbc-128',
      encryptionKey: c.key,
      integrity: 'none',
      integrityKey: new Uint8Array(0),
      icvLength: 0,
      esn: false,
      seqHigh: 0,
    };
    const opened = assertOk(openEsp(c.packet, sa, { nextHeader: c.nextHeader }), c.name);
    assert.equal(opened.seqLow, c.seq);
    assert.equal(toHex(opened.iv), toHex(c.iv));
    assert.equal(toHex(opened.payload, 1e6), toHex(c.payload, 1e6), c.name);
    assertFails(openEsp(c.packet, sa, { nextHeader: 6 }), 'esp.nextHeader', c.name);
    assertFails(openEsp(c.packet, { ...sa, spi: c.spi + 1 }), 'esp.spi', c.name);
  }
});

test('RFC 2202 / RFC 4868: the oracle HMAC-MD5-96, HMAC-SHA1-96, HMAC-SHA-256-128 match the published values', () => {
  const md5 = RFC2202_MD5.find((c) => c.name.endsWith('(96)'))!;
  const s1 = RFC2202_SHA1.find((c) => c.name.endsWith('(96)'))!;
  assert.equal(toHex(hmacIcv('hmac-md5-96', md5.key, md5.data)), toHex(md5.mac));
  assert.equal(toHex(hmacIcv('hmac-sha1-96', s1.key, s1.data)), toHex(s1.mac));
  const auth256 = RFC4868_AUTH.filter((c) => c.integrity === 'hmac-sha256-128');
  assert.equal(auth256.length, 4);
  for (const c of auth256)
    assert.equal(toHex(hmacIcv('hmac-sha256-128', c.key, c.data)), toHex(c.mac), c.name);
});

// ---------------------------------------------------------------------------------------------
// Hand-built frames (constructed field by field from the RFC pictures, not with the oracle).
// ---------------------------------------------------------------------------------------------

const SRC4 = new Uint8Array([192, 0, 2, 1]);
const DST4 = new Uint8Array([198, 51, 100, 7]);
const SRC6 = Uint8Array.from({ length: 16 }, (_, i) =>
  i === 0 ? 0x20 : i === 1 ? 0x01 : i === 2 ? 0x0d : i === 3 ? 0xb8 : i
);
const DST6 = Uint8Array.from({ length: 16 }, (_, i) => (i < 4 ? SRC6[i] : 0x80 + i));
const KEY_GCM = Uint8Array.from({ length: 20 }, (_, i) => 0x40 + i);
const KEY_CBC = Uint8Array.from({ length: 16 }, (_, i) => 0x10 + i);
const KEY_SHA1 = Uint8Array.from({ length: 20 }, (_, i) => 0xa0 + i);

interface SegmentFields {
  readonly seq: number;
  readonly flags: number;
  readonly payload: Uint8Array;
}

const TCP: TcpTemplate = {
  srcPort: 49152,
  dstPort: 443,
  seq: 0x1000_0000,
  ack: 0x2000_0000,
  flags: 0x019, // ACK | PSH | FIN
  window: 0xfff0,
  urgent: 0,
  options: new Uint8Array([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]), // NOP NOP Timestamps
};

/** A TCP segment with a correct checksum for the given addresses (RFC 793 §3.1). */
function tcpSegment(
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array,
  f: SegmentFields
): Uint8Array {
  const h = new Uint8Array(20 + TCP.options.length);
  h.set([TCP.srcPort >> 8, TCP.srcPort & 0xff, TCP.dstPort >> 8, TCP.dstPort & 0xff], 0);
  h.set(be32(f.seq), 4);
  h.set(be32(TCP.ack), 8);
  h[12] = (h.length / 4) << 4;
  h[13] = f.flags;
  h.set([TCP.window >> 8, TCP.window & 0xff], 14);
  h.set(TCP.options, 20);
  const seg = concat(h, f.payload);
  const c = ~onesSum(pseudoHeader({ version, src, dst }, 6, seg.length), seg) & 0xffff;
  seg[16] = c >> 8;
  seg[17] = c & 0xff;
  return seg;
}

/** Payload ‖ padding 1..n ‖ pad length ‖ next header, minimal for `align` unless `extra` is given. */
function trailer(payload: Uint8Array, align: number, nextHeader: number, extra = 0): Uint8Array {
  const pad = ((align - ((payload.length + 2) % align)) % align) + extra;
  return concat(
    payload,
    Uint8Array.from({ length: pad }, (_, k) => k + 1),
    new Uint8Array([pad, nextHeader])
  );
}

/** ESP with AES-GCM-128 (RFC 4106): IV = the 64-bit sequence number. */
function espGcm(
  spi: number,
  high: number,
  low: number,
  esn: boolean,
  inner: Uint8Array
): Uint8Array {
  const iv = concat(be32(esn ? high : 0), be32(low));
  const aad = esn ? concat(be32(spi), be32(high), be32(low)) : concat(be32(spi), be32(low));
  const salt = KEY_GCM.subarray(16);
  const sealed = gcm(KEY_GCM.subarray(0, 16), concat(salt, iv), aad).encrypt(inner);
  return concat(be32(spi), be32(low), iv, sealed);
}

/** ESP with AES-CBC-128 + HMAC-SHA1-96 (RFC 3602, RFC 2404, RFC 4303 §2.2.1 for ESN). */
function espCbc(
  spi: number,
  high: number,
  low: number,
  esn: boolean,
  inner: Uint8Array
): Uint8Array {
  const iv = Uint8Array.from({ length: 16 }, (_, i) => (low + i * 7) & 0xff);
  const head = concat(be32(spi), be32(low), iv, cbcEncrypt(KEY_CBC, iv, inner));
  const mac = hmac(sha1, KEY_SHA1, esn ? concat(head, be32(high)) : head).subarray(0, 12);
  return concat(head, mac);
}

/** An Ethernet + IPv4 frame around `payload` with a correct header checksum. */
function ipv4Frame(
  protocol: number,
  payload: Uint8Array,
  id = 0x1234,
  ttl = 64,
  tos = 0
): Uint8Array {
  const ip = new Uint8Array(20);
  ip.set(
    [
      0x45,
      tos,
      (20 + payload.length) >> 8,
      (20 + payload.length) & 0xff,
      id >> 8,
      id & 0xff,
      0x40,
      0,
      ttl,
      protocol,
    ],
    0
  );
  ip.set(SRC4, 12);
  ip.set(DST4, 16);
  const c = ~onesSum(ip) & 0xffff;
  ip[10] = c >> 8;
  ip[11] = c & 0xff;
  return concat(new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]), ip, payload);
}

/** An Ethernet + IPv6 frame around `payload`. */
function ipv6Frame(nextHeader: number, payload: Uint8Array, hopLimit = 64): Uint8Array {
  const ip = new Uint8Array(40);
  ip.set(be32(0x6000_0000 | (0x28 << 20) | 0x12345), 0);
  ip.set([payload.length >> 8, payload.length & 0xff, nextHeader, hopLimit], 4);
  ip.set(SRC6, 8);
  ip.set(DST6, 24);
  return concat(new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]), ip, payload);
}

const GCM_SA: EspSa = {
  protocol: 'esp',
  spi: 0x0a0b0c0d,
  encryption: 'aes-gcm-128',
  encryptionKey: KEY_GCM,
  integrity: 'none',
  integrityKey: new Uint8Array(0),
  icvLength: 16,
  esn: false,
  seqHigh: 0,
};

const CBC_SA: EspSa = {
  protocol: 'esp',
  spi: 0x01020304,
  encryption: 'aes-cbc-128',
  encryptionKey: KEY_CBC,
  integrity: 'hmac-sha1-96',
  integrityKey: KEY_SHA1,
  icvLength: 12,
  esn: false,
  seqHigh: 0,
};

const DATA = Uint8Array.from({ length: 100 }, (_, i) => (i * 37 + 11) & 0xff);

test('a hand-built IPv4 ESP-GCM and IPv6 ESP-CBC-HMAC frame pass and report their fields', () => {
  const seg4 = tcpSegment(4, SRC4, DST4, { seq: 77, flags: 0x018, payload: DATA });
  const f4 = ipv4Frame(50, espGcm(GCM_SA.spi, 0, 5, false, trailer(seg4, 4, 6)), 0xbeef, 63, 0x20);
  const v4 = assertOk(checkFrame(f4, GCM_SA), 'IPv4 GCM');
  assert.equal(v4.ip.id, 0xbeef);
  assert.equal(v4.ip.ttl, 63);
  assert.equal(v4.ip.tos, 0x20);
  assert.equal(v4.ip.dontFragment, true);
  assert.equal(v4.ipsec.seqLow, 5);
  assert.equal(v4.ipsec.headerOffset, 20);
  assert.equal(v4.tcp.seq, 77);
  assert.equal(v4.tcp.flags, 0x018);
  assert.equal(toHex(v4.tcp.options), toHex(TCP.options));
  assert.equal(toHex(v4.tcp.payload, 1e6), toHex(DATA, 1e6));

  const seg6 = tcpSegment(6, SRC6, DST6, { seq: 0xfffffff0, flags: 0x010, payload: DATA });
  const f6 = ipv6Frame(50, espCbc(CBC_SA.spi, 0, 9, false, trailer(seg6, 16, 6)));
  const v6 = assertOk(checkFrame(f6, CBC_SA), 'IPv6 CBC');
  assert.equal(v6.ip.version, 6);
  assert.equal(v6.ip.tos, 0x28);
  assert.equal(v6.ip.flowLabel, 0x12345);
  assert.equal(v6.tcp.seq, 0xfffffff0);
  assert.equal(toHex(v6.tcp.payload, 1e6), toHex(DATA, 1e6));
});

test('each frame check fires on exactly its fault: checksums, lengths, padding, next header, sequence 0, keys', () => {
  const seg = tcpSegment(4, SRC4, DST4, { seq: 1, flags: 0x010, payload: DATA });
  const good = ipv4Frame(50, espGcm(GCM_SA.spi, 0, 5, false, trailer(seg, 4, 6)));
  assertOk(checkFrame(good, GCM_SA), 'good');

  const badIpSum = good.slice();
  badIpSum[14 + 10] ^= 0x01;
  assertFails(checkFrame(badIpSum, GCM_SA), 'ipv4.checksum', 'IPv4 checksum');

  const longer = concat(good, new Uint8Array(4));
  assertFails(checkFrame(longer, GCM_SA), 'ipv4.totalLength', 'bytes after Total Length');

  const segBad = seg.slice();
  segBad[16] ^= 0x80;
  assertFails(
    checkFrame(ipv4Frame(50, espGcm(GCM_SA.spi, 0, 5, false, trailer(segBad, 4, 6))), GCM_SA),
    'tcp.checksum',
    'TCP checksum'
  );

  // A TCP checksum computed with protocol 50 (the outer protocol) instead of 6 is wrong (D13).
  const seg50 = seg.slice();
  seg50[16] = 0;
  seg50[17] = 0;
  const c50 =
    ~onesSum(pseudoHeader({ version: 4, src: SRC4, dst: DST4 }, 50, seg50.length), seg50) & 0xffff;
  seg50[16] = c50 >> 8;
  seg50[17] = c50 & 0xff;
  assertFails(
    checkFrame(ipv4Frame(50, espGcm(GCM_SA.spi, 0, 5, false, trailer(seg50, 4, 6))), GCM_SA),
    'tcp.checksum',
    'protocol 50 in the pseudo-header'
  );

  assertFails(
    checkFrame(ipv4Frame(50, espGcm(GCM_SA.spi, 0, 5, false, trailer(seg, 4, 6, 4))), GCM_SA),
    'esp.padLength',
    'non-minimal padding'
  );
  const wrongPad = trailer(seg, 4, 6, 4);
  wrongPad[seg.length] = 0;
  assertFails(
    checkFrame(ipv4Frame(50, espGcm(GCM_SA.spi, 0, 5, false, wrongPad)), GCM_SA),
    'esp.padding[0]',
    'padding byte'
  );
  assertFails(
    checkFrame(ipv4Frame(50, espGcm(GCM_SA.spi, 0, 5, false, trailer(seg, 4, 17))), GCM_SA),
    'esp.nextHeader',
    'next header 17'
  );
  assertFails(
    checkFrame(ipv4Frame(50, espGcm(GCM_SA.spi, 0, 0, false, trailer(seg, 4, 6))), GCM_SA),
    'esp.seq',
    'sequence 0'
  );
  assertFails(
    checkFrame(ipv4Frame(51, espGcm(GCM_SA.spi, 0, 5, false, trailer(seg, 4, 6))), GCM_SA),
    'ip.protocol',
    'AH protocol for ESP'
  );

  // CBC: non-minimal padding (16 more) and a wrong integrity or encryption key.
  const cbcGood = ipv4Frame(50, espCbc(CBC_SA.spi, 0, 3, false, trailer(seg, 16, 6)));
  assertOk(checkFrame(cbcGood, CBC_SA), 'CBC good');
  assertFails(
    checkFrame(ipv4Frame(50, espCbc(CBC_SA.spi, 0, 3, false, trailer(seg, 16, 6, 16))), CBC_SA),
    'esp.padLength',
    'CBC padding 16 too long'
  );
  const wrongAuth = { ...CBC_SA, integrityKey: KEY_SHA1.map((b, i) => (i === 0 ? b ^ 1 : b)) };
  assertFails(checkFrame(cbcGood, wrongAuth), 'esp.icv', 'wrong HMAC key');
  const wrongEnc = { ...CBC_SA, encryptionKey: KEY_CBC.map((b, i) => (i === 0 ? b ^ 1 : b)) };
  assert.equal(
    checkFrame(cbcGood, wrongEnc).ok,
    false,
    'wrong AES key must not yield a valid segment'
  );
  const wrongGcm = { ...GCM_SA, encryptionKey: KEY_GCM.map((b, i) => (i === 19 ? b ^ 1 : b)) };
  assertFails(checkFrame(good, wrongGcm), 'esp.icv', 'wrong GCM salt');

  // ESN: the high half enters the CBC-HMAC ICV (RFC 4303 §2.2.1) and the GCM AAD (RFC 4106 §5).
  const esnCbc = ipv4Frame(50, espCbc(CBC_SA.spi, 7, 0, true, trailer(seg, 16, 6)));
  assertOk(checkFrame(esnCbc, { ...CBC_SA, esn: true, seqHigh: 7 }), 'ESN CBC, low half 0');
  assertFails(
    checkFrame(esnCbc, { ...CBC_SA, esn: true, seqHigh: 6 }),
    'esp.icv',
    'ESN CBC, wrong high'
  );
  const esnGcm = ipv4Frame(50, espGcm(GCM_SA.spi, 7, 1, true, trailer(seg, 4, 6)));
  assertOk(checkFrame(esnGcm, { ...GCM_SA, esn: true, seqHigh: 7 }), 'ESN GCM');
  assertFails(
    checkFrame(esnGcm, { ...GCM_SA, esn: true, seqHigh: 8 }),
    'esp.icv',
    'ESN GCM, wrong high'
  );

  // IPv6 Payload Length; UDP-ESP over IPv4 (checksum 0) and IPv6 (checksum required).
  const seg6 = tcpSegment(6, SRC6, DST6, { seq: 1, flags: 0x010, payload: DATA });
  const f6 = ipv6Frame(50, espGcm(GCM_SA.spi, 0, 5, false, trailer(seg6, 4, 6)));
  assertOk(checkFrame(f6, GCM_SA), 'IPv6');
  const f6bad = f6.slice();
  f6bad[14 + 5] ^= 0x04;
  assertFails(checkFrame(f6bad, GCM_SA), 'ipv6.payloadLength', 'IPv6 payload length');
  assertFails(
    checkFrame(f6, GCM_SA, { udpEncapsulation: true }),
    'ip.protocol',
    'UDP-ESP expected'
  );

  const esp4 = espGcm(GCM_SA.spi, 0, 5, false, trailer(seg, 4, 6));
  const udp4 = concat(
    new Uint8Array([
      0x11,
      0x94,
      0x11,
      0x94,
      (8 + esp4.length) >> 8,
      (8 + esp4.length) & 0xff,
      0,
      0,
    ]),
    esp4
  );
  assertOk(checkFrame(ipv4Frame(17, udp4), GCM_SA, { udpEncapsulation: true }), 'UDP-ESP IPv4');
  const udp4sum = udp4.slice();
  udp4sum[7] = 1;
  assertFails(
    checkFrame(ipv4Frame(17, udp4sum), GCM_SA, { udpEncapsulation: true }),
    'udp.checksum',
    'UDP checksum over IPv4 must be 0'
  );

  const esp6 = espGcm(GCM_SA.spi, 0, 5, false, trailer(seg6, 4, 6));
  const udp6 = concat(
    new Uint8Array([
      0x11,
      0x94,
      0x11,
      0x94,
      (8 + esp6.length) >> 8,
      (8 + esp6.length) & 0xff,
      0,
      0,
    ]),
    esp6
  );
  assertFails(
    checkFrame(ipv6Frame(17, udp6), GCM_SA, { udpEncapsulation: true }),
    'udp.checksum',
    'UDP checksum 0 over IPv6'
  );
  const c6 =
    ~onesSum(pseudoHeader({ version: 6, src: SRC6, dst: DST6 }, 17, udp6.length), udp6) & 0xffff;
  udp6[6] = c6 >> 8;
  udp6[7] = c6 & 0xff;
  assertOk(checkFrame(ipv6Frame(17, udp6), GCM_SA, { udpEncapsulation: true }), 'UDP-ESP IPv6');
});

// ---------------------------------------------------------------------------------------------
// AH: ICVs computed over packets built with the mutable fields already zero (no zeroing code).
// ---------------------------------------------------------------------------------------------

interface AhBuild {
  readonly version: 4 | 6;
  readonly integrity: 'hmac-sha1-96' | 'hmac-sha256-128' | 'aes-gmac-128';
  readonly esn: boolean;
  readonly high: number;
  readonly low: number;
}

const KEY_SHA256 = Uint8Array.from({ length: 32 }, (_, i) => 0x60 + i);

function ahSa(b: AhBuild): AhSa {
  const key =
    b.integrity === 'hmac-sha1-96'
      ? KEY_SHA1
      : b.integrity === 'hmac-sha256-128'
        ? KEY_SHA256
        : KEY_GCM;
  return {
    protocol: 'ah',
    spi: 0x00aa00bb,
    integrity: b.integrity,
    integrityKey: key,
    icvLength: b.integrity === 'hmac-sha1-96' ? 12 : 16,
    esn: b.esn,
    seqHigh: b.high,
  };
}

/** An AH-protected TCP packet (IPv4 or IPv6), returned as the IP packet. */
function ahPacket(b: AhBuild): Uint8Array {
  const sa = ahSa(b);
  const ivLength = b.integrity === 'aes-gmac-128' ? 8 : 0;
  const unit = b.version === 4 ? 4 : 8;
  const ahLength = Math.ceil((12 + ivLength + sa.icvLength) / unit) * unit;
  const src = b.version === 4 ? SRC4 : SRC6;
  const dst = b.version === 4 ? DST4 : DST6;
  const seg = tcpSegment(b.version, src, dst, { seq: 5, flags: 0x018, payload: DATA });
  const ah = new Uint8Array(ahLength);
  ah.set([6, ahLength / 4 - 2, 0, 0], 0);
  ah.set(be32(sa.spi), 4);
  ah.set(be32(b.low), 8);
  const iv = concat(be32(b.high), be32(b.low));
  if (ivLength > 0) ah.set(iv, 12);
  let ip: Uint8Array;
  if (b.version === 4) {
    // TOS, flags/offset, TTL and checksum left 0 for now: the ICV covers them as zeros.
    ip = new Uint8Array(20);
    const total = 20 + ah.length + seg.length;
    ip.set([0x45, 0, total >> 8, total & 0xff, 0x43, 0x21, 0, 0, 0, 51], 0);
    ip.set(SRC4, 12);
    ip.set(DST4, 16);
  } else {
    ip = new Uint8Array(40);
    ip[0] = 0x60; // traffic class, flow label and hop limit 0 for now
    ip.set([(ah.length + seg.length) >> 8, (ah.length + seg.length) & 0xff, 51, 0], 4);
    ip.set(SRC6, 8);
    ip.set(DST6, 24);
  }
  const covered = concat(ip, ah, seg, b.esn ? be32(b.high) : new Uint8Array(0));
  const icv =
    b.integrity === 'aes-gmac-128'
      ? gcm(KEY_GCM.subarray(0, 16), concat(KEY_GCM.subarray(16), iv), covered).encrypt(
          new Uint8Array(0)
        )
      : hmac(b.integrity === 'hmac-sha1-96' ? sha1 : sha256, sa.integrityKey, covered).subarray(
          0,
          sa.icvLength
        );
  ah.set(icv, 12 + ivLength);
  // Now the mutable fields get their in-transit values.
  if (b.version === 4) {
    ip[1] = 0xb8;
    ip[6] = 0x40;
    ip[8] = 61;
    const c = ~onesSum(ip) & 0xffff;
    ip[10] = c >> 8;
    ip[11] = c & 0xff;
  } else {
    ip.set(be32(0x6000_0000 | (0xb8 << 20) | 0xabcde), 0);
    ip[7] = 61;
  }
  return concat(ip, ah, seg);
}

test('AH (RFC 4302 §3.3.3.1): mutable fields do not enter the ICV, every immutable byte does; ESN high half appended', () => {
  const builds: AhBuild[] = [];
  for (const version of [4, 6] as const) {
    for (const integrity of ['hmac-sha1-96', 'hmac-sha256-128', 'aes-gmac-128'] as const) {
      builds.push({ version, integrity, esn: false, high: 0, low: 9 });
      builds.push({ version, integrity, esn: true, high: 3, low: 0 });
    }
  }
  for (const b of builds) {
    const what = `IPv${b.version} AH ${b.integrity}${b.esn ? ' ESN' : ''}`;
    const sa = ahSa(b);
    const packet = ahPacket(b);
    const base = b.version === 4 ? 20 : 40;
    const opened = assertOk(verifyAh(packet, b.version, base, sa, 6), what);
    assert.equal(opened.length % (b.version === 4 ? 4 : 8), 0);
    if (b.version === 6 && b.integrity === 'hmac-sha256-128')
      assert.equal(opened.length, 32, '12 + 16 + 4 padding over IPv6');
    // RFC 4302 §3.3.3.1.1.1 / §3.3.3.1.2.1: the mutable bytes.
    const mutable = b.version === 4 ? [1, 6, 7, 8, 10, 11] : [0, 1, 2, 3, 7];
    for (let i = 0; i < packet.length; i++) {
      const bad = packet.slice();
      // Keep the IP version nibble itself: flip the low bit (IPv4 IHL / IPv6 traffic class).
      bad[i] ^= i === 0 ? 0x01 : 0x80;
      const r = verifyAh(bad, b.version, base, sa, 6);
      if (mutable.includes(i)) {
        assertOk(r, `${what}: mutable byte ${i} changed`);
      } else {
        assert.equal(r.ok, false, `${what}: immutable byte ${i} changed but accepted`);
      }
    }
    if (b.esn) {
      assertFails(
        verifyAh(packet, b.version, base, { ...sa, seqHigh: b.high + 1 }),
        'ah.icv',
        `${what} wrong high`
      );
    } else {
      assertFails(
        verifyAh(packet, b.version, base, { ...sa, esn: true, seqHigh: 1 }),
        'ah.icv',
        `${what} with ESN`
      );
    }
    const frame =
      b.version === 4
        ? concat(new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00]), packet)
        : concat(new Uint8Array([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x86, 0xdd]), packet);
    const v = assertOk(checkFrame(frame, sa), `${what} as a frame`);
    assert.equal(toHex(v.tcp.payload, 1e6), toHex(DATA, 1e6));
  }
});

// ---------------------------------------------------------------------------------------------
// The LSO run checker and the leak search.
// ---------------------------------------------------------------------------------------------

/** A reference segmentation into ESP-GCM frames (what a correct NIC sends). */
function referenceRun(
  payload: Uint8Array,
  mss: number,
  firstSeq: bigint,
  esn: boolean,
  firstId: number,
  lsoVersion: 1 | 2,
  sealHigh: (seq: bigint) => number = (seq) => Number(seq >> 32n)
): Uint8Array[] {
  const n = Math.ceil(payload.length / mss);
  const frames: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const last = i === n - 1;
    const seg = tcpSegment(4, SRC4, DST4, {
      seq: (TCP.seq + i * mss) >>> 0,
      flags: last ? TCP.flags : TCP.flags & ~0x09,
      payload: payload.subarray(i * mss, (i + 1) * mss),
    });
    const seq = firstSeq + BigInt(i);
    const esp = espGcm(
      GCM_SA.spi,
      sealHigh(seq),
      Number(seq & 0xffffffffn),
      esn,
      trailer(seg, 4, 6)
    );
    frames.push(ipv4Frame(50, esp, expectedIpId(firstId, i, lsoVersion), 64, 0));
  }
  return frames;
}

function expectation(
  payload: Uint8Array,
  mss: number,
  firstSeq: bigint,
  esn: boolean,
  firstId: number,
  lsoVersion: 1 | 2
): LsoExpectation {
  return {
    sa: { ...GCM_SA, esn },
    ipVersion: 4,
    lsoVersion,
    src: SRC4,
    dst: DST4,
    ipId: firstId,
    ttl: 64,
    tos: 0,
    flowLabel: 0,
    dontFragment: true,
    tcp: TCP,
    payload,
    mss,
    mtu: 1500,
    firstSeq,
    ivIsSequence: true,
  };
}

test('the LSO run checker accepts a correct run (ESN wrap, ID wrap) and names the frame and field of each fault', () => {
  const payload = Uint8Array.from({ length: 5000 }, (_, i) => (i * 131 + (i >> 8)) & 0xff);
  const first = 0xffff_fffen | (4n << 32n);
  const good = referenceRun(payload, 1000, first, true, 0x7ffe, 2);
  const report = checkLsoFrames(good, expectation(payload, 1000, first, true, 0x7ffe, 2));
  assert.deepEqual(report.problems, []);
  assert.equal(toHex(report.reassembled, 1e6), toHex(payload, 1e6));
  assert.deepEqual(
    report.views.map((v) => v?.ip.id),
    [0x7ffe, 0x7fff, 0, 1, 2]
  );
  assert.deepEqual(
    report.views.map((v) => v?.ipsec.seqLow),
    [0xfffffffe, 0xffffffff, 0, 1, 2]
  );

  const swapped = [good[0], good[2], good[1], good[3], good[4]];
  const p1 = checkLsoFrames(swapped, expectation(payload, 1000, first, true, 0x7ffe, 2)).problems;
  assert.ok(
    p1.some((p) => p.startsWith('frame 1: ')),
    p1.join('\n')
  );

  // Frames sealed with the high half not advanced after the wrap fail the ICV from frame 2 on.
  const noAdvance = referenceRun(payload, 1000, first, true, 0x7ffe, 2, () => 4);
  const p2 = checkLsoFrames(noAdvance, expectation(payload, 1000, first, true, 0x7ffe, 2)).problems;
  assert.deepEqual(
    p2.map((p) => p.split(':').slice(0, 2).join(':')),
    ['frame 2: esp.icv', 'frame 3: esp.icv', 'frame 4: esp.icv', 'run: reassembly[2000]']
  );

  // Wrong IP ID arithmetic (LSOv1 16-bit) is caught under the LSOv2 rule.
  const v1ids = referenceRun(payload, 1000, 10n, false, 0x7ffe, 1);
  const p3 = checkLsoFrames(v1ids, expectation(payload, 1000, 10n, false, 0x7ffe, 2)).problems;
  assert.deepEqual(
    p3.map((p) => p.split(':').slice(0, 2).join(':')),
    ['frame 2: ipv4.id', 'frame 3: ipv4.id', 'frame 4: ipv4.id']
  );

  // One frame missing: count and reassembly.
  const p4 = checkLsoFrames(
    good.slice(0, 4),
    expectation(payload, 1000, first, true, 0x7ffe, 2)
  ).problems;
  assert.ok(
    p4.some((p) => p.startsWith('run: frames')),
    p4.join('\n')
  );
  assert.ok(
    p4.some((p) => p.startsWith('run: reassembly')),
    p4.join('\n')
  );

  // FIN/PSH on a middle segment.
  const finEverywhere = good.map((_, i) => {
    const seg = tcpSegment(4, SRC4, DST4, {
      seq: (TCP.seq + i * 1000) >>> 0,
      flags: TCP.flags,
      payload: payload.subarray(i * 1000, (i + 1) * 1000),
    });
    const seq = first + BigInt(i);
    return ipv4Frame(
      50,
      espGcm(GCM_SA.spi, Number(seq >> 32n), Number(seq & 0xffffffffn), true, trailer(seg, 4, 6)),
      expectedIpId(0x7ffe, i, 2)
    );
  });
  const p5 = checkLsoFrames(
    finEverywhere,
    expectation(payload, 1000, first, true, 0x7ffe, 2)
  ).problems;
  assert.deepEqual(
    p5.map((p) => p.split(':').slice(0, 2).join(':')),
    ['frame 0: tcp.flags', 'frame 1: tcp.flags', 'frame 2: tcp.flags', 'frame 3: tcp.flags']
  );
});

test('the leak search finds a planted 16-byte window and none in ciphertext; repeated windows are detected', () => {
  const plain = noisePayload(4096);
  assert.equal(firstRepeatedWindow(plain), -1);
  const frames = referenceRun(plain, 1000, 1n, false, 1, 1);
  assert.deepEqual(findPlaintextRuns(frames, plain), []);
  const planted = frames[2].slice();
  planted.set(plain.subarray(1234, 1250), 100);
  assert.deepEqual(findPlaintextRuns([frames[0], planted], plain), [
    { frame: 1, frameOffset: 100, plaintextOffset: 1234 },
  ]);
  const repeated = concat(plain.subarray(0, 40), plain.subarray(10, 26));
  assert.equal(firstRepeatedWindow(repeated), 40);
});

test('the oracle GCM helpers agree with each other (truncated ICVs are tag prefixes)', () => {
  const iv = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 9]);
  const aad = concat(be32(1), be32(9));
  const inner = trailer(DATA, 4, 6);
  const full = gcmSeal(KEY_GCM, iv, aad, inner, 16);
  for (const icvLength of [8, 12]) {
    const short = gcmSeal(KEY_GCM, iv, aad, inner, icvLength);
    assert.equal(toHex(short, 1e6), toHex(full.subarray(0, inner.length + icvLength), 1e6));
    const packet = concat(be32(1), be32(9), iv, short);
    const sa: EspSa = { ...GCM_SA, spi: 1, icvLength };
    assertOk(openEsp(packet, sa, { nextHeader: 6 }), `ICV ${icvLength}`);
    assertFails(openEsp(packet, { ...sa, icvLength: 16 }), 'esp', `ICV ${icvLength} read as 16`);
  }
});
