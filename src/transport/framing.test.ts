import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  encryptionInfo,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from '../crypto/names.ts';
import type { NetBufferList } from '../ndis/nbl.ts';
import {
  decodeChecksumTransmit,
  decodeLsoTransmit,
  decodeLsoV1Transmit,
  decodeLsoV2Transmit,
  getChecksum,
  getHeaderTransmit,
  getLso,
  getOffloadHandle,
  getTunnelHandle,
} from '../ndis/oob.ts';
import * as ah from '../wire/ah.ts';
import * as checksum from '../wire/checksum.ts';
import * as esp from '../wire/esp.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { reserveSegments } from '../wire/seqnum.ts';
import * as tcp from '../wire/tcp.ts';
import * as udp from '../wire/udp.ts';
import * as framing from './framing.ts';
import type { IpSpec, Ipv4Spec, Ipv6Spec } from './ip.ts';
import { chooseMss, segmentCount, segmentLength } from './mss.ts';

// ── Fixtures ─────────────────────────────────────────────────────────────────────────────────

const MAC_A = ethernet.parseMac('02:00:00:00:00:01');
const MAC_B = ethernet.parseMac('02:00:00:00:00:02');
const V4_A = ipv4.parseAddress('192.0.2.1');
const V4_B = ipv4.parseAddress('198.51.100.7');
const V4_C = ipv4.parseAddress('10.0.0.1');
const V4_D = ipv4.parseAddress('10.0.0.2');
const V6_A = ipv6.parseAddress('2001:db8::1');
const V6_B = ipv6.parseAddress('2001:db8::2');
const V6_C = ipv6.parseAddress('fd00::a');
const V6_D = ipv6.parseAddress('fd00::b');

const ETH: framing.EthernetSpec = { destination: MAC_B, source: MAC_A };
const v4 = (source = V4_A, destination = V4_B): Ipv4Spec => ({ version: 4, source, destination });
const v6 = (source = V6_A, destination = V6_B): Ipv6Spec => ({ version: 6, source, destination });

/** An ESP SA whose geometry comes from the algorithm table (crypto/names.ts). */
function espSa(
  enc: EncryptionName,
  integ: IntegrityName | null,
  spi = 0x1001,
  sequenceNumber = 7n
): framing.EspSa {
  const e = encryptionInfo(enc);
  const i = integ === null ? null : integrityInfo(integ);
  return {
    spi,
    sequenceNumber,
    // RFC 4543 §3: ESP-GMAC carries the GMAC IV; otherwise the cipher's IV.
    ivLength: i !== null && i.ivLength > 0 ? i.ivLength : e.ivLength,
    icvLength: e.combined ? e.icvLength : (i?.icvLength ?? 0),
    padAlign: e.padAlign,
  };
}

function ahSa(integ: IntegrityName, spi = 0x2002, sequenceNumber = 9n): framing.AhSa {
  const i = integrityInfo(integ);
  return { spi, sequenceNumber, icvLength: i.icvLength, ivLength: i.ivLength };
}

function tcpL4(payload: Uint8Array, options: readonly tcp.Option[] = []): framing.TcpSpec {
  return {
    protocol: 'tcp',
    header: {
      srcPort: 49152,
      dstPort: 443,
      sequenceNumber: 0x1000_0000,
      acknowledgmentNumber: 0x2000_0000,
      flags: tcp.Flags.Ack | tcp.Flags.Psh,
      window: 65535,
      urgentPointer: 0,
      options,
    },
    payload,
  };
}

const bytes = (n: number, seed = 1): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

// ── The parse-back checker: every framed packet walked with the wire parsers ────────────────

interface LevelSeen {
  readonly ipAt: number;
  readonly ahAt?: number;
  readonly udpAt?: number;
  readonly espAt?: number;
  /** The trailer as parsed (D1), or the LSO filler length (D2). */
  readonly padLength?: number;
  readonly nextHeader?: number;
}

interface Seen {
  readonly frame: Uint8Array;
  readonly levels: readonly LevelSeen[];
  readonly l4At: number;
}

const allZero = (b: Uint8Array): boolean => b.every((x) => x === 0);

/** The offset a test expects to have been found. */
function def(offset: number | undefined): number {
  assert.ok(offset !== undefined, 'the header was found');
  return offset;
}

function levelsOf(spec: framing.FrameSpec): { ip: IpSpec; p: framing.Protection | undefined }[] {
  return spec.tunnel === undefined
    ? [{ ip: spec.ip, p: spec.transport }]
    : [
        { ip: spec.ip, p: spec.tunnel.protection },
        { ip: spec.tunnel.inner, p: spec.transport },
      ];
}

/**
 * Walks the NBL's frame with the wire parsers and checks it against the spec, field by field, as
 * D1/D2/D4/D13/D14 require; returns where each header was found. Independent of `framing.plan`.
 */
function verify(spec: framing.FrameSpec, nbl: NetBufferList): Seen {
  assert.equal(nbl.netBuffers.length, 1, 'D1/D2: one NET_BUFFER');
  const raw = nbl.netBuffers[0].data();
  const frame = raw.slice(); // a copy: LSO length fields are patched before parsing
  const lso = spec.lso;
  const eth = ethernet.parse(frame);
  assert.ok(eth.ok);
  assert.deepEqual(eth.value.header.destination, spec.ethernet.destination);
  assert.deepEqual(eth.value.header.source, spec.ethernet.source);
  assert.deepEqual(eth.value.header.vlan, spec.ethernet.vlan);
  assert.equal(
    eth.value.header.etherType,
    spec.ip.version === 4 ? ethernet.EtherType.Ipv4 : ethernet.EtherType.Ipv6
  );
  let at = frame.length - eth.value.payload.length;
  const outerAt = at;
  let end = frame.length;
  const seen: LevelSeen[] = [];
  const levels = levelsOf(spec);
  for (let i = 0; i < levels.length; i++) {
    const { ip: ipSpec, p } = levels[i];
    const ipAt = at;
    let pos: number;
    let next: number;
    if (ipSpec.version === 4) {
      const hv = new ipv4.View(frame.subarray(at));
      if (lso !== undefined) {
        // D2: LSOv1 Total Length = IP header to the end of the NB; LSOv2: 0.
        assert.equal(hv.totalLength, lso.version === 1 ? end - at : 0, 'D2: IPv4 Total Length');
        assert.equal(
          checksum.checksum(frame.subarray(at, at + hv.headerLength)),
          0,
          'IPv4 checksum as written'
        );
        // Patched so the wire parser can walk it (LSOv2 packets may exceed 16 bits: cut there).
        hv.totalLength = Math.min(end - at, 0xffff);
      }
      const r = ipv4.parse(frame.subarray(at, Math.min(end, at + 0xffff)));
      assert.ok(r.ok, `ipv4.parse at ${at}: ${r.ok ? '' : r.error.reason}`);
      const h = r.value.header;
      if (lso === undefined)
        assert.ok(r.value.checksumValid, 'D13: every IPv4 header checksum is correct');
      if (lso === undefined) {
        assert.equal(
          r.value.payload.length + r.value.headerLength,
          end - at,
          'D1: final Total Length'
        );
      }
      assert.deepEqual(h.sourceAddress, ipSpec.source);
      assert.deepEqual(h.destinationAddress, ipSpec.destination);
      assert.deepEqual(h.options, ipSpec.options ?? new Uint8Array(0));
      assert.equal(h.identification, ipSpec.identification ?? 0);
      assert.equal(h.timeToLive, ipSpec.timeToLive ?? 64);
      assert.equal(h.dontFragment, ipSpec.dontFragment ?? false);
      assert.equal(h.moreFragments, false);
      assert.equal(h.fragmentOffset, 0);
      pos = at + r.value.headerLength;
      next = h.protocol;
    } else {
      const dv = new DataView(frame.buffer, frame.byteOffset + at);
      if (lso !== undefined) {
        assert.equal(dv.getUint16(4), 0, 'D2: IPv6 Payload Length 0 with LSO');
        dv.setUint16(4, Math.min(end - at - ipv6.HEADER_LENGTH, 0xffff));
      }
      const r = ipv6.parse(frame.subarray(at, end));
      assert.ok(r.ok, `ipv6.parse at ${at}: ${r.ok ? '' : r.error.reason}`);
      if (lso === undefined) {
        assert.equal(ipv6.HEADER_LENGTH + dv.getUint16(4), end - at, 'D1: final Payload Length');
      }
      assert.deepEqual(r.value.header.sourceAddress, ipSpec.source);
      assert.deepEqual(r.value.header.destinationAddress, ipSpec.destination);
      assert.deepEqual(r.value.extensions, ipSpec.extensions ?? []);
      assert.equal(r.value.header.hopLimit, ipSpec.hopLimit ?? 64);
      pos = at + r.value.upperOffset;
      next = r.value.upperProtocol;
    }
    let ahAt: number | undefined;
    let udpAt: number | undefined;
    let espAt: number | undefined;
    let padLength: number | undefined;
    let trailerNext: number | undefined;
    let innerEnd = end;
    if (p?.ah !== undefined) {
      assert.equal(next, ipv4.IpProtocol.Ah, 'AH follows the IP header');
      const a = ah.parse(frame.subarray(pos, end), {
        ipVersion: ipSpec.version,
        ivLength: p.ah.ivLength ?? 0,
        icvLength: p.ah.icvLength,
      });
      assert.ok(a.ok, `ah.parse: ${a.ok ? '' : a.error.reason}`);
      assert.equal(a.value.header.spi, p.ah.spi);
      assert.equal(a.value.header.sequenceNumber, Number(p.ah.sequenceNumber & 0xffff_ffffn));
      assert.equal(new ah.View(frame.subarray(pos)).reserved, 0);
      assert.ok(
        allZero(a.value.iv) && allZero(a.value.icv) && allZero(a.value.padding),
        'D1: zero IV/ICV'
      );
      assert.equal(a.value.headerLength % (ipSpec.version === 4 ? 4 : 8), 0, 'RFC 4302 §2.6');
      ahAt = pos;
      pos += a.value.headerLength;
      next = a.value.header.nextHeader;
    }
    if (p?.udp !== undefined) {
      assert.equal(next, ipv4.IpProtocol.Udp, 'D14: UDP before ESP');
      const u = new udp.View(frame.subarray(pos));
      assert.equal(u.srcPort, p.udp.srcPort ?? 4500);
      assert.equal(u.dstPort, p.udp.dstPort ?? 4500);
      const expected = lso === undefined || lso.version === 1 ? end - pos : 0;
      assert.equal(u.length, expected, 'D14: UDP Length');
      assert.equal(u.checksum, 0, 'D14: UDP-ESP checksum 0 (the NIC fills it over IPv6)');
      udpAt = pos;
      pos += udp.HEADER_LENGTH;
      next = ipv4.IpProtocol.Esp;
    }
    if (p?.esp !== undefined) {
      assert.equal(next, ipv4.IpProtocol.Esp, 'ESP header');
      const e = esp.parse(frame.subarray(pos, end));
      assert.ok(e.ok);
      assert.equal(e.value.header.spi, p.esp.spi);
      assert.equal(e.value.header.sequenceNumber, Number(p.esp.sequenceNumber & 0xffff_ffffn));
      const ivAt = pos + esp.HEADER_LENGTH;
      const contentAt = ivAt + p.esp.ivLength;
      assert.ok(allZero(frame.subarray(ivAt, contentAt)), 'D1/D2: zero IV field');
      espAt = pos;
      if (lso === undefined) {
        const icv = frame.subarray(end - p.esp.icvLength, end);
        assert.ok(allZero(icv), 'D1: zero ICV field');
        const plaintext = frame.subarray(contentAt, end - p.esp.icvLength);
        assert.equal(plaintext.length % p.esp.padAlign, 0, 'RFC 4303 §2.4: aligned to padAlign');
        const t = esp.parseTrailer(plaintext);
        assert.ok(t.ok);
        assert.ok(t.value.padValid, 'D1: padding 1, 2, 3, …');
        assert.equal(
          t.value.padLength,
          esp.padLengthFor(t.value.payloadLength, p.esp.padAlign),
          'minimal padding'
        );
        padLength = t.value.padLength;
        trailerNext = t.value.nextHeader;
        innerEnd = contentAt + t.value.payloadLength;
      } else {
        // D2: no trailer, no ICV: the NB ends in PadLength filler bytes.
        const filler = getHeaderTransmit(nbl).PadLength;
        const f = frame.subarray(end - filler, end);
        assert.deepEqual(
          [...f],
          Array.from({ length: filler }, (_, k) => k + 1),
          'D2 filler'
        );
        padLength = filler;
        innerEnd = end - filler;
        trailerNext = ipv4.IpProtocol.Tcp;
      }
      next = trailerNext;
      pos = contentAt;
    }
    const inner = levels[i + 1] as (typeof levels)[number] | undefined;
    if (inner !== undefined) {
      assert.equal(next, inner.ip.version === 4 ? 4 : 41, 'D1: tunnel Next Header 4 or 41');
    } else {
      assert.equal(next, spec.l4.protocol === 'tcp' ? 6 : 17, 'Next Header of the TCP/UDP');
    }
    seen.push({
      ipAt,
      ...(ahAt === undefined ? {} : { ahAt }),
      ...(udpAt === undefined ? {} : { udpAt }),
      ...(espAt === undefined ? {} : { espAt }),
      ...(padLength === undefined ? {} : { padLength }),
      ...(trailerNext === undefined ? {} : { nextHeader: trailerNext }),
    });
    at = pos;
    end = innerEnd;
  }

  // The TCP/UDP segment and its checksum (D2, D13).
  const carrier = spec.tunnel?.inner ?? spec.ip;
  const segment = frame.subarray(at, end);
  const pseudo = (protocol: number, length: number): number =>
    carrier.version === 4
      ? checksum.pseudoHeaderV4(carrier.source, carrier.destination, protocol, length)
      : checksum.pseudoHeaderV6(carrier.source, carrier.destination, protocol, length);
  const field = (offset: number): number => (segment[offset] << 8) | segment[offset + 1];
  const l4 = spec.l4;
  if (l4.protocol === 'tcp') {
    const t = tcp.parse(segment);
    assert.ok(t.ok);
    assert.deepEqual(t.value.header, l4.header);
    assert.deepEqual(t.value.payload, l4.payload);
    if (lso !== undefined) {
      assert.equal(field(16), checksum.fold(pseudo(6, 0)), 'D2: seed without length');
    } else if (spec.checksum === 'offload') {
      assert.equal(field(16), checksum.fold(pseudo(6, segment.length)), 'D13: seed with length');
    } else {
      assert.ok(tcp.checksumValid(segment, pseudo(6, segment.length)), 'D13: complete checksum');
    }
  } else {
    const u = udp.parse(segment);
    assert.ok(u.ok);
    assert.equal(new udp.View(segment).length, segment.length);
    assert.deepEqual(u.value.header, { srcPort: l4.srcPort, dstPort: l4.dstPort });
    assert.deepEqual(u.value.payload, l4.payload);
    if (spec.checksum === 'offload') {
      assert.equal(field(6), checksum.fold(pseudo(17, segment.length)), 'D13: seed with length');
    } else {
      assert.ok(udp.checksumValid(segment, pseudo(17, segment.length), carrier.version));
      assert.notEqual(field(6), 0, 'a computed UDP checksum is never sent as 0');
    }
  }

  // OOB (D1, D4, reference §1.10, §2.9–§2.12).
  const bundle = spec.transport === undefined ? seen[0] : seen[seen.length - 1];
  const bundleSpec = spec.transport ?? spec.tunnel?.protection;
  const hdr = getHeaderTransmit(nbl);
  assert.equal(
    hdr.AhHeaderOffset * 4,
    bundle.ahAt === undefined ? 0 : bundle.ahAt - outerAt,
    'D4: AhHeaderOffset'
  );
  assert.equal(
    hdr.EspHeaderOffset * 4,
    bundle.espAt === undefined ? 0 : bundle.espAt - outerAt,
    'D4: EspHeaderOffset'
  );
  assert.equal(
    hdr.NextHeader,
    bundle.nextHeader ?? 0,
    'D1: NextHeader = the trailer’s (AH alone: 0)'
  );
  assert.equal(hdr.PadLength, bundle.padLength ?? 0, 'D1: PadLength = the trailer’s (AH alone: 0)');
  assert.equal(getOffloadHandle(nbl), bundleSpec?.handle);
  assert.equal(
    getTunnelHandle(nbl),
    spec.tunnel !== undefined && spec.transport !== undefined ? spec.tunnel.protection.handle : 0n,
    'D4: TunnelHandle only in transport over tunnel'
  );
  if (lso === undefined) {
    assert.equal(getLso(nbl), 0);
  } else if (lso.version === 1) {
    assert.equal(decodeLsoTransmit(getLso(nbl)).Type, 0);
    const f = decodeLsoV1Transmit(getLso(nbl));
    assert.deepEqual({ ...f }, { MSS: lso.mss, TcpHeaderOffset: at, Type: 0, Reserved2: 0 });
  } else {
    const f = decodeLsoV2Transmit(getLso(nbl));
    assert.deepEqual(
      { ...f },
      { MSS: lso.mss, TcpHeaderOffset: at, Type: 1, IPVersion: spec.ip.version === 4 ? 0 : 1 }
    );
  }
  if (lso === undefined && spec.checksum === 'offload') {
    const c = decodeChecksumTransmit(getChecksum(nbl));
    assert.equal(c.IsIPv4, carrier.version === 4 ? 1 : 0);
    assert.equal(c.IsIPv6, carrier.version === 6 ? 1 : 0);
    assert.equal(c.TcpChecksum, l4.protocol === 'tcp' ? 1 : 0);
    assert.equal(c.UdpChecksum, l4.protocol === 'udp' ? 1 : 0);
    assert.equal(c.IpHeaderChecksum, 0);
    assert.equal(c.TcpHeaderOffset, at, 'D13: TcpHeaderOffset from the frame start');
  } else {
    assert.equal(getChecksum(nbl), 0, 'no checksum OOB');
  }
  return { frame: raw, levels: seen, l4At: at };
}

/** Style practice 8: emission into two different junk fills gives the same bytes, and nothing after. */
function assertEveryByteWritten(spec: framing.FrameSpec): void {
  const p = framing.plan(spec);
  const a = new Uint8Array(p.frameLength + 9).fill(0xa5);
  const b = new Uint8Array(p.frameLength + 9).fill(0x17);
  assert.equal(framing.emit(spec, a).frameLength, p.frameLength);
  framing.emit(spec, b);
  assert.deepEqual(
    a.subarray(0, p.frameLength),
    b.subarray(0, p.frameLength),
    'every byte written'
  );
  assert.ok(
    a.subarray(p.frameLength).every((x) => x === 0xa5),
    'nothing written past the frame'
  );
  assert.deepEqual(framing.build(spec).netBuffers[0].data(), a.subarray(0, p.frameLength));
}

function frameAndVerify(spec: framing.FrameSpec): Seen {
  assertEveryByteWritten(spec);
  return verify(spec, framing.build(spec));
}

// ── D1: non-LSO framing ──────────────────────────────────────────────────────────────────────

test('D1: ESP transport over IPv4 (AES-CBC-128 + HMAC-SHA1-96) — lengths, trailer, zero IV/ICV, OOB', () => {
  const spec: framing.FrameSpec = {
    ethernet: ETH,
    ip: v4(),
    transport: { handle: 0xfeed_0001n, esp: espSa('aes-cbc-128', 'hmac-sha1-96', 0x1001, 42n) },
    l4: tcpL4(bytes(11)),
  };
  const seen = frameAndVerify(spec);
  const f = seen.frame;
  // 14 eth + 20 IPv4 + 8 ESP + 16 IV + (20 TCP + 11) + 15 pad + 2 + 12 ICV = 118.
  assert.equal(f.length, 118);
  assert.equal((f[16] << 8) | f[17], 104, 'IPv4 Total Length');
  assert.equal(f[23], 50, 'protocol ESP');
  assert.deepEqual([...f.subarray(34, 42)], [0, 0, 0x10, 0x01, 0, 0, 0, 42], 'SPI, sequence');
  assert.deepEqual(
    [...f.subarray(89, 106)],
    [...Array.from({ length: 15 }, (_, i) => i + 1), 15, 6]
  );
  assert.deepEqual(getHeaderTransmit(framing.build(spec)), {
    NextHeader: 6,
    PadLength: 15,
    AhHeaderOffset: 0,
    EspHeaderOffset: 5,
  });
  const p = framing.plan(spec);
  assert.equal(p.segments, 1);
  assert.equal(p.l4Offset, 58);
  assert.equal(p.levels[0].esp?.icvOffset, 106);
});

test('D1: ESP transport over IPv6 with extension headers, UDP, AES-GCM and null+GMAC geometries', () => {
  const extensions: ipv6.Extension[] = [
    {
      type: ipv4.IpProtocol.Hopopt,
      options: [{ type: ipv6.OptionType.RouterAlert, data: Uint8Array.of(0, 0) }],
    },
    { type: ipv4.IpProtocol.DestOpts, options: [{ type: 0x1e, data: bytes(5) }] },
  ];
  for (const sa of [
    espSa('aes-gcm-128', null),
    espSa('null', 'aes-gmac-256'),
    espSa('3des-cbc', 'hmac-sha256-128'),
  ]) {
    for (const n of [0, 1, 2, 3, 100]) {
      frameAndVerify({
        ethernet: { ...ETH, vlan: { pcp: 3, dei: false, vid: 42 } },
        ip: { version: 6, source: V6_A, destination: V6_B, extensions, hopLimit: 9 },
        transport: { handle: 3n, esp: sa },
        l4: { protocol: 'udp', srcPort: 5000, dstPort: 53, payload: bytes(n) },
      });
    }
  }
});

test('D1 + RFC 4302 §2.6: AH aligns to 4 bytes over IPv4 and 8 over IPv6; GMAC carries its IV', () => {
  const cases: [IntegrityName, 4 | 6, number][] = [
    ['hmac-sha1-96', 4, 24],
    ['hmac-sha1-96', 6, 24],
    ['hmac-sha256-128', 4, 28],
    ['hmac-sha256-128', 6, 32], // 12 + 16 + 4 (D1's example)
    ['aes-gmac-128', 4, 36],
    ['aes-gmac-128', 6, 40], // 12 + 8 + 16 + 4 (RFC 4543 erratum 3643)
  ];
  for (const [integ, version, length] of cases) {
    const spec: framing.FrameSpec = {
      ethernet: ETH,
      ip:
        version === 4
          ? { version, source: V4_A, destination: V4_B, options: Uint8Array.of(148, 4, 0, 0) }
          : v6(),
      transport: { handle: 0x77n, ah: ahSa(integ, 0xabcdef01, 0x1_0000_0005n) },
      l4: tcpL4(bytes(33)),
    };
    const seen = frameAndVerify(spec);
    assert.equal(framing.plan(spec).levels[0].ah?.length, length, `${integ} over IPv${version}`);
    const oob = getHeaderTransmit(framing.build(spec));
    assert.deepEqual(oob, {
      NextHeader: 0,
      PadLength: 0,
      AhHeaderOffset: (def(seen.levels[0].ahAt) - 14) / 4,
      EspHeaderOffset: 0,
    });
    assert.equal(
      new ah.View(seen.frame.subarray(def(seen.levels[0].ahAt))).sequenceNumber,
      5,
      'low half'
    );
  }
});

test('D1 + reference §1.11: AH+ESP is [IP][AH][ESP]…; AH Next Header 50; both offsets in the OOB', () => {
  for (const ip of [v4(), v6()]) {
    const spec: framing.FrameSpec = {
      ethernet: ETH,
      ip,
      transport: {
        handle: 0x55n,
        esp: espSa('aes-cbc-256', 'hmac-sha256-128', 0x3003, 11n),
        ah: ahSa('hmac-sha256-128', 0x4004, 12n),
      },
      l4: tcpL4(bytes(700), [
        { type: 'mss', mss: 1400 },
        { type: 'nop' },
        { type: 'window-scale', shift: 7 },
      ]),
    };
    const seen = frameAndVerify(spec);
    const level = seen.levels[0];
    const ipLength = ip.version === 4 ? 20 : 40;
    assert.equal(level.ahAt, 14 + ipLength);
    assert.equal(level.espAt, 14 + ipLength + (ip.version === 4 ? 28 : 32));
    assert.equal(seen.frame[def(level.ahAt)], 50, 'AH Next Header = ESP');
    const oob = getHeaderTransmit(framing.build(spec));
    assert.equal(oob.AhHeaderOffset, ipLength / 4);
    assert.equal(oob.EspHeaderOffset, (def(level.espAt) - 14) / 4);
    assert.equal(oob.NextHeader, 6);
  }
});

// ── D1 tunnel, D4 transport over tunnel, D14 UDP-ESP ────────────────────────────────────────

test('D1: tunnel mode — outer IP, ESP/AH, inner IP with Next Header 4 or 41; OffloadHandle = tunnel SA', () => {
  for (const [outer, inner] of [
    [v4(), v4(V4_C, V4_D)],
    [v4(), v6(V6_C, V6_D)],
    [v6(), v4(V4_C, V4_D)],
    [v6(), v6(V6_C, V6_D)],
  ] as const) {
    for (const protection of [
      { handle: 0x10n, esp: espSa('aes-gcm-256', null) },
      { handle: 0x11n, ah: ahSa('hmac-md5-96') },
      { handle: 0x12n, esp: espSa('aes-cbc-128', 'hmac-sha1-96'), ah: ahSa('aes-gmac-128') },
    ]) {
      const spec: framing.FrameSpec = {
        ethernet: ETH,
        ip: outer,
        tunnel: {
          protection,
          inner:
            inner.version === 4
              ? { ...inner, identification: 0x4242, timeToLive: 3 }
              : { ...inner, hopLimit: 3 },
        },
        l4: tcpL4(bytes(200)),
      };
      const seen = frameAndVerify(spec);
      assert.equal(seen.levels.length, 2);
      const oob = getHeaderTransmit(framing.build(spec));
      if (protection.esp !== undefined) {
        assert.equal(oob.NextHeader, inner.version === 4 ? 4 : 41, 'D1: tunnel NextHeader');
      }
    }
  }
});

test('D4: transport over tunnel — offsets from the outermost IP header locate the transport bundle', () => {
  const spec: framing.FrameSpec = {
    ethernet: ETH,
    ip: { version: 4, source: V4_A, destination: V4_B, options: Uint8Array.of(1, 148, 4, 0, 0) },
    tunnel: {
      protection: {
        handle: 0xaaaa_0000_0000_0001n,
        esp: espSa('aes-cbc-128', 'hmac-sha1-96', 0x7001, 100n),
      },
      inner: v6(V6_C, V6_D),
    },
    transport: {
      handle: 0xbbbb_0000_0000_0002n,
      esp: espSa('aes-gcm-128', null, 0x8001, 200n),
      ah: ahSa('hmac-sha1-96', 0x8002, 201n),
    },
    l4: tcpL4(bytes(321)),
    checksum: 'offload',
  };
  const seen = frameAndVerify(spec);
  const [outer, inner] = seen.levels;
  const nbl = framing.build(spec);
  const oob = getHeaderTransmit(nbl);
  assert.equal(getOffloadHandle(nbl), 0xbbbb_0000_0000_0002n, 'OffloadHandle = transport SA');
  assert.equal(getTunnelHandle(nbl), 0xaaaa_0000_0000_0001n, 'TunnelHandle = tunnel SA');
  assert.equal(oob.AhHeaderOffset * 4, def(inner.ahAt) - outer.ipAt);
  assert.equal(oob.EspHeaderOffset * 4, def(inner.espAt) - outer.ipAt);
  assert.equal(oob.NextHeader, 6, 'the inner (transport) trailer');
  assert.equal(oob.PadLength, inner.padLength);
  assert.equal(outer.nextHeader, 41, 'the tunnel trailer announces IPv6');
  // The offsets land on headers with the transport SAs' SPIs (what the NIC checks, D4).
  const f = seen.frame;
  assert.equal(new ah.View(f.subarray(outer.ipAt + oob.AhHeaderOffset * 4)).spi, 0x8002);
  assert.equal(new esp.View(f.subarray(outer.ipAt + oob.EspHeaderOffset * 4)).spi, 0x8001);
});

test('D14: UDP-ESP — UDP 4500/4500 before ESP, final Length, checksum 0, over IPv4 and IPv6', () => {
  for (const ip of [v4(), v6()]) {
    const spec: framing.FrameSpec = {
      ethernet: ETH,
      ip,
      transport: { handle: 9n, esp: espSa('aes-gcm-128', null), udp: {} },
      l4: tcpL4(bytes(64)),
    };
    const seen = frameAndVerify(spec);
    const u = new udp.View(seen.frame.subarray(def(seen.levels[0].udpAt)));
    assert.equal(u.srcPort, 4500);
    assert.equal(u.dstPort, 4500);
    assert.equal(
      getHeaderTransmit(framing.build(spec)).EspHeaderOffset * 4,
      (ip.version === 4 ? 20 : 40) + 8
    );
  }
  // Transport over a UDP-encapsulated tunnel (type 4) and UDP-encapsulated transport over a
  // tunnel (type 8), with other ports.
  frameAndVerify({
    ethernet: ETH,
    ip: v4(),
    tunnel: {
      protection: { handle: 1n, esp: espSa('aes-gcm-128', null), udp: { srcPort: 1234 } },
      inner: v4(V4_C, V4_D),
    },
    transport: { handle: 2n, esp: espSa('aes-cbc-128', 'hmac-sha256-128') },
    l4: tcpL4(bytes(10)),
  });
  frameAndVerify({
    ethernet: ETH,
    ip: v6(),
    tunnel: { protection: { handle: 1n, esp: espSa('aes-gcm-128', null) }, inner: v4(V4_C, V4_D) },
    transport: { handle: 2n, esp: espSa('aes-cbc-128', 'hmac-sha256-128'), udp: { dstPort: 4501 } },
    l4: { protocol: 'udp', srcPort: 1, dstPort: 2, payload: bytes(3) },
  });
});

// ── D13: checksums ──────────────────────────────────────────────────────────────────────────

test('D13: without LSO the transport completes the checksum, or seeds it with length and sets slot 0', () => {
  for (const l4 of [
    tcpL4(bytes(77)),
    { protocol: 'udp', srcPort: 9, dstPort: 10, payload: bytes(77) } as const,
  ]) {
    for (const choice of ['complete', 'offload', undefined] as const) {
      // Tunnel mode: the pseudo-header uses the inner addresses (verify checks with them).
      frameAndVerify({
        ethernet: ETH,
        ip: v6(),
        tunnel: {
          protection: { handle: 5n, esp: espSa('aes-gcm-128', null) },
          inner: v4(V4_C, V4_D),
        },
        l4,
        ...(choice === undefined ? {} : { checksum: choice }),
      });
      frameAndVerify({
        ethernet: ETH,
        ip: v4(),
        transport: { handle: 5n, esp: espSa('null', 'hmac-sha1-96') },
        l4,
        ...(choice === undefined ? {} : { checksum: choice }),
      });
    }
  }
});

// ── D2: LSO framing ─────────────────────────────────────────────────────────────────────────

test('D2: LSOv1 over IPv4 — one NB, no trailer or ICV, filler = the last segment’s padding, Total Length to the NB end', () => {
  const sa = espSa('aes-cbc-128', 'hmac-sha1-96', 0x1001, 1000n);
  const payload = bytes(4000);
  const spec: framing.FrameSpec = {
    ethernet: ETH,
    ip: v4(),
    transport: { handle: 1n, esp: sa },
    l4: tcpL4(payload),
    lso: { version: 1, mss: 1400 },
  };
  const seen = frameAndVerify(spec);
  // 3 segments: 1400, 1400, 1200; the last ESP payload is 20 + 1200 = 1220 → pad (16 − 1222 % 16) % 16 = 10.
  assert.equal(framing.plan(spec).segments, 3);
  assert.equal(seen.levels[0].padLength, 10);
  assert.equal(seen.frame.length, 14 + 20 + 8 + 16 + 20 + 4000 + 10);
  const nbl = framing.build(spec);
  assert.deepEqual(getHeaderTransmit(nbl), {
    NextHeader: 6,
    PadLength: 10,
    AhHeaderOffset: 0,
    EspHeaderOffset: 5,
  });
  assert.equal(decodeLsoV1Transmit(getLso(nbl)).TcpHeaderOffset, 14 + 20 + 8 + 16);
});

test('D2: LSOv2 over IPv4 and IPv6 — length fields 0, IPVersion, UDP-ESP Length 0', () => {
  for (const ip of [
    v4(),
    v6(),
    {
      version: 6,
      source: V6_A,
      destination: V6_B,
      extensions: [{ type: ipv4.IpProtocol.DestOpts, options: [] }],
    } as const,
  ]) {
    for (const udpEncap of [false, true]) {
      frameAndVerify({
        ethernet: ETH,
        ip,
        transport: {
          handle: 1n,
          esp: espSa('aes-gcm-128', null),
          ...(udpEncap ? { udp: {} } : {}),
        },
        l4: tcpL4(bytes(70_000), [{ type: 'timestamps', tsVal: 1, tsEcr: 2 }]),
        lso: { version: 2, mss: 1448 },
      });
    }
  }
});

test('D2: AH and AH+ESP with LSO — one AH header, zero ICV, PadLength from ESP (AH alone: 0)', () => {
  for (const ip of [v4(), v6()]) {
    const a = frameAndVerify({
      ethernet: ETH,
      ip,
      transport: { handle: 1n, ah: ahSa('hmac-sha256-128') },
      l4: tcpL4(bytes(5000)),
      lso: { version: 2, mss: 1000 },
    });
    assert.equal(a.levels[0].padLength, undefined);
    frameAndVerify({
      ethernet: ETH,
      ip,
      transport: { handle: 1n, ah: ahSa('aes-gmac-128'), esp: espSa('3des-cbc', 'hmac-sha1-96') },
      l4: tcpL4(bytes(5001)),
      lso: { version: 2, mss: 999 },
      checksum: 'offload',
    });
  }
});

test('D2 + D12: LSO is refused for tunnel packets, UDP, LSOv1 over IPv6, MSS 0, empty payload, a complete checksum', () => {
  const base: framing.FrameSpec = {
    ethernet: ETH,
    ip: v4(),
    transport: { handle: 1n, esp: espSa('aes-gcm-128', null) },
    l4: tcpL4(bytes(3000)),
    lso: { version: 1, mss: 1000 },
  };
  assert.doesNotThrow(() => framing.build(base));
  const tunnel = {
    protection: { handle: 2n, esp: espSa('aes-gcm-128', null) },
    inner: v4(V4_C, V4_D),
  };
  assert.throws(() => framing.build({ ...base, tunnel }), /expected no LSO on a tunnel packet/);
  const tunnelOnly: framing.FrameSpec = {
    ethernet: ETH,
    ip: v4(),
    tunnel,
    l4: base.l4,
    lso: { version: 2, mss: 1000 },
  };
  assert.throws(() => framing.build(tunnelOnly), /expected no LSO on a tunnel packet/);
  assert.throws(
    () =>
      framing.build({
        ...base,
        l4: { protocol: 'udp', srcPort: 1, dstPort: 2, payload: bytes(3000) },
      }),
    /expected TCP with LSO/
  );
  assert.throws(() => framing.build({ ...base, ip: v6() }), /LSOv1 is IPv4 only/);
  assert.throws(() => framing.build({ ...base, lso: { version: 2, mss: 0 } }), /expected lso.mss/);
  assert.throws(() => framing.build({ ...base, l4: tcpL4(new Uint8Array(0)) }), /at least 1 byte/);
  assert.throws(
    () => framing.build({ ...base, checksum: 'complete' }),
    /expected checksum 'offload' or none/
  );
  // LSOv1 Total Length is 16 bits.
  assert.throws(() => framing.build({ ...base, l4: tcpL4(bytes(70_000)) }), /at most 65535 bytes/);
});

test('D3: the framer writes the low half of the first reserved sequence number; segments = ceil(payload / MSS)', () => {
  const payload = bytes(10_000);
  const mss = 1460;
  const count = segmentCount(payload.length, mss);
  assert.equal(count, 7);
  const r = reserveSegments(0x1_ffff_fffdn, count, true);
  assert.ok(r.ok);
  assert.ok(r.value.wraps, 'this send crosses 2^32 inside the NIC (ESN)');
  const spec: framing.FrameSpec = {
    ethernet: ETH,
    ip: v4(),
    transport: {
      handle: 1n,
      esp: { ...espSa('aes-gcm-128', null), sequenceNumber: r.value.first },
    },
    l4: tcpL4(payload),
    lso: { version: 2, mss },
  };
  const seen = frameAndVerify(spec);
  assert.equal(
    new esp.View(seen.frame.subarray(def(seen.levels[0].espAt))).sequenceNumber,
    0xffff_fffd
  );
  assert.equal(framing.plan(spec).segments, count);
});

// ── Misuse ──────────────────────────────────────────────────────────────────────────────────

test('framing: API misuse throws RangeError "framing.x: expected …, got …"', () => {
  const base: framing.FrameSpec = {
    ethernet: ETH,
    ip: v4(),
    transport: { handle: 1n, esp: espSa('aes-gcm-128', null) },
    l4: tcpL4(bytes(10)),
  };
  const esp0 = espSa('aes-gcm-128', null);
  const bad: [string, framing.FrameSpec, RegExp][] = [
    [
      'no bundle',
      { ethernet: ETH, ip: v4(), l4: tcpL4(bytes(1)) },
      /expected a transport or tunnel bundle/,
    ],
    ['handle 0 (D8)', { ...base, transport: { handle: 0n, esp: esp0 } }, /non-zero 64-bit handle/],
    ['empty bundle', { ...base, transport: { handle: 1n } }, /ESP or AH SA/],
    ['SPI 0', { ...base, transport: { handle: 1n, esp: { ...esp0, spi: 0 } } }, /expected an SPI/],
    [
      'sequence 0 (D3)',
      { ...base, transport: { handle: 1n, esp: { ...esp0, sequenceNumber: 0n } } },
      /sequence number from 1/,
    ],
    [
      'sequence 2^64',
      { ...base, transport: { handle: 1n, esp: { ...esp0, sequenceNumber: 1n << 64n } } },
      /sequence number/,
    ],
    [
      'UDP on AH',
      { ...base, transport: { handle: 1n, ah: ahSa('hmac-sha1-96'), udp: {} } },
      /UDP encapsulation only/,
    ],
    [
      'bad port',
      { ...base, transport: { handle: 1n, esp: esp0, udp: { srcPort: 70000 } } },
      /udp.srcPort/,
    ],
    [
      'bad padAlign',
      { ...base, transport: { handle: 1n, esp: { ...esp0, padAlign: 6 } } },
      /padAlign/,
    ],
    [
      'short address',
      { ...base, ip: { version: 4, source: V6_A, destination: V4_B } },
      /4-byte IPv4 addresses/,
    ],
    [
      'IPv6 Fragment (D16)',
      {
        ...base,
        ip: {
          ...v6(),
          extensions: [{ type: 44, fragmentOffset: 0, moreFragments: true, identification: 1 }],
        },
      },
      /Fragment/,
    ],
    [
      'Routing with Segments Left before TCP',
      {
        ...base,
        ip: {
          ...v6(),
          extensions: [{ type: 43, routingType: 4, segmentsLeft: 1, data: new Uint8Array(20) }],
        },
      },
      /Routing header/,
    ],
    [
      'two UDP-encapsulated bundles',
      {
        ...base,
        tunnel: { protection: { handle: 2n, esp: esp0, udp: {} }, inner: v4() },
        transport: { handle: 1n, esp: esp0, udp: {} },
      },
      /at most one UDP-encapsulated/,
    ],
    ['too big', { ...base, l4: tcpL4(bytes(65_500)) }, /at most 65535/],
  ];
  for (const [name, spec, message] of bad) {
    assert.throws(
      () => framing.build(spec),
      (e: unknown) =>
        e instanceof RangeError &&
        message.test(e.message) &&
        /^framing\.|^[a-z]+\.[a-zA-Z]+/.test(e.message),
      name
    );
  }
  // A header offset that is not a multiple of 4 cannot be expressed (D4).
  assert.throws(
    () =>
      framing.build({
        ...base,
        tunnel: {
          protection: { handle: 2n, esp: { ...esp0, ivLength: 2 } },
          inner: v4(V4_C, V4_D),
        },
      }),
    /multiple of 4 bytes/
  );
  const small = new Uint8Array(10);
  assert.throws(() => framing.emit(base, small), /framing.emit: expected a buffer of at least/);
});

test('framing.build reuses a pooled NBL: reset, one NB, fresh OOB', () => {
  const first = framing.build({
    ethernet: ETH,
    ip: v4(),
    transport: { handle: 1n, esp: espSa('aes-gcm-128', null) },
    l4: tcpL4(bytes(3000)),
    lso: { version: 1, mss: 1000 },
  });
  const spec: framing.FrameSpec = {
    ethernet: ETH,
    ip: v4(),
    transport: { handle: 2n, ah: ahSa('hmac-sha1-96') },
    l4: tcpL4(bytes(10)),
  };
  const again = framing.build(spec, first);
  assert.equal(again, first);
  verify(spec, again);
});

// ── Properties over random frames ───────────────────────────────────────────────────────────

const ESP_GEOMETRIES: readonly framing.EspSa[] = [
  espSa('aes-gcm-128', null),
  espSa('chacha20-poly1305', null),
  espSa('aes-cbc-128', 'hmac-sha1-96'),
  espSa('aes-cbc-256', 'hmac-sha512-256'),
  espSa('3des-cbc', 'hmac-md5-96'),
  espSa('des-cbc', 'hmac-sha256-128'),
  espSa('null', 'hmac-sha384-192'),
  espSa('null', 'aes-gmac-192'),
  { spi: 1, sequenceNumber: 1n, ivLength: 4, icvLength: 0, padAlign: 256 }, // extremes
];
const AH_SAS: readonly framing.AhSa[] = [
  ahSa('hmac-md5-96'),
  ahSa('hmac-sha256-128'),
  ahSa('hmac-sha512-256'),
  ahSa('aes-gmac-256'),
];

const seqArb = fc.bigInt({ min: 1n, max: (1n << 64n) - 1n });
const spiArb = fc.integer({ min: 1, max: 0xffff_ffff });

const protectionArb = (allowUdp: boolean): fc.Arbitrary<framing.Protection> =>
  fc
    .record(
      {
        kind: fc.constantFrom('esp', 'ah', 'ah+esp', ...(allowUdp ? ['udp-esp'] : [])),
        handle: fc.bigInt({ min: 1n, max: (1n << 64n) - 1n }),
        esp: fc.constantFrom(...ESP_GEOMETRIES),
        ah: fc.constantFrom(...AH_SAS),
        espSpi: spiArb,
        ahSpi: spiArb,
        espSeq: seqArb,
        ahSeq: seqArb,
        ports: fc.option(
          fc.record(
            { srcPort: fc.nat(0xffff), dstPort: fc.nat(0xffff) },
            { noNullPrototype: true }
          ),
          { nil: undefined }
        ),
      },
      { noNullPrototype: true }
    )
    .map((r): framing.Protection => {
      const e = { ...r.esp, spi: r.espSpi, sequenceNumber: r.espSeq };
      const a = { ...r.ah, spi: r.ahSpi, sequenceNumber: r.ahSeq };
      switch (r.kind) {
        case 'esp':
          return { handle: r.handle, esp: e };
        case 'ah':
          return { handle: r.handle, ah: a };
        case 'ah+esp':
          return { handle: r.handle, esp: e, ah: a };
        default:
          return { handle: r.handle, esp: e, udp: r.ports ?? {} };
      }
    });

const ipArb = (version: 4 | 6, carrier: boolean): fc.Arbitrary<IpSpec> =>
  version === 4
    ? fc
        .record(
          {
            options: fc.constantFrom(
              undefined,
              Uint8Array.of(148, 4, 0, 0),
              Uint8Array.of(1, 1, 7, 7, 4, 0, 0, 0, 0)
            ),
            identification: fc.nat(0xffff),
            ttl: fc.integer({ min: 1, max: 255 }),
            df: fc.boolean(),
          },
          { noNullPrototype: true }
        )
        .map((r): IpSpec => ({
          version: 4,
          source: V4_C,
          destination: V4_D,
          identification: r.identification,
          timeToLive: r.ttl,
          dontFragment: r.df,
          ...(r.options === undefined ? {} : { options: r.options }),
        }))
    : fc
        .constantFrom<readonly ipv6.Extension[] | undefined>(
          undefined,
          [
            {
              type: ipv4.IpProtocol.Hopopt,
              options: [{ type: ipv6.OptionType.RouterAlert, data: Uint8Array.of(0, 0) }],
            },
          ],
          [
            {
              type: ipv4.IpProtocol.Routing,
              routingType: 2,
              segmentsLeft: carrier ? 0 : 1,
              data: new Uint8Array(20),
            },
            { type: ipv4.IpProtocol.DestOpts, options: [{ type: 0x3e, data: bytes(9) }] },
          ]
        )
        .map((extensions): IpSpec => ({
          version: 6,
          source: V6_C,
          destination: V6_D,
          ...(extensions === undefined ? {} : { extensions }),
        }));

const tcpOptionsArb = fc.constantFrom<readonly tcp.Option[]>(
  [],
  [{ type: 'mss', mss: 1460 }],
  [{ type: 'nop' }, { type: 'nop' }, { type: 'timestamps', tsVal: 0xdeadbeef, tsEcr: 7 }]
);

/** Payloads whose length is uniform over the range (fast-check's arrays stay short by default). */
const payloadArb = (min: number, max: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(fc.integer({ min, max }), fc.nat(0xff)).map(([n, seed]) => bytes(n, seed));

const tcpArb = (minPayload: number, maxPayload: number): fc.Arbitrary<framing.TcpSpec> =>
  fc
    .record(
      {
        srcPort: fc.nat(0xffff),
        dstPort: fc.nat(0xffff),
        seq: fc.nat(0xffff_ffff),
        ack: fc.nat(0xffff_ffff),
        flags: fc.nat(0xff),
        window: fc.nat(0xffff),
        options: tcpOptionsArb,
        payload: payloadArb(minPayload, maxPayload),
      },
      { noNullPrototype: true }
    )
    .map((r) => ({
      protocol: 'tcp',
      header: {
        srcPort: r.srcPort,
        dstPort: r.dstPort,
        sequenceNumber: r.seq,
        acknowledgmentNumber: r.ack,
        flags: r.flags,
        window: r.window,
        urgentPointer: 0,
        options: r.options,
      },
      payload: r.payload,
    }));

const udpArb: fc.Arbitrary<framing.UdpSpec> = fc
  .record(
    { srcPort: fc.nat(0xffff), dstPort: fc.nat(0xffff), payload: payloadArb(0, 1500) },
    { noNullPrototype: true }
  )
  .map((r) => ({ protocol: 'udp', ...r }));

const versionArb = fc.constantFrom<4 | 6>(4, 6);

/** Non-LSO frames: every mode, every bundle shape, both IP versions, TCP or UDP, both checksum choices. */
const nonLsoArb: fc.Arbitrary<framing.FrameSpec> = fc
  .record(
    {
      mode: fc.constantFrom('transport', 'tunnel', 'transport-over-tunnel'),
      outerV: versionArb,
      innerV: versionArb,
      tunnelP: protectionArb(true),
      transportP: protectionArb(true),
      l4: fc.oneof(tcpArb(0, 1500), udpArb),
      checksum: fc.constantFrom<framing.ChecksumChoice | undefined>(
        'complete',
        'offload',
        undefined
      ),
      vlan: fc.boolean(),
    },
    { noNullPrototype: true }
  )
  .chain((r) =>
    fc
      .tuple(ipArb(r.outerV, r.mode === 'transport'), ipArb(r.innerV, true))
      .map(([outer, inner]): framing.FrameSpec => {
        const transportP =
          r.mode === 'transport-over-tunnel' &&
          r.tunnelP.udp !== undefined &&
          r.transportP.udp !== undefined
            ? {
                handle: r.transportP.handle,
                ...(r.transportP.esp === undefined ? {} : { esp: r.transportP.esp }),
              }
            : r.transportP;
        return {
          ethernet: r.vlan ? { ...ETH, vlan: { pcp: 1, dei: true, vid: 7 } } : ETH,
          ip: outer,
          ...(r.mode === 'transport' ? {} : { tunnel: { protection: r.tunnelP, inner } }),
          ...(r.mode === 'tunnel' ? {} : { transport: transportP }),
          l4: r.l4,
          ...(r.checksum === undefined ? {} : { checksum: r.checksum }),
        };
      })
  );

test('D1/D4/D13/D14 property: random non-LSO frames parse back field by field, every byte written', () => {
  fc.assert(
    fc.property(nonLsoArb, (spec) => {
      frameAndVerify(spec);
    }),
    { numRuns: 400 }
  );
});

/** LSO frames: transport mode, TCP, v1 (IPv4) or v2. */
const lsoArb: fc.Arbitrary<framing.FrameSpec> = fc
  .record(
    {
      v: versionArb,
      lsoV: fc.constantFrom<1 | 2>(1, 2),
      p: protectionArb(true),
      l4: tcpArb(1, 20_000),
      mss: fc.integer({ min: 1, max: 9000 }),
      offload: fc.boolean(),
    },
    { noNullPrototype: true }
  )
  .chain((r) =>
    ipArb(r.v, true).map((ip): framing.FrameSpec => ({
      ethernet: ETH,
      ip,
      transport: r.p,
      l4: r.l4,
      lso: { version: r.v === 6 ? 2 : r.lsoV, mss: r.mss },
      ...(r.offload ? { checksum: 'offload' as const } : {}),
    }))
  );

test('D2/D3 property: random LSO frames — filler = last segment’s padding, lengths per LSO version, seed without length', () => {
  fc.assert(
    fc.property(lsoArb, (spec) => {
      const seen = frameAndVerify(spec);
      const l4 = spec.l4 as framing.TcpSpec;
      const mss = spec.lso!.mss;
      const n = Math.ceil(l4.payload.length / mss);
      assert.equal(framing.plan(spec).segments, n, 'D3: one sequence number per segment');
      const e = spec.transport!.esp;
      const filler = getHeaderTransmit(framing.build(spec)).PadLength;
      if (e === undefined) {
        assert.equal(filler, 0, 'AH alone: PadLength 0');
      } else {
        const last = l4.payload.length - (n - 1) * mss;
        const tcpLength = tcp.headerLength(l4.header) + last;
        assert.equal(
          (tcpLength + filler + 2) % e.padAlign,
          0,
          'the last segment is aligned with PadLength'
        );
        assert.ok(filler < e.padAlign, 'and PadLength is minimal');
      }
      assert.equal(seen.frame.length, framing.plan(spec).frameLength);
    }),
    { numRuns: 300 }
  );
});

test('D2 property: with chooseMss every segment the NIC builds fits the MTU, and MSS + 1 would not', () => {
  fc.assert(
    fc.property(lsoArb, fc.integer({ min: 576, max: 9216 }), (spec, mtu) => {
      const overhead = framing.mssOverhead(spec);
      let mss: number;
      try {
        mss = chooseMss(mtu, overhead);
      } catch {
        return; // a tiny MTU with the biggest headers: nothing fits (tested in mss.test.ts)
      }
      const lsoSpec: framing.FrameSpec = { ...spec, lso: { version: spec.lso!.version, mss } };
      const p = framing.plan(lsoSpec);
      const payload = spec.l4.payload.length;
      // Each segment as the NIC builds it: its own headers, MSS bytes (the last: the rest), its
      // own padding, trailer and ICV (D2).
      for (let i = 0; i < p.segments; i++) {
        const data = Math.min(mss, payload - i * mss);
        assert.ok(
          segmentLength(data, overhead) <= mtu,
          `segment ${i} of ${p.segments} fits ${mtu}`
        );
      }
      if (mss < 0xf_ffff) assert.ok(segmentLength(mss + 1, overhead) > mtu, 'largest MSS');
      // The overhead matches the frame: one full segment = the large packet's headers + MSS + trailer.
      const level = p.levels[0];
      const e = spec.transport!.esp;
      const fixed =
        level.ipHeaderLength + (level.udpOffset === undefined ? 0 : 8) + (level.ah?.length ?? 0);
      const tcpHl = p.l4HeaderLength;
      const expected =
        e === undefined
          ? fixed + tcpHl + mss
          : fixed +
            8 +
            e.ivLength +
            tcpHl +
            mss +
            esp.padLengthFor(tcpHl + mss, e.padAlign) +
            2 +
            e.icvLength;
      assert.equal(segmentLength(mss, overhead), expected);
    }),
    { numRuns: 300 }
  );
});
