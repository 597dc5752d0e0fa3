import { test } from 'node:test';
import assert from 'node:assert/strict';
import { be32, le } from './ndis-fixtures.ts';

test('the fixture byte readers read little- and big-endian values', () => {
  const b = Uint8Array.of(0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08);
  assert.equal(le(b, 0, 4), 0x04030201n);
  assert.equal(le(b, 0, 8), 0x0807060504030201n);
  assert.equal(be32(b, 4), 0x05060708);
});
