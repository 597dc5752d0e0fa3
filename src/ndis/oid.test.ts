import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AddSaFlags,
  Authentication,
  CryptoStatus,
  Encapsulation,
  Encryption,
  IPSEC_OFFLOAD_V2_MAX_EXTENSION_HEADERS,
  Lso,
  ObjectType,
  OffloadFlags,
  OffloadParameter,
  Oid,
  Operation,
  SaFlags,
  UdpEsp,
  oidName,
} from './oid.ts';

test('OID values match ntddndis.h (reference §3.1)', () => {
  assert.equal(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA, 0xfc030202);
  assert.equal(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA, 0xfc030203);
  assert.equal(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA, 0xfc030204);
  assert.equal(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX, 0xfc030205);
  assert.equal(Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG, 0xfc01020b);
  assert.equal(Oid.OID_TCP_OFFLOAD_PARAMETERS, 0xfc01020c);
  assert.equal(Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES, 0xfc01020d);
  assert.equal(Oid.OID_OFFLOAD_ENCAPSULATION, 0x0101010a);
  assert.equal(oidName(0xfc030202), 'OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA');
  assert.equal(oidName(0x00010101), '0x00010101');
});

test('flags and constants match ndis.h (reference §2.4, §3.3, §3.5–§3.7)', () => {
  assert.equal(IPSEC_OFFLOAD_V2_MAX_EXTENSION_HEADERS, 2);
  assert.equal(AddSaFlags.IPSEC_OFFLOAD_V2_INBOUND, 0x1);
  assert.equal(AddSaFlags.IPSEC_OFFLOAD_V2_IPv6, 0x10);
  assert.equal(SaFlags.IPSEC_OFFLOAD_V2_ESN_SA, 0x1);
  assert.deepEqual(Operation, { IPsecOffloadV2Ah: 1, IPsecOffloadV2Esp: 2, IPsecOffloadV2Max: 3 });
  assert.deepEqual(Object.values(UdpEsp), [0, 1, 2, 4, 8]);
  assert.deepEqual(Object.values(CryptoStatus), [0, 1, 2, 3, 4, 5, 6, 7]);
  assert.deepEqual(Object.values(Encapsulation), [0, 1, 2, 4, 8, 0x10]);
  assert.equal(ObjectType.NDIS_OBJECT_TYPE_DEFAULT, 0x80);
  assert.equal(ObjectType.NDIS_OBJECT_TYPE_OFFLOAD, 0xa7);
  assert.equal(OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE, 0x2);
  assert.equal(OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE, 0x4);
  assert.equal(OffloadParameter.NDIS_OFFLOAD_PARAMETERS_NO_CHANGE, 0);
  assert.equal(OffloadParameter.NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED, 1);
  assert.equal(OffloadParameter.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED, 2);
  assert.equal(OffloadParameter.NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED, 3);
  assert.equal(OffloadParameter.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED, 4);
  assert.equal(Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE, 1);
  assert.equal(Lso.NDIS_LARGE_SEND_OFFLOAD_MAX_HEADER_LENGTH, 128);
});

test('algorithm identifiers are the capability bits of §3.4, one bit each', () => {
  assert.deepEqual(Object.values(Authentication), [0x01, 0x02, 0x04, 0x08, 0x10, 0x20]);
  assert.deepEqual(
    Object.values(Encryption),
    [0x001, 0x002, 0x004, 0x008, 0x010, 0x020, 0x040, 0x080, 0x100]
  );
  assert.equal(Encryption.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 0x08);
  assert.equal(Authentication.IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_256, 0x20);
  for (const name of [...Object.keys(Authentication), ...Object.keys(Encryption)]) {
    assert.match(name, /^IPSEC_OFFLOAD_V2_(AUTHENTICATION|ENCRYPTION)_[A-Z0-9_]+$/);
  }
});
