import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ARCHES, pointerSize, type Decoded } from './abi.ts';
import { DELETE_SA, decodeDeleteSaList, encodeDeleteSaList } from './deletesa.ts';
import { NdisStatus } from './status.ts';
import { baseAddress, le, pointer } from '../../tests/ndis-fixtures.ts';

/** IPSEC_OFFLOAD_V2_DELETE_SA offsets from reference §2.7, written out independently. */
const DOC = {
  x64: { Next: 0x08, OffloadHandle: 0x10, size: 0x18 },
  x86: { Next: 0x04, OffloadHandle: 0x08, size: 0x0c },
} as const;

const BASE = { x64: 0xffffc000_56780000n, x86: 0x8b000000n } as const;

function why<T>(r: Decoded<T>): [number, string, number] | 'ok' {
  return r.ok ? 'ok' : [r.status, r.field, r.offset];
}

for (const arch of ARCHES) {
  const D = DOC[arch];
  const P = pointerSize(arch);

  test(`DELETE_SA ${arch}: layout (size 0x${D.size.toString(16)}) with Next and OffloadHandle at their offsets`, () => {
    assert.equal(DELETE_SA[arch].size, D.size);
    assert.equal(DELETE_SA[arch].SIZEOF_REVISION_1, D.size);
    const h1 = arch === 'x64' ? 0xffffa001_11111110n : 0x91111110n;
    const h2 = arch === 'x64' ? 0xffffa001_22222220n : 0x92222220n;
    const { bytes, entryOffsets } = encodeDeleteSaList([h1, h2], BASE[arch], arch);
    assert.deepEqual(entryOffsets, [0, D.size]);
    assert.equal(bytes.length, 2 * D.size);
    assert.deepEqual([...bytes.subarray(0, 4)], [0x80, 0x01, D.size, 0x00]);
    assert.equal(le(bytes, D.Next, P), BASE[arch] + BigInt(D.size));
    assert.equal(le(bytes, D.OffloadHandle, P), h1);
    assert.equal(le(bytes, D.size + D.Next, P), 0n);
    assert.equal(le(bytes, D.size + D.OffloadHandle, P), h2);
  });

  test(`DELETE_SA ${arch}: lists of 1–5 handles round-trip`, () => {
    fc.assert(
      fc.property(
        fc.array(pointer(arch), { minLength: 1, maxLength: 5 }),
        baseAddress(arch),
        (handles, base) => {
          const { bytes, entryOffsets } = encodeDeleteSaList(handles, base, arch);
          const r = decodeDeleteSaList(bytes, base, arch);
          assert.ok(r.ok);
          assert.deepEqual(
            r.value,
            handles.map((offloadHandle, i) => ({ offloadHandle, entryOffset: entryOffsets[i] }))
          );
        }
      )
    );
  });

  test(`DELETE_SA ${arch}: short buffers, wrong headers and bad Next pointers`, () => {
    const base = BASE[arch];
    const { bytes } = encodeDeleteSaList([1n, 2n, 3n], base, arch);
    for (let n = 0; n < bytes.length; n++) {
      const r = decodeDeleteSaList(bytes.subarray(0, n), base, arch);
      assert.ok(!r.ok, `length ${n}`);
      const atEntryStart = n % D.size === 0 && n > 0;
      assert.equal(
        r.status,
        atEntryStart
          ? NdisStatus.NDIS_STATUS_INVALID_DATA
          : NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
        `length ${n}`
      );
      if (!atEntryStart) assert.equal(r.bytesNeeded, (Math.floor(n / D.size) + 1) * D.size);
    }
    assert.deepEqual(why(decodeDeleteSaList(bytes.subarray(0, D.OffloadHandle + 1), base, arch)), [
      NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
      'OffloadHandle',
      D.OffloadHandle,
    ]);
    const patched = (off: number, v: number): Uint8Array => {
      const b = bytes.slice();
      b[off] = v;
      return b;
    };
    assert.deepEqual(why(decodeDeleteSaList(patched(D.size, 0x7f), base, arch)), [
      NdisStatus.NDIS_STATUS_INVALID_LENGTH,
      'Header.Type',
      D.size,
    ]);
    assert.deepEqual(why(decodeDeleteSaList(patched(1, 0), base, arch)), [
      NdisStatus.NDIS_STATUS_INVALID_LENGTH,
      'Header.Revision',
      1,
    ]);
    assert.deepEqual(why(decodeDeleteSaList(patched(2, D.size - 1), base, arch)), [
      NdisStatus.NDIS_STATUS_INVALID_LENGTH,
      'Header.Size',
      2,
    ]);
    const withNext = (entryAt: number, next: bigint): Uint8Array => {
      const b = bytes.slice();
      const dv = new DataView(b.buffer);
      if (arch === 'x64') dv.setBigUint64(entryAt + D.Next, next, true);
      else dv.setUint32(entryAt + D.Next, Number(next), true);
      return b;
    };
    const INVALID_DATA = NdisStatus.NDIS_STATUS_INVALID_DATA;
    assert.deepEqual(why(decodeDeleteSaList(withNext(0, base + 2n), base, arch)), [
      INVALID_DATA,
      'Next',
      D.Next,
    ]);
    assert.deepEqual(
      why(decodeDeleteSaList(withNext(0, base + BigInt(bytes.length)), base, arch)),
      [INVALID_DATA, 'Next', D.Next]
    );
    assert.deepEqual(why(decodeDeleteSaList(withNext(0, base), base, arch)), [
      INVALID_DATA,
      'Next',
      D.Next,
    ]);
    assert.deepEqual(
      why(decodeDeleteSaList(withNext(2 * D.size, base + BigInt(D.size)), base, arch)),
      [INVALID_DATA, 'Next', 2 * D.size + D.Next]
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), baseAddress(arch), (b, base2) => {
        decodeDeleteSaList(b, base2, arch);
      })
    );
    assert.throws(() => encodeDeleteSaList([], base, arch), /at least one handle/);
    if (arch === 'x86')
      assert.throws(() => encodeDeleteSaList([2n ** 32n], base, arch), /OffloadHandle/);
  });
}
