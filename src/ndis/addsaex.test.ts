import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ARCHES, pointerSize, type Decoded } from './abi.ts';
import {
  ADD_SA_EX,
  decodeAddSaEx,
  encodeAddSaEx,
  readAddSaExHandle,
  writeAddSaExHandle,
  type AddSaEx,
} from './addsaex.ts';
import { NdisStatus } from './status.ts';
import { be32, bundle, distinctBundle, le } from '../../tests/ndis-fixtures.ts';

/** IPSEC_OFFLOAD_V2_ADD_SA_EX offsets from reference §2.6, written out independently. */
const DOC = {
  x64: {
    NumExtHdrs: 0x04,
    Flags: 0x08,
    Src: 0x0c,
    Dst4: 0x10,
    Dst6: 0x1c,
    OffloadHandle: 0x30,
    UdpEsp: 0x38,
    SecAssoc: 0x3c,
    KeyLength: 0x9c,
    KeyOffset: 0xa0,
    SourceSwitchPortId: 0xa4,
    VlanId: 0xa8,
    sizeofRev1: 0xaa,
    sizeof: 0xb0,
  },
  x86: {
    NumExtHdrs: 0x04,
    Flags: 0x08,
    Src: 0x0c,
    Dst4: 0x10,
    Dst6: 0x1c,
    OffloadHandle: 0x2c,
    UdpEsp: 0x30,
    SecAssoc: 0x34,
    KeyLength: 0x94,
    KeyOffset: 0x98,
    SourceSwitchPortId: 0x9c,
    VlanId: 0xa0,
    sizeofRev1: 0xa2,
    sizeof: 0xa4,
  },
} as const;

function why<T>(r: Decoded<T>): [number, string, number] | 'ok' {
  return r.ok ? 'ok' : [r.status, r.field, r.offset];
}

for (const arch of ARCHES) {
  const D = DOC[arch];
  const P = pointerSize(arch);

  test(`ADD_SA_EX ${arch}: sizes and every field at its documented offset`, () => {
    assert.equal(ADD_SA_EX[arch].size, D.sizeof);
    assert.equal(ADD_SA_EX[arch].SIZEOF_REVISION_1, D.sizeofRev1);
    for (const ipv6 of [false, true]) {
      const sa = {
        ...distinctBundle(arch, ipv6, 6),
        sourceSwitchPortId: 0x0badf00d,
        vlanId: 0x0123,
      };
      const b = encodeAddSaEx(sa, arch);
      assert.equal(b.length, D.sizeof + 6, 'the key follows the structure');
      assert.deepEqual([...b.subarray(0, 4)], [0x80, 0x01, D.sizeofRev1, 0x00]);
      assert.equal(le(b, D.NumExtHdrs, 4), 2n);
      assert.equal(le(b, D.Flags, 4), ipv6 ? 0x11n : 0x01n);
      const n = ipv6 ? 16 : 4;
      assert.deepEqual([...b.subarray(D.Src, D.Src + n)], [...sa.src]);
      assert.deepEqual(
        [...b.subarray(ipv6 ? D.Dst6 : D.Dst4, (ipv6 ? D.Dst6 : D.Dst4) + n)],
        [...sa.dst]
      );
      assert.equal(le(b, D.OffloadHandle, P), sa.offloadHandle);
      assert.equal(le(b, D.UdpEsp, 4), 4n);
      assert.equal(be32(b, D.SecAssoc + 8), sa.secAssoc[0].spi);
      assert.equal(be32(b, D.SecAssoc + 0x30 + 8), sa.secAssoc[1].spi);
      assert.equal(
        le(b, D.SecAssoc + 0x30 + 0x2c, 4),
        BigInt(sa.secAssoc[1].sequenceNumberHighOrder)
      );
      assert.equal(le(b, D.KeyLength, 4), 6n);
      assert.equal(le(b, D.KeyOffset, 4), BigInt(D.sizeof));
      assert.equal(le(b, D.SourceSwitchPortId, 4), 0x0badf00dn);
      assert.equal(le(b, D.VlanId, 2), 0x0123n);
      assert.deepEqual([...b.subarray(D.sizeof)], [0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5]);
    }
  });

  test(`ADD_SA_EX ${arch}: round trip, with the key anywhere after the structure`, () => {
    fc.assert(
      fc.property(
        bundle(arch),
        fc.integer({ min: 0, max: 64 }),
        fc.integer({ min: 0, max: 0xffff }),
        (sa, gap, vlan) => {
          const keyOffset = D.sizeofRev1 + gap;
          const r = decodeAddSaEx(encodeAddSaEx({ ...sa, keyOffset, vlanId: vlan }, arch), arch);
          assert.ok(r.ok, JSON.stringify(why(r)));
          const expected: AddSaEx = { ...sa, keyOffset, sourceSwitchPortId: 0, vlanId: vlan };
          assert.deepEqual(r.value, expected);
        }
      )
    );
  });

  test(`ADD_SA_EX ${arch}: the miniport writes the handle back`, () => {
    const b = encodeAddSaEx({ ...distinctBundle(arch, false), offloadHandle: 0n }, arch);
    const h = arch === 'x64' ? 0xffffa001_00000040n : 0x90000040n;
    writeAddSaExHandle(b, h, arch);
    assert.equal(readAddSaExHandle(b, arch), h);
    const r = decodeAddSaEx(b, arch);
    assert.ok(r.ok && r.value.offloadHandle === h);
    assert.throws(() => {
      writeAddSaExHandle(new Uint8Array(8), h, arch);
    }, /expected at least/);
  });

  test(`ADD_SA_EX ${arch}: bad input gives the D15 statuses, never a throw`, () => {
    const good = encodeAddSaEx(distinctBundle(arch, true, 16), arch);
    for (let n = 0; n < good.length; n++) {
      const r = decodeAddSaEx(good.subarray(0, n), arch);
      assert.ok(!r.ok, `length ${n}`);
      assert.equal(r.status, NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT);
      assert.equal(r.bytesNeeded, n < D.sizeofRev1 ? D.sizeofRev1 : D.sizeof + 16);
      if (n >= D.sizeofRev1)
        assert.deepEqual(why(r), [
          NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
          'KeyLength',
          D.KeyLength,
        ]);
    }
    assert.deepEqual(why(decodeAddSaEx(good.subarray(0, D.VlanId), arch)), [
      NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
      'VlanId',
      D.VlanId,
    ]);
    const patch = (off: number, v: number, size = 1): Uint8Array => {
      const b = good.slice();
      const dv = new DataView(b.buffer);
      if (size === 1) dv.setUint8(off, v);
      else dv.setUint32(off, v, true);
      return b;
    };
    const INVALID_LENGTH = NdisStatus.NDIS_STATUS_INVALID_LENGTH;
    assert.deepEqual(why(decodeAddSaEx(patch(0, 0x81), arch)), [INVALID_LENGTH, 'Header.Type', 0]);
    assert.deepEqual(why(decodeAddSaEx(patch(1, 0), arch)), [INVALID_LENGTH, 'Header.Revision', 1]);
    assert.deepEqual(why(decodeAddSaEx(patch(2, D.sizeofRev1 - 1), arch)), [
      INVALID_LENGTH,
      'Header.Size',
      2,
    ]);
    assert.deepEqual(why(decodeAddSaEx(patch(D.NumExtHdrs, 3, 4), arch)), [
      NdisStatus.NDIS_STATUS_INVALID_DATA,
      'NumExtHdrs',
      D.NumExtHdrs,
    ]);
    assert.deepEqual(why(decodeAddSaEx(patch(D.KeyOffset, 0x10, 4), arch)), [
      NdisStatus.NDIS_STATUS_INVALID_DATA,
      'KeyOffset',
      D.KeyOffset,
    ]);
    const past = decodeAddSaEx(patch(D.KeyOffset, 0xffffff00, 4), arch);
    assert.deepEqual(why(past), [
      NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
      'KeyLength',
      D.KeyLength,
    ]);
    assert.ok(!past.ok && past.bytesNeeded === 0xffffff00 + 16);
    // With KeyLength 0 the KeyOffset is not used.
    const noKey = encodeAddSaEx({ ...distinctBundle(arch, false, 0), keyOffset: 0xffffffff }, arch);
    const r = decodeAddSaEx(noKey, arch);
    assert.ok(r.ok && r.value.keyData.length === 0);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
        decodeAddSaEx(b, arch);
      })
    );
    assert.throws(
      () => encodeAddSaEx({ ...distinctBundle(arch, false), keyOffset: 8 }, arch),
      /KeyOffset: expected at least/
    );
    assert.throws(
      () => encodeAddSaEx({ ...distinctBundle(arch, false), vlanId: 0x10000 }, arch),
      /VlanId/
    );
  });
}
