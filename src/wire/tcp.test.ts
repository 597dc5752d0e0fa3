import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as tcp from './tcp.ts';
import * as checksum from './checksum.ts';
import { fromHex } from './bytes.ts';
import { assertCodecLaws, type Codec } from '../../tests/laws.ts';

const codec: Codec<tcp.Header, tcp.Segment> = tcp;

/** Hex with `//` comments to the end of each line. */
const hex = (s: string): Uint8Array => fromHex(s.replace(/\/\/.*$/gm, ''));

// A captured TCP SYN (10-OCT-2001), from the sample 'ETHERWATCH' output in Wireshark's
// wiretap/dbs-etherwatch.c. IP header: 4500 003c 3893 0000 1d06 d212, 128.147.17.26 →
// 128.147.128.214 (both checksums are correct).
const SRC = fromHex('8093111a'); // 128.147.17.26
const DST = fromHex('809380d6'); // 128.147.128.214
const SYN = hex(`
  02d2        // Source Port 722
  0203        // Destination Port 515 (printer)
  0028a490    // Sequence Number 2663568
  00000000    // Acknowledgment Number 0
  a0          // Data Offset 10 words (40 bytes), Reserved 0
  02          // flags: SYN
  ffff        // Window 65535
  95bd        // Checksum 0x95bd
  0000        // Urgent Pointer 0
  020405b4    // MSS 1460
  030304      // Window Scale, shift 4
  010101      // NOP, NOP, NOP
  080a 9090e514 00000000   // Timestamps TSval 0x9090e514, TSecr 0
`);
const SYN_HEADER: tcp.Header = {
  srcPort: 722,
  dstPort: 515,
  sequenceNumber: 0x0028a490,
  acknowledgmentNumber: 0,
  flags: tcp.Flags.Syn,
  window: 65535,
  urgentPointer: 0,
  options: [
    { type: 'mss', mss: 1460 },
    { type: 'window-scale', shift: 4 },
    { type: 'nop' },
    { type: 'nop' },
    { type: 'nop' },
    { type: 'timestamps', tsVal: 0x9090e514, tsEcr: 0 },
  ],
};
const PSEUDO = checksum.pseudoHeaderV4(SRC, DST, 6, SYN.length);

test('captured SYN: getters', () => {
  assert.equal(SYN.length, 40);
  const v = new tcp.View(SYN);
  assert.equal(v.srcPort, 722);
  assert.equal(v.dstPort, 515);
  assert.equal(v.sequenceNumber, 0x0028a490);
  assert.equal(v.acknowledgmentNumber, 0);
  assert.equal(v.dataOffset, 10);
  assert.equal(v.headerLength, 40);
  assert.equal(v.reserved, 0);
  assert.equal(v.flags, 0x02);
  assert.deepEqual(
    [v.cwr, v.ece, v.urg, v.ack, v.psh, v.rst, v.syn, v.fin],
    [false, false, false, false, false, false, true, false]
  );
  assert.equal(v.window, 0xffff);
  assert.equal(v.checksum, 0x95bd);
  assert.equal(v.urgentPointer, 0);
  assert.equal(v.options.length, 20);
  assert.equal(v.payload.length, 0);
});

test('captured SYN: parse gives the header and options; the checksum verifies', () => {
  const r = tcp.parse(SYN);
  assert.ok(r.ok);
  assert.deepEqual(r.value.header, SYN_HEADER);
  assert.equal(r.value.headerLength, 40);
  assert.ok(tcp.checksumValid(SYN, PSEUDO));
  const other = checksum.pseudoHeaderV4(SRC, DST, 17, SYN.length);
  assert.ok(!tcp.checksumValid(SYN, other), 'protocol is part of the pseudo-header');
});

test('captured SYN: emit + fillChecksum rebuild every byte from junk', () => {
  for (const junk of [0xa5, 0x17, 0x00, 0xff]) {
    const out = new Uint8Array(40).fill(junk);
    assert.equal(tcp.emit(SYN_HEADER, out), 40);
    tcp.fillChecksum(out, PSEUDO);
    assert.deepEqual(out, SYN);
  }
});

test('fillChecksum ignores whatever the checksum field held', () => {
  const b = SYN.slice();
  new tcp.View(b).checksum = 0x1234;
  assert.ok(!tcp.checksumValid(b, PSEUDO));
  tcp.fillChecksum(b, PSEUDO);
  assert.deepEqual(b, SYN);
});

test('View setters patch fields in place (what LSO segmentation rewrites)', () => {
  const b = new Uint8Array(44);
  b.set(SYN);
  const v = new tcp.View(b);
  v.sequenceNumber = 0xfffffff0;
  v.acknowledgmentNumber = 7;
  v.flags = tcp.Flags.Ack | tcp.Flags.Psh | tcp.Flags.Fin | tcp.Flags.Cwr;
  v.window = 512;
  v.urgentPointer = 3;
  v.srcPort = 1;
  v.dstPort = 2;
  assert.deepEqual(b.subarray(0, 20), fromHex('0001 0002 fffffff0 00000007 a0 99 0200 95bd 0003'));
  assert.ok(v.fin && v.psh && v.ack && v.cwr && !v.syn && !v.ece);
  v.dataOffset = 5;
  assert.equal(b[12], 0x50);
  assert.equal(v.options.length, 0);
  assert.equal(v.payload.length, 24);
});

test('codec laws: captured SYN, a bare ACK with data, options needing padding', () => {
  assertCodecLaws(codec, SYN_HEADER);
  assertCodecLaws(
    codec,
    { ...SYN_HEADER, flags: tcp.Flags.Ack | tcp.Flags.Psh, options: [] },
    fromHex('48656c6c6f')
  );
  // 3 + 2 bytes of options → padded with three zero bytes to 8.
  const padded: tcp.Header = {
    ...SYN_HEADER,
    options: [{ type: 'window-scale', shift: 7 }, { type: 'sack-permitted' }],
  };
  const bytes = assertCodecLaws(codec, padded);
  assert.equal(bytes.length, 28);
  assert.deepEqual(bytes.subarray(20), fromHex('030307 0402 000000'));
});

test('options: known encodings (RFC 2018 §3 SACK, RFC 7323 timestamps, unknown kept raw)', () => {
  const area = hex(`
    050a 000001f4 000005dc                      // SACK 500–1500
    0512 0000036b 000004c9 000005dc 000009c4    // SACK 875–1225, 1500–2500
    080a 004c4b40 006acfc0                      // Timestamps 5000000, 7000000
    0c05 010203                                 // kind 12, unknown, data 01 02 03
    01                                          // NOP
    00 ffff                                     // End of Option List; what follows is padding
  `);
  assert.deepEqual(tcp.parseOptions(area), {
    ok: true,
    value: [
      { type: 'sack', blocks: [{ left: 500, right: 1500 }] },
      {
        type: 'sack',
        blocks: [
          { left: 875, right: 1225 },
          { left: 1500, right: 2500 },
        ],
      },
      { type: 'timestamps', tsVal: 5000000, tsEcr: 7000000 },
      { type: 'unknown', kind: 12, data: fromHex('010203') },
      { type: 'nop' },
    ],
  });
});

test('options: bad lengths are bad-option at the option, offset from the segment start', () => {
  const cases: [string, number][] = [
    ['0c', 20], // no length octet
    ['0c01', 20], // length < 2
    ['0c0501 02', 20], // runs past the area
    ['0202', 20], // MSS must be 4
    ['01 0302', 21], // Window Scale must be 3
    ['040300', 20], // SACK-Permitted must be 2
    ['0502', 20], // SACK with no block
    ['0506 00000000', 20], // SACK not 8n + 2
    ['0108 0000000000 00', 21], // Timestamps must be 10
  ];
  for (const [h, offset] of cases) {
    assert.deepEqual(
      tcp.parseOptions(fromHex(h)),
      { ok: false, error: { layer: 'tcp', reason: 'bad-option', offset } },
      h
    );
  }
  // In a whole segment: Data Offset 6 with a broken option.
  const b = new Uint8Array(24);
  tcp.emit({ ...SYN_HEADER, options: [] }, b);
  b[12] = 0x60;
  b.set(fromHex('02030000'), 20);
  assert.deepEqual(tcp.parse(b), {
    ok: false,
    error: { layer: 'tcp', reason: 'bad-option', offset: 20 },
  });
});

test('Data Offset below 5 is bad-data-offset; beyond the bytes is truncated', () => {
  for (const offset of [0, 1, 4]) {
    const b = SYN.slice();
    new tcp.View(b).dataOffset = offset;
    assert.deepEqual(tcp.parse(b), {
      ok: false,
      error: { layer: 'tcp', reason: 'bad-data-offset', offset: 12 },
    });
  }
  const b = SYN.slice();
  new tcp.View(b).dataOffset = 15;
  assert.deepEqual(tcp.parse(b), {
    ok: false,
    error: { layer: 'tcp', reason: 'truncated', offset: 40 },
  });
});

test('truncation at every length below the header fails with truncated', () => {
  for (let n = 0; n < 40; n++) {
    assert.deepEqual(tcp.parse(SYN.slice(0, n)), {
      ok: false,
      error: { layer: 'tcp', reason: 'truncated', offset: n },
    });
  }
});

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u16 = fc.integer({ min: 0, max: 0xffff });
const arbOption: fc.Arbitrary<tcp.Option> = fc.oneof(
  fc.constant({ type: 'nop' } as const),
  u16.map((mss) => ({ type: 'mss', mss }) as const),
  fc.integer({ min: 0, max: 255 }).map((shift) => ({ type: 'window-scale', shift }) as const),
  fc.constant({ type: 'sack-permitted' } as const),
  fc
    .array(fc.record({ left: u32, right: u32 }, { noNullPrototype: true }), {
      minLength: 1,
      maxLength: 3,
    })
    .map((blocks) => ({ type: 'sack', blocks }) as const),
  fc.tuple(u32, u32).map(([tsVal, tsEcr]) => ({ type: 'timestamps', tsVal, tsEcr }) as const),
  fc
    .tuple(
      fc.integer({ min: 6, max: 255 }).filter((k) => k !== 8),
      fc.uint8Array({ maxLength: 6 })
    )
    .map(([kind, data]) => ({ type: 'unknown', kind, data }) as const)
);
const arbHeader: fc.Arbitrary<tcp.Header> = fc
  .record(
    {
      srcPort: u16,
      dstPort: u16,
      sequenceNumber: u32,
      acknowledgmentNumber: u32,
      flags: fc.integer({ min: 0, max: 255 }),
      window: u16,
      urgentPointer: u16,
      options: fc.array(arbOption, { maxLength: 6 }),
    },
    { noNullPrototype: true }
  )
  .filter((h) => h.options.reduce((n, o) => n + tcp.optionLength(o), 0) <= 40);

test('parse(emit(h)) = h for generated headers (property)', () => {
  fc.assert(
    fc.property(arbHeader, fc.uint8Array({ maxLength: 32 }), (h, payload) => {
      assertCodecLaws(codec, h, payload);
    })
  );
});

test('fillChecksum then checksumValid; a flipped bit is caught (property)', () => {
  fc.assert(
    fc.property(
      arbHeader,
      fc.uint8Array({ maxLength: 64 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.uint8Array({ minLength: 4, maxLength: 4 }),
      fc.nat({ max: 10_000 }),
      (h, payload, src, dst, flip) => {
        const length = tcp.headerLength(h) + payload.length;
        const b = new Uint8Array(length);
        tcp.emit(h, b);
        b.set(payload, tcp.headerLength(h));
        const pseudo = checksum.pseudoHeaderV4(src, dst, 6, length);
        tcp.fillChecksum(b, pseudo);
        assert.ok(tcp.checksumValid(b, pseudo));
        const i = flip % length;
        b[i] ^= 1 << (flip % 8);
        assert.ok(!tcp.checksumValid(b, pseudo));
      }
    )
  );
});

test('parse of random bytes never throws', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
      const r = tcp.parse(bytes);
      if (r.ok) assert.ok(r.value.headerLength <= bytes.length);
      else assert.ok(r.error.offset >= 0 && r.error.offset <= bytes.length);
    })
  );
  // Random options areas behind a valid fixed header.
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (area) => {
      const padded = new Uint8Array((area.length + 3) & ~3);
      padded.set(area);
      const b = new Uint8Array(20 + padded.length);
      tcp.emit({ ...SYN_HEADER, options: [] }, b);
      b[12] = ((20 + padded.length) / 4) << 4;
      b.set(padded, 20);
      tcp.parse(b);
    })
  );
});

test('misuse throws RangeError naming the field', () => {
  const out = new Uint8Array(60);
  assert.throws(() => tcp.emit({ ...SYN_HEADER, srcPort: 70000 }, out), /srcPort/);
  assert.throws(() => tcp.emit({ ...SYN_HEADER, flags: 256 }, out), /flags/);
  assert.throws(() => tcp.emit(SYN_HEADER, new Uint8Array(39)), /at least 40 bytes, got 39/);
  assert.throws(
    () =>
      tcp.emit(
        { ...SYN_HEADER, options: [{ type: 'unknown', kind: 2, data: fromHex('05b4') }] },
        out
      ),
    /expected a kind/
  );
  assert.throws(
    () => tcp.emit({ ...SYN_HEADER, options: [{ type: 'sack', blocks: [] }] }, out),
    /blocks/
  );
  const tooMany: tcp.Option[] = Array.from({ length: 5 }, () => ({
    type: 'timestamps',
    tsVal: 1,
    tsEcr: 2,
  }));
  assert.throws(
    () => tcp.headerLength({ ...SYN_HEADER, options: tooMany }),
    /at most 40 bytes, got 50/
  );
  assert.throws(() => {
    tcp.fillChecksum(new Uint8Array(19), 0);
  }, RangeError);
});
