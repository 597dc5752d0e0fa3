import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as oob from './oob.ts';
import { NetBufferList, NetBufferListInfo } from './nbl.ts';
import { CryptoStatus } from './oid.ts';

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

/**
 * Each field's mask when it alone holds its maximum, written out from the reference tables
 * (§2.9, §2.11, §2.12; nbllso.h, nblchecksum.h) — independent of the layouts in oob.ts.
 */
const MASKS: Record<string, [oob.BitLayout, Record<string, number>]> = {
  IpsecReceive: [
    oob.IpsecReceive,
    {
      SaDeleteReq: 0x1,
      CryptoDone: 0x2,
      NextCryptoDone: 0x4,
      Reserved: 0xfff8,
      CryptoStatus: 0xffff0000,
    },
  ],
  HeaderTransmit: [
    oob.HeaderTransmit,
    { NextHeader: 0xff, PadLength: 0xff00, AhHeaderOffset: 0xff0000, EspHeaderOffset: 0xff000000 },
  ],
  HeaderReceive: [
    oob.HeaderReceive,
    { NextHeader: 0xff, PadLength: 0xff00, HeaderInfoSet: 0x10000, Unnamed: 0xfffe0000 },
  ],
  LsoTransmit: [oob.LsoTransmit, { Unused: 0x3fffffff, Type: 0x40000000, Reserved2: 0x80000000 }],
  LsoV1Transmit: [
    oob.LsoV1Transmit,
    { MSS: 0xfffff, TcpHeaderOffset: 0x3ff00000, Type: 0x40000000, Reserved2: 0x80000000 },
  ],
  LsoV2Transmit: [
    oob.LsoV2Transmit,
    { MSS: 0xfffff, TcpHeaderOffset: 0x3ff00000, Type: 0x40000000, IPVersion: 0x80000000 },
  ],
  LsoV1TransmitComplete: [
    oob.LsoV1TransmitComplete,
    { TcpPayload: 0x3fffffff, Type: 0x40000000, Reserved2: 0x80000000 },
  ],
  LsoV2TransmitComplete: [
    oob.LsoV2TransmitComplete,
    { Reserved: 0x3fffffff, Type: 0x40000000, Reserved2: 0x80000000 },
  ],
  ChecksumTransmit: [
    oob.ChecksumTransmit,
    {
      IsIPv4: 0x1,
      IsIPv6: 0x2,
      TcpChecksum: 0x4,
      UdpChecksum: 0x8,
      IpHeaderChecksum: 0x10,
      Reserved: 0xffe0,
      TcpHeaderOffset: 0x3ff0000,
      Unnamed: 0xfc000000,
    },
  ],
  ChecksumReceive: [
    oob.ChecksumReceive,
    {
      TcpChecksumFailed: 0x1,
      UdpChecksumFailed: 0x2,
      IpChecksumFailed: 0x4,
      TcpChecksumSucceeded: 0x8,
      UdpChecksumSucceeded: 0x10,
      IpChecksumSucceeded: 0x20,
      Loopback: 0x40,
      TcpChecksumValueInvalid: 0x80,
      IpChecksumValueInvalid: 0x100,
      Unnamed: 0xfffffe00,
    },
  ],
};

test('every field sits at its documented bit position, and the fields tile the ULONG', () => {
  for (const [struct, [layout, masks]] of Object.entries(MASKS)) {
    assert.deepEqual(Object.keys(layout).sort(), Object.keys(masks).sort(), struct);
    let all = 0;
    for (const [name, mask] of Object.entries(masks)) {
      const f = layout[name];
      const max = 2 ** f.width - 1;
      assert.equal(oob.setField(0, f, max, name), mask, `${struct}.${name}`);
      assert.equal(oob.getField(mask, f), max, `${struct}.${name} read back`);
      assert.equal(oob.getField(~mask >>> 0, f), 0, `${struct}.${name} ignores other bits`);
      assert.equal(all & mask, 0, `${struct}.${name} overlaps another field`);
      all = (all | mask) >>> 0;
    }
    assert.equal(all, 0xffffffff, `${struct} covers all 32 bits`);
  }
});

test('known raw values (reference Appendix A)', () => {
  // NextHeader 6 (TCP), PadLength 2, ESP header 20 bytes after the IPv4 header start.
  const header = oob.encodeHeaderTransmit({
    NextHeader: 6,
    PadLength: 2,
    AhHeaderOffset: 0,
    EspHeaderOffset: oob.headerOffsetUnits(20),
  });
  assert.equal(header, 0x05000206);
  const h = oob.decodeHeaderTransmit(0x05000206);
  assert.deepEqual(h, { NextHeader: 6, PadLength: 2, AhHeaderOffset: 0, EspHeaderOffset: 5 });
  assert.equal(oob.espHeaderOffsetBytes(h), 20);
  // AH at 20 bytes, ESP after a 24-byte AH header (HMAC-SHA1-96) at 44 bytes; Next Header 4 (tunnel).
  assert.equal(
    oob.encodeHeaderTransmit({
      NextHeader: 4,
      PadLength: 0,
      AhHeaderOffset: 5,
      EspHeaderOffset: 11,
    }),
    0x0b050004
  );
  assert.equal(oob.ahHeaderOffsetBytes(oob.decodeHeaderTransmit(0x0b050004)), 20);

  assert.equal(
    oob.encodeIpsecReceive({
      SaDeleteReq: 1,
      CryptoDone: 1,
      NextCryptoDone: 0,
      CryptoStatus: CryptoStatus.CRYPTO_TRANSPORT_ESP_AUTH_FAILED,
    }),
    0x00030003
  );
  assert.equal(
    oob.encodeHeaderReceive({ NextHeader: 6, PadLength: 2, HeaderInfoSet: 1 }),
    0x00010206
  );
  assert.equal(oob.encodeLsoV1Transmit({ MSS: 1460, TcpHeaderOffset: 34, Type: 0 }), 0x022005b4);
  assert.equal(
    oob.encodeLsoV2Transmit({ MSS: 1448, TcpHeaderOffset: 54, Type: 1, IPVersion: 1 }),
    0xc36005a8
  );
  assert.equal(oob.decodeLsoTransmit(0xc36005a8).Type, 1);
  assert.equal(oob.encodeLsoV1TransmitComplete({ TcpPayload: 65000, Type: 0 }), 0x0000fde8);
  assert.equal(oob.encodeLsoV2TransmitComplete({ Type: 1 }), 0x40000000);
  assert.equal(
    oob.encodeChecksumTransmit({
      IsIPv4: 1,
      IsIPv6: 0,
      TcpChecksum: 1,
      UdpChecksum: 0,
      IpHeaderChecksum: 1,
      TcpHeaderOffset: 34,
    }),
    0x00220015
  );
  assert.equal(
    oob.encodeChecksumReceive({
      TcpChecksumFailed: 0,
      UdpChecksumFailed: 0,
      IpChecksumFailed: 0,
      TcpChecksumSucceeded: 1,
      UdpChecksumSucceeded: 0,
      IpChecksumSucceeded: 1,
    }),
    0x28
  );
});

test('every u32 raw value round-trips through decode and encode, for every 32-bit structure', () => {
  const pairs: [string, (raw: number) => object, (f: never) => number][] = [
    ['IpsecReceive', oob.decodeIpsecReceive, oob.encodeIpsecReceive],
    ['HeaderTransmit', oob.decodeHeaderTransmit, oob.encodeHeaderTransmit],
    ['HeaderReceive', oob.decodeHeaderReceive, oob.encodeHeaderReceive],
    ['LsoV1Transmit', oob.decodeLsoV1Transmit, oob.encodeLsoV1Transmit],
    ['LsoV2Transmit', oob.decodeLsoV2Transmit, oob.encodeLsoV2Transmit],
    ['LsoV1TransmitComplete', oob.decodeLsoV1TransmitComplete, oob.encodeLsoV1TransmitComplete],
    ['LsoV2TransmitComplete', oob.decodeLsoV2TransmitComplete, oob.encodeLsoV2TransmitComplete],
    ['ChecksumTransmit', oob.decodeChecksumTransmit, oob.encodeChecksumTransmit],
    ['ChecksumReceive', oob.decodeChecksumReceive, oob.encodeChecksumReceive],
  ];
  for (const [name, decode, encode] of pairs) {
    fc.assert(
      fc.property(u32, (raw) => {
        assert.equal(encode(decode(raw) as never), raw, name);
      })
    );
  }
});

test('handle slots round-trip every u64 (OffloadHandle, TunnelHandle)', () => {
  fc.assert(
    fc.property(u64, (raw) => {
      assert.equal(oob.encodeIpsecTransmit(oob.decodeIpsecTransmit(raw)), raw);
      assert.equal(oob.encodeTunnelTransmit(oob.decodeTunnelTransmit(raw)), raw);
    })
  );
  assert.throws(
    () => oob.encodeIpsecTransmit({ OffloadHandle: 2n ** 64n }),
    /OffloadHandle: expected a value from 0 to 2\^64-1/
  );
  assert.throws(() => oob.encodeTunnelTransmit({ TunnelHandle: -1n }), /TunnelHandle/);
});

test('a value that does not fit its bit-field throws a RangeError naming field, width and value', () => {
  assert.throws(
    () =>
      oob.encodeHeaderTransmit({
        NextHeader: 6,
        PadLength: 2,
        AhHeaderOffset: 0,
        EspHeaderOffset: 256,
      }),
    {
      name: 'RangeError',
      message:
        'HeaderTransmit.EspHeaderOffset: expected an integer from 0 to 255 (8-bit field), got 256',
    }
  );
  assert.throws(
    () => oob.encodeLsoV2Transmit({ MSS: 2 ** 20, TcpHeaderOffset: 0, Type: 1, IPVersion: 0 }),
    /LsoV2Transmit\.MSS: .*0 to 1048575 \(20-bit field\), got 1048576/
  );
  assert.throws(
    () => oob.encodeLsoV1Transmit({ MSS: 1, TcpHeaderOffset: 1024, Type: 0 }),
    /TcpHeaderOffset.*10-bit.*1024/
  );
  assert.throws(
    () =>
      oob.encodeIpsecReceive({ SaDeleteReq: 2, CryptoDone: 0, NextCryptoDone: 0, CryptoStatus: 0 }),
    /SaDeleteReq.*1-bit.*got 2/
  );
  assert.throws(
    () =>
      oob.encodeIpsecReceive({
        SaDeleteReq: 0,
        CryptoDone: 0,
        NextCryptoDone: 0,
        CryptoStatus: 0x10000,
      }),
    /CryptoStatus.*16-bit.*65536/
  );
  assert.throws(
    () => oob.encodeLsoV1TransmitComplete({ TcpPayload: 2 ** 30, Type: 0 }),
    /TcpPayload.*30-bit/
  );
  assert.throws(
    () =>
      oob.encodeChecksumTransmit({
        IsIPv4: -1,
        IsIPv6: 0,
        TcpChecksum: 0,
        UdpChecksum: 0,
        IpHeaderChecksum: 0,
        TcpHeaderOffset: 0,
      }),
    /IsIPv4.*got -1/
  );
  assert.throws(
    () => oob.encodeHeaderReceive({ NextHeader: 1.5, PadLength: 0, HeaderInfoSet: 0 }),
    /NextHeader.*got 1\.5/
  );
  assert.throws(() => oob.decodeHeaderTransmit(2 ** 32), RangeError);
});

test('headerOffsetUnits converts bytes to 4-byte units and refuses what the field cannot hold', () => {
  assert.equal(oob.headerOffsetUnits(0), 0);
  assert.equal(oob.headerOffsetUnits(40), 10);
  assert.equal(oob.headerOffsetUnits(1020), 255);
  assert.throws(() => oob.headerOffsetUnits(22), /multiple of 4 bytes.*got 22/);
  assert.throws(() => oob.headerOffsetUnits(1024), /got 1024/);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 255 }), (units) => {
      const fields = { NextHeader: 0, PadLength: 0, AhHeaderOffset: units, EspHeaderOffset: units };
      assert.equal(oob.headerOffsetUnits(oob.ahHeaderOffsetBytes(fields)), units);
      assert.equal(oob.headerOffsetUnits(oob.espHeaderOffsetBytes(fields)), units);
    })
  );
});

test('NBL accessors read and write the documented slots', () => {
  const nbl = new NetBufferList();
  oob.setOffloadHandle(nbl, 0xffffa38d_1c2b3a48n);
  oob.setTunnelHandle(nbl, 0xffffa38d_00001000n);
  oob.setHeaderTransmit(nbl, {
    NextHeader: 6,
    PadLength: 2,
    AhHeaderOffset: 0,
    EspHeaderOffset: 5,
  });
  oob.setLso(
    nbl,
    oob.encodeLsoV2Transmit({ MSS: 1448, TcpHeaderOffset: 54, Type: 1, IPVersion: 0 })
  );
  oob.setChecksum(
    nbl,
    oob.encodeChecksumTransmit({
      IsIPv4: 1,
      IsIPv6: 0,
      TcpChecksum: 1,
      UdpChecksum: 0,
      IpHeaderChecksum: 1,
      TcpHeaderOffset: 34,
    })
  );
  assert.equal(
    nbl.info.get(NetBufferListInfo.IPsecOffloadV2NetBufferListInfo),
    0xffffa38d_1c2b3a48n
  );
  assert.equal(
    nbl.info.get(NetBufferListInfo.IPsecOffloadV2TunnelNetBufferListInfo),
    0xffffa38d_00001000n
  );
  assert.equal(nbl.info.get(NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo), 0x05000206n);
  assert.equal(nbl.info.getU32(NetBufferListInfo.TcpLargeSendNetBufferListInfo), 0x436005a8);
  assert.equal(nbl.info.getU32(NetBufferListInfo.TcpIpChecksumNetBufferListInfo), 0x00220015);
  assert.equal(oob.getOffloadHandle(nbl), 0xffffa38d_1c2b3a48n);
  assert.equal(oob.getTunnelHandle(nbl), 0xffffa38d_00001000n);
  assert.equal(oob.getHeaderTransmit(nbl).EspHeaderOffset, 5);
  assert.equal(oob.decodeLsoV2Transmit(oob.getLso(nbl)).MSS, 1448);
  assert.equal(oob.decodeChecksumTransmit(oob.getChecksum(nbl)).TcpHeaderOffset, 34);

  const rx = new NetBufferList();
  oob.setIpsecReceive(rx, {
    SaDeleteReq: 0,
    CryptoDone: 1,
    NextCryptoDone: 1,
    CryptoStatus: CryptoStatus.CRYPTO_SUCCESS,
  });
  oob.setHeaderReceive(rx, { NextHeader: 17, PadLength: 3, HeaderInfoSet: 1 });
  assert.deepEqual(oob.getIpsecReceive(rx), {
    SaDeleteReq: 0,
    CryptoDone: 1,
    NextCryptoDone: 1,
    Reserved: 0,
    CryptoStatus: 0,
  });
  assert.deepEqual(oob.getHeaderReceive(rx), {
    NextHeader: 17,
    PadLength: 3,
    HeaderInfoSet: 1,
    Unnamed: 0,
  });
});

test('receive info reads the low 32 bits even when a trace left the high half set', () => {
  const nbl = new NetBufferList();
  nbl.info.set(NetBufferListInfo.IPsecOffloadV2NetBufferListInfo, 0xdeadbeef_00030002n);
  assert.deepEqual(oob.getIpsecReceive(nbl), {
    SaDeleteReq: 0,
    CryptoDone: 1,
    NextCryptoDone: 0,
    Reserved: 0,
    CryptoStatus: 3,
  });
});
