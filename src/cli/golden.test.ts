/** @module */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { capabilitiesOf } from './golden-run.ts';
import { golden } from './golden.ts';
import { parseVectors } from './golden-schema.ts';

const KEY = '00'.repeat(20);
const SA = {
  name: 'g',
  json: {
    src: '192.0.2.1',
    dst: '192.0.2.2',
    sas: [{ protocol: 'esp', spi: 1, encryption: 'aes-gcm-128', encryptionKey: KEY }],
  },
};

describe('golden-model vectors', () => {
  it('merges capability overrides by Microsoft names, hex accepted', () => {
    const caps = capabilitiesOf(
      parseVectors(
        JSON.stringify({
          capabilities: {
            SaOffloadCapacity: 2,
            EncryptionAlgorithms: '0x48',
            LsoV2: { IPv4: { MinSegmentCount: 3 } },
          },
        })
      ).capabilities
    );
    assert.equal(caps.IPsecV2.SaOffloadCapacity, 2);
    assert.equal(caps.IPsecV2.EncryptionAlgorithms, 0x48);
    assert.equal(caps.LsoV2.IPv4.MinSegmentCount, 3);
    assert.equal(caps.LsoV2.IPv4.MaxOffLoadSize, 262144);
  });

  it('rejects an unknown capability field with its path', () => {
    assert.throws(
      () => parseVectors(JSON.stringify({ capabilities: { LsoV2: { IPv4: { Mss: 1 } } } })),
      /^UsageError: \$\.capabilities\.LsoV2\.IPv4\.Mss: expected no such key, got "Mss"$/
    );
  });

  it('runs steps in order: ADD_SA, DELETE_SA by name, then the handle is unknown', () => {
    const out = JSON.parse(
      golden(
        JSON.stringify({
          sas: [SA],
          steps: [
            { updateSa: { offloadHandle: { sa: 'g' }, operation: 'esp', spi: 1, seqHigh: 0 } },
            { deleteSa: { handles: [{ sa: 'g' }] } },
            { nbl: { netBuffers: ['00'.repeat(60)], ipsec: { offloadHandle: { sa: 0 } } } },
          ],
        })
      ).json
    ) as {
      sas: { status: { name: string }; handles: string[] }[];
      steps: { step: string; status: { name: string } }[];
    };
    assert.equal(out.sas[0].status.name, 'NDIS_STATUS_SUCCESS');
    assert.deepEqual(
      out.steps.map((s) => [s.step, s.status.name]),
      [
        ['updateSa', out.steps[0].status.name],
        ['deleteSa', 'NDIS_STATUS_SUCCESS'],
        ['nbl', 'NDIS_STATUS_FAILURE'],
      ]
    );
  });

  it('rejects "nbls" and "steps" together, and a step with two kinds', () => {
    assert.throws(
      () => parseVectors('{"nbls": [], "steps": []}'),
      /^UsageError: \$\.steps: expected "nbls" or "steps", not both/
    );
    assert.throws(
      () => parseVectors(JSON.stringify({ steps: [{ sa: SA, deleteSa: { handles: [1] } }] })),
      /^UsageError: \$\.steps\[0\]: expected exactly one of "nbl", "sa", "updateSa", "deleteSa" \(got sa and deleteSa\)/
    );
  });

  it('rejects a reference to an SA index that does not exist', () => {
    assert.throws(
      () =>
        golden(
          JSON.stringify({
            sas: [SA],
            nbls: [{ netBuffers: ['00'], ipsec: { offloadHandle: { sa: 3 } } }],
          })
        ),
      /^UsageError: \$\.nbls\[0\]\.ipsec\.offloadHandle: expected an SA index below 1, got 3$/
    );
  });
});
