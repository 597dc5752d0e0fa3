/**
 * The README stays true: its quick-start commands exist in package.json, and the demo output it
 * shows is exactly what `ipsecov2 demo --seed 1` prints today (style practice 20, msgpack's
 * readme.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo } from '../src/cli/demo.ts';
import { NdisStatus } from '../src/ndis/status.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const main = join(root, 'dist', 'src', 'cli', 'main.js');

/** The fenced block that follows the line `<!-- demo output -->` in the README. */
function shownOutput(): string {
  const m = /<!-- demo output -->\n```text\n([\s\S]*?)```/.exec(readme);
  assert.ok(m, 'the README shows the demo output after <!-- demo output -->');
  return m[1];
}

test('README: the demo output shown is what the command prints', () => {
  const printed = execFileSync(process.execPath, [main, 'demo', '--seed', '1'], {
    encoding: 'utf8',
  });
  assert.equal(shownOutput(), printed);
});

test('README: the quick-start commands are npm scripts of this package', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  for (const m of readme.matchAll(/npm (?:ci && npm )?run (\w+)/g)) {
    assert.ok(pkg.scripts[m[1]], `npm run ${m[1]} exists`);
  }
  assert.match(readme, /npm ci && npm test/);
  assert.ok(pkg.scripts['test']);
});

test('demo: every NBL succeeds, every frame decrypts without a defect, the bytes come back', () => {
  const r = runDemo(1);
  assert.deepEqual(r.statuses, [
    NdisStatus.NDIS_STATUS_SUCCESS,
    NdisStatus.NDIS_STATUS_SUCCESS,
    NdisStatus.NDIS_STATUS_SUCCESS,
  ]);
  assert.deepEqual(r.defects, []);
  assert.equal(r.delivered, true);
  assert.equal(r.frames.length, 5);
});

test('demo: the same seed gives the same bytes; another seed other keys', () => {
  const a = runDemo(7).frames;
  const b = runDemo(7).frames;
  const c = runDemo(8).frames;
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
});

test('CLI: a bad seed or command is refused with the field named and exit code 2', () => {
  const bad = spawnSync(process.execPath, [main, '--seed', 'x'], { encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--seed: expected a non-negative integer, got "x"/);
  const unknown = spawnSync(process.execPath, [main, 'frobnicate'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /expected a command \(demo(, \w+)*\), got "frobnicate"/);
  const help = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: ipsecov2/);
});
