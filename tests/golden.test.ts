/**
 * @module
 * The golden-model mode against expectations produced independently of `src/`: every case in
 * tests/golden/ (vectors + expected output from tests/golden/generate.ts, see its README) is run
 * through `ipsecov2 miniport` in-process, and one also as a spawned `node dist/src/cli/main.js`;
 * statuses, LSO completion slots and every output frame must match byte for byte.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError, type Io } from '../src/cli/command.ts';
import { miniport } from '../src/cli/golden.ts';
import { read } from '../src/sim/pcapng.ts';

const DIR = fileURLToPath(new URL('../../tests/golden/', import.meta.url));
const MAIN = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));

/** What a command printed and returned. */
interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `ipsecov2 miniport …args` in-process, as main.ts would (UsageError → exit 2). */
async function run(args: readonly string[]): Promise<Ran> {
  let stdout = '';
  let stderr = '';
  const io: Io = { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t), tty: false };
  try {
    const code = await miniport.run(args, io);
    return { code, stdout, stderr };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { code: 2, stdout, stderr: `${stderr}ipsecov2 miniport: ${e.message}\n` };
  }
}

interface Expected {
  readonly provenance: { readonly generator: string; readonly rules: string };
  readonly sas: readonly { readonly status: { readonly hex: string; readonly name: string } }[];
  readonly nbls: readonly {
    readonly status: { readonly hex: string; readonly name: string };
    readonly frames: readonly string[];
    readonly lsoCompleteRaw?: string;
  }[];
}

interface Output {
  readonly sas: readonly { readonly status: { readonly hex: string; readonly name: string } }[];
  readonly steps: readonly {
    readonly status: { readonly hex: string; readonly name: string };
    readonly frames: readonly string[];
    readonly lsoComplete?: { readonly raw: string };
  }[];
}

const CASES = readdirSync(DIR)
  .filter((f) => f.endsWith('.vectors.json'))
  .map((f) => f.replace('.vectors.json', ''))
  .sort();

/** Compares one output with its independent expectation. */
function compare(name: string, out: Output, expected: Expected): void {
  assert.deepEqual(
    out.sas.map((s) => s.status),
    expected.sas.map((s) => s.status),
    `${name}: OID statuses`
  );
  assert.equal(out.steps.length, expected.nbls.length, `${name}: NBL count`);
  expected.nbls.forEach((e, i) => {
    const got = out.steps[i];
    assert.deepEqual(got.status, e.status, `${name} NBL ${i}: status`);
    assert.equal(got.frames.length, e.frames.length, `${name} NBL ${i}: frame count`);
    e.frames.forEach((f, k) => {
      assert.equal(got.frames[k], f, `${name} NBL ${i} frame ${k}`);
    });
    if (e.lsoCompleteRaw !== undefined) {
      assert.equal(got.lsoComplete?.raw, e.lsoCompleteRaw, `${name} NBL ${i}: LSO completion`);
    }
  });
}

describe('ipsecov2 miniport against independent expectations', () => {
  it('has the nine cases of the README', () => {
    assert.deepEqual(CASES, [
      'addsa-x86-hex',
      'ah-esp-v4',
      'ah-sha256-v6',
      'esp-cbc-sha1-explicit-iv',
      'esp-gcm-transport-v4',
      'lso-v2-esp-gcm',
      'refused',
      'tunnel-esp-gcm-v4',
      'udp-esp-v4',
    ]);
    const readme = readFileSync(join(DIR, 'README.md'), 'utf8');
    for (const name of CASES) assert.ok(readme.includes(`\`${name}\``), `README names ${name}`);
  });

  for (const name of CASES) {
    it(`${name}: statuses and frames byte for byte`, async () => {
      const expected = JSON.parse(
        readFileSync(join(DIR, `${name}.expected.json`), 'utf8')
      ) as Expected;
      assert.match(expected.provenance.generator, /noble/);
      const r = await run([join(DIR, `${name}.vectors.json`)]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      compare(name, JSON.parse(r.stdout) as Output, expected);
    });
  }

  it('the spawned CLI prints the same bytes as the in-process command (LSO case)', async () => {
    const file = join(DIR, 'lso-v2-esp-gcm.vectors.json');
    const spawned = execFileSync(process.execPath, [MAIN, 'miniport', file], { encoding: 'utf8' });
    const inProcess = await run([file]);
    assert.equal(spawned, inProcess.stdout);
    const expected = JSON.parse(
      readFileSync(join(DIR, 'lso-v2-esp-gcm.expected.json'), 'utf8')
    ) as Expected;
    compare('spawned lso-v2-esp-gcm', JSON.parse(spawned) as Output, expected);
  });

  it('--pcap writes the output frames as pcapng on the fixed clock', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'golden-'));
    const pcap = join(dir, 'out.pcapng');
    const r = await run([join(DIR, 'lso-v2-esp-gcm.vectors.json'), '--pcap', pcap]);
    assert.equal(r.code, 0);
    const capture = read(readFileSync(pcap));
    assert.ok(capture.ok);
    const frames = (JSON.parse(r.stdout) as Output).steps.flatMap((s) => s.frames);
    assert.deepEqual(
      capture.value.packets.map((p) => Buffer.from(p.data).toString('hex')),
      frames
    );
    assert.deepEqual(
      capture.value.packets.map((p) => p.timestampNanos),
      frames.map((_, i) => BigInt(i) * 1_000_000n)
    );
    assert.deepEqual(readdirSync(dir), ['out.pcapng']);
  });

  it('is deterministic: two runs print identical JSON', async () => {
    const file = join(DIR, 'esp-cbc-sha1-explicit-iv.vectors.json');
    assert.equal((await run([file])).stdout, (await run([file])).stdout);
  });
});

describe('ipsecov2 miniport with a bad vectors file', () => {
  const base = JSON.parse(
    readFileSync(join(DIR, 'esp-cbc-sha1-explicit-iv.vectors.json'), 'utf8')
  ) as Record<string, unknown> & {
    sas: { json: { sas: Record<string, unknown>[] } }[];
    nbls: Record<string, unknown>[];
  };
  const bad = (edit: (v: typeof base) => void): string => {
    const v = structuredClone(base);
    edit(v);
    return JSON.stringify(v);
  };
  const cases: readonly (readonly [string, string, RegExp])[] = [
    ['not JSON', '{"sas": [', /^\$: expected JSON, got a syntax error/],
    ['unknown key', bad((v) => (v['nbl'] = [])), /^\$\.nbl: expected no such key, got "nbl"/],
    [
      'bad hex',
      bad((v) => (v.nbls[0]['netBuffers'] = ['0a0'])),
      /^\$\.nbls\[0\]\.netBuffers\[0\]: expected hex bytes .*, got "0a0"/,
    ],
    [
      'wrong arch',
      bad((v) => (v['arch'] = 'arm64')),
      /^\$\.arch: expected one of "x64", "x86", got "arm64"/,
    ],
    [
      'key length',
      bad((v) => (v.sas[0].json.sas[0]['encryptionKey'] = '00112233')),
      /^\$\.sas\[0\]\.json\.sas\[0\]\.encryptionKey: expected 16 bytes for aes-cbc-128, got 4 bytes/,
    ],
    [
      'unknown SA name',
      bad((v) => (v.nbls[0]['ipsec'] = { offloadHandle: { sa: 'nope' } })),
      /^\$\.nbls\[0\]\.ipsec\.offloadHandle: expected the name of an earlier SA entry \(none\), got "nope"/,
    ],
    [
      'IV length',
      bad((v) => (v.nbls[0]['ivs'] = ['0011'])),
      /^\$\.nbls\[0\]\.ivs\[0\]: expected 16 bytes \(the CBC IV the NIC drew\), got 2 bytes/,
    ],
    [
      'IVs left over',
      bad((v) => (v.nbls[0]['ivs'] = ['00'.repeat(16), '00'.repeat(16)])),
      /^\$\.nbls\[0\]\.ivs: expected 1 IVs \(one per CBC packet the NIC sealed\), got 2/,
    ],
    [
      'OOB field too wide',
      bad((v) => (v.nbls[0]['header'] = { NextHeader: 256 })),
      /^\$\.nbls\[0\]\.header\.NextHeader: expected an integer from 0 to 255 .*, got 256/,
    ],
    [
      'bad slot number',
      bad((v) => (v.nbls[0]['slots'] = { '18': '0x1' })),
      /^\$\.nbls\[0\]\.slots(\["18"\])?: expected a slot number 0-17, got "18"/,
    ],
    [
      'two SA forms',
      bad((v) => ((v.sas[0] as Record<string, unknown>)['addSaEx'] = '00')),
      /^\$\.sas\[0\]: expected exactly one of "json", "addSa", "addSaEx" \(got json and addSaEx\), got an object/,
    ],
    [
      'missing netBuffers',
      bad((v) => delete v.nbls[0]['netBuffers']),
      /^\$\.nbls\[0\]\.netBuffers: expected an array, got nothing/,
    ],
  ];
  for (const [what, text, message] of cases) {
    it(`${what}: names the JSON path, exit 2, nothing on stdout, no capture`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'golden-bad-'));
      const file = join(dir, 'v.json');
      writeFileSync(file, text);
      const pcap = join(dir, 'out.pcapng');
      const r = await run([file, '--pcap', pcap]);
      assert.equal(r.code, 2);
      assert.equal(r.stdout, '');
      const prefix = 'ipsecov2 miniport: ';
      assert.ok(r.stderr.startsWith(prefix), r.stderr);
      assert.match(r.stderr.slice(prefix.length), message);
      assert.equal(existsSync(pcap), false);
      assert.deepEqual(readdirSync(dir), ['v.json']);
    });
  }

  it('exits 2 from the spawned CLI too, stdout empty', () => {
    const dir = mkdtempSync(join(tmpdir(), 'golden-bad-'));
    const file = join(dir, 'v.json');
    writeFileSync(
      file,
      bad((v) => (v['arch'] = 'arm64'))
    );
    const r = spawnSync(process.execPath, [MAIN, 'miniport', file], { encoding: 'utf8' });
    assert.equal(r.status, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^ipsecov2 miniport: \$\.arch: expected one of "x64", "x86"/);
  });
});
