/**
 * The README stays true: its quick-start commands exist in package.json, the outputs it shows
 * (the main job's summary, the demo) are exactly what the commands print today, and every CLI
 * example it lists runs (style practice 20, msgpack's readme.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDemo } from '../src/cli/demo.ts';
import { NdisStatus } from '../src/ndis/status.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const readme = readFileSync(join(root, 'README.md'), 'utf8');
const main = join(root, 'dist', 'src', 'cli', 'main.js');

/** The fenced block that follows the line `<!-- marker -->` in the README. */
function block(marker: string): string {
  const at = readme.indexOf(`<!-- ${marker} -->\n`);
  assert.ok(at >= 0, `the README has <!-- ${marker} -->`);
  const m = /^```\w+\n([\s\S]*?)```/m.exec(readme.slice(at));
  assert.ok(m, `a fenced block follows <!-- ${marker} -->`);
  return m[1];
}

/** A scratch folder holding `examples/` and `tests/` (links to the repository's), as the README assumes. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ipsecov2-readme-'));
  symlinkSync(join(root, 'examples'), join(dir, 'examples'));
  symlinkSync(join(root, 'tests'), join(dir, 'tests'));
  return dir;
}

test('README: the demo output shown is what the command prints', () => {
  const printed = execFileSync(process.execPath, [main, 'demo', '--seed', '1'], {
    encoding: 'utf8',
  });
  assert.equal(block('demo output'), printed);
});

test('README: the main job (run on the embedded default scenario) prints what the README shows', () => {
  const cwd = scratch();
  const printed = execFileSync(process.execPath, [main], { encoding: 'utf8', cwd });
  assert.equal(block('run output'), printed);
  for (const f of ['capture.pcapng', 'esp_sa', 'keys.json', 'report.json']) {
    assert.ok(existsSync(join(cwd, 'out', f)), `npm start wrote out/${f}`);
  }
});

test('README: every CLI example runs and exits 0', () => {
  const cwd = scratch();
  const lines = block('cli examples')
    .split('\n')
    .filter((l) => l.startsWith('ipsecov2 '));
  assert.ok(lines.length >= 5, 'the README shows the commands');
  for (const line of lines) {
    const args = line.split(/\s+/).slice(1);
    const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', cwd });
    assert.equal(r.status, 0, `${line}\n${r.stderr}`);
    assert.ok(r.stdout.length > 0, `${line} printed something`);
  }
});

test('README: the quick-start commands are npm scripts of this package', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
  };
  for (const m of readme.matchAll(/npm (?:ci && npm )?run (\w+)/g)) {
    assert.ok(pkg.scripts[m[1]], `npm run ${m[1]} exists`);
  }
  assert.match(readme, /npm ci && npm test/);
  assert.match(readme, /npm ci && npm start/);
  assert.match(readme, /npm ci && npm start/);
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
