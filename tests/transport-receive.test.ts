/**
 * End to end: a sending Miniport (outbound SAs by OID ADD_SA, frames from framing.build through
 * MiniportSendNetBufferLists) puts frames on the wire; a receiving Miniport with the inbound
 * twins (ADD_SA inbound, OID_OFFLOAD_ENCAPSULATION set) decrypts them in place and indicates
 * them to the Receiver (offloaded path, CryptoDone 1); the same frames fed raw as CryptoDone-0
 * NBLs take the software path. Delivered bytes equal sent bytes; a corrupted frame on the wire
 * is reported by CryptoStatus, counted on the flow, and nothing else is lost.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { seededRandom } from '../src/crypto/random.ts';
import { Miniport } from '../src/miniport/miniport.ts';
import { encodeAddSaList, readAddSaHandle } from '../src/ndis/addsa.ts';
import { encodeOffloadEncapsulation, OffloadSet } from '../src/ndis/encapsulation.ts';
import type { NetBufferList } from '../src/ndis/nbl.ts';
import { Encapsulation, Oid, UdpEsp } from '../src/ndis/oid.ts';
import { NdisStatus } from '../src/ndis/status.ts';
import * as framing from '../src/transport/framing.ts';
import type { FrameSpec, L4Spec } from '../src/transport/framing.ts';
import type { SaConfig } from '../src/transport/policy.ts';
import { Receiver } from '../src/transport/receiver.ts';
import {
  ADDR,
  B_ADDRESSES,
  bytes,
  concat,
  flow,
  makeSa,
  nblOf,
  protectionOf,
  tcpL4,
  udpL4,
  type SaSpec,
} from './rx-testkit.ts';
import { addSaEntry, type SaDescription } from '../src/transport/sa-entry.ts';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

function descriptions(c: SaConfig): SaDescription[] {
  const seqHigh = Number(c.initialSequence >> 32n);
  const out: SaDescription[] = [];
  if (c.esp !== undefined) {
    out.push({
      protocol: 'esp',
      spi: c.esp.spi,
      encryption: c.esp.encryption,
      integrity: c.esp.integrity,
      encryptionKey: c.esp.encryptionKey,
      ...(c.esp.integrityKey === undefined ? {} : { integrityKey: c.esp.integrityKey }),
      ...(c.esp.icvLength === undefined ? {} : { icvLength: c.esp.icvLength }),
      esn: c.esn,
      seqHigh,
    });
  }
  if (c.ah !== undefined) {
    out.push({
      protocol: 'ah',
      spi: c.ah.spi,
      integrity: c.ah.integrity,
      integrityKey: c.ah.integrityKey,
      esn: c.esn,
      seqHigh,
    });
  }
  return out;
}

function addSas(mp: Miniport, inbound: boolean, sas: readonly SaConfig[]): bigint[] {
  const entries = sas.map((c) =>
    addSaEntry({
      inbound,
      source: c.source,
      destination: c.destination,
      sas: descriptions(c),
      ...(c.udpEncapsulation === null
        ? {}
        : { udpEspEncapsulation: UdpEsp.IPSEC_OFFLOAD_V2_UDP_ESP_ENCAPSULATION_TRANSPORT }),
    })
  );
  const base = 0x10000n;
  const list = encodeAddSaList(entries, base, 'x64');
  const r = mp.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer: list.bytes,
    baseAddress: base,
  });
  assert.equal(r.status, NdisStatus.NDIS_STATUS_SUCCESS, 'ADD_SA');
  return list.entryOffsets.map((o) => readAddSaHandle(list.bytes, o, 'x64'));
}

interface Pair {
  readonly a: Miniport;
  readonly b: Miniport;
  readonly wire: Uint8Array[];
  readonly handles: Map<string, bigint>;
}

function pair(sas: readonly SaConfig[], receiver: Receiver): Pair {
  const wire: Uint8Array[] = [];
  const a = new Miniport({
    link: { transmit: (f) => wire.push(f) },
    complete: (nbl) => {
      assert.equal(nbl.status, NdisStatus.NDIS_STATUS_SUCCESS);
    },
    random: seededRandom(3),
  });
  const b = new Miniport({
    link: {
      transmit(): void {
        /* B sends nothing */
      },
    },
    complete(): void {
      /* nothing sent */
    },
    random: seededRandom(4),
    indicateReceive: (first: NetBufferList) => {
      receiver.receive(first);
    },
  });
  const on = {
    Enabled: OffloadSet.NDIS_OFFLOAD_SET_ON,
    EncapsulationType: Encapsulation.NDIS_ENCAPSULATION_IEEE_802_3,
    HeaderSize: 14,
  };
  const r = b.oidRequest({
    type: 'set',
    oid: Oid.OID_OFFLOAD_ENCAPSULATION,
    buffer: encodeOffloadEncapsulation({ IPv4: on, IPv6: on }),
  });
  assert.equal(r.status, NdisStatus.NDIS_STATUS_SUCCESS);
  addSas(b, true, sas);
  const out = addSas(a, false, sas);
  return { a, b, wire, handles: new Map(sas.map((s, i) => [s.name, out[i]])) };
}

interface Case {
  readonly what: string;
  readonly sas: readonly SaSpec[];
  readonly l4: 'tcp' | 'udp';
  readonly sa: string;
  readonly lso?: number;
  readonly v6?: boolean;
  readonly count?: number;
}

const CASES: readonly Case[] = [
  { what: 'ESP AES-GCM-128 TCP', sas: [{ name: 'g' }], l4: 'tcp', sa: 'g' },
  {
    what: 'ESP AES-GCM-128 TCP with LSOv2 segments',
    sas: [{ name: 'l' }],
    l4: 'tcp',
    sa: 'l',
    lso: 2,
  },
  {
    what: 'ESP AES-CBC-128 + HMAC-SHA1 UDP',
    sas: [{ name: 'c', encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' }],
    l4: 'udp',
    sa: 'c',
  },
  {
    what: 'ESP AES-GMAC-128',
    sas: [{ name: 'm', encryption: 'null', integrity: 'aes-gmac-128' }],
    l4: 'udp',
    sa: 'm',
  },
  { what: 'AH HMAC-SHA-256 IPv4', sas: [{ name: 'a', protocol: 'ah' }], l4: 'tcp', sa: 'a' },
  {
    what: 'AH HMAC-SHA1 IPv6',
    sas: [{ name: 'a6', protocol: 'ah', ahIntegrity: 'hmac-sha1-96', ipv6: true }],
    l4: 'udp',
    sa: 'a6',
    v6: true,
  },
  {
    what: 'AH + ESP',
    sas: [{ name: 'b', protocol: 'ah+esp', encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' }],
    l4: 'tcp',
    sa: 'b',
  },
  { what: 'tunnel ESP', sas: [{ name: 't', mode: 'tunnel' }], l4: 'udp', sa: 't' },
  { what: 'UDP-ESP', sas: [{ name: 'u', udp: true }], l4: 'udp', sa: 'u' },
  {
    // D3: the wrap inside one LSO send (the NIC uses the next high half after it); later sends
    // would need UPDATE_SA, which is the sending host's part.
    what: 'ESN across 2^32 inside one LSO send',
    sas: [{ name: 'e', esn: true, initialSequence: 0xffff_fffen }],
    l4: 'tcp',
    sa: 'e',
    lso: 2,
    count: 1,
  },
];

function frameSpec(c: SaConfig, handle: bigint, seq: bigint, l4: L4Spec, v6: boolean): FrameSpec {
  const eth = {
    source: new Uint8Array([2, 0, 0, 0, 0, 0xa]),
    destination: new Uint8Array([2, 0, 0, 0, 0, 0xb]),
  };
  const p = protectionOf(c, handle, seq);
  if (c.mode === 'tunnel') {
    return {
      ethernet: eth,
      ip: { version: 4, source: ADDR.ga4, destination: ADDR.gb4 },
      tunnel: { protection: p, inner: { version: 4, source: ADDR.a4, destination: ADDR.b4 } },
      l4,
    };
  }
  const ip = v6
    ? ({ version: 6, source: ADDR.a6, destination: ADDR.b6 } as const)
    : ({ version: 4, source: ADDR.a4, destination: ADDR.b4 } as const);
  return { ethernet: eth, ip, transport: p, l4 };
}

for (const k of CASES) {
  test(`end to end, NIC offload then software: ${k.what}`, () => {
    const sas = k.sas.map(makeSa);
    const f = flow('f', k.l4, k.sa);
    const offloadedRx = new Receiver({ addresses: B_ADDRESSES, sas, flows: [f] });
    const p = pair(sas, offloadedRx);
    const c = sas[0];
    let seq = c.initialSequence;
    let tcpSeq = 7000;
    const sent: Uint8Array[] = [];
    for (let i = 0; i < (k.count ?? 5); i++) {
      const payload = bytes(k.lso === undefined ? 120 + i * 45 : 4000 + i * 333, i + 1);
      sent.push(payload);
      const l4 = k.l4 === 'tcp' ? tcpL4(tcpSeq, payload) : udpL4(payload);
      tcpSeq += payload.length;
      const base = frameSpec(c, p.handles.get(c.name)!, seq, l4, k.v6 === true);
      const spec: FrameSpec =
        k.lso === undefined ? base : { ...base, lso: { version: 2, mss: 1400 } };
      seq += BigInt(k.lso === undefined ? 1 : Math.ceil(payload.length / 1400));
      p.a.sendNetBufferLists(framing.build(spec));
    }
    // The wire bytes, kept for the software run before B decrypts them in place.
    const copies = p.wire.map((w) => w.slice());
    p.b.receive(p.wire);
    const rep = offloadedRx.flow('f')!;
    assert.deepEqual(offloadedRx.drops, {}, JSON.stringify(offloadedRx.report()));
    assert.equal(rep.sha256, sha(concat(sent)));
    assert.equal(offloadedRx.counters['software-esp'] ?? 0, 0);
    assert.equal(offloadedRx.counters['software-ah'] ?? 0, 0);
    assert.equal(offloadedRx.counters['header-info-mismatch'], undefined);
    assert.equal(offloadedRx.counters['header-info-missing'], undefined);

    const softwareRx = new Receiver({ addresses: B_ADDRESSES, sas, flows: [f] });
    for (const w of copies) softwareRx.receive(nblOf(w));
    assert.deepEqual(softwareRx.drops, {});
    assert.equal(softwareRx.flow('f')!.sha256, sha(concat(sent)));
    assert.equal(softwareRx.counters['offloaded-esp'] ?? 0, 0);
  });
}

test('end to end: a frame corrupted on the wire gets the NIC CryptoStatus, counted on the flow', () => {
  const sas = [makeSa({ name: 'x', encryption: 'aes-cbc-128', integrity: 'hmac-sha256-128' })];
  const rx = new Receiver({ addresses: B_ADDRESSES, sas, flows: [flow('f', 'udp', 'x')] });
  const p = pair(sas, rx);
  const good: Uint8Array[] = [];
  for (let i = 0; i < 8; i++) {
    const payload = bytes(200, i);
    if (i !== 3 && i !== 5) good.push(payload);
    p.a.sendNetBufferLists(
      framing.build(frameSpec(sas[0], p.handles.get('x')!, BigInt(i + 1), udpL4(payload), false))
    );
  }
  p.wire[3][60] ^= 0x10; // ciphertext
  p.wire.push(p.wire[6].slice()); // a replay
  p.wire[5][p.wire[5].length - 2] ^= 1; // ICV
  p.b.receive(p.wire);
  const rep = rx.flow('f')!;
  assert.equal(rep.sha256, sha(concat(good)));
  assert.deepEqual(rep.drops, { CRYPTO_TRANSPORT_ESP_AUTH_FAILED: 2, replay: 1 });
  assert.deepEqual(rx.drops, rep.drops);
});
