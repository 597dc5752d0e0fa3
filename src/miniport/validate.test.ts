/**
 * ADD_SA entry validation as a pure function of the entry, the capability record and the
 * configuration. Entries are built as IPSEC_OFFLOAD_V2_ADD_SA bytes by the real encoder and
 * decoded back, so validation sees exactly what the OID would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { createAuth } from '../crypto/ah.ts';
import { createEsp } from '../crypto/esp.ts';
import {
  encryptionByIdentifier,
  encryptionInfo,
  integrityByIdentifier,
  integrityInfo,
} from '../crypto/names.ts';
import { decodeAddSaList, encodeAddSaList } from '../ndis/addsa.ts';
import { defaultCapabilities, type IpsecOffloadV2 } from '../ndis/caps.ts';
import { Authentication as A, Encryption as E, Operation as OP, SaFlags } from '../ndis/oid.ts';
import type { AlgorithmInfo, SaBundle, SecurityAssociation } from '../ndis/sa.ts';
import { initialConfig, type CurrentConfig } from './config.ts';
import { validateEntry, type Verdict } from './validate.ts';

const CAPS = defaultCapabilities();
const V2 = CAPS.IPsecV2;
const CONFIG = initialConfig(CAPS);

const NONE: AlgorithmInfo = { identifier: 0, keyLength: 0, keyOffsetBytes: 0, additionalInfo: 0 };

function alg(
  identifier: number,
  keyLength: number,
  keyOffsetBytes = 0,
  additionalInfo = 0
): AlgorithmInfo {
  return { identifier, keyLength, keyOffsetBytes, additionalInfo };
}

function sa(
  operation: number,
  spi: number,
  o: Partial<SecurityAssociation> = {}
): SecurityAssociation {
  return {
    flags: 0,
    operation,
    spi,
    authenticationAlgorithm: NONE,
    encryptionAlgorithm: NONE,
    sequenceNumberHighOrder: 0,
    ...o,
  };
}

function keyBytes(n: number, seed = 1): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (seed + i * 13) & 0xff);
}

/** The entry as the ADD_SA decoder returns it after the real encoder wrote it. */
function decoded(secAssoc: SecurityAssociation[], keyData: Uint8Array, ipv6 = false): SaBundle {
  const b: SaBundle = {
    numExtHdrs: secAssoc.length,
    flags: { inbound: false, ipv6 },
    src: new Uint8Array(ipv6 ? 16 : 4),
    dst: new Uint8Array(ipv6 ? 16 : 4),
    udpEspEncapsulation: 0,
    secAssoc,
    keyData,
    offloadHandle: 0n,
  };
  const r = decodeAddSaList(encodeAddSaList([b], 0x1000n, 'x64').bytes, 0x1000n, 'x64');
  assert.ok(r.ok);
  return r.value[0];
}

function judge(
  entry: SaBundle,
  caps: Partial<IpsecOffloadV2> = {},
  config: Partial<CurrentConfig> = {}
): Verdict {
  return validateEntry(entry, { ...V2, ...caps }, { ...CONFIG, ...config });
}

function accepted(v: Verdict): Extract<Verdict, { ok: true }> {
  assert.ok(v.ok, v.ok ? '' : `${v.reason}: ${v.detail}`);
  return v;
}

test('Reference §1.11: an AH+ESP bundle is planned ESP then AH, each key sliced at its KeyOffsetBytes', () => {
  const k = keyBytes(68);
  const v = accepted(
    judge(
      decoded(
        [
          sa(OP.IPsecOffloadV2Esp, 0x100, {
            encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_128, 16, 32),
            authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 20, 48),
          }),
          sa(OP.IPsecOffloadV2Ah, 0x101, {
            authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_256, 32, 0),
          }),
        ],
        k
      )
    )
  );
  const [esp, ah] = v.elements;
  assert.deepEqual(
    [esp.operation, esp.spi, esp.encryption, esp.integrity, esp.icvLength],
    ['esp', 0x100, 'aes-cbc-128', 'hmac-sha1-96', 12]
  );
  assert.deepEqual([...esp.encryptionKey], [...k.subarray(32, 48)]);
  assert.deepEqual([...esp.integrityKey], [...k.subarray(48, 68)]);
  assert.deepEqual(
    [ah.operation, ah.spi, ah.encryption, ah.integrity, ah.icvLength],
    ['ah', 0x101, null, 'hmac-sha256-128', 16]
  );
  assert.deepEqual([...ah.integrityKey], [...k.subarray(0, 32)]);
});

test('D5: AES-GCM takes key ‖ salt (20, 28, 36 bytes) and AdditionalInfo as the ICV length, 0 meaning 16', () => {
  const gcm = [
    [E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 20],
    [E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_192, 28],
    [E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_256, 36],
  ] as const;
  for (const [id, length] of gcm) {
    for (const [info, icv] of [
      [0, 16],
      [8, 8],
      [12, 12],
      [16, 16],
    ] as const) {
      const v = accepted(
        judge(
          decoded(
            [sa(OP.IPsecOffloadV2Esp, 1, { encryptionAlgorithm: alg(id, length, 0, info) })],
            keyBytes(length)
          )
        )
      );
      assert.equal(v.elements[0].icvLength, icv);
      assert.equal(v.elements[0].encryptionKey.length, length);
    }
    const short = judge(
      decoded(
        [sa(OP.IPsecOffloadV2Esp, 1, { encryptionAlgorithm: alg(id, length - 4) })],
        keyBytes(length)
      )
    );
    assert.deepEqual(short.ok ? 'ok' : short.reason, 'key-length', 'the key without its salt');
  }
});

test('IPSEC_OFFLOAD_V2_SECURITY_ASSOCIATION: with AES-GCM the AuthenticationAlgorithm is not used, whatever it holds', () => {
  const v = accepted(
    judge(
      decoded(
        [
          sa(OP.IPsecOffloadV2Esp, 1, {
            encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 20),
            authenticationAlgorithm: alg(0xdead, 99, 1000, 7),
          }),
        ],
        keyBytes(20)
      )
    )
  );
  assert.equal(v.elements[0].integrity, null);
});

test('D5: AES-GMAC keys carry the 4-byte salt, for AH and for ESP with null encryption; its ICV is 16', () => {
  const gmac = alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_AES_GCM_256, 36);
  const ah = accepted(
    judge(decoded([sa(OP.IPsecOffloadV2Ah, 1, { authenticationAlgorithm: gmac })], keyBytes(36)))
  );
  assert.deepEqual([ah.elements[0].integrity, ah.elements[0].icvLength], ['aes-gmac-256', 16]);
  const esp = accepted(
    judge(
      decoded(
        [
          sa(OP.IPsecOffloadV2Esp, 1, {
            encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_NONE, 0),
            authenticationAlgorithm: { ...gmac, additionalInfo: 16 },
          }),
        ],
        keyBytes(36)
      )
    )
  );
  assert.deepEqual(
    [esp.elements[0].encryption, esp.elements[0].integrity],
    ['null', 'aes-gmac-256']
  );
  const wrongIcv = judge(
    decoded(
      [sa(OP.IPsecOffloadV2Ah, 1, { authenticationAlgorithm: { ...gmac, additionalInfo: 12 } })],
      keyBytes(36)
    )
  );
  assert.equal(wrongIcv.ok ? 'ok' : wrongIcv.reason, 'icv-length');
});

test('ESP: EncryptionAlgorithm Identifier 0 means no confidentiality, like ENCRYPTION_NONE, and needs that capability bit', () => {
  const entry = decoded(
    [
      sa(OP.IPsecOffloadV2Esp, 1, {
        authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_MD5, 16),
      }),
    ],
    keyBytes(16)
  );
  const v = accepted(judge(entry));
  assert.deepEqual(
    [v.elements[0].encryption, v.elements[0].integrity, v.elements[0].icvLength],
    ['null', 'hmac-md5-96', 12]
  );
  const without = judge(entry, {
    EncryptionAlgorithms: V2.EncryptionAlgorithms & ~E.IPSEC_OFFLOAD_V2_ENCRYPTION_NONE,
  });
  assert.equal(without.ok ? 'ok' : without.reason, 'algorithm-not-supported');
});

test('ESP: CBC without integrity is accepted (confidentiality only) with no ICV', () => {
  const v = accepted(
    judge(
      decoded(
        [
          sa(OP.IPsecOffloadV2Esp, 1, {
            encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_3_DES_CBC, 24),
          }),
        ],
        keyBytes(24)
      )
    )
  );
  assert.deepEqual(
    [v.elements[0].encryption, v.elements[0].integrity, v.elements[0].icvLength],
    ['3des-cbc', null, 0]
  );
});

test('D3: an ESN SA carries SequenceNumberHighOrder; an SA without ESN plans a high half of 0', () => {
  const enc = alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 20);
  const esn = accepted(
    judge(
      decoded(
        [
          sa(OP.IPsecOffloadV2Esp, 1, {
            encryptionAlgorithm: enc,
            flags: SaFlags.IPSEC_OFFLOAD_V2_ESN_SA,
            sequenceNumberHighOrder: 0xfffffff0,
          }),
        ],
        keyBytes(20)
      )
    )
  );
  assert.deepEqual([esn.elements[0].esn, esn.elements[0].seqHigh], [true, 0xfffffff0]);
  const plain = accepted(
    judge(
      decoded(
        [sa(OP.IPsecOffloadV2Esp, 1, { encryptionAlgorithm: enc, sequenceNumberHighOrder: 5 })],
        keyBytes(20)
      )
    )
  );
  assert.deepEqual([plain.elements[0].esn, plain.elements[0].seqHigh], [false, 0]);
});

test('a refusal names the SecAssoc element at fault', () => {
  const v = judge(
    decoded(
      [
        sa(OP.IPsecOffloadV2Esp, 1, {
          encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_CBC_256, 32),
        }),
        sa(OP.IPsecOffloadV2Ah, 2, {
          authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 20, 40),
        }),
      ],
      keyBytes(52)
    )
  );
  assert.deepEqual(v.ok ? 'ok' : [v.reason, v.element], ['key-range', 1]);
});

test('OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA: a configuration that turned AH, ESP or IPv6 off refuses such SAs', () => {
  const ah = decoded(
    [
      sa(OP.IPsecOffloadV2Ah, 1, {
        authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 20),
      }),
    ],
    keyBytes(20)
  );
  const esp = decoded(
    [
      sa(OP.IPsecOffloadV2Esp, 1, {
        encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 20),
      }),
    ],
    keyBytes(20),
    true
  );
  const reason = (v: Verdict): string => (v.ok ? 'ok' : v.reason);
  assert.equal(reason(judge(ah, {}, { ipsecAh: false })), 'ah-disabled');
  assert.equal(reason(judge(esp, {}, { ipsecEsp: false })), 'esp-disabled');
  assert.equal(reason(judge(esp, {}, { ipsecIpv6: false })), 'ipv6-disabled');
  assert.equal(reason(judge(esp)), 'ok');
});

test("D5: for every algorithm the NIC advertises, exactly the table's key length is accepted", () => {
  const encIds = Object.values(E);
  const authIds = Object.values(A);
  fc.assert(
    fc.property(
      fc.constantFrom(...encIds),
      fc.constantFrom(...authIds),
      fc.integer({ min: 0, max: 64 }),
      (encId, authId, length) => {
        const enc = encryptionInfo(encryptionByIdentifier(encId)!);
        const encOk = judge(
          decoded(
            [
              sa(OP.IPsecOffloadV2Esp, 1, {
                encryptionAlgorithm: alg(encId, length),
                authenticationAlgorithm: alg(A.IPSEC_OFFLOAD_V2_AUTHENTICATION_SHA_1, 20, 64),
              }),
            ],
            keyBytes(84)
          )
        );
        assert.equal(
          encOk.ok || encOk.reason !== 'key-length',
          length === enc.keyLength,
          `${enc.name} ${length}`
        );
        const integ = integrityInfo(integrityByIdentifier(authId)!);
        const ahOk = judge(
          decoded(
            [sa(OP.IPsecOffloadV2Ah, 1, { authenticationAlgorithm: alg(authId, length) })],
            keyBytes(64)
          )
        );
        assert.equal(ahOk.ok, length === integ.keyLength, `${integ.name} ${length}`);
      }
    ),
    { numRuns: 400 }
  );
});

test('fast-check: every accepted plan creates its transforms without throwing', () => {
  // Near-valid algorithms: a known identifier, usually with its own key length, or noise.
  const near = (ids: readonly number[], lengthOf: (id: number) => number, offset: number) =>
    fc.oneof(
      fc.constantFrom(...ids).chain((identifier) =>
        fc.record({
          identifier: fc.constant(identifier),
          keyLength: fc.oneof(
            { weight: 4, arbitrary: fc.constant(lengthOf(identifier)) },
            fc.constantFrom(0, 16, 20, 36)
          ),
          keyOffsetBytes: fc.oneof({ weight: 4, arbitrary: fc.constant(offset) }, fc.nat(80)),
          additionalInfo: fc.constantFrom(0, 8, 12, 16, 20),
        })
      ),
      fc.constant(NONE)
    );
  const encIds = Object.values(E);
  const authIds = Object.values(A);
  const anySa = fc.record({
    flags: fc.constantFrom(0, 1),
    operation: fc.constantFrom(1, 2),
    spi: fc.integer({ min: 1, max: 0xffff }),
    authenticationAlgorithm: near(
      authIds,
      (id) => integrityInfo(integrityByIdentifier(id)!).keyLength,
      36
    ),
    encryptionAlgorithm: near(
      encIds,
      (id) => encryptionInfo(encryptionByIdentifier(id)!).keyLength,
      0
    ),
    sequenceNumberHighOrder: fc.nat(),
  });
  let plans = 0;
  fc.assert(
    fc.property(
      fc.array(anySa, { minLength: 1, maxLength: 2 }),
      fc.uint8Array({ minLength: 60, maxLength: 72 }),
      (sas, key) => {
        const v = judge(decoded(sas, key));
        if (!v.ok) return;
        plans += 1;
        for (const p of v.elements) {
          if (p.operation === 'ah')
            createAuth({ integrity: p.integrity!, key: p.integrityKey, esn: p.esn }).destroy();
          else
            createEsp({
              encryption: p.encryption!,
              integrity: p.integrity,
              encryptionKey: p.encryptionKey,
              ...(p.integrity === null ? {} : { integrityKey: p.integrityKey }),
              icvLength: p.icvLength,
              esn: p.esn,
            }).destroy();
        }
      }
    ),
    { numRuns: 3000 }
  );
  assert.ok(plans > 100, `enough random entries are valid (${plans})`);
});

test('validation reads the capability record it is given, not the defaults', () => {
  const entry = decoded(
    [
      sa(OP.IPsecOffloadV2Esp, 1, {
        encryptionAlgorithm: alg(E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128, 20),
      }),
    ],
    keyBytes(20)
  );
  const none: Partial<IpsecOffloadV2> = { EncryptionAlgorithms: 0, AuthenticationAlgorithms: 0 };
  const v = judge(entry, none);
  assert.equal(v.ok ? 'ok' : v.reason, 'algorithm-not-supported');
  assert.equal(
    CAPS.IPsecV2.EncryptionAlgorithms & E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128,
    E.IPSEC_OFFLOAD_V2_ENCRYPTION_AES_GCM_128
  );
});
