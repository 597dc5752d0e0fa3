/**
 * The transport's ADD_SA entries (src/transport/sa-entry.ts) go through the real binary OID path
 * and are accepted by the miniport for every algorithm the NIC offers (contract D5, D17).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { seededRandom } from '../src/crypto/random.ts';
import {
  ENCRYPTION_NAMES,
  INTEGRITY_NAMES,
  encryptionInfo,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from '../src/crypto/names.ts';
import { Miniport } from '../src/miniport/miniport.ts';
import { decodeAddSaList, encodeAddSaList, readAddSaHandle } from '../src/ndis/addsa.ts';
import { Oid } from '../src/ndis/oid.ts';
import { NdisStatus } from '../src/ndis/status.ts';
import { addSaEntry, type SaDescription } from '../src/transport/sa-entry.ts';

const SRC = Uint8Array.of(192, 0, 2, 1);
const DST = Uint8Array.of(198, 51, 100, 7);

function key(length: number, fill: number): Uint8Array {
  return new Uint8Array(length).map((_, i) => (fill + i) & 0xff);
}

function miniport(): Miniport {
  return new Miniport({
    link: { transmit: () => undefined },
    complete: () => undefined,
    random: seededRandom(1),
  });
}

/** Every ESP combination with IPsecOV2 identifiers, and every AH integrity algorithm. */
function offloadable(): SaDescription[] {
  const out: SaDescription[] = [];
  let spi = 0x100;
  for (const e of ENCRYPTION_NAMES) {
    const enc = encryptionInfo(e);
    if (enc.identifier === null) continue;
    const integrities: (IntegrityName | null)[] = enc.combined
      ? [null]
      : INTEGRITY_NAMES.filter(
          (i) => integrityInfo(i).identifier !== null && (e === 'null' || !i.startsWith('aes-gmac'))
        );
    if (!enc.combined && e !== 'null') integrities.push(null);
    for (const i of integrities) {
      out.push(esp(spi++, e, i));
    }
  }
  for (const i of INTEGRITY_NAMES) {
    if (integrityInfo(i).identifier === null) continue;
    out.push({
      protocol: 'ah',
      spi: spi++,
      integrity: i,
      integrityKey: key(integrityInfo(i).keyLength, 7),
    });
  }
  return out;
}

function esp(spi: number, e: EncryptionName, i: IntegrityName | null): SaDescription {
  return {
    protocol: 'esp',
    spi,
    encryption: e,
    integrity: i,
    encryptionKey: key(encryptionInfo(e).keyLength, 1),
    ...(i === null ? {} : { integrityKey: key(integrityInfo(i).keyLength, 0x80) }),
  };
}

test('every offloadable algorithm: the entry is accepted through OID ADD_SA on x64 and x86', () => {
  const sas = offloadable();
  assert.ok(sas.length >= 30, `covers the algorithm table (${sas.length} SAs)`);
  for (const arch of ['x64', 'x86'] as const) {
    const mp = new Miniport({
      link: { transmit: () => undefined },
      complete: () => undefined,
      random: seededRandom(1),
      arch,
    });
    const entries = sas.map((sa) =>
      addSaEntry({ inbound: false, source: SRC, destination: DST, sas: [sa] })
    );
    const list = encodeAddSaList(entries, 0x10000n, arch);
    const r = mp.oidRequest({
      type: 'set',
      oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
      buffer: list.bytes,
      baseAddress: 0x10000n,
    });
    assert.equal(r.status, NdisStatus.NDIS_STATUS_SUCCESS);
    const handles = list.entryOffsets.map((o) => readAddSaHandle(list.bytes, o, arch));
    assert.ok(
      handles.every((h) => h !== 0n),
      `${arch}: every entry got a handle`
    );
    assert.equal(new Set(handles).size, handles.length, `${arch}: handles are distinct`);
  }
});

test('D5: the key buffer holds the encryption key, then the integrity key, at their offsets', () => {
  const entry = addSaEntry({
    inbound: true,
    source: SRC,
    destination: DST,
    sas: [esp(0x42, 'aes-cbc-128', 'hmac-sha1-96')],
  });
  const sa = entry.secAssoc[0];
  assert.deepEqual(entry.keyData.subarray(0, 16), key(16, 1));
  assert.deepEqual(entry.keyData.subarray(16, 36), key(20, 0x80));
  assert.deepEqual(
    [
      sa.encryptionAlgorithm.keyOffsetBytes,
      sa.encryptionAlgorithm.keyLength,
      sa.authenticationAlgorithm.keyOffsetBytes,
      sa.authenticationAlgorithm.keyLength,
    ],
    [0, 16, 16, 20]
  );
  assert.equal(entry.flags.inbound, true);
  const decoded = decodeAddSaList(encodeAddSaList([entry], 0n, 'x64').bytes, 0n, 'x64');
  assert.ok(decoded.ok);
  assert.deepEqual(decoded.value[0].keyData, entry.keyData);
});

test('D5: AES-GCM carries key ‖ salt (20 bytes) and the ICV length in AdditionalInfo', () => {
  const entry = addSaEntry({
    inbound: false,
    source: SRC,
    destination: DST,
    sas: [{ ...esp(0x43, 'aes-gcm-128', null), icvLength: 12 }],
  });
  const enc = entry.secAssoc[0].encryptionAlgorithm;
  assert.deepEqual([enc.keyLength, enc.additionalInfo], [20, 12]);
  assert.deepEqual(entry.secAssoc[0].authenticationAlgorithm.identifier, 0);
});

test('an AH+ESP bundle is ESP then AH, with ESN and the high half', () => {
  const entry = addSaEntry({
    inbound: false,
    source: SRC,
    destination: DST,
    sas: [
      { ...esp(0x44, 'aes-gcm-256', null), esn: true, seqHigh: 5 },
      {
        protocol: 'ah',
        spi: 0x45,
        integrity: 'hmac-sha256-128',
        integrityKey: key(32, 9),
        esn: true,
        seqHigh: 5,
      },
    ],
  });
  assert.equal(entry.numExtHdrs, 2);
  assert.deepEqual(
    entry.secAssoc.map((s) => [s.operation, s.flags, s.sequenceNumberHighOrder]),
    [
      [2, 1, 5],
      [1, 1, 5],
    ]
  );
  const mp = miniport();
  const list = encodeAddSaList([entry], 0n, 'x64');
  const r = mp.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer: list.bytes,
  });
  assert.equal(r.status, NdisStatus.NDIS_STATUS_SUCCESS);
});

test('misuse names the field: wrong key length, AH without integrity, an algorithm with no identifier', () => {
  assert.throws(
    () =>
      addSaEntry({
        inbound: false,
        source: SRC,
        destination: DST,
        sas: [{ ...esp(1, 'aes-gcm-128', null), encryptionKey: key(16, 0) }],
      }),
    /sas\[0\]\.encryptionKey: expected 20 bytes, got 16/
  );
  assert.throws(
    () =>
      addSaEntry({
        inbound: false,
        source: SRC,
        destination: DST,
        sas: [{ protocol: 'ah', spi: 2 }],
      }),
    /sas\[0\]\.integrity: expected an integrity algorithm for AH/
  );
  assert.throws(
    () =>
      addSaEntry({
        inbound: false,
        source: SRC,
        destination: DST,
        sas: [esp(3, 'chacha20-poly1305', null)],
      }),
    /expected an algorithm with an IPsecOV2 identifier, got chacha20-poly1305/
  );
  assert.throws(
    () =>
      addSaEntry({
        inbound: false,
        source: SRC,
        destination: new Uint8Array(16),
        sas: [esp(4, 'null', 'hmac-sha1-96')],
      }),
    /one IP version/
  );
});
