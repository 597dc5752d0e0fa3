/**
 * @module
 * `npm run bench` (issue 6): reports, never asserts a time. Each case prints absolute numbers and
 * its ratio to a reference measured in the same run: OpenSSL sealing the same packets in a tight
 * native loop (native/engine.c through `sealBatch`/`openBatch`: one context, IV reset per packet),
 * itself anchored by `openssl speed -evp aes-128-gcm` when the `openssl` command exists.
 *
 * Flags: `--json` (JSON instead of the table), `--sas N` (SA add / many-SA send: N bundles,
 * default 100,000), `--ms N` (time budget per case, default 1000), `--only TEXT` (cases whose name
 * contains TEXT), `--clock cpu` (time slices by this process's CPU time instead of wall time: for
 * a busy machine). `IPSECOV2_ENGINE=js` runs the miniport on node:crypto for comparison (the
 * reference then is not available). A send case and its reference are measured in interleaved
 * slices, so both see the same machine (harness.ts `measurePair`).
 */
import os from 'node:os';
import v8 from 'node:v8';
import vm from 'node:vm';
import { activeEngine, engineReason, nativeAddon } from '../src/crypto/engine.ts';
import { encryptionInfo, integrityInfo } from '../src/crypto/names.ts';
import { createNativeEsp } from '../src/crypto/native-esp.ts';
import { seededRandom } from '../src/crypto/random.ts';
import type { EspGeometry } from '../src/crypto/transform.ts';
import { Miniport } from '../src/miniport/miniport.ts';
import { receiveFrames } from '../src/miniport/receive.ts';
import { encodeAddSaList, readAddSaHandle } from '../src/ndis/addsa.ts';
import { defaultCapabilities } from '../src/ndis/caps.ts';
import { encodeOffloadEncapsulation, OffloadSet } from '../src/ndis/encapsulation.ts';
import type { NetBufferList } from '../src/ndis/nbl.ts';
import { Encapsulation, Oid } from '../src/ndis/oid.ts';
import { getLso, setLso } from '../src/ndis/oob.ts';
import { NdisStatus, statusName } from '../src/ndis/status.ts';
import * as framing from '../src/transport/framing.ts';
import type { FrameSpec, Protection } from '../src/transport/framing.ts';
import { chooseMss } from '../src/transport/mss.ts';
import { addSaEntry, type SaDescription } from '../src/transport/sa-entry.ts';
import * as ethernet from '../src/wire/ethernet.ts';
import * as ipv4 from '../src/wire/ipv4.ts';
import {
  fmt,
  measure,
  measurePair,
  medianOf,
  pairOf,
  opensslSpeed,
  rates,
  SLICES,
  table,
  now,
  useClock,
  type Measurement,
  type PairMeasurement,
  type Round,
} from './harness.ts';
import { benchQueues } from './queues.ts';

// ---------------------------------------------------------------------------------------------
// Options and fixtures.
// ---------------------------------------------------------------------------------------------

const argv = process.argv.slice(2);
const JSON_OUT = argv.includes('--json');
function flag(name: string, fallback: number): number {
  const i = argv.indexOf(name);
  const value = i >= 0 ? argv.at(i + 1) : undefined;
  return value === undefined ? fallback : Number(value);
}
const BUDGET_MS = flag('--ms', 1000);
/** `--only TEXT`: run only the cases whose name contains TEXT (e.g. for a profile). */
const ONLY = argv.includes('--only') ? (argv.at(argv.indexOf('--only') + 1) ?? '') : '';
const want = (name: string): boolean => ONLY === '' || name.includes(ONLY);
const SA_COUNT = flag('--sas', 100_000);
const CLOCK = argv.includes('--clock') ? argv.at(argv.indexOf('--clock') + 1) : 'wall';
if (CLOCK !== 'wall' && CLOCK !== 'cpu') {
  throw new Error(`--clock: expected wall or cpu, got ${String(CLOCK)}`);
}
useClock(CLOCK);
const MTU = 1500;
/** NBLs per send round (one chain, one MiniportSendNetBufferLists call). */
const CHAIN = 256;
/** Packets per native reference batch (one sealBatch call). */
const REF_BATCH = 256;

const ETH = {
  source: ethernet.parseMac('02:00:00:00:00:0a'),
  destination: ethernet.parseMac('02:00:00:00:00:0b'),
};
const A4 = ipv4.parseAddress('192.0.2.10');
const B4 = ipv4.parseAddress('198.51.100.20');
const GA4 = ipv4.parseAddress('203.0.113.1');
const GB4 = ipv4.parseAddress('203.0.113.2');

const key = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (seed * 37 + i * 29 + 1) & 0xff);
const payloadOf = (n: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (i * 7 + ((i * i) >>> 3)) & 0xff);

const GCM: SaDescription = {
  protocol: 'esp',
  spi: 0x1001,
  encryption: 'aes-gcm-128',
  encryptionKey: key(20, 1),
};
const CBC_SHA1: SaDescription = {
  protocol: 'esp',
  spi: 0x2002,
  encryption: 'aes-cbc-128',
  integrity: 'hmac-sha1-96',
  encryptionKey: key(16, 2),
  integrityKey: key(20, 3),
};
const AH_SHA256: SaDescription = {
  protocol: 'ah',
  spi: 0x3003,
  integrity: 'hmac-sha256-128',
  integrityKey: key(32, 4),
};

function geometry(sa: SaDescription): EspGeometry {
  const e = encryptionInfo(sa.encryption ?? 'null');
  const i = sa.integrity == null ? null : integrityInfo(sa.integrity);
  return {
    ivLength: e.ivLength > 0 ? e.ivLength : (i?.ivLength ?? 0),
    icvLength: e.combined ? (sa.icvLength ?? e.icvLength) : (i?.icvLength ?? 0),
    padAlign: e.padAlign,
  };
}

function protection(handle: bigint, sa: SaDescription, seq: bigint): Protection {
  if (sa.protocol === 'esp') {
    return { handle, esp: { spi: sa.spi, sequenceNumber: seq, ...geometry(sa) } };
  }
  const i = integrityInfo(sa.integrity!);
  return {
    handle,
    ah: { spi: sa.spi, sequenceNumber: seq, icvLength: i.icvLength, ivLength: i.ivLength },
  };
}

const tcpHeader = (seq: number) => ({
  srcPort: 49152,
  dstPort: 443,
  sequenceNumber: seq >>> 0,
  acknowledgmentNumber: 1,
  flags: 0x18,
  window: 65535,
  urgentPointer: 0,
  options: [],
});

/** A miniport whose wire only counts frames, and whose completions count failures. */
interface Nic {
  readonly mp: Miniport;
  frames: number;
  failed: number;
  lastFailure: string;
}

function nic(saCapacity = 1024, keep?: Uint8Array[]): Nic {
  const caps = defaultCapabilities();
  const n: Nic = {
    mp: null as unknown as Miniport,
    frames: 0,
    failed: 0,
    lastFailure: '',
  };
  const mp = new Miniport({
    capabilities: { ...caps, IPsecV2: { ...caps.IPsecV2, SaOffloadCapacity: saCapacity } },
    link: {
      // A counting sink (or a copy, for the receive case): the NIC recycles its transmit ring.
      copies: true,
      transmit(frame: Uint8Array): void {
        n.frames++;
        if (keep !== undefined) keep.push(frame.slice());
      },
    },
    complete(nbl: NetBufferList): void {
      if (nbl.status !== NdisStatus.NDIS_STATUS_SUCCESS) {
        n.failed++;
        n.lastFailure = statusName(nbl.status);
      }
    },
    random: seededRandom(7),
  });
  (n as { mp: Miniport }).mp = mp;
  return n;
}

function addSas(
  mp: Miniport,
  inbound: boolean,
  source: Uint8Array,
  destination: Uint8Array,
  sas: readonly SaDescription[]
): bigint {
  const list = encodeAddSaList([addSaEntry({ inbound, source, destination, sas })], 0x1000n, 'x64');
  const r = mp.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer: list.bytes,
    baseAddress: 0x1000n,
  });
  if (r.status !== NdisStatus.NDIS_STATUS_SUCCESS) {
    throw new Error(`ADD_SA: ${statusName(r.status)}`);
  }
  return readAddSaHandle(list.bytes, list.entryOffsets[0], 'x64');
}

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
  if (r.status !== NdisStatus.NDIS_STATUS_SUCCESS) throw new Error('OID_OFFLOAD_ENCAPSULATION');
}

// ---------------------------------------------------------------------------------------------
// The native reference: the same ESP packets sealed by one sealBatch call per REF_BATCH.
// ---------------------------------------------------------------------------------------------

/** An SA for the reference: ESP as is; AH HMAC-SHA-256 as ESP NULL + HMAC-SHA-256-128. */
function referenceSa(sa: SaDescription): SaDescription {
  return sa.protocol === 'esp'
    ? sa
    : {
        protocol: 'esp',
        spi: sa.spi,
        encryption: 'null',
        integrity: sa.integrity ?? null,
        integrityKey: sa.integrityKey ?? new Uint8Array(0),
      };
}

interface RefPackets {
  readonly buffer: Uint8Array;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly highs: Uint32Array;
}

/** REF_BATCH ESP packets whose body is `protectedBytes` plus trailer, padded as the SA needs. */
function refPackets(sa: SaDescription, protectedBytes: number): RefPackets {
  const g = geometry(sa);
  const body = Math.ceil((protectedBytes + 2) / g.padAlign) * g.padAlign;
  const length = 8 + g.ivLength + body + g.icvLength;
  const buffer = new Uint8Array(length * REF_BATCH);
  const offsets = new Uint32Array(REF_BATCH);
  const lengths = new Uint32Array(REF_BATCH).fill(length);
  const dv = new DataView(buffer.buffer);
  for (let i = 0; i < REF_BATCH; i++) {
    offsets[i] = i * length;
    dv.setUint32(i * length, sa.spi, false);
    dv.setUint32(i * length + 4, i + 1, false);
    buffer[i * length + 8 + g.ivLength + body - 1] = 6; // Next Header: TCP
  }
  return { buffer, offsets, lengths, highs: new Uint32Array(REF_BATCH) };
}

/** Native sealBatch throughput for packets protecting `protectedBytes`, `payload` of them data. */
/** A round of the native reference: REF_BATCH packets per sealBatch call; `end` frees the SA. */
function nativeSeal(
  sa: SaDescription,
  protectedBytes: number,
  payload: number
): { round: Round; end: () => void } | null {
  if (nativeAddon() === null) return null;
  const r = referenceSa(sa);
  const esp = createNativeEsp({
    encryption: r.encryption ?? 'null',
    integrity: r.integrity ?? null,
    encryptionKey: r.encryptionKey ?? new Uint8Array(0),
    ...(r.integrityKey === undefined ? {} : { integrityKey: r.integrityKey }),
    esn: false,
    random: seededRandom(9),
  });
  const p = refPackets(r, protectedBytes);
  return {
    round: () => {
      esp.sealBatch(p.buffer, p.offsets, p.lengths, p.highs, REF_BATCH);
      return { packets: REF_BATCH, payloadBytes: REF_BATCH * payload };
    },
    end: () => {
      esp.destroy();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Rows.
// ---------------------------------------------------------------------------------------------

interface Row {
  readonly name: string;
  readonly payload: number;
  readonly result: Measurement | null;
  readonly reference: Measurement | null;
  readonly referenceName: string;
  /** result Gbit/s ÷ reference Gbit/s (same payload bytes, so also the packet-rate ratio). */
  readonly ratio: number | null;
  readonly note: string;
}

const rows: Row[] = [];

function row(
  name: string,
  payload: number,
  result: Measurement | null,
  reference: Measurement | null,
  referenceName: string,
  note = '',
  pairRatio: number | null = null
): void {
  const ratio =
    pairRatio ??
    (result !== null && reference !== null ? result.gbitPerSecond / reference.gbitPerSecond : null);
  const r = { name, payload, result, reference, referenceName, ratio, note };
  rows.push(r);
  if (!JSON_OUT) process.stderr.write(`  done: ${name}\n`);
}

// ---------------------------------------------------------------------------------------------
// Send path cases.
// ---------------------------------------------------------------------------------------------

interface SendCase {
  readonly sas: readonly SaDescription[];
  readonly payload: number;
  readonly lso?: boolean;
  readonly tunnel?: boolean;
  /** A miniport to reuse (many SAs already added); default: a fresh one. */
  readonly nic?: Nic;
}

/**
 * CHAIN pre-built NBLs (sequence numbers 1, 2, …), re-sent as one chain per round; returns the
 * measurement (packets = frames on the wire) and what the reference should protect per packet.
 */
function sendPath(c: SendCase): {
  round: Round;
  protectedBytes: number;
  segPayload: number;
  check: () => void;
} {
  const n = c.nic ?? nic();
  const src = c.tunnel ? GA4 : A4;
  const dst = c.tunnel ? GB4 : B4;
  const handle = addSas(n.mp, false, src, dst, c.sas);
  const payload = payloadOf(c.payload);
  const chain = c.lso ? 16 : CHAIN;
  const nbls: NetBufferList[] = [];
  let seq = 1;
  let mss = 0;
  for (let i = 0; i < chain; i++) {
    const prot = (s: bigint): Protection => {
      const p = c.sas.map((sa) => protection(handle, sa, s));
      return p.length === 1 ? p[0] : { ...p[0], ...p[1] };
    };
    const base: FrameSpec = c.tunnel
      ? {
          ethernet: ETH,
          ip: { version: 4, source: GA4, destination: GB4, identification: i },
          tunnel: {
            protection: prot(BigInt(seq)),
            inner: { version: 4, source: A4, destination: B4, identification: i },
          },
          l4: { protocol: 'tcp', header: tcpHeader(seq * 1000), payload },
        }
      : {
          ethernet: ETH,
          ip: { version: 4, source: A4, destination: B4, identification: i, dontFragment: true },
          transport: prot(BigInt(seq)),
          l4: { protocol: 'tcp', header: tcpHeader(seq * 1000), payload },
        };
    if (c.lso) {
      mss = chooseMss(MTU, framing.mssOverhead(base));
      nbls.push(framing.build({ ...base, lso: { version: 2, mss } }));
      seq += Math.ceil(c.payload / mss);
    } else {
      nbls.push(framing.build(base));
      seq++;
    }
  }
  const lsoRaw = nbls.map(getLso);
  const round: Round = () => {
    for (let i = 0; i < chain; i++) {
      nbls[i].next = i + 1 < chain ? nbls[i + 1] : null;
      if (c.lso) setLso(nbls[i], lsoRaw[i]); // the completion overwrote slot 2
    }
    const before = n.frames;
    n.mp.sendNetBufferLists(nbls[0]);
    return { packets: n.frames - before, payloadBytes: chain * c.payload };
  };
  const check = (): void => {
    if (n.failed > 0) throw new Error(`send path: ${n.failed} NBLs failed (${n.lastFailure})`);
  };
  const inner = c.tunnel ? 20 : 0;
  return c.lso
    ? { round, check, protectedBytes: 20 + mss, segPayload: mss }
    : { round, check, protectedBytes: inner + 20 + c.payload, segPayload: c.payload };
}

/** One send row: the case and its native reference measured in interleaved slices. */
function sendRow(name: string, c: SendCase, refName: string): void {
  if (!want(name)) return;
  const { round, check, protectedBytes, segPayload } = sendPath(c);
  const ref = nativeSeal(c.sas[0], protectedBytes, segPayload);
  let m: Measurement;
  let refM: Measurement | null = null;
  let ratio: number | null = null;
  if (ref === null) m = measure(round, BUDGET_MS);
  else {
    const pair = measurePair(round, ref.round, BUDGET_MS);
    ref.end();
    m = pair.result;
    refM = pair.reference;
    ratio = pair.ratio;
  }
  check();
  const note = c.lso ? `${fmt(m.packets / (m.payloadBytes / c.payload), 1)} frames per send` : '';
  row(name, c.payload, m, refM, ref === null ? 'n/a (no addon)' : refName, note, ratio);
}

// ---------------------------------------------------------------------------------------------
// Receive path.
// ---------------------------------------------------------------------------------------------

/** A receiving miniport with the inbound GCM SA; counts what it indicates and returns the NBLs. */
function receiver(): { mp: Miniport; indicated: () => number } {
  let indicated = 0;
  const rx: Miniport = new Miniport({
    link: {
      transmit(): void {
        /* receive only */
      },
    },
    complete(): void {
      /* nothing sent */
    },
    random: seededRandom(8),
    indicateReceive(first: NetBufferList): void {
      for (let x: NetBufferList | null = first; x !== null; x = x.next) indicated++;
      rx.returnNetBufferLists(first); // NdisReturnNetBufferLists: back to the NIC's pool
    },
  });
  enableReceive(rx);
  addSas(rx, true, A4, B4, [GCM]);
  return { mp: rx, indicated: () => indicated };
}

/**
 * The receive case and its reference over the same `total` sealed frames, laid out as the NIC's
 * DMA would leave them (one receive buffer, 2 KiB per frame). Each of SLICES passes restores the
 * sealed bytes (untimed), then times either a fresh receiving miniport taking every frame once
 * through `receiveFrames` in batches of 64 (every frame must be indicated with no fail, drop or
 * replay counter), or native `openBatch` over the same ESP packets, 256 per call. A warm-up pass
 * of each comes first. Both sides touch the same memory, so the ratio compares like with like.
 */
function receivePath(payload: number, total: number): PairMeasurement | Measurement {
  const frames: Uint8Array[] = [];
  const tx = nic(1024, frames);
  const handle = addSas(tx.mp, false, A4, B4, [GCM]);
  const payloadBytes = payloadOf(payload);
  for (let first = 1; first <= total; first += CHAIN) {
    const nbls: NetBufferList[] = [];
    for (let s = first; s < first + CHAIN && s <= total; s++) {
      nbls.push(
        framing.build({
          ethernet: ETH,
          ip: { version: 4, source: A4, destination: B4, identification: s & 0xffff },
          transport: protection(handle, GCM, BigInt(s)),
          l4: { protocol: 'tcp', header: tcpHeader(s * 1000), payload: payloadBytes },
        })
      );
    }
    nbls.forEach((x, i) => (x.next = nbls[i + 1] ?? null));
    tx.mp.sendNetBufferLists(nbls[0]);
  }
  const STRIDE = 2048;
  const ring = new Uint8Array(total * STRIDE);
  const offsets = new Uint32Array(total);
  const lengths = new Uint32Array(total);
  for (let i = 0; i < total; i++) {
    ring.set(frames[i], i * STRIDE);
    offsets[i] = i * STRIDE + 14 + 20; // the ESP packet: behind Ethernet and IPv4
    lengths[i] = frames[i].length - 14 - 20;
    frames[i] = ring.subarray(i * STRIDE, i * STRIDE + frames[i].length);
  }
  const sealed = ring.slice();
  const batches: Uint8Array[][] = [];
  for (let i = 0; i < total; i += 64) batches.push(frames.slice(i, i + 64));
  const casePass = (): Measurement => {
    ring.set(sealed);
    const rx = receiver();
    const start = now();
    for (const b of batches) receiveFrames(rx.mp, b);
    const ns = now() - start;
    const snap = rx.mp.counters.snapshot();
    const bad = Object.entries(snap).filter(([k]) => /fail|drop|replay|error/i.test(k));
    if (rx.indicated() !== total || bad.length > 0) {
      throw new Error(`receive: ${rx.indicated()}/${total} indicated; ${JSON.stringify(bad)}`);
    }
    return rates(total, total * payload, ns);
  };
  if (nativeAddon() === null) {
    casePass();
    return medianOf(Array.from({ length: SLICES }, casePass));
  }
  const esp = createNativeEsp({
    encryption: GCM.encryption ?? 'null',
    integrity: null,
    encryptionKey: GCM.encryptionKey ?? new Uint8Array(0),
    esn: false,
  });
  const highs = new Uint32Array(REF_BATCH);
  const results = new Uint8Array(REF_BATCH);
  const refPass = (): Measurement => {
    ring.set(sealed);
    const start = now();
    for (let i = 0; i < total; i += REF_BATCH) {
      const n = Math.min(REF_BATCH, total - i);
      esp.openBatch(
        ring,
        offsets.subarray(i, i + n),
        lengths.subarray(i, i + n),
        highs,
        n,
        results
      );
      if (results[0] !== 0) throw new Error('reference openBatch: not ok');
    }
    return rates(total, total * payload, now() - start);
  };
  casePass();
  refPass();
  const pair = pairOf(casePass, refPass);
  esp.destroy();
  return pair;
}

// ---------------------------------------------------------------------------------------------
// SA add rate and memory; send with many SAs.
// ---------------------------------------------------------------------------------------------

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
function usedBytes(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function findBe32(bytes: Uint8Array, from: number, value: number): number {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = from; i + 4 <= bytes.length; i++) if (dv.getUint32(i, false) === value) return i;
  return -1;
}

interface SaAdd {
  readonly count: number;
  readonly perSecond: number;
  readonly bytesPerSa: number;
  readonly nic: Nic;
}

/** `total` outbound ESP AES-GCM-128 bundles by ADD_SA lists of 1,000 (as tests/sa-scale.test.ts). */
function saAdd(total: number): SaAdd {
  const BATCH = 1000;
  const MARK = 0x5a5a_0000;
  const template = Array.from({ length: BATCH }, (_, i) =>
    addSaEntry({
      inbound: false,
      source: Uint8Array.of(192, 0, 2, 1),
      destination: Uint8Array.of(0xcb, 0x00, (i >> 8) & 0xff, i & 0xff),
      sas: [{ ...GCM, spi: MARK + i, encryptionKey: key(20, i) }],
    })
  );
  const { bytes, entryOffsets } = encodeAddSaList(template, 0x10_0000n, 'x64');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const spiAt = entryOffsets.map((o, i) => findBe32(bytes, o, MARK + i));
  const dstAt = entryOffsets.map((o, i) => findBe32(bytes, o, 0xcb00_0000 + i));
  const n = nic(total + 16);
  const request = {
    type: 'set' as const,
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer: bytes,
    baseAddress: 0x10_0000n,
  };
  const before = usedBytes();
  const start = now();
  for (let first = 0; first < total; first += BATCH) {
    for (let i = 0; i < BATCH; i++) {
      dv.setUint32(spiAt[i], 0x100_0000 + first + i, false);
      dv.setUint32(dstAt[i], (0x0a00_0000 + first + i) >>> 0, false);
    }
    const r = n.mp.oidRequest(request);
    if (r.status !== NdisStatus.NDIS_STATUS_SUCCESS) throw new Error(statusName(r.status));
    for (let i = 0; i < BATCH; i++) readAddSaHandle(bytes, entryOffsets[i], 'x64');
  }
  const seconds = Number(now() - start) / 1e9;
  const bytesPerSa = (usedBytes() - before) / total;
  return { count: total, perSecond: total / seconds, bytesPerSa, nic: n };
}

// ---------------------------------------------------------------------------------------------
// Main.
// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const engine = activeEngine();
  const log = (s: string): void => {
    if (!JSON_OUT) process.stderr.write(`${s}\n`);
  };
  log(`engine: ${engine} (${engineReason()}); ${BUDGET_MS} ms per case`);
  const speeds = ONLY === '' ? [64, 1400].map((b) => opensslSpeed('aes-128-gcm', b)) : [];
  const GCM_REF = 'native sealBatch aes-128-gcm';

  for (const size of [64, 512, 1400]) {
    sendRow(
      `send ESP AES-GCM-128 transport IPv4 ${size} B`,
      { sas: [GCM], payload: size },
      GCM_REF
    );
  }
  sendRow(
    'send ESP AES-GCM-128 LSOv2 64 KiB',
    { sas: [GCM], payload: 65536, lso: true },
    `${GCM_REF} (MSS-sized)`
  );
  sendRow(
    'send ESP AES-CBC-128+HMAC-SHA1-96 1400 B',
    { sas: [CBC_SHA1], payload: 1400 },
    'native sealBatch aes-cbc-128+hmac-sha1-96'
  );
  sendRow(
    'send AH HMAC-SHA-256-128 1400 B',
    { sas: [AH_SHA256], payload: 1400 },
    'native sealBatch esp null+hmac-sha256-128 (proxy)'
  );
  sendRow(
    'send ESP AES-GCM-128 tunnel IPv4/IPv4 1400 B',
    { sas: [GCM], payload: 1400, tunnel: true },
    GCM_REF
  );
  if (want('send 1 vs 2 queues')) {
    const q = await benchQueues({ budgetMs: BUDGET_MS });
    row(
      'send 1 vs 2 queues',
      1400,
      q.two,
      q.one,
      '1 queue, same sends',
      `ESP AES-GCM-128 1400 B; ${q.flows} flows ${q.split.join('/')} by RSS` +
        (q.cpu === null ? '' : `; CPU-time ratio ${fmt(q.cpu.ratio, 2)}`) +
        (q.waited === null ? '' : `; waited for a CPU ${fmt(q.waited.two * 100)}%`)
    );
  }

  const rxName = 'receive ESP AES-GCM-128 1400 B (decrypt+verify+replay)';
  if (want(rxName)) {
    const rx = receivePath(1400, 16_384);
    const paired = 'ratio' in rx;
    row(
      rxName,
      1400,
      paired ? rx.result : rx,
      paired ? rx.reference : null,
      paired ? 'native openBatch aes-128-gcm, same frames' : 'n/a (no addon)',
      '16,384 frames in one buffer, batches of 64',
      paired ? rx.ratio : null
    );
  }

  const manyName = `send ESP AES-GCM-128 1400 B with ${fmt(SA_COUNT)} SAs`;
  let add: SaAdd | null = null;
  if (want('SA add') || want(manyName)) {
    add = saAdd(SA_COUNT);
    // The same case on a fresh miniport with 1 SA, in interleaved slices with the big table.
    const many = sendPath({ sas: [GCM], payload: 1400, nic: add.nic });
    const one = sendPath({ sas: [GCM], payload: 1400 });
    const pair = measurePair(many.round, one.round, BUDGET_MS);
    many.check();
    one.check();
    row(
      manyName,
      1400,
      pair.result,
      pair.reference,
      'the same case with 1 SA',
      SA_COUNT < 1_000_000 ? '1,000,000: --sas 1000000' : '',
      pair.ratio
    );
  }

  const result = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model ?? '', platform: os.platform() },
    node: process.version,
    opensslLinked: process.versions.openssl,
    engine,
    engineReason: engineReason(),
    budgetMs: BUDGET_MS,
    opensslSpeed: speeds,
    rows,
    saAdd:
      add === null
        ? null
        : { count: add.count, perSecond: add.perSecond, bytesPerSa: add.bytesPerSa },
  };
  if (JSON_OUT) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  const out: string[] = [];
  out.push(
    `ipsecov2 bench — ${result.date} — ${result.machine.cpus} cores (${result.machine.model})`,
    `node ${result.node}, OpenSSL ${result.opensslLinked}; engine: ${engine} (${result.engineReason})`,
    ''
  );
  for (const s of speeds) {
    out.push(
      s === null
        ? 'openssl speed -evp aes-128-gcm: openssl command not found'
        : `openssl speed -evp aes-128-gcm -bytes ${s.bytes} (${s.version}): ${fmt(s.packetsPerSecond)} blocks/s, ${fmt(s.gbitPerSecond, 2)} Gbit/s`
    );
  }
  out.push('');
  const cell = (m: Measurement | null, f: (m: Measurement) => string): string =>
    m === null ? '—' : f(m);
  out.push(
    table(
      [
        'case',
        'pkt/s',
        '±',
        'Gbit/s',
        'µs/pkt',
        'ref pkt/s',
        'ref Gbit/s',
        'ratio',
        'reference / note',
      ],
      rows.map((r) => [
        r.name,
        cell(r.result, (m) => fmt(m.packetsPerSecond)),
        cell(r.result, (m) => (m.spread === 0 ? '' : `${fmt(m.spread * 100)}%`)),
        cell(r.result, (m) => fmt(m.gbitPerSecond, 3)),
        cell(r.result, (m) => fmt(m.usPerPacket, 2)),
        cell(r.reference, (m) => fmt(m.packetsPerSecond)),
        cell(r.reference, (m) => fmt(m.gbitPerSecond, 3)),
        r.ratio === null ? '—' : fmt(r.ratio, 3),
        [r.referenceName, r.note].filter((x) => x !== '').join('; '),
      ])
    ),
    '',
    add === null
      ? 'SA add: not run (--only)'
      : `SA add (ADD_SA lists of 1,000 ESP AES-GCM-128 bundles): ${fmt(add.count)} SAs, ` +
          `${fmt(add.perSecond)} SAs/s, ${fmt(add.bytesPerSa)} bytes of heap per SA`,
    'Gbit/s counts payload (application) bytes; ratio = case ÷ reference (same payload bytes).',
    `Each rate is the median of ${SLICES} timed slices; ± = (fastest − slowest) ÷ median.`
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

await main();
