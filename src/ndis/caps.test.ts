import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';

/** Plain objects: deepStrictEqual compares prototypes. */
const NO_NULL = { noNullPrototype: true } as const;
import * as caps from './caps.ts';
import {
  Authentication,
  Encapsulation,
  Encryption,
  OffloadFlags,
  OffloadParameter,
  UdpEsp,
} from './oid.ts';
import { NdisStatus } from './status.ts';
import { le } from '../../tests/ndis-fixtures.ts';

/** NDIS_IPSEC_OFFLOAD_V2 offsets from reference §2.1 (PDB size 0x20), written out independently. */
const OFFSETS = {
  Encapsulation: 0x00,
  IPv6Supported: 0x04,
  IPv4Options: 0x05,
  IPv6NonIPsecExtensionHeaders: 0x06,
  Ah: 0x07,
  Esp: 0x08,
  AhEspCombined: 0x09,
  Transport: 0x0a,
  Tunnel: 0x0b,
  TransportTunnelCombined: 0x0c,
  LsoSupported: 0x0d,
  ExtendedSequenceNumbers: 0x0e,
  UdpEsp: 0x10,
  AuthenticationAlgorithms: 0x14,
  EncryptionAlgorithms: 0x18,
  SaOffloadCapacity: 0x1c,
};

const ipsecV2 = fc.record(
  {
    Encapsulation: fc.integer({ min: 0, max: 0xffffffff }),
    IPv6Supported: fc.boolean(),
    IPv4Options: fc.boolean(),
    IPv6NonIPsecExtensionHeaders: fc.boolean(),
    Ah: fc.boolean(),
    Esp: fc.boolean(),
    AhEspCombined: fc.boolean(),
    Transport: fc.boolean(),
    Tunnel: fc.boolean(),
    TransportTunnelCombined: fc.boolean(),
    LsoSupported: fc.boolean(),
    ExtendedSequenceNumbers: fc.boolean(),
    UdpEsp: fc.integer({ min: 0, max: 0xffffffff }),
    AuthenticationAlgorithms: fc.integer({ min: 0, max: 0xffffffff }),
    EncryptionAlgorithms: fc.integer({ min: 0, max: 0xffffffff }),
    SaOffloadCapacity: fc.integer({ min: 0, max: 0xffffffff }),
  },
  NO_NULL
);

test('NDIS_IPSEC_OFFLOAD_V2 layout: 0x20 bytes, every field at its documented offset', () => {
  assert.equal(caps.IPSEC_OFFLOAD_V2.size, 0x20);
  for (const [name, off] of Object.entries(OFFSETS))
    assert.equal(caps.IPSEC_OFFLOAD_V2[name as keyof typeof OFFSETS], off, name);
  // Distinct values: ULONGs 0x11111111 × k, and only one BOOLEAN TRUE at a time.
  const base: caps.IpsecOffloadV2 = {
    Encapsulation: 0x11111111,
    IPv6Supported: false,
    IPv4Options: false,
    IPv6NonIPsecExtensionHeaders: false,
    Ah: false,
    Esp: false,
    AhEspCombined: false,
    Transport: false,
    Tunnel: false,
    TransportTunnelCombined: false,
    LsoSupported: false,
    ExtendedSequenceNumbers: false,
    UdpEsp: 0x22222222,
    AuthenticationAlgorithms: 0x33333333,
    EncryptionAlgorithms: 0x44444444,
    SaOffloadCapacity: 0x55555555,
  };
  const bytes = caps.encodeIpsecOffloadV2(base);
  assert.equal(bytes.length, 0x20);
  assert.equal(le(bytes, 0x00, 4), 0x11111111n);
  assert.equal(le(bytes, 0x10, 4), 0x22222222n);
  assert.equal(le(bytes, 0x14, 4), 0x33333333n);
  assert.equal(le(bytes, 0x18, 4), 0x44444444n);
  assert.equal(le(bytes, 0x1c, 4), 0x55555555n);
  assert.deepEqual([...bytes.subarray(0x04, 0x10)], new Array(12).fill(0));
  for (const [name, off] of Object.entries(OFFSETS)) {
    if (off < 0x04 || off >= 0x10) continue;
    const one = caps.encodeIpsecOffloadV2({ ...base, [name]: true });
    const expected = new Array(12).fill(0);
    expected[off - 4] = 1;
    assert.deepEqual([...one.subarray(0x04, 0x10)], expected, name);
  }
});

test('NDIS_IPSEC_OFFLOAD_V2 round-trips; any non-zero BOOLEAN reads TRUE; short buffers fail', () => {
  fc.assert(
    fc.property(ipsecV2, (c) => {
      const r = caps.decodeIpsecOffloadV2(caps.encodeIpsecOffloadV2(c));
      assert.ok(r.ok);
      assert.deepEqual(r.value, c);
    })
  );
  const bytes = caps.encodeIpsecOffloadV2(caps.defaultCapabilities().IPsecV2);
  bytes[0x07] = 0x7f;
  const r = caps.decodeIpsecOffloadV2(bytes);
  assert.ok(r.ok && r.value.Ah);
  for (let n = 0; n < 0x20; n++) {
    const s = caps.decodeIpsecOffloadV2(bytes.subarray(0, n));
    assert.ok(!s.ok);
    assert.equal(s.status, NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT);
    assert.equal(s.bytesNeeded, 0x20);
  }
  const s = caps.decodeIpsecOffloadV2(bytes.subarray(0, 0x11));
  assert.ok(!s.ok && s.field === 'UdpEsp' && s.offset === 0x10);
  assert.throws(
    () =>
      caps.encodeIpsecOffloadV2({ ...caps.defaultCapabilities().IPsecV2, SaOffloadCapacity: -1 }),
    /SaOffloadCapacity/
  );
});

test('defaultCapabilities is a fully capable NIC', () => {
  const c = caps.defaultCapabilities();
  const v2 = c.IPsecV2;
  for (const b of [
    'IPv6Supported',
    'IPv4Options',
    'IPv6NonIPsecExtensionHeaders',
    'Ah',
    'Esp',
    'AhEspCombined',
    'Transport',
    'Tunnel',
    'TransportTunnelCombined',
    'LsoSupported',
    'ExtendedSequenceNumbers',
  ] as const) {
    assert.equal(v2[b], true, b);
  }
  assert.equal(
    v2.Encapsulation & Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3,
    Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3
  );
  assert.equal(v2.UdpEsp, 0xf);
  assert.equal(
    v2.UdpEsp,
    Object.values(UdpEsp).reduce((a: number, b) => a | b, 0)
  );
  assert.equal(v2.AuthenticationAlgorithms, 0x3f);
  assert.equal(
    v2.AuthenticationAlgorithms,
    Object.values(Authentication).reduce((a: number, b) => a | b, 0)
  );
  assert.equal(v2.EncryptionAlgorithms, 0x1ff);
  assert.equal(
    v2.EncryptionAlgorithms,
    Object.values(Encryption).reduce((a: number, b) => a | b, 0)
  );
  assert.equal(v2.SaOffloadCapacity, 1024);
  assert.equal(
    c.Flags,
    OffloadFlags.IPSEC_OFFLOAD_V2_AND_TCP_CHECKSUM_COEXISTENCE |
      OffloadFlags.IPSEC_OFFLOAD_V2_AND_UDP_CHECKSUM_COEXISTENCE
  );
  assert.equal(c.Flags, 0x6);
  assert.deepEqual(c.LsoV1.IPv4, {
    Encapsulation: 2,
    MaxOffLoadSize: 65536,
    MinSegmentCount: 2,
    TcpOptions: 1,
    IpOptions: 1,
  });
  assert.deepEqual(c.LsoV2.IPv4, { Encapsulation: 2, MaxOffLoadSize: 262144, MinSegmentCount: 2 });
  assert.deepEqual(c.LsoV2.IPv6, {
    Encapsulation: 2,
    MaxOffLoadSize: 262144,
    MinSegmentCount: 2,
    IpExtensionHeadersSupported: 1,
    TcpOptionsSupported: 1,
  });
  assert.deepEqual(c.Checksum.IPv4Transmit, {
    Encapsulation: 2,
    IpOptionsSupported: 1,
    TcpOptionsSupported: 1,
    TcpChecksum: 1,
    UdpChecksum: 1,
    IpChecksum: 1,
  });
  assert.deepEqual(c.Checksum.IPv6Transmit, {
    Encapsulation: 2,
    IpExtensionHeadersSupported: 1,
    TcpOptionsSupported: 1,
    TcpChecksum: 1,
    UdpChecksum: 1,
  });
  assert.notEqual(caps.defaultCapabilities(), c, 'a fresh record each call');
});

test('NDIS_OFFLOAD_PARAMETERS layout (revision 2 = 0x16 bytes) and round trip', () => {
  const p: caps.OffloadParameters = {
    IPv4Checksum: 0x01,
    TCPIPv4Checksum: 0x02,
    UDPIPv4Checksum: 0x03,
    TCPIPv6Checksum: 0x04,
    UDPIPv6Checksum: 0x05,
    LsoV1: 0x06,
    IPsecV1: 0x07,
    LsoV2IPv4: 0x08,
    LsoV2IPv6: 0x09,
    TcpConnectionIPv4: 0x0a,
    TcpConnectionIPv6: 0x0b,
    Flags: 0x0c0d0e0f,
    IPsecV2: OffloadParameter.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED,
    IPsecV2IPv4: OffloadParameter.NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED,
  };
  const bytes = caps.encodeOffloadParameters(p);
  assert.deepEqual(
    [...bytes],
    [
      0x80, 0x02, 0x16, 0x00, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0a, 0x0b, 0x00, 0x0f, 0x0e, 0x0d, 0x0c,
      4, 3,
    ]
  );
  const r = caps.decodeOffloadParameters(bytes);
  assert.ok(r.ok);
  assert.deepEqual(r.value, p);
  assert.deepEqual(caps.decodeOffloadParameters(caps.encodeOffloadParameters(caps.noChange())), {
    ok: true,
    value: caps.noChange(),
  });
});

test('NDIS_OFFLOAD_PARAMETERS revision 1 has no IPsecV2 members: they read as NO_CHANGE', () => {
  const bytes = caps.encodeOffloadParameters({
    ...caps.noChange(),
    IPsecV2: 4,
    IPsecV2IPv4: 4,
    LsoV1: 2,
  });
  bytes[1] = 1; // Revision 1
  bytes[2] = 0x14; // NDIS_SIZEOF_OFFLOAD_PARAMETERS_REVISION_1
  const r = caps.decodeOffloadParameters(bytes.subarray(0, 0x14));
  assert.ok(r.ok);
  assert.equal(r.value.LsoV1, 2);
  assert.equal(r.value.IPsecV2, 0);
  assert.equal(r.value.IPsecV2IPv4, 0);
});

test('NDIS_OFFLOAD_PARAMETERS: wrong header and short buffers give the D15 statuses', () => {
  const good = caps.encodeOffloadParameters(caps.noChange());
  const wrongType = good.slice();
  wrongType[0] = 0xa7;
  assert.deepEqual(pick(caps.decodeOffloadParameters(wrongType)), [
    NdisStatus.NDIS_STATUS_INVALID_LENGTH,
    'Header.Type',
    0,
  ]);
  const wrongRevision = good.slice();
  wrongRevision[1] = 0;
  assert.deepEqual(pick(caps.decodeOffloadParameters(wrongRevision)), [
    NdisStatus.NDIS_STATUS_INVALID_LENGTH,
    'Header.Revision',
    1,
  ]);
  const wrongSize = good.slice();
  wrongSize[2] = 0x13;
  assert.deepEqual(pick(caps.decodeOffloadParameters(wrongSize)), [
    NdisStatus.NDIS_STATUS_INVALID_LENGTH,
    'Header.Size',
    2,
  ]);
  for (let n = 0; n < good.length; n++) {
    const r = caps.decodeOffloadParameters(good.subarray(0, n));
    assert.ok(!r.ok, `length ${n}`);
    assert.equal(r.status, NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT);
    assert.equal(r.bytesNeeded, n < 0x14 ? 0x14 : 0x16);
  }
  assert.throws(
    () => caps.encodeOffloadParameters({ ...caps.noChange(), IPsecV2: 256 }),
    /IPsecV2: expected an integer from 0 to 255/
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
      caps.decodeOffloadParameters(b);
      caps.decodeIpsecOffloadV2(b);
    })
  );
});

function pick(r: { ok: boolean; status?: number; field?: string; offset?: number }): unknown[] {
  return [r.status, r.field, r.offset];
}
