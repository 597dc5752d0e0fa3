#!/usr/bin/env node
// Builds the optional native ESP engine (native/, issue 6) with node-gyp. Never fails the
// install: on any failure it prints one line and exits 0; src/crypto/engine.ts then falls back
// to the node:crypto engine. IPSECOV2_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const native = join(root, 'native');

function say(line) {
  process.stdout.write(`ipsecov2: ${line}\n`);
}

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath &&
      join(
        dirname(process.env.npm_execpath),
        '..',
        'node_modules',
        'node-gyp',
        'bin',
        'node-gyp.js'
      ),
    join(
      dirname(process.execPath),
      '..',
      'lib',
      'node_modules',
      'npm',
      'node_modules',
      'node-gyp',
      'bin',
      'node-gyp.js'
    ),
  ];
  return candidates.find((c) => typeof c === 'string' && c !== '' && existsSync(c)) ?? null;
}

function nodeDir() {
  const configured = process.env.npm_config_nodedir;
  if (configured) return configured;
  // Node installed with its headers (distribution packages, official tarballs): no download.
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? prefix : null;
}

try {
  if (process.env.IPSECOV2_SKIP_NATIVE === '1') {
    say('native engine skipped (IPSECOV2_SKIP_NATIVE=1); using node:crypto');
    process.exit(0);
  }
  const gyp = nodeGyp();
  if (gyp === null) {
    say('native engine not built (node-gyp not found); using node:crypto');
    process.exit(0);
  }
  const dir = nodeDir();
  const args = [gyp, 'rebuild', '--silent', ...(dir === null ? [] : [`--nodedir=${dir}`])];
  const r = spawnSync(process.execPath, args, {
    cwd: native,
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 180_000,
    encoding: 'utf8',
  });
  if (r.status === 0 && existsSync(join(native, 'build', 'Release', 'engine.node'))) {
    say('native engine built (native/build/Release/engine.node)');
  } else {
    const why = r.error ? r.error.message : `node-gyp exited with ${r.status ?? r.signal}`;
    say(`native engine not built (${why}); using node:crypto`);
  }
} catch (e) {
  say(`native engine not built (${e instanceof Error ? e.message : String(e)}); using node:crypto`);
}
process.exit(0);
