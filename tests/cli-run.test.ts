/**
 * `ipsecov2 run` (issue 5): the default run writes capture.pcapng, esp_sa, keys.json and
 * report.json, each parses; a seed changes the bytes and the same seed reproduces them; every
 * kind of bad scenario names the JSON path, what was expected and what was found, exits 2 and
 * writes nothing; the README's command works as a process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError, type Io } from '../src/cli/command.ts';
import type { Report } from '../src/cli/report.ts';
import { OUTPUT_FILES, run } from '../src/cli/run.ts';
import { DEFAULT_SCENARIO } from '../src/cli/scenario-default.ts';
import type { FlowFile, SaFile, ScenarioFile } from '../src/cli/scenario-schema.ts';
import { read } from '../src/sim/pcapng.ts';
import { parseKeys } from '../src/sim/keys.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const main = join(root, 'dist', 'src', 'cli', 'main.js');

/** Runs `ipsecov2 run args` in-process as main.ts does: a UsageError is exit code 2. */
async function runCli(
  args: readonly string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const io: Io = {
    stdout: (t) => (stdout += t),
    stderr: (t) => (stderr += t),
    tty: false,
  };
  try {
    return { code: await run.run(args, io), stdout, stderr };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { code: 2, stdout, stderr: `${stderr}ipsecov2 run: ${e.message}\n` };
  }
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'ipsecov2-run-'));
}

function files(dir: string): Map<string, Buffer> {
  return new Map(OUTPUT_FILES.map((f) => [f, readFileSync(join(dir, f))]));
}

test('run: the default scenario writes the four files, each parses, every flow delivered', async () => {
  const out = join(tmp(), 'out');
  const r = await runCli(['--out', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), [...OUTPUT_FILES].sort());
  const got = files(out);
  const capture = read(new Uint8Array(got.get('capture.pcapng')!));
  assert.ok(capture.ok);
  const report = JSON.parse(got.get('report.json')!.toString()) as Report;
  assert.equal(capture.value.packets.length, report.frames);
  const keys = parseKeys(JSON.parse(got.get('keys.json')!.toString()));
  assert.ok(keys.ok, JSON.stringify(keys));
  assert.equal(keys.value.sas.length, 2);
  const espSa = got.get('esp_sa')!.toString();
  assert.match(espSa, /"0x00001001","AES-GCM with 16 octet ICV \[RFC4106\]"/);
  assert.match(espSa, /"0x00002002","AES-CBC \[RFC3602\]"/);
  assert.deepEqual(
    report.flows.map((f) => [f.name, f.bytesDelivered, f.deliveredSha256 === f.sentSha256]),
    [
      ['tcp', 100000, true],
      ['udp', 20000, true],
    ]
  );
  assert.deepEqual(
    report.sas.map((s) => [s.name, s.sender.processing, s.receiver.processing]),
    [
      ['gcm', 'offloaded', 'offloaded'],
      ['tunnel', 'offloaded', 'offloaded'],
    ]
  );
  assert.ok((report.nblCompletions['a']['NDIS_STATUS_SUCCESS'] ?? 0) > 0);
  assert.match(r.stdout, /^flow +path +sent/);
  assert.match(r.stdout, /\nok\n/);
});

test('run: the same seed reproduces every byte; another seed changes them', async () => {
  const [one, again, other] = [tmp(), tmp(), tmp()];
  assert.equal((await runCli(['--out', one, '--seed', '7'])).code, 0);
  assert.equal((await runCli(['--out', again, '--seed', '7'])).code, 0);
  assert.equal((await runCli(['--out', other, '--seed', '8'])).code, 0);
  const [a, b, c] = [files(one), files(again), files(other)];
  for (const f of OUTPUT_FILES) {
    assert.deepEqual(a.get(f), b.get(f), `${f} reproduces`);
    assert.notDeepEqual(a.get(f), c.get(f), `${f} changes with the seed`);
  }
});

test('run: an existing --out directory gets its four files replaced, nothing else left behind', async () => {
  const out = tmp();
  writeFileSync(join(out, 'report.json'), 'old');
  writeFileSync(join(out, 'mine.txt'), 'kept');
  assert.equal((await runCli(['--out', out])).code, 0);
  assert.deepEqual(readdirSync(out).sort(), [...OUTPUT_FILES, 'mine.txt'].sort());
  assert.notEqual(readFileSync(join(out, 'report.json'), 'utf8'), 'old');
});

type Sc = ScenarioFile;
const sas = (s: Sc): SaFile[] => s.sas ?? [];

/** One bad scenario per kind of error: the change to the default, and the message expected. */
const BAD: readonly (readonly [string, (s: Sc) => void, string])[] = [
  [
    'an unknown algorithm name',
    (s) => (sas(s)[1].encryption = 'aes-ctr' as never),
    'sas[1].encryption: expected one of null, des-cbc, 3des-cbc, aes-cbc-128, aes-cbc-192, aes-cbc-256, aes-gcm-128, aes-gcm-192, aes-gcm-256, chacha20-poly1305, got "aes-ctr"',
  ],
  [
    'a field of the wrong type',
    (s) => (s.flows[0].bytes = 'lots' as never),
    'flows[0].bytes: expected an integer from 1 to 1073741824, got "lots"',
  ],
  [
    'a missing field',
    (s) => delete (s.flows[1] as Partial<FlowFile>).l4,
    'flows[1].l4: expected one of tcp, udp, got nothing',
  ],
  [
    'an unknown key',
    (s) => Object.assign(sas(s)[0], { spii: 1 }),
    'sas[0].spii: expected one of the keys name, from, to,',
  ],
  [
    'a bad SPI',
    (s) => (sas(s)[0].spi = '0x10'),
    'sas[0].spi: expected an SPI ("0x…" hex string or integer) or {"esp": SPI, "ah": SPI}, got "0x10"',
  ],
  [
    'a bad address',
    (s) => (s.hosts['a'].ipv4 = '192.0.2.300'),
    'hosts.a.ipv4: expected an IPv4 address, got "192.0.2.300"',
  ],
  [
    'three hosts',
    (s) => (s.hosts['c'] = { mac: '02:00:00:00:00:0c', ipv4: '192.0.2.99' }),
    'hosts: expected exactly 2 hosts, got ["a","b","c"]',
  ],
  [
    'a flow naming an unknown SA',
    (s) => (s.flows[0].sa = 'nope'),
    'flows[0].sa: expected the name of an SA (gcm, tunnel), got "nope"',
  ],
  [
    'a flow against the SA’s direction',
    (s) => Object.assign(s.flows[0], { from: 'b', to: 'a' }),
    'flows[0].sa: expected an SA from b to a, got "gcm (from a to b)"',
  ],
  [
    'a transport SA endpoint that is not the host’s address',
    (s) => (sas(s)[0].destination = '198.51.100.99'),
    'sas[0].destination: expected host b\'s address (transport mode), got "198.51.100.99"',
  ],
  [
    'LSO on a tunnel flow',
    (s) => Object.assign(s.flows[1], { l4: 'tcp', lso: { version: 2 } }),
    'flows[1].lso: expected nothing for a tunnel flow (contract D2: no LSO for tunnel packets), got {"version":2}',
  ],
  [
    'LSOv1 over IPv6',
    (s) => Object.assign(s.flows[0], { ip: 6, lso: { version: 1 } }),
    'flows[0].lso.version: expected 2 over IPv6 (LSOv1 is IPv4 only), got 1',
  ],
  [
    'an initial sequence past 2^32 without ESN',
    (s) => (sas(s)[0].initialSequence = '0x100000000'),
    'sas[0].initialSequence: expected at most 4294967295 without esn',
  ],
  [
    'an integrity algorithm with a combined mode',
    (s) => (sas(s)[0].integrity = 'hmac-sha1-96'),
    'sas[0].integrity: expected null for aes-gcm-128 (a combined mode carries its own ICV), got "hmac-sha1-96"',
  ],
  [
    'a key of the wrong length',
    (s) => (sas(s)[0].keys = { encryption: '00112233' }),
    'sas[0].keys.encryption: expected 20 bytes (40 hex digits) for aes-gcm-128, got "4 bytes"',
  ],
  [
    'an SPI used twice',
    (s) => (sas(s)[1].spi = '0x1001'),
    'sas[1].spi: expected an esp SPI not used by sas[0] in the same direction, got "0x1001"',
  ],
  [
    'a NIC algorithm without an IPsecOV2 identifier',
    (s) => (s.nic = { encryption: ['chacha20-poly1305'] }),
    'nic.encryption[0]: expected an algorithm with an IPSEC_OFFLOAD_V2 identifier',
  ],
  [
    'one SPI for an AH+ESP bundle',
    (s) => (sas(s)[0].protocol = 'ah+esp'),
    'sas[0].spi: expected {"esp": SPI, "ah": SPI} for ah+esp, got "0x00001001"',
  ],
];

for (const [what, change, message] of BAD) {
  test(`run: a scenario with ${what} names the field, exits 2, writes nothing`, async () => {
    const dir = tmp();
    const scenario = structuredClone(DEFAULT_SCENARIO);
    change(scenario);
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(scenario));
    const out = join(dir, 'out');
    const r = await runCli([file, '--out', out]);
    assert.equal(r.code, 2);
    assert.ok(r.stderr.startsWith(`ipsecov2 run: ${file}: ${message}`), r.stderr);
    assert.equal(r.stdout, '');
    assert.deepEqual(readdirSync(dir), ['bad.json'], 'nothing written');
  });
}

test('run: a file that is not JSON, or not there, exits 2 writing nothing', async () => {
  const dir = tmp();
  const file = join(dir, 'bad.json');
  writeFileSync(file, '{"hosts": ');
  const r = await runCli([file, '--out', join(dir, 'out')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /bad\.json: expected JSON, got /);
  const missing = await runCli([join(dir, 'none.json'), '--out', join(dir, 'out')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /none\.json: expected a readable scenario file, got ENOENT/);
  assert.deepEqual(readdirSync(dir), ['bad.json']);
  assert.equal((await runCli(['--seed', 'x'])).code, 2);
});

test('run: the README command (node dist/src/cli/main.js run --out DIR) works as a process', () => {
  const out = join(tmp(), 'out');
  const r = spawnSync(process.execPath, [main, 'run', '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\nok\n/);
  for (const f of OUTPUT_FILES) assert.ok(existsSync(join(out, f)), f);
  const bad = spawnSync(process.execPath, [main, 'run', join(root, 'package.json'), '--out', out], {
    encoding: 'utf8',
  });
  assert.equal(bad.status, 2);
  assert.match(
    bad.stderr,
    /^ipsecov2 run: .*package\.json: hosts: expected an object, got nothing/
  );
});

test('--version names the version and the active crypto engine (issue 6), forced by IPSECOV2_ENGINE', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const js = spawnSync(process.execPath, [main, '--version'], {
    encoding: 'utf8',
    env: { ...process.env, IPSECOV2_ENGINE: 'js' },
  });
  assert.equal(js.status, 0, js.stderr);
  assert.equal(
    js.stdout,
    `ipsecov2 ${pkg.version}\ncrypto engine: node:crypto (IPSECOV2_ENGINE=js forces the node:crypto engine)\n`
  );
  const active = spawnSync(process.execPath, [main, '--version'], {
    encoding: 'utf8',
    env: { ...process.env, IPSECOV2_ENGINE: '' },
  });
  assert.equal(active.status, 0, active.stderr);
  assert.match(
    active.stdout,
    /^ipsecov2 \d+\.\d+\.\d+\ncrypto engine: (native|node:crypto) \(.+\)\n$/
  );
});
