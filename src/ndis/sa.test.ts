import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as sa from './sa.ts';
import { NdisStatus } from './status.ts';
import { algorithm, be32, distinctSa, le, securityAssociation } from '../../tests/ndis-fixtures.ts';

test('IPSEC_OFFLOAD_V2_ALGORITHM_INFO layout: 16 bytes, four little-endian ULONGs (§2.2)', () => {
  const bytes = sa.encodeAlgorithmInfo({
    identifier: 0x01020304,
    keyLength: 0x11121314,
    keyOffsetBytes: 0x21222324,
    additionalInfo: 0x31323334,
  });
  assert.equal(bytes.length, 0x10);
  assert.equal(le(bytes, 0x0, 4), 0x01020304n);
  assert.equal(le(bytes, 0x4, 4), 0x11121314n);
  assert.equal(le(bytes, 0x8, 4), 0x21222324n);
  assert.equal(le(bytes, 0xc, 4), 0x31323334n);
});

test('IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION layout: 0x30 bytes, Spi in network byte order (§2.3, D7)', () => {
  const s = distinctSa(0x100);
  const bytes = sa.encodeSecurityAssociation(s);
  assert.equal(bytes.length, 0x30);
  assert.equal(le(bytes, 0x00, 4), BigInt(s.flags));
  assert.equal(le(bytes, 0x04, 4), BigInt(s.operation));
  assert.equal(be32(bytes, 0x08), s.spi);
  assert.deepEqual([...bytes.subarray(0x08, 0x0c)], [0x1a, 0x2b, 0x3d, 0x00]);
  assert.equal(le(bytes, 0x0c, 4), BigInt(s.authenticationAlgorithm.identifier));
  assert.equal(le(bytes, 0x10, 4), BigInt(s.authenticationAlgorithm.keyLength));
  assert.equal(le(bytes, 0x14, 4), BigInt(s.authenticationAlgorithm.keyOffsetBytes));
  assert.equal(le(bytes, 0x18, 4), BigInt(s.authenticationAlgorithm.additionalInfo));
  assert.equal(le(bytes, 0x1c, 4), BigInt(s.encryptionAlgorithm.identifier));
  assert.equal(le(bytes, 0x28, 4), BigInt(s.encryptionAlgorithm.additionalInfo));
  assert.equal(le(bytes, 0x2c, 4), BigInt(s.sequenceNumberHighOrder));
  assert.equal(sa.SECURITY_ASSOCIATION.size, 0x30);
  assert.equal(sa.ALGORITHM_INFO.size, 0x10);
});

test('ALGORITHM_INFO and SECURITY_ASSOCIATION round-trip; short buffers fail with BytesNeeded', () => {
  fc.assert(
    fc.property(algorithm, securityAssociation, (a, s) => {
      assert.deepEqual(sa.decodeAlgorithmInfo(sa.encodeAlgorithmInfo(a)), { ok: true, value: a });
      assert.deepEqual(sa.decodeSecurityAssociation(sa.encodeSecurityAssociation(s)), {
        ok: true,
        value: s,
      });
    })
  );
  const r = sa.decodeSecurityAssociation(new Uint8Array(0x2f));
  assert.ok(!r.ok);
  assert.equal(r.status, NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT);
  assert.equal(r.bytesNeeded, 0x30);
  const a = sa.decodeAlgorithmInfo(new Uint8Array(3));
  assert.ok(!a.ok && a.bytesNeeded === 16);
  assert.throws(
    () =>
      sa.encodeAlgorithmInfo({
        identifier: 2 ** 32,
        keyLength: 0,
        keyOffsetBytes: 0,
        additionalInfo: 0,
      }),
    /Identifier/
  );
  assert.throws(() => sa.encodeSecurityAssociation({ ...distinctSa(0), spi: -1 }), /Spi/);
});

test('algorithmKey finds a key in the key buffer or reports it out of range', () => {
  const keys = Uint8Array.from({ length: 36 }, (_, i) => i);
  const gcm = { identifier: 0x08, keyLength: 20, keyOffsetBytes: 16, additionalInfo: 16 };
  assert.deepEqual([...sa.algorithmKey(keys, gcm)!], [...keys.subarray(16, 36)]);
  assert.equal(sa.algorithmKey(keys, { ...gcm, keyOffsetBytes: 17 }), undefined);
  assert.equal(sa.algorithmKey(keys, { ...gcm, keyLength: 0xffffffff }), undefined);
});
