/**
 * @module
 * Tests of the NAT box: UDP over IPv4 from the inside leaves with the public address and a mapped
 * port, replies are mapped back, both with checksums that verify (checked with the wire checksum
 * helpers and against a full recomputation); UDP-ESP's zero checksum stays zero; everything that is
 * not UDP over IPv4 passes unchanged; malformed frames pass unchanged and are counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import * as checksum from '../wire/checksum.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import * as udp from '../wire/udp.ts';
import * as udpencap from '../wire/udpencap.ts';
import type { Link } from './link.ts';
import { Nat } from './nat.ts';

const INSIDE = ipv4.parseAddress('10.0.0.2');
const PUBLIC = ipv4.parseAddress('203.0.113.7');
const PEER = ipv4.parseAddress('198.51.100.9');
const MAC_A = ethernet.parseMac('02:00:00:00:00:0a');
const MAC_B = ethernet.parseMac('02:00:00:00:00:0b');

interface Udp4 {
  readonly src: Uint8Array;
  readonly dst: Uint8Array;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly payload: Uint8Array;
  /** Compute the UDP checksum (else 0, as UDP-ESP sends it over IPv4). */
  readonly withChecksum: boolean;
  readonly vlan?: boolean;
  readonly protocol?: number;
}

/** Builds Ethernet ‖ IPv4 ‖ UDP ‖ payload with the wire emitters. */
function udp4(p: Udp4): Uint8Array {
  const eth: ethernet.Header = {
    destination: MAC_B,
    source: MAC_A,
    etherType: ethernet.EtherType.Ipv4,
    ...(p.vlan === true ? { vlan: { pcp: 0, dei: false, vid: 7 } } : {}),
  };
  const e = ethernet.headerLength(eth);
  const out = new Uint8Array(e + 20 + 8 + p.payload.length);
  ethernet.emit(eth, out);
  ipv4.emit(
    {
      typeOfService: 0,
      identification: 0x1234,
      dontFragment: true,
      moreFragments: false,
      fragmentOffset: 0,
      timeToLive: 64,
      protocol: p.protocol ?? ipv4.IpProtocol.Udp,
      sourceAddress: p.src,
      destinationAddress: p.dst,
      options: new Uint8Array(0),
    },
    out.subarray(e),
    8 + p.payload.length
  );
  const d = out.subarray(e + 20);
  udp.emit({ srcPort: p.srcPort, dstPort: p.dstPort }, d, p.payload.length);
  d.set(p.payload, 8);
  if (p.withChecksum) {
    udp.fillChecksum(d, checksum.pseudoHeaderV4(p.src, p.dst, 17, d.length));
  }
  return out;
}

/** What a frame says about its IPv4 and UDP headers, and whether its checksums verify. */
function inspect(frame: Uint8Array): {
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  udpChecksum: number;
  ipChecksumValid: boolean;
  udpChecksumValid: boolean;
} {
  const eth = ethernet.parse(frame);
  assert.ok(eth.ok);
  const ip = ipv4.parse(eth.value.payload);
  assert.ok(ip.ok);
  const h = ip.value.header;
  const d = ip.value.payload;
  const v = new udp.View(d);
  const pseudo = checksum.pseudoHeaderV4(h.sourceAddress, h.destinationAddress, 17, d.length);
  return {
    src: ipv4.formatAddress(h.sourceAddress),
    dst: ipv4.formatAddress(h.destinationAddress),
    srcPort: v.srcPort,
    dstPort: v.dstPort,
    udpChecksum: v.checksum,
    ipChecksumValid: ip.value.checksumValid,
    udpChecksumValid: udp.checksumValid(d, pseudo, 4),
  };
}

/** A link that keeps what it is given. */
function sink(): Link & { readonly frames: Uint8Array[] } {
  const frames: Uint8Array[] = [];
  return {
    frames,
    transmit(frame: Uint8Array): void {
      frames.push(frame);
    },
  };
}

/** A NAT with both directions wired to sinks. */
function box(options: { preservePort?: boolean; portBase?: number } = {}): {
  nat: Nat;
  out: Link;
  in: Link;
  outside: Uint8Array[];
  inside: Uint8Array[];
} {
  const nat = new Nat({ publicAddress: PUBLIC, ...options });
  const outside = sink();
  const inside = sink();
  return {
    nat,
    out: nat.outbound(outside),
    in: nat.inbound(inside),
    outside: outside.frames,
    inside: inside.frames,
  };
}

// An ESP packet as UDP-ESP carries it: SPI 0x1001, sequence number 1, then ciphertext bytes.
const ESP = Uint8Array.of(0, 0, 0x10, 0x01, 0, 0, 0, 1, ...Array.from({ length: 40 }, (_, i) => i));

test('UDP-ESP from the inside leaves with the public address and port; the zero checksum stays 0', () => {
  const b = box();
  const frame = udp4({
    src: INSIDE,
    dst: PEER,
    srcPort: 4500,
    dstPort: 4500,
    payload: ESP,
    withChecksum: false,
  });
  const before = frame.slice();
  b.out.transmit(frame);
  assert.equal(b.outside.length, 1);
  const sent = b.outside[0];
  assert.notEqual(sent, frame, 'a translated frame is a copy');
  assert.deepEqual(frame, before, 'the inside host’s frame is untouched');
  assert.deepEqual(inspect(sent), {
    src: '203.0.113.7',
    dst: '198.51.100.9',
    srcPort: 49152,
    dstPort: 4500,
    udpChecksum: 0, // RFC 3948 §2.1: UDP-ESP over IPv4 carries no checksum
    ipChecksumValid: true,
    udpChecksumValid: true,
  });
  // Only the source address, the IP checksum and the source port changed.
  const changed = [...sent].flatMap((x, i) => (x === frame[i] ? [] : [i]));
  assert.ok(
    changed.every((i) => (i >= 24 && i < 30) || i === 34 || i === 35),
    `changed ${changed.join()}`
  );
  assert.equal(udpencap.classify(sent.subarray(42)).ok, true);
  assert.deepEqual(b.nat.counters, {
    translatedOut: 1,
    translatedIn: 0,
    untranslated: 0,
    malformed: 0,
    unsolicited: 0,
    exhausted: 0,
  });
  assert.deepEqual(b.nat.mappings(), [
    { insideAddress: INSIDE, insidePort: 4500, publicPort: 49152 },
  ]);
});

test('a reply to the public port is mapped back to the inside host', () => {
  const b = box();
  b.out.transmit(
    udp4({
      src: INSIDE,
      dst: PEER,
      srcPort: 4500,
      dstPort: 4500,
      payload: ESP,
      withChecksum: false,
    })
  );
  const reply = udp4({
    src: PEER,
    dst: PUBLIC,
    srcPort: 4500,
    dstPort: 49152,
    payload: ESP,
    withChecksum: false,
  });
  b.in.transmit(reply);
  assert.equal(b.inside.length, 1);
  assert.deepEqual(inspect(b.inside[0]), {
    src: '198.51.100.9',
    dst: '10.0.0.2',
    srcPort: 4500,
    dstPort: 4500,
    udpChecksum: 0,
    ipChecksumValid: true,
    udpChecksumValid: true,
  });
  // Mapping back gives exactly the frame the peer would have sent to the inside host directly.
  const direct = udp4({
    src: PEER,
    dst: INSIDE,
    srcPort: 4500,
    dstPort: 4500,
    payload: ESP,
    withChecksum: false,
  });
  assert.deepEqual(b.inside[0], direct);
  assert.equal(b.nat.counters.translatedIn, 1);
});

test('a computed UDP checksum is adjusted to the value a full recomputation gives', () => {
  const b = box();
  const ike = Uint8Array.of(0, 0, 0, 0, ...Array.from({ length: 33 }, (_, i) => 0xa0 + i)); // non-ESP marker
  b.out.transmit(
    udp4({ src: INSIDE, dst: PEER, srcPort: 4500, dstPort: 4500, payload: ike, withChecksum: true })
  );
  const sent = b.outside[0];
  const seen = inspect(sent);
  assert.equal(seen.ipChecksumValid, true);
  assert.equal(seen.udpChecksumValid, true);
  assert.notEqual(seen.udpChecksum, 0);
  const recomputed = udp4({
    src: PUBLIC,
    dst: PEER,
    srcPort: 49152,
    dstPort: 4500,
    payload: ike,
    withChecksum: true,
  });
  assert.deepEqual(sent, recomputed);
});

test('mapping is endpoint-independent; ports are handed out in order; preservePort keeps a free port', () => {
  const b = box({ portBase: 40000 });
  const other = ipv4.parseAddress('192.0.2.55');
  const send = (src: Uint8Array, srcPort: number, dst: Uint8Array): number => {
    b.out.transmit(udp4({ src, dst, srcPort, dstPort: 4500, payload: ESP, withChecksum: false }));
    return inspect(b.outside[b.outside.length - 1]).srcPort;
  };
  assert.equal(send(INSIDE, 4500, PEER), 40000);
  assert.equal(send(INSIDE, 4500, other), 40000, 'same inside endpoint, another peer: same port');
  assert.equal(send(INSIDE, 500, PEER), 40001);
  assert.equal(send(ipv4.parseAddress('10.0.0.3'), 4500, PEER), 40002);
  const p = box({ preservePort: true });
  p.out.transmit(
    udp4({
      src: INSIDE,
      dst: PEER,
      srcPort: 4500,
      dstPort: 4500,
      payload: ESP,
      withChecksum: false,
    })
  );
  p.out.transmit(
    udp4({
      src: ipv4.parseAddress('10.0.0.3'),
      dst: PEER,
      srcPort: 4500,
      dstPort: 4500,
      payload: ESP,
      withChecksum: false,
    })
  );
  assert.equal(inspect(p.outside[0]).srcPort, 4500);
  assert.equal(inspect(p.outside[1]).srcPort, 49152, 'taken: mapped to the next free port');
});

test('inbound UDP to an unmapped public port is dropped and counted', () => {
  const b = box();
  b.in.transmit(
    udp4({
      src: PEER,
      dst: PUBLIC,
      srcPort: 4500,
      dstPort: 4500,
      payload: ESP,
      withChecksum: false,
    })
  );
  assert.equal(b.inside.length, 0);
  assert.equal(b.nat.counters.unsolicited, 1);
});

test('the port space runs out: outbound is dropped and counted', () => {
  const b = box({ portBase: 65535 });
  b.out.transmit(
    udp4({ src: INSIDE, dst: PEER, srcPort: 1, dstPort: 4500, payload: ESP, withChecksum: false })
  );
  b.out.transmit(
    udp4({ src: INSIDE, dst: PEER, srcPort: 2, dstPort: 4500, payload: ESP, withChecksum: false })
  );
  assert.equal(b.outside.length, 1);
  assert.equal(b.nat.counters.exhausted, 1);
});

test('not UDP over IPv4 — raw ESP, TCP, IPv6, ARP, fragments, not to the NAT — passes as the same array', () => {
  const b = box();
  const esp = udp4({
    src: INSIDE,
    dst: PEER,
    srcPort: 0,
    dstPort: 0,
    payload: ESP,
    withChecksum: false,
    protocol: 50,
  });
  const tcp = udp4({
    src: INSIDE,
    dst: PEER,
    srcPort: 0,
    dstPort: 0,
    payload: ESP,
    withChecksum: false,
    protocol: 6,
  });
  const v6 = new Uint8Array(14 + 40 + 8);
  ethernet.emit({ destination: MAC_B, source: MAC_A, etherType: ethernet.EtherType.Ipv6 }, v6);
  ipv6.emit(
    {
      trafficClass: 0,
      flowLabel: 0,
      nextHeader: 17,
      hopLimit: 64,
      sourceAddress: ipv6.parseAddress('2001:db8::1'),
      destinationAddress: ipv6.parseAddress('2001:db8::2'),
      extensions: [],
    },
    v6.subarray(14),
    8
  );
  udp.emit({ srcPort: 4500, dstPort: 4500 }, v6.subarray(54), 0);
  const arp = new Uint8Array(42);
  ethernet.emit({ destination: MAC_B, source: MAC_A, etherType: ethernet.EtherType.Arp }, arp);
  const fragment = udp4({
    src: INSIDE,
    dst: PEER,
    srcPort: 4500,
    dstPort: 4500,
    payload: ESP,
    withChecksum: false,
  });
  new ipv4.View(fragment.subarray(14)).moreFragments = true;
  for (const f of [esp, tcp, v6, arp, fragment]) b.out.transmit(f);
  assert.equal(b.outside.length, 5);
  for (let i = 0; i < 5; i++) assert.equal(b.outside[i], [esp, tcp, v6, arp, fragment][i]);
  const elsewhere = udp4({
    src: PEER,
    dst: ipv4.parseAddress('192.0.2.1'),
    srcPort: 4500,
    dstPort: 4500,
    payload: ESP,
    withChecksum: false,
  });
  b.in.transmit(elsewhere);
  assert.equal(b.inside[0], elsewhere);
  assert.equal(b.nat.counters.untranslated, 6);
  assert.equal(b.nat.counters.translatedOut, 0);
});

test('a VLAN-tagged frame is translated behind its tag', () => {
  const b = box();
  b.out.transmit(
    udp4({
      src: INSIDE,
      dst: PEER,
      srcPort: 4500,
      dstPort: 4500,
      payload: ESP,
      withChecksum: true,
      vlan: true,
    })
  );
  const sent = b.outside[0];
  assert.deepEqual(
    sent,
    udp4({
      src: PUBLIC,
      dst: PEER,
      srcPort: 49152,
      dstPort: 4500,
      payload: ESP,
      withChecksum: true,
      vlan: true,
    })
  );
});

test('a wrong IPv4 header checksum stays wrong: the NAT repairs nothing it did not break', () => {
  const b = box();
  const frame = udp4({
    src: INSIDE,
    dst: PEER,
    srcPort: 4500,
    dstPort: 4500,
    payload: ESP,
    withChecksum: false,
  });
  frame[24] ^= 0x01;
  b.out.transmit(frame);
  assert.equal(inspect(b.outside[0]).ipChecksumValid, false);
  assert.equal(b.nat.counters.translatedOut, 1);
});

test('every truncation of a frame passes unchanged and counted; nothing throws', () => {
  const full = udp4({
    src: INSIDE,
    dst: PEER,
    srcPort: 4500,
    dstPort: 4500,
    payload: ESP,
    withChecksum: true,
  });
  for (let n = 0; n < full.length; n++) {
    const b = box();
    const cut = full.subarray(0, n);
    b.out.transmit(cut);
    b.in.transmit(cut);
    assert.equal(b.outside[0], cut);
    assert.equal(b.inside[0], cut);
    assert.equal(b.nat.counters.malformed, 2, `length ${n}`);
  }
});

test('property: arbitrary bytes never throw and pass unchanged unless translated', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), (bytes) => {
      const b = box();
      b.out.transmit(bytes);
      b.in.transmit(bytes);
      const c = b.nat.counters;
      assert.equal(c.translatedIn, 0, 'nothing is mapped yet');
      if (c.translatedOut === 0) assert.equal(b.outside[0], bytes);
    })
  );
});

test('property: translation out and back keeps every checksum valid and restores the inside view', () => {
  const addr = fc.uint8Array({ minLength: 4, maxLength: 4 });
  const port = fc.integer({ min: 1, max: 0xffff });
  fc.assert(
    fc.property(
      addr,
      addr,
      port,
      port,
      fc.uint8Array({ maxLength: 300 }),
      fc.boolean(),
      (src, dst, srcPort, dstPort, payload, withChecksum) => {
        fc.pre(!sameBytes(dst, PUBLIC));
        const b = box();
        const frame = udp4({ src, dst, srcPort, dstPort, payload, withChecksum });
        b.out.transmit(frame);
        const sent = inspect(b.outside[0]);
        assert.equal(sent.ipChecksumValid, true);
        assert.equal(sent.udpChecksumValid, true);
        assert.equal(sent.udpChecksum === 0, !withChecksum);
        assert.equal(sent.src, '203.0.113.7');
        assert.equal(sent.srcPort, 49152);
        assert.deepEqual(
          b.outside[0],
          udp4({ src: PUBLIC, dst, srcPort: 49152, dstPort, payload, withChecksum }),
          'the same bytes as a frame built with the public endpoint'
        );
        // The peer answers; the NAT maps it back to what the inside host expects.
        b.in.transmit(
          udp4({ src: dst, dst: PUBLIC, srcPort: dstPort, dstPort: 49152, payload, withChecksum })
        );
        assert.deepEqual(
          b.inside[0],
          udp4({ src: dst, dst: src, srcPort: dstPort, dstPort: srcPort, payload, withChecksum })
        );
      }
    )
  );
});

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

test('misuse is refused at construction', () => {
  assert.throws(() => new Nat({ publicAddress: new Uint8Array(16) }), RangeError);
  assert.throws(() => new Nat({ publicAddress: PUBLIC, portBase: 0 }), RangeError);
  assert.throws(() => new Nat({ publicAddress: PUBLIC, portBase: 70000 }), RangeError);
});
