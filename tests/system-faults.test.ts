/**
 * Faults, NAT and reproducibility through the whole two-host system (issue 4): real NICs on both
 * sides, a seeded fault injector on the link, a NAT box in front of host A, a pcapng tap.
 * Corruption, truncation and replay each end in the right CryptoStatus or replay drop, are counted
 * on the NIC and the receiver, and the flow reports them; nothing else is lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { FaultRecord, ScheduledFault } from '../src/sim/faults.ts';
import { EpbDirection, read } from '../src/sim/pcapng.ts';
import {
  System,
  type FrameObserver,
  type SystemFlow,
  type SystemResult,
  type SystemSa,
  type SystemSpec,
} from '../src/sim/system.ts';
import { IpHeader, parseIp } from '../src/transport/rx-ip.ts';
import * as ethernet from '../src/wire/ethernet.ts';
import * as ipv4 from '../src/wire/ipv4.ts';

const A = {
  name: 'a',
  mac: ethernet.parseMac('02:00:00:00:00:0a'),
  ipv4: ipv4.parseAddress('192.0.2.10'),
};
const B = {
  name: 'b',
  mac: ethernet.parseMac('02:00:00:00:00:0b'),
  ipv4: ipv4.parseAddress('198.51.100.20'),
};
const NAT_PUBLIC = ipv4.parseAddress('203.0.113.7');

function key(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (fill * 31 + i * 7) & 0xff);
}

const base = {
  esn: false,
  initialSequence: 1n,
  replayWindow: 64,
  udpEncapsulation: null,
} as const;

/** The bundles a fault must be reported for, each with the CryptoStatus of a failed ICV. */
const KINDS = {
  'transport ESP AES-GCM-128': {
    authFailed: 'CRYPTO_TRANSPORT_ESP_AUTH_FAILED',
    sa: (from: string, name: string): SystemSa => ({
      ...base,
      from,
      name,
      protocol: 'esp',
      mode: 'transport',
      esp: { spi: 0x2001, encryption: 'aes-gcm-128', integrity: null, encryptionKey: key(20, 1) },
      source: from === 'a' ? A.ipv4 : B.ipv4,
      destination: from === 'a' ? B.ipv4 : A.ipv4,
    }),
  },
  'tunnel ESP AES-CBC-128 + HMAC-SHA-256': {
    authFailed: 'CRYPTO_TUNNEL_ESP_AUTH_FAILED',
    sa: (from: string, name: string): SystemSa => ({
      ...base,
      from,
      name,
      protocol: 'esp',
      mode: 'tunnel',
      esp: {
        spi: 0x2002,
        encryption: 'aes-cbc-128',
        integrity: 'hmac-sha256-128',
        encryptionKey: key(16, 2),
        integrityKey: key(32, 3),
      },
      source: from === 'a' ? A.ipv4 : B.ipv4,
      destination: from === 'a' ? B.ipv4 : A.ipv4,
    }),
  },
  'transport AH HMAC-SHA-256': {
    authFailed: 'CRYPTO_TRANSPORT_AH_AUTH_FAILED',
    sa: (from: string, name: string): SystemSa => ({
      ...base,
      from,
      name,
      protocol: 'ah',
      mode: 'transport',
      ah: { spi: 0x2003, integrity: 'hmac-sha256-128', integrityKey: key(32, 4) },
      source: from === 'a' ? A.ipv4 : B.ipv4,
      destination: from === 'a' ? B.ipv4 : A.ipv4,
    }),
  },
} as const;
type Kind = keyof typeof KINDS;

/** The CryptoStatus counter name on the NIC: CRYPTO_TUNNEL_ESP_AUTH_FAILED → tunnel-esp-auth-failed. */
function nicName(status: string): string {
  return (
    'receive.crypto:' +
    status
      .replace(/^CRYPTO_/, '')
      .toLowerCase()
      .replaceAll('_', '-')
  );
}

// Every frame offset below: Ethernet 14 + IPv4 20 puts AH/ESP at 34. AH HMAC-SHA-256-128 is 28
// bytes (ICV at 46–61); ESP's IV is 8 (GCM) or 16 (CBC) bytes; offset 80 is inside the ESP
// ciphertext, or inside the TCP/UDP payload behind AH, in every frame of these flows.
const IN_PAYLOAD = 80;
const AH_ICV = 50;

const UDP_SIZE = 200;
const UDP_COUNT = 20;
const TCP_MSS = 500;
const TCP_WRITE = 2_000;
const TCP_BYTES = 10_000;

function udpFlow(sa: SystemSa, from = 'a'): SystemFlow {
  return {
    name: 'udp',
    from,
    to: from === 'a' ? 'b' : 'a',
    l4: 'udp',
    ipVersion: 4,
    srcPort: 40001,
    dstPort: 5001,
    sa: sa.name,
    ...(sa.mode === 'tunnel' ? { destination: sa.destination } : {}),
    bytes: UDP_SIZE * UDP_COUNT,
    writeSize: UDP_SIZE,
  };
}

function tcpFlow(sa: SystemSa, from = 'a'): SystemFlow {
  return {
    name: 'tcp',
    from,
    to: from === 'a' ? 'b' : 'a',
    l4: 'tcp',
    ipVersion: 4,
    srcPort: 40002,
    dstPort: 443,
    sa: sa.name,
    ...(sa.mode === 'tunnel' ? { destination: sa.destination } : {}),
    lso: { version: 2, mss: TCP_MSS },
    bytes: TCP_BYTES,
    writeSize: TCP_WRITE,
  };
}

/** One run, with copies of every frame as sent (before faults) and as arrived, per direction. */
interface Run {
  readonly system: System;
  readonly r: SystemResult;
  readonly sent: { 'a-to-b': Uint8Array[]; 'b-to-a': Uint8Array[] };
  readonly arrived: { 'a-to-b': Uint8Array[]; 'b-to-a': Uint8Array[] };
}

function run(spec: Omit<SystemSpec, 'observe'>): Run {
  const sent = { 'a-to-b': [] as Uint8Array[], 'b-to-a': [] as Uint8Array[] };
  const arrived = { 'a-to-b': [] as Uint8Array[], 'b-to-a': [] as Uint8Array[] };
  const observe: FrameObserver = (frame, direction, stage) =>
    (stage === 'sent' ? sent : arrived)[direction].push(frame.slice());
  const system = new System({ ...spec, observe });
  const r = system.run();
  return { system, r, sent, arrived };
}

function sha256(parts: readonly Uint8Array[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** The payload of a flow cut into its writes (UDP datagrams) or segments (TCP, one per MSS). */
function pieces(system: System, flow: SystemFlow, size: number): Uint8Array[] {
  const p = system.payloadOf(flow);
  const out: Uint8Array[] = [];
  for (let at = 0; at < p.length; at += size) out.push(p.subarray(at, at + size));
  return out;
}

function show(x: unknown): string {
  return JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? undefined : v));
}

function specOf(
  sa: SystemSa,
  flow: SystemFlow,
  schedule: readonly ScheduledFault[],
  receiveOffload: boolean
): SystemSpec {
  return {
    seed: 7,
    hosts: [A, { ...B, receiveOffload }],
    sas: [sa],
    flows: [flow],
    link: { faultsAToB: { schedule } },
  };
}

const OFFLOAD = [
  ['the receiving NIC decides', true],
  ['receive offload off, the software path decides', false],
] as const;

// (1) Corruption: one byte inside the ciphertext (behind AH: the payload) and one inside the ICV.
for (const kind of Object.keys(KINDS) as Kind[]) {
  for (const [who, offload] of OFFLOAD) {
    const { authFailed } = KINDS[kind];
    const sa = KINDS[kind].sa('a', 'sa');
    test(`faults: corrupting a byte of ${kind} UDP datagrams → ${authFailed} on exactly those datagrams, the rest delivered byte for byte (${who})`, () => {
      const flow = udpFlow(sa);
      const clean = run(specOf(sa, flow, [], offload));
      const last = clean.sent['a-to-b'][11].length - 1;
      const icv = sa.protocol === 'ah' ? AH_ICV : last;
      const corrupted = [3, 11];
      const { system, r } = run(
        specOf(
          sa,
          flow,
          [
            { index: 3, kind: 'corrupt', offset: IN_PAYLOAD, xor: 0x40 },
            { index: 11, kind: 'corrupt', offset: icv, xor: 0x01 },
          ],
          offload
        )
      );
      const f = r.flows[0];
      const nicB = r.nics['b'];
      assert.deepEqual(r.receiverDrops['b'], { [authFailed]: 2 }, show(r));
      assert.deepEqual(f.drops, { [authFailed]: 2 });
      if (offload) {
        assert.equal(nicB[nicName(authFailed)], 2, show(nicB));
        assert.equal(nicB['receive.crypto:success'], UDP_COUNT - 2);
      } else {
        assert.equal(nicB['receive.offload-disabled'], UDP_COUNT);
        assert.equal(nicB['receive.crypto-done'] ?? 0, 0);
      }
      const datagrams = pieces(system, flow, UDP_SIZE);
      const kept = datagrams.filter((_, i) => !corrupted.includes(i));
      assert.equal(f.packetsSent, UDP_COUNT);
      assert.equal(f.packetsDelivered, UDP_COUNT - 2);
      assert.equal(f.bytesDelivered, f.bytesSent - 2 * UDP_SIZE);
      assert.equal(f.deliveredSha256, sha256(kept));
      assert.equal(system.faults.aToB!.counters.corrupt, 2);
    });

    test(`faults: corrupting ${kind} TCP segments → ${authFailed}, the TCP flow reports exactly the corrupted segments' bytes as gaps (${who})`, () => {
      const flow = tcpFlow(sa);
      const lost = [5, 6, 13];
      const { system, r } = run(
        specOf(
          sa,
          flow,
          lost.map((index) => ({ index, kind: 'corrupt', offset: IN_PAYLOAD, xor: 0x80 })),
          offload
        )
      );
      const f = r.flows[0];
      assert.equal(f.packetsSent, TCP_BYTES / TCP_MSS);
      assert.deepEqual(r.receiverDrops['b'], { [authFailed]: 3 }, show(r));
      assert.deepEqual(f.drops, { [authFailed]: 3 });
      if (offload) assert.equal(r.nics['b'][nicName(authFailed)], 3);
      assert.equal(f.lossGaps, 2); // segments 5–6 and 13
      assert.equal(f.lossBytes, 3 * TCP_MSS);
      assert.equal(f.bytesDelivered, TCP_BYTES - 3 * TCP_MSS);
      const segments = pieces(system, flow, TCP_MSS);
      assert.equal(f.deliveredSha256, sha256(segments.filter((_, i) => !lost.includes(i))));
    });
  }
}

// (2) Truncation: the frame is cut short; the IP Total Length no longer fits the frame.
for (const [who, offload] of OFFLOAD) {
  test(`faults: truncated frames are dropped under the first layer that refuses them, counted on the NIC (INVALID_PACKET_SYNTAX) and the receiver, reported as lost (${who})`, () => {
    const sa = KINDS['transport ESP AES-GCM-128'].sa('a', 'sa');
    const flow = tcpFlow(sa);
    // 100 bytes: IP header whole, ESP cut (the NIC: CRYPTO_INVALID_PACKET_SYNTAX; the receiver's
    // IP layer refuses first: Total Length past the frame); 20: IP header cut; 10: Ethernet cut.
    const cuts = [
      { index: 2, length: 100 },
      { index: 9, length: 20 },
      { index: 17, length: 10 },
    ];
    const { system, r } = run(
      specOf(
        sa,
        flow,
        cuts.map((c) => ({ ...c, kind: 'truncate' as const })),
        offload
      )
    );
    const f = r.flows[0];
    const nicB = r.nics['b'];
    assert.deepEqual(
      r.receiverDrops['b'],
      { 'ipv4-bad-total-length': 1, 'ip-truncated': 1, 'ethernet-truncated': 1 },
      show(r)
    );
    if (offload) {
      assert.equal(nicB['receive.crypto:invalid-packet-syntax'], 1, show(nicB));
      assert.equal(nicB['receive.crypto-done'], TCP_BYTES / TCP_MSS - 3);
      assert.equal(nicB['receive.ip-header'], 1);
      assert.equal(nicB['receive.not-ip'], 1);
    }
    assert.equal(f.lossGaps, 3);
    assert.equal(f.lossBytes, 3 * TCP_MSS);
    assert.equal(f.bytesDelivered, TCP_BYTES - 3 * TCP_MSS);
    const lost = cuts.map((c) => c.index);
    const segments = pieces(system, flow, TCP_MSS);
    assert.equal(f.deliveredSha256, sha256(segments.filter((_, i) => !lost.includes(i))));
    assert.equal(system.faults.aToB!.counters.truncate, 3);
  });

  test(`faults: a truncated UDP-over-ESP datagram is refused by the IP layer and is the only datagram missing (${who})`, () => {
    const sa = KINDS['transport ESP AES-GCM-128'].sa('a', 'sa');
    const flow = udpFlow(sa);
    const { system, r } = run(
      specOf(sa, flow, [{ index: 4, kind: 'truncate', length: 60 }], offload)
    );
    const f = r.flows[0];
    assert.deepEqual(r.receiverDrops['b'], { 'ipv4-bad-total-length': 1 });
    if (offload) assert.equal(r.nics['b']['receive.crypto:invalid-packet-syntax'], 1);
    assert.equal(f.packetsDelivered, UDP_COUNT - 1);
    const datagrams = pieces(system, flow, UDP_SIZE);
    assert.equal(f.deliveredSha256, sha256(datagrams.filter((_, i) => i !== 4)));
  });
}

// (3) Duplicates are replays: the anti-replay window drops the copy.
for (const [who, offload] of OFFLOAD) {
  for (const l4 of ['udp', 'tcp'] as const) {
    test(`faults: a duplicated ${l4.toUpperCase()} frame is a replay — dropped by the anti-replay window, counted, delivered once (${who})`, () => {
      const sa = KINDS['transport ESP AES-GCM-128'].sa('a', 'sa');
      const flow = l4 === 'udp' ? udpFlow(sa) : tcpFlow(sa);
      const { system, r } = run(
        specOf(
          sa,
          flow,
          [
            { index: 2, kind: 'duplicate' },
            { index: 7, kind: 'duplicate' },
          ],
          offload
        )
      );
      const f = r.flows[0];
      const frames = l4 === 'udp' ? UDP_COUNT : TCP_BYTES / TCP_MSS;
      assert.deepEqual(r.receiverDrops['b'], { replay: 2 }, show(r));
      assert.deepEqual(f.drops, { replay: 2 });
      assert.equal(system.b.receiver.report().replay['sa/esp'].replayed, 2);
      // The NIC makes no replay decision (D3): it verified both copies.
      if (offload) assert.equal(r.nics['b']['receive.crypto:success'], frames + 2);
      assert.equal(r.frames, frames + 2);
      assert.equal(f.packetsDelivered, frames);
      assert.equal(f.bytesDelivered, f.bytesSent);
      assert.equal(f.deliveredSha256, f.sentSha256);
    });
  }
}

// (4) Reordering within the replay window loses nothing; beyond it, the late frame is too old.
for (const [who, offload] of OFFLOAD) {
  test(`faults: TCP segments reordered within the replay window are accepted and delivered in order (${who})`, () => {
    const sa = KINDS['transport ESP AES-GCM-128'].sa('a', 'sa');
    const flow = tcpFlow(sa);
    const { system, r } = run(
      specOf(
        sa,
        flow,
        [
          { index: 1, kind: 'reorder', hold: 1 },
          { index: 6, kind: 'reorder', hold: 5 },
          { index: 19, kind: 'reorder', hold: 3 }, // the last frame: released by the final flush
        ],
        offload
      )
    );
    const f = r.flows[0];
    assert.equal(system.faults.aToB!.counters.reorder, 3);
    assert.deepEqual(r.receiverDrops['b'], {}, show(r));
    assert.equal(f.lossBytes, 0);
    assert.equal(f.bytesDelivered, TCP_BYTES);
    assert.equal(f.deliveredSha256, f.sentSha256);
    assert.equal(system.b.receiver.flow('tcp')!.heldSegments, 0);
  });
}

test('faults: a frame held back past the replay window arrives too old — dropped as replay-too-old and reported as a TCP gap', () => {
  const sa = { ...KINDS['transport ESP AES-GCM-128'].sa('a', 'sa'), replayWindow: 4 };
  const flow = tcpFlow(sa);
  const { system, r } = run(specOf(sa, flow, [{ index: 3, kind: 'reorder', hold: 8 }], true));
  const f = r.flows[0];
  assert.deepEqual(r.receiverDrops['b'], { 'replay-too-old': 1 }, show(r));
  assert.deepEqual(f.drops, { 'replay-too-old': 1 });
  assert.equal(f.lossGaps, 1);
  assert.equal(f.lossBytes, TCP_MSS);
  const segments = pieces(system, flow, TCP_MSS);
  assert.equal(f.deliveredSha256, sha256(segments.filter((_, i) => i !== 3)));
});

// (5) Drops on the link: the receiver never sees them; TCP reports the gaps.
test('faults: frames dropped on the link are reported lost by the flow (TCP gaps, missing UDP datagrams), nothing else', () => {
  const sa = KINDS['transport ESP AES-GCM-128'].sa('a', 'sa');
  const tcp = tcpFlow(sa);
  const udp = udpFlow(sa);
  // Frames 0–19 are the UDP datagrams (the first flow), 20–39 the TCP segments.
  const dropped = [4, 20 + 5, 20 + 6, 20 + 15];
  const { system, r } = run({
    seed: 7,
    hosts: [A, B],
    sas: [sa],
    flows: [udp, tcp],
    link: { faultsAToB: { schedule: dropped.map((index) => ({ index, kind: 'drop' })) } },
  });
  const [u, t] = [r.flows[0], r.flows[1]];
  assert.equal(system.faults.aToB!.counters.drop, 4);
  assert.deepEqual(r.receiverDrops['b'], {});
  assert.equal(u.packetsDelivered, UDP_COUNT - 1);
  assert.equal(u.deliveredSha256, sha256(pieces(system, udp, UDP_SIZE).filter((_, i) => i !== 4)));
  assert.equal(t.lossGaps, 2);
  assert.equal(t.lossBytes, 3 * TCP_MSS);
  assert.equal(t.bytesDelivered + t.lossBytes, t.bytesSent);
  assert.equal(
    t.deliveredSha256,
    sha256(pieces(system, tcp, TCP_MSS).filter((_, i) => ![5, 6, 15].includes(i)))
  );
});

// (6) A seeded random-fault run: every fault the injector recorded is accounted for.

/** What the receiver must do with one copy of a faulted frame: a drop reason, or deliver it. */
function fateOf(clean: Uint8Array, records: readonly FaultRecord[], authFailed: string): string {
  let f = clean.slice();
  const cut = records.find((x) => x.kind === 'truncate');
  if (cut !== undefined) f = f.subarray(0, cut.length);
  const hit = records.find((x) => x.kind === 'corrupt');
  if (hit !== undefined) f[hit.offset] ^= hit.xor;
  // The receiver's Ethernet step, then its IP parse (rx-ip.ts) on the damaged bytes.
  if (f.length < 14) return 'ethernet-truncated';
  const type = (f[12] << 8) | f[13];
  if (type === 0x8100) {
    if (f.length < 18) return 'ethernet-truncated';
    const inner = (f[16] << 8) | f[17];
    if (inner !== 0x0800 && inner !== 0x86dd) return 'not-ip';
    throw new Error(`unclassified: a VLAN tag made of ${show(records)}`);
  }
  if (type !== 0x0800 && type !== 0x86dd) return 'not-ip';
  const refused = parseIp(f.subarray(14), new IpHeader());
  if (refused !== null) return refused;
  // The IP header is whole and checks: a truncated frame never gets here (Total Length).
  if (hit === undefined || hit.offset < 12) return 'delivered'; // MAC addresses: not checked
  if (hit.offset >= 34 && hit.offset < 38) return 'no-sa'; // the SPI
  if (hit.offset >= 38) return authFailed; // sequence number, IV, ciphertext, ICV
  throw new Error(`unclassified: ${show(records)}`);
}

test('faults: a seeded random run (drop, truncate, corrupt, duplicate, reorder) — each fault the injector recorded ends exactly as the receiver and NIC count it, and delivered + reported lost = sent', () => {
  const sa = KINDS['transport ESP AES-GCM-128'].sa('a', 'sa');
  const SIZE = 1_000;
  const UDP_N = 300;
  const udp: SystemFlow = { ...udpFlow(sa), bytes: UDP_N * SIZE, writeSize: SIZE };
  const tcp: SystemFlow = {
    ...tcpFlow(sa),
    bytes: 300 * SIZE,
    writeSize: 10 * SIZE,
    lso: { version: 2, mss: SIZE },
  };
  const { system, r, sent, arrived } = run({
    seed: 2024,
    hosts: [A, B],
    sas: [sa],
    flows: [udp, tcp],
    link: {
      faultsAToB: {
        probabilities: {
          drop: 0.02,
          truncate: 0.02,
          corrupt: 0.04,
          duplicate: 0.03,
          reorder: 0.03,
        },
      },
    },
  });
  const injector = system.faults.aToB!;
  const frames = sent['a-to-b'];
  assert.equal(frames.length, 600);
  const byIndex = new Map<number, FaultRecord[]>();
  for (const rec of injector.records) {
    const list = byIndex.get(rec.index) ?? [];
    list.push(rec);
    byIndex.set(rec.index, list);
  }
  for (const kind of ['drop', 'truncate', 'corrupt', 'duplicate', 'reorder'] as const) {
    assert.ok(
      injector.counters[kind] > 0,
      `the seed injects some ${kind}: ${show(injector.counters)}`
    );
  }
  // Expected: per frame, what becomes of the original and of its duplicate.
  const expected: Record<string, number> = {};
  const lost = new Set<number>();
  for (let i = 0; i < frames.length; i++) {
    const recs = byIndex.get(i) ?? [];
    if (recs.some((x) => x.kind === 'drop')) {
      lost.add(i);
      continue;
    }
    const fate = fateOf(frames[i], recs, 'CRYPTO_TRANSPORT_ESP_AUTH_FAILED');
    const copies = recs.some((x) => x.kind === 'duplicate') ? 2 : 1;
    if (fate !== 'delivered') {
      lost.add(i);
      expected[fate] = (expected[fate] ?? 0) + copies;
    } else if (copies === 2) {
      expected['replay'] = (expected['replay'] ?? 0) + 1;
    }
  }
  assert.deepEqual(r.receiverDrops['b'], expected, show({ records: injector.records, r }));
  const nicB = r.nics['b'];
  assert.equal(
    nicB['receive.crypto:transport-esp-auth-failed'] ?? 0,
    expected['CRYPTO_TRANSPORT_ESP_AUTH_FAILED'] ?? 0
  );
  // Every frame that arrived was indicated once by the NIC and ended in one outcome.
  assert.equal(nicB['receive.indicated'], injector.counters.forwarded);
  assert.equal(system.b.receiver.counters['frames'], injector.counters.forwarded);
  // UDP: exactly the lost datagrams are missing; the rest arrive in the order the link gave them
  // (both flows share the SA, so frame i carries ESP sequence number i + 1).
  const [u, t] = [r.flows[0], r.flows[1]];
  const lostUdp = [...lost].filter((i) => i < UDP_N);
  assert.equal(u.bytesDelivered + lostUdp.length * SIZE, u.bytesSent);
  const datagrams = pieces(system, udp, SIZE);
  const order: Uint8Array[] = [];
  const seen = new Set<number>();
  for (const frame of arrived['a-to-b']) {
    if (frame.length < 42) continue;
    const i = ((frame[38] << 24) | (frame[39] << 16) | (frame[40] << 8) | frame[41]) - 1;
    if (i < 0 || i >= UDP_N || lost.has(i) || seen.has(i)) continue;
    const original = frames[i];
    if (original.length !== frame.length) continue;
    if (!frame.subarray(34).every((b, k) => b === original[34 + k])) continue;
    seen.add(i);
    order.push(datagrams[i]);
  }
  assert.equal(order.length, UDP_N - lostUdp.length);
  assert.equal(u.deliveredSha256, sha256(order));
  // TCP: the flow reports every lost segment as a gap, except lost segments at the very end
  // (no later segment shows them missing; the model has no FIN).
  const lostTcp = [...lost].filter((i) => i >= UDP_N).map((i) => i - UDP_N);
  let tail = 0;
  while (lostTcp.includes(299 - tail)) tail++;
  assert.equal(t.lossBytes, (lostTcp.length - tail) * SIZE);
  assert.equal(t.bytesDelivered + t.lossBytes + tail * SIZE, t.bytesSent);
  assert.equal(
    t.deliveredSha256,
    sha256(pieces(system, tcp, SIZE).filter((_, i) => !lostTcp.includes(i)))
  );
  // Every drop charged to a flow is one the receiver counted.
  for (const [reason, n] of Object.entries({ ...u.drops })) {
    assert.ok(n + (t.drops[reason] ?? 0) <= (r.receiverDrops['b'][reason] ?? 0), reason);
  }
});

// (7) NAT traversal: A behind a NAPT, UDP-ESP both ways.
test('NAT: host A behind a NAT — UDP-ESP tunnel SAs both ways; B sees the NAT public address and mapped port, both directions arrive byte for byte, the NAT counts every translation', () => {
  const aToB: SystemSa = {
    ...base,
    from: 'a',
    name: 'a-to-b',
    protocol: 'esp',
    mode: 'tunnel',
    esp: { spi: 0x3001, encryption: 'aes-gcm-128', integrity: null, encryptionKey: key(20, 7) },
    udpEncapsulation: { srcPort: 4500, dstPort: 4500 },
    source: A.ipv4,
    destination: B.ipv4,
  };
  const up: SystemFlow = {
    name: 'up',
    from: 'a',
    to: 'b',
    l4: 'tcp',
    ipVersion: 4,
    srcPort: 40003,
    dstPort: 443,
    sa: 'a-to-b',
    destination: B.ipv4,
    lso: { version: 2, mss: 1_000 },
    bytes: 30_000,
    writeSize: 10_000,
  };
  // B can only answer through the port the NAT mapped A's 4500 to: learn it from A's first packets.
  const probe = new System({
    seed: 11,
    hosts: [A, B],
    sas: [aToB],
    flows: [up],
    link: { natPublicAddress: NAT_PUBLIC },
  });
  probe.run();
  const mappings = probe.nat!.mappings();
  assert.equal(mappings.length, 1);
  assert.deepEqual(mappings[0].insideAddress, A.ipv4);
  assert.equal(mappings[0].insidePort, 4500);
  const mapped = mappings[0].publicPort;
  assert.notEqual(mapped, 4500);

  const bToA: SystemSa = {
    ...base,
    from: 'b',
    name: 'b-to-a',
    protocol: 'esp',
    mode: 'tunnel',
    esp: {
      spi: 0x3002,
      encryption: 'aes-cbc-128',
      integrity: 'hmac-sha1-96',
      encryptionKey: key(16, 8),
      integrityKey: key(20, 9),
    },
    udpEncapsulation: { srcPort: 4500, dstPort: mapped },
    source: B.ipv4,
    destination: NAT_PUBLIC,
  };
  const down: SystemFlow = {
    name: 'down',
    from: 'b',
    to: 'a',
    l4: 'udp',
    ipVersion: 4,
    srcPort: 5353,
    dstPort: 40004,
    sa: 'b-to-a',
    destination: A.ipv4,
    bytes: 20 * 700,
    writeSize: 700,
  };
  const { system, r, arrived } = run({
    seed: 11,
    hosts: [A, B],
    sas: [aToB, bToA],
    flows: [up, down],
    link: { natPublicAddress: NAT_PUBLIC },
  });
  for (const f of r.flows) {
    assert.equal(f.bytesDelivered, f.bytesSent, show(r));
    assert.equal(f.deliveredSha256, f.sentSha256);
  }
  assert.deepEqual(r.receiverDrops, { a: {}, b: {} });
  const atB = arrived['a-to-b'];
  const atA = arrived['b-to-a'];
  assert.equal(atB.length, 30);
  assert.equal(atA.length, 20);
  for (const frame of atB) {
    // B sees the NAT's public address and mapped port as the outer source (RFC 3948 §2.1).
    assert.deepEqual(frame.subarray(26, 30), NAT_PUBLIC);
    assert.equal((frame[34] << 8) | frame[35], mapped);
    assert.equal((frame[36] << 8) | frame[37], 4500);
  }
  for (const frame of atA) {
    // B sent to the public address and mapped port; A gets its own address and port 4500.
    assert.deepEqual(frame.subarray(30, 34), A.ipv4);
    assert.equal((frame[36] << 8) | frame[37], 4500);
  }
  const nat = system.nat!.counters;
  assert.equal(nat.translatedOut, 30);
  assert.equal(nat.translatedIn, 20);
  assert.equal(nat.unsolicited, 0);
  // Both NICs did the crypto, behind the NAT too.
  assert.equal(r.nics['b']['receive.crypto:success'], 30);
  assert.equal(r.nics['a']['receive.crypto:success'], 20);
});

// (8) Both directions, several flows at once, faults on both links.
test('system: four flows in both directions at once, interleaved, with duplicates and reordering on both links — every flow delivered byte for byte, every duplicate a counted replay', () => {
  const gcm = KINDS['transport ESP AES-GCM-128'].sa('a', 'gcm');
  const ahA = KINDS['transport AH HMAC-SHA-256'].sa('a', 'ah');
  const tunB = KINDS['tunnel ESP AES-CBC-128 + HMAC-SHA-256'].sa('b', 'tun');
  const gcmB: SystemSa = {
    ...KINDS['transport ESP AES-GCM-128'].sa('b', 'gcm-b'),
    esp: { spi: 0x2101, encryption: 'aes-gcm-256', integrity: null, encryptionKey: key(36, 9) },
  };
  const flows: SystemFlow[] = [
    { ...tcpFlow(gcm), name: 'a-tcp', bytes: 40_000, writeSize: 4_000 },
    { ...udpFlow(ahA), name: 'a-udp', srcPort: 41000, bytes: 30 * 300, writeSize: 300 },
    { ...tcpFlow(tunB, 'b'), name: 'b-tcp', srcPort: 42000, bytes: 30_000, writeSize: 3_000 },
    { ...udpFlow(gcmB, 'b'), name: 'b-udp', srcPort: 43000, bytes: 25 * 400, writeSize: 400 },
  ];
  const { system, r } = run({
    seed: 5,
    hosts: [A, B],
    sas: [gcm, ahA, tunB, gcmB],
    flows,
    writesPerPump: 3,
    link: {
      faultsAToB: {
        schedule: [
          { index: 3, kind: 'duplicate' },
          { index: 50, kind: 'duplicate' },
          { index: 20, kind: 'reorder', hold: 4 },
        ],
      },
      faultsBToA: {
        schedule: [
          { index: 1, kind: 'duplicate' },
          { index: 10, kind: 'reorder', hold: 2 },
          { index: 40, kind: 'duplicate' },
        ],
      },
    },
  });
  for (const f of r.flows) {
    assert.equal(f.bytesDelivered, f.bytesSent, show(r));
    assert.equal(f.deliveredSha256, f.sentSha256, f.name);
    assert.equal(f.lossBytes, 0);
  }
  assert.deepEqual(r.receiverDrops, { a: { replay: 2 }, b: { replay: 2 } });
  const replays = r.flows.reduce((n, f) => n + (f.drops['replay'] ?? 0), 0);
  assert.equal(replays, 4);
  assert.equal(system.faults.aToB!.counters.duplicate + system.faults.bToA!.counters.duplicate, 4);
  // Both NICs received with offload: every ICV checked there.
  assert.equal(r.nics['b']['receive.crypto:success'], system.wire.aToB.counters.transmitted);
  assert.equal(r.nics['a']['receive.crypto:success'], system.wire.bToA.counters.transmitted);
});

// (9) Reproducibility and the capture.
function captured(seed: number): Run {
  const gcm = KINDS['transport ESP AES-GCM-128'].sa('a', 'gcm');
  const cbc = KINDS['tunnel ESP AES-CBC-128 + HMAC-SHA-256'].sa('b', 'cbc');
  return run({
    seed,
    hosts: [A, B],
    sas: [gcm, cbc],
    flows: [
      { ...tcpFlow(gcm), bytes: 20_000, writeSize: 5_000 },
      { ...udpFlow(cbc, 'b'), bytes: 15 * 333, writeSize: 333 },
    ],
    capture: true,
    writesPerPump: 2,
    link: {
      faultsAToB: { probabilities: { drop: 0.05, corrupt: 0.05, duplicate: 0.05, reorder: 0.05 } },
      faultsBToA: { probabilities: { truncate: 0.05, duplicate: 0.1 } },
    },
  });
}

test('reproducibility: the same seed gives a byte-identical pcapng capture, another seed a different one', () => {
  const one = captured(99).r.pcapng!;
  const two = captured(99).r.pcapng!;
  const other = captured(100).r.pcapng!;
  assert.ok(one.length > 0);
  assert.deepEqual(two, one);
  assert.notDeepEqual(other, one);
});

test('capture: the pcapng parses and holds every frame that crossed the link, byte for byte, in order per direction', () => {
  const { r, arrived } = captured(99);
  const parsed = read(r.pcapng!);
  assert.ok(parsed.ok);
  const packets = parsed.value.packets;
  assert.equal(packets.length, r.frames);
  const outbound = packets.filter((p) => (p.flags ?? 0) % 4 === EpbDirection.Outbound);
  const inbound = packets.filter((p) => (p.flags ?? 0) % 4 === EpbDirection.Inbound);
  assert.equal(outbound.length + inbound.length, packets.length);
  assert.deepEqual(
    outbound.map((p) => p.data),
    arrived['a-to-b']
  );
  assert.deepEqual(
    inbound.map((p) => p.data),
    arrived['b-to-a']
  );
  for (const p of packets) assert.equal(p.originalLength, p.data.length);
});
