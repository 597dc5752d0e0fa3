/**
 * @module
 * Tests of the pcapng writer and reader: the exact bytes of a tiny capture, block by block; write
 * → read round trips over random frames and timestamps in both byte orders; the reader on every
 * truncation and on arbitrary bytes never throws; blocks it does not know are skipped; a seeded
 * simulated run gives a byte-identical capture; and, when tshark is installed, tshark reads it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { seededRandom } from '../crypto/random.ts';
import { fromHex } from '../wire/bytes.ts';
import { describe } from '../wire/parsed.ts';
import { VirtualClock } from './clock.ts';
import { FaultInjector } from './faults.ts';
import { Tap, Wire } from './link.ts';
import {
  BlockType,
  EpbDirection,
  PcapngWriter,
  captureObserver,
  read,
  type Capture,
} from './pcapng.ts';

/** Hex with `//` comments to the end of each line. */
const hex = (s: string): Uint8Array => fromHex(s.replace(/\/\/.*$/gm, ''));

/** Reads `bytes` and fails the test with the reader's reason if it does not parse. */
function mustRead(bytes: Uint8Array): Capture {
  const r = read(bytes);
  assert.ok(r.ok, r.ok ? '' : describe(r.error));
  return r.value;
}

// The capture of one 5-byte frame at 0x00000001_00000002 ns, outbound, little-endian.
const SHB = hex(`
  0a0d0d0a           // Block Type: Section Header Block (§4.1)
  2c000000           // Block Total Length: 44
  4d3c2b1a           // Byte-Order Magic 0x1A2B3C4D, little-endian
  0100 0000          // Major Version 1, Minor Version 0
  ffffffffffffffff   // Section Length: -1, not specified
  0400 0800          // option shb_userappl (4), length 8
  69707365636f7632   // "ipsecov2"
  0000 0000          // opt_endofopt
  2c000000           // Block Total Length again
`);
const IDB = hex(`
  01000000           // Block Type: Interface Description Block (§4.2)
  20000000           // Block Total Length: 32
  0100 0000          // LinkType 1 (LINKTYPE_ETHERNET), Reserved
  00000000           // SnapLen 0: no limit
  0900 0100 09000000 // option if_tsresol (9), length 1, value 9 (10^-9 s), 3 bytes padding
  0000 0000          // opt_endofopt
  20000000           // Block Total Length again
`);
const EPB = hex(`
  06000000           // Block Type: Enhanced Packet Block (§4.3)
  34000000           // Block Total Length: 52
  00000000           // Interface ID 0
  01000000           // Timestamp (High) 1
  02000000           // Timestamp (Low) 2
  05000000           // Captured Packet Length 5
  05000000           // Original Packet Length 5
  0102030405 000000  // Packet Data, padded to 32 bits with zeros
  0200 0400 02000000 // option epb_flags (2), length 4: outbound (§4.3.1 bits 0-1 = 10)
  0000 0000          // opt_endofopt
  34000000           // Block Total Length again
`);
const TS = (1n << 32n) | 2n;

test('a tiny capture is exactly SHB ‖ IDB ‖ EPB, block by block', () => {
  const w = new PcapngWriter();
  assert.deepEqual(w.bytes(), new Uint8Array([...SHB, ...IDB]));
  w.writePacket(Uint8Array.of(1, 2, 3, 4, 5), TS, EpbDirection.Outbound);
  const bytes = w.bytes();
  assert.equal(bytes.length, 44 + 32 + 52);
  assert.deepEqual(bytes.subarray(0, 44), SHB);
  assert.deepEqual(bytes.subarray(44, 76), IDB);
  assert.deepEqual(bytes.subarray(76), EPB);
  assert.equal(w.length, bytes.length);
  assert.equal(w.packets, 1);
  const c = mustRead(bytes);
  assert.deepEqual(c.interfaces, [
    { section: 0, linkType: 1, snapLen: 0, tsresol: 9, tsoffset: 0n },
  ]);
  assert.deepEqual(c.packets, [
    {
      section: 0,
      interfaceId: 0,
      timestamp: TS,
      timestampNanos: TS,
      originalLength: 5,
      data: Uint8Array.of(1, 2, 3, 4, 5),
      flags: 2,
    },
  ]);
});

test('the big-endian form of the same capture reads the same', () => {
  const w = new PcapngWriter({ littleEndian: false });
  w.writePacket(Uint8Array.of(1, 2, 3, 4, 5), TS, EpbDirection.Outbound);
  const bytes = w.bytes();
  assert.deepEqual(bytes.subarray(8, 12), Uint8Array.of(0x1a, 0x2b, 0x3c, 0x4d));
  assert.deepEqual(bytes.subarray(76 + 12, 76 + 20), Uint8Array.of(0, 0, 0, 1, 0, 0, 0, 2));
  const le = mustRead(new Uint8Array([...SHB, ...IDB, ...EPB]));
  const be = mustRead(bytes);
  assert.equal(be.littleEndian, false);
  assert.deepEqual({ ...be, littleEndian: true }, le);
});

test('an interface name and a SnapLen are written; longer frames are cut, Original Length kept', () => {
  const w = new PcapngWriter({ interfaceName: 'link0', snapLen: 8 });
  w.writePacket(new Uint8Array(20).fill(7), 0n);
  w.writePacket(new Uint8Array(3).fill(1), 1n);
  const c = mustRead(w.bytes());
  assert.deepEqual(c.interfaces[0], {
    section: 0,
    linkType: 1,
    snapLen: 8,
    tsresol: 9,
    tsoffset: 0n,
    name: 'link0',
  });
  assert.deepEqual(c.packets[0].data, new Uint8Array(8).fill(7));
  assert.equal(c.packets[0].originalLength, 20);
  assert.equal(c.packets[0].flags, undefined);
  assert.equal(c.packets[1].originalLength, 3);
});

test('microsecond resolution divides nanoseconds down', () => {
  const w = new PcapngWriter({ tsresol: 6 });
  w.writePacket(new Uint8Array(1), 1_234_567_999n);
  const p = mustRead(w.bytes()).packets[0];
  assert.equal(p.timestamp, 1_234_567n);
  assert.equal(p.timestampNanos, 1_234_567_000n);
});

test('round trip: random frames, timestamps, flags and byte order come back exactly', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record(
          {
            frame: fc.uint8Array({ maxLength: 1600 }),
            ts: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
            flags: fc.option(fc.nat({ max: 0xffffffff }), { nil: undefined }),
          },
          { noNullPrototype: true }
        ),
        { maxLength: 40 }
      ),
      fc.boolean(),
      (packets, littleEndian) => {
        const w = new PcapngWriter({ littleEndian });
        for (const p of packets) w.writePacket(p.frame, p.ts, p.flags);
        const bytes = w.bytes();
        assert.equal(bytes.length, w.length);
        assert.equal(bytes.length % 4, 0);
        const c = mustRead(bytes);
        assert.equal(c.packets.length, packets.length);
        assert.equal(c.littleEndian, littleEndian);
        c.packets.forEach((got, i) => {
          const want = packets[i];
          assert.deepEqual(got.data, want.frame);
          assert.equal(got.originalLength, want.frame.length);
          assert.equal(got.timestamp, want.ts);
          assert.equal(got.timestampNanos, want.ts);
          assert.equal(got.flags, want.flags);
        });
      }
    )
  );
});

test('chunks: many frames and one larger than a chunk, no bytes lost; writeTo writes the same', () => {
  const w = new PcapngWriter();
  const big = new Uint8Array(200_000).map((_, i) => i & 0xff);
  for (let i = 0; i < 100; i++) w.writePacket(new Uint8Array(1514).fill(i), BigInt(i));
  w.writePacket(big, 100n);
  for (let i = 0; i < 3; i++) w.writePacket(new Uint8Array(60).fill(i), 101n);
  const bytes = w.bytes();
  assert.equal(bytes.length, w.length);
  const c = mustRead(bytes);
  assert.equal(c.packets.length, 104);
  assert.deepEqual(c.packets[100].data, big);
  assert.deepEqual(c.packets[57].data, new Uint8Array(1514).fill(57));
  const dir = mkdtempSync(join(tmpdir(), 'ipsecov2-pcapng-'));
  try {
    const path = join(dir, 'big.pcapng');
    w.writeTo(path);
    assert.deepEqual(new Uint8Array(readFileSync(path)), bytes);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('misuse of the writer throws a RangeError', () => {
  assert.throws(() => new PcapngWriter({ tsresol: 10 }), RangeError);
  assert.throws(() => new PcapngWriter({ snapLen: -1 }), RangeError);
  const w = new PcapngWriter();
  for (const [ts, flags] of [
    [-1n, undefined],
    [1n << 64n, undefined],
    [0n, -1],
  ] as const) {
    assert.throws(() => {
      w.writePacket(new Uint8Array(1), ts, flags);
    }, RangeError);
  }
  assert.equal(w.packets, 0, 'a refused packet writes nothing');
});

/** A small capture: three frames in both directions. */
function sample(littleEndian = true): Uint8Array {
  const w = new PcapngWriter({ littleEndian, interfaceName: 'wire' });
  w.writePacket(Uint8Array.of(1, 2, 3), 10n, EpbDirection.Outbound);
  w.writePacket(new Uint8Array(64).fill(9), 20n);
  w.writePacket(new Uint8Array(0), 30n, EpbDirection.Inbound);
  return w.bytes();
}

test('the reader on every truncation never throws: block boundaries parse, the rest fail in range', () => {
  for (const littleEndian of [true, false]) {
    const full = sample(littleEndian);
    const boundaries = new Set<number>();
    for (let o = 0; o < full.length;) {
      boundaries.add(o);
      o += new DataView(full.buffer).getUint32(o + 4, littleEndian);
    }
    for (let n = 0; n < full.length; n++) {
      const r = read(full.subarray(0, n));
      if (r.ok) {
        assert.ok(boundaries.has(n) && n > 0, `prefix ${n} parsed`);
      } else {
        assert.ok(!boundaries.has(n) || n === 0, `prefix ${n} failed: ${describe(r.error)}`);
        assert.ok(r.error.offset >= 0 && r.error.offset <= n);
      }
    }
  }
});

test('the reader never throws on arbitrary bytes or on corrupted captures', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      read(bytes);
    })
  );
  const full = sample();
  fc.assert(
    fc.property(
      fc.array(fc.record({ at: fc.nat(full.length - 1), xor: fc.integer({ min: 1, max: 255 }) }), {
        minLength: 1,
        maxLength: 4,
      }),
      (edits) => {
        const b = full.slice();
        for (const e of edits) b[e.at] ^= e.xor;
        const r = read(b);
        if (!r.ok) assert.ok(r.error.offset >= 0 && r.error.offset <= b.length);
      }
    )
  );
});

/** Builds one little-endian block of `type` around `body` (padded to 32 bits). */
function block(type: number, body: Uint8Array): Uint8Array {
  const padded = (body.length + 3) & ~3;
  const out = new Uint8Array(12 + padded);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, type, true);
  dv.setUint32(4, out.length, true);
  out.set(body, 8);
  dv.setUint32(out.length - 4, out.length, true);
  return out;
}

test('malformed captures fail with a reason and an offset', () => {
  const good = sample();
  const at = (bytes: Uint8Array): string => {
    const r = read(bytes);
    return r.ok ? 'ok' : describe(r.error);
  };
  assert.equal(at(new Uint8Array(0)), 'pcapng: truncated at offset 0');
  assert.equal(at(good.subarray(44)), 'pcapng: bad-magic at offset 0');
  const magic = good.slice();
  magic[8] = 0;
  assert.equal(at(magic), 'pcapng: bad-magic at offset 8');
  const odd = good.slice();
  odd[4] = 45; // SHB length 45: not a multiple of 4
  assert.equal(at(odd), 'pcapng: bad-block-length at offset 4');
  const trailer = good.slice();
  trailer[40] = 0; // the SHB's trailing length
  assert.equal(at(trailer), 'pcapng: length-mismatch at offset 40');
  // A packet before any interface.
  const epbFirst = new Uint8Array([...good.subarray(0, 44), ...good.subarray(good.length - 44)]);
  assert.match(at(epbFirst), /^pcapng: bad-interface at offset 52$/);
  // Captured Packet Length past the block.
  const caplen = good.slice();
  const firstEpb = 44 + new DataView(good.buffer).getUint32(48, true);
  new DataView(caplen.buffer).setUint32(firstEpb + 20, 1000, true);
  assert.equal(at(caplen), `pcapng: bad-packet-length at offset ${firstEpb + 20}`);
  // An option running past its block.
  const opt = good.slice();
  new DataView(opt.buffer).setUint16(24 + 2, 200, true); // shb_userappl length 200
  assert.equal(at(opt), 'pcapng: bad-option at offset 24');
});

test('unknown blocks, Simple Packet Blocks and sections of another major version are skipped', () => {
  const good = sample();
  const custom = block(0x00000bad, Uint8Array.of(1, 2, 3, 4, 5));
  const spb = block(BlockType.SimplePacket, Uint8Array.of(3, 0, 0, 0, 7, 7, 7));
  const shb2 = new PcapngWriter().bytes().subarray(0, 44).slice();
  shb2[12] = 2; // Major Version 2
  const later = sample();
  const idbEnd = 44 + new DataView(good.buffer).getUint32(48, true);
  const bytes = new Uint8Array([
    ...good.subarray(0, idbEnd), // SHB, IDB
    ...custom,
    ...spb,
    ...good.subarray(idbEnd),
    ...shb2,
    ...later.subarray(44), // an IDB and packets that belong to the skipped section
    ...later, // a readable section again
  ]);
  const c = mustRead(bytes);
  assert.equal(c.sections, 3);
  assert.equal(c.packets.length, 6);
  assert.deepEqual(
    c.packets.map((p) => p.section),
    [0, 0, 0, 2, 2, 2]
  );
  assert.equal(c.skippedBlocks, 2 + 1 + 4); // custom, SPB; the version-2 SHB and its 4 blocks
  assert.deepEqual(
    c.interfaces.map((i) => i.section),
    [0, 2]
  );
});

test('if_tsresol as a power of 2 and if_tsoffset convert to nanoseconds', () => {
  const shb = new PcapngWriter().bytes().subarray(0, 44);
  const idb = block(
    BlockType.InterfaceDescription,
    hex(`
      0100 0000 00000000  // LinkType 1, SnapLen 0
      0900 0100 8a000000  // if_tsresol: 2^-10 s
      0e00 0800 0500000000000000 // if_tsoffset: 5 s
      0000 0000
    `)
  );
  const epb = block(
    BlockType.EnhancedPacket,
    hex(`
      00000000 00000000 00080000 // interface 0, timestamp 2048 units = 2 s
      01000000 01000000 aa       // one byte
    `)
  );
  const c = mustRead(new Uint8Array([...shb, ...idb, ...epb]));
  assert.equal(c.interfaces[0].tsresol, 0x8a);
  assert.equal(c.interfaces[0].tsoffset, 5n);
  assert.equal(c.packets[0].timestamp, 2048n);
  assert.equal(c.packets[0].timestampNanos, 7_000_000_000n);
  assert.deepEqual(c.packets[0].data, Uint8Array.of(0xaa));
});

test('an interface without if_tsresol is in microseconds (§4.2 default)', () => {
  const shb = new PcapngWriter().bytes().subarray(0, 44);
  const idb = block(BlockType.InterfaceDescription, hex('0100 0000 00000000'));
  const epb = block(BlockType.EnhancedPacket, hex('00000000 00000000 07000000 00000000 00000000'));
  const c = mustRead(new Uint8Array([...shb, ...idb, ...epb]));
  assert.equal(c.interfaces[0].tsresol, 6);
  assert.equal(c.packets[0].timestampNanos, 7_000n);
});

/** A simulated run: A and B exchange frames through a seeded fault injector, tapped into pcapng. */
function simulatedRun(seed: number): Uint8Array {
  const clock = new VirtualClock(1_700_000_000n * 1_000_000_000n);
  const wire = new Wire(clock, { latencyNanos: 2_000n, bitsPerSecond: 1_000_000_000 });
  const writer = new PcapngWriter({ interfaceName: 'sim' });
  const observe = captureObserver(writer);
  const faults = new FaultInjector(wire.a, {
    random: seededRandom(seed),
    probabilities: { drop: 0.1, corrupt: 0.1, reorder: 0.1, duplicate: 0.05, truncate: 0.05 },
  });
  // A's tap sits after the injector: the capture shows what actually went onto the wire.
  const a = new Tap(faults, clock, 'a-to-b', observe);
  const b = new Tap(wire.b, clock, 'b-to-a', observe);
  const payload = new Uint8Array(1000);
  seededRandom(seed + 1).fill(payload);
  for (let i = 0; i < 200; i++) {
    a.transmit(payload.subarray(0, 60 + ((i * 97) % 900)).slice());
    clock.advance(3_000);
    wire.deliver(
      () => undefined,
      (frame) => {
        b.transmit(frame.slice(0, 60));
      }
    );
  }
  faults.flush();
  return writer.bytes();
}

test('a seeded simulated run gives a byte-identical capture', () => {
  const digest = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
  const one = simulatedRun(7);
  const two = simulatedRun(7);
  assert.equal(digest(one), digest(two));
  assert.notEqual(digest(simulatedRun(8)), digest(one));
  const c = mustRead(one);
  assert.ok(c.packets.length > 300);
  assert.ok(c.packets.some((p) => p.flags === EpbDirection.Outbound));
  assert.ok(c.packets.some((p) => p.flags === EpbDirection.Inbound));
  for (let i = 1; i < c.packets.length; i++) {
    assert.ok(
      c.packets[i].timestampNanos >= c.packets[i - 1].timestampNanos,
      'time never runs back'
    );
  }
});

const tshark = spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

test(
  'tshark reads our capture',
  { skip: tshark ? false : 'tshark is not installed (issue #5 will check captures with tshark)' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipsecov2-tshark-'));
    try {
      const path = join(dir, 'sample.pcapng');
      const w = new PcapngWriter({ interfaceName: 'sim' });
      for (const p of mustRead(sample()).packets) w.writePacket(p.data, p.timestampNanos, p.flags);
      w.writeTo(path);
      const r = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.len'], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split(/\s+/), ['3', '64', '0']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
);
