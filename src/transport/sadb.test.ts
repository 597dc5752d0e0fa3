/** @module Unit tests of the SA database and the capability decisions with a fake NIC. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '../crypto/random.ts';
import { decodeAddSaList, writeAddSaHandle } from '../ndis/addsa.ts';
import {
  defaultCapabilities,
  encodeIpsecOffloadV2,
  NO_IPSEC_OFFLOAD_V2,
  type IpsecOffloadV2,
} from '../ndis/caps.ts';
import { decodeDeleteSaList } from '../ndis/deletesa.ts';
import { Oid } from '../ndis/oid.ts';
import { NdisStatus } from '../ndis/status.ts';
import { decodeUpdateSa } from '../ndis/updatesa.ts';
import type { Nic, NicOidRequest, NicOidResult } from './nic.ts';
import type { SaConfig } from './policy.ts';
import { Sadb } from './sadb.ts';
import { bundleRefusal, lsoFor, lsoLimitsOf } from './tx-caps.ts';

const A = new Uint8Array([192, 0, 2, 1]);
const B = new Uint8Array([198, 51, 100, 7]);

function gcm(name: string, spi: number, src = A, dst = B, esn = false): SaConfig {
  return {
    name,
    protocol: 'esp',
    mode: 'transport',
    esp: { spi, encryption: 'aes-gcm-128', integrity: null, encryptionKey: new Uint8Array(20) },
    esn,
    initialSequence: 1n,
    replayWindow: 64,
    udpEncapsulation: null,
    source: src,
    destination: dst,
  };
}

/** A NIC that answers the capability queries and records every set; `refuse` NULLs handles. */
class FakeNic implements Nic {
  readonly sets: { oid: number; buffer: Uint8Array }[] = [];
  caps: IpsecOffloadV2 = defaultCapabilities().IPsecV2;
  refuse = new Set<number>();
  #handle = 0x100n;

  oidRequest(r: NicOidRequest): NicOidResult {
    const ok = {
      status: NdisStatus.NDIS_STATUS_SUCCESS,
      bytesRead: 0,
      bytesWritten: 0,
      bytesNeeded: 0,
    };
    if (r.type === 'query') {
      r.buffer.set(encodeIpsecOffloadV2(this.caps));
      return { ...ok, bytesWritten: 0x20 };
    }
    this.sets.push({ oid: r.oid, buffer: r.buffer.slice() });
    if (r.oid === Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA) {
      const d = decodeAddSaList(r.buffer, r.baseAddress ?? 0n, 'x64');
      assert.ok(d.ok);
      for (const e of d.value) {
        const refused = this.refuse.has(e.secAssoc[0].spi);
        writeAddSaHandle(r.buffer, e.entryOffset, refused ? 0n : this.#handle++, 'x64');
      }
    }
    return ok;
  }

  sendNetBufferLists(): void {
    /* not used */
  }

  of(oid: number): Uint8Array[] {
    return this.sets.filter((s) => s.oid === oid).map((s) => s.buffer);
  }
}

function db(nic: FakeNic, extra: Partial<ConstructorParameters<typeof Sadb>[0]> = {}): Sadb {
  const s = new Sadb({ nic, random: seededRandom(1), ...extra });
  s.queryCapabilities();
  return s;
}

describe('Sadb', () => {
  it('adds outbound and inbound bundles in one ADD_SA list and checks every handle', () => {
    const nic = new FakeNic();
    nic.refuse.add(0x2002);
    const s = db(nic);
    s.addOutbound(gcm('a', 0x1001), 'transport');
    s.addOutbound(gcm('b', 0x2002), 'transport');
    s.reconcile();
    assert.equal(nic.of(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA).length, 1);
    assert.equal(s.outbound('a')?.offloaded, true);
    assert.equal(s.outbound('b')?.offloaded, false);
    assert.equal(s.outbound('b')?.why, 'null-handle');
    assert.equal(s.counters['software:null-handle'], 1);
    const inbound = s.addInbound(gcm('in', 0x3003, B, A));
    assert.equal(inbound.offloaded, true);
    const last = nic.of(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA).at(-1)!;
    const d = decodeAddSaList(last, 0x10_0000n, 'x64');
    assert.ok(d.ok && d.value[0].flags.inbound);
  });

  it('counts its entries against SaOffloadCapacity', () => {
    const nic = new FakeNic();
    nic.caps = { ...nic.caps, SaOffloadCapacity: 1 };
    const s = db(nic);
    s.addOutbound(gcm('a', 0x1001), 'transport');
    s.addOutbound(gcm('b', 0x2002), 'transport');
    s.reconcile();
    assert.equal(s.entriesHeld(), 1);
    assert.equal(s.outbound('b')?.why, 'capacity');
  });

  it('SaDeleteReq deletes the inbound bundle and its outbound peer; both stay in software', () => {
    const nic = new FakeNic();
    const s = db(nic);
    s.addOutbound(gcm('out', 0x1001), 'transport');
    s.reconcile();
    s.addInbound(gcm('in', 0x3003, B, A));
    assert.equal(s.saDeleteRequested(0x3003), 2);
    const del = decodeDeleteSaList(
      nic.of(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA)[0],
      0x10_0000n,
      'x64'
    );
    assert.ok(del.ok);
    assert.equal(del.value.length, 2);
    assert.equal(s.entriesHeld(), 0);
    s.reconcile();
    assert.equal(s.entriesHeld(), 0, 'not offered again');
  });

  it('pushes UPDATE_SA with the new high half for an ESN bundle', () => {
    const nic = new FakeNic();
    const s = db(nic);
    const st = s.addOutbound(gcm('e', 0x1001, A, B, true), 'transport');
    s.reconcile();
    s.update(st, 1);
    const u = decodeUpdateSa(nic.of(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA)[0], 'x64');
    assert.ok(u.ok);
    assert.equal(u.value.spi, 0x1001);
    assert.equal(u.value.sequenceNumberHighOrder, 1);
    assert.equal(st.nicHigh, 1);
    s.update(st, 1);
    assert.equal(nic.of(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_UPDATE_SA).length, 1, 'once');
  });

  it('rekeys a non-ESN bundle inside the margin and deletes the old one', () => {
    const nic = new FakeNic();
    const seen: SaConfig[] = [];
    const s = db(nic, { rekeyMargin: 10n, onRekey: (_o, n) => seen.push(n) });
    s.addOutbound({ ...gcm('r', 0x1001), initialSequence: 2n ** 32n - 5n }, 'transport');
    s.reconcile();
    const st = s.current('r');
    assert.equal(st.generation, 1);
    assert.equal(seen.length, 1);
    assert.notEqual(seen[0].esp?.spi, 0x1001);
    assert.equal(st.offloaded, true);
    assert.equal(nic.of(Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA).length, 1);
  });

  it('teardown deletes everything the NIC holds', () => {
    const nic = new FakeNic();
    const s = db(nic);
    s.addOutbound(gcm('a', 0x1001), 'transport');
    s.reconcile();
    s.teardown();
    assert.equal(s.entriesHeld(), 0);
  });
});

describe('tx-caps decisions', () => {
  const caps = defaultCapabilities();
  it('the default NIC takes every registry algorithm with an identifier', () => {
    assert.equal(bundleRefusal(caps.IPsecV2, gcm('a', 1), 'transport'), null);
    assert.equal(bundleRefusal(NO_IPSEC_OFFLOAD_V2, gcm('a', 1), 'transport'), 'capability:Esp');
    assert.equal(
      bundleRefusal(
        caps.IPsecV2,
        {
          ...gcm('a', 1),
          esp: {
            ...gcm('a', 1).esp!,
            encryption: 'chacha20-poly1305',
            encryptionKey: new Uint8Array(36),
          },
        },
        'transport'
      ),
      'capability:EncryptionAlgorithms'
    );
    assert.equal(
      bundleRefusal({ ...caps.IPsecV2, Tunnel: false }, gcm('a', 1), 'tunnel'),
      'capability:Tunnel'
    );
  });
  it('never LSO for tunnels; LSOv1 only over IPv4', () => {
    const c = { ipsec: caps.IPsecV2, ...lsoLimitsOf(caps) };
    assert.equal(lsoFor(c, 2, 4, true, true), null);
    assert.equal(lsoFor(c, 1, 6, false, true), null);
    assert.equal(lsoFor(c, 2, 6, false, true)?.version, 2);
    assert.equal(
      lsoFor({ ...c, ipsec: { ...c.ipsec, LsoSupported: false } }, 2, 4, false, true),
      null
    );
  });
});
