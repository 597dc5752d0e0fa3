/**
 * The receive path ("Receiving Network Data with IPsec Offload Version 2"; reference §4.2): frames
 * produced by the real send path of one miniport (SAs added by OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
 * packets framed by the transport's framing code) are received by a second miniport holding the
 * inbound twins of the SAs; crafted frames reach every CRYPTO_* code and every rule of §4.2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createEsp } from '../crypto/esp.ts';
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import { seededRandom } from '../crypto/random.ts';
import type { EspGeometry } from '../crypto/transform.ts';
import { encodeAddSaList, readAddSaHandle } from '../ndis/addsa.ts';
import { defaultCapabilities, type Offload } from '../ndis/caps.ts';
import { encodeOffloadEncapsulation, OffloadSet } from '../ndis/encapsulation.ts';
import { chainLength, NetBufferList, NetBufferListInfo } from '../ndis/nbl.ts';
import { CryptoStatus, Encapsulation, Oid, Operation, UdpEsp } from '../ndis/oid.ts';
import { decodeHeaderReceive, decodeIpsecReceive } from '../ndis/oob.ts';
import { NdisStatus } from '../ndis/status.ts';
import { encodeUpdateSa } from '../ndis/updatesa.ts';
import * as framing from '../transport/framing.ts';
import type { FrameSpec, Protection } from '../transport/framing.ts';
import { addSaEntry, type SaDescription } from '../transport/sa-entry.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { Miniport } from './miniport.ts';
import { cryptoKey, receiveFrame } from './receive.ts';
import { RX_BATCH_FRAMES, RX_BATCH_GROUPS } from './recv-context.ts';
import { inboundState } from './recv-state.ts';
import type { SaBundle } from './sa-table.ts';

const {
  CRYPTO_SUCCESS,
  CRYPTO_GENERIC_ERROR,
  CRYPTO_TRANSPORT_AH_AUTH_FAILED,
  CRYPTO_TRANSPORT_ESP_AUTH_FAILED,
  CRYPTO_TUNNEL_AH_AUTH_FAILED,
  CRYPTO_TUNNEL_ESP_AUTH_FAILED,
  CRYPTO_INVALID_PACKET_SYNTAX,
  CRYPTO_INVALID_PROTOCOL,
} = CryptoStatus;

// ---------------------------------------------------------------------------------------------
// Fixtures: two miniports on one wire, SAs by OID, frames by the transport's framing.
// ---------------------------------------------------------------------------------------------

const MAC_A = ethernet.parseMac('02:00:00:00:00:0a');
const MAC_B = ethernet.parseMac('02:00:00:00:00:0b');
const A4 = ipv4.parseAddress('192.0.2.10');
const B4 = ipv4.parseAddress('198.51.100.20');
const C4 = ipv4.parseAddress('198.51.100.99');
const GA4 = ipv4.parseAddress('203.0.113.1');
const GB4 = ipv4.parseAddress('203.0.113.2');
const A6 = ipv6.parseAddress('2001:db8:a::10');
const B6 = ipv6.parseAddress('2001:db8:b::20');
const GA6 = ipv6.parseAddress('2001:db8:ffff::a');
const GB6 = ipv6.parseAddress('2001:db8:ffff::b');
const ETH = { source: MAC_A, destination: MAC_B };

const key = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (seed * 37 + i * 29 + 1) & 0xff);

const payloadBytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (seed * 131 + i * 7 + ((i * i) >>> 3)) & 0xff);

/** A sending and a receiving miniport, with what each puts out. */
interface Pair {
  readonly a: Miniport;
  readonly b: Miniport;
  readonly wire: Uint8Array[];
  readonly completed: NetBufferList[];
  /** Each NdisMIndicateReceiveNetBufferLists call of `b`: the chain's NBLs. */
  readonly indications: NetBufferList[][];
}

interface PairOptions {
  readonly receiverCapabilities?: Offload;
  readonly saDeleteRequest?: (bundle: SaBundle) => boolean;
  readonly enable?: boolean;
}

function pair(options: PairOptions = {}): Pair {
  const wire: Uint8Array[] = [];
  const completed: NetBufferList[] = [];
  const indications: NetBufferList[][] = [];
  const a = new Miniport({
    link: { transmit: (frame) => wire.push(frame) },
    complete: (nbl) => completed.push(nbl),
    random: seededRandom(7),
  });
  const b = new Miniport({
    ...(options.receiverCapabilities === undefined
      ? {}
      : { capabilities: options.receiverCapabilities }),
    link: {
      transmit(): void {
        /* the receiver sends nothing */
      },
    },
    complete(): void {
      /* nothing sent */
    },
    random: seededRandom(8),
    indicateReceive(first: NetBufferList): void {
      const chain: NetBufferList[] = [];
      for (let n: NetBufferList | null = first; n !== null; n = n.next) chain.push(n);
      indications.push(chain);
    },
    ...(options.saDeleteRequest === undefined ? {} : { saDeleteRequest: options.saDeleteRequest }),
  });
  if (options.enable !== false) enableReceive(b);
  return { a, b, wire, completed, indications };
}

/** OID_OFFLOAD_ENCAPSULATION with Ethernet for both IP versions: receive offload on (D12). */
function enableReceive(mp: Miniport): void {
  const on = {
    Enabled: OffloadSet.NDIS_OFFLOAD_SET_ON,
    EncapsulationType: Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3,
    HeaderSize: 14,
  };
  const r = mp.oidRequest({
    type: 'set',
    oid: Oid.OID_OFFLOAD_ENCAPSULATION,
    buffer: encodeOffloadEncapsulation({ IPv4: on, IPv6: on }),
  });
  assert.equal(r.status, NdisStatus.NDIS_STATUS_SUCCESS);
}

/** One bundle: endpoints, SAs, UDP-ESP type. */
interface BundleSpec {
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly sas: readonly SaDescription[];
  readonly udpEspEncapsulation?: number;
}

/** ADD_SA (x64) for `bundles` in one direction on `mp`; returns the handles. */
function addSas(mp: Miniport, inbound: boolean, bundles: readonly BundleSpec[]): bigint[] {
  const entries = bundles.map((b) =>
    addSaEntry({
      inbound,
      source: b.source,
      destination: b.destination,
      sas: b.sas,
      ...(b.udpEspEncapsulation === undefined
        ? {}
        : { udpEspEncapsulation: b.udpEspEncapsulation }),
    })
  );
  const base = 0x10000n;
  const list = encodeAddSaList(entries, base, 'x64');
  const r = mp.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer: list.bytes,
    baseAddress: base,
  });
  assert.equal(r.status, NdisStatus.NDIS_STATUS_SUCCESS, 'ADD_SA');
  const handles = list.entryOffsets.map((o) => readAddSaHandle(list.bytes, o, 'x64'));
  for (const h of handles) assert.notEqual(h, 0n);
  return handles;
}

/** Outbound on the sender, the inbound twins on the receiver; returns the outbound handles. */
function twin(p: Pair, bundles: readonly BundleSpec[]): bigint[] {
  addSas(p.b, true, bundles);
  return addSas(p.a, false, bundles);
}

/** The geometry framing needs for an ESP SA (crypto/names.ts). */
function geometry(sa: SaDescription): EspGeometry {
  const e = encryptionInfo(sa.encryption ?? 'null');
  const i = sa.integrity == null ? null : integrityInfo(sa.integrity);
  return {
    ivLength: e.ivLength > 0 ? e.ivLength : (i?.ivLength ?? 0),
    icvLength: e.combined ? (sa.icvLength ?? e.icvLength) : (i?.icvLength ?? 0),
    padAlign: e.padAlign,
  };
}

function espProtection(handle: bigint, sa: SaDescription, seq: bigint, udp = false): Protection {
  return {
    handle,
    esp: { spi: sa.spi, sequenceNumber: seq, ...geometry(sa) },
    ...(udp ? { udp: {} } : {}),
  };
}

function ahProtection(handle: bigint, sa: SaDescription, seq: bigint): Protection {
  const i = integrityInfo(sa.integrity!);
  return {
    handle,
    ah: { spi: sa.spi, sequenceNumber: seq, icvLength: i.icvLength, ivLength: i.ivLength },
  };
}

const tcpL4 = (payload: Uint8Array, seq = 1000): FrameSpec['l4'] => ({
  protocol: 'tcp',
  header: {
    srcPort: 49152,
    dstPort: 443,
    sequenceNumber: seq,
    acknowledgmentNumber: 1,
    flags: 0x18,
    window: 65535,
    urgentPointer: 0,
    options: [],
  },
  payload,
});

const udpL4 = (payload: Uint8Array): FrameSpec['l4'] => ({
  protocol: 'udp',
  srcPort: 5000,
  dstPort: 5001,
  payload,
});

/** Sends `specs` through the sender's real send path; returns the new frames on the wire. */
function send(p: Pair, specs: readonly FrameSpec[]): Uint8Array[] {
  const before = p.wire.length;
  const nbls = specs.map((s) => framing.build(s));
  nbls.forEach((n, i) => (n.next = nbls[i + 1] ?? null));
  p.a.sendNetBufferLists(nbls[0] ?? null);
  for (const n of nbls) assert.equal(n.status, NdisStatus.NDIS_STATUS_SUCCESS, 'send status');
  return p.wire.slice(before);
}

/** The receive OOB of an NBL, decoded. */
interface Rx {
  readonly raw: number;
  readonly SaDeleteReq: number;
  readonly CryptoDone: number;
  readonly NextCryptoDone: number;
  readonly CryptoStatus: number;
  readonly header: { NextHeader: number; PadLength: number; HeaderInfoSet: number };
}

function rx(nbl: NetBufferList): Rx {
  const raw = nbl.info.getU32(NetBufferListInfo.IPsecOffloadV2NetBufferListInfo);
  const f = decodeIpsecReceive(raw);
  const h = decodeHeaderReceive(
    nbl.info.getU32(NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo)
  );
  return {
    raw,
    SaDeleteReq: f.SaDeleteReq,
    CryptoDone: f.CryptoDone,
    NextCryptoDone: f.NextCryptoDone,
    CryptoStatus: f.CryptoStatus,
    header: { NextHeader: h.NextHeader, PadLength: h.PadLength, HeaderInfoSet: h.HeaderInfoSet },
  };
}

/** Receives `frames` as one batch on `p.b`; returns the indicated NBLs (asserting one indication). */
function receive(p: Pair, frames: readonly Uint8Array[]): NetBufferList[] {
  const before = p.indications.length;
  const first = p.b.receive(frames);
  assert.equal(p.indications.length, before + 1, 'one indication per batch');
  const chain = p.indications[before];
  assert.equal(chain[0], first);
  assert.equal(chain.length, frames.length, 'one NBL per frame');
  chain.forEach((n, i) => {
    assert.equal(n.netBuffers.length, 1);
    assert.equal(n.netBuffers[0].memory, frames[i], 'the NET_BUFFER is the frame, in place');
  });
  return chain;
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  return Buffer.from(hay.buffer, hay.byteOffset, hay.length).indexOf(Buffer.from(needle));
}

const copy = (frames: readonly Uint8Array[]): Uint8Array[] => frames.map((f) => f.slice());

/** Asserts CryptoDone 1, CRYPTO_SUCCESS, no SaDeleteReq. */
function assertSuccess(r: Rx, next = 0): void {
  assert.deepEqual(
    { CryptoDone: r.CryptoDone, NextCryptoDone: r.NextCryptoDone, CryptoStatus: r.CryptoStatus },
    { CryptoDone: 1, NextCryptoDone: next, CryptoStatus: CRYPTO_SUCCESS }
  );
  assert.equal(r.SaDeleteReq, 0);
}

/** The trailer at the end of an IP packet ending at `end` with an `icv`-byte ICV. */
function trailerAt(frame: Uint8Array, end: number, icv: number): { next: number; pad: number } {
  return { next: frame[end - icv - 1], pad: frame[end - icv - 2] };
}

// SAs by name (contract D17).
const GCM = (spi: number, extra: Partial<SaDescription> = {}): SaDescription => ({
  protocol: 'esp',
  spi,
  encryption: 'aes-gcm-128',
  encryptionKey: key(20, spi),
  ...extra,
});
const CBC_SHA1 = (spi: number): SaDescription => ({
  protocol: 'esp',
  spi,
  encryption: 'aes-cbc-128',
  integrity: 'hmac-sha1-96',
  encryptionKey: key(16, spi),
  integrityKey: key(20, spi + 1),
});
const CBC256_SHA256 = (spi: number): SaDescription => ({
  protocol: 'esp',
  spi,
  encryption: 'aes-cbc-256',
  integrity: 'hmac-sha256-128',
  encryptionKey: key(32, spi),
  integrityKey: key(32, spi + 1),
});
const NULL_SHA256 = (spi: number): SaDescription => ({
  protocol: 'esp',
  spi,
  encryption: 'null',
  integrity: 'hmac-sha256-128',
  integrityKey: key(32, spi),
});
const NULL_GMAC = (spi: number): SaDescription => ({
  protocol: 'esp',
  spi,
  encryption: 'null',
  integrity: 'aes-gmac-128',
  integrityKey: key(20, spi),
});
const AH = (spi: number, integrity: 'hmac-sha1-96' | 'hmac-sha256-128' | 'aes-gmac-128') => ({
  protocol: 'ah' as const,
  spi,
  integrity,
  integrityKey: key(integrityInfo(integrity).keyLength, spi),
});

// ---------------------------------------------------------------------------------------------
// Round trips: the real send path → the receive path (rule 4, CRYPTO_SUCCESS).
// ---------------------------------------------------------------------------------------------

/** Sends one transport-mode ESP packet per SA kind and checks the receive OOB and plaintext. */
function espRoundTrip(sa: SaDescription, version: 4 | 6, udp: 'tcp' | 'udp' = 'tcp'): void {
  const p = pair();
  const [src, dst] = version === 4 ? [A4, B4] : [A6, B6];
  const [h] = twin(p, [{ source: src, destination: dst, sas: [sa] }]);
  const payloads = [payloadBytes(1, 1), payloadBytes(300, 2), payloadBytes(1000, 3)];
  const specs = payloads.map((pl, i): FrameSpec => ({
    ethernet: ETH,
    ip:
      version === 4
        ? { version: 4, source: src, destination: dst, identification: i }
        : { version: 6, source: src, destination: dst },
    transport: espProtection(h, sa, BigInt(i + 1)),
    l4: udp === 'tcp' ? tcpL4(pl) : udpL4(pl),
  }));
  const frames = send(p, specs);
  const wire = copy(frames);
  const nbls = receive(p, frames);
  const g = geometry(sa);
  nbls.forEach((nbl, i) => {
    const r = rx(nbl);
    assertSuccess(r);
    const frame = frames[i];
    const t = trailerAt(frame, frame.length, g.icvLength);
    assert.deepEqual(r.header, { NextHeader: t.next, PadLength: t.pad, HeaderInfoSet: 1 });
    assert.equal(t.next, udp === 'tcp' ? 6 : 17);
    // The plaintext is in place, right before the padding.
    const padStart = frame.length - g.icvLength - 2 - t.pad;
    assert.deepEqual(frame.subarray(padStart - payloads[i].length, padStart), payloads[i]);
    if (sa.encryption !== 'null' && payloads[i].length > 16) {
      assert.equal(indexOf(wire[i], payloads[i]), -1, 'encrypted on the wire');
    }
  });
  const [element] = [...p.b.saTable.bundles()][0].elements;
  assert.equal(element.counters.packets, 3);
  assert.equal(p.b.counters.get('receive.crypto:success'), 3);
  assert.equal(p.b.counters.get('receive.crypto-done'), 3);
}

test('§4.2 rule 4 CRYPTO_SUCCESS: ESP AES-GCM-128 (IPv4, IPv6) round trip through the real send path', () => {
  espRoundTrip(GCM(0x1001), 4);
  espRoundTrip(GCM(0x1002, { icvLength: 8 }), 6, 'udp');
});

test('§4.2 rule 4 CRYPTO_SUCCESS: ESP AES-CBC + HMAC round trip (CBC-128/SHA1, CBC-256/SHA256)', () => {
  espRoundTrip(CBC_SHA1(0x2001), 4);
  espRoundTrip(CBC256_SHA256(0x2002), 6);
});

test('§4.2 rule 4 CRYPTO_SUCCESS: ESP NULL + HMAC-SHA256 and ESP NULL + AES-GMAC round trip', () => {
  espRoundTrip(NULL_SHA256(0x3001), 4);
  espRoundTrip(NULL_GMAC(0x3002), 4);
  espRoundTrip(NULL_GMAC(0x3003), 6, 'udp');
});

test('§4.2 rule 4 CRYPTO_SUCCESS: AH (HMAC-SHA1 IPv4, HMAC-SHA256 IPv6, GMAC IPv4) — CryptoDone 1, no header OOB', () => {
  for (const [sa, version] of [
    [AH(0x4001, 'hmac-sha1-96'), 4],
    [AH(0x4002, 'hmac-sha256-128'), 6],
    [AH(0x4003, 'aes-gmac-128'), 4],
  ] as const) {
    const p = pair();
    const [src, dst] = version === 4 ? [A4, B4] : [A6, B6];
    const [h] = twin(p, [{ source: src, destination: dst, sas: [sa] }]);
    const pl = payloadBytes(200, sa.spi);
    const frames = send(p, [
      {
        ethernet: ETH,
        ip:
          version === 4
            ? { version: 4, source: src, destination: dst }
            : { version: 6, source: src, destination: dst },
        transport: ahProtection(h, sa, 5n),
        l4: tcpL4(pl),
      },
    ]);
    const [nbl] = receive(p, frames);
    const r = rx(nbl);
    assertSuccess(r);
    assert.equal(r.header.HeaderInfoSet, 0, 'AH only: no ESP trailer');
    assert.ok(indexOf(frames[0], pl) > 0);
  }
});

test('§4.2 rule 4 CRYPTO_SUCCESS: AH + ESP bundle (AH verified first, then ESP decrypted)', () => {
  const p = pair();
  const esp = CBC_SHA1(0x5001);
  const ahSa = AH(0x5002, 'hmac-sha1-96');
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [esp, ahSa] }]);
  const pl = payloadBytes(333, 9);
  const spec: FrameSpec = {
    ethernet: ETH,
    ip: { version: 4, source: A4, destination: B4 },
    transport: {
      ...espProtection(h, esp, 1n),
      ah: { spi: ahSa.spi, sequenceNumber: 1n, icvLength: 12 },
    },
    l4: tcpL4(pl),
  };
  const frames = send(p, [spec]);
  const wire = copy(frames);
  const [nbl] = receive(p, frames);
  const r = rx(nbl);
  assertSuccess(r);
  const t = trailerAt(frames[0], frames[0].length, 12);
  assert.deepEqual(r.header, { NextHeader: 6, PadLength: t.pad, HeaderInfoSet: 1 });
  assert.equal(indexOf(wire[0], pl), -1);
  assert.ok(indexOf(frames[0], pl) > 0);
  const elements = [...p.b.saTable.bundles()][0].elements;
  assert.deepEqual(
    elements.map((e) => e.counters.packets),
    [1, 1]
  );
});

test('§4.2 rule 4 CRYPTO_SUCCESS: tunnel mode (IPv6 in IPv6 CBC-256/SHA256, IPv4 in IPv4 GCM) — Next Header 41/4', () => {
  for (const [sa, version] of [
    [CBC256_SHA256(0x6001), 6],
    [GCM(0x6002), 4],
  ] as const) {
    const p = pair();
    const [gs, gd, s, d] = version === 6 ? [GA6, GB6, A6, B6] : [GA4, GB4, A4, B4];
    const [h] = twin(p, [{ source: gs, destination: gd, sas: [sa] }]);
    const pl = payloadBytes(300, 4);
    const frames = send(p, [
      {
        ethernet: ETH,
        ip:
          version === 6
            ? { version: 6, source: gs, destination: gd }
            : { version: 4, source: gs, destination: gd },
        tunnel: {
          protection: espProtection(h, sa, 1n),
          inner:
            version === 6
              ? { version: 6, source: s, destination: d }
              : { version: 4, source: s, destination: d },
        },
        l4: udpL4(pl),
      },
    ]);
    const [nbl] = receive(p, frames);
    const r = rx(nbl);
    assertSuccess(r);
    assert.equal(r.header.NextHeader, version === 6 ? 41 : 4);
    assert.equal(r.header.HeaderInfoSet, 1);
    assert.ok(indexOf(frames[0], pl) > 0);
    assert.equal(inboundState([...p.b.saTable.bundles()][0].elements[0]).mode, 'tunnel');
  }
});

/** Transport (hosts, CBC+SHA1) over tunnel (gateways, GCM): both bundles on both sides. */
function transportOverTunnel(p: Pair, seq: bigint, pl: Uint8Array): Uint8Array[] {
  const [ht, hx] = twin(p, [
    { source: GA4, destination: GB4, sas: [GCM(0x7001)] },
    { source: A4, destination: B4, sas: [CBC_SHA1(0x7002)] },
  ]);
  return send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: GA4, destination: GB4 },
      tunnel: {
        protection: espProtection(ht, GCM(0x7001), seq),
        inner: { version: 4, source: A4, destination: B4 },
      },
      transport: espProtection(hx, CBC_SHA1(0x7002), seq),
      l4: tcpL4(pl),
    },
  ]);
}

test('§4.2 rule 4 NextCryptoDone: transport over tunnel — both payloads checked, header OOB of the inner trailer', () => {
  const p = pair();
  const pl = payloadBytes(400, 5);
  const frames = transportOverTunnel(p, 3n, pl);
  const wire = copy(frames);
  const [nbl] = receive(p, frames);
  const r = rx(nbl);
  assertSuccess(r, 1);
  assert.equal(indexOf(wire[0], pl), -1);
  const at = indexOf(frames[0], pl);
  assert.ok(at > 0, 'both layers decrypted in place');
  // The inner packet's trailer: right after the payload come padding, Pad Length, Next Header 6.
  const pad = frames[0][at + pl.length + r.header.PadLength];
  assert.equal(pad, r.header.PadLength);
  assert.deepEqual(r.header, { NextHeader: 6, PadLength: r.header.PadLength, HeaderInfoSet: 1 });
  assert.equal(frames[0][at + pl.length + r.header.PadLength + 1], 6);
  assert.equal(p.b.counters.get('receive.next-crypto-done'), 1);
});

test('§4.2 rule 4 CRYPTO_SUCCESS, D14: UDP-ESP on port 4500 (IPv4, IPv6) round trip', () => {
  for (const version of [4, 6] as const) {
    const p = pair();
    const sa = GCM(0x8001 + version);
    const [src, dst] = version === 4 ? [A4, B4] : [A6, B6];
    const [h] = twin(p, [
      {
        source: src,
        destination: dst,
        sas: [sa],
        udpEspEncapsulation: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
      },
    ]);
    const pl = payloadBytes(250, version);
    const frames = send(p, [
      {
        ethernet: ETH,
        ip:
          version === 4
            ? { version: 4, source: src, destination: dst }
            : { version: 6, source: src, destination: dst },
        transport: espProtection(h, sa, 1n, true),
        l4: tcpL4(pl),
      },
    ]);
    const [nbl] = receive(p, frames);
    assertSuccess(rx(nbl));
    assert.ok(indexOf(frames[0], pl) > 0);
  }
});

test('D3 ESN: the high half is estimated right on both sides of the 2^32 wrap (no retry needed), late packets too', () => {
  const p = pair();
  const sa = GCM(0x9001, { esn: true, seqHigh: 0 });
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
  const spec = (seq: bigint, i: number): FrameSpec => ({
    ethernet: ETH,
    ip: { version: 4, source: A4, destination: B4, identification: i },
    transport: espProtection(h, sa, seq),
    l4: tcpL4(payloadBytes(64, i)),
  });
  const before = send(p, [0xffff_fffdn, 0xffff_fffen, 0xffff_ffffn].map(spec));
  // The sender's transport moves its SA to high half 1 (UPDATE_SA, D3).
  const upd = p.a.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA,
    buffer: encodeUpdateSa(
      {
        offloadHandle: h,
        operation: Operation.IPsecOffloadV2Esp,
        spi: sa.spi,
        sequenceNumberHighOrder: 1,
      },
      'x64'
    ),
  });
  assert.equal(upd.status, NdisStatus.NDIS_STATUS_SUCCESS);
  const after = send(
    p,
    [0x1_0000_0000n, 0x1_0000_0001n, 0x1_0000_0002n].map((s, i) => spec(s, i + 3))
  );
  // Order on the receiver: two before the wrap, two after, the late one from before, the last.
  const order = [before[1], before[2], after[0], after[1], before[0], after[2]];
  const nbls = receive(p, order);
  for (const nbl of nbls) assertSuccess(rx(nbl));
  assert.equal(p.b.counters.get('receive.esn-retry'), 0);
  const state = inboundState([...p.b.saTable.bundles()][0].elements[0]);
  assert.deepEqual([state.highestHigh, state.highestLow], [1, 2]);
});

test('D3 ESN: a packet far beyond the estimate verifies with the other candidate, tried once', () => {
  const p = pair();
  const sa = GCM(0x9101, { esn: true, seqHigh: 4 });
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
  // Receiver's estimate from T = 4‖0 for a low half of 0xF0000000 is 3 (before the wrap); the
  // packet really is 4‖0xF0000000: the second candidate (Th = 4) verifies.
  const frames = send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: espProtection(h, sa, 0x4_f000_0000n),
      l4: tcpL4(payloadBytes(10, 1)),
    },
  ]);
  const [nbl] = receive(p, frames);
  assertSuccess(rx(nbl));
  assert.equal(p.b.counters.get('receive.esn-retry'), 1);
});

test('§4.2 rule 4 CRYPTO_SUCCESS: LSO v1 and v2 segments each verify and reassemble to the payload', () => {
  for (const version of [1, 2] as const) {
    const p = pair();
    const sa = GCM(0xa001 + version);
    const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
    const pl = payloadBytes(5000, version);
    const mss = 1000;
    const frames = send(p, [
      {
        ethernet: ETH,
        ip: { version: 4, source: A4, destination: B4, identification: 1 },
        transport: espProtection(h, sa, 10n),
        l4: tcpL4(pl),
        lso: { version, mss },
      },
    ]);
    assert.equal(frames.length, 5);
    const nbls = receive(p, frames);
    const chunks: Uint8Array[] = [];
    nbls.forEach((nbl, i) => {
      const r = rx(nbl);
      assertSuccess(r);
      const f = frames[i];
      const padStart = f.length - 16 - 2 - r.header.PadLength;
      chunks.push(f.subarray(14 + 20 + 8 + 8 + 20, padStart));
    });
    assert.deepEqual(Buffer.concat(chunks), Buffer.from(pl));
  }
});

// ---------------------------------------------------------------------------------------------
// Every CRYPTO_* code from a crafted packet.
// ---------------------------------------------------------------------------------------------

/** One GCM transport packet A → B, sent for real. */
function gcmFrame(p: Pair, spi = 0xb001, pl = payloadBytes(100, 1)): Uint8Array {
  const sa = GCM(spi);
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
  return send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: espProtection(h, sa, 1n),
      l4: tcpL4(pl),
    },
  ])[0];
}

/** Sets the IPv4 Total Length of a frame (the receiver does not check the header checksum). */
function setTotalLength(frame: Uint8Array, total: number): void {
  frame[16] = total >>> 8;
  frame[17] = total & 0xff;
}

test('CRYPTO_TRANSPORT_ESP_AUTH_FAILED: a flipped ciphertext bit — CryptoDone 1, the bytes left as received', () => {
  const p = pair();
  const frame = gcmFrame(p);
  frame[70] ^= 0x01;
  const wire = frame.slice();
  const [nbl] = receive(p, [frame]);
  const r = rx(nbl);
  assert.deepEqual([r.CryptoDone, r.CryptoStatus], [1, CRYPTO_TRANSPORT_ESP_AUTH_FAILED]);
  assert.equal(r.header.HeaderInfoSet, 0);
  assert.deepEqual(frame, wire);
  const element = [...p.b.saTable.bundles()][0].elements[0];
  assert.equal(inboundState(element).failures[CRYPTO_TRANSPORT_ESP_AUTH_FAILED], 1);
  assert.equal(element.counters.packets, 0);
  assert.equal(
    p.b.counters.get(`receive.crypto:${cryptoKey(CRYPTO_TRANSPORT_ESP_AUTH_FAILED)}`),
    1
  );
});

test('CRYPTO_TRANSPORT_AH_AUTH_FAILED: a flipped payload bit under AH, and a flipped ICV bit', () => {
  const p = pair();
  const sa = AH(0xb101, 'hmac-sha256-128');
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
  const spec: FrameSpec = {
    ethernet: ETH,
    ip: { version: 4, source: A4, destination: B4 },
    transport: ahProtection(h, sa, 1n),
    l4: tcpL4(payloadBytes(64, 2)),
  };
  const frames = send(p, [spec, spec]);
  frames[0][frames[0].length - 1] ^= 0x80; // payload
  frames[1][14 + 20 + 12] ^= 0x01; // ICV
  for (const nbl of receive(p, frames)) {
    const r = rx(nbl);
    assert.deepEqual([r.CryptoDone, r.CryptoStatus], [1, CRYPTO_TRANSPORT_AH_AUTH_FAILED]);
  }
});

test("CRYPTO_TUNNEL_ESP_AUTH_FAILED: a flipped bit in a tunnel SA's packet (mode known from its previous packet) and in the outer packet of transport over tunnel", () => {
  const p = pair();
  const sa = GCM(0xb201);
  const [h] = twin(p, [{ source: GA4, destination: GB4, sas: [sa] }]);
  const spec = (seq: bigint): FrameSpec => ({
    ethernet: ETH,
    ip: { version: 4, source: GA4, destination: GB4 },
    tunnel: {
      protection: espProtection(h, sa, seq),
      inner: { version: 4, source: A4, destination: B4 },
    },
    l4: udpL4(payloadBytes(80, 3)),
  });
  const frames = send(p, [spec(1n), spec(2n)]);
  frames[1][frames[1].length - 20] ^= 0x04;
  const [good, bad] = receive(p, frames);
  assertSuccess(rx(good));
  assert.deepEqual([rx(bad).CryptoDone, rx(bad).CryptoStatus], [1, CRYPTO_TUNNEL_ESP_AUTH_FAILED]);

  const q = pair();
  const pl = payloadBytes(100, 4);
  const first = transportOverTunnel(q, 1n, pl)[0];
  receive(q, [first]);
  const [handleT, handleX] = [...q.a.saTable.bundles()].map((b) => b.handle);
  const second = send(q, [
    {
      ethernet: ETH,
      ip: { version: 4, source: GA4, destination: GB4 },
      tunnel: {
        protection: espProtection(handleT, GCM(0x7001), 2n),
        inner: { version: 4, source: A4, destination: B4 },
      },
      transport: espProtection(handleX, CBC_SHA1(0x7002), 2n),
      l4: tcpL4(pl),
    },
  ])[0];
  second[60] ^= 0x10;
  const r = rx(receive(q, [second])[0]);
  assert.deepEqual(
    [r.CryptoDone, r.NextCryptoDone, r.CryptoStatus],
    [1, 0, CRYPTO_TUNNEL_ESP_AUTH_FAILED]
  );
});

test('CRYPTO_TUNNEL_AH_AUTH_FAILED: AH tunnel mode (Next Header 4 in the clear) with a flipped inner byte', () => {
  const p = pair();
  const sa = AH(0xb301, 'hmac-sha1-96');
  const [h] = twin(p, [{ source: GA4, destination: GB4, sas: [sa] }]);
  const spec: FrameSpec = {
    ethernet: ETH,
    ip: { version: 4, source: GA4, destination: GB4 },
    tunnel: {
      protection: ahProtection(h, sa, 1n),
      inner: { version: 4, source: A4, destination: B4 },
    },
    l4: udpL4(payloadBytes(50, 5)),
  };
  const frames = send(p, [spec, spec]);
  frames[1][frames[1].length - 3] ^= 0x01;
  const [good, bad] = receive(p, frames);
  assertSuccess(rx(good));
  assert.deepEqual([rx(bad).CryptoDone, rx(bad).CryptoStatus], [1, CRYPTO_TUNNEL_AH_AUTH_FAILED]);
});

test('CRYPTO_INVALID_PACKET_SYNTAX: truncated frame, IP total length too small for the ESP fields, CBC not whole blocks, bad trailer, bad AH length', () => {
  const p = pair();
  const truncated = gcmFrame(p, 0xb401).subarray(0, 90);
  const short = gcmFrame(p, 0xb402);
  setTotalLength(short, 20 + 8 + 8 + 10); // ESP header, IV, 10 bytes: no room for the 16-byte ICV
  // CBC: Total Length 4 bytes short → the ciphertext is no longer whole 16-byte blocks.
  const cbc = CBC_SHA1(0xb403);
  const [hc] = twin(p, [{ source: A4, destination: B4, sas: [cbc] }]);
  const unaligned = send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: espProtection(hc, cbc, 1n),
      l4: tcpL4(payloadBytes(100, 6)),
    },
  ])[0];
  setTotalLength(unaligned, unaligned.length - 14 - 4);
  // A packet that authenticates but whose trailer is bad: sealed by our own transform with the
  // SA's key after the padding was changed (the NIC's send path would refuse it, D9).
  const gcm = GCM(0xb404);
  const [hg] = twin(p, [{ source: A4, destination: B4, sas: [gcm] }]);
  const framed = framing.build({
    ethernet: ETH,
    ip: { version: 4, source: A4, destination: B4 },
    transport: espProtection(hg, gcm, 1n),
    l4: tcpL4(payloadBytes(101, 7)),
  });
  const badTrailer = framed.netBuffers[0].data().slice();
  const icvStart = badTrailer.length - 16;
  const padLength = badTrailer[icvStart - 2];
  assert.ok(padLength >= 1);
  badTrailer[icvStart - 2 - padLength] = 0xee; // padding byte 1 → 0xEE
  createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: gcm.encryptionKey!,
    esn: false,
  }).seal(badTrailer.subarray(34), 0);
  // AH with a Payload Len that is not the SA's (RFC 4302 §2.6).
  const ahSa = AH(0xb405, 'hmac-sha1-96');
  const [ha] = twin(p, [{ source: A4, destination: B4, sas: [ahSa] }]);
  const ahLen = send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: ahProtection(ha, ahSa, 1n),
      l4: tcpL4(payloadBytes(40, 8)),
    },
  ])[0];
  ahLen[14 + 20 + 1] += 1;
  const nbls = receive(p, [truncated, short, unaligned, badTrailer, ahLen]);
  nbls.forEach((nbl, i) => {
    const r = rx(nbl);
    assert.equal(r.CryptoStatus, CRYPTO_INVALID_PACKET_SYNTAX, `packet ${i}`);
    assert.equal(
      r.CryptoDone,
      i === 3 ? 1 : 0,
      `packet ${i}: CryptoDone only when an ICV was checked`
    );
    assert.equal(r.header.HeaderInfoSet, 0);
  });
});

test('CRYPTO_INVALID_PROTOCOL: AH+ESP bundle vs an ESP-only packet, ESP-only bundle vs an AH+ESP packet, UDP-ESP type mismatch', () => {
  const p = pair();
  const esp = CBC_SHA1(0xb501);
  const ahSa = AH(0xb502, 'hmac-sha1-96');
  // Receiver: AH+ESP bundle; sender: the same ESP SA alone.
  addSas(p.b, true, [{ source: A4, destination: B4, sas: [esp, ahSa] }]);
  const [h1] = addSas(p.a, false, [{ source: A4, destination: B4, sas: [esp] }]);
  // Receiver: ESP-only bundle 0xb503; sender: AH(0xb504)+ESP(0xb503).
  const esp2 = CBC_SHA1(0xb503);
  const ah2 = AH(0xb504, 'hmac-sha1-96');
  addSas(p.b, true, [{ source: A4, destination: B4, sas: [esp2] }]);
  const [h2] = addSas(p.a, false, [{ source: A4, destination: B4, sas: [esp2, ah2] }]);
  // Receiver: plain ESP SA 0xb505; sender: UDP-encapsulated.
  const esp3 = GCM(0xb505);
  addSas(p.b, true, [{ source: A4, destination: B4, sas: [esp3] }]);
  const [h3] = addSas(p.a, false, [
    {
      source: A4,
      destination: B4,
      sas: [esp3],
      udpEspEncapsulation: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
    },
  ]);
  const ip = { version: 4 as const, source: A4, destination: B4 };
  const frames = send(p, [
    { ethernet: ETH, ip, transport: espProtection(h1, esp, 1n), l4: tcpL4(payloadBytes(32, 1)) },
    {
      ethernet: ETH,
      ip,
      transport: {
        ...espProtection(h2, esp2, 1n),
        ah: { spi: ah2.spi, sequenceNumber: 1n, icvLength: 12 },
      },
      l4: tcpL4(payloadBytes(32, 2)),
    },
    {
      ethernet: ETH,
      ip,
      transport: espProtection(h3, esp3, 1n, true),
      l4: tcpL4(payloadBytes(32, 3)),
    },
  ]);
  for (const nbl of receive(p, frames)) {
    const r = rx(nbl);
    assert.deepEqual([r.CryptoDone, r.CryptoStatus], [0, CRYPTO_INVALID_PROTOCOL]);
  }
});

test('CRYPTO_GENERIC_ERROR: AH over an IPv4 header whose option cannot be parsed (no ICV input can be formed)', () => {
  const p = pair();
  const sa = AH(0xb601, 'hmac-sha1-96');
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
  const frame = send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4, options: Uint8Array.of(1, 1, 1, 1) },
      transport: ahProtection(h, sa, 1n),
      l4: tcpL4(payloadBytes(40, 1)),
    },
  ])[0];
  frame.set([0x44, 0x01], 14 + 20); // Timestamp option with Length 1: malformed (RFC 791)
  const r = rx(receive(p, [frame])[0]);
  assert.deepEqual([r.CryptoDone, r.CryptoStatus], [0, CRYPTO_GENERIC_ERROR]);
  assert.equal(p.b.counters.sum('receive.ah-icv-input:'), 1);
});

// ---------------------------------------------------------------------------------------------
// Rules 1–3, 6, 7; D14 IKE/keepalive; batches; fuzz.
// ---------------------------------------------------------------------------------------------

test('§4.2 rule 1, D12: before OID_OFFLOAD_ENCAPSULATION the packet is indicated with no IPsec processing', () => {
  const p = pair({ enable: false });
  const frame = gcmFrame(p);
  const wire = frame.slice();
  const [nbl] = receive(p, [frame]);
  assert.equal(rx(nbl).raw, 0);
  assert.deepEqual(frame, wire);
  assert.equal(p.b.counters.get('receive.offload-disabled'), 1);
  enableReceive(p.b);
  assertSuccess(rx(receive(p, [frame])[0]));
});

test('§4.2 rule 2: unknown SPI and destination mismatch → indicated without IPsecOV2 OOB', () => {
  const p = pair();
  const frame = gcmFrame(p);
  const unknown = frame.slice();
  unknown[14 + 20 + 3] ^= 0x55; // SPI
  const elsewhere = frame.slice();
  elsewhere.set(C4, 14 + 16); // destination
  const wires = [unknown.slice(), elsewhere.slice()];
  const nbls = receive(p, [unknown, elsewhere]);
  nbls.forEach((nbl, i) => {
    assert.equal(rx(nbl).raw, 0);
    assert.equal(nbl.info.getU32(NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo), 0);
    assert.deepEqual([unknown, elsewhere][i], wires[i]);
  });
  assert.equal(p.b.counters.get('receive.no-sa'), 2);
});

test('§4.2 rule 2: an all-zero ADD_SA destination is a wildcard', () => {
  const p = pair();
  const sa = GCM(0xc001);
  addSas(p.b, true, [{ source: new Uint8Array(4), destination: new Uint8Array(4), sas: [sa] }]);
  const [h] = addSas(p.a, false, [{ source: A4, destination: B4, sas: [sa] }]);
  const frames = send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: espProtection(h, sa, 1n),
      l4: tcpL4(payloadBytes(20, 1)),
    },
  ]);
  assertSuccess(rx(receive(p, frames)[0]));
});

test('D14: IKE (non-ESP marker) and NAT-keepalive on port 4500, and UDP to another port, pass up untouched', () => {
  const p = pair();
  gcmFrame(p);
  const udpFrame = (payload: Uint8Array, port = 4500): Uint8Array => {
    const f = new Uint8Array(14 + 20 + 8 + payload.length);
    f.set(MAC_B, 0);
    f.set(MAC_A, 6);
    f.set([0x08, 0x00, 0x45, 0], 12);
    const total = 20 + 8 + payload.length;
    f.set([total >> 8, total & 0xff, 0, 0, 0, 0, 64, 17, 0, 0], 16);
    f.set(A4, 26);
    f.set(B4, 30);
    f.set(
      [
        0x11,
        0x94,
        port >> 8,
        port & 0xff,
        (8 + payload.length) >> 8,
        (8 + payload.length) & 0xff,
        0,
        0,
      ],
      34
    );
    f.set(payload, 42);
    return f;
  };
  const ike = udpFrame(Uint8Array.of(0, 0, 0, 0, ...payloadBytes(40, 1)));
  const keepalive = udpFrame(Uint8Array.of(0xff));
  // An ESP-looking payload (a known SPI) on another port is not UDP-ESP.
  const other = udpFrame(Uint8Array.of(0, 0, 0xb0, 0x01, ...payloadBytes(40, 2)), 4501);
  const frames = [ike, keepalive, other];
  const wires = copy(frames);
  const nbls = receive(p, frames);
  nbls.forEach((nbl, i) => {
    assert.equal(rx(nbl).raw, 0);
    assert.deepEqual(frames[i], wires[i]);
  });
  assert.equal(p.b.counters.get('receive.udp-esp:ike'), 1);
  assert.equal(p.b.counters.get('receive.udp-esp:keepalive'), 1);
  assert.equal(p.b.counters.get('receive.plain'), 1);
});

test('§4.2 rule 3: packets beyond the capabilities are untouched (IPv4 options, AH+ESP without AhEspCombined)', () => {
  const base = defaultCapabilities();
  const p = pair({
    receiverCapabilities: {
      ...base,
      IPsecV2: { ...base.IPsecV2, IPv4Options: false, AhEspCombined: false },
    },
  });
  const sa = GCM(0xc101);
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
  // AH+ESP on the wire; the receiver has offloaded only the ESP SA.
  const esp2 = CBC_SHA1(0xc102);
  const ah2 = AH(0xc103, 'hmac-sha1-96');
  addSas(p.b, true, [{ source: A4, destination: B4, sas: [esp2] }]);
  const [h2] = addSas(p.a, false, [{ source: A4, destination: B4, sas: [esp2, ah2] }]);
  const frames = send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4, options: Uint8Array.of(1, 1, 1, 1) },
      transport: espProtection(h, sa, 1n),
      l4: tcpL4(payloadBytes(30, 1)),
    },
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: {
        ...espProtection(h2, esp2, 1n),
        ah: { spi: ah2.spi, sequenceNumber: 1n, icvLength: 12 },
      },
      l4: tcpL4(payloadBytes(30, 2)),
    },
  ]);
  const wires = copy(frames);
  const nbls = receive(p, frames);
  nbls.forEach((nbl, i) => {
    const r = rx(nbl);
    assert.deepEqual([r.CryptoDone, r.NextCryptoDone, r.CryptoStatus], [0, 0, CRYPTO_SUCCESS]);
    assert.deepEqual(frames[i], wires[i]);
  });
  assert.equal(p.b.counters.get('receive.capability:IPv4Options'), 1);
  assert.equal(p.b.counters.get('receive.capability:AhEspCombined'), 1);
});

test('§4.2 rule 7 SaDeleteReq: the policy hook, and a nearly exhausted non-ESN sequence space; the SA stays', () => {
  const asked: bigint[] = [];
  const p = pair({
    saDeleteRequest: (bundle) => {
      asked.push(bundle.handle);
      return bundle.elements[0].spi === 0xc202;
    },
  });
  const a = GCM(0xc201);
  const b = GCM(0xc202);
  const [ha, hb] = twin(p, [
    { source: A4, destination: B4, sas: [a] },
    { source: A4, destination: C4, sas: [b] },
  ]);
  const frames = send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: espProtection(ha, a, 5n),
      l4: tcpL4(payloadBytes(8, 1)),
    },
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: C4 },
      transport: espProtection(hb, b, 5n),
      l4: tcpL4(payloadBytes(8, 2)),
    },
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: B4 },
      transport: espProtection(ha, a, 0xffff_ff00n),
      l4: tcpL4(payloadBytes(8, 3)),
    },
  ]);
  const nbls = receive(p, frames);
  assert.deepEqual(
    nbls.map((n) => [rx(n).SaDeleteReq, rx(n).CryptoStatus]),
    [
      [0, CRYPTO_SUCCESS],
      [1, CRYPTO_SUCCESS],
      [1, CRYPTO_SUCCESS],
    ]
  );
  assert.equal(asked.length, 3);
  assert.equal(p.b.counters.get('receive.sa-delete-req'), 2);
  assert.equal(p.b.saTable.size, 2, 'the NIC keeps the SA until the transport deletes it');
});

test('§4.2 rule 6: every frame of a mixed batch is indicated exactly once, in order, in one chain', () => {
  const p = pair();
  const good = gcmFrame(p, 0xc301);
  const bad = gcmFrame(p, 0xc302);
  bad[60] ^= 1;
  const frames = [good, new Uint8Array(0), Uint8Array.of(1, 2, 3), bad, good.slice(0, 40)];
  const nbls = receive(p, frames);
  assert.equal(chainLength(nbls[0]), frames.length);
  assert.equal(p.b.counters.get('receive.indicated'), frames.length);
  assert.equal(p.b.receive([]), null, 'an empty batch indicates nothing');
  assert.equal(p.indications.length, 1);
});

test('§4.2: a paused adapter indicates nothing (frames dropped and counted)', () => {
  const p = pair();
  const frame = gcmFrame(p);
  p.b.pause();
  assert.equal(p.b.receive([frame]), null);
  assert.equal(p.indications.length, 0);
  assert.equal(p.b.counters.get('receive.drop:paused'), 1);
});

test('receiveFrame: the per-frame variant builds the NBL without indicating it', () => {
  const p = pair();
  const frame = gcmFrame(p);
  const nbl = receiveFrame(p.b, frame);
  assertSuccess(rx(nbl));
  assert.equal(p.indications.length, 0);
});

test('§4.2 rule 6, contract §4: random bytes and mutated valid frames never throw, one NBL each, valid OOB', () => {
  const p = pair();
  const gcm = gcmFrame(p, 0xd001);
  const ahSa = AH(0xd002, 'aes-gmac-128');
  const [h] = twin(p, [{ source: A6, destination: B6, sas: [ahSa] }]);
  const ah6 = send(p, [
    {
      ethernet: ETH,
      ip: { version: 6, source: A6, destination: B6 },
      transport: ahProtection(h, ahSa, 1n),
      l4: tcpL4(payloadBytes(50, 1)),
    },
  ])[0];
  const tot = transportOverTunnel(p, 1n, payloadBytes(60, 2))[0];
  const seeds = [gcm, ah6, tot];
  const check = (frames: Uint8Array[]): void => {
    const first = p.b.receive(frames);
    assert.equal(chainLength(first), frames.length);
    for (let n = first; n !== null; n = n.next) {
      const r = rx(n);
      assert.ok(r.CryptoStatus <= CRYPTO_INVALID_PROTOCOL);
      if (r.NextCryptoDone === 1) assert.equal(r.CryptoDone, 1);
    }
  };
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), (frames) => {
      check(frames);
    }),
    { numRuns: 300 }
  );
  fc.assert(
    fc.property(
      fc.nat({ max: seeds.length - 1 }),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      fc.option(fc.nat(), { nil: undefined }),
      (which, flips, cut) => {
        const f = seeds[which].slice();
        for (const [at, x] of flips) f[at % f.length] ^= x;
        check([cut === undefined ? f : f.subarray(0, cut % (f.length + 1))]);
      }
    ),
    { numRuns: 500 }
  );
  assert.equal(p.b.counters.get('receive.internal'), 0);
});

// ---------------------------------------------------------------------------------------------
// Issue 6: the receive pool (MiniportReturnNetBufferLists) and the batched ESP open.
// ---------------------------------------------------------------------------------------------

test('returnNetBufferLists: returned NBLs are reused with zeroed OOB; a foreign or twice-returned NBL is refused', () => {
  const p = pair();
  const frame = gcmFrame(p, 0xe101);
  const plain = Uint8Array.of(0, 1, 2, 3); // not IP: no OOB
  const first = receive(p, [frame.slice(), frame.slice()]);
  assert.equal(p.b.rx.pool.allocated, 2);
  assert.notEqual(rx(first[0]).raw, 0);
  p.b.returnNetBufferLists(first[0]);
  assert.equal(p.b.rx.pool.available, 2);
  assert.equal(first[0].netBuffers[0].dataLength, 0, 'the pool forgets the frame');
  // The next batch gets the same NBLs back, OOB zeroed where this frame sets none.
  const again = receive(p, [plain]);
  assert.ok(again[0] === first[0] || again[0] === first[1]);
  assert.equal(rx(again[0]).raw, 0);
  assert.equal(again[0].next, null);
  assert.equal(p.b.rx.pool.allocated, 2);
  // Returned twice: refused, and nothing of the chain goes back.
  assert.throws(() => {
    p.b.returnNetBufferLists(first[0] === again[0] ? first[1] : first[0]);
  }, /expected NBL 0 of the chain to be an indicated receive NBL of this miniport, got one already returned/);
  const foreign = new NetBufferList();
  again[0].next = foreign;
  assert.throws(() => {
    p.b.returnNetBufferLists(again[0]);
  }, /NBL 1 .* got one this miniport did not indicate/);
  assert.equal(p.b.rx.pool.available, 1, 'a refused chain returns none of its NBLs');
  again[0].next = null;
  p.b.returnNetBufferLists(again[0]);
  assert.equal(p.b.rx.pool.available, 2);
  p.b.returnNetBufferLists(null);
  // receiveFrame's NBL is the caller's; it may go back too.
  const single = receiveFrame(p.b, frame.slice());
  assertSuccess(rx(single));
  p.b.returnNetBufferLists(single);
  assert.equal(p.b.rx.pool.available, 2);
});

/** Lays `frames` out in one ArrayBuffer, `gap` bytes apart: views, like a NIC's receive ring. */
function inOneBuffer(frames: readonly Uint8Array[], gap = 64): Uint8Array[] {
  const size = frames.reduce((n, f) => n + f.length + gap, 0);
  const ring = new Uint8Array(size);
  let at = gap;
  return frames.map((f) => {
    ring.set(f, at);
    const view = ring.subarray(at, at + f.length);
    at += f.length + gap;
    return view;
  });
}

test('batched open: frames of one SA in one receive buffer open with one openBatch call, as if received one by one', () => {
  const p = pair();
  const sa = GCM(0xe201);
  const [h] = twin(p, [{ source: A4, destination: B4, sas: [sa] }]);
  const specs = [1n, 2n, 3n, 4n, 5n].map((s): FrameSpec => ({
    ethernet: ETH,
    ip: { version: 4, source: A4, destination: B4 },
    transport: espProtection(h, sa, s),
    l4: tcpL4(payloadBytes(100 + Number(s), Number(s))),
  }));
  const sent = send(p, specs);
  sent[3][70] ^= 1; // one fails its ICV
  const frames = inOneBuffer(sent);
  const element = [...p.b.saTable.bundles()][0].elements[0];
  const esp = element.esp as { openBatch?: (...args: unknown[]) => void };
  const calls: number[] = [];
  const original = esp.openBatch;
  if (original !== undefined) {
    esp.openBatch = (...args: unknown[]): void => {
      calls.push(args[4] as number);
      original.apply(esp, args);
    };
  }
  const nbls = receive(p, frames);
  assert.deepEqual(
    nbls.map((n) => rx(n).CryptoStatus),
    [0, 0, 0, CRYPTO_TRANSPORT_ESP_AUTH_FAILED, 0]
  );
  // Native engine: one call for the five; node:crypto: no openBatch at all.
  assert.deepEqual(calls, original === undefined ? [] : [5]);
  frames.forEach((f, i) => {
    if (i !== 3) assert.ok(indexOf(f, payloadBytes(101 + i, i + 1)) > 0, `frame ${i} in place`);
  });
  assert.deepEqual(frames[3], sent[3], 'the failed packet is left as received');
  assert.equal(element.counters.packets, 4);
});

test('batched open: a frame that shares bytes with an earlier one is read after it (the second open fails, as one by one)', () => {
  const p = pair();
  const frame = gcmFrame(p, 0xe301);
  const [a, b] = receive(p, [frame, frame]);
  assertSuccess(rx(a));
  assert.deepEqual([rx(b).CryptoDone, rx(b).CryptoStatus], [1, CRYPTO_TRANSPORT_ESP_AUTH_FAILED]);
  const [again] = inOneBuffer([gcmFrame(p, 0xe302)]);
  const overlapping = new Uint8Array(again.buffer, again.byteOffset, again.length);
  const [c, d] = receive(p, [again, overlapping]);
  assertSuccess(rx(c));
  assert.equal(rx(d).CryptoStatus, CRYPTO_TRANSPORT_ESP_AUTH_FAILED);
});

/** Sends one ESN frame with 64-bit sequence number `seq`, moving the sender's high half first. */
function sendEsn(p: Pair, h: bigint, sa: SaDescription, seq: bigint, i: number): Uint8Array {
  const upd = p.a.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA,
    buffer: encodeUpdateSa(
      {
        offloadHandle: h,
        operation: Operation.IPsecOffloadV2Esp,
        spi: sa.spi,
        sequenceNumberHighOrder: Number(seq >> 32n),
      },
      'x64'
    ),
  });
  assert.equal(upd.status, NdisStatus.NDIS_STATUS_SUCCESS);
  return send(p, [
    {
      ethernet: ETH,
      ip: { version: 4, source: A4, destination: C4, identification: i },
      transport: espProtection(h, sa, seq),
      l4: tcpL4(payloadBytes(48, i)),
    },
  ])[0];
}

test('batched open, property: any batch (mixed SAs, ESN across the estimate window, AH, transport over tunnel, corrupt and repeated frames, one shared buffer or not) gives what receiving its frames one by one gives', () => {
  const p = pair();
  const gcm = GCM(0xe401);
  const esn = GCM(0xe402, { esn: true, seqHigh: 0 });
  const cbc = CBC_SHA1(0xe403);
  const ahSa = AH(0xe404, 'hmac-sha256-128');
  const bundles: BundleSpec[] = [
    { source: A4, destination: B4, sas: [gcm] },
    { source: A4, destination: C4, sas: [esn] },
    { source: A6, destination: B6, sas: [cbc] },
    { source: A4, destination: GB4, sas: [ahSa] },
  ];
  const [hg, he, hc, ha] = twin(p, bundles);
  const pool: Uint8Array[] = [];
  for (const s of [1n, 2n, 3n]) {
    pool.push(
      ...send(p, [
        {
          ethernet: ETH,
          ip: { version: 4, source: A4, destination: B4 },
          transport: espProtection(hg, gcm, s),
          l4: tcpL4(payloadBytes(60, Number(s))),
        },
        {
          ethernet: ETH,
          ip: { version: 6, source: A6, destination: B6 },
          transport: espProtection(hc, cbc, s),
          l4: udpL4(payloadBytes(70, Number(s))),
        },
        {
          ethernet: ETH,
          ip: { version: 4, source: A4, destination: GB4 },
          transport: ahProtection(ha, ahSa, s),
          l4: tcpL4(payloadBytes(30, Number(s))),
        },
      ])
    );
  }
  // ESN numbers on both sides of 2^31 and 2^32 steps: the estimate moves inside a batch.
  const esnSeqs = [
    0x7fff_fff0n,
    0x8000_0010n,
    0xffff_fff0n,
    0x1_0000_0005n,
    0x1_8000_0002n,
    0x3n,
    0x2_0000_0001n,
    0x2_7fff_ffffn,
  ];
  esnSeqs.forEach((s, i) => pool.push(sendEsn(p, he, esn, s, i)));
  // Transport over tunnel (GCM 0x7001 outer, CBC 0x7002 inner).
  const tunnelBundles: BundleSpec[] = [
    { source: GA4, destination: GB4, sas: [GCM(0x7001)] },
    { source: A4, destination: B4, sas: [CBC_SHA1(0x7002)] },
  ];
  pool.push(transportOverTunnel(p, 1n, payloadBytes(90, 1))[0]);
  const [ht, hx] = [...p.a.saTable.bundles()].slice(-2).map((b) => b.handle);
  pool.push(
    ...send(p, [
      {
        ethernet: ETH,
        ip: { version: 4, source: GA4, destination: GB4 },
        tunnel: {
          protection: espProtection(ht, GCM(0x7001), 2n),
          inner: { version: 4, source: A4, destination: B4 },
        },
        transport: espProtection(hx, CBC_SHA1(0x7002), 2n),
        l4: tcpL4(payloadBytes(90, 2)),
      },
    ])
  );

  const receiver = (): Miniport => {
    const q = pair();
    addSas(q.b, true, [...bundles, ...tunnelBundles]);
    return q.b;
  };
  const item = fc.record({
    pick: fc.nat({ max: pool.length - 1 }),
    repeat: fc.boolean(),
    flip: fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { nil: undefined }),
  });
  fc.assert(
    fc.property(fc.array(item, { minLength: 1, maxLength: 16 }), fc.boolean(), (items, shared) => {
      // The same recipe twice: each frame a fresh copy, a repeat the previous frame itself.
      const build = (): Uint8Array[] => {
        const copies: Uint8Array[] = [];
        for (const it of items) {
          if (it.repeat && copies.length > 0) continue;
          const f = pool[it.pick].slice();
          if (it.flip !== undefined) f[it.flip[0] % f.length] ^= it.flip[1];
          copies.push(f);
        }
        const placed = shared ? inOneBuffer(copies) : copies;
        const frames: Uint8Array[] = [];
        let c = -1;
        for (const it of items) {
          if (!(it.repeat && c >= 0)) c++;
          frames.push(placed[c]);
        }
        return frames;
      };
      const batched = build();
      const single = build();
      const mb = receiver();
      const ms = receiver();
      const oob = (n: NetBufferList): number[] => [
        n.info.getU32(NetBufferListInfo.IPsecOffloadV2NetBufferListInfo),
        n.info.getU32(NetBufferListInfo.IPsecOffloadV2HeaderNetBufferListInfo),
      ];
      const got: number[][] = [];
      for (let nbl = mb.receive(batched); nbl !== null; nbl = nbl.next) got.push(oob(nbl));
      const want = single.map((f) => oob(ms.receive([f])!));
      assert.deepEqual(got, want);
      assert.deepEqual(batched, single, 'the same bytes left in every frame');
      assert.deepEqual(mb.counters.snapshot(), ms.counters.snapshot());
      const elements = (m: Miniport): unknown[] =>
        [...m.saTable.bundles()].flatMap((b) =>
          b.elements.map((e) => ({ state: inboundState(e), counters: e.counters }))
        );
      assert.deepEqual(elements(mb), elements(ms));
    }),
    { numRuns: 150 }
  );
});

test('batched open: a long batch over many SAs (past RX_BATCH_FRAMES frames and RX_BATCH_GROUPS SAs) is one indication, every frame verified', () => {
  const p = pair();
  const sas = Array.from({ length: RX_BATCH_GROUPS + 2 }, (_, i) => GCM(0xe501 + i));
  const handles = twin(
    p,
    sas.map((sa) => ({ source: A4, destination: B4, sas: [sa] }))
  );
  const count = RX_BATCH_FRAMES + 44;
  const specs = Array.from({ length: count }, (_, i): FrameSpec => ({
    ethernet: ETH,
    ip: { version: 4, source: A4, destination: B4, identification: i },
    transport: espProtection(handles[i % sas.length], sas[i % sas.length], BigInt(i + 1)),
    l4: tcpL4(payloadBytes(20, i)),
  }));
  const frames = inOneBuffer(send(p, specs));
  const nbls = receive(p, frames);
  assert.equal(nbls.length, count);
  for (const nbl of nbls) assertSuccess(rx(nbl));
  assert.equal(p.b.counters.get('receive.crypto:success'), count);
  const packets = [...p.b.saTable.bundles()].map((b) => b.elements[0].counters.packets);
  assert.equal(
    packets.reduce((a, b) => a + b, 0),
    count
  );
});

test('a receive call nested in another (from the rule 7 hook) gets working state of its own', () => {
  const nested: NetBufferList[] = [];
  const spare: Uint8Array[] = [];
  const p = pair({
    saDeleteRequest: () => {
      const f = spare.pop(); // once: the nested call's own hook finds none
      if (f !== undefined) nested.push(receiveFrame(p.b, f));
      return false;
    },
  });
  const frame = gcmFrame(p, 0xe601);
  spare.push(frame.slice());
  const outer = receive(p, [frame, frame.slice()]);
  assertSuccess(rx(outer[0]));
  assert.equal(rx(outer[1]).CryptoStatus, CRYPTO_SUCCESS);
  assert.equal(nested.length, 1);
  assertSuccess(rx(nested[0]));
  p.b.returnNetBufferLists(nested[0]);
  p.b.returnNetBufferLists(outer[0]);
  assert.equal(p.b.rx.pool.available, 3);
});
