/**
 * The receiving transport, fed frames built by framing.ts and sealed in software: delivery for
 * every protection shape on the software (CryptoDone 0) and the offloaded (CryptoDone 1) path,
 * anti-replay, corruption and truncation, inbound policy, header-info consistency, SaDeleteReq,
 * dummy packets and the outcome invariant (every frame accepted, held or dropped by name).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createEsp } from '../crypto/esp.ts';
import { CryptoStatus } from '../ndis/oid.ts';
import * as esp from '../wire/esp.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import * as udp from '../wire/udp.ts';
import * as checksum from '../wire/checksum.ts';
import type { FlowConfig, SaConfig } from './policy.ts';
import { Receiver } from './receiver.ts';
import {
  ADDR,
  B_ADDRESSES,
  bytes,
  concat,
  flow,
  makeSa,
  nblOf,
  offloaded,
  SoftSender,
  tcpL4,
  udpL4,
  type SaSpec,
  type SendSpec,
  type Sent,
} from '../../tests/rx-testkit.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function receiver(sas: readonly SaConfig[], flows: readonly FlowConfig[], extra = {}): Receiver {
  return new Receiver({ addresses: B_ADDRESSES, sas, flows, ...extra });
}

/** Frames + receiver outcomes add up: frames + reassembled = accepted + held + drops. */
function assertBalanced(r: Receiver): void {
  const c = r.counters;
  assert.equal(
    (c['frames'] ?? 0) + (c['reassembled'] ?? 0),
    (c['accepted'] ?? 0) + (c['fragments-held'] ?? 0) + r.dropped,
    JSON.stringify(r.report())
  );
}

interface Shape {
  readonly what: string;
  readonly sas: readonly SaSpec[];
  readonly l4: 'tcp' | 'udp';
  readonly send: Omit<SendSpec, 'l4'>;
  readonly flowSa?: string;
  readonly flowTunnel?: string;
}

const V6 = { version: 6, source: ADDR.a6, destination: ADDR.b6 } as const;

const SHAPES: readonly Shape[] = [
  { what: 'ESP AES-GCM-128', sas: [{ name: 'g' }], l4: 'tcp', send: { sa: 'g' } },
  {
    what: 'ESP AES-CBC-128 + HMAC-SHA1-96',
    sas: [{ name: 'c', encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' }],
    l4: 'udp',
    send: { sa: 'c' },
  },
  {
    what: 'ESP NULL + HMAC-SHA-256-128',
    sas: [{ name: 'n', encryption: 'null', integrity: 'hmac-sha256-128' }],
    l4: 'tcp',
    send: { sa: 'n' },
  },
  {
    what: 'ESP AES-GMAC-128',
    sas: [{ name: 'm', encryption: 'null', integrity: 'aes-gmac-128' }],
    l4: 'udp',
    send: { sa: 'm' },
  },
  {
    what: 'ESP AES-GCM-128 ICV 8, IPv6',
    sas: [{ name: 'g6', icvLength: 8, ipv6: true }],
    l4: 'tcp',
    send: { sa: 'g6', ip: V6 },
  },
  {
    what: 'AH HMAC-SHA-256 IPv4',
    sas: [{ name: 'a', protocol: 'ah' }],
    l4: 'tcp',
    send: { sa: 'a' },
  },
  {
    what: 'AH HMAC-SHA1 IPv6',
    sas: [{ name: 'a6', protocol: 'ah', ahIntegrity: 'hmac-sha1-96', ipv6: true }],
    l4: 'udp',
    send: { sa: 'a6', ip: V6 },
  },
  {
    what: 'AH AES-GMAC IPv6',
    sas: [{ name: 'am', protocol: 'ah', ahIntegrity: 'aes-gmac-128', ipv6: true }],
    l4: 'tcp',
    send: { sa: 'am', ip: V6 },
  },
  {
    what: 'AH + ESP',
    sas: [
      { name: 'b', protocol: 'ah+esp', encryption: 'aes-cbc-256', integrity: 'hmac-sha256-128' },
    ],
    l4: 'tcp',
    send: { sa: 'b' },
  },
  { what: 'tunnel ESP', sas: [{ name: 't', mode: 'tunnel' }], l4: 'udp', send: { sa: 't' } },
  {
    what: 'transport over tunnel',
    sas: [
      { name: 'tt', mode: 'tunnel', encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' },
      { name: 'ti' },
    ],
    l4: 'tcp',
    send: { sa: 'ti', tunnelSa: 'tt' },
    flowSa: 'ti',
    flowTunnel: 'tt',
  },
  { what: 'UDP-ESP', sas: [{ name: 'u', udp: true }], l4: 'udp', send: { sa: 'u' } },
  {
    what: 'ESN across 2^32',
    sas: [{ name: 'e', esn: true, initialSequence: 0xffff_fffdn }],
    l4: 'tcp',
    send: { sa: 'e' },
  },
  {
    what: 'AH ESN across 2^32',
    sas: [{ name: 'ae', protocol: 'ah', esn: true, initialSequence: 0xffff_fffen }],
    l4: 'udp',
    send: { sa: 'ae' },
  },
];

for (const shape of SHAPES) {
  for (const path of ['software', 'offloaded'] as const) {
    test(`delivers every byte: ${shape.what}, ${path} path`, () => {
      const sas = shape.sas.map(makeSa);
      const sender = new SoftSender(sas);
      const f = flow('f', shape.l4, shape.flowSa ?? shape.sas[0].name, shape.flowTunnel);
      const r = receiver(sas, [f]);
      const sent: Uint8Array[] = [];
      let seq = 1000;
      for (let i = 0; i < 6; i++) {
        const payload = bytes(50 + i * 37, i);
        sent.push(payload);
        const l4 = shape.l4 === 'tcp' ? tcpL4(seq, payload) : udpL4(payload);
        seq += payload.length;
        const s = sender.send({ ...shape.send, l4 });
        r.receive(path === 'software' ? nblOf(s.frame) : offloaded(s));
      }
      const rep = r.flow('f')!;
      assert.deepEqual(r.drops, {});
      assert.equal(rep.packetsDelivered, 6);
      assert.equal(rep.sha256, sha(concat(sent)));
      assert.equal(r.counters[path === 'software' ? 'offloaded-esp' : 'software-esp'], undefined);
      assert.equal(r.counters['header-info-mismatch'], undefined);
      assertBalanced(r);
    });
  }
}

/** A UDP flow over one ESP SA with `window`; returns the sender, receiver and a send function. */
function udpSetup(spec: SaSpec): {
  r: Receiver;
  send: (seq: bigint, payload?: Uint8Array) => Sent;
} {
  const sa = makeSa(spec);
  const sender = new SoftSender([sa]);
  const r = receiver([sa], [flow('f', 'udp', sa.name)]);
  return {
    r,
    send: (seq, payload = bytes(40, Number(seq & 0xffn))) =>
      sender.send({ sa: sa.name, seq, l4: udpL4(payload) }),
  };
}

for (const window of [64, 1024, 4096]) {
  for (const path of ['software', 'offloaded'] as const) {
    test(`anti-replay, window ${window}, ${path}: replays, too-old and forgeries`, () => {
      const { r, send } = udpSetup({ name: 'w', replayWindow: window });
      const nbl = (s: Sent) => (path === 'software' ? nblOf(s.frame) : offloaded(s));
      const top = BigInt(window) + 100n;
      // In-window out of order: every other number first, then the rest backwards.
      for (let q = 2n; q <= top; q += 2n) r.receive(nbl(send(q)));
      for (let q = top - 1n; q > top - BigInt(window) + 2n; q -= 2n) r.receive(nbl(send(q)));
      const accepted = r.flow('f')!.packetsDelivered;
      // Replays of accepted numbers.
      r.receive(nbl(send(top)));
      r.receive(nbl(send(top - 3n)));
      // Too old: left of the window.
      r.receive(nbl(send(top - BigInt(window) - 5n)));
      r.receive(nbl(send(1n)));
      // A forgery far ahead (bad ICV) must not move the window.
      const forged = send(top + 1_000_000n);
      forged.frame[forged.frame.length - 1] ^= 1;
      r.receive(path === 'software' ? nblOf(forged.frame) : offloaded(forged, { status: 3 }));
      // So a number just left of the current window's right edge is still new.
      r.receive(nbl(send(top - BigInt(window) + 1n)));
      const rep = r.flow('f')!;
      assert.equal(rep.packetsDelivered, accepted + 1);
      assert.deepEqual(r.drops, {
        replay: 2,
        'replay-too-old': 2,
        CRYPTO_TRANSPORT_ESP_AUTH_FAILED: 1,
      });
      assert.deepEqual(rep.drops, r.drops);
      assertBalanced(r);
    });
  }
}

test('anti-replay with ESN: the high half is estimated from the window top (RFC 4303 A2.2)', () => {
  const { r, send } = udpSetup({
    name: 'e',
    esn: true,
    initialSequence: 0xffff_ff00n,
    replayWindow: 1024,
  });
  for (let q = 0xffff_ff00n; q < 0x1_0000_0100n; q += 16n) r.receive(nblOf(send(q).frame));
  r.receive(nblOf(send(0x1_0000_0010n).frame)); // replay after the wrap
  r.receive(nblOf(send(0xffff_ffe0n).frame)); // replay before the wrap, inside the window
  r.receive(nblOf(send(0xffff_ffe1n).frame)); // new, before the wrap, inside the window
  assert.deepEqual(r.drops, { replay: 2 });
  assert.equal(r.flow('f')!.packetsDelivered, 33);
});

/** Where to flip a byte. */
type Damage = 'ciphertext' | 'icv' | 'esp-seq' | 'ip-header' | 'truncate';

for (const path of ['software', 'offloaded'] as const) {
  test(`corruption and truncation: each counted and reported, nothing else lost (${path})`, () => {
    const sa = makeSa({ name: 'c', encryption: 'aes-cbc-128', integrity: 'hmac-sha256-128' });
    const sender = new SoftSender([sa]);
    const r = receiver([sa], [flow('f', 'udp', 'c')]);
    const damages: Damage[] = ['ciphertext', 'icv', 'esp-seq', 'ip-header', 'truncate'];
    const good: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      const payload = bytes(100 + i, i);
      const s = sender.send({ sa: 'c', l4: udpL4(payload) });
      const d = i % 4 === 1 ? damages[(i >> 2) % damages.length] : null;
      const e = s.plan.levels[0].esp!;
      let status = 0;
      switch (d) {
        case null:
          good.push(payload);
          break;
        case 'ciphertext':
          s.frame[e.offset + e.headerLength + 5] ^= 0x80;
          status = CryptoStatus.CRYPTO_TRANSPORT_ESP_AUTH_FAILED;
          break;
        case 'icv':
          s.frame[e.icvOffset] ^= 1;
          status = CryptoStatus.CRYPTO_TRANSPORT_ESP_AUTH_FAILED;
          break;
        case 'esp-seq':
          s.frame[e.offset + 7] ^= 0x40;
          status = CryptoStatus.CRYPTO_TRANSPORT_ESP_AUTH_FAILED;
          break;
        case 'ip-header':
          s.frame[14 + 8] ^= 1; // TTL: the IPv4 header checksum fails
          break;
        case 'truncate': {
          // Cut the ESP packet to its header and IV and fix the IP length: a syntax error.
          const cut = e.offset + e.headerLength + 4;
          const ip = new ipv4.View(s.frame.subarray(14));
          ip.totalLength = cut - 14;
          ip.fillChecksum();
          status = CryptoStatus.CRYPTO_INVALID_PACKET_SYNTAX;
          const frame = s.frame.slice(0, cut);
          r.receive(path === 'software' ? nblOf(frame) : offloaded({ ...s, frame }, { status }));
          continue;
        }
      }
      r.receive(
        path === 'software' || d === 'ip-header' || status === 0
          ? path === 'offloaded' && status === 0 && d === null
            ? offloaded(s)
            : nblOf(s.frame)
          : offloaded(s, { status })
      );
    }
    const rep = r.flow('f')!;
    assert.equal(rep.sha256, sha(concat(good)));
    assert.equal(rep.packetsDelivered, 15);
    assert.deepEqual(r.drops, {
      CRYPTO_TRANSPORT_ESP_AUTH_FAILED: 3,
      'ipv4-header-checksum': 1,
      CRYPTO_INVALID_PACKET_SYNTAX: 1,
    });
    assert.deepEqual(rep.drops, {
      CRYPTO_TRANSPORT_ESP_AUTH_FAILED: 3,
      CRYPTO_INVALID_PACKET_SYNTAX: 1,
    });
    assertBalanced(r);
  });
}

test('AH corruption in software gives CRYPTO_TRANSPORT_AH_AUTH_FAILED; tunnel ESP gives TUNNEL', () => {
  const a = makeSa({ name: 'a', protocol: 'ah' });
  const t = makeSa({ name: 't', mode: 'tunnel' });
  const sender = new SoftSender([a, t]);
  const r = receiver([a, t], [flow('fa', 'tcp', 'a'), flow('ft', 'udp', 't')]);
  const s1 = sender.send({ sa: 'a', l4: tcpL4(1, bytes(64)) });
  s1.frame[s1.frame.length - 3] ^= 4; // payload byte under the AH ICV
  r.receive(nblOf(s1.frame));
  const s2 = sender.send({ sa: 't', l4: udpL4(bytes(64)) });
  s2.frame[s2.frame.length - 1] ^= 4;
  r.receive(nblOf(s2.frame));
  assert.deepEqual(r.flow('fa')!.drops, { CRYPTO_TRANSPORT_AH_AUTH_FAILED: 1 });
  assert.deepEqual(r.flow('ft')!.drops, { CRYPTO_TUNNEL_ESP_AUTH_FAILED: 1 });
});

/** A cleartext UDP frame A → B. */
function clearUdp(payload: Uint8Array, srcPort = 5000, dstPort = 5001): Uint8Array {
  const frame = new Uint8Array(14 + 20 + 8 + payload.length);
  ethernet.emit(
    {
      destination: new Uint8Array(6),
      source: new Uint8Array(6),
      etherType: ethernet.EtherType.Ipv4,
    },
    frame
  );
  ipv4.emit(
    {
      typeOfService: 0,
      identification: 1,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      timeToLive: 64,
      protocol: IpProtocol.Udp,
      sourceAddress: ADDR.a4,
      destinationAddress: ADDR.b4,
      options: new Uint8Array(0),
    },
    frame.subarray(14),
    8 + payload.length
  );
  const d = frame.subarray(34);
  udp.emit({ srcPort, dstPort }, d, payload.length);
  d.set(payload, 8);
  udp.fillChecksum(d, checksum.pseudoHeaderV4(ADDR.a4, ADDR.b4, 17, d.length));
  return frame;
}

test('inbound policy (RFC 4301 §5.2): cleartext or another SA for a protected flow is dropped', () => {
  const x = makeSa({ name: 'x' });
  const y = makeSa({ name: 'y', espSpi: 0x7777 });
  const sender = new SoftSender([x, y]);
  const r = receiver(
    [x, y],
    [flow('px', 'udp', 'x'), flow('bypass', 'udp', undefined, undefined, [7, 7])]
  );
  r.receive(nblOf(clearUdp(bytes(10))));
  r.receive(nblOf(sender.send({ sa: 'y', l4: udpL4(bytes(10)) }).frame));
  r.receive(nblOf(sender.send({ sa: 'x', l4: udpL4(bytes(10), 7, 7) }).frame));
  r.receive(nblOf(clearUdp(bytes(10), 7, 7)));
  r.receive(nblOf(clearUdp(bytes(10), 8, 8)));
  assert.deepEqual(r.drops, {
    'policy-unprotected': 1,
    'policy-wrong-sa': 1,
    'policy-unexpected-protection': 1,
    'no-flow': 1,
  });
  assert.equal(r.flow('bypass')!.packetsDelivered, 1);
  assertBalanced(r);
});

test('offloaded: header info is checked against the trailer; SaDeleteReq calls the host once', () => {
  const sa = makeSa({ name: 's' });
  const sender = new SoftSender([sa]);
  const asked: string[] = [];
  const r = receiver([sa], [flow('f', 'udp', 's')], {
    onSaDeleteRequest: (n: string) => asked.push(n),
  });
  r.receive(offloaded(sender.send({ sa: 's', l4: udpL4(bytes(9)) }), { badHeaderInfo: true }));
  r.receive(offloaded(sender.send({ sa: 's', l4: udpL4(bytes(9)) }), { saDeleteReq: true }));
  r.receive(offloaded(sender.send({ sa: 's', l4: udpL4(bytes(9)) }), { saDeleteReq: true }));
  assert.equal(r.counters['header-info-mismatch'], 1);
  assert.deepEqual(asked, ['s']);
  assert.equal(r.counters['sa-delete-requests'], 2);
  assert.equal(r.flow('f')!.packetsDelivered, 3);
});

/** A raw ESP frame (IPv4, A → B) with a chosen Next Header and padding, sealed. */
function rawEsp(
  sa: SaConfig,
  seq: number,
  nextHeader: number,
  payload: Uint8Array,
  badPad = false
): Uint8Array {
  const t = createEsp({
    encryption: sa.esp!.encryption,
    integrity: sa.esp!.integrity,
    encryptionKey: sa.esp!.encryptionKey,
    esn: false,
  });
  const espBytes = new Uint8Array(esp.planEsp(payload.length, t).totalLength);
  esp.frameEsp(espBytes, { spi: sa.esp!.spi, sequenceNumber: seq, nextHeader, payload }, t);
  if (badPad) espBytes[8 + t.ivLength + payload.length] = 9;
  t.seal(espBytes, 0);
  const frame = new Uint8Array(34 + espBytes.length);
  ethernet.emit(
    { destination: new Uint8Array(6), source: new Uint8Array(6), etherType: 0x800 },
    frame
  );
  ipv4.emit(
    {
      typeOfService: 0,
      identification: 1,
      dontFragment: false,
      moreFragments: false,
      fragmentOffset: 0,
      timeToLive: 64,
      protocol: IpProtocol.Esp,
      sourceAddress: ADDR.a4,
      destinationAddress: ADDR.b4,
      options: new Uint8Array(0),
    },
    frame.subarray(14),
    espBytes.length
  );
  frame.set(espBytes, 34);
  return frame;
}

test('dummy packets (Next Header 59) are dropped silently but counted; bad padding is counted', () => {
  const sa = makeSa({ name: 'd' });
  const r = receiver([sa], [flow('f', 'udp', 'd')]);
  r.receive(nblOf(rawEsp(sa, 1, 59, bytes(30))));
  // A UDP datagram with padding 9 instead of 1: delivered, counted.
  const dgram = new Uint8Array(8 + 5);
  udp.emit({ srcPort: 5000, dstPort: 5001 }, dgram, 5);
  udp.fillChecksum(dgram, checksum.pseudoHeaderV4(ADDR.a4, ADDR.b4, 17, dgram.length));
  r.receive(nblOf(rawEsp(sa, 2, 17, dgram, true)));
  assert.deepEqual(r.drops, { 'esp-dummy': 1 });
  assert.deepEqual(r.flow('f')!.drops, {});
  assert.equal(r.counters['esp-bad-padding'], 1);
  assert.equal(r.flow('f')!.packetsDelivered, 1);
});

test('unknown SPI, not for this host, not IP: counted', () => {
  const sa = makeSa({ name: 'k' });
  const other = makeSa({ name: 'o', espSpi: 0x4242 });
  const r = receiver([sa], [flow('f', 'udp', 'k')]);
  r.receive(nblOf(new SoftSender([other]).send({ sa: 'o', l4: udpL4(bytes(5)) }).frame));
  const notOurs = clearUdp(bytes(5));
  notOurs[14 + 19] ^= 1;
  new ipv4.View(notOurs.subarray(14)).fillChecksum();
  r.receive(nblOf(notOurs));
  const arp = new Uint8Array(60);
  arp[12] = 0x08;
  arp[13] = 0x06;
  r.receive(nblOf(arp));
  assert.deepEqual(r.drops, { 'no-sa': 1, 'not-for-this-host': 1, 'not-ip': 1 });
  assertBalanced(r);
});
