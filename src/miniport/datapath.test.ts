/**
 * @module
 * Tests of MiniportSendNetBufferLists as a whole (datapath.ts): the seed's checks in its order
 * (adapter state, IPsec configured, handles, LSO, AH/ESP processing of every NET_BUFFER), atomic
 * NBLs (contract D10), completion exactly once with the right status (D11), handle failures (D8),
 * the paused adapter (D16), exceptions caught per NBL (D9), and the counters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeLsoV1Transmit } from '../ndis/oob.ts';
import type { NetBufferList } from '../ndis/nbl.ts';
import { NdisStatus } from '../ndis/status.ts';
import { statusKey } from './datapath.ts';
import {
  addBundle,
  buildIp,
  chainOf,
  decodeFrame,
  espLayer,
  ethernetFrame,
  failures,
  framePacket,
  harness,
  headerOob,
  nblOf,
  payloadBytes,
  tcpPayload,
  type Harness,
  type TestSa,
} from '../../tests/miniport-testkit.ts';

const {
  NDIS_STATUS_SUCCESS,
  NDIS_STATUS_FAILURE,
  NDIS_STATUS_INVALID_PACKET,
  NDIS_STATUS_PAUSED,
  NDIS_STATUS_RESET_IN_PROGRESS,
} = NdisStatus;
const L2 = 14;

function gcm(h: Harness, spi = 0x1001): TestSa {
  return addBundle(h.mp, { elements: [{ operation: 'esp', spi, encryption: 'aes-gcm-128' }] });
}

/** An ESP transport packet of `sa` with sequence number `seq` (payload seeded by `seq`). */
function espNbl(
  sa: TestSa,
  seq: number,
  length = 100
): { nbl: NetBufferList; frame: Uint8Array; payload: Uint8Array } {
  const payload = tcpPayload(4, 0, 'complete', { payload: payloadBytes(length, seq) });
  const { nbl, frame } = framePacket({ version: 4, layers: [espLayer(sa, seq)], payload }, sa);
  return { nbl, frame, payload: payload.bytes };
}

/** Whether `needle` occurs in `hay`. */
function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Seed rule 0: adapter state.

test('seed rule 0 / D16: a paused adapter fails every NBL with NDIS_STATUS_PAUSED and sends nothing', () => {
  const h = harness();
  const sa = gcm(h);
  assert.equal(h.mp.pause(), NDIS_STATUS_SUCCESS);
  const a = espNbl(sa, 1).nbl;
  const b = framePacket({ version: 4, payload: tcpPayload(4, 10) }, null).nbl;
  h.mp.sendNetBufferLists(chainOf(a, b));
  assert.equal(h.wire.length, 0);
  assert.deepEqual(
    h.completed.map((n) => n.status),
    [NDIS_STATUS_PAUSED, NDIS_STATUS_PAUSED]
  );
  assert.equal(h.mp.counters.get('send.fail:paused:paused'), 2);
  h.mp.restart();
  h.mp.sendNetBufferLists(espNbl(sa, 2).nbl);
  assert.equal(h.wire.length, 1, 'after MiniportRestart it sends again');
});

test('seed rule 0 / D16: a resetting adapter → NDIS_STATUS_RESET_IN_PROGRESS; a halted one → NDIS_STATUS_PAUSED', () => {
  const h = harness();
  h.mp.state = 'resetting';
  h.mp.sendNetBufferLists(framePacket({ version: 4, payload: tcpPayload(4, 10) }, null).nbl);
  h.mp.state = 'halted';
  h.mp.sendNetBufferLists(framePacket({ version: 4, payload: tcpPayload(4, 10) }, null).nbl);
  assert.deepEqual(
    h.completed.map((n) => n.status),
    [NDIS_STATUS_RESET_IN_PROGRESS, NDIS_STATUS_PAUSED]
  );
  assert.equal(h.wire.length, 0);
});

// ---------------------------------------------------------------------------------------------
// Seed rule 1: IPsec offload configured?

test('seed rule 1 / D10: IPsec offload not configured → the NBL goes out without IPsec processing, counted', () => {
  const h = harness();
  const sa = gcm(h);
  h.mp.config = { ...h.mp.config, ipsecAh: false, ipsecEsp: false };
  const { nbl, frame } = espNbl(sa, 1);
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_SUCCESS);
  assert.deepEqual(h.wire, [frame], 'exactly as framed: no IV, no encryption, no ICV');
  assert.equal(h.mp.counters.get('send.ipsec-not-configured'), 1);
  assert.equal(sa.bundle.elements[0].counters.packets, 0);
});

test('seed rule 1: in a normal run send.ipsec-not-configured stays 0', () => {
  const h = harness();
  const sa = gcm(h);
  h.mp.sendNetBufferLists(chainOf(espNbl(sa, 1).nbl, espNbl(sa, 2).nbl));
  assert.equal(h.wire.length, 2);
  assert.equal(h.mp.counters.get('send.ipsec-not-configured'), 0);
});

test('seed rule 1: a configuration that excludes the SA protocol (IPsecV2 ESP only, an AH SA) → NDIS_STATUS_FAILURE', () => {
  const h = harness();
  const sa = addBundle(h.mp, { elements: [{ operation: 'ah', spi: 0x2001 }] });
  h.mp.config = { ...h.mp.config, ipsecAh: false };
  const { nbl } = framePacket(
    {
      version: 4,
      layers: [{ kind: 'ah', spi: 0x2001, seq: 1, auth: sa.bundle.elements[0].auth! }],
      payload: tcpPayload(4, 10),
    },
    sa
  );
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_FAILURE);
  assert.deepEqual(failures(h.mp), ['send.fail:failure:not-configured:ah=1']);
  assert.equal(h.wire.length, 0);
});

// ---------------------------------------------------------------------------------------------
// Seed rule 2: handles (D8).

test('seed rule 2: OffloadHandle 0 means no IPsec work for the NBL', () => {
  const h = harness();
  const { nbl, frame } = framePacket({ version: 4, payload: tcpPayload(4, 64) }, null);
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_SUCCESS);
  assert.deepEqual(h.wire, [frame]);
  assert.equal(h.mp.counters.get('send.ipsec-not-configured'), 0);
});

test('seed rule 2 / D8: an OffloadHandle that names no SA → NDIS_STATUS_FAILURE (unknown-handle)', () => {
  const h = harness();
  const sa = gcm(h);
  const { nbl } = espNbl(sa, 1);
  nbl.info.set(1, 0xdead_beef_0000_0001n);
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_FAILURE);
  assert.deepEqual(failures(h.mp), ['send.fail:failure:unknown-handle=1']);
  assert.equal(h.wire.length, 0);
});

test('seed rule 2 / D8: a deleted SA handle → NDIS_STATUS_FAILURE, even for an NBL framed before the delete', () => {
  const h = harness();
  const sa = gcm(h);
  const { nbl } = espNbl(sa, 1);
  assert.ok(h.mp.saTable.delete(sa.handle));
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_FAILURE);
  assert.deepEqual(failures(h.mp), ['send.fail:failure:unknown-handle=1']);
});

test('seed rule 2 / D8: an inbound SA handle → NDIS_STATUS_FAILURE (inbound-handle)', () => {
  const h = harness();
  const sa = addBundle(h.mp, {
    elements: [{ operation: 'esp', spi: 0x1001, encryption: 'aes-gcm-128' }],
    inbound: true,
  });
  h.mp.sendNetBufferLists(espNbl(sa, 1).nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_FAILURE);
  assert.deepEqual(failures(h.mp), ['send.fail:failure:inbound-handle=1']);
});

test('seed rule 2 / D8: an unknown or inbound TunnelHandle → NDIS_STATUS_FAILURE', () => {
  const h = harness();
  const sa = gcm(h);
  const inbound = addBundle(h.mp, {
    elements: [{ operation: 'esp', spi: 0x1002, encryption: 'aes-gcm-128' }],
    inbound: true,
  });
  const a = espNbl(sa, 1).nbl;
  a.info.set(11, 999n);
  const b = espNbl(sa, 2).nbl;
  b.info.set(11, inbound.handle);
  h.mp.sendNetBufferLists(chainOf(a, b));
  assert.deepEqual(
    h.completed.map((n) => n.status),
    [NDIS_STATUS_FAILURE, NDIS_STATUS_FAILURE]
  );
  assert.deepEqual(failures(h.mp), [
    'send.fail:failure:inbound-tunnel-handle=1',
    'send.fail:failure:unknown-tunnel-handle=1',
  ]);
});

test('D4/D9: OffloadHandle 0 with a TunnelHandle → NDIS_STATUS_INVALID_PACKET', () => {
  const h = harness();
  const sa = gcm(h);
  const { nbl } = espNbl(sa, 1);
  nbl.info.set(1, 0n);
  nbl.info.set(11, sa.handle);
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_INVALID_PACKET);
  assert.deepEqual(failures(h.mp), [
    'send.fail:invalid-packet:tunnel-handle-without-offload-handle=1',
  ]);
});

// ---------------------------------------------------------------------------------------------
// Seed rules 3 and 4.

test('seed rule 3: the LSO slot decides whether the NIC segments', () => {
  const h = harness();
  const sa = gcm(h);
  const built = buildIp({
    version: 4,
    layers: [espLayer(sa, 10)],
    payload: tcpPayload(4, 0, 'lso-seed', { payload: payloadBytes(3000) }),
    lso: { filler: 0, lengthField: 'final' },
  });
  const frame = ethernetFrame(built.bytes, 4);
  const lso = encodeLsoV1Transmit({ MSS: 1000, TcpHeaderOffset: L2 + built.payload, Type: 0 });
  h.mp.sendNetBufferLists(
    nblOf([frame], { offloadHandle: sa.handle, header: headerOob(built), lso })
  );
  assert.equal(h.wire.length, 3, 'three segments');
  assert.equal(sa.bundle.elements[0].counters.packets, 3);
});

test('seed rule 4: every NET_BUFFER of the NBL gets its AH/ESP processing', () => {
  const h = harness();
  const sa = gcm(h);
  const nbs = [espNbl(sa, 1), espNbl(sa, 2), espNbl(sa, 3)];
  const nbl = nblOf(
    nbs.map((x) => x.frame),
    {
      offloadHandle: sa.handle,
      header: headerOob(
        buildIp({ version: 4, layers: [espLayer(sa, 1)], payload: tcpPayload(4, 100) })
      ),
    }
  );
  h.mp.sendNetBufferLists(nbl);
  assert.equal(h.completed[0].status, NDIS_STATUS_SUCCESS);
  assert.equal(h.wire.length, 3);
  h.wire.forEach((frame, i) => {
    const d = decodeFrame(frame, sa.verifiers);
    assert.equal(d.esp?.result, 'ok');
    assert.equal(d.esp.seq, i + 1);
    assert.deepEqual(d.esp.plaintext, nbs[i].payload);
  });
  assert.equal(sa.bundle.elements[0].counters.packets, 3);
  assert.equal(h.mp.counters.get('send.frame'), 3);
});

// ---------------------------------------------------------------------------------------------
// D10: atomic NBLs.

test('D10: an NBL with 3 NET_BUFFERs whose 3rd is malformed puts 0 frames on the wire and no plaintext', () => {
  const h = harness();
  const sa = gcm(h);
  const good = [espNbl(sa, 1), espNbl(sa, 2)];
  const bad = espNbl(sa, 3);
  bad.frame[L2 + 20] ^= 0xff; // SPI no longer the SA's
  const header = headerOob(
    buildIp({ version: 4, layers: [espLayer(sa, 1)], payload: tcpPayload(4, 100) })
  );
  const nbl = nblOf([good[0].frame, good[1].frame, bad.frame], {
    offloadHandle: sa.handle,
    header,
  });
  const memoryBefore = nbl.netBuffers.map((nb) => nb.memory.slice());
  const next = espNbl(sa, 4);
  h.mp.sendNetBufferLists(chainOf(nbl, next.nbl));
  assert.deepEqual(
    h.completed.map((n) => n.status),
    [NDIS_STATUS_INVALID_PACKET, NDIS_STATUS_SUCCESS]
  );
  assert.equal(h.wire.length, 1, 'only the next NBL reached the wire');
  assert.equal(decodeFrame(h.wire[0], sa.verifiers).esp?.seq, 4);
  for (const x of [...good, bad]) {
    for (const frame of h.wire)
      assert.ok(!contains(frame, x.payload.subarray(20, 60)), 'no plaintext leaked');
  }
  nbl.netBuffers.forEach((nb, i) => {
    assert.deepEqual(nb.memory, memoryBefore[i], 'the protocol NET_BUFFER memory is never written');
  });
  assert.equal(sa.bundle.elements[0].counters.packets, 1, 'only the NBL that succeeded is counted');
  assert.deepEqual(failures(h.mp), ['send.fail:invalid-packet:spi-mismatch=1']);
});

test('D10: a successful NBL leaves the protocol NET_BUFFER memory untouched too (the NIC encrypts its own copy)', () => {
  const h = harness();
  const sa = gcm(h);
  const { nbl, frame } = espNbl(sa, 1);
  h.mp.sendNetBufferLists(nbl);
  assert.deepEqual(nbl.netBuffers[0].data(), frame);
  assert.notDeepEqual(h.wire[0], frame);
});

// ---------------------------------------------------------------------------------------------
// D11: completion.

test('D11: every NBL of a chain is completed exactly once, in order, with its own status, Next cleared', () => {
  const h = harness();
  const sa = gcm(h);
  const ok1 = espNbl(sa, 1).nbl;
  const unknown = espNbl(sa, 2).nbl;
  unknown.info.set(1, 77n);
  const malformed = espNbl(sa, 3).nbl;
  malformed.info.setU32(12, 0);
  const plain = framePacket({ version: 6, payload: tcpPayload(6, 10) }, null).nbl;
  const ok2 = espNbl(sa, 5).nbl;
  const nbls = [ok1, unknown, malformed, plain, ok2];
  h.mp.sendNetBufferLists(chainOf(...nbls));
  assert.deepEqual(h.completed, nbls, 'each once, in order');
  assert.deepEqual(
    h.completed.map((n) => n.status),
    [
      NDIS_STATUS_SUCCESS,
      NDIS_STATUS_FAILURE,
      NDIS_STATUS_INVALID_PACKET,
      NDIS_STATUS_SUCCESS,
      NDIS_STATUS_SUCCESS,
    ]
  );
  for (const n of nbls) assert.equal(n.next, null);
  assert.equal(h.wire.length, 3);
  assert.equal(h.mp.counters.get('send.nbl'), 5);
  assert.equal(h.mp.counters.get('send.success'), 3);
});

test('D11: an empty chain completes nothing', () => {
  const h = harness();
  h.mp.sendNetBufferLists(null);
  assert.equal(h.completed.length, 0);
  assert.equal(h.mp.counters.get('send.nbl'), 0);
});

test('D11: the completion callback may send again from inside the completion (re-entrant)', () => {
  const wire: Uint8Array[] = [];
  const completed: NetBufferList[] = [];
  const h = harness();
  const sa = gcm(h);
  let again: NetBufferList | null = espNbl(sa, 9).nbl;
  const mp = h.mp;
  // A second miniport sharing the SA table is not needed: re-send through the same one.
  const original = mp.completeNbl.bind(mp);
  mp.completeNbl = (nbl: NetBufferList, status: number): void => {
    original(nbl, status);
    completed.push(nbl);
    if (again !== null) {
      const n = again;
      again = null;
      mp.sendNetBufferLists(n);
    }
  };
  mp.sendNetBufferLists(chainOf(espNbl(sa, 1).nbl, espNbl(sa, 2).nbl));
  wire.push(...h.wire);
  assert.equal(completed.length, 3);
  assert.deepEqual(
    wire.map((f) => decodeFrame(f, sa.verifiers).esp?.seq),
    [1, 9, 2]
  );
});

// ---------------------------------------------------------------------------------------------
// D9: never a throw; D16: in flight.

test('D9: an unexpected exception fails only its NBL (NDIS_STATUS_FAILURE, internal) and nothing escapes', () => {
  const h = harness();
  const broken = gcm(h, 0x1001);
  const fine = gcm(h, 0x1002);
  broken.bundle.elements[0].esp!.destroy(); // the transform now throws on seal
  assert.doesNotThrow(() => {
    h.mp.sendNetBufferLists(chainOf(espNbl(broken, 1).nbl, espNbl(fine, 1).nbl));
  });
  assert.deepEqual(
    h.completed.map((n) => n.status),
    [NDIS_STATUS_FAILURE, NDIS_STATUS_SUCCESS]
  );
  assert.deepEqual(failures(h.mp), ['send.fail:failure:internal=1']);
  assert.equal(h.wire.length, 1);
  assert.equal(broken.bundle.inFlight, 0, 'released even after the exception');
});

test('D16: SaBundle.inFlight counts an NBL from acceptance until its completion', () => {
  const seen: number[] = [];
  const h = harness();
  const sa = gcm(h);
  const mp = h.mp;
  const transmit = mp.link.transmit.bind(mp.link);
  mp.link.transmit = (f: Uint8Array): void => {
    seen.push(sa.bundle.inFlight);
    transmit(f);
  };
  mp.sendNetBufferLists(chainOf(espNbl(sa, 1).nbl, espNbl(sa, 2).nbl));
  // One batch: both NBLs are in the NIC's hands until each completes, in chain order.
  assert.deepEqual(seen, [2, 1]);
  assert.equal(sa.bundle.inFlight, 0);
});

// ---------------------------------------------------------------------------------------------
// Counters.

test('counters: send.fail:<status>:<reason> names the status without NDIS_STATUS_, lower case', () => {
  assert.equal(statusKey(NDIS_STATUS_INVALID_PACKET), 'invalid-packet');
  assert.equal(statusKey(NDIS_STATUS_FAILURE), 'failure');
  assert.equal(statusKey(NDIS_STATUS_RESET_IN_PROGRESS), 'reset-in-progress');
  assert.equal(statusKey(0x12345678), '0x12345678');
});

test('counters: per-SA packets and bytes (the IP packet carrying the SA header) only for NBLs that succeed', () => {
  const h = harness();
  const sa = gcm(h);
  const a = espNbl(sa, 1, 100);
  const b = espNbl(sa, 2, 200);
  const c = espNbl(sa, 0, 50); // sequence-zero: refused
  h.mp.sendNetBufferLists(chainOf(a.nbl, b.nbl, c.nbl));
  const counters = sa.bundle.elements[0].counters;
  assert.equal(counters.packets, 2);
  assert.equal(counters.bytes, a.frame.length - L2 + b.frame.length - L2);
  assert.deepEqual(h.mp.counters.snapshot(), {
    'send.fail:invalid-packet:sequence-zero': 1,
    'send.frame': 2,
    'send.nbl': 3,
    'send.success': 2,
  });
});

// ---------------------------------------------------------------------------------------------
// Transmit memory (issue 6): a Link that copies lets the NIC recycle its transmit ring.

test('Link.copies: recycled transmit memory gives the same wire bytes as fresh memory, call after call', () => {
  const fresh = harness(undefined, 7);
  const ring = harness(undefined, 7, true);
  const seen = new Set<ArrayBufferLike>();
  const transmit = ring.mp.link.transmit.bind(ring.mp.link);
  ring.mp.link.transmit = (f: Uint8Array): void => {
    seen.add(f.buffer);
    transmit(f);
  };
  for (const h of [fresh, ring]) {
    const sa = gcm(h);
    const cbc = addBundle(h.mp, {
      elements: [
        { operation: 'esp', spi: 0x2002, encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' },
      ],
    });
    let seq = 1;
    for (let call = 0; call < 4; call++) {
      const nbls: NetBufferList[] = [];
      for (let i = 0; i < 300; i++, seq++) {
        nbls.push(espNbl(i % 3 === 0 ? cbc : sa, seq, 1400).nbl);
        // A refused NBL (sequence number 0) between good ones: its frame must not leak.
        if (i % 97 === 0) nbls.push(espNbl(sa, 0, 1400).nbl);
      }
      // An LSO NBL whose segments' ICV fields must be zeroed in recycled memory (D1).
      const built = buildIp({
        version: 4,
        layers: [espLayer(sa, 100_000 + call * 10)],
        payload: tcpPayload(4, 0, 'lso-seed', { payload: payloadBytes(3000, call) }),
        lso: { filler: 0, lengthField: 'final' },
      });
      const lso = encodeLsoV1Transmit({ MSS: 1000, TcpHeaderOffset: L2 + built.payload, Type: 0 });
      nbls.push(
        nblOf([ethernetFrame(built.bytes, 4)], {
          offloadHandle: sa.handle,
          header: headerOob(built),
          lso,
        })
      );
      h.mp.sendNetBufferLists(chainOf(...nbls));
    }
  }
  assert.equal(ring.wire.length, fresh.wire.length);
  assert.equal(ring.wire.length, 4 * (300 + 3));
  for (let i = 0; i < fresh.wire.length; i++) {
    assert.deepEqual(ring.wire[i], fresh.wire[i], `frame ${i}`);
  }
  assert.deepEqual(failures(ring.mp), failures(fresh.mp));
  // About 1.7 MB went out through a handful of recycled chunks.
  assert.ok(seen.size <= 4, `transmit chunks used: ${seen.size}`);
});
