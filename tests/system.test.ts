/**
 * The two-host system (issue 4): host A → link → host B with real NICs on both sides; every
 * delivered byte equals what was sent, and the NICs' counters prove who did the work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { read } from '../src/sim/pcapng.ts';
import { System, type SystemSa, type SystemSpec } from '../src/sim/system.ts';
import * as ethernet from '../src/wire/ethernet.ts';
import * as ipv4 from '../src/wire/ipv4.ts';
import * as ipv6 from '../src/wire/ipv6.ts';

const A = {
  name: 'a',
  mac: ethernet.parseMac('02:00:00:00:00:0a'),
  ipv4: ipv4.parseAddress('192.0.2.10'),
  ipv6: ipv6.parseAddress('2001:db8::a'),
};
const B = {
  name: 'b',
  mac: ethernet.parseMac('02:00:00:00:00:0b'),
  ipv4: ipv4.parseAddress('198.51.100.20'),
  ipv6: ipv6.parseAddress('2001:db8::b'),
};

function key(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).map((_, i) => (fill * 31 + i * 7) & 0xff);
}

const gcm: SystemSa = {
  from: 'a',
  name: 'gcm',
  protocol: 'esp',
  mode: 'transport',
  esp: { spi: 0x1001, encryption: 'aes-gcm-128', integrity: null, encryptionKey: key(20, 1) },
  esn: false,
  initialSequence: 1n,
  replayWindow: 64,
  udpEncapsulation: null,
  source: A.ipv4,
  destination: B.ipv4,
};

test('system: a TCP stream with LSO over ESP AES-GCM-128 arrives byte for byte, offloaded on both NICs', () => {
  const spec: SystemSpec = {
    seed: 1,
    hosts: [A, B],
    sas: [gcm],
    flows: [
      {
        name: 'tcp',
        from: 'a',
        to: 'b',
        l4: 'tcp',
        ipVersion: 4,
        srcPort: 40000,
        dstPort: 443,
        sa: 'gcm',
        lso: { version: 2 },
        bytes: 200_000,
        writeSize: 50_000,
      },
    ],
  };
  const r = new System(spec).run();
  const f = r.flows[0];
  assert.equal(
    f.bytesDelivered,
    200_000,
    JSON.stringify(r, (_k, v: unknown) => (v instanceof Uint8Array ? undefined : v))
  );
  assert.equal(f.deliveredSha256, f.sentSha256);
  assert.equal(r.nics['a']['send.ipsec-not-configured'] ?? 0, 0);
  assert.ok((r.nics['b']['receive.crypto-done'] ?? 0) > 0, 'the receiving NIC decrypted');
});

test('system: with receive offload off on B the same stream arrives byte for byte, verified and decrypted in software', () => {
  const r = new System({
    seed: 1,
    hosts: [A, { ...B, receiveOffload: false }],
    sas: [gcm],
    flows: [
      {
        name: 'tcp',
        from: 'a',
        to: 'b',
        l4: 'tcp',
        ipVersion: 4,
        srcPort: 40000,
        dstPort: 443,
        sa: 'gcm',
        lso: { version: 2 },
        bytes: 50_000,
        writeSize: 25_000,
      },
    ],
  }).run();
  const f = r.flows[0];
  assert.equal(f.bytesDelivered, 50_000);
  assert.equal(f.deliveredSha256, f.sentSha256);
  assert.equal(r.nics['b']['receive.offload-disabled'], r.frames);
  assert.equal(r.nics['b']['receive.crypto-done'] ?? 0, 0);
  assert.ok((r.nics['a']['send.success'] ?? 0) > 0, 'A still sent with offload');
});

test('system: the frame observer sees every frame as sent and as arrived, identical when the link has no faults', () => {
  const sent: Uint8Array[] = [];
  const arrived: Uint8Array[] = [];
  const r = new System({
    seed: 3,
    hosts: [A, B],
    sas: [gcm],
    flows: [
      {
        name: 'udp',
        from: 'a',
        to: 'b',
        l4: 'udp',
        ipVersion: 4,
        srcPort: 40000,
        dstPort: 53,
        sa: 'gcm',
        bytes: 4_000,
        writeSize: 400,
      },
    ],
    observe: (frame, direction, stage) => {
      assert.equal(direction, 'a-to-b');
      (stage === 'sent' ? sent : arrived).push(frame.slice());
    },
  }).run();
  assert.equal(sent.length, r.frames);
  assert.deepEqual(arrived, sent);
  assert.equal(r.flows[0].deliveredSha256, r.flows[0].sentSha256);
});

test('system: SaDeleteReq — the NIC asks, the host deletes the inbound SA and its outbound peer by OID, the flows go on in software', () => {
  // B → A twin of `gcm`, so the host has an outbound peer to delete too.
  const back: SystemSa = {
    ...gcm,
    from: 'b',
    name: 'gcm-back',
    esp: { ...gcm.esp!, spi: 0x2002, encryptionKey: key(20, 2) },
    source: B.ipv4,
    destination: A.ipv4,
  };
  let asked = 0;
  const spec: SystemSpec = {
    seed: 3,
    hosts: [
      A,
      {
        ...B,
        // Ask once, on the first packet of the inbound bundle (reference §4.2 rule 7).
        saDeleteRequest: () => asked++ === 0,
      },
    ],
    sas: [gcm, back],
    flows: [
      {
        name: 'up',
        from: 'a',
        to: 'b',
        l4: 'udp',
        ipVersion: 4,
        srcPort: 5000,
        dstPort: 5001,
        sa: 'gcm',
        bytes: 3000,
        writeSize: 300,
      },
      {
        name: 'down',
        from: 'b',
        to: 'a',
        l4: 'udp',
        ipVersion: 4,
        srcPort: 5001,
        dstPort: 5000,
        sa: 'gcm-back',
        bytes: 3000,
        writeSize: 300,
      },
    ],
  };
  const system = new System(spec);
  const r = system.run();
  const nicB = r.nics['b'];
  assert.equal(nicB['receive.sa-delete-req'], 1, 'the NIC set SaDeleteReq once');
  // DELETE_SA for the inbound SA and for its outbound peer (reference §1.3: "once for the inbound
  // SA … and once for the matching outbound SA").
  assert.equal(nicB['oid.delete-sa.deleted'], 2);
  assert.equal(system.b.nic.saTable.size, 0, 'both bundles left the NIC');
  for (const f of r.flows) {
    assert.equal(f.deliveredSha256, f.sentSha256, `${f.name}: every byte delivered`);
    assert.equal(f.sendFailures, 0);
  }
  // After the delete, B verifies A's packets in software and sends its own in software.
  assert.ok((nicB['receive.no-sa'] ?? 0) > 0, 'later packets found no SA on B’s NIC');
  assert.equal(
    system.b.host.sadb.outbound('gcm-back')?.handle ?? 0n,
    0n,
    'the outbound peer is software now'
  );
});

test('system: the link rate and delay set the capture timestamps (time passes between writes)', () => {
  const spec: SystemSpec = {
    seed: 5,
    hosts: [A, B],
    sas: [gcm],
    capture: true,
    link: { bitsPerSecond: 1_000_000_000, latencyNanos: 50_000 },
    flows: [
      {
        name: 'tcp',
        from: 'a',
        to: 'b',
        l4: 'tcp',
        ipVersion: 4,
        srcPort: 40000,
        dstPort: 443,
        sa: 'gcm',
        bytes: 20_000,
        writeSize: 2_000,
      },
    ],
  };
  const r = new System(spec).run();
  const capture = read(r.pcapng!);
  assert.ok(capture.ok);
  const packets = capture.value.packets;
  assert.ok(packets.length >= 10);
  for (let i = 1; i < packets.length; i++) {
    assert.ok(
      packets[i].timestampNanos >= packets[i - 1].timestampNanos,
      `frame ${i} not before frame ${i - 1}`
    );
  }
  // Ten writes, each drained before the next: every write waits for the previous one's frames to
  // arrive (serialisation at 1 Gbit/s plus 50 µs), so the capture spans at least 9 × 50 µs.
  const span = packets[packets.length - 1].timestampNanos - packets[0].timestampNanos;
  assert.ok(span >= 9n * 50_000n, `the capture spans ${span} ns`);
});
