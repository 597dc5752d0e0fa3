/**
 * The decoder's parts: the replay tracker (repeats, the window, 64-bit numbers), defect kinds,
 * times and header lines, keys.json into a Keyring (errors name the JSON path), and the Keyring's
 * ESN estimate over several wraps of the low half and its lookup by SPI and destination.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createEsp } from '../crypto/esp.ts';
import { Keyring } from '../sim/keyring.ts';
import * as esp from '../wire/esp.ts';
import { UsageError } from './command.ts';
import { defectKind, formatNanos, frameHeader, frameJson, summaryText } from './decode-core.ts';
import { keyringFromJson } from './decode-keys.ts';
import { ReplayTracker } from './decode-replay.ts';

test('ReplayTracker: a repeated number is a replay of its first frame, per SA', () => {
  const t = new ReplayTracker(0);
  assert.equal(t.check('esp:1:c0000201', 1n, 1), null);
  assert.equal(t.check('esp:1:c0000201', 2n, 2), null);
  assert.equal(t.check('esp:1:c0000201', 1n, 3), 'replay of #1');
  assert.equal(t.check('esp:1:c0000201', 1n, 4), 'replay of #1');
  assert.equal(t.check('esp:1:c0000202', 1n, 5), null, 'another destination, another SA');
  assert.equal(t.check('ah:1:c0000201', 1n, 6), null, 'another protocol, another SA');
  assert.equal(t.check('esp:1:c0000201', 1000n, 7), null, 'window 0: no "too old"');
  assert.equal(t.check('esp:1:c0000201', 3n, 8), null);
});

test('ReplayTracker: with window W, a new number W or more behind the highest is too old', () => {
  const t = new ReplayTracker(4);
  for (let s = 1; s <= 10; s++) assert.equal(t.check('sa', BigInt(s), s), null);
  assert.equal(t.check('sa', 20n, 11), null);
  assert.equal(t.check('sa', 17n, 12), null, '3 behind: inside the window');
  assert.equal(t.check('sa', 16n, 13), 'too old for window 4 (highest 20 at #11)');
  assert.equal(t.check('sa', 16n, 14), 'replay of #13');
  assert.equal(t.check('sa', 5n, 15), 'replay of #5');
});

test('ReplayTracker: 64-bit numbers past 2^53 stay exact', () => {
  const t = new ReplayTracker(64);
  const big = (1n << 60n) + 1n;
  assert.equal(t.check('sa', big, 1), null);
  assert.equal(t.check('sa', big + 1n, 2), null);
  assert.equal(t.check('sa', big, 3), 'replay of #1');
});

test('defectKind groups defects for the summary', () => {
  assert.equal(defectKind('truncated at 37'), 'truncated');
  assert.equal(defectKind('replay of #12'), 'replay');
  assert.equal(defectKind('too old for window 64 (highest 90 at #88)'), 'too old');
  assert.equal(defectKind('icv mismatch'), 'icv mismatch');
  assert.equal(defectKind('bad version 5 at 14'), 'bad version');
  assert.equal(defectKind('checksum incorrect'), 'checksum incorrect');
});

test('times, header lines, JSON lines and the summary', () => {
  assert.equal(formatNanos(0n), '0.000000000');
  assert.equal(formatNanos(1_234_567_891n), '1.234567891');
  const frame = {
    number: 3,
    relativeNanos: 120_000n,
    length: 60,
    originalLength: 1514,
    direction: 'in' as const,
    lines: [{ depth: 0, layer: 'eth', text: '60 bytes', defects: ['truncated at 60'] }],
  };
  assert.equal(frameHeader(frame), '#3 0.000120000 60 bytes (of 1514) in');
  const json = JSON.parse(frameJson(frame)) as Record<string, unknown>;
  assert.deepEqual(json['defects'], ['eth: truncated at 60']);
  assert.equal(json['time'], '0.000120000');
  const text = summaryText({
    frames: 10,
    reported: 4,
    framesWithDefects: 1,
    esp: { decrypted: 3, failed: 1, noKey: 0 },
    ah: { verified: 0, failed: 0, noKey: 0 },
    defects: { 'icv mismatch': 1 },
  });
  assert.match(text, /^summary: 10 frames \(4 reported\), 1 with defects\n/);
  assert.match(text, /defects: icv mismatch 1\n$/);
});

const ENTRY = {
  name: 'sa',
  direction: 'a->b',
  spi: '0x00001001',
  protocol: 'esp',
  mode: 'transport',
  src: '192.0.2.1',
  dst: '192.0.2.2',
  encryption: 'aes-gcm-128',
  integrity: null,
  encryptionKey: '11'.repeat(20),
  integrityKey: null,
  icvLength: 16,
  esn: true,
  udpEncapsulation: null,
};

test('keys.json: good entries become a Keyring; bad JSON and bad fields are UsageErrors naming the path', () => {
  const { sas } = keyringFromJson(JSON.stringify({ sas: [ENTRY] }), 'k.json');
  assert.equal(sas, 1);
  assert.throws(
    () => keyringFromJson('{', 'k.json'),
    (e: unknown) => e instanceof UsageError && /^k\.json: expected JSON, found /.test(e.message)
  );
  assert.throws(
    () => keyringFromJson(JSON.stringify({ sas: [{ ...ENTRY, encryptionKey: 'abcd' }] }), 'k.json'),
    (e: unknown) =>
      e instanceof UsageError &&
      e.message ===
        'k.json: sas[0].encryptionKey: expected 20 bytes of hex for aes-gcm-128, found "abcd"'
  );
  assert.throws(
    () => keyringFromJson('[]', 'k.json'),
    (e: unknown) => e instanceof UsageError && /^k\.json: \(root\): expected /.test(e.message)
  );
});

/** An ESP packet (AES-GCM-128, ESN) sealed with the 64-bit sequence number `seq`. */
function sealed(key: Uint8Array, spi: number, seq: bigint): Uint8Array {
  const t = createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: key,
    esn: true,
  });
  const geometry = { ivLength: t.ivLength, icvLength: t.icvLength, padAlign: t.padAlign };
  const payload = new Uint8Array(24).fill(0x5a);
  const packet = new Uint8Array(esp.planEsp(payload.length, geometry).totalLength);
  const low = Number(seq & 0xffffffffn);
  esp.frameEsp(packet, { spi, sequenceNumber: low, nextHeader: 17, payload }, geometry);
  t.seal(packet, Number(seq >> 32n));
  return packet;
}

test('Keyring: the ESN high half follows the SA over several wraps, forwards and back, and lastSequence is the 64-bit number', () => {
  const key = new Uint8Array(20).fill(7);
  const keyring = new Keyring();
  keyring.add({
    protocol: 'esp',
    spi: 0x1001,
    encryption: 'aes-gcm-128',
    encryptionKey: key,
    esn: true,
    seqHigh: 5,
  });
  const H = 1n << 32n;
  // Past three wraps (the old fixed seqHigh/seqHigh+1 retry would fail from 7·2^32 on), then a
  // late packet from before the last wrap.
  const seqs = [5n * H + 1n, 5n * H + 0xfffffff0n, 6n * H + 3n, 6n * H + 0xffffff00n, 7n * H + 2n];
  for (const s of [...seqs, 8n * H + 9n, 7n * H + 0xfffffff8n]) {
    const opened = keyring.openEsp(sealed(key, 0x1001, s));
    assert.ok(opened?.ok, `seq ${s.toString(16)}`);
    assert.equal(keyring.lastSequence, s);
  }
  const forged = sealed(key, 0x1001, 9n * H + 1n);
  forged[forged.length - 1] ^= 1;
  assert.deepEqual(keyring.openEsp(forged), { ok: false, defect: 'icv mismatch' });
  assert.equal(keyring.lastSequence, 7n * H + 0xfffffff8n, 'unchanged by a failure');
});

test('Keyring: SAs sharing an SPI are told apart by destination; an unknown destination falls back to the first', () => {
  const k1 = new Uint8Array(20).fill(1);
  const k2 = new Uint8Array(20).fill(2);
  const sa = (encryptionKey: Uint8Array) =>
    ({
      protocol: 'esp',
      spi: 0x2001,
      encryption: 'aes-gcm-128',
      encryptionKey,
      esn: true,
    }) as const;
  const keyring = new Keyring();
  const d1 = Uint8Array.of(192, 0, 2, 1);
  const d2 = Uint8Array.of(192, 0, 2, 2);
  keyring.add(sa(k1), d1);
  keyring.add(sa(k2), d2);
  assert.ok(keyring.openEsp(sealed(k1, 0x2001, 1n), d1)?.ok);
  assert.ok(keyring.openEsp(sealed(k2, 0x2001, 1n), d2)?.ok);
  assert.ok(keyring.openEsp(sealed(k1, 0x2001, 2n), Uint8Array.of(203, 0, 113, 7))?.ok);
  assert.equal(keyring.openEsp(sealed(k1, 0x2002, 1n), d1), undefined);
});
