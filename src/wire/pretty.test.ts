import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as ah from './ah.ts';
import { pseudoHeaderV4, pseudoHeaderV6 } from './checksum.ts';
import * as esp from './esp.ts';
import * as ethernet from './ethernet.ts';
import * as ipv4 from './ipv4.ts';
import * as ipv6 from './ipv6.ts';
import { describeFrame, format, pretty, type EspOpened } from './pretty.ts';
import * as tcp from './tcp.ts';
import * as udp from './udp.ts';

const MAC_A = ethernet.parseMac('02:00:00:00:00:01');
const MAC_B = ethernet.parseMac('02:00:00:00:00:02');
const V4_A = ipv4.parseAddress('192.0.2.1');
const V4_B = ipv4.parseAddress('198.51.100.7');
const V6_A = ipv6.parseAddress('2001:db8::1');
const V6_B = ipv6.parseAddress('2001:db8::2');

const TCP_HEADER: tcp.Header = {
  srcPort: 49152,
  dstPort: 443,
  sequenceNumber: 1000,
  acknowledgmentNumber: 7,
  flags: tcp.Flags.Psh | tcp.Flags.Ack,
  window: 65535,
  urgentPointer: 0,
  options: [{ type: 'mss', mss: 1460 }],
};

/** A TCP segment with a correct checksum for the given pseudo-header sum. */
function segment(payload: Uint8Array, pseudoSum: (length: number) => number): Uint8Array {
  const hl = tcp.headerLength(TCP_HEADER);
  const out = new Uint8Array(hl + payload.length);
  tcp.emit(TCP_HEADER, out);
  out.set(payload, hl);
  tcp.fillChecksum(out, pseudoSum(out.length));
  return out;
}

/** Ethernet + IPv4 around `payload` with protocol `protocol`. */
function v4Frame(protocol: number, payload: Uint8Array): Uint8Array {
  const ip: ipv4.Header = {
    typeOfService: 0,
    identification: 1,
    dontFragment: true,
    moreFragments: false,
    fragmentOffset: 0,
    timeToLive: 64,
    protocol,
    sourceAddress: V4_A,
    destinationAddress: V4_B,
    options: new Uint8Array(0),
  };
  const frame = new Uint8Array(14 + 20 + payload.length);
  ethernet.emit({ destination: MAC_B, source: MAC_A, etherType: ethernet.EtherType.Ipv4 }, frame);
  ipv4.emit(ip, frame.subarray(14), payload.length);
  frame.set(payload, 34);
  return frame;
}

const tcpV4 = (payload: Uint8Array): Uint8Array =>
  segment(payload, (n) => pseudoHeaderV4(V4_A, V4_B, 6, n));

test('a real IPv4/TCP frame prints one line per layer with every field', () => {
  const frame = v4Frame(6, tcpV4(new Uint8Array(100).fill(0x41)));
  assert.equal(
    pretty(frame),
    [
      'eth 02:00:00:00:00:01 > 02:00:00:00:00:02 ipv4',
      ' \\ ipv4 192.0.2.1 > 198.51.100.7 tcp ttl=64 id=1 df len=144',
      '  \\ tcp 49152 > 443 seq=1000 ack=7 [PA] win=65535 opts=mss=1460 len=100',
    ].join('\n')
  );
});

test('a wrong IPv4 header checksum is annotated, not refused', () => {
  const frame = v4Frame(6, tcpV4(new Uint8Array(10)));
  frame[14 + 10] ^= 0xff;
  const lines = describeFrame(frame);
  assert.deepEqual(lines[1].defects, ['checksum incorrect']);
  assert.equal(lines[2].layer, 'tcp', 'the layers below are still printed');
  assert.deepEqual(lines[2].defects, []);
});

test('a wrong TCP checksum is annotated on the tcp line', () => {
  const frame = v4Frame(6, tcpV4(new Uint8Array(10)));
  frame[frame.length - 1] ^= 1;
  const lines = describeFrame(frame);
  assert.deepEqual(lines[2].defects, ['checksum incorrect']);
  assert.deepEqual(lines[1].defects, []);
});

test('every truncation prints without throwing and names an offset inside the frame', () => {
  const frame = v4Frame(6, tcpV4(new Uint8Array(20)));
  for (let n = 0; n < frame.length; n++) {
    const lines = describeFrame(frame.subarray(0, n));
    const defects = lines.flatMap((l) => l.defects);
    assert.ok(defects.length > 0, `a ${n}-byte prefix shows a defect`);
    for (const d of defects) {
      const m = / at (\d+)$/.exec(d);
      if (m) assert.ok(Number(m[1]) <= n, `"${d}" lies within ${n} bytes`);
    }
  }
  // IPv4 Total Length says 60 bytes but only 40 remain: the defect points at the Total Length
  // field, at frame offset 14 + 2.
  assert.match(
    format(describeFrame(frame.subarray(0, 54))),
    /ipv4 40 bytes \(length mismatch at 16\)/
  );
  // Cut inside the Ethernet header: "truncated" at the end of what was given.
  assert.match(format(describeFrame(frame.subarray(0, 9))), /eth 9 bytes \(truncated at 9\)/);
});

/** An ESP frame (NULL encryption, no ICV) carrying `inner` with Next Header `nextHeader`. */
function espFrame(inner: Uint8Array, nextHeader: number): Uint8Array {
  const geometry = { ivLength: 0, icvLength: 0, padAlign: 4 };
  const packet = new Uint8Array(esp.planEsp(inner.length, geometry).totalLength);
  esp.frameEsp(packet, { spi: 0x1001, sequenceNumber: 7, nextHeader, payload: inner }, geometry);
  return v4Frame(50, packet);
}

/** A hook that "opens" NULL-encrypted ESP: the plaintext is everything after the header. */
const openNull = (packet: Uint8Array): EspOpened => ({
  ok: true,
  plaintext: packet.subarray(esp.HEADER_LENGTH),
  ivLength: 0,
  icvLength: 0,
  note: 'null',
});

test('ESP without a key prints "encrypted"; with the openEsp hook it prints the inner layers', () => {
  const frame = espFrame(tcpV4(new Uint8Array(30)), 6);
  assert.match(pretty(frame), /esp spi=0x00001001 seq=7 encrypted=\d+$/);
  const text = pretty(frame, { openEsp: openNull });
  assert.match(text, /esp spi=0x00001001 seq=7 null iv=0 icv=0 pad=0 next=tcp\n/);
  assert.match(
    text,
    / {3}\\ tcp 49152 > 443 .* len=30$/,
    'inner TCP checksum valid (transport pseudo-header)'
  );
});

test('ESP with bad padding and a failing ICV are annotated', () => {
  const frame = espFrame(tcpV4(new Uint8Array(29)), 6);
  const text = pretty(frame, {
    openEsp: (packet) => {
      const opened = openNull(packet);
      if (opened.ok) opened.plaintext[opened.plaintext.length - 3] = 9; // pad byte should be 1
      return opened;
    },
  });
  assert.match(text, /pad=1 next=tcp \(bad padding\)/);
  assert.match(
    pretty(frame, { openEsp: () => ({ ok: false, defect: 'icv mismatch' }) }),
    /\(icv mismatch\)/
  );
});

test('tunnel mode: the decrypted inner IPv6 packet is printed with its own addresses', () => {
  const tcpSeg = segment(new Uint8Array(8), (n) => pseudoHeaderV6(V6_A, V6_B, 6, n));
  const innerHeader: ipv6.Header = {
    trafficClass: 0,
    flowLabel: 0,
    hopLimit: 64,
    sourceAddress: V6_A,
    destinationAddress: V6_B,
    extensions: [],
    nextHeader: 6,
  };
  const inner = new Uint8Array(40 + tcpSeg.length);
  ipv6.emit(innerHeader, inner, tcpSeg.length);
  inner.set(tcpSeg, 40);
  const lines = describeFrame(espFrame(inner, 41), { openEsp: openNull });
  assert.deepEqual(
    lines.map((l) => [l.depth, l.layer, l.defects.length]),
    [
      [0, 'eth', 0],
      [1, 'ipv4', 0],
      [2, 'esp', 0],
      [3, 'ipv6', 0],
      [4, 'tcp', 0],
    ]
  );
  assert.match(lines[3].text, /^2001:db8::1 > 2001:db8::2 tcp/);
});

test('UDP port 4500: ESP, IKE non-ESP marker and NAT keepalive are told apart (RFC 3948 §2)', () => {
  const udpFrame = (payload: Uint8Array): string => {
    const d = new Uint8Array(8 + payload.length);
    udp.emit({ srcPort: 4500, dstPort: 4500 }, d, payload.length);
    d.set(payload, 8);
    return pretty(v4Frame(17, d), { openEsp: openNull });
  };
  assert.match(udpFrame(new Uint8Array([0xff])), /keepalive NAT-keepalive/);
  assert.match(udpFrame(new Uint8Array([0, 0, 0, 0, 1, 2, 3])), /ike non-ESP marker, 3 bytes/);
  const espPacket = espFrame(tcpV4(new Uint8Array(4)), 6).subarray(34);
  assert.match(udpFrame(espPacket), /\\ esp spi=0x00001001 seq=7 null/);
});

test('AH prints its fields and the verifyAh verdict', () => {
  const inner = tcpV4(new Uint8Array(5));
  const header: ah.Header = {
    nextHeader: 6,
    spi: 0x2002,
    sequenceNumber: 3,
    ivLength: 0,
    icvLength: 12,
    ipVersion: 4,
  };
  const length = ah.headerLength(header);
  const payload = new Uint8Array(length + inner.length);
  ah.emit(header, payload);
  payload.set(inner, length);
  const frame = v4Frame(51, payload);
  assert.match(pretty(frame), /ah spi=0x00002002 seq=3 len=24 next=tcp\n.*tcp 49152 > 443/);
  assert.match(pretty(frame, { verifyAh: () => null }), /next=tcp icv ok/);
  assert.match(pretty(frame, { verifyAh: () => 'icv mismatch' }), /\(icv mismatch\)/);
});

test('random bytes never throw, as a frame or behind an IPv4/IPv6 header', () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 3 }),
      (bytes, kind) => {
        const frame = kind === 0 ? bytes : v4Frame([6, 17, 50, 51][kind] ?? 6, bytes);
        const text = pretty(frame, { openEsp: openNull, verifyAh: () => null });
        assert.equal(typeof text, 'string');
      }
    )
  );
});
