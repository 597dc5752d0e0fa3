import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ARCHES, pointerSize, type Decoded } from './abi.ts';
import { UPDATE_SA, decodeUpdateSa, encodeUpdateSa, type UpdateSa } from './updatesa.ts';
import { Operation } from './oid.ts';
import { NdisStatus } from './status.ts';
import { be32, le, pointer, u32 } from '../../tests/ndis-fixtures.ts';

/** IPSEC_OFFLOAD_V2_UPDATE_SA offsets from reference §2.8 (x64 PDB), written out independently. */
const DOC = {
  x64: {
    OffloadHandle: 0x08,
    Operation: 0x10,
    Spi: 0x14,
    SequenceNumberHighOrder: 0x18,
    sizeofRev1: 0x1c,
    sizeof: 0x20,
  },
  x86: {
    OffloadHandle: 0x04,
    Operation: 0x08,
    Spi: 0x0c,
    SequenceNumberHighOrder: 0x10,
    sizeofRev1: 0x14,
    sizeof: 0x14,
  },
} as const;

function why<T>(r: Decoded<T>): [number, string, number] | 'ok' {
  return r.ok ? 'ok' : [r.status, r.field, r.offset];
}

for (const arch of ARCHES) {
  const D = DOC[arch];
  const P = pointerSize(arch);

  test(`UPDATE_SA ${arch}: layout, Spi in network byte order`, () => {
    assert.equal(UPDATE_SA[arch].size, D.sizeof);
    assert.equal(UPDATE_SA[arch].SIZEOF_REVISION_1, D.sizeofRev1);
    const u: UpdateSa = {
      offloadHandle: arch === 'x64' ? 0xffffa001_00000050n : 0x90000050n,
      operation: Operation.IPsecOffloadV2Esp,
      spi: 0x0000_1001,
      sequenceNumberHighOrder: 0x00000002,
    };
    const b = encodeUpdateSa(u, arch);
    assert.equal(b.length, D.sizeof);
    assert.deepEqual([...b.subarray(0, 4)], [0x80, 0x01, D.sizeofRev1, 0x00]);
    assert.equal(le(b, D.OffloadHandle, P), u.offloadHandle);
    assert.equal(le(b, D.Operation, 4), 2n);
    assert.deepEqual([...b.subarray(D.Spi, D.Spi + 4)], [0x00, 0x00, 0x10, 0x01]);
    assert.equal(be32(b, D.Spi), 0x1001);
    assert.equal(le(b, D.SequenceNumberHighOrder, 4), 2n);
  });

  test(`UPDATE_SA ${arch}: round trip and bad input`, () => {
    fc.assert(
      fc.property(
        pointer(arch),
        u32,
        u32,
        u32,
        (offloadHandle, operation, spi, sequenceNumberHighOrder) => {
          const u = { offloadHandle, operation, spi, sequenceNumberHighOrder };
          assert.deepEqual(decodeUpdateSa(encodeUpdateSa(u, arch), arch), { ok: true, value: u });
        }
      )
    );
    const good = encodeUpdateSa(
      { offloadHandle: 1n, operation: 1, spi: 2, sequenceNumberHighOrder: 3 },
      arch
    );
    for (let n = 0; n < D.sizeofRev1; n++) {
      const r = decodeUpdateSa(good.subarray(0, n), arch);
      assert.ok(!r.ok);
      assert.equal(r.status, NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT);
      assert.equal(r.bytesNeeded, D.sizeofRev1);
    }
    assert.ok(
      decodeUpdateSa(good.subarray(0, D.sizeofRev1), arch).ok,
      'NDIS_SIZEOF_…_REVISION_1 bytes are enough'
    );
    assert.deepEqual(why(decodeUpdateSa(good.subarray(0, D.Spi + 2), arch)), [
      NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
      'Spi',
      D.Spi,
    ]);
    const patched = (off: number, v: number): Uint8Array => {
      const b = good.slice();
      b[off] = v;
      return b;
    };
    assert.deepEqual(why(decodeUpdateSa(patched(0, 0), arch)), [
      NdisStatus.NDIS_STATUS_INVALID_LENGTH,
      'Header.Type',
      0,
    ]);
    assert.deepEqual(why(decodeUpdateSa(patched(1, 0), arch)), [
      NdisStatus.NDIS_STATUS_INVALID_LENGTH,
      'Header.Revision',
      1,
    ]);
    assert.deepEqual(why(decodeUpdateSa(patched(2, D.sizeofRev1 - 1), arch)), [
      NdisStatus.NDIS_STATUS_INVALID_LENGTH,
      'Header.Size',
      2,
    ]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
        decodeUpdateSa(b, arch);
      })
    );
    assert.throws(
      () =>
        encodeUpdateSa(
          { offloadHandle: -1n, operation: 1, spi: 2, sequenceNumberHighOrder: 3 },
          arch
        ),
      /OffloadHandle/
    );
    assert.throws(
      () =>
        encodeUpdateSa(
          { offloadHandle: 1n, operation: 1, spi: 2 ** 32, sequenceNumberHighOrder: 3 },
          arch
        ),
      /Spi/
    );
  });
}
