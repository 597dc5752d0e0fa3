/**
 * @module
 * Writes the golden vectors and their expected outputs into tests/golden/: for each case the
 * VECTORS.json that `ipsecov2 miniport` reads and, from the independent builder (build.ts, the
 * oracle's LSO framing and @noble crypto; nothing from `src/`), the statuses and exact frames the
 * NIC must produce. Regenerate: `npx tsc -p . && node dist/tests/golden/generate.js && npx prettier --write tests/golden`.
 */
import { writeFileSync } from 'node:fs';
import { concat } from '../oracle/bytes.ts';
import { frameLso } from '../oracle/framing.ts';
import * as b from './build.ts';

const DIR = new URL('../../../tests/golden/', import.meta.url);
const A = '192.0.2.10';
const B = '198.51.100.20';
const A6 = '2001:db8:a::10';
const B6 = '2001:db8:b::20';
const SUCCESS = { hex: '0x00000000', name: 'NDIS_STATUS_SUCCESS' };
const FAILURE = { hex: '0xc0000001', name: 'NDIS_STATUS_FAILURE' };
const INVALID_PACKET = { hex: '0xc001000f', name: 'NDIS_STATUS_INVALID_PACKET' };
const TCP: b.Tcp = { srcPort: 49152, dstPort: 443, seq: 1000, ack: 1, flags: 0x18, window: 65535 };

/** One expected NBL: its status, frames and (LSO) completion slot. */
interface ExpectedNbl {
  readonly status: { readonly hex: string; readonly name: string };
  readonly frames: readonly string[];
  readonly lsoCompleteRaw?: string;
}

/** One case: the vectors, what is expected, and where the expectation comes from. */
interface Case {
  readonly name: string;
  readonly rules: string;
  readonly vectors: Record<string, unknown>;
  readonly sas: readonly { readonly status: typeof SUCCESS }[];
  readonly nbls: readonly ExpectedNbl[];
}

const gcmKey = (label: string): Uint8Array => b.keyBytes(label, 20);
const gcmSa = (spi: number, key: Uint8Array): Record<string, unknown> => ({
  protocol: 'esp',
  spi,
  encryption: 'aes-gcm-128',
  encryptionKey: b.hex(key),
});
const bundle = (src: string, dst: string, sas: unknown[], udp = 0): Record<string, unknown> => ({
  json: { src, dst, ...(udp ? { udpEspEncapsulation: udp } : {}), sas },
});

/** Transport ESP over IPv4 around a TCP segment: pre and post frames, OOB. */
function transportV4(
  sa: b.EspBuild,
  data: Uint8Array,
  udp = false
): b.Pair & { espOffset: number } {
  const src = b.v4(A);
  const dst = b.v4(B);
  const segment = b.tcp(TCP, data, src, dst);
  const e = b.esp(sa, segment, 6);
  const udpLength = udp ? 8 : 0;
  const total = 20 + udpLength + e.pre.length;
  const ip = b.ipv4({ src, dst, protocol: udp ? 17 : 50, totalLength: total, id: 0x100 });
  const udpHeader = udp
    ? new Uint8Array([
        0x11,
        0x94,
        0x11,
        0x94,
        (8 + e.pre.length) >> 8,
        (8 + e.pre.length) & 0xff,
        0,
        0,
      ])
    : new Uint8Array(0);
  const eth = b.ethernet(0x0800);
  return {
    pre: concat(eth, ip, udpHeader, e.pre),
    post: concat(eth, ip, udpHeader, e.post),
    padLength: e.padLength,
    espOffset: (20 + udpLength) / 4,
  };
}

function espGcmTransport(): Case {
  const key = gcmKey('esp-gcm');
  const f = transportV4(
    { spi: 0x1001, seq: 1, encryption: 'aes-gcm-128', encryptionKey: key },
    b.payload(100, 1)
  );
  return {
    name: 'esp-gcm-transport-v4',
    rules:
      'RFC 791, RFC 793 checksum, RFC 4303 §2 framing and padding, RFC 4106 (IV = 64-bit sequence number, D6)',
    vectors: {
      description: 'ESP AES-GCM-128, transport mode, IPv4, one TCP segment (no LSO)',
      sas: [{ name: 'gcm', ...bundle(A, B, [gcmSa(0x1001, key)]) }],
      nbls: [
        {
          netBuffers: [b.hex(f.pre)],
          ipsec: { offloadHandle: { sa: 'gcm' } },
          header: { NextHeader: 6, PadLength: f.padLength, EspHeaderOffset: f.espOffset },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [{ status: SUCCESS, frames: [b.hex(f.post)] }],
  };
}

function espCbcSha1(): Case {
  const encKey = b.keyBytes('cbc-enc', 16);
  const intKey = b.keyBytes('cbc-int', 20);
  const iv = b.keyBytes('cbc-iv', 16);
  const f = transportV4(
    {
      spi: 0x2002,
      seq: 7,
      encryption: 'aes-cbc-128',
      integrity: 'hmac-sha1-96',
      encryptionKey: encKey,
      integrityKey: intKey,
      iv,
    },
    b.payload(61, 2)
  );
  return {
    name: 'esp-cbc-sha1-explicit-iv',
    rules:
      'RFC 4303 §2, RFC 3602 (AES-CBC, explicit IV), RFC 2404 (HMAC-SHA-1-96 over SPI ‖ Seq ‖ IV ‖ ciphertext)',
    vectors: {
      description: 'ESP AES-CBC-128 + HMAC-SHA1-96, transport IPv4, the CBC IV given explicitly',
      sas: [
        bundle(A, B, [
          {
            protocol: 'esp',
            spi: 0x2002,
            encryption: 'aes-cbc-128',
            integrity: 'hmac-sha1-96',
            encryptionKey: b.hex(encKey),
            integrityKey: b.hex(intKey),
          },
        ]),
      ],
      nbls: [
        {
          netBuffers: [b.hex(f.pre)],
          ipsec: { offloadHandle: { sa: 0 } },
          header: { NextHeader: 6, PadLength: f.padLength, EspHeaderOffset: f.espOffset },
          ivs: [b.hex(iv)],
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [{ status: SUCCESS, frames: [b.hex(f.post)] }],
  };
}

function ahSha256V6(): Case {
  const key = b.keyBytes('ah-sha256', 32);
  const src = b.v6(A6);
  const dst = b.v6(B6);
  const segment = b.tcp(TCP, b.payload(80, 3), src, dst);
  const r = b.ah(
    { spi: 0x3003, seq: 1, integrity: 'hmac-sha256-128', integrityKey: key },
    6,
    (ahLength) => b.ipv6({ src, dst, nextHeader: 51, payloadLength: ahLength + segment.length }),
    6,
    { pre: segment, post: segment }
  );
  const eth = b.ethernet(0x86dd);
  return {
    name: 'ah-sha256-v6',
    rules:
      'RFC 8200 §3, RFC 4302 §2.6 (AH length a multiple of 8 over IPv6: 12 + 16 + 4 zero pad), §3.3.3.1.2 (mutable fields zeroed), RFC 4868',
    vectors: {
      description: 'AH HMAC-SHA-256-128, transport mode, IPv6',
      sas: [
        bundle(A6, B6, [
          { protocol: 'ah', spi: 0x3003, integrity: 'hmac-sha256-128', integrityKey: b.hex(key) },
        ]),
      ],
      nbls: [
        {
          netBuffers: [b.hex(concat(eth, r.pre))],
          ipsec: { offloadHandle: { sa: 0 } },
          header: { AhHeaderOffset: 40 / 4 },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [{ status: SUCCESS, frames: [b.hex(concat(eth, r.post))] }],
  };
}

function ahEsp(): Case {
  const espKey = gcmKey('ahesp-esp');
  const ahKey = b.keyBytes('ahesp-ah', 20);
  const src = b.v4(A);
  const dst = b.v4(B);
  const segment = b.tcp(TCP, b.payload(150, 4), src, dst);
  const e = b.esp(
    { spi: 0x4001, seq: 3, encryption: 'aes-gcm-128', encryptionKey: espKey },
    segment,
    6
  );
  const r = b.ah(
    { spi: 0x4002, seq: 3, integrity: 'hmac-sha1-96', integrityKey: ahKey },
    4,
    (ahLength) =>
      b.ipv4({ src, dst, protocol: 51, totalLength: 20 + ahLength + e.pre.length, id: 0x200 }),
    50,
    e
  );
  const eth = b.ethernet(0x0800);
  return {
    name: 'ah-esp-v4',
    rules:
      'RFC 4303 (ESP sealed first), RFC 4302 §3.3.3.1.1 (AH ICV over the sealed packet, IPv4 mutable fields zeroed), RFC 4106, RFC 2404',
    vectors: {
      description: 'AH HMAC-SHA1-96 + ESP AES-GCM-128 in one bundle, transport IPv4',
      sas: [
        bundle(A, B, [
          gcmSa(0x4001, espKey),
          { protocol: 'ah', spi: 0x4002, integrity: 'hmac-sha1-96', integrityKey: b.hex(ahKey) },
        ]),
      ],
      nbls: [
        {
          netBuffers: [b.hex(concat(eth, r.pre))],
          ipsec: { offloadHandle: { sa: 0 } },
          header: {
            NextHeader: 6,
            PadLength: e.padLength,
            AhHeaderOffset: 5,
            EspHeaderOffset: (20 + r.ahLength) / 4,
          },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [{ status: SUCCESS, frames: [b.hex(concat(eth, r.post))] }],
  };
}

function tunnel(): Case {
  const key = gcmKey('tunnel');
  const gwA = b.v4('203.0.113.1');
  const gwB = b.v4('203.0.113.2');
  const src = b.v4(A);
  const dst = b.v4(B);
  const segment = b.tcp(TCP, b.payload(120, 5), src, dst);
  const inner = concat(
    b.ipv4({ src, dst, protocol: 6, totalLength: 20 + segment.length, id: 0x300 }),
    segment
  );
  const e = b.esp({ spi: 0x5005, seq: 1, encryption: 'aes-gcm-128', encryptionKey: key }, inner, 4);
  const outer = b.ipv4({
    src: gwA,
    dst: gwB,
    protocol: 50,
    totalLength: 20 + e.pre.length,
    id: 0x301,
  });
  const eth = b.ethernet(0x0800);
  return {
    name: 'tunnel-esp-gcm-v4',
    rules: 'RFC 4303 §3.1.2 (tunnel mode: inner IP packet, Next Header 4), RFC 4106',
    vectors: {
      description: 'ESP AES-GCM-128, tunnel mode, IPv4 in IPv4',
      sas: [bundle('203.0.113.1', '203.0.113.2', [gcmSa(0x5005, key)])],
      nbls: [
        {
          netBuffers: [b.hex(concat(eth, outer, e.pre))],
          ipsec: { offloadHandle: { sa: 0 } },
          header: { NextHeader: 4, PadLength: e.padLength, EspHeaderOffset: 5 },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [{ status: SUCCESS, frames: [b.hex(concat(eth, outer, e.post))] }],
  };
}

function udpEsp(): Case {
  const key = gcmKey('udp-esp');
  const f = transportV4(
    { spi: 0x6006, seq: 1, encryption: 'aes-gcm-128', encryptionKey: key },
    b.payload(90, 6),
    true
  );
  return {
    name: 'udp-esp-v4',
    rules: 'RFC 3948 §2.1 (UDP port 4500, Length, checksum 0 over IPv4), RFC 4303, RFC 4106',
    vectors: {
      description:
        'UDP-encapsulated ESP AES-GCM-128, transport IPv4 (IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT)',
      sas: [bundle(A, B, [gcmSa(0x6006, key)], 1)],
      nbls: [
        {
          netBuffers: [b.hex(f.pre)],
          ipsec: { offloadHandle: { sa: 0 } },
          header: { NextHeader: 6, PadLength: f.padLength, EspHeaderOffset: f.espOffset },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [{ status: SUCCESS, frames: [b.hex(f.post)] }],
  };
}

function lsoV2(): Case {
  const key = gcmKey('lso');
  const src = b.v4(A);
  const dst = b.v4(B);
  const mss = 500;
  const data = b.payload(1300, 8);
  const template = { ...TCP, seq: 5000, urgent: 0, options: new Uint8Array(0) };
  const framed = frameLso({
    ipVersion: 4,
    lsoVersion: 2,
    macDst: b.ethernet(0x0800).subarray(0, 6),
    macSrc: b.ethernet(0x0800).subarray(6, 12),
    src,
    dst,
    ipId: 0x400,
    ttl: 64,
    tos: 0,
    flowLabel: 0,
    dontFragment: true,
    ipsec: { protocol: 'esp', spi: 0x7007, seqLow: 10, ivLength: 8, padAlign: 4 },
    tcp: template,
    payload: data,
  });
  const frames: string[] = [];
  for (let i = 0; i * mss < data.length; i++) {
    const last = (i + 1) * mss >= data.length;
    frames.push(
      b.hex(
        b.lsoSegment({
          sa: { spi: 0x7007, seq: 10 + i, encryption: 'aes-gcm-128', encryptionKey: key },
          src,
          dst,
          id: 0x400 + i,
          tcp: { ...TCP, seq: 5000 + i * mss, flags: last ? 0x18 : 0x10 },
          data: data.subarray(i * mss, (i + 1) * mss),
        })
      )
    );
  }
  return {
    name: 'lso-v2-esp-gcm',
    rules:
      'NDIS LSOv2 (contract D2/D3: per-segment IPv4 length/ID+i/checksum, TCP seq + i×MSS, PSH only on the last, ESP seq + i), RFC 4303, RFC 4106',
    vectors: {
      description:
        'LSOv2, 1300 bytes of TCP with MSS 500 (3 segments), ESP AES-GCM-128 transport IPv4',
      sas: [bundle(A, B, [gcmSa(0x7007, key)])],
      nbls: [
        {
          netBuffers: [b.hex(framed.bytes)],
          ipsec: { offloadHandle: { sa: 0 } },
          header: {
            NextHeader: 6,
            PadLength: framed.padLength,
            EspHeaderOffset: framed.espHeaderOffset / 4,
          },
          lso: { version: 2, MSS: mss, TcpHeaderOffset: framed.tcpHeaderOffset, IPVersion: 0 },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    // LsoV2TransmitComplete: Type (bit 30) = NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE, Reserved 0.
    nbls: [{ status: SUCCESS, frames, lsoCompleteRaw: '0x40000000' }],
  };
}

function refused(): Case {
  const key = gcmKey('refused');
  const f = transportV4(
    { spi: 0x8008, seq: 1, encryption: 'aes-gcm-128', encryptionKey: key },
    b.payload(40, 9)
  );
  // Slot 12 raw: NextHeader 6 | PadLength << 8 | EspHeaderOffset 6 << 24 (the ESP header is at 5).
  const badHeader = 6 | (f.padLength << 8) | (6 << 24);
  return {
    name: 'refused',
    rules:
      'contract D8 (unknown handle → NDIS_STATUS_FAILURE = 0xC0000001), D9 (OOB contradicting the packet → NDIS_STATUS_INVALID_PACKET = 0xC001000F), ndis.h values',
    vectors: {
      description:
        'two NBLs refused: an unknown OffloadHandle, and an EspHeaderOffset that misses the ESP header (raw slot 12)',
      sas: [bundle(A, B, [gcmSa(0x8008, key)])],
      nbls: [
        {
          name: 'unknown handle',
          netBuffers: [b.hex(f.pre)],
          ipsec: { offloadHandle: '0xdead0000' },
          header: { NextHeader: 6, PadLength: f.padLength, EspHeaderOffset: f.espOffset },
        },
        {
          name: 'malformed OOB',
          netBuffers: [b.hex(f.pre)],
          ipsec: { offloadHandle: { sa: 0 } },
          slots: { '12': `0x${(badHeader >>> 0).toString(16).padStart(8, '0')}` },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [
      { status: FAILURE, frames: [] },
      { status: INVALID_PACKET, frames: [] },
    ],
  };
}

function addSaX86(): Case {
  const key = gcmKey('x86');
  const f = transportV4(
    { spi: 0x9009, seq: 1, encryption: 'aes-gcm-128', encryptionKey: key },
    b.payload(64, 10)
  );
  const addSa = b.addSaX86({
    src: b.v4(A),
    dst: b.v4(B),
    spi: 0x9009,
    encryptionIdentifier: 0x08, // IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128
    key,
    icvLength: 16,
  });
  return {
    name: 'addsa-x86-hex',
    rules:
      'IPSEC_OFFLOAD_V2_ADD_SA x86 layout (ndis-ipsecov2.md §2.2/§2.3/§2.5, D5, D7) built byte by byte; RFC 4303, RFC 4106',
    vectors: {
      description: 'an x86 NIC; the SA given as the hex of a binary x86 IPSEC_OFFLOAD_V2_ADD_SA',
      arch: 'x86',
      sas: [{ name: 'x86', addSa: b.hex(addSa), baseAddress: '0x20000' }],
      nbls: [
        {
          netBuffers: [b.hex(f.pre)],
          ipsec: { offloadHandle: { sa: 'x86' } },
          header: { NextHeader: 6, PadLength: f.padLength, EspHeaderOffset: f.espOffset },
        },
      ],
    },
    sas: [{ status: SUCCESS }],
    nbls: [{ status: SUCCESS, frames: [b.hex(f.post)] }],
  };
}

/** Every case, in README order. */
export const CASES: readonly (() => Case)[] = [
  espGcmTransport,
  espCbcSha1,
  ahSha256V6,
  ahEsp,
  tunnel,
  udpEsp,
  lsoV2,
  refused,
  addSaX86,
];

/** Writes every case's two files. */
function main(): void {
  for (const make of CASES) {
    const c = make();
    const expected = {
      provenance: {
        generator:
          'tests/golden/generate.ts + tests/golden/build.ts (@noble/ciphers, @noble/hashes; no src/ import)',
        rules: c.rules,
        regenerate:
          'npx tsc -p . && node dist/tests/golden/generate.js && npx prettier --write tests/golden',
      },
      sas: c.sas,
      nbls: c.nbls,
    };
    writeFileSync(
      new URL(`${c.name}.vectors.json`, DIR),
      `${JSON.stringify(c.vectors, null, 2)}\n`
    );
    writeFileSync(
      new URL(`${c.name}.expected.json`, DIR),
      `${JSON.stringify(expected, null, 2)}\n`
    );
  }
}

if (import.meta.url.endsWith(`/${(process.argv[1] ?? '').split('/').pop() ?? ''}`)) {
  main();
}
