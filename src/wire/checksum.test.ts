import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fromHex } from './bytes.ts';
import * as checksum from './checksum.ts';

/** Hex with `//` comments per line. */
const hex = (text: string): Uint8Array => fromHex(text.replace(/\/\/.*$/gm, ''));

test('RFC 1071 §3 numerical example: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2, checksum 220d', () => {
  const bytes = fromHex('0001 f203 f4f5 f6f7');
  assert.equal(checksum.sum16(bytes), 0x0001 + 0xf203 + 0xf4f5 + 0xf6f7, 'unfolded');
  assert.equal(checksum.fold(checksum.sum16(bytes)), 0xddf2);
  assert.equal(checksum.checksum(bytes), 0x220d);
  // RFC 1071 §2(C): the sum is computed in parallel by words, any split adds up the same.
  assert.equal(
    checksum.fold(checksum.sum16(bytes.subarray(4), checksum.sum16(bytes.subarray(0, 4)))),
    0xddf2
  );
});

test('odd lengths: the last byte is the high byte of a zero-padded word (RFC 1071 §4.1)', () => {
  assert.equal(checksum.sum16(fromHex('01')), 0x0100);
  assert.equal(checksum.sum16(fromHex('abcdef')), 0xabcd + 0xef00);
  assert.equal(checksum.fold(0xabcd + 0xef00), 0x9ace);
  assert.equal(checksum.checksum(new Uint8Array(0)), 0xffff);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 99 }), (bytes) => {
      const padded = new Uint8Array(bytes.length + (bytes.length % 2));
      padded.set(bytes);
      assert.equal(checksum.sum16(bytes), checksum.sum16(padded));
    })
  );
});

test('sum16 reads a subarray window, not the whole buffer', () => {
  const buffer = fromHex('ffff 0001 f203 f4f5 f6f7 ffff');
  assert.equal(checksum.checksum(buffer.subarray(2, 10)), 0x220d);
});

test('fold handles unfolded sums beyond 32 bits', () => {
  assert.equal(checksum.fold(0x1_0000_0000), 0x0001);
  const words = new Uint8Array(2 * 70_000).fill(0xff); // 70 000 × 0xffff > 2^32
  assert.ok(checksum.sum16(words) > 0xffff_ffff);
  assert.equal(checksum.fold(checksum.sum16(words)), 0xffff);
  assert.equal(checksum.checksum(words), 0x0000);
});

test('real IPv4 headers with known checksums verify to 0 and recompute to the stored value', () => {
  // Wikipedia "Internet checksum" / "IPv4 header checksum" example header: checksum b861.
  const wikipedia = hex(`
    4500 0073 0000 4000 4011 // version 4, IHL 5, TOS 0, total 115, id 0, DF, TTL 64, UDP
    b861                     // header checksum
    c0a8 0001 c0a8 00c7      // 192.168.0.1 → 192.168.0.199
  `);
  // A captured IPv4/TCP FTP segment (see ipv4.test.ts): checksum 0f98.
  const ftp = hex('4500 003c 1bdd 4000 8006 0f98 50dd 914d 50dd 9c3f');
  for (const [header, stored] of [
    [wikipedia, 0xb861],
    [ftp, 0x0f98],
  ] as const) {
    assert.equal(checksum.checksum(header), 0, 'a correct header sums to 0xffff');
    const zeroed = header.slice();
    zeroed[10] = 0;
    zeroed[11] = 0;
    assert.equal(checksum.checksum(zeroed), stored);
  }
});

test('TCP over IPv4 and ICMPv6 over IPv6 verify with their pseudo-headers', () => {
  // The FTP capture of ipv4.test.ts: 80.221.145.77 → 80.221.156.63, TCP, 40 bytes.
  const tcp = hex(`
    c2e7 0015 a293 7c19 dace f013 5018 1eef 2725 0000 // TCP header, checksum 2725
    5354 4f52 2073 616c 6173 616e 6174 2e7a 6970 0d0a // "STOR salasanat.zip\\r\\n"
  `);
  const seed4 = checksum.pseudoHeaderV4(fromHex('50dd914d'), fromHex('50dd9c3f'), 6, tcp.length);
  assert.equal(checksum.finish(checksum.sum16(tcp, seed4)), 0);
  // smoltcp src/wire/icmpv6.rs ECHO_PACKET_BYTES, fe80::1 → fe80::2: checksum 19b3.
  const echo = fromHex('8000 19b3 1234 abcd aa00 00ff');
  const src = fromHex('fe80 0000 0000 0000 0000 0000 0000 0001');
  const dst = fromHex('fe80 0000 0000 0000 0000 0000 0000 0002');
  const seed6 = checksum.pseudoHeaderV6(src, dst, 58, echo.length);
  assert.equal(checksum.finish(checksum.sum16(echo, seed6)), 0);
  const zeroed = echo.slice();
  zeroed[2] = 0;
  zeroed[3] = 0;
  assert.equal(checksum.finish(checksum.sum16(zeroed, seed6)), 0x19b3);
});

test('the LSO seed is the pseudo-header without the length (contract D2)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      fc.integer({ min: 0, max: 0xffff }),
      (src, dst, length) => {
        const v4 = [src.subarray(0, 4), dst.subarray(0, 4)] as const;
        assert.equal(
          checksum.fold(checksum.pseudoHeaderV4(...v4, 6, 0) + length),
          checksum.fold(checksum.pseudoHeaderV4(...v4, 6, length))
        );
        assert.equal(
          checksum.fold(checksum.pseudoHeaderV6(src, dst, 6, 0) + length),
          checksum.fold(checksum.pseudoHeaderV6(src, dst, 6, length))
        );
      }
    )
  );
  // A pseudo-header is the plain sum of its bytes laid out as RFC 793 §3.1 and RFC 8200 §8.1 draw them.
  const src = fromHex('c0000201');
  const dst = fromHex('c6336407');
  assert.equal(
    checksum.fold(checksum.pseudoHeaderV4(src, dst, 17, 0x1234)),
    checksum.fold(checksum.sum16(fromHex('c0000201 c6336407 00 11 1234')))
  );
  const src6 = fromHex('20010db8000000000000000000000001');
  const dst6 = fromHex('20010db8000000000000000000000002');
  assert.equal(
    checksum.fold(checksum.pseudoHeaderV6(src6, dst6, 6, 0x12345)),
    checksum.fold(
      checksum.sum16(
        hex(`
          20010db8 00000000 00000000 00000001 // source
          20010db8 00000000 00000000 00000002 // destination
          00012345                            // upper-layer packet length
          000000 06                           // zero, next header
        `)
      )
    )
  );
});

test('pseudo-header misuse throws RangeError naming what was expected', () => {
  const a4 = new Uint8Array(4);
  const a16 = new Uint8Array(16);
  assert.throws(() => checksum.pseudoHeaderV4(a16, a4, 6, 0), /expected a 4-byte address, got 16/);
  assert.throws(() => checksum.pseudoHeaderV6(a4, a16, 6, 0), /expected a 16-byte address, got 4/);
  assert.throws(() => checksum.pseudoHeaderV4(a4, a4, 6, 0x10000), RangeError);
  assert.throws(() => checksum.pseudoHeaderV6(a16, a16, 256, 0), RangeError);
});

test('RFC 1624 incremental update equals a full recomputation (eqn. 3)', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 2, maxLength: 64 }).map((b) => b.subarray(0, b.length & ~1)),
      fc.nat(),
      fc.integer({ min: 0, max: 0xffff }),
      (data, at, newWord) => {
        const i = (at % (data.length / 2)) * 2;
        const before = checksum.checksum(data);
        const oldWord = (data[i] << 8) | data[i + 1];
        const changed = data.slice();
        changed[i] = newWord >>> 8;
        changed[i + 1] = newWord & 0xff;
        // RFC 1624 §3: one's complement has two zeros; only all-zero data sums to +0.
        fc.pre(changed.some((b) => b !== 0));
        assert.equal(checksum.update(before, oldWord, newWord), checksum.checksum(changed));
      }
    )
  );
});

test('RFC 1624 §4 corner case: the update lands on 0x0000, where RFC 1141 eqn. 2 gave 0xffff', () => {
  // Header sum of the other words 0xcd7a, the changing word 0x5555 → 0x3285.
  const before = fromHex('cd7a 5555');
  const after = fromHex('cd7a 3285');
  assert.equal(checksum.checksum(before), 0xdd2f);
  assert.equal(checksum.checksum(after), 0x0000);
  assert.equal(checksum.update(0xdd2f, 0x5555, 0x3285), 0x0000);
  const eqn2 = checksum.fold(0xdd2f + 0x5555 + (~0x3285 & 0xffff)); // HC' = HC + m + ~m'
  assert.equal(eqn2, 0xffff, 'the RFC 1141 formula gets -0 instead');
  // And back: updating a 0x0000 checksum is fine too.
  assert.equal(checksum.update(0x0000, 0x3285, 0x5555), 0xdd2f);
});

test('a real packet whose correct checksum is 0x0000 (ICMPv6 NS from Fuchsia netsvc tests)', () => {
  // Neighbor Solicitation fe80::1257:df14:68b8:b61a → ff02::1:ff3d:785c, checksum field 0000.
  const src = fromHex('fe80 0000 0000 0000 1257 df14 68b8 b61a');
  const dst = fromHex('ff02 0000 0000 0000 0000 0001 ff3d 785c');
  const message = hex(`
    8700 0000 0000 0000                     // type 135, code 0, checksum 0000, reserved
    fe80 0000 0000 0000 50b6 a1fe fe3d 785c // target address
    0101 f6ad 045f 8f68                     // source link-layer address option
  `);
  const seed = checksum.pseudoHeaderV6(src, dst, 58, message.length);
  assert.equal(checksum.fold(checksum.sum16(message, seed)), 0xffff, 'sums to -0: valid');
  assert.equal(checksum.finish(checksum.sum16(message, seed)), 0x0000);
});

test('sumRange equals sum16 over the same window: any alignment, length, seed (RFC 1071 §2(B), §2(C))', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ minLength: 0, maxLength: 3000 }),
      fc.nat(7),
      fc.nat(),
      fc.nat(),
      fc.nat({ max: 0xfffff }),
      (data, shift, a, b, seed) => {
        // A buffer whose byteOffset is `shift`, so every alignment of the window occurs.
        const backing = new Uint8Array(data.length + 8);
        const bytes = backing.subarray(shift, shift + data.length);
        bytes.set(data);
        const start = data.length === 0 ? 0 : a % (data.length + 1);
        const end = start + (data.length === 0 ? 0 : b % (data.length - start + 1));
        const want = checksum.fold(checksum.sum16(bytes.subarray(start, end), seed));
        assert.equal(checksum.fold(checksum.sumRange(bytes, start, end, seed)), want);
        assert.equal(
          checksum.finish(checksum.sumRange(bytes, start, end, seed)),
          checksum.finish(checksum.sum16(bytes.subarray(start, end), seed))
        );
      }
    ),
    { numRuns: 500 }
  );
});

test('sumRange: all-ones words and all-zero words fold as the byte-wise sum does', () => {
  for (const fill of [0x00, 0xff, 0x80, 0x01]) {
    for (const length of [32, 33, 64, 1400, 1401]) {
      const bytes = new Uint8Array(length + 4).fill(fill).subarray(2);
      assert.equal(
        checksum.finish(checksum.sumRange(bytes, 0, length)),
        checksum.finish(checksum.sum16(bytes.subarray(0, length))),
        `fill ${fill}, length ${length}`
      );
    }
  }
});
