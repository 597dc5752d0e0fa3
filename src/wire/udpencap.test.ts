import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as udpencap from './udpencap.ts';
import * as udp from './udp.ts';
import * as esp from './esp.ts';
import * as checksum from './checksum.ts';
import { fromHex } from './bytes.ts';

/** Hex with `//` comments to the end of each line. */
const hex = (s: string): Uint8Array => fromHex(s.replace(/\/\/.*$/gm, ''));

const truncated = (offset: number) => ({
  ok: false,
  error: { layer: 'udpencap', reason: 'truncated', offset },
});

test('port 4500 (RFC 3948 §2.1)', () => {
  assert.equal(udpencap.PORT, 4500);
});

test('classify: ESP, IKE behind the non-ESP marker, keepalive (RFC 3948 §2.1–§2.3)', () => {
  // RFC 3602 §4 Case 5's ESP header, as it would follow the UDP header.
  const espPayload = hex(`
    00004321 00000001                     // SPI 0x4321, Sequence Number 1
    e96e8c08 ab465763 fd098d45 dd3ff893   // IV …
  `);
  assert.deepEqual(udpencap.classify(espPayload), { ok: true, value: 'esp' });
  const ike = hex(`
    00000000            // non-ESP marker
    0123456789abcdef    // IKE SA initiator's SPI …
    0000000000000000    // responder's SPI
    2e 20 22 08         // Next Payload SA, version 2.0, IKE_SA_INIT, flags
  `);
  assert.deepEqual(udpencap.classify(ike), { ok: true, value: 'ike' });
  assert.deepEqual(udpencap.classify(fromHex('00000000')), { ok: true, value: 'ike' });
  assert.deepEqual(udpencap.classify(fromHex('ff')), { ok: true, value: 'keepalive' });
});

test('classify: short payloads that are not a keepalive are truncated', () => {
  assert.deepEqual(udpencap.classify(fromHex('')), truncated(0));
  assert.deepEqual(udpencap.classify(fromHex('00')), truncated(1));
  assert.deepEqual(udpencap.classify(fromHex('fe')), truncated(1));
  assert.deepEqual(udpencap.classify(fromHex('ffff')), truncated(2));
  assert.deepEqual(udpencap.classify(fromHex('000000')), truncated(3));
});

test('classify of random payloads never throws and agrees with the first four bytes', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (payload) => {
      const r = udpencap.classify(payload);
      if (!r.ok) {
        assert.ok(payload.length < 4 && r.error.offset === payload.length);
        return;
      }
      if (r.value === 'keepalive') assert.deepEqual(payload, fromHex('ff'));
      else {
        const zero = payload.subarray(0, 4).every((b) => b === 0);
        assert.equal(r.value, zero ? 'ike' : 'esp');
        if (r.value === 'esp' && payload.length >= 8) assert.ok(esp.parse(payload).ok);
      }
    })
  );
});

test('frameKeepalive writes every byte: UDP 4500 → 4500, length 9, checksum 0, 0xFF', () => {
  for (const junk of [0xa5, 0x17]) {
    const out = new Uint8Array(12).fill(junk);
    assert.equal(udpencap.frameKeepalive(out), 9);
    assert.deepEqual(out.subarray(0, 9), fromHex('1194 1194 0009 0000 ff'));
    assert.ok(out.subarray(9).every((b) => b === junk));
  }
  const out = new Uint8Array(9);
  udpencap.frameKeepalive(out, 4500, 61000);
  const parsed = udp.parse(out);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.value.header, { srcPort: 4500, dstPort: 61000 });
  assert.deepEqual(udpencap.classify(parsed.value.payload), { ok: true, value: 'keepalive' });
  assert.throws(() => udpencap.frameKeepalive(new Uint8Array(8)), RangeError);
  assert.throws(() => udpencap.frameKeepalive(new Uint8Array(9), 70000), /srcPort/);
});

test('checksum: zero over IPv4 (RFC 3948 §2.1), computed over IPv6 (RFC 8200 §8.1, D14)', () => {
  assert.equal(udpencap.sendsChecksum(4), false);
  assert.equal(udpencap.sendsChecksum(6), true);
  const src4 = fromHex('c0000201');
  const dst4 = fromHex('c0000202');
  const v4 = new Uint8Array(9);
  udpencap.frameKeepalive(v4);
  assert.ok(udp.checksumValid(v4, checksum.pseudoHeaderV4(src4, dst4, 17, 9), 4));

  const src6 = fromHex('20010db8000000000000000000000001');
  const dst6 = fromHex('20010db8000000000000000000000002');
  const pseudo6 = checksum.pseudoHeaderV6(src6, dst6, 17, 9);
  const v6 = new Uint8Array(9);
  udpencap.frameKeepalive(v6);
  assert.ok(!udp.checksumValid(v6, pseudo6, 6), 'zero is invalid over IPv6');
  udp.fillChecksum(v6, pseudo6);
  assert.ok(udp.checksumValid(v6, pseudo6, 6));
});
