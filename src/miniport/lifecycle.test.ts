/**
 * The adapter lifecycle (MiniportPause, MiniportRestart, MiniportResetEx + NdisMResetComplete,
 * MiniportHaltEx) and what each state does to the control path (contract D16). SAs are added
 * through the real ADD_SA encoder and the OID, never by writing the table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../crypto/random.ts';
import { ARCHES, type Arch } from '../ndis/abi.ts';
import { encodeAddSaList, readAddSaHandle } from '../ndis/addsa.ts';
import { defaultCapabilities } from '../ndis/caps.ts';
import { encodeDeleteSaList } from '../ndis/deletesa.ts';
import { Encryption, Oid, Operation } from '../ndis/oid.ts';
import type { SaBundle } from '../ndis/sa.ts';
import { statusName } from '../ndis/status.ts';
import type { OidRequest } from './ctrlpath.ts';
import { completeReset, halt, HALTED_OID_STATUS, pause, reset, restart } from './lifecycle.ts';
import { Miniport } from './miniport.ts';

const BASE = { x64: 0xffffc000_00100000n, x86: 0x80100000n } as const;

function miniport(arch: Arch = 'x64'): Miniport {
  return new Miniport({
    arch,
    link: {
      transmit(): void {
        /* no frames here */
      },
    },
    complete(): void {
      /* no NBLs here */
    },
    random: seededRandom(1),
  });
}

/** An outbound ESP AES-GCM-128 bundle (key ‖ salt, contract D5). */
function gcm(spi: number): SaBundle {
  return {
    numExtHdrs: 1,
    flags: { inbound: false, ipv6: false },
    src: Uint8Array.of(10, 0, 0, 1),
    dst: Uint8Array.of(10, 0, 0, 2),
    udpEspEncapsulation: 0,
    secAssoc: [
      {
        flags: 0,
        operation: Operation.IPsecOffloadV2Esp,
        spi,
        authenticationAlgorithm: {
          identifier: 0,
          keyLength: 0,
          keyOffsetBytes: 0,
          additionalInfo: 0,
        },
        encryptionAlgorithm: {
          identifier: Encryption.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128,
          keyLength: 20,
          keyOffsetBytes: 0,
          additionalInfo: 0,
        },
        sequenceNumberHighOrder: 0,
      },
    ],
    keyData: Uint8Array.from({ length: 20 }, (_, i) => i + spi),
    offloadHandle: 0n,
  };
}

function addRequest(
  mp: Miniport,
  spis: number[]
): { request: OidRequest; handles: () => bigint[] } {
  const { bytes, entryOffsets } = encodeAddSaList(spis.map(gcm), BASE[mp.arch], mp.arch);
  return {
    request: {
      type: 'set',
      oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
      buffer: bytes,
      baseAddress: BASE[mp.arch],
    },
    handles: () => entryOffsets.map((o) => readAddSaHandle(bytes, o, mp.arch)),
  };
}

function add(mp: Miniport, spis: number[]): bigint[] {
  const a = addRequest(mp, spis);
  assert.equal(statusName(mp.oidRequest(a.request).status), 'NDIS_STATUS_SUCCESS');
  return a.handles();
}

function deleteRequest(mp: Miniport, handles: bigint[]): OidRequest {
  const { bytes } = encodeDeleteSaList(handles, BASE[mp.arch], mp.arch);
  return {
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_DELETE_SA,
    buffer: bytes,
    baseAddress: BASE[mp.arch],
  };
}

test('D16: pause → paused and restart → running; OIDs are still handled while paused', () => {
  const mp = miniport();
  assert.equal(mp.state, 'running');
  assert.equal(statusName(pause(mp)), 'NDIS_STATUS_SUCCESS');
  assert.equal(mp.state, 'paused');
  const [h] = add(mp, [0x101]);
  assert.equal(statusName(mp.oidRequest(deleteRequest(mp, [h])).status), 'NDIS_STATUS_SUCCESS');
  assert.equal(statusName(restart(mp)), 'NDIS_STATUS_SUCCESS');
  assert.equal(mp.state, 'running');
  assert.deepEqual(
    [mp.counters.get('lifecycle.pause'), mp.counters.get('lifecycle.restart')],
    [1, 1]
  );
});

test('D16: during a reset DELETE_SA answers NDIS_STATUS_NOT_ACCEPTED and deletes nothing; after NdisMResetComplete it works', () => {
  for (const arch of ARCHES) {
    const mp = miniport(arch);
    const [h] = add(mp, [0x201]);
    assert.equal(statusName(reset(mp)), 'NDIS_STATUS_PENDING');
    assert.equal(mp.state, 'resetting');
    const r = mp.oidRequest(deleteRequest(mp, [h]));
    assert.equal(statusName(r.status), 'NDIS_STATUS_NOT_ACCEPTED');
    assert.ok(mp.saTable.get(h), 'the SA survives');
    assert.equal(mp.counters.get('oid.delete-sa.reject:resetting'), 1);
    completeReset(mp);
    assert.equal(mp.state, 'running');
    assert.equal(statusName(mp.oidRequest(deleteRequest(mp, [h])).status), 'NDIS_STATUS_SUCCESS');
    assert.equal(mp.saTable.size, 0);
  }
});

test('MiniportResetEx: the SA table survives a reset, and a reset begun while paused returns to paused', () => {
  const mp = miniport();
  const [h] = add(mp, [0x301]);
  pause(mp);
  reset(mp);
  completeReset(mp);
  assert.equal(mp.state, 'paused');
  assert.ok(mp.saTable.get(h));
  assert.deepEqual(
    [mp.counters.get('lifecycle.reset'), mp.counters.get('lifecycle.reset-complete')],
    [1, 1]
  );
});

test('D16: halt deletes every SA itself (keys zeroed) and counts it; every later OID fails', () => {
  for (const arch of ARCHES) {
    const mp = miniport(arch);
    const handles = add(mp, [0x401, 0x402, 0x403]);
    const transforms = handles.map((h) => mp.saTable.get(h)!.elements[0].esp!);
    halt(mp);
    assert.equal(mp.state, 'halted');
    assert.equal(mp.saTable.size, 0);
    for (const t of transforms) {
      assert.throws(() => {
        t.seal(new Uint8Array(8 + 8 + 8 + 16), 0);
      }, /destroy/);
    }
    assert.equal(mp.counters.get('lifecycle.halt.sa-deleted'), 3);
    assert.equal(mp.counters.get('lifecycle.halt'), 1);
    const late = addRequest(mp, [0x404]);
    const r = mp.oidRequest(late.request);
    assert.equal(r.status, HALTED_OID_STATUS);
    assert.equal(statusName(r.status), 'NDIS_STATUS_ADAPTER_NOT_READY');
    assert.deepEqual(late.handles(), [0n]);
    const q = mp.oidRequest({
      type: 'query',
      oid: Oid.OID_TCP_OFFLOAD_HARDWARE_CAPABILITIES,
      buffer: new Uint8Array(0x20),
    });
    assert.equal(q.status, HALTED_OID_STATUS);
    assert.equal(mp.counters.get('oid.refused:halted'), 2);
  }
});

test('halt from paused (the order NDIS uses) empties the table too', () => {
  const mp = miniport();
  add(mp, [0x501]);
  mp.pause();
  mp.halt();
  assert.deepEqual([mp.state, mp.saTable.size], ['halted', 0]);
});

test('a lifecycle call in a state NDIS never makes it in is our misuse: a RangeError naming both states', () => {
  const mp = miniport();
  assert.throws(() => restart(mp), /restart: expected an adapter that is paused, got running/);
  assert.throws(() => {
    completeReset(mp);
  }, /completeReset: expected an adapter that is resetting, got running/);
  pause(mp);
  assert.throws(() => pause(mp), /pause: expected an adapter that is running, got paused/);
  reset(mp);
  assert.throws(() => reset(mp), RangeError);
  assert.throws(() => {
    halt(mp);
  }, /halt: expected an adapter that is running or paused, got resetting/);
  completeReset(mp);
  halt(mp);
  assert.throws(() => {
    halt(mp);
  }, RangeError);
  assert.throws(() => restart(mp), RangeError);
  assert.equal(mp.state, 'halted');
});

test('the Miniport methods pause, restart, reset and halt delegate to lifecycle.ts', () => {
  const mp = new Miniport({
    capabilities: defaultCapabilities(),
    link: {
      transmit(): void {
        /* none */
      },
    },
    complete(): void {
      /* none */
    },
    random: seededRandom(2),
  });
  assert.equal(statusName(mp.pause()), 'NDIS_STATUS_SUCCESS');
  assert.equal(statusName(mp.restart()), 'NDIS_STATUS_SUCCESS');
  assert.equal(statusName(mp.reset()), 'NDIS_STATUS_PENDING');
  assert.equal(mp.state, 'resetting');
  completeReset(mp);
  mp.halt();
  assert.equal(mp.state, 'halted');
});
