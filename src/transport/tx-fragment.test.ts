/** @module Properties of IP fragmentation after IPsec (contract D16). */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import * as checksum from '../wire/checksum.ts';
import { fragment } from './tx-fragment.ts';

function frameOf(v6: boolean, payload: Uint8Array): Uint8Array {
  const hl = v6 ? 40 : 20;
  const f = new Uint8Array(14 + hl + payload.length);
  const ip = f.subarray(14);
  const dv = new DataView(ip.buffer, ip.byteOffset);
  if (v6) {
    ip[0] = 0x60;
    dv.setUint16(4, payload.length);
    ip[6] = 50;
  } else {
    ip[0] = 0x45;
    dv.setUint16(2, hl + payload.length);
    ip[9] = 50;
    dv.setUint16(10, checksum.checksum(ip.subarray(0, 20)));
  }
  ip.set(payload, hl);
  return f;
}

it('fragments fit the MTU, carry 8-byte-aligned offsets, and put the packet back together', () => {
  fc.assert(
    fc.property(
      fc.boolean(),
      fc.integer({ min: 1, max: 9000 }),
      fc.integer({ min: 576, max: 1500 }),
      (v6, n, mtu) => {
        const payload = Uint8Array.from({ length: n }, (_, i) => i & 0xff);
        const parts = fragment(frameOf(v6, payload), 14, mtu, 77);
        const got: number[] = [];
        for (const [k, f] of parts.entries()) {
          const ip = f.subarray(14);
          assert.ok(ip.length <= mtu);
          if (parts.length === 1) return;
          const dv = new DataView(ip.buffer, ip.byteOffset);
          const off = v6 ? dv.getUint16(42) & ~7 : (dv.getUint16(6) & 0x1fff) * 8;
          const more = v6 ? (dv.getUint16(42) & 1) === 1 : (dv.getUint16(6) & 0x2000) !== 0;
          assert.equal(more, k < parts.length - 1);
          assert.equal(off, got.length);
          if (!v6) assert.equal(checksum.checksum(ip.subarray(0, 20)), 0);
          got.push(...ip.subarray(v6 ? 48 : 20));
        }
        assert.deepEqual(Uint8Array.from(got), payload);
      }
    )
  );
});
