import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { NdisStatus, isSuccess, statusName } from './status.ts';

test('status values match Microsoft headers (ndis.h, ntstatus.h; reference §3.2)', () => {
  assert.equal(NdisStatus.NDIS_STATUS_SUCCESS, 0x00000000);
  assert.equal(NdisStatus.NDIS_STATUS_PENDING, 0x00000103);
  assert.equal(NdisStatus.NDIS_STATUS_NOT_ACCEPTED, 0x00010003);
  assert.equal(NdisStatus.NDIS_STATUS_FAILURE, 0xc0000001);
  assert.equal(NdisStatus.NDIS_STATUS_INVALID_PARAMETER, 0xc000000d);
  assert.equal(NdisStatus.NDIS_STATUS_RESOURCES, 0xc000009a);
  assert.equal(NdisStatus.NDIS_STATUS_NOT_SUPPORTED, 0xc00000bb);
  assert.equal(NdisStatus.NDIS_STATUS_REQUEST_ABORTED, 0xc001000c);
  assert.equal(NdisStatus.NDIS_STATUS_INVALID_PACKET, 0xc001000f);
  assert.equal(NdisStatus.NDIS_STATUS_INVALID_LENGTH, 0xc0010014);
  assert.equal(NdisStatus.NDIS_STATUS_INVALID_DATA, 0xc0010015);
  assert.equal(NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT, 0xc0010016);
  assert.equal(NdisStatus.NDIS_STATUS_INVALID_OID, 0xc0010017);
  assert.equal(NdisStatus.NDIS_STATUS_PAUSED, 0xc023002a);
  assert.equal(NdisStatus.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG, 0x40020006);
  assert.equal(NdisStatus.NDIS_STATUS_TASK_OFFLOAD_HARDWARE_CAPABILITIES, 0x40020007);
});

test('every name is spelled NDIS_STATUS_* and every value is a distinct u32', () => {
  const values = Object.values(NdisStatus);
  assert.equal(new Set(values).size, values.length);
  for (const [name, value] of Object.entries(NdisStatus)) {
    assert.match(name, /^NDIS_STATUS_[A-Z0-9_]+$/);
    assert.ok(Number.isInteger(value) && value >= 0 && value <= 0xffffffff, name);
    assert.equal(statusName(value), name);
  }
});

test('statusName prints unknown values as 8-digit hex', () => {
  assert.equal(statusName(0xc001000f), 'NDIS_STATUS_INVALID_PACKET');
  assert.equal(statusName(0xc0231234), '0xC0231234');
  assert.equal(statusName(7), '0x00000007');
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 0xffffffff }), (v) => {
      const name = statusName(v);
      assert.ok(
        name.startsWith('NDIS_STATUS_') ||
          name === `0x${v.toString(16).toUpperCase().padStart(8, '0')}`
      );
    })
  );
});

test('isSuccess follows NT_SUCCESS: success and informational codes, not warnings or errors', () => {
  assert.equal(isSuccess(NdisStatus.NDIS_STATUS_SUCCESS), true);
  assert.equal(isSuccess(NdisStatus.NDIS_STATUS_PENDING), true);
  assert.equal(isSuccess(NdisStatus.NDIS_STATUS_TASK_OFFLOAD_CURRENT_CONFIG), true);
  assert.equal(isSuccess(NdisStatus.NDIS_STATUS_BUFFER_OVERFLOW), false);
  assert.equal(isSuccess(NdisStatus.NDIS_STATUS_FAILURE), false);
  assert.equal(isSuccess(NdisStatus.NDIS_STATUS_PAUSED), false);
});
