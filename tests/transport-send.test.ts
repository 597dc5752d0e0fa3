/**
 * @module
 * The sending transport against the real miniport: for each protocol/mode combination a Host
 * frames packets the NIC accepts (every completion NDIS_STATUS_SUCCESS) that decrypt to the
 * written bytes (verified with independent transforms of the same keys, tests/miniport-testkit.ts
 * decodeFrame, and for ESP-GCM additionally with the @noble oracle); without an algorithm, with
 * capacity 1 and after OID_TCP_OFFLOAD_PARAMETERS turns IPsec off the same flows go through
 * software IPsec with frames of identical structure; ESN wrap with UPDATE_SA; rekey before a
 * non-ESN counter runs out; a failed NBL reported; UDP larger than the MTU fragmented (D16).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAuth } from '../src/crypto/ah.ts';
import { createEsp } from '../src/crypto/esp.ts';
import { encryptionInfo, integrityInfo } from '../src/crypto/names.ts';
import { seededRandom } from '../src/crypto/random.ts';
import { Miniport } from '../src/miniport/miniport.ts';
import { defaultCapabilities, type Offload } from '../src/ndis/caps.ts';
import type { NetBufferList } from '../src/ndis/nbl.ts';
import { Encryption, oidName } from '../src/ndis/oid.ts';
import { NdisStatus } from '../src/ndis/status.ts';
import { Host } from '../src/transport/host.ts';
import type { Nic } from '../src/transport/nic.ts';
import type { FlowConfig, SaConfig } from '../src/transport/policy.ts';
import * as checksum from '../src/wire/checksum.ts';
import * as ethernet from '../src/wire/ethernet.ts';
import { checkFrame } from './oracle/frame.ts';
import {
  ADDR,
  capsWith,
  failures,
  decodeFrame,
  keyFor,
  payloadBytes,
  type DecodedIp,
  type HighOf,
  type Verifier,
} from './miniport-testkit.ts';

const MAC_A = ethernet.parseMac('02:00:00:00:00:0a');
const MAC_B = ethernet.parseMac('02:00:00:00:00:0b');
const NEIGHBOURS = [ADDR.v4dst, ADDR.v6dst, ADDR.v4tunDst, ADDR.v6tunDst].map((address) => ({
  address,
  mac: MAC_B,
}));

interface SaOpts {
  readonly name?: string;
  readonly protocol?: 'esp' | 'ah' | 'ah+esp';
  readonly mode?: 'transport' | 'tunnel';
  readonly encryption?: NonNullable<SaConfig['esp']>['encryption'];
  readonly integrity?: NonNullable<SaConfig['esp']>['integrity'];
  readonly ahIntegrity?: NonNullable<SaConfig['ah']>['integrity'];
  readonly v6?: boolean;
  readonly esn?: boolean;
  readonly initialSequence?: bigint;
  readonly udp?: boolean;
  readonly spi?: number;
}

function sa(o: SaOpts): SaConfig {
  const protocol = o.protocol ?? 'esp';
  const spi = o.spi ?? 0x1000;
  const tunnel = o.mode === 'tunnel';
  const v6 = o.v6 ?? false;
  const enc = o.encryption ?? 'aes-gcm-128';
  const integ = o.integrity ?? null;
  const ahInteg = o.ahIntegrity ?? 'hmac-sha1-96';
  return {
    name: o.name ?? 'sa',
    protocol,
    mode: o.mode ?? 'transport',
    ...(protocol === 'ah'
      ? {}
      : {
          esp: {
            spi,
            encryption: enc,
            integrity: integ,
            encryptionKey: keyFor(spi, 0, encryptionInfo(enc).keyLength),
            ...(integ === null
              ? {}
              : { integrityKey: keyFor(spi, 1, integrityInfo(integ).keyLength) }),
          },
        }),
    ...(protocol === 'esp'
      ? {}
      : {
          ah: {
            spi: spi + 1,
            integrity: ahInteg,
            integrityKey: keyFor(spi + 1, 1, integrityInfo(ahInteg).keyLength),
          },
        }),
    esn: o.esn ?? false,
    initialSequence: o.initialSequence ?? 1n,
    replayWindow: 64,
    udpEncapsulation: o.udp === true ? { srcPort: 4500, dstPort: 4500 } : null,
    source: tunnel ? (v6 ? ADDR.v6tunSrc : ADDR.v4tunSrc) : v6 ? ADDR.v6src : ADDR.v4src,
    destination: tunnel ? (v6 ? ADDR.v6tunDst : ADDR.v4tunDst) : v6 ? ADDR.v6dst : ADDR.v4dst,
  };
}

function verifiers(s: SaConfig): Verifier[] {
  const out: Verifier[] = [];
  const e = s.esp;
  if (s.protocol !== 'ah' && e !== undefined) {
    out.push({
      spi: e.spi,
      operation: 'esp',
      esn: s.esn,
      seqHigh: Number(s.initialSequence >> 32n),
      esp: createEsp({
        encryption: e.encryption,
        integrity: e.integrity,
        encryptionKey: e.encryptionKey,
        ...(e.integrityKey === undefined ? {} : { integrityKey: e.integrityKey }),
        esn: s.esn,
      }),
      auth: null,
      encryptionKey: e.encryptionKey,
      integrityKey: e.integrityKey ?? new Uint8Array(0),
    });
  }
  const a = s.ah;
  if (s.protocol !== 'esp' && a !== undefined) {
    out.push({
      spi: a.spi,
      operation: 'ah',
      esn: s.esn,
      seqHigh: Number(s.initialSequence >> 32n),
      esp: null,
      auth: createAuth({ integrity: a.integrity, key: a.integrityKey, esn: s.esn }),
      encryptionKey: new Uint8Array(0),
      integrityKey: a.integrityKey,
    });
  }
  return out;
}

interface Rig {
  readonly mp: Miniport;
  readonly host: Host;
  readonly frames: Uint8Array[];
  readonly completed: NetBufferList[];
  /** Each completion's status at the time (the sender reuses completed NBLs from its pool). */
  readonly statuses: number[];
  readonly log: string[];
}

function rig(
  sas: readonly SaConfig[],
  flows: readonly FlowConfig[],
  caps: Offload = defaultCapabilities(),
  extra: Partial<ConstructorParameters<typeof Host>[0]> = {}
): Rig {
  const frames: Uint8Array[] = [];
  const completed: NetBufferList[] = [];
  const statuses: number[] = [];
  const log: string[] = [];
  const ref: { host?: Host } = {};
  const mp = new Miniport({
    capabilities: caps,
    link: { transmit: (f) => frames.push(f) },
    complete: (nbl) => {
      completed.push(nbl);
      statuses.push(nbl.status);
      log.push(`complete:${nbl.status === 0 ? 'ok' : 'fail'}`);
      ref.host?.onSendComplete(nbl);
    },
    indicateStatus: (i) => {
      ref.host?.onStatusIndication(i);
    },
    random: seededRandom(99),
  });
  const nic: Nic = {
    oidRequest: (r) => {
      log.push(`oid:${oidName(r.oid)}`);
      return mp.oidRequest(r);
    },
    sendNetBufferLists: (first) => {
      log.push('send');
      mp.sendNetBufferLists(first);
    },
  };
  const host = new Host({
    name: 'A',
    mac: MAC_A,
    ipv4: ADDR.v4src,
    ipv6: ADDR.v6src,
    nic,
    random: seededRandom(5),
    neighbours: NEIGHBOURS,
    outbound: sas,
    flows,
    bind: caps,
    ...extra,
  });
  ref.host = host;
  host.start();
  return { mp, host, frames, completed, statuses, log };
}

function tcpFlow(
  sa: string,
  v6 = false,
  lso: 1 | 2 | null = 2,
  extra: Partial<FlowConfig> = {}
): FlowConfig {
  return {
    name: 'f',
    l4: 'tcp',
    ipVersion: v6 ? 6 : 4,
    srcPort: 49152,
    dstPort: 443,
    sa,
    ...(lso === null ? {} : { lso: { version: lso } }),
    ...extra,
  };
}

function udpFlow(sa: string, v6 = false, extra: Partial<FlowConfig> = {}): FlowConfig {
  return {
    name: 'f',
    l4: 'udp',
    ipVersion: v6 ? 6 : 4,
    srcPort: 5000,
    dstPort: 5001,
    sa,
    ...extra,
  };
}

/** The bytes of `parts` back to back. */
function cat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** The innermost decoded IP level. */
function innermost(d: DecodedIp): DecodedIp {
  return d.inner === null ? d : innermost(d.inner);
}

/** Every integrity result of every level is 'ok' and every checksum is right. */
function allOk(d: DecodedIp): string[] {
  const bad: string[] = [];
  for (let l: DecodedIp | null = d; l !== null; l = l.inner) {
    if (!l.headerChecksumOk) bad.push('ip-checksum');
    if (l.esp !== null && (l.esp.result !== 'ok' || !l.esp.padValid))
      bad.push(`esp:${l.esp.result}`);
    if (l.ah !== null && l.ah.result !== 'ok') bad.push(`ah:${l.ah.result}`);
    if (l.udp !== null && !l.udp.checksumOk) bad.push('udp-esp-checksum');
    if (l.tcp !== null && !l.tcp.checksumOk) bad.push('tcp-checksum');
    if (l.udpPayload !== null && !l.udpPayload.checksumOk) bad.push('udp-checksum');
  }
  return bad;
}

/** Decodes every frame, asserts it verifies, and returns the application bytes in order. */
function delivered(
  frames: readonly Uint8Array[],
  vs: readonly Verifier[],
  highOf?: HighOf
): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [i, f] of frames.entries()) {
    const d = decodeFrame(f, vs, highOf);
    assert.deepEqual(allOk(d), [], `frame ${i}`);
    const inner = innermost(d);
    const p = inner.tcp?.payload ?? inner.udpPayload?.payload;
    assert.ok(p !== undefined, `frame ${i}: expected TCP or UDP`);
    parts.push(p);
  }
  return cat(parts);
}

/** The structure of a frame: lengths, SPIs, sequence numbers, pad lengths, TCP fields. */
function structure(f: Uint8Array, vs: readonly Verifier[]): unknown {
  const d = decodeFrame(f, vs);
  const levels: unknown[] = [f.length];
  for (let l: DecodedIp | null = d; l !== null; l = l.inner) {
    levels.push({
      v: l.version,
      id: l.id,
      len: l.totalLength,
      udp: l.udp?.length,
      ah: l.ah === null ? null : [l.ah.spi, l.ah.seq, l.ah.length],
      esp: l.esp === null ? null : [l.esp.spi, l.esp.seq, l.esp.padLength, l.esp.nextHeader],
      tcp: l.tcp === null ? null : [l.tcp.seq, l.tcp.flags, l.tcp.payload.length],
    });
  }
  return levels;
}

function allSuccess(r: Rig): void {
  assert.ok(r.completed.length > 0);
  assert.deepEqual(
    r.statuses.filter((s) => s !== NdisStatus.NDIS_STATUS_SUCCESS),
    []
  );
  assert.deepEqual(r.host.failures, []);
  assert.equal(r.mp.counters.snapshot()['send.ipsec-not-configured'] ?? 0, 0);
}

interface Combo {
  readonly what: string;
  readonly sas: SaConfig[];
  readonly flow: FlowConfig;
  readonly bytes: number;
  /** A capability record that lacks what this combo needs. */
  readonly lacking: Offload;
}

const LACK_ALL = capsWith({
  EncryptionAlgorithms: Encryption.IPSEC_OFFLOAD_V2_ENCRYPTION_DES_CBC,
  AuthenticationAlgorithms: 0,
});

const COMBOS: Combo[] = [
  {
    what: 'ESP AES-GCM-128 transport IPv4 TCP LSOv2',
    sas: [sa({})],
    flow: tcpFlow('sa'),
    bytes: 9000,
    lacking: LACK_ALL,
  },
  {
    what: 'ESP AES-CBC-256 + HMAC-SHA-256-128 transport IPv6 TCP LSOv2',
    sas: [sa({ encryption: 'aes-cbc-256', integrity: 'hmac-sha256-128', v6: true })],
    flow: tcpFlow('sa', true),
    bytes: 7000,
    lacking: LACK_ALL,
  },
  {
    what: 'AH HMAC-SHA1-96 transport IPv4 TCP LSOv1',
    sas: [sa({ protocol: 'ah' })],
    flow: tcpFlow('sa', false, 1),
    bytes: 6000,
    lacking: LACK_ALL,
  },
  {
    what: 'AH+ESP (AES-CBC-128 + HMAC-SHA1-96, AH HMAC-SHA-256-128) IPv4 TCP LSOv2',
    sas: [
      sa({
        protocol: 'ah+esp',
        encryption: 'aes-cbc-128',
        integrity: 'hmac-sha1-96',
        ahIntegrity: 'hmac-sha256-128',
      }),
    ],
    flow: tcpFlow('sa'),
    bytes: 5000,
    lacking: capsWith({ AhEspCombined: false }),
  },
  {
    what: 'AH AES-GMAC-128 transport IPv6 UDP',
    sas: [sa({ protocol: 'ah', ahIntegrity: 'aes-gmac-128', v6: true })],
    flow: udpFlow('sa', true),
    bytes: 700,
    lacking: LACK_ALL,
  },
  {
    what: 'ESP NULL + AES-GMAC-256 transport IPv4 UDP, ESN',
    sas: [sa({ encryption: 'null', integrity: 'aes-gmac-256', esn: true })],
    flow: udpFlow('sa'),
    bytes: 333,
    lacking: capsWith({ ExtendedSequenceNumbers: false }),
  },
  {
    what: 'ESP tunnel IPv4-in-IPv4 AES-CBC-128 + HMAC-MD5-96 TCP (no LSO through tunnels)',
    sas: [sa({ mode: 'tunnel', encryption: 'aes-cbc-128', integrity: 'hmac-md5-96' })],
    flow: tcpFlow('sa', false, 2, { destination: ADDR.v4dst }),
    bytes: 4000,
    lacking: capsWith({ Tunnel: false }),
  },
  {
    what: 'ESP tunnel IPv6-in-IPv6 3DES + HMAC-SHA1-96 UDP',
    sas: [sa({ mode: 'tunnel', v6: true, encryption: '3des-cbc', integrity: 'hmac-sha1-96' })],
    flow: udpFlow('sa', true, { destination: ADDR.v6dst }),
    bytes: 900,
    lacking: LACK_ALL,
  },
  {
    what: 'transport over tunnel: ESP GCM-256 inside ESP AES-CBC-192 tunnel, IPv4 TCP',
    sas: [
      sa({ name: 'inner', encryption: 'aes-gcm-256', spi: 0x2000 }),
      sa({
        name: 'outer',
        mode: 'tunnel',
        encryption: 'aes-cbc-192',
        integrity: 'hmac-sha256-128',
        spi: 0x3000,
      }),
    ],
    flow: tcpFlow('inner', false, 2, { tunnelSa: 'outer' }),
    bytes: 3000,
    lacking: capsWith({ SaOffloadCapacity: 1 }),
  },
  {
    what: 'UDP-ESP transport IPv4 AES-GCM-128 TCP LSOv2 (UDP checksum 0)',
    sas: [sa({ udp: true })],
    flow: tcpFlow('sa'),
    bytes: 5000,
    lacking: capsWith({ UdpEsp: 0 }),
  },
  {
    what: 'UDP-ESP transport IPv6 AES-CBC-128 + HMAC-SHA1-96 UDP (UDP checksum computed)',
    sas: [sa({ udp: true, v6: true, encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' })],
    flow: udpFlow('sa', true),
    bytes: 1000,
    lacking: LACK_ALL,
  },
  {
    what: 'UDP-ESP tunnel IPv4 AES-GCM-128 UDP',
    sas: [sa({ mode: 'tunnel', udp: true })],
    flow: udpFlow('sa', false, { destination: ADDR.v4dst }),
    bytes: 800,
    lacking: capsWith({ UdpEsp: 1 }),
  },
];

function run(c: Combo, caps?: Offload): { r: Rig; vs: Verifier[]; data: Uint8Array } {
  const r = rig(c.sas, [c.flow], caps);
  const data = payloadBytes(c.bytes, c.bytes);
  r.host.write('f', data);
  if (c.flow.l4 === 'udp') r.host.write('f', data.subarray(0, 100));
  return { r, vs: c.sas.flatMap(verifiers), data };
}

function expected(c: Combo, data: Uint8Array): Uint8Array {
  return c.flow.l4 === 'udp' ? cat([data, data.subarray(0, 100)]) : data;
}

describe('transport send: every combination offloaded and in software', () => {
  for (const c of COMBOS) {
    it(c.what, () => {
      const off = run(c);
      allSuccess(off.r);
      assert.deepEqual(delivered(off.r.frames, off.vs), expected(c, off.data));
      for (const s of off.r.host.sadb.states()) {
        assert.ok(s.offloaded, `${s.key} offloaded (${String(s.why)})`);
        assert.equal(s.counters.software, 0);
        assert.equal(s.counters.offloaded, off.r.frames.length);
        // The NIC did the work: its SA counted every frame.
        const bundle = off.r.mp.saTable.get(s.handle);
        assert.ok(bundle !== undefined);
        for (const e of bundle.elements) assert.equal(e.counters.packets, off.r.frames.length);
      }
      const sw = run(c, c.lacking);
      allSuccess(sw.r);
      assert.deepEqual(delivered(sw.r.frames, sw.vs), expected(c, sw.data));
      assert.ok(sw.r.host.sadb.states().some((s) => !s.offloaded));
      for (const s of sw.r.host.sadb.states()) {
        assert.equal(s.counters.offloaded, 0, `${s.key}: all-or-nothing per packet`);
        assert.equal(s.counters.software, sw.r.frames.length);
      }
      // Same input, same structure: lengths, headers, SPIs, sequence numbers, padding.
      assert.deepEqual(
        sw.r.frames.map((f) => structure(f, sw.vs)),
        off.r.frames.map((f) => structure(f, off.vs))
      );
      const flow = sw.r.host.flow('f');
      assert.equal(flow.counters.packetsSent, sw.r.frames.length);
      assert.equal(flow.counters.bytesSent, expected(c, sw.data).length);
    });
  }

  it('ESP AES-GCM frames verify with the independent @noble oracle', () => {
    const c = COMBOS[0];
    const { r } = run(c);
    const e = c.sas[0].esp!;
    for (const f of r.frames) {
      const res = checkFrame(f, {
        protocol: 'esp',
        spi: e.spi,
        encryption: 'aes-gcm-128',
        encryptionKey: e.encryptionKey,
        integrity: 'none',
        integrityKey: new Uint8Array(0),
        icvLength: 16,
        esn: false,
        seqHigh: 0,
      });
      assert.ok(res.ok, JSON.stringify(res));
    }
  });

  it('completed NBLs go back to the sender pool and carry later sends, every byte intact', () => {
    const c = COMBOS[0];
    const r = rig(c.sas, [c.flow]);
    const parts = [1, 2, 3, 4].map((i) => payloadBytes(5000 + i, i));
    for (const p of parts) r.host.write('f', p);
    allSuccess(r);
    assert.deepEqual(delivered(r.frames, c.sas.flatMap(verifiers)), cat(parts));
    // The NIC completes inside MiniportSendNetBufferLists, so each write reuses the last NBLs.
    assert.ok(new Set(r.completed).size < r.completed.length, 'an NBL was reused');
  });

  it('every segment fits the MTU and LSO made several segments per NBL', () => {
    const { r } = run(COMBOS[0]);
    for (const f of r.frames) assert.ok(f.length - 14 <= 1500);
    assert.ok(r.completed.length < r.frames.length);
  });
});

describe('transport send: OID_TCP_OFFLOAD_PARAMETERS turns IPsec off (D10)', () => {
  it('stops offloading, deletes its SAs, and the same flow continues in software', () => {
    const c = COMBOS[1];
    const r = rig(c.sas, [c.flow]);
    const data = payloadBytes(3000, 3);
    r.host.write('f', data);
    assert.equal(r.host.disableIpsecOffload(), 'done');
    assert.equal(r.host.lastParametersStatus, NdisStatus.NDIS_STATUS_SUCCESS);
    assert.equal(r.host.sadb.ipsec.Esp, false);
    assert.equal(r.host.sadb.entriesHeld(), 0);
    assert.equal(r.mp.saTable.size, 0);
    r.host.write('f', data);
    allSuccess(r);
    assert.deepEqual(delivered(r.frames, c.sas.flatMap(verifiers)), cat([data, data]));
    const s = r.host.sadb.outbound('sa')!;
    assert.ok(s.counters.offloaded > 0 && s.counters.software > 0);
  });

  it('waits for outstanding offloaded NBLs before setting the OID', () => {
    const held: NetBufferList[] = [];
    const c = COMBOS[0];
    const r = rig(c.sas, [c.flow]);
    // A NIC that completes later: hold the completions.
    let holding = true;
    const original = r.mp.sendNetBufferLists.bind(r.mp);
    (r.mp as { sendNetBufferLists: (f: NetBufferList | null) => void }).sendNetBufferLists = (
      f
    ) => {
      if (holding) for (let n = f; n !== null; n = n.next) held.push(n);
      else original(f);
    };
    r.host.write('f', payloadBytes(500));
    assert.equal(r.host.sender.offloadedOutstanding, 1);
    assert.equal(r.host.disableIpsecOffload(), 'pending');
    assert.equal(r.host.sadb.ipsec.Esp, true);
    // Meanwhile new work goes software (no IPsec work handed to the NIC).
    holding = false;
    r.host.write('f', payloadBytes(200));
    assert.equal(r.host.sadb.outbound('sa')!.counters.software, 1);
    // The held NBL completes: now the OID is set.
    held[0].next = null;
    original(held[0]);
    assert.equal(r.host.lastParametersStatus, NdisStatus.NDIS_STATUS_SUCCESS);
    assert.equal(r.host.sadb.ipsec.Esp, false);
    allSuccess(r);
  });
});

describe('transport send: ESN and rekeying (D3)', () => {
  it('an LSO send crosses 2^32 with ESN; UPDATE_SA once per SA after it completes, before the next NBL', () => {
    const s = sa({
      protocol: 'ah+esp',
      encryption: 'aes-gcm-128',
      esn: true,
      initialSequence: 2n ** 32n - 3n,
    });
    const r = rig([s], [tcpFlow('sa')]);
    const data = payloadBytes(10 * 1400);
    r.host.write('f', data);
    r.host.write('f', data.subarray(0, 3000));
    allSuccess(r);
    const highOf: HighOf = (_spi, low) => (low >= 0x8000_0000 ? 0 : 1);
    assert.deepEqual(
      delivered(r.frames, verifiers(s), highOf),
      cat([data, data.subarray(0, 3000)])
    );
    assert.equal(r.mp.counters.snapshot()['oid.update-sa.updated'], 2); // ESP and AH, once each
    const sends = r.log.filter(
      (l) =>
        l === 'send' ||
        l.startsWith('oid:OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE') ||
        l.startsWith('complete')
    );
    assert.deepEqual(sends.slice(0, 5), [
      'send',
      'complete:ok',
      'oid:OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA',
      'oid:OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA',
      'send',
    ]);
    assert.equal(r.host.sadb.outbound('sa')!.nicHigh, 1);
  });

  it('without ESN the host rekeys before the counter runs out: a new SPI, nothing fails', () => {
    const s = sa({ initialSequence: 2n ** 32n - 60n });
    const added: SaConfig[] = [];
    const r = rig([s], [tcpFlow('sa', false, null)], defaultCapabilities(), {
      rekeyMargin: 20n,
      onRekey: (_old, next) => added.push(next),
    });
    const data = payloadBytes(80 * 1000);
    r.host.write('f', data);
    assert.deepEqual(failures(r.mp), []);
    allSuccess(r);
    assert.equal(added.length, 1);
    assert.notEqual(added[0].esp!.spi, s.esp!.spi);
    const got = delivered(r.frames, [...verifiers(s), ...verifiers(added[0])]);
    const firstDiff = got.findIndex((b, i) => b !== data[i]);
    assert.equal(
      firstDiff,
      -1,
      `first difference at ${firstDiff} of ${data.length}; frames ${r.frames.map((f) => f.length).join(',')}`
    );
    const spis = new Set(
      r.frames.map((f) => decodeFrame(f, [...verifiers(s), ...verifiers(added[0])]).esp!.spi)
    );
    assert.equal(spis.size, 2);
    assert.equal(r.mp.saTable.size, 1); // the old SA was deleted
    assert.equal(r.host.sadb.outbound('sa')!.offloaded, true);
  });
});

describe('transport send: failures and fragmentation', () => {
  it('a failed NBL (the NIC paused) is reported to the flow with its status', () => {
    const c = COMBOS[0];
    const r = rig(c.sas, [c.flow]);
    r.mp.pause();
    r.host.write('f', payloadBytes(100));
    const f = r.host.flow('f');
    assert.equal(f.counters.nblsFailed, 1);
    assert.equal(f.counters.packetsSent, 0);
    assert.deepEqual(f.failures, [
      {
        flow: 'f',
        status: NdisStatus.NDIS_STATUS_PAUSED,
        statusName: 'NDIS_STATUS_PAUSED',
        reason: 'nic',
        bytes: 100,
      },
    ]);
  });

  for (const v6 of [false, true]) {
    it(`a UDP write larger than the MTU is fragmented after IPsec, not offloaded (IPv${v6 ? 6 : 4}, D16)`, () => {
      const s = sa({ v6, encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' });
      const r = rig([s], [udpFlow('sa', v6)]);
      const data = payloadBytes(4000, 9);
      r.host.write('f', data);
      allSuccess(r);
      assert.ok(r.frames.length >= 3);
      for (const f of r.frames) assert.ok(f.length - 14 <= 1500);
      const st = r.host.sadb.outbound('sa')!;
      assert.equal(st.counters.offloaded, 0);
      assert.equal(st.counters.software, r.frames.length);
      const packet = reassemble(r.frames);
      const frame = cat([r.frames[0].subarray(0, 14), packet]);
      assert.deepEqual(delivered([frame], verifiers(s)), data);
    });
  }
});

/** Reassembles IPv4 or IPv6 fragments (one datagram) into one IP packet. */
function reassemble(frames: readonly Uint8Array[]): Uint8Array {
  const packets = frames.map((f) => f.subarray(14));
  const v6 = packets[0][0] >>> 4 === 6;
  const parts = packets.map((p) => {
    const dv = new DataView(p.buffer, p.byteOffset, p.byteLength);
    if (v6) return { off: dv.getUint16(42) & ~7, data: p.subarray(48), nh: p[40] };
    const ihl = (p[0] & 15) * 4;
    return {
      off: (dv.getUint16(6) & 0x1fff) * 8,
      data: p.subarray(ihl, dv.getUint16(2)),
      nh: p[9],
    };
  });
  parts.sort((a, b) => a.off - b.off);
  const payload = cat(parts.map((p) => p.data));
  const hl = v6 ? 40 : (packets[0][0] & 15) * 4;
  const out = new Uint8Array(hl + payload.length);
  out.set(packets[0].subarray(0, hl));
  out.set(payload, hl);
  const dv = new DataView(out.buffer);
  if (v6) {
    out[6] = parts[0].nh;
    dv.setUint16(4, payload.length);
  } else {
    dv.setUint16(2, out.length);
    dv.setUint16(6, 0);
    dv.setUint16(10, 0);
    dv.setUint16(10, checksum.checksum(out.subarray(0, hl)));
  }
  return out;
}
