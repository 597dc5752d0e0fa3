/**
 * The long run of issue 4: ≥ 100,000 frames through the two-host system with an ESN SA that
 * starts just below 2^32, so the low half wraps mid-run and the sender pushes UPDATE_SA to the
 * NIC; every byte arrives, and the heap in use after a forced GC is the same at 10,000 and at
 * 100,000 packets (within 10 %): nothing is kept per packet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import { System, type SystemSa, type SystemSpec } from '../src/sim/system.ts';
import * as ethernet from '../src/wire/ethernet.ts';
import * as ipv4 from '../src/wire/ipv4.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

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

function key(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (fill * 31 + i * 7) & 0xff);
}

const PACKETS = 100_000;
const CHECKPOINT = 10_000;
const WRITE = 64;
/** The wrap falls between the two heap measurements. */
const FIRST_SEQUENCE = 2n ** 32n - 40_000n;

const esn: SystemSa = {
  from: 'a',
  name: 'esn',
  protocol: 'esp',
  mode: 'transport',
  esp: { spi: 0x4001, encryption: 'aes-gcm-128', integrity: null, encryptionKey: key(20, 4) },
  esn: true,
  initialSequence: FIRST_SEQUENCE,
  replayWindow: 64,
  udpEncapsulation: null,
  source: A.ipv4,
  destination: B.ipv4,
};

/** The reverse direction: ESN too, AES-CBC + HMAC-SHA-256, TCP segmented by the NIC (LSOv2). */
const esnBack: SystemSa = {
  from: 'b',
  name: 'esn-back',
  protocol: 'esp',
  mode: 'transport',
  esp: {
    spi: 0x4002,
    encryption: 'aes-cbc-128',
    integrity: 'hmac-sha256-128',
    encryptionKey: key(16, 5),
    integrityKey: key(32, 6),
  },
  esn: true,
  initialSequence: FIRST_SEQUENCE,
  replayWindow: 64,
  udpEncapsulation: null,
  source: B.ipv4,
  destination: A.ipv4,
};
/** Every TCP_EVERY-th UDP write, host B writes TCP_WRITE bytes: TCP_WRITE / MSS segments. */
const TCP_EVERY = 10;
const TCP_WRITE = 512;
const MSS = 64;

const spec: SystemSpec = {
  seed: 4242,
  hosts: [A, B],
  sas: [esn, esnBack],
  flows: [
    {
      name: 'udp-long',
      from: 'a',
      to: 'b',
      l4: 'udp',
      ipVersion: 4,
      srcPort: 40100,
      dstPort: 5001,
      sa: 'esn',
      bytes: PACKETS * WRITE,
      writeSize: WRITE,
    },
    {
      name: 'tcp-back',
      from: 'b',
      to: 'a',
      l4: 'tcp',
      ipVersion: 4,
      srcPort: 443,
      dstPort: 40200,
      sa: 'esn-back',
      lso: { version: 2, mss: MSS },
      bytes: (PACKETS / TCP_EVERY) * TCP_WRITE,
      writeSize: TCP_WRITE,
    },
  ],
};

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

test('long run: the Node test runner exposes a working GC through v8 flags and vm', () => {
  assert.equal(typeof gc, 'function');
  assert.doesNotThrow(() => {
    gc();
  });
});

test('long run: 100,000 UDP datagrams A→B and 80,000 TCP segments B→A on ESN SAs crossing 2^32 push UPDATE_SA on both NICs, every byte arrives, heap after GC flat within 10 % from 10,000 to 100,000 datagrams', () => {
  const started = performance.now();
  const system = new System(spec);
  system.start();
  const [udp, tcp] = [spec.flows[0], spec.flows[1]];
  const payload = system.payloadOf(udp);
  const back = system.payloadOf(tcp);
  let heapAt10k = 0;
  for (let i = 0; i < PACKETS; i++) {
    system.a.host.write(udp.name, payload.subarray(i * WRITE, (i + 1) * WRITE));
    if (i % TCP_EVERY === 0) {
      const at = (i / TCP_EVERY) * TCP_WRITE;
      system.b.host.write(tcp.name, back.subarray(at, at + TCP_WRITE));
    }
    system.pump();
    if (i + 1 === CHECKPOINT) heapAt10k = heapAfterGc();
  }
  system.a.receiver.flush();
  system.b.receiver.flush();
  const heapAt100k = heapAfterGc();
  const r = system.result();
  const seconds = (performance.now() - started) / 1000;
  const [f, t] = [r.flows[0], r.flows[1]];
  const nicA = r.nics['a'];
  const nicB = r.nics['b'];
  const growth = (heapAt100k - heapAt10k) / heapAt10k;
  console.log(
    `long run: ${r.frames} frames in ${seconds.toFixed(1)} s; heap after GC ${heapAt10k} B at ${CHECKPOINT}, ${heapAt100k} B at ${PACKETS} (${(growth * 100).toFixed(2)} %); UPDATE_SA ${nicA['oid.update-sa.updated'] ?? 0} + ${nicB['oid.update-sa.updated'] ?? 0}`
  );
  const tcpFrames = (PACKETS / TCP_EVERY) * (TCP_WRITE / MSS);
  assert.equal(r.frames, PACKETS + tcpFrames);
  assert.equal(f.packetsSent, PACKETS);
  assert.equal(f.packetsDelivered, PACKETS);
  assert.equal(f.bytesDelivered, PACKETS * WRITE);
  assert.equal(f.deliveredSha256, f.sentSha256);
  assert.equal(t.packetsSent, tcpFrames);
  assert.equal(t.bytesDelivered, (PACKETS / TCP_EVERY) * TCP_WRITE);
  assert.equal(t.deliveredSha256, t.sentSha256);
  assert.equal(t.lossBytes, 0);
  assert.deepEqual(r.receiverDrops, { a: {}, b: {} });
  // Both NICs did the work: every frame sent with offload, every one verified on receive.
  assert.equal(nicB['receive.crypto:success'], PACKETS);
  assert.equal(nicA['receive.crypto:success'], tcpFrames);
  // The low half wrapped on both SAs: each sender moved its NIC's high half with UPDATE_SA (D3).
  assert.ok((nicA['oid.update-sa.updated'] ?? 0) >= 1, JSON.stringify(nicA));
  assert.ok((nicB['oid.update-sa.updated'] ?? 0) >= 1, JSON.stringify(nicB));
  assert.equal(system.a.host.sadb.current('esn').nicHigh, 1);
  assert.equal(system.b.host.sadb.current('esn-back').nicHigh, 1);
  assert.ok(
    Math.abs(growth) <= 0.1,
    `heap after GC: ${heapAt10k} B at ${CHECKPOINT} packets, ${heapAt100k} B at ${PACKETS}`
  );
});
