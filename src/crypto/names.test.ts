/**
 * @module
 * Tests of the algorithm-name table (contract D17, D5): IPsecOV2 identifiers (reference §3.4),
 * key/IV/ICV lengths from RFC 2403, 2404, 2405, 2451, 3602, 4106, 4543, 4868, 7634, lookups both
 * ways, and the guards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  ENCRYPTION_NAMES,
  INTEGRITY_NAMES,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_192,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_256,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_MD5,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1,
  IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256,
  IPSEC_OFFLOAD_V2_ENCRYPTION_3_DES_CBC,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_192,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_256,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_192,
  IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_256,
  IPSEC_OFFLOAD_V2_ENCRYPTION_DES_CBC,
  IPSEC_OFFLOAD_V2_ENCRYPTION_NONE,
  encryptionByIdentifier,
  encryptionInfo,
  integrityByIdentifier,
  integrityInfo,
  isEncryptionName,
  isIntegrityName,
  toEncryptionName,
  toIntegrityName,
  type EncryptionName,
  type IntegrityName,
} from './names.ts';

test('IPsecOV2 identifiers have the SDK values (reference §3.4)', () => {
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_NONE, 0x001);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_DES_CBC, 0x002);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_3_DES_CBC, 0x004);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 0x008);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_192, 0x010);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_256, 0x020);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128, 0x040);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_192, 0x080);
  assert.equal(IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_256, 0x100);
  assert.equal(IPSEC_OFFLOAD_V2_AUTHENTICATION_MD5, 0x01);
  assert.equal(IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 0x02);
  assert.equal(IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256, 0x04);
  assert.equal(IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128, 0x08);
  assert.equal(IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_192, 0x10);
  assert.equal(IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_256, 0x20);
});

test('the table has the D17 names and the D5/RFC key, IV and ICV lengths', () => {
  const enc = (n: EncryptionName): string => {
    const i = encryptionInfo(n);
    return `${i.keyLength}/${i.saltLength}/${i.ivLength}/${i.blockSize}/${i.padAlign}/${i.icvLength}/${i.icvLengths.join(',')}/${i.combined}`;
  };
  assert.deepEqual(Object.fromEntries(ENCRYPTION_NAMES.map((n) => [n, enc(n)])), {
    null: '0/0/0/1/4/0/0/false', // RFC 2410
    'des-cbc': '8/0/8/8/8/0/0/false', // RFC 2405
    '3des-cbc': '24/0/8/8/8/0/0/false', // RFC 2451
    'aes-cbc-128': '16/0/16/16/16/0/0/false', // RFC 3602
    'aes-cbc-192': '24/0/16/16/16/0/0/false',
    'aes-cbc-256': '32/0/16/16/16/0/0/false',
    'aes-gcm-128': '20/4/8/1/4/16/8,12,16/true', // RFC 4106 §3.1, §6, §8.1; contract D5
    'aes-gcm-192': '28/4/8/1/4/16/8,12,16/true',
    'aes-gcm-256': '36/4/8/1/4/16/8,12,16/true',
    'chacha20-poly1305': '36/4/8/1/4/16/16/true', // RFC 7634 §2
  });
  const integ = (n: IntegrityName): string => {
    const i = integrityInfo(n);
    return `${i.keyLength}/${i.saltLength}/${i.ivLength}/${i.icvLength}/${i.icvLengths.join(',')}`;
  };
  assert.deepEqual(Object.fromEntries(INTEGRITY_NAMES.map((n) => [n, integ(n)])), {
    'hmac-md5-96': '16/0/0/12/12', // RFC 2403
    'hmac-sha1-96': '20/0/0/12/12', // RFC 2404
    'hmac-sha256-128': '32/0/0/16/16', // RFC 4868
    'hmac-sha384-192': '48/0/0/24/24',
    'hmac-sha512-256': '64/0/0/32/32',
    'aes-gmac-128': '20/4/8/16/16', // RFC 4543 §3.1, §3.4, §5.4
    'aes-gmac-192': '28/4/8/16/16',
    'aes-gmac-256': '36/4/8/16/16',
  });
});

test('lookups by identifier and by name agree both ways; ChaCha20 and SHA-384/512 have none', () => {
  for (const name of ENCRYPTION_NAMES) {
    const { identifier } = encryptionInfo(name);
    if (identifier === null) continue;
    assert.equal(encryptionByIdentifier(identifier), name);
  }
  for (const name of INTEGRITY_NAMES) {
    const { identifier } = integrityInfo(name);
    if (identifier === null) continue;
    assert.equal(integrityByIdentifier(identifier), name);
  }
  assert.equal(encryptionInfo('chacha20-poly1305').identifier, null);
  assert.equal(integrityInfo('hmac-sha384-192').identifier, null);
  assert.equal(integrityInfo('hmac-sha512-256').identifier, null);
  assert.equal(integrityByIdentifier(IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_192), 'aes-gmac-192');
  assert.equal(encryptionByIdentifier(0), undefined); // 0 = no algorithm (reference §3.4)
  assert.equal(integrityByIdentifier(0x40), undefined);
});

test('guards accept exactly the names', () => {
  for (const n of ENCRYPTION_NAMES) assert.ok(isEncryptionName(n) && !isIntegrityName(n));
  for (const n of INTEGRITY_NAMES) assert.ok(isIntegrityName(n) && !isEncryptionName(n));
  fc.assert(
    fc.property(fc.anything(), (v) => {
      assert.equal(isEncryptionName(v), (ENCRYPTION_NAMES as readonly unknown[]).includes(v));
      assert.equal(isIntegrityName(v), (INTEGRITY_NAMES as readonly unknown[]).includes(v));
    })
  );
});

test('an unknown name throws a TypeError that lists the valid names', () => {
  assert.equal(toEncryptionName('aes-gcm-128'), 'aes-gcm-128');
  assert.equal(toIntegrityName('hmac-sha1-96'), 'hmac-sha1-96');
  assert.throws(
    () => toEncryptionName('aes-128-gcm', 'scenario.encryption'),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.startsWith('scenario.encryption: expected an encryption name (null, des-cbc, ') &&
      e.message.includes('chacha20-poly1305') &&
      e.message.endsWith('got "aes-128-gcm"')
  );
  assert.throws(
    () => toIntegrityName(42),
    (e: unknown) =>
      e instanceof TypeError &&
      e.message.includes('hmac-md5-96, hmac-sha1-96') &&
      e.message.endsWith('got a number')
  );
  assert.throws(() => encryptionInfo('rot13' as EncryptionName), TypeError);
  assert.throws(() => integrityInfo('crc32' as IntegrityName), TypeError);
});
