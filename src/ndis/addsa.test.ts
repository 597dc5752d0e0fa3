import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ARCHES, pointerSize, type Decoded } from './abi.ts';
import {
  ADD_SA,
  addSaSpan,
  decodeAddSaList,
  encodeAddSaList,
  readAddSaHandle,
  writeAddSa,
  writeAddSaHandle,
  type AddSaEntry,
} from './addsa.ts';
import type { SaBundle } from './sa.ts';
import { NdisStatus } from './status.ts';
import { baseAddress, be32, bundle, distinctBundle, le } from '../../tests/ndis-fixtures.ts';

/**
 * IPSEC_OFFLOAD_V2_ADD_SA offsets written out from reference §2.5 (x64 PDB dump; x86 table),
 * independently of the ADD_SA table in addsa.ts.
 */
const DOC = {
  x64: {
    Next: 0x08,
    NumExtHdrs: 0x10,
    Flags: 0x14,
    Src: 0x18,
    Dst4: 0x1c,
    Dst6: 0x28,
    OffloadHandle: 0x38,
    UdpEsp: 0x40,
    SecAssoc: 0x44,
    KeyLength: 0xa4,
    KeyData: 0xa8,
    sizeofRev1: 0xa9,
    sizeof: 0xb0,
  },
  x86: {
    Next: 0x04,
    NumExtHdrs: 0x08,
    Flags: 0x0c,
    Src: 0x10,
    Dst4: 0x14,
    Dst6: 0x20,
    OffloadHandle: 0x30,
    UdpEsp: 0x34,
    SecAssoc: 0x38,
    KeyLength: 0x98,
    KeyData: 0x9c,
    sizeofRev1: 0x9d,
    sizeof: 0xa0,
  },
} as const;

const BASE = { x64: 0xffffc000_12340000n, x86: 0x8a120000n } as const;

/** The failure fields that matter, for one-line comparisons. */
function why<T>(r: Decoded<T>): [number, string, number] | 'ok' {
  return r.ok ? 'ok' : [r.status, r.field, r.offset];
}

/** Entries without their offsets, to compare with the encoder's input. */
function strip(entries: readonly AddSaEntry[]): SaBundle[] {
  return entries.map((e) => {
    const rest: Record<string, unknown> = { ...e };
    delete rest['entryOffset'];
    return rest as unknown as SaBundle;
  });
}

for (const arch of ARCHES) {
  const D = DOC[arch];
  const P = pointerSize(arch);

  test(`ADD_SA ${arch}: sizes match the reference (sizeof 0x${D.sizeof.toString(16)}, SIZEOF_REVISION_1 0x${D.sizeofRev1.toString(16)})`, () => {
    assert.equal(ADD_SA[arch].size, D.sizeof);
    assert.equal(ADD_SA[arch].SIZEOF_REVISION_1, D.sizeofRev1);
    assert.equal(
      ADD_SA[arch].SecAssoc + 2 * 0x30,
      D.KeyLength,
      'SecAssoc[2] ends where KeyLength starts'
    );
    assert.equal(addSaSpan({ keyData: new Uint8Array(0) }, arch), D.sizeofRev1);
    assert.equal(addSaSpan({ keyData: new Uint8Array(36) }, arch), D.KeyData + 36);
  });

  for (const ipv6 of [false, true]) {
    test(`ADD_SA ${arch} ${ipv6 ? 'IPv6' : 'IPv4'}: every field at its documented offset`, () => {
      const sa = distinctBundle(arch, ipv6, 5);
      const next = arch === 'x64' ? 0xaabbccdd_eeff0018n : 0xaabbccd8n;
      const out = new Uint8Array(0x200).fill(0xa5);
      const span = writeAddSa(out, 0, sa, next, arch);
      assert.equal(span, Math.max(D.sizeofRev1, D.KeyData + 5));
      assert.deepEqual(
        [...out.subarray(0, 4)],
        [0x80, 0x01, D.sizeofRev1, 0x00],
        'Header: Type 0x80, Revision 1, Size'
      );
      assert.equal(le(out, D.Next, P), next);
      assert.equal(le(out, D.NumExtHdrs, 4), 2n);
      assert.equal(le(out, D.Flags, 4), ipv6 ? 0x11n : 0x01n);
      const n = ipv6 ? 16 : 4;
      assert.deepEqual(
        [...out.subarray(D.Src, D.Src + n)],
        [...sa.src],
        'SrcAddr in network order'
      );
      const dst = ipv6 ? D.Dst6 : D.Dst4;
      assert.deepEqual([...out.subarray(dst, dst + n)], [...sa.dst], 'DestAddr in network order');
      if (!ipv6)
        assert.deepEqual(
          [...out.subarray(D.Dst4 + 4, D.OffloadHandle)].filter((b) => b !== 0),
          [],
          'rest of the union zeroed'
        );
      assert.equal(le(out, D.OffloadHandle, P), sa.offloadHandle);
      assert.equal(le(out, D.UdpEsp, 4), 4n);
      for (let i = 0; i < 2; i++) {
        const at = D.SecAssoc + i * 0x30;
        const s = sa.secAssoc[i];
        assert.equal(le(out, at + 0x00, 4), BigInt(s.flags), `SecAssoc[${i}].Flags`);
        assert.equal(le(out, at + 0x04, 4), BigInt(s.operation), `SecAssoc[${i}].Operation`);
        assert.equal(be32(out, at + 0x08), s.spi, `SecAssoc[${i}].Spi (network order)`);
        assert.equal(le(out, at + 0x0c, 4), BigInt(s.authenticationAlgorithm.identifier));
        assert.equal(le(out, at + 0x10, 4), BigInt(s.authenticationAlgorithm.keyLength));
        assert.equal(le(out, at + 0x14, 4), BigInt(s.authenticationAlgorithm.keyOffsetBytes));
        assert.equal(le(out, at + 0x18, 4), BigInt(s.authenticationAlgorithm.additionalInfo));
        assert.equal(le(out, at + 0x1c, 4), BigInt(s.encryptionAlgorithm.identifier));
        assert.equal(le(out, at + 0x20, 4), BigInt(s.encryptionAlgorithm.keyLength));
        assert.equal(le(out, at + 0x24, 4), BigInt(s.encryptionAlgorithm.keyOffsetBytes));
        assert.equal(le(out, at + 0x28, 4), BigInt(s.encryptionAlgorithm.additionalInfo));
        assert.equal(
          le(out, at + 0x2c, 4),
          BigInt(s.sequenceNumberHighOrder),
          `SecAssoc[${i}].SequenceNumberHighOrder`
        );
      }
      assert.equal(le(out, D.KeyLength, 4), 5n);
      assert.deepEqual([...out.subarray(D.KeyData, D.KeyData + 5)], [0xd0, 0xd1, 0xd2, 0xd3, 0xd4]);
      if (arch === 'x64')
        assert.deepEqual([...out.subarray(4, 8)], [0, 0, 0, 0], 'padding after Header zeroed');
      assert.equal(out[span], 0xa5, 'nothing written past the span');
    });
  }

  test(`ADD_SA ${arch}: lists of 1–5 entries round-trip (IPv4 and IPv6)`, () => {
    fc.assert(
      fc.property(
        fc.array(bundle(arch), { minLength: 1, maxLength: 5 }),
        baseAddress(arch),
        (entries, base) => {
          const { bytes, entryOffsets } = encodeAddSaList(entries, base, arch);
          const r = decodeAddSaList(bytes, base, arch);
          assert.ok(r.ok, JSON.stringify(why(r)));
          assert.deepEqual(strip(r.value), entries);
          assert.deepEqual(
            r.value.map((e) => e.entryOffset),
            entryOffsets
          );
          for (const off of entryOffsets) assert.equal(off % P, 0, 'entries are pointer-aligned');
        }
      )
    );
  });

  test(`ADD_SA ${arch}: the miniport writes each handle back at the entry's OffloadHandle`, () => {
    const entries = [
      distinctBundle(arch, false),
      distinctBundle(arch, true, 33),
      distinctBundle(arch, false, 0),
    ].map((e) => ({ ...e, offloadHandle: 0n }));
    const base = BASE[arch];
    const { bytes } = encodeAddSaList(entries, base, arch);
    const r = decodeAddSaList(bytes, base, arch);
    assert.ok(r.ok);
    const handles =
      arch === 'x64'
        ? [0xffffa001_00000010n, 0n, 0xffffa001_00000030n]
        : [0x9000_0010n, 0n, 0x9000_0030n];
    r.value.forEach((e, i) => {
      writeAddSaHandle(bytes, e.entryOffset, handles[i], arch);
    });
    const again = decodeAddSaList(bytes, base, arch);
    assert.ok(again.ok);
    assert.deepEqual(
      again.value.map((e) => e.offloadHandle),
      handles
    );
    assert.deepEqual(
      r.value.map((e) => readAddSaHandle(bytes, e.entryOffset, arch)),
      handles
    );
    assert.throws(() => {
      writeAddSaHandle(bytes, 3, 1n, arch);
    }, /entry offset/);
    if (arch === 'x86')
      assert.throws(() => {
        writeAddSaHandle(bytes, 0, 0x1_0000_0000n, arch);
      }, /OffloadHandle: expected a value from 0 to 0xffffffff/);
  });

  test(`ADD_SA ${arch}: a short buffer at every length is BUFFER_TOO_SHORT with BytesNeeded, never a throw`, () => {
    const entries = [distinctBundle(arch, true, 20), distinctBundle(arch, false, 3)];
    const base = BASE[arch];
    const { bytes, entryOffsets } = encodeAddSaList(entries, base, arch);
    const second = entryOffsets[1];
    for (let n = 0; n < bytes.length; n++) {
      const r = decodeAddSaList(bytes.subarray(0, n), base, arch);
      assert.ok(!r.ok, `length ${n}`);
      if (n < D.sizeofRev1) {
        assert.equal(r.status, NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT, `length ${n}`);
        assert.equal(r.bytesNeeded, D.sizeofRev1);
      } else if (n < D.KeyData + 20) {
        assert.deepEqual(
          why(r),
          [NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT, 'KeyLength', D.KeyLength],
          `length ${n}`
        );
        assert.equal(r.bytesNeeded, D.KeyData + 20);
      } else if (n <= second) {
        // The first entry's Next points past the end of what was given.
        assert.deepEqual(
          why(r),
          [NdisStatus.NDIS_STATUS_INVALID_DATA, 'Next', D.Next],
          `length ${n}`
        );
      } else {
        assert.equal(r.status, NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT, `length ${n}`);
        assert.ok(r.bytesNeeded! > n && r.bytesNeeded! <= bytes.length);
      }
    }
    const r0 = decodeAddSaList(new Uint8Array(0), base, arch);
    assert.deepEqual(why(r0), [NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT, 'Header', 0]);
    assert.deepEqual(why(decodeAddSaList(bytes.subarray(0, D.Next + 1), base, arch)), [
      NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
      'Next',
      D.Next,
    ]);
    assert.deepEqual(why(decodeAddSaList(bytes.subarray(0, D.KeyData), base, arch)), [
      NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
      'KeyData',
      D.KeyData,
    ]);
    assert.deepEqual(why(decodeAddSaList(bytes.subarray(0, second + 2), base, arch)), [
      NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT,
      'Header',
      second,
    ]);
  });

  test(`ADD_SA ${arch}: a wrong Header is INVALID_LENGTH naming Type, Revision or Size`, () => {
    const base = BASE[arch];
    const { bytes, entryOffsets } = encodeAddSaList(
      [distinctBundle(arch, false), distinctBundle(arch, true)],
      base,
      arch
    );
    const at = entryOffsets[1];
    const patched = (off: number, value: number): Uint8Array => {
      const b = bytes.slice();
      b[off] = value;
      return b;
    };
    const INVALID_LENGTH = NdisStatus.NDIS_STATUS_INVALID_LENGTH;
    assert.deepEqual(why(decodeAddSaList(patched(0, 0xa7), base, arch)), [
      INVALID_LENGTH,
      'Header.Type',
      0,
    ]);
    assert.deepEqual(why(decodeAddSaList(patched(1, 0), base, arch)), [
      INVALID_LENGTH,
      'Header.Revision',
      1,
    ]);
    assert.deepEqual(why(decodeAddSaList(patched(2, D.sizeofRev1 - 1), base, arch)), [
      INVALID_LENGTH,
      'Header.Size',
      2,
    ]);
    assert.deepEqual(why(decodeAddSaList(patched(at, 0x00), base, arch)), [
      INVALID_LENGTH,
      'Header.Type',
      at,
    ]);
    assert.deepEqual(why(decodeAddSaList(patched(at + 1, 0), base, arch)), [
      INVALID_LENGTH,
      'Header.Revision',
      at + 1,
    ]);
    assert.deepEqual(why(decodeAddSaList(patched(at + 2, 0x10), base, arch)), [
      INVALID_LENGTH,
      'Header.Size',
      at + 2,
    ]);
    // Accepted: a later Revision and Size = sizeof(IPSEC_OFFLOAD_V2_ADD_SA) (the header comment's choice).
    assert.equal(why(decodeAddSaList(patched(1, 2), base, arch)), 'ok');
    assert.equal(why(decodeAddSaList(patched(2, D.sizeof), base, arch)), 'ok');
  });

  test(`ADD_SA ${arch}: bad Next pointers are INVALID_DATA naming Next at its offset`, () => {
    const base = BASE[arch];
    const three = [
      distinctBundle(arch, false, 4),
      distinctBundle(arch, true, 4),
      distinctBundle(arch, false, 4),
    ];
    const { bytes, entryOffsets } = encodeAddSaList(three, base, arch);
    const [, second, third] = entryOffsets;
    const withNext = (entryAt: number, next: bigint): Uint8Array => {
      const b = bytes.slice();
      const dv = new DataView(b.buffer);
      if (arch === 'x64') dv.setBigUint64(entryAt + D.Next, next, true);
      else dv.setUint32(entryAt + D.Next, Number(next), true);
      return b;
    };
    const INVALID_DATA = NdisStatus.NDIS_STATUS_INVALID_DATA;
    const expectNext = (b: Uint8Array, entryAt: number, reason: RegExp): void => {
      const r = decodeAddSaList(b, base, arch);
      assert.deepEqual(why(r), [INVALID_DATA, 'Next', entryAt + D.Next]);
      assert.ok(!r.ok);
      assert.match(r.reason, reason);
    };
    expectNext(
      withNext(0, base + BigInt(second) + BigInt(P / 2)),
      0,
      new RegExp(`pointer not aligned to ${P}`)
    );
    expectNext(withNext(0, base + BigInt(second) + 1n), 0, /not aligned/);
    expectNext(
      withNext(0, base + BigInt(Math.ceil(bytes.length / P) * P)),
      0,
      /outside the buffer/
    );
    expectNext(withNext(0, base + 0x100000n), 0, /outside the buffer/);
    expectNext(withNext(0, base - BigInt(P)), 0, /outside the buffer/);
    expectNext(withNext(0, base), 0, /pointer to itself/);
    expectNext(withNext(second, base + BigInt(second)), second, /pointer to itself/);
    expectNext(withNext(third, base), third, /earlier entry at 0x0 \(a cycle\)/);
    expectNext(withNext(third, base + BigInt(second)), third, /a cycle/);
    expectNext(withNext(second, base + BigInt(8 * P)), second, /pointer into an earlier entry/);
  });

  test(`ADD_SA ${arch}: a Next pointing backwards without a cycle is followed; overlapping entries are refused`, () => {
    const base = BASE[arch];
    // Entry 0 at 0 → entry B at 0x200 → entry C at 0x100 (backwards, but fresh memory).
    const out = new Uint8Array(0x300);
    const a = distinctBundle(arch, false, 4);
    const b = distinctBundle(arch, true, 8);
    const c = distinctBundle(arch, false, 0);
    writeAddSa(out, 0, a, base + 0x200n, arch);
    writeAddSa(out, 0x200, b, base + 0x100n, arch);
    writeAddSa(out, 0x100, c, 0n, arch);
    const r = decodeAddSaList(out, base, arch);
    assert.ok(r.ok, JSON.stringify(why(r)));
    assert.deepEqual(
      r.value.map((e) => e.entryOffset),
      [0, 0x200, 0x100]
    );
    assert.deepEqual(strip(r.value), [a, b, c]);
    // Now C's key runs on into B: C overlaps an earlier entry. (Write C first, B over its key.)
    writeAddSa(out, 0x100, { ...c, keyData: new Uint8Array(0x100) }, 0n, arch);
    writeAddSa(out, 0x200, b, base + 0x100n, arch);
    const bad = decodeAddSaList(out, base, arch);
    assert.deepEqual(why(bad), [NdisStatus.NDIS_STATUS_INVALID_DATA, 'Next', 0x200 + D.Next]);
    assert.ok(!bad.ok && /overlaps an earlier entry/.test(bad.reason));
  });

  test(`ADD_SA ${arch}: KeyLength past the buffer is BUFFER_TOO_SHORT naming KeyLength`, () => {
    const base = BASE[arch];
    const { bytes } = encodeAddSaList([distinctBundle(arch, false, 4)], base, arch);
    for (const keyLength of [5, 0x1000, 0xffffffff]) {
      const b = bytes.slice();
      new DataView(b.buffer).setUint32(D.KeyLength, keyLength, true);
      const r = decodeAddSaList(b, base, arch);
      assert.deepEqual(why(r), [NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT, 'KeyLength', D.KeyLength]);
      assert.ok(!r.ok);
      assert.equal(r.bytesNeeded, D.KeyData + keyLength);
    }
  });

  test(`ADD_SA ${arch}: NumExtHdrs outside 1…2 is INVALID_DATA naming NumExtHdrs`, () => {
    const base = BASE[arch];
    const { bytes } = encodeAddSaList([distinctBundle(arch, false, 4)], base, arch);
    for (const n of [0, 3, 0xffffffff]) {
      const b = bytes.slice();
      new DataView(b.buffer).setUint32(D.NumExtHdrs, n, true);
      assert.deepEqual(why(decodeAddSaList(b, base, arch)), [
        NdisStatus.NDIS_STATUS_INVALID_DATA,
        'NumExtHdrs',
        D.NumExtHdrs,
      ]);
    }
    const one = encodeAddSaList(
      [
        {
          ...distinctBundle(arch, false, 4),
          numExtHdrs: 1,
          secAssoc: [distinctBundle(arch, false).secAssoc[0]],
        },
      ],
      base,
      arch
    );
    const r = decodeAddSaList(one.bytes, base, arch);
    assert.ok(r.ok);
    assert.equal(r.value[0].secAssoc.length, 1);
  });

  test(`ADD_SA ${arch}: random and mutated bytes never throw`, () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), baseAddress(arch), (b, base) => {
        const r = decodeAddSaList(b, base, arch);
        if (!r.ok) assert.ok(r.offset >= 0 && r.offset <= b.length + 8);
      })
    );
    fc.assert(
      fc.property(
        fc.array(bundle(arch), { minLength: 1, maxLength: 3 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        (entries, flips) => {
          const base = BASE[arch];
          const { bytes } = encodeAddSaList(entries, base, arch);
          for (const [i, v] of flips) bytes[i % bytes.length] = v;
          decodeAddSaList(bytes, base, arch);
        }
      )
    );
  });

  test(`ADD_SA ${arch}: misusing the encoder or the base address throws`, () => {
    assert.throws(() => decodeAddSaList(new Uint8Array(0x100), BASE[arch] + 2n, arch), /aligned/);
    assert.throws(() => decodeAddSaList(new Uint8Array(0x100), -8n, arch), RangeError);
    assert.throws(() => encodeAddSaList([], BASE[arch], arch), /at least one entry/);
    const sa = distinctBundle(arch, false);
    assert.throws(
      () => encodeAddSaList([{ ...sa, src: new Uint8Array(16) }], BASE[arch], arch),
      /4-byte src and dst/
    );
    assert.throws(
      () => encodeAddSaList([{ ...sa, numExtHdrs: 1 }], BASE[arch], arch),
      /NumExtHdrs/
    );
    assert.throws(
      () => encodeAddSaList([{ ...sa, udpEspEncapsulation: 2 ** 32 }], BASE[arch], arch),
      /UdpEspEncapsulation/
    );
    assert.throws(() => writeAddSa(new Uint8Array(0x50), 0, sa, 0n, arch), /expected room/);
  });
}

test('ADD_SA x86 top of the address space: the base plus the buffer must fit in 32 bits', () => {
  assert.throws(() => decodeAddSaList(new Uint8Array(0x100), 0xffffff00n + 4n, 'x86'), RangeError);
  const r = decodeAddSaList(new Uint8Array(0x100), 0xffffff00n, 'x86');
  assert.ok(!r.ok);
});

/** The x64 layout from the ndis.sys PDB dump, byte for byte, for a known single entry. */
test('ADD_SA x64: a hand-assembled entry decodes to the expected record', () => {
  const b = new Uint8Array(0xb0);
  const dv = new DataView(b.buffer);
  b.set([0x80, 0x01, 0xb0, 0x00]); // Header, Size = sizeof
  dv.setUint32(0x10, 1, true); // NumExtHdrs
  dv.setUint32(0x14, 0x00000000, true); // outbound IPv4
  b.set([192, 0, 2, 1], 0x18);
  b.set([198, 51, 100, 7], 0x1c);
  dv.setUint32(0x44 + 0x04, 2, true); // IPsecOffloadV2Esp
  b.set([0x00, 0x00, 0x10, 0x01], 0x44 + 0x08); // SPI 0x1001 in network order
  dv.setUint32(0x44 + 0x1c, 0x08, true); // ENCRYPTION_AES_GCM_128
  dv.setUint32(0x44 + 0x20, 4, true); // KeyLength of the algorithm (a toy value)
  dv.setUint32(0x44 + 0x28, 16, true); // AdditionalInfo: ICV 16
  dv.setUint32(0xa4, 4, true); // KeyLength
  b.set([1, 2, 3, 4], 0xa8);
  const r = decodeAddSaList(b, 0x10000n, 'x64');
  assert.ok(r.ok);
  const e = r.value[0];
  assert.deepEqual([...e.src], [192, 0, 2, 1]);
  assert.deepEqual([...e.dst], [198, 51, 100, 7]);
  assert.deepEqual(e.flags, { inbound: false, ipv6: false });
  assert.equal(e.secAssoc[0].spi, 0x1001);
  assert.equal(e.secAssoc[0].operation, 2);
  assert.deepEqual(e.secAssoc[0].encryptionAlgorithm, {
    identifier: 8,
    keyLength: 4,
    keyOffsetBytes: 0,
    additionalInfo: 16,
  });
  assert.deepEqual([...e.keyData], [1, 2, 3, 4]);
  assert.equal(e.offloadHandle, 0n);
});
