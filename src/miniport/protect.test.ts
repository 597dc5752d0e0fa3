/**
 * @module
 * Tests of the per-packet IPsec work (protect.ts, send-locate.ts) through
 * MiniportSendNetBufferLists: every algorithm family the capability record names, AH alignment
 * over IPv4 and IPv6, AH+ESP, tunnel, transport over tunnel, UDP-ESP in its four encapsulation
 * types, ESN, and every malformed request of contract D4/D9/D12. Each emitted frame is decoded
 * and verified with separate transforms of the same keys (send-testkit.ts); GCM, CBC and the
 * HMACs are cross-checked with @noble/ciphers and @noble/hashes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cbc, gcm } from '@noble/ciphers/aes.js';
import { hmac } from '@noble/hashes/hmac.js';
import { md5, sha1 } from '@noble/hashes/legacy.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { seededRandom } from '../crypto/random.ts';
import { defaultCapabilities } from '../ndis/caps.ts';
import { Encapsulation, UdpEsp } from '../ndis/oid.ts';
import { NdisStatus } from '../ndis/status.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import { statusKey } from './datapath.ts';
import {
  ADDR,
  addBundle,
  ahLayer,
  buildIp,
  capsWith,
  decodeFrame,
  espLayer,
  ethernetFrame,
  failures,
  framePacket,
  harness,
  headerOob,
  nblOf,
  tcpPayload,
  type Harness,
  type IpSpec,
  type TestSa,
} from '../../tests/miniport-testkit.ts';

const { NDIS_STATUS_SUCCESS, NDIS_STATUS_INVALID_PACKET, NDIS_STATUS_FAILURE } = NdisStatus;
const L2 = 14;

function be32(b: Uint8Array, at: number): number {
  return new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Sends one NBL and asserts it succeeded with exactly `frames` frames; returns them. */
function sendOk(h: Harness, nbl: ReturnType<typeof nblOf>, frames = 1): Uint8Array[] {
  h.mp.sendNetBufferLists(nbl);
  assert.deepEqual(failures(h.mp), [], 'no failure counted');
  assert.equal(h.completed.length, 1);
  assert.equal(h.completed[0].status, NDIS_STATUS_SUCCESS);
  assert.equal(h.wire.length, frames);
  return h.wire;
}

/** Sends one NBL and asserts it failed with `status` and `reason`, with nothing on the wire. */
function sendRefused(
  h: Harness,
  nbl: ReturnType<typeof nblOf>,
  reason: string,
  status: number = NDIS_STATUS_INVALID_PACKET
): void {
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.wire.length, 0, 'nothing on the wire');
  assert.equal(h.completed.length, 1);
  assert.equal(h.completed[0].status, status);
  assert.deepEqual(failures(h.mp), [`send.fail:${statusKey(status)}:${reason}=1`]);
}

function espSa(
  h: Harness,
  spi: number,
  encryption: Parameters<typeof addBundle>[1]['elements'][0]['encryption'],
  integrity: Parameters<typeof addBundle>[1]['elements'][0]['integrity'] = null,
  more: { esn?: boolean; seqHigh?: number; ipv6?: boolean; udp?: number } = {}
): TestSa {
  return addBundle(h.mp, {
    elements: [
      {
        operation: 'esp',
        spi,
        ...(encryption === undefined ? {} : { encryption }),
        integrity,
        esn: more.esn ?? false,
        seqHigh: more.seqHigh ?? 0,
      },
    ],
    ipv6: more.ipv6 ?? false,
    udpEspEncapsulation: more.udp ?? 0,
  });
}

function transportSpec(version: 4 | 6, layers: IpSpec['layers'], length = 100): IpSpec {
  return { version, layers: layers ?? [], payload: tcpPayload(version, length) };
}

// ---------------------------------------------------------------------------------------------
// D1: the algorithms.

test('D1: ESP AES-GCM-128 over IPv4 — IV = sequence number (D6), encrypted in place, ICV verifies (noble)', () => {
  const h = harness();
  const sa = espSa(h, 0x1001, 'aes-gcm-128');
  const spec = transportSpec(4, [espLayer(sa, 7)], 123);
  const { nbl, frame } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  assert.equal(out.length, frame.length, 'the NIC changes no length');
  const espAt = L2 + 20;
  assert.deepEqual(out.subarray(0, espAt + 8), frame.subarray(0, espAt + 8), 'headers kept');
  assert.deepEqual([...out.subarray(espAt + 8, espAt + 16)], [0, 0, 0, 0, 0, 0, 0, 7]);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.equal(d.esp.nextHeader, IpProtocol.Tcp);
  assert.ok(d.esp.padValid);
  assert.deepEqual(d.esp.plaintext, spec.payload.bytes);
  assert.ok(d.headerChecksumOk);
  // Independent: @noble/ciphers GCM with nonce = salt ‖ IV and AAD = SPI ‖ seq (RFC 4106 §4, §5).
  const key = sa.verifiers[0].encryptionKey;
  const plain = gcm(
    key.subarray(0, 16),
    concat(key.subarray(16), out.subarray(espAt + 8, espAt + 16)),
    out.subarray(espAt, espAt + 8)
  ).decrypt(out.subarray(espAt + 16));
  assert.deepEqual(plain.subarray(0, spec.payload.bytes.length), spec.payload.bytes);
  assert.equal(plain[plain.length - 1], IpProtocol.Tcp);
});

test('D1: ESP AES-CBC-128 + HMAC-SHA1-96 — IV from the adapter Random (D6), noble decrypts and MACs', () => {
  const h = harness(undefined, 42);
  const sa = espSa(h, 0x1002, 'aes-cbc-128', 'hmac-sha1-96');
  const spec = transportSpec(4, [espLayer(sa, 1)], 200);
  const { nbl } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  const expectedIv = new Uint8Array(16);
  seededRandom(42).fill(expectedIv);
  const espAt = L2 + 20;
  const iv = out.subarray(espAt + 8, espAt + 24);
  assert.deepEqual(iv, expectedIv, 'the first 16 bytes of the adapter Random');
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.ok(d.esp.padValid);
  assert.deepEqual(d.esp.plaintext, spec.payload.bytes);
  assert.ok(d.tcp?.checksumOk);
  const v = sa.verifiers[0];
  const icvAt = out.length - 12;
  assert.deepEqual(
    hmac(sha1, v.integrityKey, out.subarray(espAt, icvAt)).subarray(0, 12),
    out.subarray(icvAt)
  );
  const plain = cbc(v.encryptionKey, iv, { disablePadding: true }).decrypt(
    out.subarray(espAt + 24, icvAt)
  );
  assert.deepEqual(plain.subarray(0, spec.payload.bytes.length), spec.payload.bytes);
});

test('D1: ESP 3DES-CBC + HMAC-MD5-96 — 8-byte IV and blocks, ICV verifies (noble MD5)', () => {
  const h = harness();
  const sa = espSa(h, 0x1003, '3des-cbc', 'hmac-md5-96');
  const spec = transportSpec(4, [espLayer(sa, 99)], 77);
  const { nbl } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.equal(d.esp.iv.length, 8);
  assert.ok(d.esp.padValid);
  assert.deepEqual(d.esp.plaintext, spec.payload.bytes);
  const espAt = L2 + 20;
  const icvAt = out.length - 12;
  assert.equal((icvAt - (espAt + 16)) % 8, 0, 'whole 3DES blocks');
  assert.deepEqual(
    hmac(md5, sa.verifiers[0].integrityKey, out.subarray(espAt, icvAt)).subarray(0, 12),
    out.subarray(icvAt)
  );
});

test('D1: ESP NULL + HMAC-SHA1-96 — payload stays in clear, ICV verifies (noble)', () => {
  const h = harness();
  const sa = espSa(h, 0x1004, 'null', 'hmac-sha1-96');
  const spec = transportSpec(4, [espLayer(sa, 3)], 64);
  const { nbl, frame } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  const icvAt = out.length - 12;
  assert.deepEqual(out.subarray(0, icvAt), frame.subarray(0, icvAt), 'nothing but the ICV changes');
  assert.deepEqual(
    hmac(sha1, sa.verifiers[0].integrityKey, out.subarray(L2 + 20, icvAt)).subarray(0, 12),
    out.subarray(icvAt)
  );
  assert.equal(decodeFrame(out, sa.verifiers).esp?.result, 'ok');
});

test('D1: ESP AES-GMAC (NULL + AES-GMAC-128) — IV = sequence number, payload in clear, ICV verifies', () => {
  const h = harness();
  const sa = espSa(h, 0x1005, 'null', 'aes-gmac-128');
  const spec = transportSpec(4, [espLayer(sa, 0x01020304)], 50);
  const { nbl } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  const espAt = L2 + 20;
  assert.deepEqual([...out.subarray(espAt + 8, espAt + 16)], [0, 0, 0, 0, 1, 2, 3, 4]);
  assert.deepEqual(out.subarray(espAt + 16, espAt + 16 + 50 + 20), spec.payload.bytes);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.ok(d.tcp?.checksumOk);
});

test('D1: ESP AES-GCM-256 with an 8-byte ICV over IPv6', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'esp', spi: 0x1006, encryption: 'aes-gcm-256', icvLength: 8 }],
    ipv6: true,
  });
  const spec = transportSpec(6, [espLayer(sa, 5)], 333);
  const { nbl } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.deepEqual(d.esp.plaintext, spec.payload.bytes);
  assert.equal(d.totalLength, out.length - L2);
});

/** RFC 4302 §3.3.3.1 by hand for IPv4 without options: the ICV input, built independently. */
function ahInputV4(ip: Uint8Array, icvAt: number, icvLength: number): Uint8Array {
  const c = ip.slice();
  c[1] = 0; // TOS
  c[6] = 0; // flags, fragment offset
  c[7] = 0;
  c[8] = 0; // TTL
  c[10] = 0; // header checksum
  c[11] = 0;
  c.fill(0, icvAt, icvAt + icvLength);
  return c;
}

test('D1: AH HMAC-SHA-256-128 over IPv4 — 12 + 16 bytes, ICV over the packet with mutable fields zeroed (noble)', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'ah', spi: 0x2001, integrity: 'hmac-sha256-128' }],
  });
  const spec = transportSpec(4, [ahLayer(sa, 11)], 90);
  const { nbl, frame } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  const ahAt = 20;
  const ip = out.subarray(L2);
  assert.equal(ip[ahAt + 1], 28 / 4 - 2, 'Payload Len: 28 bytes (RFC 4302 §2.2)');
  assert.deepEqual(
    out.subarray(L2 + ahAt + 28),
    frame.subarray(L2 + ahAt + 28),
    'payload in clear'
  );
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.ah?.result, 'ok');
  assert.ok(d.headerChecksumOk);
  assert.ok(d.tcp?.checksumOk);
  const icvAt = ahAt + 12;
  const expected = hmac(sha256, sa.verifiers[0].integrityKey, ahInputV4(ip, icvAt, 16)).subarray(
    0,
    16
  );
  assert.deepEqual(ip.subarray(icvAt, icvAt + 16), expected);
});

test('D1: AH HMAC-SHA-256-128 over IPv6 is 12 + 16 + 4 bytes (RFC 4302 §2.6: 8-byte aligned), padding covered', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'ah', spi: 0x2002, integrity: 'hmac-sha256-128' }],
    ipv6: true,
  });
  const spec = transportSpec(6, [ahLayer(sa, 12)], 91);
  const { nbl } = framePacket(spec, sa);
  const [out] = sendOk(h, nbl);
  const ip = out.subarray(L2);
  assert.equal(ip[40 + 1], 32 / 4 - 2, 'Payload Len: 32 bytes');
  assert.deepEqual([...ip.subarray(40 + 28, 40 + 32)], [0, 0, 0, 0], 'ICV padding as framed');
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.ah?.result, 'ok');
  // Independent: RFC 4302 §3.3.3.1.2.1 zeroes traffic class, flow label and hop limit.
  const c = ip.slice();
  c[0] = 0x60;
  c[1] = 0;
  c[2] = 0;
  c[3] = 0;
  c[7] = 0;
  c.fill(0, 52, 68);
  assert.deepEqual(
    ip.subarray(52, 68),
    hmac(sha256, sa.verifiers[0].integrityKey, c).subarray(0, 16)
  );
});

test('D6: AH AES-GMAC — the NIC writes IV = 64-bit sequence number, kept in the ICV input (RFC 4543 §7)', () => {
  for (const esn of [false, true]) {
    const h = harness();
    const sa = addBundle(h.mp, {
      elements: [
        { operation: 'ah', spi: 0x2003, integrity: 'aes-gmac-128', esn, seqHigh: esn ? 3 : 0 },
      ],
    });
    const spec = transportSpec(4, [ahLayer(sa, 0x0a0b0c0d)], 40);
    const { nbl } = framePacket(spec, sa);
    const [out] = sendOk(h, nbl);
    const ivAt = L2 + 20 + 12;
    const high = esn ? 3 : 0;
    assert.deepEqual([...out.subarray(ivAt, ivAt + 8)], [0, 0, 0, high, 0x0a, 0x0b, 0x0c, 0x0d]);
    const d = decodeFrame(out, sa.verifiers);
    assert.equal(d.ah?.result, 'ok', `esn ${esn}`);
    // With the IV zeroed in the ICV input (the RFC 4302 way) the ICV would not verify.
    const tampered = out.slice();
    tampered[ivAt + 7] ^= 1;
    assert.equal(decodeFrame(tampered, sa.verifiers).ah?.result, 'icv-mismatch');
  }
});

test('D1: AH+ESP bundle — ESP sealed first, then AH over the sealed packet', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [
      { operation: 'esp', spi: 0x3001, encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' },
      { operation: 'ah', spi: 0x3002, integrity: 'hmac-sha1-96' },
    ],
  });
  const spec = transportSpec(4, [ahLayer(sa, 21), espLayer(sa, 22)], 150);
  const { nbl, built } = framePacket(spec, sa);
  assert.equal(built.ah, 20);
  assert.equal(built.esp, 20 + 24);
  const [out] = sendOk(h, nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.ah?.result, 'ok', 'AH verifies over the ciphertext');
  assert.equal(d.esp?.result, 'ok');
  assert.deepEqual(d.esp.plaintext, spec.payload.bytes);
  assert.equal(sa.bundle.elements[0].counters.packets, 1);
  assert.equal(sa.bundle.elements[1].counters.packets, 1);
  assert.equal(sa.bundle.elements[1].counters.bytes, out.length - L2);
});

// ---------------------------------------------------------------------------------------------
// Tunnel, transport over tunnel (D1, D4, D12).

test('D12: ESP tunnel mode — Next Header 4 (IPv4 in IPv4), the inner packet is protected whole', () => {
  const h = harness();
  const sa = espSa(h, 0x4001, 'aes-gcm-128');
  const inner = buildIp({ version: 4, payload: tcpPayload(4, 80) });
  const spec: IpSpec = {
    version: 4,
    src: ADDR.v4tunSrc,
    dst: ADDR.v4tunDst,
    layers: [espLayer(sa, 1)],
    payload: { protocol: IpProtocol.Ipip, bytes: inner.bytes },
  };
  const { nbl, built } = framePacket(spec, sa);
  assert.equal(built.nextHeader, 4);
  const [out] = sendOk(h, nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.equal(d.esp.nextHeader, 4);
  assert.deepEqual(d.esp.plaintext, inner.bytes);
  assert.ok(d.inner?.tcp?.checksumOk);
});

test('D12: ESP tunnel mode — Next Header 41 (IPv6 in IPv6) with AES-CBC + HMAC-SHA-256', () => {
  const h = harness();
  const sa = espSa(h, 0x4002, 'aes-cbc-256', 'hmac-sha256-128', { ipv6: true });
  const inner = buildIp({ version: 6, payload: tcpPayload(6, 300) });
  const spec: IpSpec = {
    version: 6,
    src: ADDR.v6tunSrc,
    dst: ADDR.v6tunDst,
    layers: [espLayer(sa, 9)],
    payload: { protocol: IpProtocol.Ipv6, bytes: inner.bytes },
  };
  const [out] = sendOk(h, framePacket(spec, sa).nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.deepEqual(d.esp.plaintext, inner.bytes);
});

test('D12: AH tunnel mode — the AH Next Header 4 makes it a tunnel packet; refused without Tunnel', () => {
  const build = (h: Harness): { sa: TestSa; nbl: ReturnType<typeof nblOf> } => {
    const sa = addBundle(h.mp, {
      elements: [{ operation: 'ah', spi: 0x4003, integrity: 'hmac-md5-96' }],
    });
    const inner = buildIp({ version: 4, payload: tcpPayload(4, 60) });
    const spec: IpSpec = {
      version: 4,
      src: ADDR.v4tunSrc,
      dst: ADDR.v4tunDst,
      layers: [ahLayer(sa, 1)],
      payload: { protocol: IpProtocol.Ipip, bytes: inner.bytes },
    };
    return { sa, nbl: framePacket(spec, sa).nbl };
  };
  const ok = harness();
  const { sa, nbl } = build(ok);
  const [out] = sendOk(ok, nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.ah?.result, 'ok');
  assert.ok(d.inner?.tcp?.checksumOk);
  assert.equal(sa.bundle.elements[0].counters.packets, 1);
  const no = harness(capsWith({ Tunnel: false }));
  sendRefused(no, build(no).nbl, 'capability:Tunnel');
});

/** A transport-over-tunnel packet: tunnel ESP/AH right after the outer IP, transport SA inside. */
function transportOverTunnel(
  tunnel: TestSa,
  transport: TestSa,
  opts: {
    version?: 4 | 6;
    tunnelLayers?: IpSpec['layers'];
    transportLayers?: IpSpec['layers'];
    payload?: IpSpec['payload'];
  } = {}
): { nbl: ReturnType<typeof nblOf>; payload: IpSpec['payload']; innerBytes: Uint8Array } {
  const version = opts.version ?? 4;
  const payload = opts.payload ?? tcpPayload(version, 120);
  const inner = buildIp({
    version,
    layers: opts.transportLayers ?? [espLayer(transport, 31)],
    payload,
  });
  const outer = buildIp({
    version,
    src: version === 4 ? ADDR.v4tunSrc : ADDR.v6tunSrc,
    dst: version === 4 ? ADDR.v4tunDst : ADDR.v6tunDst,
    layers: opts.tunnelLayers ?? [espLayer(tunnel, 41)],
    payload: { protocol: version === 4 ? IpProtocol.Ipip : IpProtocol.Ipv6, bytes: inner.bytes },
  });
  const nbl = nblOf([ethernetFrame(outer.bytes, version)], {
    offloadHandle: transport.handle,
    tunnelHandle: tunnel.handle,
    // D4: the transport SA's offsets count from the outermost IP header.
    header: headerOob(inner, outer.payload),
  });
  return { nbl, payload, innerBytes: inner.bytes };
}

test('D4: transport over tunnel — tunnel ESP after the outer IP header, transport ESP at the OOB offsets from the outermost IP header', () => {
  const h = harness();
  const tunnel = espSa(h, 0x5001, 'aes-cbc-128', 'hmac-sha1-96');
  const transport = espSa(h, 0x5002, 'aes-gcm-128');
  const { nbl, payload } = transportOverTunnel(tunnel, transport);
  const [out] = sendOk(h, nbl);
  const verifiers = [...tunnel.verifiers, ...transport.verifiers];
  const d = decodeFrame(out, verifiers);
  assert.equal(d.esp?.result, 'ok', 'tunnel ESP');
  assert.equal(d.esp.spi, 0x5001);
  assert.equal(d.esp.nextHeader, 4);
  assert.ok(d.esp.padValid);
  assert.equal(d.inner?.esp?.result, 'ok', 'transport ESP');
  assert.equal(d.inner.esp.spi, 0x5002);
  assert.deepEqual(d.inner.esp.plaintext, payload.bytes);
  assert.ok(d.inner.tcp?.checksumOk);
  assert.equal(tunnel.bundle.elements[0].counters.bytes, out.length - L2);
  assert.ok(transport.bundle.elements[0].counters.bytes < out.length - L2);
});

test('D4: transport over tunnel over IPv6 with an AH tunnel SA and an AH+ESP transport bundle', () => {
  const h = harness();
  const tunnel = addBundle(h.mp, {
    elements: [{ operation: 'ah', spi: 0x5101, integrity: 'hmac-sha256-128' }],
    ipv6: true,
  });
  const transport = addBundle(h.mp, {
    elements: [
      { operation: 'esp', spi: 0x5102, encryption: 'aes-gcm-128' },
      { operation: 'ah', spi: 0x5103, integrity: 'hmac-sha1-96' },
    ],
    ipv6: true,
  });
  const { nbl, payload } = transportOverTunnel(tunnel, transport, {
    version: 6,
    tunnelLayers: [ahLayer(tunnel, 1)],
    transportLayers: [ahLayer(transport, 2), espLayer(transport, 3)],
  });
  const [out] = sendOk(h, nbl);
  const d = decodeFrame(out, [...tunnel.verifiers, ...transport.verifiers]);
  assert.equal(d.ah?.result, 'ok', 'tunnel AH');
  assert.equal(d.inner?.ah?.result, 'ok', 'transport AH');
  assert.equal(d.inner.esp?.result, 'ok', 'transport ESP');
  assert.deepEqual(d.inner.esp.plaintext, payload.bytes);
});

test('D12: transport over tunnel needs TransportTunnelCombined', () => {
  const h = harness(capsWith({ TransportTunnelCombined: false }));
  const tunnel = espSa(h, 0x5201, 'aes-gcm-128');
  const transport = espSa(h, 0x5202, 'aes-gcm-128');
  sendRefused(h, transportOverTunnel(tunnel, transport).nbl, 'capability:TransportTunnelCombined');
});

test('D1/D9: the NIC parses the tunnel trailer itself — wrong padding or Next Header is refused', () => {
  const h = harness();
  const tunnel = espSa(h, 0x5301, 'aes-cbc-128', 'hmac-sha1-96');
  const transport = espSa(h, 0x5302, 'aes-gcm-128');
  const { nbl } = transportOverTunnel(tunnel, transport);
  const data = nbl.netBuffers[0].data();
  const nextHeaderAt = data.length - 12 - 1;
  data[nextHeaderAt] = 17;
  sendRefused(h, nbl, 'tunnel-next-header');

  const h2 = harness();
  const tunnel2 = espSa(h2, 0x5301, 'aes-cbc-128', 'hmac-sha1-96');
  const transport2 = espSa(h2, 0x5302, 'aes-gcm-128');
  const { nbl: nbl2 } = transportOverTunnel(tunnel2, transport2, {
    payload: tcpPayload(4, 121),
  });
  const data2 = nbl2.netBuffers[0].data();
  const padLength = data2[data2.length - 12 - 2];
  assert.ok(padLength > 0);
  data2[data2.length - 12 - 2 - padLength] = 9; // the first padding byte must be 1
  sendRefused(h2, nbl2, 'tunnel-trailer');
});

// ---------------------------------------------------------------------------------------------
// D14: UDP-ESP.

test('D14: UDP-ESP transport over IPv4 — Length rewritten, checksum 0 (RFC 3948 §2.1)', () => {
  const h = harness();
  const sa = espSa(h, 0x6001, 'aes-gcm-128', null, {
    udp: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
  });
  const spec = transportSpec(4, [{ kind: 'udp' }, espLayer(sa, 5)], 70);
  const { nbl, built } = framePacket(spec, sa);
  const data = nbl.netBuffers[0].data();
  data[L2 + built.udp + 4] = 0; // a Length the NIC must rewrite
  data[L2 + built.udp + 5] = 0;
  data[L2 + built.udp + 6] = 0x12; // and a checksum it must clear
  const [out] = sendOk(h, nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.udp?.length, out.length - L2 - 20);
  assert.equal(d.udp.checksum, 0);
  assert.equal(d.esp?.result, 'ok');
  assert.deepEqual(d.esp.plaintext, spec.payload.bytes);
  assert.ok(d.tcp?.checksumOk, 'the inner TCP checksum uses the IP addresses (transport mode)');
});

test('D14: UDP-ESP transport over IPv6 — the UDP checksum is computed over the sealed datagram', () => {
  const h = harness();
  const sa = espSa(h, 0x6002, 'aes-cbc-128', 'hmac-sha256-128', {
    ipv6: true,
    udp: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
  });
  const spec = transportSpec(6, [{ kind: 'udp' }, espLayer(sa, 6)], 71);
  const [out] = sendOk(h, framePacket(spec, sa).nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.notEqual(d.udp?.checksum, 0);
  assert.ok(d.udp?.checksumOk);
  assert.equal(d.udp.length, out.length - L2 - 40);
  assert.equal(d.esp?.result, 'ok');
});

test('D14: UDP-encapsulated tunnel (type 2) — UDP then tunnel ESP', () => {
  const h = harness();
  const sa = espSa(h, 0x6003, 'aes-gcm-128', null, {
    udp: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL,
  });
  const inner = buildIp({ version: 4, payload: tcpPayload(4, 90) });
  const spec: IpSpec = {
    version: 4,
    src: ADDR.v4tunSrc,
    dst: ADDR.v4tunDst,
    layers: [{ kind: 'udp' }, espLayer(sa, 8)],
    payload: { protocol: IpProtocol.Ipip, bytes: inner.bytes },
  };
  const [out] = sendOk(h, framePacket(spec, sa).nbl);
  const d = decodeFrame(out, sa.verifiers);
  assert.equal(d.udp?.checksum, 0);
  assert.equal(d.esp?.result, 'ok');
  assert.deepEqual(d.esp.plaintext, inner.bytes);
});

test('D14: transport over a UDP-encapsulated tunnel (type 4) — UDP belongs to the tunnel portion', () => {
  const h = harness();
  const type = UdpEsp.IPSEC_OFFLOAD_V2_TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL;
  const tunnel = espSa(h, 0x6101, 'aes-gcm-128', null, { udp: type });
  const transport = espSa(h, 0x6102, 'aes-cbc-128', 'hmac-sha1-96', { udp: type });
  const { nbl, payload } = transportOverTunnel(tunnel, transport, {
    tunnelLayers: [{ kind: 'udp' }, espLayer(tunnel, 1)],
  });
  const [out] = sendOk(h, nbl);
  const d = decodeFrame(out, [...tunnel.verifiers, ...transport.verifiers]);
  assert.equal(d.udp?.length, out.length - L2 - 20);
  assert.equal(d.esp?.result, 'ok');
  assert.equal(d.inner?.udp, null);
  assert.equal(d.inner.esp?.result, 'ok');
  assert.deepEqual(d.inner.esp.plaintext, payload.bytes);
});

test('D14: UDP-encapsulated transport over a tunnel (type 8) — UDP belongs to the transport portion, inside the tunnel', () => {
  for (const version of [4, 6] as const) {
    const h = harness();
    const type = UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL;
    const ipv6 = version === 6;
    const tunnel = espSa(h, 0x6201, 'aes-gcm-128', null, { udp: type, ipv6 });
    const transport = espSa(h, 0x6202, 'aes-gcm-128', null, { udp: type, ipv6 });
    const { nbl, payload, innerBytes } = transportOverTunnel(tunnel, transport, {
      version,
      transportLayers: [{ kind: 'udp' }, espLayer(transport, 2)],
    });
    const [out] = sendOk(h, nbl);
    const d = decodeFrame(out, [...tunnel.verifiers, ...transport.verifiers]);
    assert.equal(d.udp, null, 'no UDP in the tunnel portion');
    assert.equal(d.esp?.result, 'ok');
    assert.equal(d.esp.plaintext.length, innerBytes.length);
    const udp = d.inner?.udp;
    assert.ok(udp !== null && udp !== undefined);
    assert.equal(udp.checksum === 0, version === 4, 'IPv4: 0; IPv6: computed');
    assert.ok(udp.checksumOk);
    assert.equal(d.inner?.esp?.result, 'ok');
    assert.deepEqual(d.inner.esp.plaintext, payload.bytes);
  }
});

test('D14: a UDP-ESP SA whose packet has no UDP header → NDIS_STATUS_INVALID_PACKET (udp-esp)', () => {
  const h = harness();
  const sa = espSa(h, 0x6301, 'aes-gcm-128', null, {
    udp: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT,
  });
  sendRefused(h, framePacket(transportSpec(4, [espLayer(sa, 1)]), sa).nbl, 'udp-esp');
});

// ---------------------------------------------------------------------------------------------
// D3: ESN and sequence number 0.

test('D3: ESN — SequenceNumberHighOrder enters the ICV/AAD and the GCM IV, never the wire', () => {
  for (const encryption of ['aes-gcm-128', 'aes-cbc-128'] as const) {
    const h = harness();
    const sa = espSa(h, 0x7001, encryption, encryption === 'aes-gcm-128' ? null : 'hmac-sha1-96', {
      esn: true,
      seqHigh: 5,
    });
    const spec = transportSpec(4, [espLayer(sa, 0xfffffff0)], 60);
    const [out] = sendOk(h, framePacket(spec, sa).nbl);
    const espAt = L2 + 20;
    assert.equal(be32(out, espAt + 4), 0xfffffff0, 'only the low half on the wire');
    if (encryption === 'aes-gcm-128') {
      assert.deepEqual([...out.subarray(espAt + 8, espAt + 12)], [0, 0, 0, 5], 'GCM IV high half');
    }
    assert.equal(decodeFrame(out, sa.verifiers).esp?.result, 'ok');
    assert.equal(decodeFrame(out, sa.verifiers, () => 0).esp?.result, 'icv-mismatch');
    assert.equal(sa.bundle.elements[0].seqHigh, 5, 'the NIC leaves seqHigh alone');
  }
});

test('D3: ESN on AH — the high half is appended to the ICV input', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'ah', spi: 0x7002, integrity: 'hmac-sha1-96', esn: true, seqHigh: 9 }],
  });
  const [out] = sendOk(h, framePacket(transportSpec(4, [ahLayer(sa, 4)]), sa).nbl);
  assert.equal(decodeFrame(out, sa.verifiers).ah?.result, 'ok');
  assert.equal(decodeFrame(out, sa.verifiers, () => 8).ah?.result, 'icv-mismatch');
});

test('D3: sequence number 0 is never sent → NDIS_STATUS_INVALID_PACKET (sequence-zero); ESN low 0 with a high half is fine', () => {
  const h = harness();
  const sa = espSa(h, 0x7003, 'aes-gcm-128');
  sendRefused(h, framePacket(transportSpec(4, [espLayer(sa, 0)]), sa).nbl, 'sequence-zero');
  const h2 = harness();
  const ah = addBundle(h2.mp, { elements: [{ operation: 'ah', spi: 0x7004 }] });
  sendRefused(h2, framePacket(transportSpec(4, [ahLayer(ah, 0)]), ah).nbl, 'sequence-zero');
  const h3 = harness();
  const esn = espSa(h3, 0x7005, 'aes-gcm-128', null, { esn: true, seqHigh: 1 });
  const [out] = sendOk(h3, framePacket(transportSpec(4, [espLayer(esn, 0)]), esn).nbl);
  assert.equal(decodeFrame(out, esn.verifiers).esp?.result, 'ok');
});

// ---------------------------------------------------------------------------------------------
// D4 / D9: malformed requests.

test('D4/D9: EspHeaderOffset not on the ESP header → NDIS_STATUS_INVALID_PACKET (esp-offset)', () => {
  const h = harness();
  const sa = espSa(h, 0x8001, 'aes-gcm-128');
  const built = buildIp(transportSpec(4, [espLayer(sa, 1)]));
  const oob = headerOob(built);
  const frame = ethernetFrame(built.bytes, 4);
  sendRefused(
    h,
    nblOf([frame], { offloadHandle: sa.handle, header: { ...oob, EspHeaderOffset: 6 } }),
    'esp-offset'
  );
  const h2 = harness();
  const sa2 = espSa(h2, 0x8001, 'aes-gcm-128');
  sendRefused(
    h2,
    nblOf([frame], { offloadHandle: sa2.handle, header: { ...oob, EspHeaderOffset: 255 } }),
    'esp-offset'
  );
});

test('D4/D9: AhHeaderOffset wrong, or given for a bundle without AH → NDIS_STATUS_INVALID_PACKET (ah-offset)', () => {
  const h = harness();
  const sa = addBundle(h.mp, { elements: [{ operation: 'ah', spi: 0x8002 }] });
  const built = buildIp(transportSpec(4, [ahLayer(sa, 1)]));
  const frame = ethernetFrame(built.bytes, 4);
  sendRefused(
    h,
    nblOf([frame], {
      offloadHandle: sa.handle,
      header: { ...headerOob(built), AhHeaderOffset: 6 },
    }),
    'ah-offset'
  );
  const h2 = harness();
  const esp = espSa(h2, 0x8003, 'aes-gcm-128');
  const built2 = buildIp(transportSpec(4, [espLayer(esp, 1)]));
  sendRefused(
    h2,
    nblOf([ethernetFrame(built2.bytes, 4)], {
      offloadHandle: esp.handle,
      header: { ...headerOob(built2), AhHeaderOffset: 5 },
    }),
    'ah-offset'
  );
});

test("D9: SPI not the SA's → NDIS_STATUS_INVALID_PACKET (spi-mismatch)", () => {
  const h = harness();
  const sa = espSa(h, 0x8004, 'aes-gcm-128');
  const layer = { kind: 'esp' as const, spi: 0x8005, seq: 1, geometry: sa.bundle.elements[0].esp! };
  sendRefused(h, framePacket(transportSpec(4, [layer]), sa).nbl, 'spi-mismatch');
  const h2 = harness();
  const ah = addBundle(h2.mp, { elements: [{ operation: 'ah', spi: 0x8006 }] });
  const ahBad = { kind: 'ah' as const, spi: 0x8007, seq: 1, auth: ah.bundle.elements[0].auth! };
  sendRefused(h2, framePacket(transportSpec(4, [ahBad]), ah).nbl, 'spi-mismatch');
});

test('D1/D9: trailer bytes not matching the OOB NextHeader/PadLength → NDIS_STATUS_INVALID_PACKET (trailer-mismatch)', () => {
  for (const field of ['NextHeader', 'PadLength'] as const) {
    const h = harness();
    const sa = espSa(h, 0x8008, 'aes-gcm-128');
    const built = buildIp(transportSpec(4, [espLayer(sa, 1)], 101));
    const oob = headerOob(built);
    sendRefused(
      h,
      nblOf([ethernetFrame(built.bytes, 4)], {
        offloadHandle: sa.handle,
        header: { ...oob, [field]: oob[field] + 1 },
      }),
      'trailer-mismatch'
    );
  }
});

test('D1/D9: padding bytes other than 1, 2, 3, … → NDIS_STATUS_INVALID_PACKET (trailer-padding)', () => {
  const h = harness();
  const sa = espSa(h, 0x8009, 'aes-cbc-128', 'hmac-sha1-96');
  const { nbl, built } = framePacket(transportSpec(4, [espLayer(sa, 1)], 100), sa);
  assert.ok(built.padLength >= 2);
  const data = nbl.netBuffers[0].data();
  data[data.length - 12 - 2 - built.padLength + 1] = 0x77;
  sendRefused(h, nbl, 'trailer-padding');
});

test('D9: payload not aligned to the cipher block → NDIS_STATUS_INVALID_PACKET (block-alignment)', () => {
  const h = harness();
  const sa = espSa(h, 0x800a, 'aes-cbc-128', 'hmac-sha1-96');
  // Framed for a 4-byte alignment (as for GCM) instead of AES's 16.
  const geometry = { ivLength: 16, icvLength: 12, padAlign: 4 };
  const layer = { kind: 'esp' as const, spi: 0x800a, seq: 1, geometry };
  sendRefused(h, framePacket(transportSpec(4, [layer], 102), sa).nbl, 'block-alignment');
});

test('D9: an AH header whose length does not fit the SA (RFC 4302 §2.6) → NDIS_STATUS_INVALID_PACKET (ah-length)', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'ah', spi: 0x800b, integrity: 'hmac-sha256-128' }],
  });
  const other = addBundle(harness().mp, {
    elements: [{ operation: 'ah', spi: 0x800b, integrity: 'hmac-sha1-96' }],
  });
  sendRefused(h, framePacket(transportSpec(4, [ahLayer(other, 1)]), sa).nbl, 'ah-length');
});

test('D9: an IPv4 Total Length that disagrees with the NET_BUFFER → NDIS_STATUS_INVALID_PACKET (ip-length)', () => {
  const h = harness();
  const sa = espSa(h, 0x800c, 'aes-gcm-128');
  const { nbl } = framePacket(transportSpec(4, [espLayer(sa, 1)]), sa);
  nbl.netBuffers[0].data()[L2 + 3] -= 4;
  sendRefused(h, nbl, 'ip-length');
});

test('D9: a packet of the wrong address family for the SA → NDIS_STATUS_INVALID_PACKET (address-family)', () => {
  const h = harness();
  const sa = espSa(h, 0x800d, 'aes-gcm-128', null, { ipv6: true });
  sendRefused(h, framePacket(transportSpec(4, [espLayer(sa, 1)]), sa).nbl, 'address-family');
});

test('D16: a fragment is not offloaded (the transport fragments after IPsec) → INVALID_PACKET (ip-fragment)', () => {
  const h = harness();
  const sa = espSa(h, 0x800e, 'aes-gcm-128');
  const { nbl } = framePacket(transportSpec(4, [espLayer(sa, 1)]), sa);
  nbl.netBuffers[0].data()[L2 + 6] |= 0x20; // MF
  sendRefused(h, nbl, 'ip-fragment');
});

// ---------------------------------------------------------------------------------------------
// D12: capabilities judged per packet.

const ROUTER_ALERT = Uint8Array.of(0x94, 0x04, 0x00, 0x00); // RFC 2113, immutable for AH

test('D12: IPv4 options without the IPv4Options capability → INVALID_PACKET (capability:IPv4Options); with it, AH covers them', () => {
  const no = harness(capsWith({ IPv4Options: false }));
  const sa = addBundle(no.mp, { elements: [{ operation: 'ah', spi: 0x9001 }] });
  const spec: IpSpec = { ...transportSpec(4, [ahLayer(sa, 1)]), options: ROUTER_ALERT };
  sendRefused(no, framePacket(spec, sa).nbl, 'capability:IPv4Options');

  const yes = harness();
  const sa2 = addBundle(yes.mp, { elements: [{ operation: 'ah', spi: 0x9001 }] });
  const spec2: IpSpec = { ...transportSpec(4, [ahLayer(sa2, 1)]), options: ROUTER_ALERT };
  const { built } = framePacket(spec2, sa2);
  assert.equal(built.ah, 24);
  const [out] = sendOk(yes, framePacket(spec2, sa2).nbl);
  assert.equal(decodeFrame(out, sa2.verifiers).ah?.result, 'ok');
});

test('D12: IPv6 extension headers without IPv6NonIPsecExtensionHeaders → INVALID_PACKET; with it, ESP after a Destination Options header', () => {
  const extensions = [
    { type: IpProtocol.DestOpts, options: [{ type: 0x1e, data: Uint8Array.of(1, 2) }] },
  ] as const;
  const no = harness(capsWith({ IPv6NonIPsecExtensionHeaders: false }));
  const sa = espSa(no, 0x9002, 'aes-gcm-128', null, { ipv6: true });
  const spec: IpSpec = { ...transportSpec(6, [espLayer(sa, 1)]), extensions };
  sendRefused(no, framePacket(spec, sa).nbl, 'capability:IPv6NonIPsecExtensionHeaders');

  const yes = harness();
  const sa2 = espSa(yes, 0x9002, 'aes-gcm-128', null, { ipv6: true });
  const spec2: IpSpec = { ...transportSpec(6, [espLayer(sa2, 1)]), extensions };
  const { nbl, built } = framePacket(spec2, sa2);
  assert.equal(built.esp, 48);
  const [out] = sendOk(yes, nbl);
  const d = decodeFrame(out, sa2.verifiers);
  assert.equal(d.esp?.result, 'ok');
  assert.ok(d.tcp?.checksumOk);
});

test('D12: a transport-mode packet on a NIC without Transport → INVALID_PACKET (capability:Transport)', () => {
  const h = harness(capsWith({ Transport: false }));
  const sa = espSa(h, 0x9003, 'aes-gcm-128');
  sendRefused(h, framePacket(transportSpec(4, [espLayer(sa, 1)]), sa).nbl, 'capability:Transport');
});

test('D12: an 802.1Q-tagged frame needs NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q', () => {
  const tagged = (h: Harness): ReturnType<typeof nblOf> => {
    const sa = espSa(h, 0x9004, 'aes-gcm-128');
    const built = buildIp(transportSpec(4, [espLayer(sa, 1)]));
    return nblOf([ethernetFrame(built.bytes, 4, 100)], {
      offloadHandle: sa.handle,
      header: headerOob(built),
    });
  };
  const no = harness();
  sendRefused(no, tagged(no), 'capability:Encapsulation');
  const caps = defaultCapabilities();
  const yes = harness(
    capsWith(
      {
        Encapsulation:
          Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3 |
          Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3_P_AND_Q,
      },
      caps
    )
  );
  const [out] = sendOk(yes, tagged(yes));
  assert.equal(out[12], 0x81);
  const sa = yes.mp.saTable.get(1n)!;
  assert.equal(sa.elements[0].counters.packets, 1);
});

test('D12: IPv6 while only IPsecV2IPv4 is enabled → NDIS_STATUS_FAILURE (not-configured:ipv6)', () => {
  const h = harness();
  h.mp.config = { ...h.mp.config, ipsecIpv6: false };
  const sa = espSa(h, 0x9005, 'aes-gcm-128', null, { ipv6: true });
  sendRefused(
    h,
    framePacket(transportSpec(6, [espLayer(sa, 1)]), sa).nbl,
    'not-configured:ipv6',
    NDIS_STATUS_FAILURE
  );
});

test('D1: a frame the NIC protects is never longer or shorter than the transport framed it', () => {
  const h = harness();
  const sa = espSa(h, 0x9006, 'aes-cbc-192', 'hmac-sha256-128');
  const { nbl, frame } = framePacket(transportSpec(4, [espLayer(sa, 3)], 1400), sa);
  const [out] = sendOk(h, nbl);
  assert.equal(out.length, frame.length);
  assert.equal(decodeFrame(out, sa.verifiers).esp?.result, 'ok');
});
