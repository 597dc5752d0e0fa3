import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as abi from './abi.ts';
import { NdisStatus } from './status.ts';

test('pointer sizes and ranges per architecture', () => {
  assert.equal(abi.pointerSize('x64'), 8);
  assert.equal(abi.pointerSize('x86'), 4);
  assert.equal(abi.maxPointer('x86'), 0xffffffffn);
  assert.equal(abi.maxPointer('x64'), 2n ** 64n - 1n);
  const b = new Uint8Array(8);
  const dv = abi.dataView(b);
  abi.writePointer(dv, 0, 0x0102030405060708n, 'x64');
  assert.deepEqual([...b], [8, 7, 6, 5, 4, 3, 2, 1]);
  assert.equal(abi.readPointer(dv, 0, 'x64'), 0x0102030405060708n);
  assert.equal(abi.readPointer(dv, 0, 'x86'), 0x05060708n);
  assert.throws(() => {
    abi.writePointer(dv, 0, 2n ** 32n, 'x86', 'Next');
  }, /Next: expected a value from 0 to 0xffffffff \(x86 pointer\)/);
});

test('checkHeader: Type exact, Revision and Size at least the first revision; failures are INVALID_LENGTH', () => {
  const b = new Uint8Array(4);
  const dv = abi.dataView(b);
  const expected = { type: 0x80, revision: 1, size: 0x20 };
  abi.writeHeader(dv, 0, { Type: 0x80, Revision: 1, Size: 0x20 });
  assert.equal(abi.checkHeader(dv, 0, expected), undefined);
  abi.writeHeader(dv, 0, { Type: 0x80, Revision: 3, Size: 0x400 });
  assert.equal(abi.checkHeader(dv, 0, expected), undefined);
  assert.deepEqual(abi.readHeader(dv, 0), { Type: 0x80, Revision: 3, Size: 0x400 });
  abi.writeHeader(dv, 0, { Type: 0x80, Revision: 1, Size: 0x1f });
  const bad = abi.checkHeader(dv, 0, expected);
  assert.deepEqual(bad && [bad.status, bad.field, bad.offset, bad.reason], [
    NdisStatus.NDIS_STATUS_INVALID_LENGTH,
    'Header.Size',
    2,
    'expected Size >= 0x20, got 0x1F',
  ]);
});

test('truncated names the field holding the first missing byte and asks for the whole struct', () => {
  const table: abi.FieldTable = [
    ['Header', 0],
    ['Next', 8],
    ['OffloadHandle', 16],
  ];
  const f = abi.truncated(table, 0x30, 0x18, 0x30 + 9);
  assert.deepEqual(
    [f.status, f.field, f.offset, f.bytesNeeded],
    [NdisStatus.NDIS_STATUS_BUFFER_TOO_SHORT, 'Next', 0x38, 0x48]
  );
});

test('checkBase refuses misaligned bases and buffers past the end of the address space', () => {
  abi.checkBase('t', 0x1000n, 16, 'x64');
  abi.checkBase('t', 0xfffffff0n, 16, 'x86');
  assert.throws(() => {
    abi.checkBase('t', 0x1004n, 16, 'x64');
  }, /aligned to 8/);
  assert.throws(() => {
    abi.checkBase('t', 0xfffffff4n, 16, 'x86');
  }, RangeError);
  assert.equal(abi.alignUp(0xa9, 8), 0xb0);
  assert.equal(abi.alignUp(0x9d, 4), 0xa0);
});
