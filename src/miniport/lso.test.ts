/**
 * @module
 * Tests of large send offload alone and combined with IPsec (lso.ts; contract D2, D3, D11, D13):
 * every segment of every large send is decoded and verified — IPv4 Total Length, Identification
 * and header checksum (or the IPv6 Payload Length), TCP sequence number, flags and checksum, the
 * ESP sequence number first + i, IV, trailer padding 1..n for the segment's own length, Next
 * Header 6 and ICV, or the AH ICV — and the payload reassembled from the segments must be the
 * original. Smaller payloads than the end-to-end tests (tests/*.test.ts: 64,000-byte LSOv1 and
 * 256 KiB LSOv2 with an independent oracle) keep these fast; a fast-check property covers random
 * payload lengths and MSS values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { nativeAddon } from '../crypto/engine.ts';
import { CHECKSUM_JOB_WORDS, NO_CHECKSUM, createNativeEsp } from '../crypto/native-esp.ts';
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import type { EspTransform } from '../crypto/transform.ts';
import { defaultCapabilities, type Offload } from '../ndis/caps.ts';
import {
  decodeLsoV1TransmitComplete,
  decodeLsoV2TransmitComplete,
  encodeLsoV1Transmit,
  encodeLsoV2Transmit,
  getLso,
} from '../ndis/oob.ts';
import { UdpEsp } from '../ndis/oid.ts';
import { NdisStatus } from '../ndis/status.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import { Flags } from '../wire/tcp.ts';
import { statusKey } from './datapath.ts';
import { segmentCount } from './lso.ts';
import {
  addBundle,
  ahLayer,
  buildIp,
  capsWith,
  decodeFrame,
  espLayer,
  ethernetFrame,
  failures,
  harness,
  headerOob,
  keyFor,
  nblOf,
  payloadBytes,
  tcpPayload,
  type BuiltIp,
  type BundleSpec,
  type ChecksumMode,
  type Harness,
  type HighOf,
  type IpSpec,
  type TcpSpec,
  type TestSa,
  type Verifier,
} from '../../tests/miniport-testkit.ts';

const { NDIS_STATUS_SUCCESS, NDIS_STATUS_INVALID_PACKET, NDIS_STATUS_FAILURE } = NdisStatus;
const L2 = 14;

interface LsoOptions {
  readonly version: 4 | 6;
  readonly sa: TestSa | null;
  readonly layers?: IpSpec['layers'];
  readonly payloadLength: number;
  readonly mss: number;
  /** LSOv2 (default: LSOv1 for IPv4, LSOv2 for IPv6). */
  readonly v2?: boolean;
  readonly filler?: number;
  readonly tcp?: Partial<TcpSpec>;
  readonly id?: number;
  readonly tunnelHandle?: bigint;
  readonly options?: Uint8Array;
  /** What the transport leaves in the TCP checksum field (default: the LSO seed, D2). */
  readonly seed?: ChecksumMode;
}

interface LsoPacket {
  readonly nbl: ReturnType<typeof nblOf>;
  readonly built: BuiltIp;
  readonly payload: Uint8Array;
  readonly tcpOffset: number;
  readonly v2: boolean;
}

/** A large send framed as contract D2 says, with its LSO and IPsec OOB. */
function lsoPacket(o: LsoOptions): LsoPacket {
  const v2 = o.v2 ?? o.version === 6;
  const payload = payloadBytes(o.payloadLength, 3);
  const built = buildIp({
    version: o.version,
    layers: o.layers ?? [],
    payload: tcpPayload(o.version, 0, o.seed ?? 'lso-seed', { ...o.tcp, payload }),
    lso: { filler: o.filler ?? 0, lengthField: v2 ? 'zero' : 'final' },
    ...(o.id === undefined ? {} : { id: o.id }),
    ...(o.options === undefined ? {} : { options: o.options }),
  });
  const tcpOffset = L2 + built.payload;
  const lso = v2
    ? encodeLsoV2Transmit({
        MSS: o.mss,
        TcpHeaderOffset: tcpOffset,
        Type: 1,
        IPVersion: o.version === 6 ? 1 : 0,
      })
    : encodeLsoV1Transmit({ MSS: o.mss, TcpHeaderOffset: tcpOffset, Type: 0 });
  const nbl = nblOf([ethernetFrame(built.bytes, o.version)], {
    lso,
    ...(o.sa === null ? {} : { offloadHandle: o.sa.handle, header: headerOob(built) }),
    ...(o.tunnelHandle === undefined ? {} : { tunnelHandle: o.tunnelHandle }),
  });
  return { nbl, built, payload, tcpOffset, v2 };
}

interface Expect {
  readonly version: 4 | 6;
  readonly mss: number;
  readonly payload: Uint8Array;
  readonly v2: boolean;
  readonly verifiers: readonly Verifier[];
  readonly tcpSeq?: number;
  readonly flags?: number;
  readonly id?: number;
  readonly tcpHeaderLength?: number;
  /** First ESP / AH sequence numbers (low halves). */
  readonly espFirst?: number;
  readonly ahFirst?: number;
  readonly highOf?: HighOf;
}

/** Decodes and checks every segment; returns the decoded frames. */
function verifySegments(
  frames: readonly Uint8Array[],
  e: Expect
): ReturnType<typeof decodeFrame>[] {
  const count = segmentCount(e.payload.length, e.mss);
  assert.equal(frames.length, count, 'one frame per MSS of payload');
  const tcpSeq = e.tcpSeq ?? 1000;
  const flags = e.flags ?? Flags.Ack | Flags.Psh;
  const reassembled: Uint8Array[] = [];
  const decoded = frames.map((frame, i) => {
    const d = decodeFrame(frame, e.verifiers, e.highOf);
    const where = `segment ${i}`;
    assert.equal(d.totalLength, frame.length - L2, `${where}: IP length`);
    if (e.version === 4) {
      assert.ok(d.headerChecksumOk, `${where}: IPv4 header checksum`);
      const id0 = e.id ?? 0x1234;
      const id = e.v2 ? (id0 & 0x8000) | ((id0 + i) & 0x7fff) : (id0 + i) & 0xffff;
      assert.equal(d.id, id, `${where}: IPv4 Identification`);
    }
    let tcp = d.tcp;
    if (d.esp !== null) {
      assert.equal(d.esp.result, 'ok', `${where}: ESP ICV`);
      assert.equal(d.esp.nextHeader, IpProtocol.Tcp, `${where}: Next Header`);
      assert.ok(d.esp.padValid, `${where}: padding 1..n`);
      const segLength = Math.min(e.mss, e.payload.length - i * e.mss);
      const padAlign = e.verifiers.find((v) => v.spi === d.esp?.spi)!.esp!.padAlign;
      const body = (e.tcpHeaderLength ?? 20) + segLength;
      assert.equal(
        d.esp.padLength,
        (padAlign - ((body + 2) % padAlign)) % padAlign,
        `${where}: minimal pad`
      );
      if (e.espFirst !== undefined) {
        assert.equal(d.esp.seq, (e.espFirst + i) >>> 0, `${where}: ESP sequence number first + i`);
      }
    }
    if (d.ah !== null) {
      assert.equal(d.ah.result, 'ok', `${where}: AH ICV`);
      if (e.ahFirst !== undefined)
        assert.equal(d.ah.seq, (e.ahFirst + i) >>> 0, `${where}: AH seq`);
    }
    tcp ??= null;
    assert.ok(tcp !== null, `${where}: TCP found`);
    assert.ok(tcp.checksumOk, `${where}: TCP checksum`);
    assert.equal(tcp.seq, (tcpSeq + i * e.mss) >>> 0, `${where}: TCP sequence number`);
    let f = flags;
    if (i > 0) f &= ~Flags.Cwr;
    if (i < count - 1) f &= ~(Flags.Fin | Flags.Psh);
    assert.equal(tcp.flags, f, `${where}: TCP flags`);
    assert.ok(tcp.payload.length <= e.mss, `${where}: at most MSS`);
    if (i < count - 1) assert.equal(tcp.payload.length, e.mss, `${where}: MSS bytes`);
    reassembled.push(tcp.payload);
    return d;
  });
  const all = new Uint8Array(e.payload.length);
  let at = 0;
  for (const p of reassembled) {
    all.set(p, at);
    at += p.length;
  }
  assert.equal(at, e.payload.length);
  assert.deepEqual(all, e.payload, 'the segments reassemble to the original payload');
  return decoded;
}

function sendOk(h: Harness, nbl: ReturnType<typeof nblOf>): Uint8Array[] {
  h.mp.sendNetBufferLists(nbl);
  assert.deepEqual(failures(h.mp), []);
  assert.equal(h.completed.length, 1);
  assert.equal(h.completed[0].status, NDIS_STATUS_SUCCESS);
  return h.wire;
}

function sendRefused(
  h: Harness,
  nbl: ReturnType<typeof nblOf>,
  reason: string,
  status: number = NDIS_STATUS_INVALID_PACKET
): void {
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.wire.length, 0, 'the link saw nothing');
  assert.equal(h.completed.length, 1);
  assert.equal(h.completed[0].status, status);
  assert.deepEqual(failures(h.mp), [`send.fail:${statusKey(status)}:${reason}=1`]);
}

function gcmSa(
  h: Harness,
  spi: number,
  more: { esn?: boolean; seqHigh?: number; ipv6?: boolean; udp?: number } = {}
): TestSa {
  return addBundle(h.mp, {
    elements: [
      {
        operation: 'esp',
        spi,
        encryption: 'aes-gcm-128',
        esn: more.esn ?? false,
        seqHigh: more.seqHigh ?? 0,
      },
    ],
    ipv6: more.ipv6 ?? false,
    udpEspEncapsulation: more.udp ?? 0,
  });
}

// ---------------------------------------------------------------------------------------------
// D2: segmentation with IPsec.

test('D2: LSOv1 over ESP AES-GCM-128 — filler discarded, every segment a complete ESP frame with its own trailer and ICV', () => {
  const h = harness();
  const sa = gcmSa(h, 0x1001);
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 100)],
    payloadLength: 5000,
    mss: 1400,
    filler: 7,
  });
  assert.equal(p.built.padLength, 7, 'PadLength = the filler');
  const frames = sendOk(h, p.nbl);
  verifySegments(frames, {
    version: 4,
    mss: 1400,
    payload: p.payload,
    v2: false,
    verifiers: sa.verifiers,
    espFirst: 100,
  });
  for (let i = 0; i < frames.length; i++) {
    const espAt = L2 + 20;
    const iv = frames[i].subarray(espAt + 8, espAt + 16);
    assert.deepEqual(
      [...iv],
      [0, 0, 0, 0, 0, 0, 0, 100 + i],
      'GCM IV = the segment sequence number (D6)'
    );
  }
  const done = decodeLsoV1TransmitComplete(getLso(h.completed[0]));
  assert.equal(done.TcpPayload, 5000, 'D11: LsoV1TransmitComplete.TcpPayload');
  assert.equal(done.Type, 0);
  assert.equal(sa.bundle.elements[0].counters.packets, 4);
  assert.equal(
    sa.bundle.elements[0].counters.bytes,
    frames.reduce((n, f) => n + f.length - L2, 0)
  );
});

test('D2: LSOv2 over ESP AES-CBC-128 + HMAC-SHA1-96 on IPv6 — Payload Length 0 in the NET_BUFFER, per-segment padding to 16', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [
      { operation: 'esp', spi: 0x1002, encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' },
    ],
    ipv6: true,
  });
  const p = lsoPacket({
    version: 6,
    sa,
    layers: [espLayer(sa, 1)],
    payloadLength: 7001,
    mss: 1220,
    filler: 13,
  });
  const frames = sendOk(h, p.nbl);
  verifySegments(frames, {
    version: 6,
    mss: 1220,
    payload: p.payload,
    v2: true,
    verifiers: sa.verifiers,
    espFirst: 1,
  });
  const done = decodeLsoV2TransmitComplete(getLso(h.completed[0]));
  assert.deepEqual({ Type: done.Type, Reserved: done.Reserved }, { Type: 1, Reserved: 0 }, 'D11');
});

test('D2: LSOv2 over IPv4 — Total Length 0 in the NET_BUFFER; IDs wrap within 0x0000–0x7FFF', () => {
  const h = harness();
  const sa = gcmSa(h, 0x1003);
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 5)],
    payloadLength: 4000,
    mss: 1000,
    v2: true,
    id: 0x7ffe,
  });
  const frames = sendOk(h, p.nbl);
  const d = verifySegments(frames, {
    version: 4,
    mss: 1000,
    payload: p.payload,
    v2: true,
    verifiers: sa.verifiers,
    id: 0x7ffe,
    espFirst: 5,
  });
  assert.deepEqual(
    d.map((x) => x.id),
    [0x7ffe, 0x7fff, 0x0000, 0x0001]
  );
});

test('D2: LSOv1 IDs increment by one per segment and wrap at 0xFFFF', () => {
  const h = harness();
  const sa = gcmSa(h, 0x1004);
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 5)],
    payloadLength: 3000,
    mss: 1000,
    id: 0xfffe,
  });
  const d = verifySegments(sendOk(h, p.nbl), {
    version: 4,
    mss: 1000,
    payload: p.payload,
    v2: false,
    verifiers: sa.verifiers,
    id: 0xfffe,
  });
  assert.deepEqual(
    d.map((x) => x.id),
    [0xfffe, 0xffff, 0x0000]
  );
});

test('D2: LSO over AH HMAC-SHA-256-128 — one AH header per segment, ICV over each segment (IPv4 and IPv6)', () => {
  for (const version of [4, 6] as const) {
    const h = harness();
    const sa = addBundle(h.mp, {
      elements: [{ operation: 'ah', spi: 0x2001, integrity: 'hmac-sha256-128' }],
      ipv6: version === 6,
    });
    const p = lsoPacket({ version, sa, layers: [ahLayer(sa, 50)], payloadLength: 3500, mss: 1000 });
    const frames = sendOk(h, p.nbl);
    verifySegments(frames, {
      version,
      mss: 1000,
      payload: p.payload,
      v2: p.v2,
      verifiers: sa.verifiers,
      ahFirst: 50,
    });
  }
});

test('D2: LSO over AH AES-GMAC — each segment gets IV = its own sequence number', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'ah', spi: 0x2002, integrity: 'aes-gmac-128' }],
  });
  const p = lsoPacket({ version: 4, sa, layers: [ahLayer(sa, 9)], payloadLength: 2500, mss: 1000 });
  const frames = sendOk(h, p.nbl);
  const d = verifySegments(frames, {
    version: 4,
    mss: 1000,
    payload: p.payload,
    v2: false,
    verifiers: sa.verifiers,
    ahFirst: 9,
  });
  assert.deepEqual(
    d.map((x) => x.ah?.iv[7]),
    [9, 10, 11]
  );
});

test('D2: LSO over an AH+ESP bundle — ESP then AH for every segment, both sequence numbers first + i', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [
      { operation: 'esp', spi: 0x2101, encryption: '3des-cbc', integrity: 'hmac-md5-96' },
      { operation: 'ah', spi: 0x2102, integrity: 'hmac-sha1-96' },
    ],
  });
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [ahLayer(sa, 70), espLayer(sa, 300)],
    payloadLength: 4100,
    mss: 1460,
    filler: 5,
  });
  const frames = sendOk(h, p.nbl);
  verifySegments(frames, {
    version: 4,
    mss: 1460,
    payload: p.payload,
    v2: false,
    verifiers: sa.verifiers,
    espFirst: 300,
    ahFirst: 70,
  });
});

test('D2/D14: LSO over UDP-ESP — each segment its own UDP Length; checksum 0 over IPv4, computed over IPv6', () => {
  for (const version of [4, 6] as const) {
    const h = harness();
    const sa = gcmSa(h, 0x2201, {
      ipv6: version === 6,
      udp: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
    });
    const p = lsoPacket({
      version,
      sa,
      layers: [{ kind: 'udp' }, espLayer(sa, 1)],
      payloadLength: 3000,
      mss: 1200,
      filler: 3,
    });
    const frames = sendOk(h, p.nbl);
    const d = verifySegments(frames, {
      version,
      mss: 1200,
      payload: p.payload,
      v2: p.v2,
      verifiers: sa.verifiers,
      espFirst: 1,
    });
    const ipHeader = version === 4 ? 20 : 40;
    d.forEach((x, i) => {
      assert.equal(x.udp?.length, frames[i].length - L2 - ipHeader);
      assert.equal(x.udp.checksum === 0, version === 4);
      assert.ok(x.udp.checksumOk);
    });
  }
});

test('D2: LSO with TCP options — options copied into every segment, FIN/PSH only on the last, CWR only on the first', () => {
  const h = harness();
  const sa = gcmSa(h, 0x2301);
  const flags = Flags.Ack | Flags.Psh | Flags.Fin | Flags.Cwr | Flags.Ece;
  const options = [
    { type: 'nop' as const },
    { type: 'nop' as const },
    { type: 'timestamps' as const, tsVal: 0x01020304, tsEcr: 0x05060708 },
  ];
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 1)],
    payloadLength: 3000,
    mss: 1000,
    tcp: { flags, options, seq: 0xfffffc00 },
  });
  const frames = sendOk(h, p.nbl);
  const d = verifySegments(frames, {
    version: 4,
    mss: 1000,
    payload: p.payload,
    v2: false,
    verifiers: sa.verifiers,
    flags,
    tcpSeq: 0xfffffc00,
    tcpHeaderLength: 32,
  });
  for (const x of d) {
    assert.equal(x.esp?.plaintext[12], 8 << 4, 'Data Offset 8 words');
    assert.deepEqual([...x.esp.plaintext.subarray(20, 32)], [1, 1, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]);
  }
  assert.deepEqual(
    d.map((x) => x.tcp?.flags),
    [
      Flags.Ack | Flags.Cwr | Flags.Ece,
      Flags.Ack | Flags.Ece,
      Flags.Ack | Flags.Psh | Flags.Fin | Flags.Ece,
    ]
  );
});

test('D2: LSO without IPsec — plain TCP segmentation with per-segment checksums (LSOv1 IPv4, LSOv2 IPv6)', () => {
  for (const version of [4, 6] as const) {
    const h = harness();
    const p = lsoPacket({ version, sa: null, payloadLength: 10000, mss: 1448 });
    const frames = sendOk(h, p.nbl);
    verifySegments(frames, { version, mss: 1448, payload: p.payload, v2: p.v2, verifiers: [] });
    assert.equal(h.mp.counters.get('send.frame'), 7);
  }
});

test('D2: LSOv1 may carry several NET_BUFFERs; each is segmented, TcpPayload is their sum', () => {
  const h = harness();
  const sa = gcmSa(h, 0x2401);
  const a = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 1)],
    payloadLength: 2000,
    mss: 1000,
  });
  const b = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 3)],
    payloadLength: 2500,
    mss: 1000,
  });
  a.nbl.netBuffers.push(b.nbl.netBuffers[0]);
  const frames = sendOk(h, a.nbl);
  assert.equal(frames.length, 5);
  verifySegments(frames.slice(0, 2), {
    version: 4,
    mss: 1000,
    payload: a.payload,
    v2: false,
    verifiers: sa.verifiers,
    espFirst: 1,
  });
  verifySegments(frames.slice(2), {
    version: 4,
    mss: 1000,
    payload: b.payload,
    v2: false,
    verifiers: sa.verifiers,
    espFirst: 3,
  });
  assert.equal(decodeLsoV1TransmitComplete(getLso(h.completed[0])).TcpPayload, 4500);
});

// ---------------------------------------------------------------------------------------------
// D3: sequence numbers across segments.

test('D3: ESN wrap inside one LSO send — segments after the wrap use SequenceNumberHighOrder + 1 (ICV, GCM IV); the SA keeps its seqHigh', () => {
  for (const encryption of ['aes-gcm-128', 'aes-cbc-128'] as const) {
    const h = harness();
    const sa = addBundle(h.mp, {
      elements: [
        {
          operation: 'esp',
          spi: 0x3001,
          encryption,
          integrity: encryption === 'aes-gcm-128' ? null : 'hmac-sha256-128',
          esn: true,
          seqHigh: 7,
        },
      ],
    });
    const first = 0xfffffffe;
    const p = lsoPacket({
      version: 4,
      sa,
      layers: [espLayer(sa, first)],
      payloadLength: 4000,
      mss: 1000,
    });
    const frames = sendOk(h, p.nbl);
    const highOf: HighOf = (_spi, low) => (low >= first ? 7 : 8);
    const d = verifySegments(frames, {
      version: 4,
      mss: 1000,
      payload: p.payload,
      v2: false,
      verifiers: sa.verifiers,
      espFirst: first,
      highOf,
    });
    assert.deepEqual(
      d.map((x) => x.esp?.seq),
      [0xfffffffe, 0xffffffff, 0, 1],
      'low halves wrap on the wire'
    );
    if (encryption === 'aes-gcm-128') {
      assert.deepEqual(
        d.map((x) => x.esp?.iv[3]),
        [7, 7, 8, 8],
        'GCM IV carries the 64-bit number'
      );
    }
    // With the old high half the segments after the wrap would not verify.
    assert.equal(decodeFrame(frames[2], sa.verifiers, () => 7).esp?.result, 'icv-mismatch');
    assert.equal(sa.bundle.elements[0].seqHigh, 7, 'the transport sends UPDATE_SA, not the NIC');
  }
});

test('D3: ESN wrap inside an LSO send over AH — the AH ICV of segments after the wrap uses seqHigh + 1', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'ah', spi: 0x3002, integrity: 'hmac-sha1-96', esn: true, seqHigh: 0 }],
  });
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [ahLayer(sa, 0xffffffff)],
    payloadLength: 2000,
    mss: 1000,
  });
  const frames = sendOk(h, p.nbl);
  verifySegments(frames, {
    version: 4,
    mss: 1000,
    payload: p.payload,
    v2: false,
    verifiers: sa.verifiers,
    ahFirst: 0xffffffff,
    highOf: (_spi, low) => (low === 0xffffffff ? 0 : 1),
  });
});

test('D3: without ESN a wrap inside one LSO send fails the NBL with NDIS_STATUS_FAILURE; the link sees nothing', () => {
  const h = harness();
  const sa = gcmSa(h, 0x3003);
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 0xfffffffe)],
    payloadLength: 4000,
    mss: 1000,
  });
  sendRefused(h, p.nbl, 'counter-exhausted', NDIS_STATUS_FAILURE);
  assert.equal(decodeLsoV1TransmitComplete(getLso(h.completed[0])).TcpPayload, 0);
  assert.equal(sa.bundle.elements[0].counters.packets, 0);
  // The last number that fits is fine.
  const h2 = harness();
  const sa2 = gcmSa(h2, 0x3003);
  const p2 = lsoPacket({
    version: 4,
    sa: sa2,
    layers: [espLayer(sa2, 0xfffffffc)],
    payloadLength: 4000,
    mss: 1000,
  });
  assert.equal(sendOk(h2, p2.nbl).length, 4);
});

test('D3: an LSO send whose first sequence number is 0 → NDIS_STATUS_INVALID_PACKET (sequence-zero)', () => {
  const h = harness();
  const sa = gcmSa(h, 0x3004);
  sendRefused(
    h,
    lsoPacket({ version: 4, sa, layers: [espLayer(sa, 0)], payloadLength: 3000, mss: 1000 }).nbl,
    'sequence-zero'
  );
});

// ---------------------------------------------------------------------------------------------
// D2 / D9: what is refused.

test('D2: LSO turned off by OID_TCP_OFFLOAD_PARAMETERS → NDIS_STATUS_FAILURE (the NBL is dropped)', () => {
  const h = harness();
  h.mp.config = { ...h.mp.config, lsoV1: false };
  const sa = gcmSa(h, 0x4001);
  sendRefused(
    h,
    lsoPacket({ version: 4, sa, layers: [espLayer(sa, 1)], payloadLength: 3000, mss: 1000 }).nbl,
    'lso-v1-disabled',
    NDIS_STATUS_FAILURE
  );
  const h2 = harness();
  h2.mp.config = { ...h2.mp.config, lsoV2IPv6: false };
  sendRefused(
    h2,
    lsoPacket({ version: 6, sa: null, payloadLength: 3000, mss: 1000 }).nbl,
    'lso-v2-disabled',
    NDIS_STATUS_FAILURE
  );
});

test('D2: LSO with IPsec on a NIC without LsoSupported → NDIS_STATUS_FAILURE; plain LSO still works there', () => {
  const h = harness(capsWith({ LsoSupported: false }));
  const sa = gcmSa(h, 0x4002);
  sendRefused(
    h,
    lsoPacket({ version: 4, sa, layers: [espLayer(sa, 1)], payloadLength: 3000, mss: 1000 }).nbl,
    'lso-not-supported-with-ipsec',
    NDIS_STATUS_FAILURE
  );
  const h2 = harness(capsWith({ LsoSupported: false }));
  assert.equal(
    sendOk(h2, lsoPacket({ version: 4, sa: null, payloadLength: 3000, mss: 1000 }).nbl).length,
    3
  );
});

test('D9: LSO with an MSS of 0 → NDIS_STATUS_INVALID_PACKET (lso-mss-zero)', () => {
  const h = harness();
  const sa = gcmSa(h, 0x4003);
  sendRefused(
    h,
    lsoPacket({ version: 4, sa, layers: [espLayer(sa, 1)], payloadLength: 3000, mss: 0 }).nbl,
    'lso-mss-zero'
  );
});

test('D2/D12: LSO on a tunnel packet → NDIS_STATUS_INVALID_PACKET (lso-tunnel), by TunnelHandle or by Next Header 4', () => {
  const h = harness();
  const tunnel = gcmSa(h, 0x4004);
  const sa = gcmSa(h, 0x4005);
  sendRefused(
    h,
    lsoPacket({
      version: 4,
      sa,
      layers: [espLayer(sa, 1)],
      payloadLength: 3000,
      mss: 1000,
      tunnelHandle: tunnel.handle,
    }).nbl,
    'lso-tunnel'
  );
  const h2 = harness();
  const sa2 = gcmSa(h2, 0x4006);
  const p = lsoPacket({
    version: 4,
    sa: sa2,
    layers: [espLayer(sa2, 1)],
    payloadLength: 3000,
    mss: 1000,
  });
  const raw = p.nbl.info.getU32(12);
  p.nbl.info.setU32(12, (raw & ~0xff) | 4); // NextHeader 4: a tunnel packet
  sendRefused(h2, p.nbl, 'lso-tunnel');
});

test('D2: the segments carry TCP — an OOB NextHeader other than 6 → NDIS_STATUS_INVALID_PACKET (lso-next-header)', () => {
  const h = harness();
  const sa = gcmSa(h, 0x4007);
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 1)],
    payloadLength: 3000,
    mss: 1000,
  });
  p.nbl.info.setU32(12, (p.nbl.info.getU32(12) & ~0xff) | 17);
  sendRefused(h, p.nbl, 'lso-next-header');
});

test('D2: an LSOv2 NBL carries one NET_BUFFER → two are NDIS_STATUS_INVALID_PACKET (lso-v2-net-buffers)', () => {
  const h = harness();
  const a = lsoPacket({ version: 6, sa: null, payloadLength: 3000, mss: 1000 });
  const b = lsoPacket({ version: 6, sa: null, payloadLength: 3000, mss: 1000 });
  a.nbl.netBuffers.push(b.nbl.netBuffers[0]);
  sendRefused(h, a.nbl, 'lso-v2-net-buffers');
});

test('D2: LSOv1 Total Length must cover the IP header to the end of the NET_BUFFER; LSOv2 must be 0 (ip-length)', () => {
  const h = harness();
  const sa = gcmSa(h, 0x4009);
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 1)],
    payloadLength: 3000,
    mss: 1000,
    filler: 3,
  });
  const data = p.nbl.netBuffers[0].data();
  data[L2 + 3] -= 3; // as if the filler were not counted
  sendRefused(h, p.nbl, 'ip-length');
  const h2 = harness();
  const p2 = lsoPacket({ version: 6, sa: null, payloadLength: 3000, mss: 1000 });
  p2.nbl.netBuffers[0].data()[L2 + 5] = 1;
  sendRefused(h2, p2.nbl, 'ip-length');
});

test('D2: MaxOffLoadSize and MinSegmentCount from the capabilities are enforced', () => {
  const caps: Offload = defaultCapabilities();
  const small: Offload = {
    ...caps,
    LsoV1: { IPv4: { ...caps.LsoV1.IPv4, MaxOffLoadSize: 4000, MinSegmentCount: 3 } },
  };
  const h = harness(small);
  const sa = gcmSa(h, 0x400a);
  sendRefused(
    h,
    lsoPacket({ version: 4, sa, layers: [espLayer(sa, 1)], payloadLength: 4001, mss: 1000 }).nbl,
    'lso-max-offload-size'
  );
  const h2 = harness(small);
  const sa2 = gcmSa(h2, 0x400a);
  sendRefused(
    h2,
    lsoPacket({ version: 4, sa: sa2, layers: [espLayer(sa2, 1)], payloadLength: 2000, mss: 1000 })
      .nbl,
    'lso-min-segment-count'
  );
  const h3 = harness(small);
  const sa3 = gcmSa(h3, 0x400a);
  assert.equal(
    sendOk(
      h3,
      lsoPacket({ version: 4, sa: sa3, layers: [espLayer(sa3, 1)], payloadLength: 4000, mss: 1333 })
        .nbl
    ).length,
    4
  );
});

test('D2: TcpHeaderOffset must be where the ESP IV ends → otherwise INVALID_PACKET (lso-tcp-offset)', () => {
  const h = harness();
  const sa = gcmSa(h, 0x400b);
  const p = lsoPacket({
    version: 4,
    sa,
    layers: [espLayer(sa, 1)],
    payloadLength: 3000,
    mss: 1000,
  });
  p.nbl.info.setU32(
    2,
    encodeLsoV1Transmit({ MSS: 1000, TcpHeaderOffset: p.tcpOffset - 8, Type: 0 })
  );
  sendRefused(h, p.nbl, 'lso-tcp-offset');
});

test('D2: LSOv1 is IPv4 only; LSOv2 IPVersion must match the packet', () => {
  const h = harness();
  const p = lsoPacket({ version: 6, sa: null, payloadLength: 3000, mss: 1000, v2: true });
  p.nbl.info.setU32(2, encodeLsoV1Transmit({ MSS: 1000, TcpHeaderOffset: p.tcpOffset, Type: 0 }));
  sendRefused(h, p.nbl, 'lso-v1-ipv6');
  const h2 = harness();
  const p2 = lsoPacket({ version: 4, sa: null, payloadLength: 3000, mss: 1000, v2: true });
  p2.nbl.info.setU32(
    2,
    encodeLsoV2Transmit({ MSS: 1000, TcpHeaderOffset: p2.tcpOffset, Type: 1, IPVersion: 1 })
  );
  sendRefused(h2, p2.nbl, 'lso-ip-version');
});

test('D2: IP or TCP options the LSO capabilities do not cover → capability:IpOptions / capability:TcpOptions', () => {
  const caps = defaultCapabilities();
  const no: Offload = {
    ...caps,
    LsoV1: { IPv4: { ...caps.LsoV1.IPv4, IpOptions: 0, TcpOptions: 0 } },
  };
  const h = harness(no);
  const ra = Uint8Array.of(0x94, 0x04, 0x00, 0x00);
  sendRefused(
    h,
    lsoPacket({ version: 4, sa: null, payloadLength: 3000, mss: 1000, options: ra }).nbl,
    'capability:IpOptions'
  );
  const h2 = harness(no);
  sendRefused(
    h2,
    lsoPacket({
      version: 4,
      sa: null,
      payloadLength: 3000,
      mss: 1000,
      tcp: { options: [{ type: 'mss', mss: 1000 }] },
    }).nbl,
    'capability:TcpOptions'
  );
});

test('D11: an LSOv2 NBL that fails still gets LsoV2TransmitComplete {Type 1, Reserved 0}', () => {
  const h = harness();
  const sa = gcmSa(h, 0x400c);
  const p = lsoPacket({
    version: 6,
    sa,
    layers: [espLayer(sa, 1)],
    payloadLength: 3000,
    mss: 1000,
  });
  sendRefused(h, p.nbl, 'address-family');
  const done = decodeLsoV2TransmitComplete(getLso(h.completed[0]));
  assert.deepEqual({ Type: done.Type, Reserved: done.Reserved }, { Type: 1, Reserved: 0 });
});

// ---------------------------------------------------------------------------------------------
// Properties.

test('D2/D3 property: for any payload length and MSS, ceil(payload / MSS) segments that decrypt, verify and reassemble', () => {
  const caps = defaultCapabilities();
  const one: Offload = {
    ...caps,
    LsoV1: { IPv4: { ...caps.LsoV1.IPv4, MinSegmentCount: 1 } },
    LsoV2: { ...caps.LsoV2, IPv6: { ...caps.LsoV2.IPv6, MinSegmentCount: 1 } },
  };
  const algorithms = [
    { encryption: 'aes-gcm-128', integrity: null },
    { encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' },
    { encryption: '3des-cbc', integrity: 'hmac-md5-96' },
    { encryption: 'null', integrity: 'hmac-sha256-128' },
  ] as const;
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 6000 }),
      fc.integer({ min: 1, max: 1500 }),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 0, max: 15 }),
      fc.boolean(),
      fc.integer({ min: 1, max: 0xffffffff }),
      (length, mss, alg, filler, ipv6, firstSeq) => {
        fc.pre(Math.ceil(length / mss) <= 400);
        const h = harness(one);
        const sa = addBundle(h.mp, {
          elements: [{ operation: 'esp', spi: 0x5001, ...algorithms[alg], esn: true, seqHigh: 2 }],
          ipv6,
        });
        const version = ipv6 ? 6 : 4;
        const p = lsoPacket({
          version,
          sa,
          layers: [espLayer(sa, firstSeq)],
          payloadLength: length,
          mss,
          filler,
        });
        const frames = sendOk(h, p.nbl);
        assert.equal(frames.length, Math.ceil(length / mss));
        verifySegments(frames, {
          version,
          mss,
          payload: p.payload,
          v2: p.v2,
          verifiers: sa.verifiers,
          espFirst: firstSeq,
          highOf: (_spi, low) => (low >= firstSeq ? 2 : 3),
        });
      }
    ),
    { numRuns: 60 }
  );
});

test('D2 property: segmentCount is ceil(payload / MSS)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 1 << 20 }),
      fc.integer({ min: 1, max: 1 << 16 }),
      (n, mss) => {
        const c = segmentCount(n, mss);
        assert.ok((c - 1) * mss < n && n <= c * mss);
      }
    )
  );
});

// ---------------------------------------------------------------------------------------------
// Issue 6: the segment's TCP checksum fused into the batch's native seal.

const NO_ADDON: string | false =
  nativeAddon() === null ? 'issue #6: native addon not built' : false;

/** Seals and checksum jobs the native transforms of one bundle saw. */
interface Fused {
  batches: number;
  jobs: number;
}

/**
 * Puts `sa`'s ESP elements on the native engine (same keys as the testkit's node:crypto ones),
 * so the miniport defers their seals to the batch; counts the checksum jobs the seals carry.
 */
function onNative(h: Harness, sa: TestSa, spec: BundleSpec): Fused {
  const fused: Fused = { batches: 0, jobs: 0 };
  sa.bundle.elements.forEach((element, k) => {
    const e = spec.elements[k];
    if (e.operation !== 'esp') return;
    const encryption = e.encryption ?? 'aes-gcm-128';
    const integrity = e.integrity ?? null;
    const t = createNativeEsp({
      encryption,
      integrity,
      encryptionKey: keyFor(e.spi, 0, encryptionInfo(encryption).keyLength),
      ...(integrity === null
        ? {}
        : { integrityKey: keyFor(e.spi, 1, integrityInfo(integrity).keyLength) }),
      esn: e.esn ?? false,
      random: h.mp.random,
    });
    const sealBatch = t.sealBatch.bind(t);
    t.sealBatch = (buffer, offsets, lengths, highs, count, ivsWritten, checksums): void => {
      fused.batches++;
      for (let i = 0; checksums !== undefined && i < count; i++) {
        if (checksums[i * CHECKSUM_JOB_WORDS + 2] !== NO_CHECKSUM) fused.jobs++;
      }
      sealBatch(buffer, offsets, lengths, highs, count, ivsWritten, checksums);
    };
    (element as { esp: EspTransform }).esp = t;
  });
  return fused;
}

interface FusedCase {
  readonly name: string;
  readonly spec: BundleSpec;
  readonly packet: (sa: TestSa) => LsoOptions;
  /** Whether the seals are deferred, so the checksum rides with them. */
  readonly fused: boolean;
}

/**
 * Sends the case's LSO NBL through a miniport on the native engine (fused checksums where the
 * seal is deferred) and through one on node:crypto (finishFromSeed, then an immediate seal):
 * the frames and counters must be the same bytes. Returns the native side's frames and jobs.
 */
function fusedAgainstUnfused(c: FusedCase, caps?: Offload): { frames: Uint8Array[]; fused: Fused } {
  const native = harness(caps);
  const nativeSa = addBundle(native.mp, c.spec);
  const fused = onNative(native, nativeSa, c.spec);
  const reference = harness(caps);
  const referenceSa = addBundle(reference.mp, c.spec);
  const frames = sendOk(native, lsoPacket(c.packet(nativeSa)).nbl);
  const want = sendOk(reference, lsoPacket(c.packet(referenceSa)).nbl);
  assert.equal(frames.length, want.length, `${c.name}: segments`);
  frames.forEach((f, i) => {
    assert.equal(
      Buffer.from(f).toString('hex'),
      Buffer.from(want[i]).toString('hex'),
      `${c.name}: segment ${i}`
    );
  });
  assert.deepEqual(native.mp.counters.snapshot(), reference.mp.counters.snapshot(), c.name);
  const segments = frames.length;
  assert.equal(fused.jobs, c.fused ? segments : 0, `${c.name}: checksum jobs`);
  assert.ok(fused.batches > 0 === c.fused, `${c.name}: deferred seals`);
  return { frames, fused };
}

const GCM_SPEC: BundleSpec = { elements: [{ operation: 'esp', spi: 0x6001 }] };

test(
  'issue 6: a fused segment checksum gives the same frames as finishFromSeed + an immediate seal',
  { skip: NO_ADDON },
  () => {
    const cases: FusedCase[] = [
      {
        name: 'LSOv1 GCM IPv4',
        spec: GCM_SPEC,
        packet: (sa) => ({
          version: 4,
          sa,
          layers: [espLayer(sa, 9)],
          payloadLength: 5001,
          mss: 1000,
        }),
        fused: true,
      },
      {
        name: 'LSOv2 CBC + HMAC-SHA1 IPv6, filler',
        spec: {
          elements: [
            { operation: 'esp', spi: 0x6002, encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' },
          ],
          ipv6: true,
        },
        packet: (sa) => ({
          version: 6,
          sa,
          layers: [espLayer(sa, 1)],
          payloadLength: 4097,
          mss: 1300,
          filler: 7,
        }),
        fused: true,
      },
      {
        name: 'NULL + HMAC-SHA-256, TCP options',
        spec: {
          elements: [
            { operation: 'esp', spi: 0x6003, encryption: 'null', integrity: 'hmac-sha256-128' },
          ],
        },
        packet: (sa) => ({
          version: 4,
          sa,
          layers: [espLayer(sa, 1)],
          payloadLength: 3000,
          mss: 999,
          tcp: {
            options: [{ type: 'nop' }, { type: 'nop' }, { type: 'timestamps', tsVal: 7, tsEcr: 9 }],
          },
        }),
        fused: true,
      },
      {
        name: 'UDP-ESP over IPv4 (UDP checksum 0: still deferred)',
        spec: {
          ...GCM_SPEC,
          udpEspEncapsulation: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
        },
        packet: (sa) => ({
          version: 4,
          sa,
          layers: [{ kind: 'udp' }, espLayer(sa, 1)],
          payloadLength: 3000,
          mss: 1200,
        }),
        fused: true,
      },
      {
        name: 'UDP-ESP over IPv6 (the UDP checksum covers the ciphertext: not deferred)',
        spec: {
          ...GCM_SPEC,
          ipv6: true,
          udpEspEncapsulation: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
        },
        packet: (sa) => ({
          version: 6,
          sa,
          layers: [{ kind: 'udp' }, espLayer(sa, 1)],
          payloadLength: 3000,
          mss: 1200,
        }),
        fused: false,
      },
      {
        name: 'AH + ESP (AH covers the ciphertext: not deferred)',
        spec: {
          elements: [
            { operation: 'esp', spi: 0x6004, encryption: 'aes-gcm-128' },
            { operation: 'ah', spi: 0x6005, integrity: 'hmac-sha1-96' },
          ],
        },
        packet: (sa) => ({
          version: 4,
          sa,
          layers: [ahLayer(sa, 3), espLayer(sa, 5)],
          payloadLength: 3000,
          mss: 1460,
        }),
        fused: false,
      },
      {
        name: 'ESN wrap inside the send',
        spec: { elements: [{ operation: 'esp', spi: 0x6006, esn: true, seqHigh: 4 }] },
        packet: (sa) => ({
          version: 4,
          sa,
          layers: [espLayer(sa, 0xfffffffe)],
          payloadLength: 4000,
          mss: 1000,
        }),
        fused: true,
      },
    ];
    for (const c of cases) fusedAgainstUnfused(c);
    // The checksums themselves: every segment of the first case decrypts to a valid TCP checksum.
    const h = harness();
    const sa = addBundle(h.mp, GCM_SPEC);
    const fused = onNative(h, sa, GCM_SPEC);
    const p = lsoPacket({
      version: 4,
      sa,
      layers: [espLayer(sa, 9)],
      payloadLength: 5001,
      mss: 1000,
    });
    verifySegments(sendOk(h, p.nbl), {
      version: 4,
      mss: 1000,
      payload: p.payload,
      v2: false,
      verifiers: sa.verifiers,
      espFirst: 9,
    });
    assert.equal(fused.jobs, 6, 'one checksum job per segment');
  }
);

test(
  "issue 6 / D2: a wrong seed on the fused path is counted and goes out wrong, exactly as finishFromSeed's",
  { skip: NO_ADDON },
  () => {
    for (const version of [4, 6] as const) {
      const spec: BundleSpec = { ...GCM_SPEC, ipv6: version === 6 };
      for (const seed of ['zero', 'seed', 'complete'] as const) {
        const c: FusedCase = {
          name: `IPv${version} ${seed}`,
          spec,
          packet: (sa) => ({
            version,
            sa,
            layers: [espLayer(sa, 1)],
            payloadLength: 2500,
            mss: 1000,
            seed,
          }),
          fused: true,
        };
        const { frames } = fusedAgainstUnfused(c);
        const h = harness();
        const sa = addBundle(h.mp, spec);
        onNative(h, sa, spec);
        sendOk(h, lsoPacket(c.packet(sa)).nbl);
        assert.equal(
          h.mp.counters.get('send.checksum-seed-mismatch'),
          3,
          `${c.name}: counted per segment`
        );
        for (const f of frames) {
          assert.equal(
            decodeFrame(f, sa.verifiers).tcp?.checksumOk,
            false,
            `${c.name}: wrong on the wire`
          );
        }
      }
    }
  }
);

test(
  'issue 6 property: fused and unfused LSO give the same bytes for any length, MSS, filler and algorithm',
  { skip: NO_ADDON },
  () => {
    const caps = defaultCapabilities();
    const one: Offload = {
      ...caps,
      LsoV1: { IPv4: { ...caps.LsoV1.IPv4, MinSegmentCount: 1 } },
      LsoV2: { ...caps.LsoV2, IPv6: { ...caps.LsoV2.IPv6, MinSegmentCount: 1 } },
    };
    const algorithms = [
      { encryption: 'aes-gcm-128', integrity: null },
      { encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' },
      { encryption: '3des-cbc', integrity: 'hmac-md5-96' },
      { encryption: 'null', integrity: 'hmac-sha256-128' },
      { encryption: 'chacha20-poly1305', integrity: null },
    ] as const;
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6000 }),
        fc.integer({ min: 1, max: 1500 }),
        fc.integer({ min: 0, max: algorithms.length - 1 }),
        fc.integer({ min: 0, max: 15 }),
        fc.boolean(),
        fc.constantFrom('lso-seed', 'zero') as fc.Arbitrary<ChecksumMode>,
        (length, mss, alg, filler, ipv6, seed) => {
          fc.pre(Math.ceil(length / mss) <= 300);
          const version = ipv6 ? 6 : 4;
          fusedAgainstUnfused(
            {
              name: `${length}/${mss} ${algorithms[alg].encryption} IPv${version}`,
              spec: { elements: [{ operation: 'esp', spi: 0x6101, ...algorithms[alg] }], ipv6 },
              packet: (sa) => ({
                version,
                sa,
                layers: [espLayer(sa, 1)],
                payloadLength: length,
                mss,
                filler,
                seed,
              }),
              fused: true,
            },
            one
          );
        }
      ),
      { numRuns: 40 }
    );
  }
);
