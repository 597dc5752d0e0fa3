/**
 * The control path through its binary OID buffers: every SA is added with the real encoders of
 * `ndis/` and every outcome is read back from the buffer, the status, the counters and the SA
 * table. Each test is named after the rule it checks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createAuth } from '../crypto/ah.ts';
import { createEsp } from '../crypto/esp.ts';
import { seededRandom } from '../crypto/random.ts';
import type { AuthTransform, EspTransform } from '../crypto/transform.ts';
import { ARCHES, type Arch } from '../ndis/abi.ts';
import { ADD_SA, encodeAddSaList, readAddSaHandle } from '../ndis/addsa.ts';
import { ADD_SA_EX, encodeAddSaEx, readAddSaExHandle } from '../ndis/addsaex.ts';
import {
  decodeIpsecOffloadV2,
  defaultCapabilities,
  encodeOffloadParameters,
  noChange,
  type IpsecOffloadV2,
  type Offload,
  type OffloadParameters,
} from '../ndis/caps.ts';
import { DELETE_SA, encodeDeleteSaList } from '../ndis/deletesa.ts';
import {
  Authentication as A,
  Encapsulation,
  Encryption as E,
  Oid,
  OffloadParameter as P,
  Operation as OP,
  SaFlags,
  UdpEsp,
} from '../ndis/oid.ts';
import type { AlgorithmInfo, SaBundle, SecurityAssociation } from '../ndis/sa.ts';
import { NdisStatus as S, statusName } from '../ndis/status.ts';
import { encodeUpdateSa, UPDATE_SA, type UpdateSa } from '../ndis/updatesa.ts';
import { oidRequest, type OidRequest, type OidResult } from './ctrlpath.ts';
import { currentOffload, hardwareCapabilities } from './oid-config.ts';
import {
  decodeOffloadEncapsulation,
  encodeOffloadEncapsulation,
  OffloadSet,
  OFFLOAD_ENCAPSULATION,
  type OffloadEncapsulation,
} from '../ndis/encapsulation.ts';
import { Miniport, type StatusIndication } from './miniport.ts';

// ---------------------------------------------------------------------------------------------
// Fixtures: a miniport, SA bundles, OID buffers.
// ---------------------------------------------------------------------------------------------

const BASE = { x64: 0xffffc000_12340000n, x86: 0x8a120000n } as const;

interface Fixture {
  readonly mp: Miniport;
  readonly indications: StatusIndication[];
}

/** A miniport built from `defaultCapabilities()` with `patch` applied to its IPsecV2 record. */
function miniport(
  o: { arch?: Arch; ipsec?: Partial<IpsecOffloadV2>; caps?: (c: Offload) => Offload } = {}
): Fixture {
  const indications: StatusIndication[] = [];
  const base = defaultCapabilities();
  const withIpsec: Offload = { ...base, IPsecV2: { ...base.IPsecV2, ...o.ipsec } };
  const mp = new Miniport({
    capabilities: o.caps ? o.caps(withIpsec) : withIpsec,
    arch: o.arch ?? 'x64',
    link: {
      transmit(): void {
        /* no frames in control-path tests */
      },
    },
    complete(): void {
      /* no NBLs in control-path tests */
    },
    indicateStatus: (i) => indications.push(i),
    random: seededRandom(7),
  });
  return { mp, indications };
}

const NONE: AlgorithmInfo = { identifier: 0, keyLength: 0, keyOffsetBytes: 0, additionalInfo: 0 };

function alg(
  identifier: number,
  keyLength: number,
  keyOffsetBytes = 0,
  additionalInfo = 0
): AlgorithmInfo {
  return { identifier, keyLength, keyOffsetBytes, additionalInfo };
}

function secAssoc(
  operation: number,
  spi: number,
  o: Partial<Omit<SecurityAssociation, 'operation' | 'spi'>> = {}
): SecurityAssociation {
  return {
    flags: 0,
    operation,
    spi,
    authenticationAlgorithm: NONE,
    encryptionAlgorithm: NONE,
    sequenceNumberHighOrder: 0,
    ...o,
  };
}

/** `n` key bytes that differ from any other key of the test (seed, seed+1, …). */
function keyBytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed + i * 7) & 0xff);
}

interface EntryOptions {
  readonly inbound?: boolean;
  readonly ipv6?: boolean;
  readonly udp?: number;
  readonly handle?: bigint;
}

function entry(
  secAssocs: SecurityAssociation[],
  keyData: Uint8Array,
  o: EntryOptions = {}
): SaBundle {
  const ipv6 = o.ipv6 ?? false;
  return {
    numExtHdrs: secAssocs.length,
    flags: { inbound: o.inbound ?? false, ipv6 },
    src: ipv6 ? keyBytes(16, 0x20) : Uint8Array.of(192, 0, 2, 1),
    dst: ipv6 ? keyBytes(16, 0x40) : Uint8Array.of(198, 51, 100, 7),
    udpEspEncapsulation: o.udp ?? 0,
    secAssoc: secAssocs,
    keyData,
    offloadHandle: o.handle ?? 0n,
  };
}

interface SaOptions extends EntryOptions {
  readonly esn?: boolean;
  readonly seqHigh?: number;
}

function saFlags(o: SaOptions): Partial<SecurityAssociation> {
  return {
    flags: o.esn ? SaFlags.IPSEC_OFFLOAD_V2_ESN_SA : 0,
    sequenceNumberHighOrder: o.seqHigh ?? 0,
  };
}

/** ESP AES-GCM-128 (key ‖ salt = 20 bytes, contract D5), ICV from AdditionalInfo. */
function gcm(spi: number, o: SaOptions & { icv?: number } = {}): SaBundle {
  const enc = alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 20, 0, o.icv ?? 0);
  return entry(
    [secAssoc(OP.IPsecOffloadV2Esp, spi, { encryptionAlgorithm: enc, ...saFlags(o) })],
    keyBytes(20, spi),
    o
  );
}

/** ESP AES-CBC-128 + HMAC-SHA1-96: cipher key at 0, HMAC key at 16. */
function cbcSha1(spi: number, o: SaOptions = {}): SaBundle {
  return entry(
    [
      secAssoc(OP.IPsecOffloadV2Esp, spi, {
        encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128, 16, 0),
        authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 20, 16),
        ...saFlags(o),
      }),
    ],
    keyBytes(36, spi),
    o
  );
}

/** AH HMAC-SHA-256-128. */
function ahSha256(spi: number, o: SaOptions = {}): SaBundle {
  return entry(
    [
      secAssoc(OP.IPsecOffloadV2Ah, spi, {
        authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256, 32, 0),
        ...saFlags(o),
      }),
    ],
    keyBytes(32, spi),
    o
  );
}

/** ESP NULL + AES-GMAC-128 (RFC 4543 ENCR_NULL_AUTH_AES_GMAC). */
function nullGmac(spi: number, o: SaOptions = {}): SaBundle {
  return entry(
    [
      secAssoc(OP.IPsecOffloadV2Esp, spi, {
        encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_NONE, 0, 0),
        authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128, 20, 0),
        ...saFlags(o),
      }),
    ],
    keyBytes(20, spi),
    o
  );
}

/**
 * An AH+ESP bundle in processing order [ESP, AH] (reference §1.11), its keys deliberately out of
 * element order: AH key at 0, ESP AES-CBC key at 32, ESP HMAC key at 48.
 */
function ahEsp(espSpi: number, ahSpi: number, o: SaOptions = {}): SaBundle {
  return entry(
    [
      secAssoc(OP.IPsecOffloadV2Esp, espSpi, {
        encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128, 16, 32),
        authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 20, 48),
        ...saFlags(o),
      }),
      secAssoc(OP.IPsecOffloadV2Ah, ahSpi, {
        authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256, 32, 0),
        ...saFlags(o),
      }),
    ],
    keyBytes(68, espSpi),
    o
  );
}

interface Encoded {
  readonly request: OidRequest;
  readonly bytes: Uint8Array;
  readonly entryOffsets: readonly number[];
  readonly arch: Arch;
}

function addSaRequest(entries: SaBundle[], arch: Arch = 'x64'): Encoded {
  const { bytes, entryOffsets } = encodeAddSaList(entries, BASE[arch], arch);
  return {
    request: {
      type: 'set',
      oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
      buffer: bytes,
      baseAddress: BASE[arch],
    },
    bytes,
    entryOffsets,
    arch,
  };
}

function handlesOf(e: Encoded): bigint[] {
  return e.entryOffsets.map((o) => readAddSaHandle(e.bytes, o, e.arch));
}

/** Adds `entries` by ADD_SA and returns their handles (asserting success). */
function add(mp: Miniport, entries: SaBundle[]): bigint[] {
  const e = addSaRequest(entries, mp.arch);
  const r = oidRequest(mp, e.request);
  assert.equal(statusName(r.status), 'NDIS_STATUS_SUCCESS');
  return handlesOf(e);
}

function deleteRequest(handles: bigint[], arch: Arch = 'x64'): OidRequest {
  const { bytes } = encodeDeleteSaList(handles, BASE[arch], arch);
  return {
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA,
    buffer: bytes,
    baseAddress: BASE[arch],
  };
}

function updateRequest(updates: UpdateSa[], arch: Arch = 'x64'): OidRequest {
  const parts = updates.map((u) => encodeUpdateSa(u, arch));
  const buffer = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (buffer.set(p, at), at + p.length), 0);
  return { type: 'set', oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA, buffer };
}

function parametersRequest(p: Partial<OffloadParameters>): OidRequest {
  return {
    type: 'set',
    oid: Oid.OID_TCP_OFFLOAD_PARAMETERS,
    buffer: encodeOffloadParameters({ ...noChange(), ...p }),
  };
}

function encapsulationRequest(e: OffloadEncapsulation): OidRequest {
  return { type: 'set', oid: Oid.OID_OFFLOAD_ENCAPSULATION, buffer: encodeOffloadEncapsulation(e) };
}

function status(r: OidResult): string {
  return statusName(r.status);
}

/** Everything a refused request must leave alone. */
function snapshot(mp: Miniport): unknown {
  return {
    handles: Array.from(mp.saTable.bundles(), (b) => b.handle),
    seqHigh: Array.from(mp.saTable.bundles(), (b) => b.elements.map((e) => e.seqHigh)),
    config: structuredClone(mp.config),
    state: mp.state,
  };
}

/** An ESP packet for `t`: SPI ‖ Seq ‖ IV ‖ two pad-aligned blocks of body ‖ ICV. */
function espPacket(t: EspTransform): Uint8Array {
  const body = 2 * t.padAlign;
  const p = new Uint8Array(8 + t.ivLength + body + t.icvLength);
  p.set([0, 0, 0x10, 0x01, 0, 0, 0, 5]);
  for (let i = 0; i < body; i++) p[8 + t.ivLength + i] = i;
  return p;
}

/** The bytes `t` seals the same packet into (CBC IVs given explicitly, so runs compare). */
function sealed(t: EspTransform, seqHigh = 0): Uint8Array {
  const p = espPacket(t);
  t.seal(p, seqHigh, t.ivLength > 0 ? new Uint8Array(t.ivLength).fill(0x5a) : undefined);
  return p;
}

function mac(t: AuthTransform): Uint8Array {
  const out = new Uint8Array(t.icvLength);
  t.compute(keyBytes(64, 3), 0, t.ivLength > 0 ? new Uint8Array(t.ivLength) : null, out);
  return out;
}

// ---------------------------------------------------------------------------------------------
// ADD_SA.
// ---------------------------------------------------------------------------------------------

test('D15: ADD_SA writes a distinct non-zero handle into every offloaded entry, on x64 and x86', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const e = addSaRequest(
      [
        gcm(0x1001),
        cbcSha1(0x1002, { inbound: true }),
        ahEsp(0x1003, 0x1004),
        ahSha256(0x1005, { ipv6: true }),
      ],
      arch
    );
    const r = oidRequest(mp, e.request);
    assert.equal(status(r), 'NDIS_STATUS_SUCCESS', arch);
    assert.equal(r.bytesRead, e.bytes.length);
    const handles = handlesOf(e);
    assert.ok(
      handles.every((h) => h !== 0n),
      arch
    );
    assert.equal(new Set(handles).size, 4, arch);
    assert.equal(mp.saTable.size, 4);
    assert.deepEqual(
      handles.map((h) => mp.saTable.get(h)!.elements.map((x) => x.spi)),
      [[0x1001], [0x1002], [0x1003, 0x1004], [0x1005]]
    );
    assert.equal(mp.counters.get('oid.add-sa.offloaded'), 4);
  }
});

test("D15: ADD_SA with an unknown algorithm leaves that entry's handle NULL and offloads the rest", () => {
  const { mp } = miniport();
  const bad = gcm(0x2002);
  const unknown = entry(
    [secAssoc(OP.IPsecOffloadV2Esp, 0x2002, { encryptionAlgorithm: alg(0x200, 20, 0) })],
    bad.keyData
  );
  const e = addSaRequest([gcm(0x2001), unknown, gcm(0x2003)]);
  const r = oidRequest(mp, e.request);
  assert.equal(status(r), 'NDIS_STATUS_SUCCESS');
  const [h1, h2, h3] = handlesOf(e);
  assert.ok(h1 !== 0n && h3 !== 0n);
  assert.equal(h2, 0n);
  assert.equal(mp.saTable.size, 2);
  assert.equal(mp.counters.get('oid.add-sa.reject:algorithm-not-supported'), 1);
});

test('D15: ADD_SA writes NULL over whatever OffloadHandle a refused entry carried in', () => {
  const { mp } = miniport();
  const e = addSaRequest([gcm(0x2101), gcm(0x2102, { icv: 7, handle: 0xdeadbeefn })]);
  assert.equal(status(oidRequest(mp, e.request)), 'NDIS_STATUS_SUCCESS');
  assert.equal(handlesOf(e)[1], 0n);
});

/** One refused entry per reason; `caps` narrows the NIC where the reason needs it. */
const REFUSALS: readonly {
  readonly reason: string;
  readonly what: string;
  readonly entry: SaBundle;
  readonly ipsec?: Partial<IpsecOffloadV2>;
}[] = [
  {
    reason: 'algorithm-not-supported',
    what: 'an encryption identifier no header defines',
    entry: entry(
      [secAssoc(OP.IPsecOffloadV2Esp, 0x3001, { encryptionAlgorithm: alg(0x200, 16) })],
      keyBytes(16, 1)
    ),
  },
  {
    reason: 'algorithm-not-supported',
    what: 'two algorithm bits in one Identifier',
    entry: entry(
      [secAssoc(OP.IPsecOffloadV2Esp, 0x3001, { encryptionAlgorithm: alg(0x48, 16) })],
      keyBytes(16, 1)
    ),
  },
  {
    reason: 'algorithm-not-supported',
    what: 'an algorithm missing from EncryptionAlgorithms',
    entry: gcm(0x3001),
    ipsec: { EncryptionAlgorithms: E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128 },
  },
  {
    reason: 'algorithm-not-supported',
    what: 'an algorithm missing from AuthenticationAlgorithms',
    entry: ahSha256(0x3001),
    ipsec: { AuthenticationAlgorithms: A.IPSEC_OFFLOAD_V2_AUTHENTICATION_MD5 },
  },
  {
    reason: 'key-length',
    what: 'an AES-GCM-128 key without its 4-byte salt (16, not 20: D5)',
    entry: entry(
      [
        secAssoc(OP.IPsecOffloadV2Esp, 0x3001, {
          encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 16),
        }),
      ],
      keyBytes(20, 1)
    ),
  },
  {
    reason: 'key-length',
    what: 'an HMAC-SHA1 key of 16 bytes',
    entry: entry(
      [
        secAssoc(OP.IPsecOffloadV2Esp, 0x3001, {
          encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128, 16, 0),
          authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 16, 16),
        }),
      ],
      keyBytes(36, 1)
    ),
  },
  {
    reason: 'key-range',
    what: 'KeyOffsetBytes + KeyLength past the end of KeyData',
    entry: entry(
      [
        secAssoc(OP.IPsecOffloadV2Esp, 0x3001, {
          encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 20, 4),
        }),
      ],
      keyBytes(20, 1)
    ),
  },
  { reason: 'icv-length', what: 'AES-GCM AdditionalInfo 4', entry: gcm(0x3001, { icv: 4 }) },
  { reason: 'icv-length', what: 'AES-GCM AdditionalInfo 24', entry: gcm(0x3001, { icv: 24 }) },
  {
    reason: 'esn-not-supported',
    what: 'IPSEC_OFFLOAD_V2_ESN_SA without ExtendedSequenceNumbers',
    entry: gcm(0x3001, { esn: true }),
    ipsec: { ExtendedSequenceNumbers: false },
  },
  {
    reason: 'ipv6-not-supported',
    what: 'IPSEC_OFFLOAD_V2_IPv6 without IPv6Supported',
    entry: gcm(0x3001, { ipv6: true }),
    ipsec: { IPv6Supported: false },
  },
  {
    reason: 'udp-esp-type',
    what: 'a UDP-ESP type the NIC does not advertise',
    entry: gcm(0x3001, { udp: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL }),
    ipsec: { UdpEsp: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT },
  },
  { reason: 'udp-esp-type', what: 'two UDP-ESP types at once', entry: gcm(0x3001, { udp: 3 }) },
  { reason: 'udp-esp-type', what: 'UDP-ESP on an AH SA', entry: ahSha256(0x3001, { udp: 1 }) },
  {
    reason: 'ah-esp-combined',
    what: 'an AH+ESP bundle without AhEspCombined',
    entry: ahEsp(0x3001, 0x3002),
    ipsec: { AhEspCombined: false },
  },
  {
    reason: 'ah-esp-order',
    what: 'SecAssoc [AH, ESP] (the processing order is ESP then AH)',
    entry: { ...ahEsp(0x3001, 0x3002), secAssoc: [...ahEsp(0x3001, 0x3002).secAssoc].reverse() },
  },
  {
    reason: 'operation',
    what: 'Operation IPsecOffloadV2Max (3)',
    entry: entry([secAssoc(OP.IPsecOffloadV2Max, 0x3001)], new Uint8Array(0)),
  },
  {
    reason: 'algorithm-combination',
    what: 'AH with an EncryptionAlgorithm',
    entry: entry(
      [
        secAssoc(OP.IPsecOffloadV2Ah, 0x3001, {
          authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256, 32, 0),
          encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128, 16, 32),
        }),
      ],
      keyBytes(48, 1)
    ),
  },
  {
    reason: 'algorithm-combination',
    what: 'ESP with null encryption and no integrity',
    entry: entry(
      [
        secAssoc(OP.IPsecOffloadV2Esp, 0x3001, {
          encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_NONE, 0),
        }),
      ],
      new Uint8Array(0)
    ),
  },
  {
    reason: 'algorithm-combination',
    what: 'AES-GMAC integrity with AES-CBC encryption',
    entry: entry(
      [
        secAssoc(OP.IPsecOffloadV2Esp, 0x3001, {
          encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128, 16, 0),
          authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_128, 20, 16),
        }),
      ],
      keyBytes(36, 1)
    ),
  },
  { reason: 'spi-zero', what: 'SPI 0 (RFC 4303 §2.1)', entry: gcm(0) },
  {
    reason: 'ah-not-supported',
    what: 'AH on a NIC without Ah',
    entry: ahSha256(0x3001),
    ipsec: { Ah: false },
  },
  {
    reason: 'esp-not-supported',
    what: 'ESP on a NIC without Esp',
    entry: gcm(0x3001),
    ipsec: { Esp: false },
  },
];

for (const c of REFUSALS) {
  test(`D15: ADD_SA refuses ${c.what} (${c.reason}) with NDIS_STATUS_FAILURE and changes nothing`, () => {
    for (const arch of ARCHES) {
      const { mp } = miniport({ arch, ...(c.ipsec ? { ipsec: c.ipsec } : {}) });
      const e = addSaRequest([c.entry], arch);
      const before = Uint8Array.from(e.bytes);
      const r = oidRequest(mp, e.request);
      assert.equal(status(r), 'NDIS_STATUS_FAILURE', arch);
      assert.equal(mp.saTable.size, 0);
      assert.deepEqual(e.bytes, before, 'the buffer, NULL handle included, is unchanged');
      assert.equal(
        mp.counters.get(`oid.add-sa.reject:${c.reason}`),
        1,
        JSON.stringify(mp.counters.snapshot())
      );
    }
  });
}

test('D15: ADD_SA truncated at every length fails with BUFFER_TOO_SHORT (with BytesNeeded) or INVALID_DATA and adds nothing', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const e = addSaRequest([cbcSha1(0x4001), ahEsp(0x4002, 0x4003)], arch);
    for (let n = 0; n < e.bytes.length; n++) {
      const buffer = e.bytes.slice(0, n);
      const r = oidRequest(mp, { ...e.request, buffer });
      const s = status(r);
      assert.ok(
        ['NDIS_STATUS_BUFFER_TOO_SHORT', 'NDIS_STATUS_INVALID_DATA'].includes(s),
        `${arch} ${n}: ${s}`
      );
      if (s === 'NDIS_STATUS_BUFFER_TOO_SHORT') assert.ok(r.bytesNeeded > n, `${arch} ${n}`);
      // Cut before the second entry, the first entry's Next points outside the buffer: INVALID_DATA.
      if (
        n >= ADD_SA[arch].KeyData + 36 &&
        n < e.entryOffsets[1] + ADD_SA[arch].SIZEOF_REVISION_1
      ) {
        assert.equal(
          s,
          n <= e.entryOffsets[1] ? 'NDIS_STATUS_INVALID_DATA' : 'NDIS_STATUS_BUFFER_TOO_SHORT'
        );
      }
      assert.deepEqual(buffer, e.bytes.slice(0, n));
      assert.equal(mp.saTable.size, 0);
    }
  }
});

test('D15: ADD_SA with a wrong Header (Type, Revision, Size) fails with NDIS_STATUS_INVALID_LENGTH', () => {
  for (const [offset, value] of [
    [0, 0x81],
    [1, 0],
    [2, 0x10],
  ] as const) {
    const { mp } = miniport();
    const e = addSaRequest([gcm(0x4101)]);
    e.bytes[offset] = value;
    if (offset === 2) e.bytes[3] = 0;
    const r = oidRequest(mp, e.request);
    assert.equal(status(r), 'NDIS_STATUS_INVALID_LENGTH', `byte ${offset}`);
    assert.equal(mp.saTable.size, 0);
    assert.equal(readAddSaHandle(e.bytes, 0, 'x64'), 0n);
  }
});

test('D15: ADD_SA with a bad Next (misaligned, outside the buffer, a cycle, into an entry) fails with INVALID_DATA and adds nothing', () => {
  for (const arch of ARCHES) {
    const size = arch === 'x64' ? 8 : 4;
    const L = ADD_SA[arch];
    const cases: [string, (e: Encoded) => bigint][] = [
      ['misaligned', (e) => BASE[arch] + BigInt(e.entryOffsets[1]) + 2n],
      ['outside the buffer', (e) => BASE[arch] + BigInt(e.bytes.length)],
      ['below the buffer', () => BASE[arch] - BigInt(size)],
      ['a cycle back to the first entry', () => BASE[arch]],
      ['into the first entry', () => BASE[arch] + BigInt(size)],
    ];
    for (const [what, target] of cases) {
      const { mp } = miniport({ arch });
      const e = addSaRequest([gcm(0x4201), gcm(0x4202), gcm(0x4203)], arch);
      // Point the second entry's Next somewhere bad.
      const dv = new DataView(e.bytes.buffer);
      const at = e.entryOffsets[1] + L.Next;
      if (arch === 'x64') dv.setBigUint64(at, target(e), true);
      else dv.setUint32(at, Number(target(e)), true);
      const before = Uint8Array.from(e.bytes);
      const r = oidRequest(mp, e.request);
      assert.equal(status(r), 'NDIS_STATUS_INVALID_DATA', `${arch}: ${what}`);
      assert.equal(mp.saTable.size, 0, `${arch}: ${what}`);
      assert.deepEqual(e.bytes, before, `${arch}: ${what}: no handle written`);
      assert.equal(mp.counters.get('oid.add-sa.malformed:Next'), 1);
    }
  }
});

test('D12/D15: SaOffloadCapacity counts entries: the entry that overflows keeps a NULL handle, earlier ones stay', () => {
  const { mp } = miniport({ ipsec: { SaOffloadCapacity: 2 } });
  const e = addSaRequest([gcm(0x5001), ahEsp(0x5002, 0x5003), gcm(0x5004)]);
  assert.equal(status(oidRequest(mp, e.request)), 'NDIS_STATUS_SUCCESS');
  const [h1, h2, h3] = handlesOf(e);
  assert.ok(h1 !== 0n && h2 !== 0n);
  assert.equal(h3, 0n);
  assert.equal(mp.saTable.size, 2);
  assert.equal(mp.counters.get('oid.add-sa.reject:capacity'), 1);
});

test('D15: ADD_SA to a full table fails with NDIS_STATUS_RESOURCES (ADD_SA_EX too) and changes nothing', () => {
  const { mp } = miniport({ ipsec: { SaOffloadCapacity: 1 } });
  add(mp, [gcm(0x5101)]);
  const before = snapshot(mp);
  const e = addSaRequest([gcm(0x5102), gcm(0x5103, { icv: 3 })]);
  assert.equal(status(oidRequest(mp, e.request)), 'NDIS_STATUS_RESOURCES');
  assert.deepEqual(handlesOf(e), [0n, 0n]);
  const ex = encodeAddSaEx(gcm(0x5104, { handle: 0x77n }), 'x64');
  const r = oidRequest(mp, {
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX,
    buffer: ex,
  });
  assert.equal(status(r), 'NDIS_STATUS_RESOURCES');
  assert.equal(readAddSaExHandle(ex, 'x64'), 0n);
  assert.deepEqual(snapshot(mp), before);
});

test('D15: ADD_SA refuses an inbound SPI already held for the same protocol and destination', () => {
  const { mp } = miniport();
  add(mp, [gcm(0x5201, { inbound: true })]);
  const e = addSaRequest([
    gcm(0x5201, { inbound: true }), // same as the table's
    gcm(0x5202, { inbound: true }),
    cbcSha1(0x5202, { inbound: true }), // same as the entry before it
    ahSha256(0x5202, { inbound: true }), // AH: another protocol, so another SA
    gcm(0x5201), // outbound: found by handle, not by SPI
  ]);
  assert.equal(status(oidRequest(mp, e.request)), 'NDIS_STATUS_SUCCESS');
  assert.deepEqual(
    handlesOf(e).map((h) => h !== 0n),
    [false, true, false, true, true]
  );
  assert.equal(mp.counters.get('oid.add-sa.reject:spi-in-use'), 2);
});

test('D5: ADD_SA keys each SA from KeyData at its KeyOffsetBytes (an AH+ESP bundle with keys out of order)', () => {
  const { mp } = miniport();
  const b = ahEsp(0x6001, 0x6002, { esn: true, seqHigh: 9 });
  const [h] = add(mp, [b]);
  const [esp, ah] = mp.saTable.get(h)!.elements;
  assert.equal(esp.operation, 'esp');
  assert.equal(ah.operation, 'ah');
  assert.equal(esp.seqHigh, 9);
  assert.equal(esp.esn, true);
  const k = keyBytes(68, 0x6001);
  const direct = createEsp({
    encryption: 'aes-cbc-128',
    integrity: 'hmac-sha1-96',
    encryptionKey: k.subarray(32, 48),
    integrityKey: k.subarray(48, 68),
    esn: true,
  });
  assert.deepEqual(sealed(esp.esp!, 9), sealed(direct, 9));
  const directAh = createAuth({ integrity: 'hmac-sha256-128', key: k.subarray(0, 32), esn: true });
  assert.deepEqual(mac(ah.auth!), mac(directAh));
});

test('D5: an AES-GCM SA takes key ‖ salt and the ICV length from AdditionalInfo (0 means 16)', () => {
  const { mp } = miniport();
  const handles = add(mp, [
    gcm(0x6101),
    gcm(0x6102, { icv: 8 }),
    gcm(0x6103, { icv: 12 }),
    gcm(0x6104, { icv: 16 }),
  ]);
  assert.deepEqual(
    handles.map((h) => mp.saTable.get(h)!.elements[0].esp!.icvLength),
    [16, 8, 12, 16]
  );
  const direct = createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: keyBytes(20, 0x6102),
    icvLength: 8,
    esn: false,
  });
  assert.deepEqual(sealed(mp.saTable.get(handles[1])!.elements[0].esp!), sealed(direct));
});

test('D8: handles are never reused: add, delete, add again gives a new handle and the old one stays invalid', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const [old] = add(mp, [gcm(0x7001, { esn: true })]);
    assert.equal(status(oidRequest(mp, deleteRequest([old], arch))), 'NDIS_STATUS_SUCCESS');
    const [fresh] = add(mp, [gcm(0x7001, { esn: true })]);
    assert.notEqual(fresh, old);
    assert.notEqual(fresh, 0n);
    assert.equal(mp.saTable.get(old), undefined);
    assert.equal(
      status(oidRequest(mp, deleteRequest([old], arch))),
      'NDIS_STATUS_INVALID_PARAMETER'
    );
    const u = updateRequest(
      [
        {
          offloadHandle: old,
          operation: OP.IPsecOffloadV2Esp,
          spi: 0x7001,
          sequenceNumberHighOrder: 1,
        },
      ],
      arch
    );
    assert.equal(status(oidRequest(mp, u)), 'NDIS_STATUS_INVALID_PARAMETER');
    assert.equal(mp.saTable.size, 1);
  }
});

test("keys are zeroed on DELETE_SA: the deleted SA's transforms refuse to work afterwards", () => {
  const { mp } = miniport();
  const [h] = add(mp, [ahEsp(0x7101, 0x7102)]);
  const [esp, ah] = mp.saTable.get(h)!.elements;
  const espT = esp.esp!;
  const ahT = ah.auth!;
  sealed(espT);
  mac(ahT); // both work while the SA exists
  assert.equal(status(oidRequest(mp, deleteRequest([h]))), 'NDIS_STATUS_SUCCESS');
  assert.throws(() => sealed(espT), /destroy/);
  assert.throws(() => mac(ahT), /destroy/);
  assert.equal(mp.counters.get('oid.delete-sa.deleted'), 1);
});

test('fast-check: random valid ADD_SA lists always get distinct non-zero handles (x64 and x86)', () => {
  const kinds = [
    gcm,
    cbcSha1,
    ahSha256,
    nullGmac,
    (spi: number, o: SaOptions) => ahEsp(spi, spi + 1, o),
  ] as const;
  fc.assert(
    fc.property(
      fc.constantFrom(...ARCHES),
      fc.uniqueArray(fc.integer({ min: 2, max: 0x7fff_fffe }), {
        minLength: 1,
        maxLength: 6,
        selector: (s) => s >> 1,
      }),
      fc.array(
        fc.record({
          kind: fc.nat(kinds.length - 1),
          inbound: fc.boolean(),
          ipv6: fc.boolean(),
          esn: fc.boolean(),
        }),
        {
          minLength: 6,
          maxLength: 6,
        }
      ),
      (arch, spis, shapes) => {
        const { mp } = miniport({ arch });
        const before = add(mp, [gcm(0x10)]);
        const list = spis.map((spi, i) => {
          const s = shapes[i];
          return kinds[s.kind]((spi >> 1) << 1, { inbound: s.inbound, ipv6: s.ipv6, esn: s.esn });
        });
        const handles = add(mp, list);
        assert.ok(handles.every((h) => h !== 0n));
        assert.equal(new Set([...before, ...handles]).size, handles.length + 1);
        assert.equal(mp.saTable.size, handles.length + 1);
      }
    ),
    { numRuns: 60 }
  );
});

/** Any ALGORITHM_INFO, biased towards values that almost work. */
const anyAlgorithm: fc.Arbitrary<AlgorithmInfo> = fc.record({
  identifier: fc.oneof(fc.constantFrom(0, 1, 2, 4, 8, 0x10, 0x20, 0x40, 0x80, 0x100), fc.nat()),
  keyLength: fc.oneof(fc.constantFrom(0, 8, 16, 20, 24, 28, 32, 36), fc.nat(80)),
  keyOffsetBytes: fc.oneof(fc.constant(0), fc.nat(80), fc.nat()),
  additionalInfo: fc.oneof(fc.constantFrom(0, 8, 12, 16), fc.nat()),
});

const anySecAssoc: fc.Arbitrary<SecurityAssociation> = fc.record({
  flags: fc.oneof(fc.constantFrom(0, 1), fc.nat()),
  operation: fc.constantFrom(0, 1, 2, 3),
  spi: fc.oneof(fc.constant(0), fc.nat()),
  authenticationAlgorithm: anyAlgorithm,
  encryptionAlgorithm: anyAlgorithm,
  sequenceNumberHighOrder: fc.nat(),
});

const anyEntry: fc.Arbitrary<SaBundle> = fc
  .record({
    secAssoc: fc.array(anySecAssoc, { minLength: 1, maxLength: 2 }),
    keyData: fc.uint8Array({ maxLength: 80 }),
    inbound: fc.boolean(),
    ipv6: fc.boolean(),
    udp: fc.constantFrom(0, 1, 2, 3, 4, 8, 16),
  })
  .map((r) => entry(r.secAssoc, r.keyData, { inbound: r.inbound, ipv6: r.ipv6, udp: r.udp }));

test('fast-check: whatever an ADD_SA entry holds, the OID never throws, and a refused request adds nothing', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...ARCHES),
      fc.array(anyEntry, { minLength: 1, maxLength: 4 }),
      (arch, entries) => {
        const { mp } = miniport({ arch });
        const e = addSaRequest(entries, arch);
        const r = oidRequest(mp, e.request);
        const handles = handlesOf(e).filter((h) => h !== 0n);
        if (r.status === S.NDIS_STATUS_SUCCESS) assert.ok(handles.length > 0);
        else {
          assert.equal(status(r), 'NDIS_STATUS_FAILURE');
          assert.equal(handles.length, 0);
        }
        assert.equal(mp.saTable.size, handles.length);
        assert.equal(mp.counters.sum('oid.add-sa.reject:') + handles.length, entries.length);
      }
    ),
    { numRuns: 300 }
  );
});

// ---------------------------------------------------------------------------------------------
// ADD_SA_EX.
// ---------------------------------------------------------------------------------------------

function addSaExRequest(b: SaBundle, arch: Arch = 'x64', keyOffset?: number): OidRequest {
  const buffer = encodeAddSaEx(keyOffset === undefined ? b : { ...b, keyOffset }, arch);
  return { type: 'set', oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX, buffer };
}

test('D15: ADD_SA_EX offloads one bundle and writes its non-zero handle, on x64 and x86', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const req = addSaExRequest(ahEsp(0x8001, 0x8002), arch);
    assert.equal(status(oidRequest(mp, req)), 'NDIS_STATUS_SUCCESS');
    const h = readAddSaExHandle(req.buffer, arch);
    assert.notEqual(h, 0n);
    assert.deepEqual(
      mp.saTable.get(h)!.elements.map((e) => e.spi),
      [0x8001, 0x8002]
    );
  }
});

test('ADD_SA_EX: KeyOffset counts from the structure start, each KeyOffsetBytes from the key array', () => {
  const { mp } = miniport();
  const req = addSaExRequest(gcm(0x8101), 'x64', ADD_SA_EX.x64.size + 24);
  assert.equal(status(oidRequest(mp, req)), 'NDIS_STATUS_SUCCESS');
  const h = readAddSaExHandle(req.buffer, 'x64');
  const direct = createEsp({
    encryption: 'aes-gcm-128',
    integrity: null,
    encryptionKey: keyBytes(20, 0x8101),
    esn: false,
  });
  assert.deepEqual(sealed(mp.saTable.get(h)!.elements[0].esp!), sealed(direct));
});

test('D15: ADD_SA_EX with an unsupported algorithm fails with NDIS_STATUS_NOT_SUPPORTED and a NULL handle', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({
      arch,
      ipsec: { EncryptionAlgorithms: E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128 },
    });
    const req = addSaExRequest(gcm(0x8201, { handle: 0x1234n }), arch);
    assert.equal(status(oidRequest(mp, req)), 'NDIS_STATUS_NOT_SUPPORTED');
    assert.equal(readAddSaExHandle(req.buffer, arch), 0n);
    assert.equal(mp.saTable.size, 0);
    assert.equal(mp.counters.get('oid.add-sa-ex.reject:algorithm-not-supported'), 1);
  }
});

test('D15: ADD_SA_EX truncated at every length or with a wrong Header fails and adds nothing', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const req = addSaExRequest(cbcSha1(0x8301), arch);
    for (let n = 0; n < req.buffer.length; n++) {
      const buffer = req.buffer.slice(0, n);
      const r = oidRequest(mp, { ...req, buffer });
      assert.equal(status(r), 'NDIS_STATUS_BUFFER_TOO_SHORT', `${arch} ${n}`);
      assert.ok(r.bytesNeeded > n);
      assert.deepEqual(buffer, req.buffer.slice(0, n));
    }
    const wrong = Uint8Array.from(req.buffer);
    wrong[0] = 0x80 + 1;
    assert.equal(status(oidRequest(mp, { ...req, buffer: wrong })), 'NDIS_STATUS_INVALID_LENGTH');
    assert.equal(mp.saTable.size, 0);
  }
});

// ---------------------------------------------------------------------------------------------
// DELETE_SA.
// ---------------------------------------------------------------------------------------------

test('DELETE_SA deletes every listed bundle, on x64 and x86', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const [a, b, c] = add(mp, [gcm(0x9001), ahEsp(0x9002, 0x9003, { inbound: true }), gcm(0x9004)]);
    const r = oidRequest(mp, deleteRequest([c, a], arch));
    assert.equal(status(r), 'NDIS_STATUS_SUCCESS');
    assert.deepEqual(
      Array.from(mp.saTable.bundles(), (x) => x.handle),
      [b]
    );
    assert.ok(mp.saTable.findInbound(0x9002, 'esp', Uint8Array.of(198, 51, 100, 7)));
    oidRequest(mp, deleteRequest([b], arch));
    assert.equal(mp.saTable.findInbound(0x9002, 'esp', Uint8Array.of(198, 51, 100, 7)), undefined);
  }
});

test('D15: DELETE_SA of an unknown handle fails with INVALID_PARAMETER and deletes nothing of the list', () => {
  const { mp } = miniport();
  const [a] = add(mp, [gcm(0x9101)]);
  for (const unknown of [a + 100n, 0n]) {
    assert.equal(
      status(oidRequest(mp, deleteRequest([a, unknown]))),
      'NDIS_STATUS_INVALID_PARAMETER'
    );
    assert.ok(mp.saTable.get(a));
  }
  assert.equal(mp.counters.get('oid.delete-sa.reject:unknown-handle'), 2);
});

test('D15: a double DELETE_SA fails with INVALID_PARAMETER (in one list, and in a second request)', () => {
  const { mp } = miniport();
  const [a, b] = add(mp, [gcm(0x9201), gcm(0x9202)]);
  assert.equal(status(oidRequest(mp, deleteRequest([a, a]))), 'NDIS_STATUS_INVALID_PARAMETER');
  assert.equal(mp.saTable.size, 2);
  assert.equal(status(oidRequest(mp, deleteRequest([a]))), 'NDIS_STATUS_SUCCESS');
  assert.equal(status(oidRequest(mp, deleteRequest([a]))), 'NDIS_STATUS_INVALID_PARAMETER');
  assert.deepEqual(
    Array.from(mp.saTable.bundles(), (x) => x.handle),
    [b]
  );
});

test('D15: DELETE_SA truncated, with a wrong Header or a bad Next fails and deletes nothing', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const handles = add(mp, [gcm(0x9301), gcm(0x9302)]);
    const req = deleteRequest(handles, arch);
    for (let n = 0; n < req.buffer.length; n++) {
      const r = oidRequest(mp, { ...req, buffer: req.buffer.slice(0, n) });
      assert.ok(
        ['NDIS_STATUS_BUFFER_TOO_SHORT', 'NDIS_STATUS_INVALID_DATA'].includes(status(r)),
        `${arch} ${n}`
      );
    }
    const wrong = Uint8Array.from(req.buffer);
    wrong[1] = 0;
    assert.equal(status(oidRequest(mp, { ...req, buffer: wrong })), 'NDIS_STATUS_INVALID_LENGTH');
    const cycle = Uint8Array.from(req.buffer);
    const dv = new DataView(cycle.buffer);
    const at = DELETE_SA[arch].size + DELETE_SA[arch].Next;
    if (arch === 'x64') dv.setBigUint64(at, BASE.x64, true);
    else dv.setUint32(at, Number(BASE.x86), true);
    assert.equal(status(oidRequest(mp, { ...req, buffer: cycle })), 'NDIS_STATUS_INVALID_DATA');
    assert.equal(mp.saTable.size, 2);
  }
});

test('D16: DELETE_SA of a bundle with NBLs in flight deletes it at once and counts it', () => {
  const { mp } = miniport();
  const [h] = add(mp, [gcm(0x9401)]);
  mp.saTable.get(h)!.inFlight = 1; // as the data path holds it during one NBL
  assert.equal(status(oidRequest(mp, deleteRequest([h]))), 'NDIS_STATUS_SUCCESS');
  assert.equal(mp.saTable.get(h), undefined);
  assert.equal(mp.counters.get('oid.delete-sa.in-flight'), 1);
});

// ---------------------------------------------------------------------------------------------
// UPDATE_SA.
// ---------------------------------------------------------------------------------------------

test('D3: UPDATE_SA sets SequenceNumberHighOrder of the named SA of an ESN bundle, on x64 and x86', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const [h] = add(mp, [ahEsp(0xa001, 0xa002, { esn: true, seqHigh: 1 })]);
    const r = oidRequest(
      mp,
      updateRequest(
        [
          {
            offloadHandle: h,
            operation: OP.IPsecOffloadV2Ah,
            spi: 0xa002,
            sequenceNumberHighOrder: 0xfffffffe,
          },
        ],
        arch
      )
    );
    assert.equal(status(r), 'NDIS_STATUS_SUCCESS');
    assert.deepEqual(
      mp.saTable.get(h)!.elements.map((e) => e.seqHigh),
      [1, 0xfffffffe]
    );
  }
});

test('D15: UPDATE_SA of an unknown SA, of an SA without ESN, or naming an Operation/Spi not in the bundle fails with INVALID_PARAMETER and changes nothing', () => {
  const { mp } = miniport();
  const [esn, plain] = add(mp, [gcm(0xa101, { esn: true, seqHigh: 4 }), gcm(0xa102)]);
  const cases: [string, UpdateSa][] = [
    [
      'unknown-handle',
      {
        offloadHandle: 999n,
        operation: OP.IPsecOffloadV2Esp,
        spi: 0xa101,
        sequenceNumberHighOrder: 5,
      },
    ],
    [
      'no-esn',
      {
        offloadHandle: plain,
        operation: OP.IPsecOffloadV2Esp,
        spi: 0xa102,
        sequenceNumberHighOrder: 5,
      },
    ],
    [
      'operation',
      {
        offloadHandle: esn,
        operation: OP.IPsecOffloadV2Ah,
        spi: 0xa101,
        sequenceNumberHighOrder: 5,
      },
    ],
    ['operation', { offloadHandle: esn, operation: 7, spi: 0xa101, sequenceNumberHighOrder: 5 }],
    [
      'spi-mismatch',
      {
        offloadHandle: esn,
        operation: OP.IPsecOffloadV2Esp,
        spi: 0xa102,
        sequenceNumberHighOrder: 5,
      },
    ],
  ];
  const before = snapshot(mp);
  for (const [reason, u] of cases) {
    assert.equal(
      status(oidRequest(mp, updateRequest([u]))),
      'NDIS_STATUS_INVALID_PARAMETER',
      reason
    );
    assert.deepEqual(snapshot(mp), before, reason);
  }
  assert.equal(mp.counters.get('oid.update-sa.reject:operation'), 2);
  assert.equal(mp.counters.get('oid.update-sa.reject:no-esn'), 1);
});

test('Reference §6 item 8: UPDATE_SA takes several structures back to back, all or none', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const [h1, h2] = add(mp, [gcm(0xa201, { esn: true }), gcm(0xa202, { esn: true })]);
    const u1 = {
      offloadHandle: h1,
      operation: OP.IPsecOffloadV2Esp,
      spi: 0xa201,
      sequenceNumberHighOrder: 7,
    };
    const u2 = {
      offloadHandle: h2,
      operation: OP.IPsecOffloadV2Esp,
      spi: 0xa202,
      sequenceNumberHighOrder: 8,
    };
    const bad = { ...u2, offloadHandle: 999n };
    assert.equal(
      status(oidRequest(mp, updateRequest([u1, bad], arch))),
      'NDIS_STATUS_INVALID_PARAMETER'
    );
    assert.deepEqual(
      Array.from(mp.saTable.bundles(), (b) => b.elements[0].seqHigh),
      [0, 0]
    );
    assert.equal(status(oidRequest(mp, updateRequest([u1, u2], arch))), 'NDIS_STATUS_SUCCESS');
    assert.deepEqual(
      Array.from(mp.saTable.bundles(), (b) => b.elements[0].seqHigh),
      [7, 8]
    );
    assert.equal(UPDATE_SA[arch].size * 2, updateRequest([u1, u2], arch).buffer.length);
  }
});

test('D15: UPDATE_SA truncated at every length fails with BUFFER_TOO_SHORT and BytesNeeded; a wrong Header with INVALID_LENGTH', () => {
  for (const arch of ARCHES) {
    const { mp } = miniport({ arch });
    const [h] = add(mp, [gcm(0xa301, { esn: true })]);
    const req = updateRequest(
      [
        {
          offloadHandle: h,
          operation: OP.IPsecOffloadV2Esp,
          spi: 0xa301,
          sequenceNumberHighOrder: 1,
        },
      ],
      arch
    );
    for (let n = 0; n < UPDATE_SA[arch].SIZEOF_REVISION_1; n++) {
      const r = oidRequest(mp, { ...req, buffer: req.buffer.slice(0, n) });
      assert.equal(status(r), 'NDIS_STATUS_BUFFER_TOO_SHORT');
      assert.equal(r.bytesNeeded, UPDATE_SA[arch].SIZEOF_REVISION_1);
    }
    const wrong = Uint8Array.from(req.buffer);
    wrong[0] = 0;
    assert.equal(status(oidRequest(mp, { ...req, buffer: wrong })), 'NDIS_STATUS_INVALID_LENGTH');
    assert.equal(mp.saTable.get(h)!.elements[0].seqHigh, 0);
  }
});

// ---------------------------------------------------------------------------------------------
// OID_TCP_OFFLOAD_PARAMETERS.
// ---------------------------------------------------------------------------------------------

test('OID_TCP_OFFLOAD_PARAMETERS: each IPsecV2 value sets AH/ESP as documented and indicates the new configuration once', () => {
  const expected: [number, boolean, boolean][] = [
    [P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED, false, false],
    [P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED, true, false],
    [P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED, false, true],
    [P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED, true, true],
  ];
  for (const [value, ah, esp] of expected) {
    const { mp, indications } = miniport();
    const r = oidRequest(mp, parametersRequest({ IPsecV2: value }));
    assert.equal(status(r), 'NDIS_STATUS_SUCCESS');
    assert.equal(r.bytesRead, 0x16);
    assert.deepEqual(
      [mp.config.ipsecAh, mp.config.ipsecEsp, mp.config.ipsecIpv6],
      [ah, esp, ah || esp]
    );
    assert.equal(indications.length, 1, `${value}`);
    assert.equal(statusName(indications[0].status), 'NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG');
    const v2 = indications[0].offload!.IPsecV2;
    assert.deepEqual([v2.Ah, v2.Esp, v2.IPv6Supported], [ah, esp, ah || esp]);
    assert.equal(
      v2.AuthenticationAlgorithms !== 0,
      ah || esp,
      'disabled IPsec reports no algorithms'
    );
  }
});

test('OID_TCP_OFFLOAD_PARAMETERS: all NO_CHANGE changes nothing (and still indicates the configuration once)', () => {
  const { mp, indications } = miniport();
  oidRequest(
    mp,
    parametersRequest({
      IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED,
      LsoV1: P.NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED,
    })
  );
  const before = structuredClone(mp.config);
  indications.length = 0;
  assert.equal(status(oidRequest(mp, parametersRequest({}))), 'NDIS_STATUS_SUCCESS');
  assert.deepEqual(mp.config, before);
  assert.equal(indications.length, 1);
  assert.deepEqual(indications[0].offload, currentOffload(mp));
});

test('OID_TCP_OFFLOAD_PARAMETERS: IPsecV2IPv4 governs an IPv4-only adapter and is unused on one with IPv6', () => {
  const v4only = miniport({ ipsec: { IPv6Supported: false } }).mp;
  oidRequest(
    v4only,
    parametersRequest({ IPsecV2IPv4: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED })
  );
  assert.deepEqual(
    [v4only.config.ipsecAh, v4only.config.ipsecEsp, v4only.config.ipsecIpv6],
    [true, false, false]
  );
  oidRequest(v4only, parametersRequest({ IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED }));
  assert.equal(v4only.config.ipsecAh, true, 'IPsecV2 does not govern an IPv4-only adapter');
  const both = miniport().mp;
  oidRequest(both, parametersRequest({ IPsecV2IPv4: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED }));
  assert.deepEqual([both.config.ipsecAh, both.config.ipsecEsp], [true, true]);
});

test('OID_TCP_OFFLOAD_PARAMETERS: LSO and checksum members switch the transmit offloads', () => {
  const { mp } = miniport();
  const r = oidRequest(
    mp,
    parametersRequest({
      LsoV1: P.NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED,
      LsoV2IPv6: P.NDIS_OFFLOAD_PARAMETERS_LSOV2_DISABLED,
      TCPIPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_RX_ENABLED_TX_DISABLED,
      UDPIPv6Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_DISABLED,
      IPv4Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_ENABLED_RX_DISABLED,
    })
  );
  assert.equal(status(r), 'NDIS_STATUS_SUCCESS');
  const c = mp.config;
  assert.deepEqual([c.lsoV1, c.lsoV2IPv4, c.lsoV2IPv6], [false, true, false]);
  assert.deepEqual(c.checksumIPv4, { ip: true, tcp: false, udp: true });
  assert.deepEqual(c.checksumIPv6, { ip: false, tcp: true, udp: false });
  const off = currentOffload(mp);
  assert.equal(off.LsoV1.IPv4.MaxOffLoadSize, 0);
  assert.equal(off.Checksum.IPv4Transmit.TcpChecksum, 0);
  oidRequest(mp, parametersRequest({ LsoV1: P.NDIS_OFFLOAD_PARAMETERS_LSOV1_ENABLED }));
  assert.equal(mp.config.lsoV1, true);
});

test('OID_TCP_OFFLOAD_PARAMETERS: what the hardware cannot do, or a value out of range, fails with INVALID_DATA and changes nothing', () => {
  const noLso = (c: Offload): Offload => ({
    ...c,
    LsoV2: { ...c.LsoV2, IPv4: { ...c.LsoV2.IPv4, MaxOffLoadSize: 0 } },
    Checksum: { ...c.Checksum, IPv6Receive: { ...c.Checksum.IPv6Receive, UdpChecksum: 0 } },
  });
  const cases: [string, Partial<OffloadParameters>, Partial<IpsecOffloadV2>?][] = [
    ['IPsecV2', { IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED }, { Ah: false }],
    ['IPsecV2', { IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_AND_ESP_ENABLED }, { Esp: false }],
    ['IPsecV2', { IPsecV2: 5 }],
    ['IPsecV2IPv4', { IPsecV2IPv4: 9 }],
    ['LsoV2IPv4', { LsoV2IPv4: P.NDIS_OFFLOAD_PARAMETERS_LSOV2_ENABLED }],
    ['UDPIPv6Checksum', { UDPIPv6Checksum: P.NDIS_OFFLOAD_PARAMETERS_TX_RX_ENABLED }],
    ['LsoV1', { LsoV1: 3 }],
    ['IPsecV1', { IPsecV1: P.NDIS_OFFLOAD_PARAMETERS_IPSECV1_ESP_ENABLED }],
    [
      'TcpConnectionIPv4',
      { TcpConnectionIPv4: P.NDIS_OFFLOAD_PARAMETERS_CONNECTION_OFFLOAD_ENABLED },
    ],
  ];
  for (const [member, p, ipsec] of cases) {
    const { mp, indications } = miniport({ caps: noLso, ...(ipsec ? { ipsec } : {}) });
    const before = snapshot(mp);
    const r = oidRequest(
      mp,
      parametersRequest({ ...p, LsoV1: p.LsoV1 ?? P.NDIS_OFFLOAD_PARAMETERS_LSOV1_DISABLED })
    );
    assert.equal(status(r), 'NDIS_STATUS_INVALID_DATA', member);
    assert.deepEqual(snapshot(mp), before, member);
    assert.equal(indications.length, 0, member);
    assert.equal(mp.counters.get(`oid.offload-parameters.reject:${member}`), 1, member);
  }
});

test('OID_TCP_OFFLOAD_PARAMETERS: a short buffer or a wrong Header fails and changes nothing', () => {
  const { mp, indications } = miniport();
  const req = parametersRequest({ IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED });
  for (let n = 0; n < 0x14; n++) {
    const r = oidRequest(mp, { ...req, buffer: req.buffer.slice(0, n) });
    assert.equal(status(r), 'NDIS_STATUS_BUFFER_TOO_SHORT');
    assert.ok(r.bytesNeeded >= 0x14);
  }
  // Revision 2 promised by the header, but the IPsecV2 members cut off.
  assert.equal(
    status(oidRequest(mp, { ...req, buffer: req.buffer.slice(0, 0x15) })),
    'NDIS_STATUS_BUFFER_TOO_SHORT'
  );
  const wrong = Uint8Array.from(req.buffer);
  wrong[0] = 0xa7;
  assert.equal(status(oidRequest(mp, { ...req, buffer: wrong })), 'NDIS_STATUS_INVALID_LENGTH');
  assert.equal(mp.config.ipsecEsp, true);
  assert.equal(indications.length, 0);
});

test('OID_TCP_OFFLOAD_PARAMETERS: disabling ESP keeps the SAs; new ESP SAs are then refused (esp-disabled)', () => {
  const { mp } = miniport();
  add(mp, [gcm(0xb001)]);
  oidRequest(mp, parametersRequest({ IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_AH_ENABLED }));
  assert.equal(mp.saTable.size, 1);
  const e = addSaRequest([gcm(0xb002), ahSha256(0xb003)]);
  assert.equal(status(oidRequest(mp, e.request)), 'NDIS_STATUS_SUCCESS');
  assert.deepEqual(
    handlesOf(e).map((h) => h !== 0n),
    [false, true]
  );
  assert.equal(mp.counters.get('oid.add-sa.reject:esp-disabled'), 1);
});

// ---------------------------------------------------------------------------------------------
// OID_OFFLOAD_ENCAPSULATION.
// ---------------------------------------------------------------------------------------------

const ETHERNET = {
  Enabled: OffloadSet.NDIS_OFFLOAD_SET_ON,
  EncapsulationType: Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3,
  HeaderSize: 14,
};
const UNCHANGED = {
  Enabled: OffloadSet.NDIS_OFFLOAD_SET_NO_CHANGE,
  EncapsulationType: 0,
  HeaderSize: 0,
};
const OFF = { Enabled: OffloadSet.NDIS_OFFLOAD_SET_OFF, EncapsulationType: 0, HeaderSize: 0 };

test('D12: receive offload starts only after OID_OFFLOAD_ENCAPSULATION turns it on, and stops when it is turned off', () => {
  const { mp, indications } = miniport();
  assert.equal(mp.config.receiveEnabled, false);
  assert.equal(
    status(oidRequest(mp, encapsulationRequest({ IPv4: ETHERNET, IPv6: UNCHANGED }))),
    'NDIS_STATUS_SUCCESS'
  );
  assert.equal(mp.config.receiveEnabled, true);
  assert.equal(
    status(oidRequest(mp, encapsulationRequest({ IPv4: UNCHANGED, IPv6: UNCHANGED }))),
    'NDIS_STATUS_SUCCESS'
  );
  assert.equal(mp.config.receiveEnabled, true);
  assert.equal(
    status(oidRequest(mp, encapsulationRequest({ IPv4: OFF, IPv6: OFF }))),
    'NDIS_STATUS_SUCCESS'
  );
  assert.equal(mp.config.receiveEnabled, false);
  assert.deepEqual(
    indications.map((i) => statusName(i.status)),
    Array<string>(3).fill('NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG')
  );
});

test('OID_OFFLOAD_ENCAPSULATION: an unsupported encapsulation fails with INVALID_PARAMETER and changes nothing', () => {
  const { mp, indications } = miniport();
  const cases: [string, OffloadEncapsulation][] = [
    [
      'IPv4.EncapsulationType',
      {
        IPv4: {
          ...ETHERNET,
          EncapsulationType: Encapsulation.NDIS_ENCAPSULATION_IEEE_LLC_SNAP_ROUTED,
        },
        IPv6: UNCHANGED,
      },
    ],
    ['IPv6.EncapsulationType', { IPv4: ETHERNET, IPv6: { ...ETHERNET, EncapsulationType: 0 } }],
    ['IPv4.Enabled', { IPv4: { ...ETHERNET, Enabled: 3 }, IPv6: UNCHANGED }],
  ];
  for (const [field, e] of cases) {
    assert.equal(
      status(oidRequest(mp, encapsulationRequest(e))),
      'NDIS_STATUS_INVALID_PARAMETER',
      field
    );
    assert.equal(mp.counters.get(`oid.offload-encapsulation.reject:${field}`), 1, field);
  }
  assert.equal(mp.config.receiveEnabled, false);
  assert.equal(indications.length, 0);
});

test('NDIS_OFFLOAD_ENCAPSULATION: the codec round-trips; a short buffer or wrong Header fails the OID and changes nothing', () => {
  const e: OffloadEncapsulation = { IPv4: ETHERNET, IPv6: { ...ETHERNET, HeaderSize: 18 } };
  const bytes = encodeOffloadEncapsulation(e);
  assert.equal(bytes.length, OFFLOAD_ENCAPSULATION.SIZEOF_REVISION_1);
  assert.deepEqual([...bytes.subarray(0, 4)], [0xa8, 1, 0x1c, 0]);
  assert.deepEqual(decodeOffloadEncapsulation(bytes), { ok: true, value: e });
  const { mp } = miniport();
  for (let n = 0; n < bytes.length; n++) {
    const r = oidRequest(mp, {
      type: 'set',
      oid: Oid.OID_OFFLOAD_ENCAPSULATION,
      buffer: bytes.slice(0, n),
    });
    assert.equal(status(r), 'NDIS_STATUS_BUFFER_TOO_SHORT');
    assert.equal(r.bytesNeeded, 0x1c);
  }
  const wrong = Uint8Array.from(bytes);
  wrong[0] = 0x80;
  assert.equal(
    status(oidRequest(mp, { type: 'set', oid: Oid.OID_OFFLOAD_ENCAPSULATION, buffer: wrong })),
    'NDIS_STATUS_INVALID_LENGTH'
  );
  assert.equal(mp.config.receiveEnabled, false);
});

// ---------------------------------------------------------------------------------------------
// The capability queries and the default case.
// ---------------------------------------------------------------------------------------------

test('OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES writes NDIS_IPSEC_OFFLOAD_V2; a short buffer gets BUFFER_TOO_SHORT with BytesNeeded', () => {
  const { mp } = miniport({ ipsec: { SaOffloadCapacity: 77, UdpEsp: 1 } });
  const buffer = new Uint8Array(0x40).fill(0xee);
  const r = oidRequest(mp, {
    type: 'query',
    oid: Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
    buffer,
  });
  assert.deepEqual([status(r), r.bytesWritten], ['NDIS_STATUS_SUCCESS', 0x20]);
  assert.deepEqual(decodeIpsecOffloadV2(buffer), {
    ok: true,
    value: hardwareCapabilities(mp).IPsecV2,
  });
  assert.equal(buffer[0x20], 0xee, 'nothing past the structure is written');
  const short = oidRequest(mp, {
    type: 'query',
    oid: Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
    buffer: new Uint8Array(0x1f),
  });
  assert.deepEqual(
    [status(short), short.bytesNeeded, short.bytesWritten],
    ['NDIS_STATUS_BUFFER_TOO_SHORT', 0x20, 0]
  );
});

test('OID_TCP_OFFLOAD_CURRENT_CONFIG reports the configuration OID_TCP_OFFLOAD_PARAMETERS set', () => {
  const { mp } = miniport();
  oidRequest(mp, parametersRequest({ IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_ESP_ENABLED }));
  const buffer = new Uint8Array(0x20);
  assert.equal(
    status(oidRequest(mp, { type: 'query', oid: Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG, buffer })),
    'NDIS_STATUS_SUCCESS'
  );
  const d = decodeIpsecOffloadV2(buffer);
  assert.ok(d.ok);
  assert.deepEqual([d.value.Ah, d.value.Esp, d.value.AhEspCombined], [false, true, false]);
  assert.equal(hardwareCapabilities(mp).IPsecV2.Ah, true, 'the hardware record is unchanged');
  oidRequest(mp, parametersRequest({ IPsecV2: P.NDIS_OFFLOAD_PARAMETERS_IPSECV2_DISABLED }));
  const off = currentOffload(mp);
  assert.equal(off.IPsecV2.SaOffloadCapacity, 0);
  assert.equal(off.Flags & 0x6, 0, 'no checksum-coexistence flags without IPsec');
});

test('netvmini: a query of a set-only OID, a set of a query-only OID and an unknown OID get NDIS_STATUS_NOT_SUPPORTED', () => {
  const { mp } = miniport();
  const buffer = new Uint8Array(0x100);
  for (const [type, oid] of [
    ['query', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA],
    ['query', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA_EX],
    ['query', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA],
    ['query', Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA],
    ['query', Oid.OID_TCP_OFFLOAD_PARAMETERS],
    ['query', Oid.OID_OFFLOAD_ENCAPSULATION],
    ['set', Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES],
    ['set', Oid.OID_TCP_OFFLOAD_CURRENT_CONFIG],
    ['set', Oid.OID_TCP_TASK_IPSEC_ADD_SA],
    ['query', 0x00010101],
  ] as const) {
    assert.equal(
      status(oidRequest(mp, { type, oid, buffer })),
      'NDIS_STATUS_NOT_SUPPORTED',
      `${type} 0x${oid.toString(16)}`
    );
  }
  assert.ok(buffer.every((b) => b === 0));
  assert.equal(mp.counters.get('oid.not-supported:0x00010101:query'), 1);
  assert.equal(
    mp.counters.get('oid.status:OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA:NDIS_STATUS_NOT_SUPPORTED'),
    1
  );
});

test('Miniport.oidRequest delegates to the control path', () => {
  const { mp } = miniport();
  const e = addSaRequest([gcm(0xc001)]);
  assert.equal(status(mp.oidRequest(e.request)), 'NDIS_STATUS_SUCCESS');
  assert.equal(mp.counters.get('oid.request:OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA'), 1);
});
