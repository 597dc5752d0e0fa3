/**
 * @module
 * Tests of `ipsecov2 doctor`: it names the Node and OpenSSL versions and the active engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { activeEngine } from '../crypto/engine.ts';
import { doctor } from './doctor.ts';

test('doctor: prints node, openssl, the active engine and why', async () => {
  let out = '';
  const code = await doctor.run([], { stdout: (t) => (out += t), stderr: () => {}, tty: false });
  assert.equal(code, 0);
  assert.match(out, new RegExp(`^node: ${process.version.replace(/\./g, '\\.')}$`, 'm'));
  assert.match(out, /^openssl: \S+/m);
  assert.match(out, new RegExp(`^engine: ${activeEngine()}$`, 'm'));
  assert.match(out, /^reason: .+/m);
});
