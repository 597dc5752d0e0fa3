/**
 * The matrix of issue 4: {IPv4, IPv6} × {transport, tunnel, transport over tunnel} × seven
 * algorithm sets × {AH, ESP, AH+ESP} × UDP-ESP × LSO × ESN, over the two-host system
 * (src/sim/system.ts). The valid cells are the written table of tests/matrix/table.ts, shown in
 * docs/matrix.md. Every cell runs twice:
 *
 * - offload: the default, fully capable NIC on both hosts. Every delivered byte equals what was
 *   sent, and the counters prove the NICs did the IPsec work for every frame: the sending host's
 *   per-SA counters (`offloaded` = every frame, `software` = 0), the sending NIC's per-SA packet
 *   counters, the receiving NIC's CryptoDone (and NextCryptoDone for transport over tunnel) for
 *   every frame, LSO NBLs where the cell asks for LSO, UPDATE_SA for every SA of every ESN cell
 *   (each crosses 2^32). A quiet software fallback fails the cell.
 * - software: the same cell with IPsec offload turned off by OID_TCP_OFFLOAD_PARAMETERS before
 *   the hosts start (the hardware still advertises it). Every frame goes through software IPsec
 *   on both hosts, the NICs hold no SA and did no IPsec work, and every byte still arrives.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Miniport } from '../src/miniport/miniport.ts';
import type { SaBundle } from '../src/miniport/sa-table.ts';
import { UdpEsp } from '../src/ndis/oid.ts';
import { System, type SystemResult } from '../src/sim/system.ts';
import type { SaState } from '../src/transport/sadb.ts';
import { cellSpec, ESN_BACKOFF, TCP_BYTES_LSO } from './matrix/spec.ts';
import { combinations, exclusionOf, renderTable, validCells, type Cell } from './matrix/table.ts';

/** The number of valid cells, as docs/matrix.md states it. */
const EXPECTED_CELLS = 444;

const UPDATE_SA = 'OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA';
const ADD_SA = 'OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA';
const WRAP = 2n ** 32n;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const cells = validCells();

/** The seed of a cell: its place in the table (the table's order is fixed). */
function seedOf(cell: Cell): number {
  return cells.indexOf(cell) + 1;
}

/** The UdpEspEncapsulation each SA of the cell must carry in ADD_SA (reference §1.9). */
function expectedUdpEsp(cell: Cell): { sut: number; tun: number } {
  const U = UdpEsp;
  const none = U.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_NONE;
  if (cell.udpEsp === 'off') return { sut: none, tun: none };
  switch (cell.mode) {
    case 'transport':
      return { sut: U.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT, tun: none };
    case 'tunnel':
      return { sut: U.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TUNNEL, tun: none };
    case 'transport-over-tunnel':
      return cell.udpEsp === 'tunnel'
        ? { sut: none, tun: U.IPSEC_OFFLOAD_V2_TRANSPORT_OVER_UDP_ESP_ENCAPSULATION_TUNNEL }
        : { sut: U.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT_OVER_TUNNEL, tun: none };
  }
}

/** Everything a failure message needs: flows, drops, the NICs' failure counters, SA states. */
function report(sys: System, r: SystemResult): string {
  const interesting = (c: Record<string, number>): Record<string, number> =>
    Object.fromEntries(
      Object.entries(c).filter(
        ([k]) =>
          k.startsWith('send.') ||
          k.startsWith('receive.') ||
          k.includes('reject') ||
          k.includes('malformed') ||
          k.startsWith(`oid.status:${ADD_SA}`) ||
          k.startsWith(`oid.status:${UPDATE_SA}`)
      )
    );
  const states = (side: System['a']): unknown =>
    side.host.sadb.states().map((s) => ({
      key: s.key,
      handle: String(s.handle),
      why: s.why,
      next: String(s.next),
      ...s.counters,
    }));
  return JSON.stringify(
    {
      flows: r.flows.map((f) => ({ ...f, sentSha256: undefined, deliveredSha256: undefined })),
      receiverDrops: r.receiverDrops,
      nicA: interesting(r.nics['a']),
      nicB: interesting(r.nics['b']),
      sadbA: sys.a.host.sadb.counters,
      sadbB: sys.b.host.sadb.counters,
      statesA: states(sys.a),
      statesB: states(sys.b),
    },
    null,
    1
  );
}

/** Delivery: every flow's bytes arrived, identical, with no failure and no drop anywhere. */
function assertDelivered(sys: System, r: SystemResult, cell: Cell): void {
  const why = (): string => `${cell.name}\n${report(sys, r)}`;
  for (const f of r.flows) {
    const spec = sys.spec.flows.find((s) => s.name === f.name)!;
    assert.equal(f.bytesSent, spec.bytes, `${f.name}: bytes sent\n${why()}`);
    assert.equal(f.bytesDelivered, f.bytesSent, `${f.name}: bytes delivered\n${why()}`);
    assert.equal(f.deliveredSha256, f.sentSha256, `${f.name}: SHA-256\n${why()}`);
    assert.equal(f.sendFailures, 0, `${f.name}: send failures\n${why()}`);
    assert.deepEqual(f.drops, {}, `${f.name}: drops\n${why()}`);
    assert.equal(f.packetsDelivered > 0, true, `${f.name}: packets delivered\n${why()}`);
  }
  for (const [host, drops] of Object.entries(r.receiverDrops)) {
    assert.deepEqual(drops, {}, `receiver ${host} drops ${JSON.stringify(drops)}\n${why()}`);
  }
  for (const [host, c] of Object.entries(r.nics)) {
    const failed = Object.keys(c).filter((k) => k.startsWith('send.fail'));
    assert.deepEqual(failed, [], `NIC ${host}: failed sends\n${why()}`);
    assert.equal(c['send.ipsec-not-configured'] ?? 0, 0, `NIC ${host}: unprocessed\n${why()}`);
  }
}

/** The sending host's outbound states of the cell, by policy name. */
function outbound(sys: System): Map<string, SaState> {
  return new Map(
    sys.a.host.sadb
      .states()
      .filter((s) => !s.inbound)
      .map((s) => [s.key, s])
  );
}

function bundlesOf(nic: Miniport, inbound: boolean): SaBundle[] {
  return [...nic.saTable.bundles()].filter((b) => b.inbound === inbound);
}

/** Frames A sent in all (every flow goes through every SA of the cell). */
function framesOf(r: SystemResult): number {
  return r.flows.reduce((n, f) => n + f.packetsSent, 0);
}

/**
 * The receiving transport's own count of who verified each IPsec layer: `expected` of
 * `offloaded-*` (CryptoDone from the NIC) or `software-*` (decrypted here), the other 0.
 */
function assertReceiverLayers(
  sys: System,
  r: SystemResult,
  cell: Cell,
  who: 'offloaded' | 'software'
): void {
  const frames = framesOf(r);
  const c = sys.b.receiver.counters;
  const esp = (cell.protocol === 'ah' ? 0 : 1) + (cell.mode === 'transport-over-tunnel' ? 1 : 0);
  const ah = cell.protocol === 'esp' ? 0 : 1;
  const other = who === 'offloaded' ? 'software' : 'offloaded';
  const got = {
    [`${who}-esp`]: c[`${who}-esp`] ?? 0,
    [`${who}-ah`]: c[`${who}-ah`] ?? 0,
    [`${other}-esp`]: c[`${other}-esp`] ?? 0,
    [`${other}-ah`]: c[`${other}-ah`] ?? 0,
  };
  assert.deepEqual(
    got,
    {
      [`${who}-esp`]: esp * frames,
      [`${who}-ah`]: ah * frames,
      [`${other}-esp`]: 0,
      [`${other}-ah`]: 0,
    },
    `receiver b: IPsec layers verified\n${cell.name}\n${report(sys, r)}`
  );
  assert.equal(c['frames'], frames, `receiver b: frames\n${cell.name}`);
}

/** The offload run's proof that the NICs did the work for every frame. */
function assertOffloaded(sys: System, r: SystemResult, cell: Cell): void {
  const why = (): string => `${cell.name}\n${report(sys, r)}`;
  const frames = framesOf(r);
  const nicA = r.nics['a'];
  const nicB = r.nics['b'];
  const states = outbound(sys);
  const names = cell.mode === 'transport-over-tunnel' ? ['sut', 'tun'] : ['sut'];
  assert.deepEqual([...states.keys()].sort(), [...names].sort(), why());
  const expectedType = expectedUdpEsp(cell);
  // The sending host: every frame of every SA offloaded, none in software.
  for (const [name, s] of states) {
    assert.notEqual(s.handle, 0n, `${name}: the NIC holds it (why: ${s.why})\n${why()}`);
    assert.equal(s.counters.software, 0, `${name}: frames through software IPsec\n${why()}`);
    assert.equal(s.counters.offloaded, frames, `${name}: frames offloaded\n${why()}`);
  }
  for (const name of ['tcp', 'udp']) {
    const flow = sys.spec.flows.find((f) => f.name === name);
    if (flow === undefined) continue;
    assert.equal(sys.a.host.flow(name).counters.nblsSoftware, 0, `${name}: software NBLs`);
  }
  // The sending NIC: one outbound bundle per SA, each element counted every frame.
  const outA = bundlesOf(sys.a.nic, false);
  assert.equal(outA.length, names.length, `NIC a: outbound bundles\n${why()}`);
  for (const [name, s] of states) {
    const b = outA.find((x) => x.handle === s.handle);
    assert.ok(b, `NIC a: no bundle for ${name}\n${why()}`);
    const elements = b.elements.map((e) => e.operation).join('+');
    assert.equal(
      elements,
      name === 'tun' || cell.protocol === 'esp' ? 'esp' : cell.protocol === 'ah' ? 'ah' : 'esp+ah'
    );
    assert.equal(
      b.udpEspEncapsulation,
      name === 'sut' ? expectedType.sut : expectedType.tun,
      `NIC a: ${name} UdpEspEncapsulation\n${why()}`
    );
    for (const e of b.elements) {
      assert.equal(e.counters.packets, frames, `NIC a: ${name}/${e.operation} packets\n${why()}`);
    }
  }
  assert.equal(nicA['send.frame'], frames, `NIC a: frames sent\n${why()}`);
  // The receiving NIC: the inbound bundles verified and decrypted every frame.
  const inB = bundlesOf(sys.b.nic, true);
  assert.equal(inB.length, names.length, `NIC b: inbound bundles\n${why()}`);
  for (const b of inB) {
    const s = sys.b.host.sadb.states().find((x) => x.inbound && x.handle === b.handle);
    assert.ok(s, `NIC b: bundle ${String(b.handle)} is not the host's\n${why()}`);
    const name = s.config.name;
    assert.equal(
      b.udpEspEncapsulation,
      name === 'sut' ? expectedType.sut : expectedType.tun,
      `NIC b: inbound ${name} UdpEspEncapsulation\n${why()}`
    );
    for (const e of b.elements) {
      assert.equal(e.counters.packets, frames, `NIC b: ${name}/${e.operation} packets\n${why()}`);
    }
  }
  assert.equal(nicB['receive.frame'], frames, `NIC b: frames received\n${why()}`);
  assert.equal(nicB['receive.crypto-done'], frames, `NIC b: CryptoDone\n${why()}`);
  assert.equal(
    nicB['receive.next-crypto-done'] ?? 0,
    cell.mode === 'transport-over-tunnel' ? frames : 0,
    `NIC b: NextCryptoDone\n${why()}`
  );
  // LSO: the TCP flow went as one large send, segmented by the NIC.
  if (cell.lso) {
    const tcp = sys.a.host.flow('tcp').counters;
    assert.equal(tcp.nblsSent, 1, `tcp: one LSO NBL\n${why()}`);
    assert.ok(tcp.packetsSent >= 3, `tcp: 3+ LSO segments\n${why()}`);
    assert.equal(tcp.bytesSent, TCP_BYTES_LSO);
  }
  // ESN: every SA crossed 2^32 and the NIC was told the new high half by UPDATE_SA.
  const elements = outA.reduce((n, b) => n + b.elements.length, 0);
  assert.equal(
    nicA[`oid.status:${UPDATE_SA}:NDIS_STATUS_SUCCESS`] ?? 0,
    cell.esn ? elements : 0,
    `NIC a: UPDATE_SA\n${why()}`
  );
  assert.equal(nicA[`oid.request:${UPDATE_SA}`] ?? 0, cell.esn ? elements : 0);
  for (const [name, s] of states) {
    if (cell.esn) {
      assert.equal(s.config.initialSequence, WRAP - ESN_BACKOFF);
      assert.ok(s.next > WRAP, `${name}: crossed 2^32\n${why()}`);
      assert.equal(s.nicHigh, 1, `${name}: the NIC's high half\n${why()}`);
      for (const b of outA) for (const e of b.elements) assert.equal(e.seqHigh, 1);
    }
  }
}

/** The software run's proof: nothing went through the NICs' IPsec engines. */
function assertSoftware(sys: System, r: SystemResult, cell: Cell): void {
  const why = (): string => `${cell.name}\n${report(sys, r)}`;
  const frames = framesOf(r);
  for (const side of [sys.a, sys.b]) {
    assert.equal(side.host.sadb.hardware.Esp, true, 'the hardware still advertises IPsec');
    assert.equal(side.host.sadb.ipsec.Esp || side.host.sadb.ipsec.Ah, false, why());
    assert.equal([...side.nic.saTable.bundles()].length, 0, `NIC holds SAs\n${why()}`);
  }
  for (const [host, c] of Object.entries(r.nics)) {
    assert.equal(c[`oid.request:${ADD_SA}`] ?? 0, 0, `NIC ${host}: ADD_SA\n${why()}`);
    assert.equal(c[`oid.request:${UPDATE_SA}`] ?? 0, 0, `NIC ${host}: UPDATE_SA\n${why()}`);
    assert.equal(c['receive.crypto-done'] ?? 0, 0, `NIC ${host}: CryptoDone\n${why()}`);
    assert.equal(c['send.ipsec-not-configured'] ?? 0, 0, `NIC ${host}: unprocessed\n${why()}`);
  }
  for (const [name, s] of outbound(sys)) {
    assert.equal(s.handle, 0n, `${name}: handle\n${why()}`);
    assert.equal(s.counters.offloaded, 0, `${name}: frames offloaded\n${why()}`);
    assert.equal(s.counters.software, frames, `${name}: frames in software\n${why()}`);
    if (cell.esn) assert.ok(s.next > WRAP, `${name}: crossed 2^32\n${why()}`);
  }
  for (const f of sys.spec.flows) {
    const c = sys.a.host.flow(f.name).counters;
    assert.equal(c.nblsOffloaded, 0, `${f.name}: offloaded NBLs\n${why()}`);
    // Without offload there is no LSO: one frame per NBL.
    assert.equal(c.packetsSent, c.nblsSent, `${f.name}: one frame per NBL\n${why()}`);
  }
}

type Run = 'offload' | 'software';

function runCell(cell: Cell, run: Run): void {
  const sys = new System(cellSpec(cell, seedOf(cell)));
  if (run === 'software') {
    assert.equal(sys.a.host.disableIpsecOffload(), 'done');
    assert.equal(sys.b.host.disableIpsecOffload(), 'done');
  }
  const r = sys.run();
  assertDelivered(sys, r, cell);
  if (run === 'offload') assertOffloaded(sys, r, cell);
  else assertSoftware(sys, r, cell);
  assertReceiverLayers(sys, r, cell, run === 'offload' ? 'offloaded' : 'software');
}

async function matrix(t: TestContext, run: Run): Promise<void> {
  let ran = 0;
  for (const cell of cells) {
    await t.test(`${cell.name} ${run}`, () => {
      runCell(cell, run);
      ran++;
    });
  }
  assert.equal(ran, EXPECTED_CELLS, `cells that ran and passed (${run})`);
}

test('matrix: the written table — doc and code agree, every exclusion has a rule', () => {
  assert.equal(cells.length, EXPECTED_CELLS);
  assert.equal(new Set(cells.map((c) => c.name)).size, cells.length, 'cell names are unique');
  const doc = readFileSync(join(root, 'docs', 'matrix.md'), 'utf8');
  const m = /<!-- matrix table -->\n([\s\S]*?)<!-- \/matrix table -->/.exec(doc);
  assert.ok(m, 'docs/matrix.md has the table between <!-- matrix table --> markers');
  assert.equal(m[1], renderTable(), 'docs/matrix.md shows the table tests/matrix/table.ts makes');
  const stated = /^Valid cells: \*\*(\d+)\*\*/m.exec(doc);
  assert.ok(stated, 'docs/matrix.md states the count');
  assert.equal(Number(stated[1]), cells.length);
  // The raw product is the full cartesian product; each combination is a cell or has a rule.
  const all = combinations();
  assert.equal(all.length, 2 * 3 * 7 * 3 * 3 * 2 * 2);
  assert.equal(all.filter((c) => exclusionOf(c) === null).length, cells.length);
  // Every value of every axis appears in some valid cell.
  for (const key of ['ip', 'mode', 'protocol', 'udpEsp', 'lso', 'esn'] as const) {
    const values = new Set(all.map((c) => String(c[key])));
    const seen = new Set(cells.map((c) => String(c[key])));
    assert.deepEqual([...seen].sort(), [...values].sort(), `axis ${key}`);
  }
  assert.equal(new Set(cells.map((c) => c.set.label)).size, 7);
});

test('matrix: every valid cell with IPsec offloaded to the NICs', async (t) => {
  await matrix(t, 'offload');
});

test('matrix: every valid cell with IPsec offload disabled runs through software IPsec', async (t) => {
  await matrix(t, 'software');
});
