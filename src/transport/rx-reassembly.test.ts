/**
 * Reassembly before decryption (D16) through the Receiver: IPv4 and IPv6 fragments of
 * UDP-over-ESP datagrams, in order and out of order; bad fragments counted; and the TCP stream
 * of rx-flow.ts (reorder, duplicates, gaps reported as losses).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as checksum from '../wire/checksum.ts';
import { Receiver } from './receiver.ts';
import { FlowState } from './rx-flow.ts';
import {
  ADDR,
  B_ADDRESSES,
  bytes,
  concat,
  flow,
  makeSa,
  nblOf,
  SoftSender,
  udpL4,
} from '../../tests/rx-testkit.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Splits the IPv4 packet of `frame` into fragments of at most `size` data bytes (multiple of 8). */
function fragment4(frame: Uint8Array, size: number): Uint8Array[] {
  const ip = frame.subarray(14);
  const hl = (ip[0] & 15) * 4;
  const data = ip.subarray(hl, (ip[2] << 8) | ip[3]);
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += size) {
    const piece = data.subarray(at, Math.min(at + size, data.length));
    const f = new Uint8Array(14 + hl + piece.length);
    f.set(frame.subarray(0, 14 + hl));
    f.set(piece, 14 + hl);
    const h = f.subarray(14);
    const total = hl + piece.length;
    h[2] = total >>> 8;
    h[3] = total & 0xff;
    h[4] = 0x12;
    h[5] = 0x34;
    const mf = at + size < data.length ? 0x2000 : 0;
    const word = mf | (at / 8);
    h[6] = word >>> 8;
    h[7] = word & 0xff;
    h[10] = 0;
    h[11] = 0;
    const c = checksum.checksum(h.subarray(0, hl));
    h[10] = c >>> 8;
    h[11] = c & 0xff;
    out.push(f);
  }
  return out;
}

/** Splits the IPv6 packet of `frame` (no extension headers) with Fragment headers. */
function fragment6(frame: Uint8Array, size: number): Uint8Array[] {
  const ip = frame.subarray(14);
  const next = ip[6];
  const data = ip.subarray(40, 40 + ((ip[4] << 8) | ip[5]));
  const out: Uint8Array[] = [];
  for (let at = 0; at < data.length; at += size) {
    const piece = data.subarray(at, Math.min(at + size, data.length));
    const f = new Uint8Array(14 + 48 + piece.length);
    f.set(frame.subarray(0, 14 + 40));
    const h = f.subarray(14);
    h[6] = 44;
    const payload = 8 + piece.length;
    h[4] = payload >>> 8;
    h[5] = payload & 0xff;
    h[40] = next;
    const word = at | (at + size < data.length ? 1 : 0);
    h[42] = word >>> 8;
    h[43] = word & 0xff;
    h[47] = 0x77;
    f.set(piece, 14 + 48);
    out.push(f);
  }
  return out;
}

for (const version of [4, 6] as const) {
  for (const order of ['in order', 'reversed', 'shuffled'] as const) {
    test(`IPv${version} fragments of UDP over ESP reassembled before decryption (${order})`, () => {
      const sa = makeSa({ name: 'f', udp: version === 4, ipv6: version === 6 });
      const sender = new SoftSender([sa]);
      const r = new Receiver({ addresses: B_ADDRESSES, sas: [sa], flows: [flow('f', 'udp', 'f')] });
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        const payload = bytes(3000 + i * 111, i);
        sent.push(payload);
        const ip =
          version === 6
            ? ({ version: 6, source: ADDR.a6, destination: ADDR.b6 } as const)
            : undefined;
        const s = sender.send({ sa: 'f', l4: udpL4(payload), ...(ip === undefined ? {} : { ip }) });
        const pieces = version === 4 ? fragment4(s.frame, 1200) : fragment6(s.frame, 1200);
        if (order === 'reversed') pieces.reverse();
        if (order === 'shuffled') pieces.push(pieces.shift()!);
        for (const p of pieces) r.receive(nblOf(p));
      }
      assert.deepEqual(r.drops, {});
      assert.equal(r.counters['reassembled'], 3);
      assert.equal(r.flow('f')!.sha256, sha(concat(sent)));
    });
  }
}

test('bad fragments are counted: overlap, bad length, duplicate, timeout by the clock', () => {
  let clock = 0;
  const sa = makeSa({ name: 'b' });
  const sender = new SoftSender([sa]);
  const r = new Receiver({
    addresses: B_ADDRESSES,
    sas: [sa],
    flows: [flow('f', 'udp', 'b')],
    reassembly: { now: () => clock, timeout: 30_000 },
  });
  const s = sender.send({ sa: 'b', l4: udpL4(bytes(2000)) });
  const pieces = fragment4(s.frame, 800);
  r.receive(nblOf(pieces[0]));
  r.receive(nblOf(pieces[0].slice())); // exact duplicate: ignored
  // Overlap: a piece at offset 400 (50 units) overlapping the first.
  const overlap = pieces[1].slice();
  overlap[14 + 7] = 50;
  overlap[14 + 10] = 0;
  overlap[14 + 11] = 0;
  const c = checksum.checksum(overlap.subarray(14, 34));
  overlap[14 + 10] = c >>> 8;
  overlap[14 + 11] = c & 0xff;
  r.receive(nblOf(overlap));
  // A non-last fragment whose length is not a multiple of 8.
  const odd = fragment4(sender.send({ sa: 'b', l4: udpL4(bytes(2000, 1)) }).frame, 804);
  r.receive(nblOf(odd[0]));
  // A first fragment that never completes: discarded after 4 more fragments.
  const lone = fragment4(sender.send({ sa: 'b', l4: udpL4(bytes(2000, 2)) }).frame, 800);
  lone[0][14 + 4] = 0x55; // another identification
  lone[0][14 + 10] = 0;
  lone[0][14 + 11] = 0;
  const c3 = checksum.checksum(lone[0].subarray(14, 34));
  lone[0][14 + 10] = c3 >>> 8;
  lone[0][14 + 11] = c3 & 0xff;
  r.receive(nblOf(lone[0]));
  clock += 60_000; // RFC 8200 §4.5: past the reassembly timeout
  r.receive(nblOf(pieces[2])); // the next offer runs the expiry
  const rep = r.report();
  assert.equal(rep.drops['frag-duplicate'], 1);
  assert.equal(rep.drops['frag-overlap'], 1);
  assert.equal(rep.drops['frag-bad-length'], 1);
  assert.ok((rep.reassembly['frag-timeout'] ?? 0) >= 1);
  assert.equal(r.flow('f')!.packetsDelivered, 0);
});

test('TCP stream: reorder within the window, duplicates discarded, gaps reported as losses', () => {
  const got: Uint8Array[] = [];
  const f = new FlowState(flow('t', 'tcp'), { onData: (_n, b) => got.push(b.slice()) });
  const data = bytes(1000);
  const seg = (from: number, to: number): Uint8Array => data.subarray(from, to);
  assert.equal(f.receiveSegment(100, false, seg(0, 100)), 'accepted');
  assert.equal(f.receiveSegment(300, false, seg(200, 300)), 'accepted'); // held
  assert.equal(f.receiveSegment(200, false, seg(100, 200)), 'accepted'); // fills the gap
  assert.equal(f.receiveSegment(150, false, seg(50, 100)), 'duplicate');
  assert.equal(f.receiveSegment(350, false, seg(250, 350)), 'accepted'); // overlap trimmed
  assert.equal(f.bytesDelivered, 350);
  // 350..450 lost; 450..600 arrives.
  f.receiveSegment(550, false, seg(450, 600));
  assert.equal(f.bytesDelivered, 350);
  f.flush();
  assert.equal(f.lossGaps, 1);
  assert.equal(f.lossBytes, 100);
  assert.equal(f.bytesDelivered, 500);
  assert.equal(f.report().sha256, sha(concat([seg(0, 350), seg(450, 600)])));
  assert.deepEqual(concat(got), concat([seg(0, 350), seg(450, 600)]));
});
