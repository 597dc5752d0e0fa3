/**
 * LSO combined with IPsec, judged by an oracle that shares no code with the miniport or our
 * receiver (tests/oracle/: @noble/ciphers, @noble/hashes and its own parsing; proven on the
 * published vectors in tests/oracle.test.ts).
 *
 * The SAs go in through the real control path (OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA with the
 * binary IPSEC_OFFLOAD_V2_ADD_SA list, contract D5 key material); each large packet is framed as
 * contract D2 says (tests/oracle/framing.ts) with its OOB (slots 1, 2, 12) and handed to
 * MiniportSendNetBufferLists. Every frame on the wire is then parsed, verified and decrypted
 * independently: trailer (minimal padding 1..n, Next Header 6), ICV, IP length / ID / checksum,
 * TCP sequence += MSS, FIN/PSH only on the last segment, TCP checksum, consecutive ESP/AH
 * sequence numbers (D3), GCM IV = sequence number (D6), payload reassembling to the original; a
 * wrong key fails every frame; no 16-byte run of the application data appears in an encrypted
 * frame; exactly one completion with the LSO completion info of D11. Across 2^32 (D3): with ESN
 * the segments after the wrap verify only with the next high half; without ESN the NBL fails
 * and nothing reaches the wire.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Miniport } from '../src/miniport/miniport.ts';
import { oidRequest } from '../src/miniport/ctrlpath.ts';
import { sendNetBufferLists } from '../src/miniport/datapath.ts';
import { encodeAddSaList, readAddSaHandle } from '../src/ndis/addsa.ts';
import { NetBuffer, NetBufferList } from '../src/ndis/nbl.ts';
import {
  decodeLsoV1TransmitComplete,
  decodeLsoV2TransmitComplete,
  encodeLsoV1Transmit,
  encodeLsoV2Transmit,
  getLso,
  setHeaderTransmit,
  setLso,
  setOffloadHandle,
} from '../src/ndis/oob.ts';
import {
  Authentication,
  Encryption,
  Lso,
  Oid,
  Operation,
  SaFlags,
  UdpEsp,
} from '../src/ndis/oid.ts';
import type { AlgorithmInfo, SaBundle } from '../src/ndis/sa.ts';
import { NdisStatus, statusName } from '../src/ndis/status.ts';
import { encodeUpdateSa } from '../src/ndis/updatesa.ts';
import { describeMismatch, hexNum, toHex } from './oracle/bytes.ts';
import type { AhSa } from './oracle/ah.ts';
import type { EspSa } from './oracle/esp.ts';
import { checkFrame, type OracleSa } from './oracle/frame.ts';
import { frameLso, type FramedLso } from './oracle/framing.ts';
import { findPlaintextRuns, firstRepeatedWindow, noisePayload } from './oracle/leak.ts';
import { checkLsoFrames, type LsoExpectation, type TcpTemplate } from './oracle/lso.ts';

// ---------------------------------------------------------------------------------------------
// The SAs under test.
// ---------------------------------------------------------------------------------------------

/** The algorithm combinations of the issue: ESP AES-GCM, ESP AES-CBC + HMAC-SHA1, AH. */
type Kind =
  | 'esp-gcm-128'
  | 'esp-gcm-128-icv8'
  | 'esp-gcm-128-icv12'
  | 'esp-cbc-128-sha1'
  | 'ah-sha1'
  | 'ah-sha256'
  | 'ah-gmac-128'
  | 'udp-esp-gcm-128';

/** The GCM ICV length of a kind (AdditionalInfo, contract D5). */
function gcmIcv(kind: Kind): number {
  return kind === 'esp-gcm-128-icv8' ? 8 : kind === 'esp-gcm-128-icv12' ? 12 : 16;
}

const bytes = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (seed + i * 29) & 0xff);

const KEYS = {
  gcm: bytes(20, 0x11), // AES-128 key ‖ 4-byte salt (contract D5)
  cbc: bytes(16, 0x22),
  sha1: bytes(20, 0x33),
  sha256: bytes(32, 0x44),
  gmac: bytes(20, 0x55),
} as const;

const ABSENT: AlgorithmInfo = { identifier: 0, keyLength: 0, keyOffsetBytes: 0, additionalInfo: 0 };

/** One outbound SA: the ADD_SA entry and the oracle's view of it. */
interface SaSetup {
  readonly kind: Kind;
  readonly spi: number;
  readonly esn: boolean;
  readonly seqHigh: number;
  readonly ipv6: boolean;
}

function oracleSa(s: SaSetup): OracleSa {
  const common = { spi: s.spi, esn: s.esn, seqHigh: s.seqHigh };
  switch (s.kind) {
    case 'esp-gcm-128':
    case 'esp-gcm-128-icv8':
    case 'esp-gcm-128-icv12':
    case 'udp-esp-gcm-128':
      return {
        protocol: 'esp',
        ...common,
        encryption: 'aes-gcm-128',
        encryptionKey: KEYS.gcm,
        integrity: 'none',
        integrityKey: new Uint8Array(0),
        icvLength: gcmIcv(s.kind),
      } satisfies EspSa;
    case 'esp-cbc-128-sha1':
      return {
        protocol: 'esp',
        ...common,
        encryption: 'aes-cbc-128',
        encryptionKey: KEYS.cbc,
        integrity: 'hmac-sha1-96',
        integrityKey: KEYS.sha1,
        icvLength: 12,
      } satisfies EspSa;
    case 'ah-sha1':
      return {
        protocol: 'ah',
        ...common,
        integrity: 'hmac-sha1-96',
        integrityKey: KEYS.sha1,
        icvLength: 12,
      } satisfies AhSa;
    case 'ah-sha256':
      return {
        protocol: 'ah',
        ...common,
        integrity: 'hmac-sha256-128',
        integrityKey: KEYS.sha256,
        icvLength: 16,
      } satisfies AhSa;
    case 'ah-gmac-128':
      return {
        protocol: 'ah',
        ...common,
        integrity: 'aes-gmac-128',
        integrityKey: KEYS.gmac,
        icvLength: 16,
      } satisfies AhSa;
  }
}

/** The same SA with one key bit flipped (the integrity key for CBC+HMAC; see `wrongCipherKey`). */
function wrongKey(sa: OracleSa): OracleSa {
  const flip = (k: Uint8Array): Uint8Array => k.map((b, i) => (i === 3 ? b ^ 0x10 : b));
  if (sa.protocol === 'ah') return { ...sa, integrityKey: flip(sa.integrityKey) };
  if (sa.integrity !== 'none') return { ...sa, integrityKey: flip(sa.integrityKey) };
  return { ...sa, encryptionKey: flip(sa.encryptionKey) };
}

/** The IPSEC_OFFLOAD_V2_ADD_SA entry for `s` (outbound, one SA; keys per contract D5). */
function addSaEntry(s: SaSetup, src: Uint8Array, dst: Uint8Array): SaBundle {
  let operation: number = Operation.IPsecOffloadV2Esp;
  let enc = ABSENT;
  let auth = ABSENT;
  let keyData: Uint8Array;
  switch (s.kind) {
    case 'esp-gcm-128':
    case 'esp-gcm-128-icv8':
    case 'esp-gcm-128-icv12':
    case 'udp-esp-gcm-128':
      enc = {
        identifier: Encryption.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128,
        keyLength: 20,
        keyOffsetBytes: 0,
        additionalInfo: gcmIcv(s.kind), // ICV length (D5)
      };
      keyData = KEYS.gcm;
      break;
    case 'esp-cbc-128-sha1':
      enc = {
        identifier: Encryption.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128,
        keyLength: 16,
        keyOffsetBytes: 0,
        additionalInfo: 0,
      };
      auth = {
        identifier: Authentication.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1,
        keyLength: 20,
        keyOffsetBytes: 16,
        additionalInfo: 0,
      };
      keyData = new Uint8Array([...KEYS.cbc, ...KEYS.sha1]);
      break;
    case 'ah-sha1':
      operation = Operation.IPsecOffloadV2Ah;
      auth = {
        identifier: Authentication.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1,
        keyLength: 20,
        keyOffsetBytes: 0,
        additionalInfo: 0,
      };
      keyData = KEYS.sha1;
      break;
    case 'ah-sha256':
      operation = Operation.IPsecOffloadV2Ah;
      auth = {
        identifier: Authentication.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256,
        keyLength: 32,
        keyOffsetBytes: 0,
        additionalInfo: 0,
      };
      keyData = KEYS.sha256;
      break;
    case 'ah-gmac-128':
      operation = Operation.IPsecOffloadV2Ah;
      auth = {
        identifier: Authentication.IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128,
        keyLength: 20,
        keyOffsetBytes: 0,
        additionalInfo: 0,
      };
      keyData = KEYS.gmac;
      break;
  }
  return {
    numExtHdrs: 1,
    flags: { inbound: false, ipv6: s.ipv6 },
    src,
    dst,
    udpEspEncapsulation:
      s.kind === 'udp-esp-gcm-128'
        ? UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT
        : UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_NONE,
    secAssoc: [
      {
        flags: s.esn ? SaFlags.IPSEC_OFFLOAD_V2_ESN_SA : 0,
        operation,
        spi: s.spi,
        authenticationAlgorithm: auth,
        encryptionAlgorithm: enc,
        sequenceNumberHighOrder: s.seqHigh,
      },
    ],
    keyData,
    offloadHandle: 0n,
  };
}

// ---------------------------------------------------------------------------------------------
// The NIC under test, with its wire and completion callback recorded.
// ---------------------------------------------------------------------------------------------

interface Nic {
  readonly mp: Miniport;
  readonly wire: Uint8Array[];
  readonly completed: NetBufferList[];
}

function nic(): Nic {
  const wire: Uint8Array[] = [];
  const completed: NetBufferList[] = [];
  let x = 0x9e3779b9;
  const mp = new Miniport({
    link: {
      transmit(frame: Uint8Array): void {
        wire.push(frame.slice());
      },
    },
    complete(nbl: NetBufferList): void {
      completed.push(nbl);
    },
    // A seeded source for CBC IVs (contract D6).
    random: {
      fill(out: Uint8Array): void {
        for (let i = 0; i < out.length; i++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          out[i] = x & 0xff;
        }
      },
    },
  });
  return { mp, wire, completed };
}

const BASE = 0x0000_7ff6_1234_0000n; // where the OID buffer "sits" (x64, 8-aligned)

/** ADD_SA through the control path; returns the OffloadHandle the NIC wrote into the buffer. */
function addSa(n: Nic, entry: SaBundle): bigint {
  const list = encodeAddSaList([entry], BASE, 'x64');
  const result = oidRequest(n.mp, {
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer: list.bytes,
    baseAddress: BASE,
  });
  assert.equal(statusName(result.status), 'NDIS_STATUS_SUCCESS', 'ADD_SA status');
  const handle = readAddSaHandle(list.bytes, list.entryOffsets[0], 'x64');
  assert.notEqual(handle, 0n, 'ADD_SA wrote a non-NULL OffloadHandle');
  return handle;
}

/** UPDATE_SA through the control path (the transport's step after a wrap, contract D3). */
function updateSa(n: Nic, handle: bigint, s: SaSetup, seqHigh: number): void {
  const buffer = encodeUpdateSa(
    {
      offloadHandle: handle,
      operation: s.kind.startsWith('ah') ? Operation.IPsecOffloadV2Ah : Operation.IPsecOffloadV2Esp,
      spi: s.spi,
      sequenceNumberHighOrder: seqHigh,
    },
    'x64'
  );
  const result = oidRequest(n.mp, {
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA,
    buffer,
  });
  assert.equal(statusName(result.status), 'NDIS_STATUS_SUCCESS', 'UPDATE_SA status');
}

// ---------------------------------------------------------------------------------------------
// Framing one LSO send (contract D2) and its OOB.
// ---------------------------------------------------------------------------------------------

const V4 = { src: new Uint8Array([10, 1, 0, 1]), dst: new Uint8Array([10, 2, 0, 2]) };
const V6 = {
  src: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]),
  dst: new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
};
const MSS = 1360;
/** IPv4 TOS / IPv6 traffic class of the large packet (DSCP AF11): copied to every segment. */
const TOS = 0x28;
const MTU = 1500;
const ACK = 0x010;
const PSH = 0x008;
const FIN = 0x001;

/** TCP header of the large packet: ACK | PSH | FIN, timestamps option (NOP NOP TS). */
const TCP: TcpTemplate = {
  srcPort: 50123,
  dstPort: 443,
  seq: 0xfffd_0000, // wraps the 32-bit TCP sequence space inside the 256 KiB sends
  ack: 0x0102_0304,
  flags: ACK | PSH | FIN,
  window: 0x7210,
  urgent: 0,
  options: new Uint8Array([1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]),
};

interface Send {
  readonly setup: SaSetup;
  readonly lsoVersion: 1 | 2;
  readonly payload: Uint8Array;
  /** 64-bit sequence number of the first segment (low half framed, high half = seqHigh). */
  readonly firstSeq: bigint;
  readonly ipId: number;
}

interface Sent {
  readonly nbl: NetBufferList;
  readonly framed: FramedLso;
  readonly expectation: LsoExpectation;
}

const UDP_PORTS = { srcPort: 4500, dstPort: 4500 };

/** Frames `s` per D2, fills the OOB, and builds what the oracle will hold the frames to. */
function prepare(s: Send, handle: bigint): Sent {
  const { setup } = s;
  const ipVersion = setup.ipv6 ? 6 : 4;
  const addr = setup.ipv6 ? V6 : V4;
  const sa = oracleSa(setup);
  const seqLow = Number(s.firstSeq & 0xffff_ffffn);
  const framed = frameLso({
    ipVersion,
    lsoVersion: s.lsoVersion,
    macDst: new Uint8Array([0x02, 0, 0, 0, 0, 0x0b]),
    macSrc: new Uint8Array([0x02, 0, 0, 0, 0, 0x0a]),
    ...addr,
    ipId: s.ipId,
    ttl: 128,
    tos: TOS,
    flowLabel: ipVersion === 6 ? 0x5a5a5 : 0,
    dontFragment: true,
    ipsec:
      sa.protocol === 'esp'
        ? {
            protocol: 'esp',
            spi: sa.spi,
            seqLow,
            ivLength: sa.encryption === 'aes-gcm-128' ? 8 : 16,
            padAlign: sa.encryption === 'aes-gcm-128' ? 4 : 16,
            ...(setup.kind === 'udp-esp-gcm-128' ? { udp: UDP_PORTS } : {}),
          }
        : {
            protocol: 'ah',
            spi: sa.spi,
            seqLow,
            ivLength: sa.integrity === 'aes-gmac-128' ? 8 : 0,
            icvLength: sa.icvLength,
          },
    tcp: TCP,
    payload: s.payload,
  });
  const nbl = new NetBufferList(new NetBuffer(framed.bytes));
  setOffloadHandle(nbl, handle);
  setHeaderTransmit(nbl, {
    NextHeader: framed.nextHeader,
    PadLength: framed.padLength,
    AhHeaderOffset: framed.ahHeaderOffset / 4,
    EspHeaderOffset: framed.espHeaderOffset / 4,
  });
  setLso(
    nbl,
    s.lsoVersion === 1
      ? encodeLsoV1Transmit({
          MSS,
          TcpHeaderOffset: framed.tcpHeaderOffset,
          Type: Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE,
        })
      : encodeLsoV2Transmit({
          MSS,
          TcpHeaderOffset: framed.tcpHeaderOffset,
          Type: Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE,
          IPVersion: setup.ipv6
            ? Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_IPv6
            : Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_IPv4,
        })
  );
  const ivIsSequence =
    (sa.protocol === 'esp' && sa.encryption === 'aes-gcm-128') ||
    (sa.protocol === 'ah' && sa.integrity === 'aes-gmac-128');
  return {
    nbl,
    framed,
    expectation: {
      sa,
      ipVersion,
      lsoVersion: s.lsoVersion,
      ...addr,
      ipId: s.ipId,
      ttl: 128,
      tos: TOS,
      flowLabel: ipVersion === 6 ? 0x5a5a5 : 0,
      dontFragment: true,
      tcp: TCP,
      payload: s.payload,
      mss: MSS,
      mtu: MTU,
      firstSeq: s.firstSeq,
      ivIsSequence,
    },
  };
}

/**
 * Sends one prepared NBL and returns the frames it put on the wire; checks exactly one completion
 * (D11), that the transport's NET_BUFFER memory is untouched, and that no IPsec-marked packet
 * left unprocessed (D10: `send.ipsec-not-configured` stays 0).
 */
function send(n: Nic, sent: Sent): Uint8Array[] {
  const before = n.wire.length;
  const completedBefore = n.completed.length;
  const original = sent.framed.bytes.slice();
  sendNetBufferLists(n.mp, sent.nbl);
  assert.equal(n.completed.length - completedBefore, 1, 'exactly one completion per NBL (D11)');
  assert.equal(n.completed[n.completed.length - 1], sent.nbl, 'the completed NBL is the one sent');
  assert.deepEqual(
    sent.nbl.netBuffers[0].data(),
    original,
    "the protocol's NET_BUFFER is unchanged"
  );
  assert.equal(n.mp.counters.get('send.ipsec-not-configured'), 0, 'D10: nothing left unprocessed');
  return n.wire.slice(before);
}

/** Asserts the oracle found nothing wrong, listing every problem if it did. */
function assertNoProblems(problems: readonly string[], what: string): void {
  if (problems.length > 0) {
    assert.fail(`${what}: ${problems.length} problem(s):\n  ${problems.slice(0, 25).join('\n  ')}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The must-show matrix: 3 algorithm combinations × {LSOv1 IPv4 64,000 B, LSOv2 IPv4 and IPv6
// 256 KiB}.
// ---------------------------------------------------------------------------------------------

const PAYLOAD_V1 = noisePayload(64_000, 0x1234_5677);
const PAYLOAD_V2 = noisePayload(262_144, 0x0bad_cafe);

test('the test payloads have no repeated 16-byte window (so a leak search is meaningful)', () => {
  assert.equal(firstRepeatedWindow(PAYLOAD_V1), -1);
  assert.equal(firstRepeatedWindow(PAYLOAD_V2), -1);
});

interface Shape {
  readonly name: string;
  readonly lsoVersion: 1 | 2;
  readonly ipv6: boolean;
  readonly payload: Uint8Array;
  /** First IPv4 ID: close to the wrap so the ID sequence wraps inside the send. */
  readonly ipId: number;
}

const SHAPES: readonly Shape[] = [
  { name: 'LSOv1 IPv4, 64,000 B', lsoVersion: 1, ipv6: false, payload: PAYLOAD_V1, ipId: 0xffe0 },
  { name: 'LSOv2 IPv4, 256 KiB', lsoVersion: 2, ipv6: false, payload: PAYLOAD_V2, ipId: 0x7f80 },
  { name: 'LSOv2 IPv6, 256 KiB', lsoVersion: 2, ipv6: true, payload: PAYLOAD_V2, ipId: 0 },
];

const KIND_NAMES: Readonly<Record<Kind, string>> = {
  'esp-gcm-128': 'ESP AES-GCM-128',
  'esp-gcm-128-icv8': 'ESP AES-GCM-128 (ICV 8)',
  'esp-gcm-128-icv12': 'ESP AES-GCM-128 (ICV 12)',
  'esp-cbc-128-sha1': 'ESP AES-CBC-128 + HMAC-SHA1-96',
  'ah-sha1': 'AH HMAC-SHA1-96',
  'ah-sha256': 'AH HMAC-SHA-256-128',
  'ah-gmac-128': 'AH AES-GMAC-128',
  'udp-esp-gcm-128': 'UDP-ESP AES-GCM-128',
};

let nextSpi = 0x5100_0001;

/** One full LSO send with every check of the issue. */
function lsoCase(kind: Kind, shape: Shape, firstSeq: bigint = 0x0000_0000_0000_1000n): void {
  const n = nic();
  const setup: SaSetup = {
    kind,
    spi: nextSpi++,
    esn: firstSeq > 0xffff_ffffn,
    seqHigh: Number(firstSeq >> 32n),
    ipv6: shape.ipv6,
  };
  const addr = shape.ipv6 ? V6 : V4;
  const handle = addSa(n, addSaEntry(setup, addr.src, addr.dst));
  const sent = prepare(
    { setup, lsoVersion: shape.lsoVersion, payload: shape.payload, firstSeq, ipId: shape.ipId },
    handle
  );
  if (shape.lsoVersion === 1) {
    // D2: LSOv1 Total Length = bytes from the IP header to the end of the NET_BUFFER.
    const ipTotal = (sent.framed.bytes[16] << 8) | sent.framed.bytes[17];
    assert.equal(ipTotal, sent.framed.bytes.length - 14);
  }
  const frames = send(n, sent);
  const nbl = sent.nbl;
  assert.equal(
    statusName(nbl.status),
    'NDIS_STATUS_SUCCESS',
    `NBL status (counters ${JSON.stringify(n.mp.counters.snapshot())})`
  );

  // Contract D11: the LSO completion info.
  if (shape.lsoVersion === 1) {
    const c = decodeLsoV1TransmitComplete(getLso(nbl));
    assert.equal(c.TcpPayload, shape.payload.length, 'LsoV1TransmitComplete.TcpPayload');
    assert.equal(c.Type, Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V1_TYPE, 'LsoV1TransmitComplete.Type');
  } else {
    const c = decodeLsoV2TransmitComplete(getLso(nbl));
    assert.equal(c.Type, Lso.NDIS_TCP_LARGE_SEND_OFFLOAD_V2_TYPE, 'LsoV2TransmitComplete.Type');
    assert.equal(c.Reserved, 0, 'LsoV2TransmitComplete.Reserved');
  }

  // The oracle: every frame alone, then the run.
  const count = Math.ceil(shape.payload.length / MSS);
  assert.equal(frames.length, count, `ceil(${shape.payload.length} / ${MSS}) frames`);
  const report = checkLsoFrames(frames, sent.expectation);
  assertNoProblems(report.problems, `${KIND_NAMES[kind]}, ${shape.name}`);
  assert.equal(report.reassembled.length, shape.payload.length);

  // Every frame has its own IV (GCM: the sequence number, checked above; CBC: random, D6).
  const ivs = new Set(report.views.map((v) => (v === undefined ? '' : toHex(v.ipsec.iv))));
  if (sent.expectation.sa.protocol === 'esp') assert.equal(ivs.size, frames.length, 'distinct IVs');

  // A wrong key fails every frame.
  const bad = wrongKey(sent.expectation.sa);
  frames.forEach((frame, i) => {
    const seq = firstSeq + BigInt(i);
    const r = checkFrame(frame, { ...bad, seqHigh: setup.esn ? Number(seq >> 32n) : 0 });
    if (r.ok) assert.fail(`frame ${i}: accepted with a wrong key`);
    assert.match(r.field, /^(esp|ah)\.icv$/, `frame ${i}: ${describeMismatch(r)}`);
  });
  if (bad.protocol === 'esp' && bad.integrity !== 'none') {
    // Encrypt-then-MAC: a wrong AES key passes the ICV but cannot yield the segment.
    const badCipher: EspSa = {
      ...bad,
      integrityKey: KEYS.sha1,
      encryptionKey: bad.encryptionKey.map((b, i) => (i === 0 ? b ^ 1 : b)),
    };
    frames.forEach((frame, i) => {
      assert.equal(
        checkFrame(frame, badCipher).ok,
        false,
        `frame ${i}: decrypted with a wrong AES key`
      );
    });
  }

  // No 16-byte run of application data in an encrypted frame (AH carries it in clear by design).
  if (sent.expectation.sa.protocol === 'esp') {
    const leaks = findPlaintextRuns(frames, shape.payload, 16);
    assert.deepEqual(leaks, [], 'plaintext windows found in encrypted frames');
  } else {
    assert.ok(
      findPlaintextRuns(frames, shape.payload, 16, 1).length > 0,
      'AH leaves the payload readable'
    );
  }
}

for (const kind of ['esp-gcm-128', 'esp-cbc-128-sha1', 'ah-sha1'] as const) {
  for (const shape of SHAPES) {
    const count = Math.ceil(shape.payload.length / MSS);
    test(`${KIND_NAMES[kind]}, ${shape.name}: ${count} frames verify, decrypt and reassemble independently; a wrong key fails each; no plaintext run`, () => {
      lsoCase(kind, shape);
    });
  }
}

test('ESP AES-GCM-128 with AdditionalInfo 8 and 12 (truncated ICVs, D5), LSOv2 IPv4, payload exactly 20 × MSS: 20 full frames', () => {
  const exact: Shape = {
    name: 'LSOv2 IPv4, 20 × MSS',
    lsoVersion: 2,
    ipv6: false,
    payload: noisePayload(20 * MSS, 0x0dd_ba11),
    ipId: 0x7ff0,
  };
  lsoCase('esp-gcm-128-icv8', exact);
  lsoCase('esp-gcm-128-icv12', exact);
});

test('AH over IPv6 with HMAC-SHA-256-128 (12 + 16 + 4 padding) and AES-GMAC-128 (IV = sequence number), LSOv2 256 KiB', () => {
  lsoCase('ah-sha256', SHAPES[2]);
  lsoCase('ah-gmac-128', SHAPES[2]);
});

test('UDP-ESP (RFC 3948) AES-GCM-128, LSOv2 IPv4 256 KiB: every segment keeps port 4500 with its own UDP length and checksum 0', () => {
  const n = nic();
  const setup: SaSetup = {
    kind: 'udp-esp-gcm-128',
    spi: nextSpi++,
    esn: false,
    seqHigh: 0,
    ipv6: false,
  };
  const handle = addSa(n, addSaEntry(setup, V4.src, V4.dst));
  const sent = prepare(
    { setup, lsoVersion: 2, payload: PAYLOAD_V2, firstSeq: 77n, ipId: 5 },
    handle
  );
  const frames = send(n, sent);
  assert.equal(statusName(sent.nbl.status), 'NDIS_STATUS_SUCCESS');
  assert.equal(frames.length, Math.ceil(PAYLOAD_V2.length / MSS));
  frames.forEach((frame, i) => {
    const r = checkFrame(frame, { ...sent.expectation.sa, seqHigh: 0 }, { udpEncapsulation: true });
    if (!r.ok) assert.fail(`frame ${i}: ${describeMismatch(r)}`);
    assert.deepEqual(r.value.udp, { srcPort: 4500, dstPort: 4500 });
    assert.equal(r.value.ipsec.seqLow, 77 + i);
  });
});

// ---------------------------------------------------------------------------------------------
// Across the 2^32 sequence-number boundary (contract D3).
// ---------------------------------------------------------------------------------------------

const WRAP_PAYLOAD = noisePayload(8 * MSS + 100, 0x600d_f00d); // 9 segments
const H = 0x0000_0041;

for (const kind of ['esp-gcm-128', 'esp-cbc-128-sha1', 'ah-sha1', 'ah-gmac-128'] as const) {
  test(`${KIND_NAMES[kind]} with ESN, first sequence number 2^32 − 3: segments 0–2 verify only with high half h, segments 3–8 only with h + 1 (D3)`, () => {
    const n = nic();
    const setup: SaSetup = { kind, spi: nextSpi++, esn: true, seqHigh: H, ipv6: false };
    const handle = addSa(n, addSaEntry(setup, V4.src, V4.dst));
    const firstSeq = (BigInt(H) << 32n) | 0xffff_fffdn;
    const sent = prepare(
      { setup, lsoVersion: 2, payload: WRAP_PAYLOAD, firstSeq, ipId: 0x100 },
      handle
    );
    const frames = send(n, sent);
    assert.equal(statusName(sent.nbl.status), 'NDIS_STATUS_SUCCESS');
    assert.equal(frames.length, 9);

    // D3: segment i carries first + i — its low half on the wire, its high half in the ICV/AAD/IV.
    const report = checkLsoFrames(frames, sent.expectation);
    assertNoProblems(report.problems, `${KIND_NAMES[kind]} ESN wrap`);
    assert.deepEqual(
      report.views.map((v) => (v === undefined ? 'bad' : hexNum(v.ipsec.seqLow))),
      [
        '0xfffffffd',
        '0xfffffffe',
        '0xffffffff',
        '0x00000000',
        '0x00000001',
        '0x00000002',
        '0x00000003',
        '0x00000004',
        '0x00000005',
      ]
    );
    const sa = sent.expectation.sa;
    frames.forEach((frame, i) => {
      const high = i < 3 ? H : H + 1;
      const other = i < 3 ? H + 1 : H;
      const good = checkFrame(frame, { ...sa, seqHigh: high });
      if (!good.ok) assert.fail(`frame ${i} with high ${hexNum(high)}: ${describeMismatch(good)}`);
      const r = checkFrame(frame, { ...sa, seqHigh: other });
      assert.equal(r.ok, false, `frame ${i} also verifies with high ${hexNum(other)}`);
    });

    // The NIC does not advance the SA by itself: the transport's UPDATE_SA does (D3). After it,
    // the next NBL continues at low half 6 and verifies with h + 1.
    updateSa(n, handle, setup, H + 1);
    const next = prepare(
      {
        setup,
        lsoVersion: 2,
        payload: WRAP_PAYLOAD.subarray(0, 2 * MSS),
        firstSeq: (BigInt(H + 1) << 32n) | 6n,
        ipId: 0x200,
      },
      handle
    );
    const after = send(n, next);
    assert.equal(statusName(next.nbl.status), 'NDIS_STATUS_SUCCESS');
    assertNoProblems(checkLsoFrames(after, next.expectation).problems, 'after UPDATE_SA');
  });

  test(`${KIND_NAMES[kind]} without ESN, first sequence number 2^32 − 3: the NBL fails with NDIS_STATUS_FAILURE and the link sees 0 frames (D3, D10)`, () => {
    const n = nic();
    const setup: SaSetup = { kind, spi: nextSpi++, esn: false, seqHigh: 0, ipv6: false };
    const handle = addSa(n, addSaEntry(setup, V4.src, V4.dst));
    const sent = prepare(
      { setup, lsoVersion: 2, payload: WRAP_PAYLOAD, firstSeq: 0xffff_fffdn, ipId: 1 },
      handle
    );
    const frames = send(n, sent);
    assert.equal(statusName(sent.nbl.status), statusName(NdisStatus.NDIS_STATUS_FAILURE));
    assert.equal(
      n.mp.counters.get('send.fail:failure:counter-exhausted'),
      1,
      `failed for the sequence-number wrap (counters ${JSON.stringify(n.mp.counters.snapshot())})`
    );
    assert.equal(frames.length, 0, 'nothing of the NBL reached the wire');
    assert.equal(n.wire.length, 0);

    // The last number before the wrap is usable: 9 segments ending exactly at 0xffffffff succeed.
    const fits = prepare(
      { setup, lsoVersion: 2, payload: WRAP_PAYLOAD, firstSeq: 0xffff_fff7n, ipId: 1 },
      handle
    );
    const ok = send(n, fits);
    assert.equal(statusName(fits.nbl.status), 'NDIS_STATUS_SUCCESS');
    assertNoProblems(checkLsoFrames(ok, fits.expectation).problems, 'ending at 0xffffffff');
    assert.equal(checkLsoFrames(ok, fits.expectation).views[8]?.ipsec.seqLow, 0xffff_ffff);
  });
}

test('a chain of three LSO NBLs (good, wrapping without ESN, good): three completions in order, only the good ones on the wire, each verifying (D10, D11)', () => {
  const n = nic();
  const setup: SaSetup = {
    kind: 'esp-cbc-128-sha1',
    spi: nextSpi++,
    esn: false,
    seqHigh: 0,
    ipv6: false,
  };
  const handle = addSa(n, addSaEntry(setup, V4.src, V4.dst));
  const a = prepare(
    { setup, lsoVersion: 2, payload: WRAP_PAYLOAD, firstSeq: 100n, ipId: 10 },
    handle
  );
  const b = prepare(
    { setup, lsoVersion: 2, payload: WRAP_PAYLOAD, firstSeq: 0xffff_fffdn, ipId: 19 },
    handle
  );
  const c = prepare(
    { setup, lsoVersion: 1, payload: WRAP_PAYLOAD, firstSeq: 109n, ipId: 28 },
    handle
  );
  a.nbl.next = b.nbl;
  b.nbl.next = c.nbl;
  sendNetBufferLists(n.mp, a.nbl);
  assert.deepEqual(n.completed, [a.nbl, b.nbl, c.nbl], 'each NBL completed once, in order');
  assert.deepEqual(
    n.completed.map((x) => statusName(x.status)),
    ['NDIS_STATUS_SUCCESS', 'NDIS_STATUS_FAILURE', 'NDIS_STATUS_SUCCESS']
  );
  assert.equal(decodeLsoV1TransmitComplete(getLso(c.nbl)).TcpPayload, WRAP_PAYLOAD.length);
  assert.equal(n.wire.length, 18, '9 frames each from the first and the third NBL');
  assertNoProblems(checkLsoFrames(n.wire.slice(0, 9), a.expectation).problems, 'first NBL');
  assertNoProblems(checkLsoFrames(n.wire.slice(9), c.expectation).problems, 'third NBL');
});
