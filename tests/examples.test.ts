/**
 * Every scenario in examples/ (issue 5) through `ipsecov2 run`, in-process with a temporary
 * --out: exit code 0 with every flow's delivered sha256 equal to the sent one where the link has
 * no faults; with faults, every fault counted in report.json and exit 1 exactly when a flow lost
 * bytes. examples/default.json is the embedded default scenario.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Report } from '../src/cli/report.ts';
import { DEFAULT_SCENARIO } from '../src/cli/scenario-default.ts';
import { UsageError, type Io } from '../src/cli/command.ts';
import { run } from '../src/cli/run.ts';

/** Runs `ipsecov2 run args` in-process as main.ts does: a UsageError is exit code 2. */
async function runCli(
  args: readonly string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  const io: Io = { stdout: (t) => (stdout += t), stderr: () => {}, tty: false };
  try {
    return { code: await run.run(args, io), stdout, stderr: '' };
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return { code: 2, stdout, stderr: e.message };
  }
}

const examples = join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'examples');
const names = readdirSync(examples).filter((f) => f.endsWith('.json'));

test('examples: default.json is the embedded default scenario', () => {
  assert.deepEqual(
    JSON.parse(readFileSync(join(examples, 'default.json'), 'utf8')),
    DEFAULT_SCENARIO
  );
});

for (const name of names) {
  test(`examples: ${name} runs and reports`, async () => {
    const out = mkdtempSync(join(tmpdir(), 'ipsecov2-example-'));
    const r = await runCli([join(examples, name), '--out', out]);
    const scenario = JSON.parse(readFileSync(join(examples, name), 'utf8')) as {
      link?: { faults?: object };
    };
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as Report;
    const allMatch = report.flows.every((f) => f.deliveredSha256 === f.sentSha256);
    assert.equal(r.code, allMatch ? 0 : 1, r.stderr);
    assert.equal(report.ok, allMatch);
    for (const f of report.flows) assert.ok(f.packetsSent > 0, `${f.name} sent`);
    if (scenario.link?.faults === undefined) {
      assert.ok(allMatch, r.stdout);
      for (const f of report.flows) assert.equal(f.bytesDelivered, f.bytesSent, f.name);
      assert.deepEqual(report.faults, {});
    } else {
      const injected = Object.values(report.faults).reduce(
        (n, c) => n + c['drop'] + c['truncate'] + c['corrupt'] + c['duplicate'] + c['reorder'],
        0
      );
      assert.ok(injected > 0, 'the report counts the faults');
      assert.match(r.stdout, /^faults /m);
    }
  });
}

test('examples: every feature the issue lists has an example', () => {
  const all = names.map((n) => readFileSync(join(examples, n), 'utf8')).join('\n');
  for (const feature of [
    '"mode": "tunnel"',
    '"tunnelSa"',
    '"protocol": "ah"',
    '"protocol": "ah+esp"',
    '"udpEncapsulation"',
    '"nat"',
    '"esn": true',
    '"initialSequence"',
    '"version": 1',
    '"version": 2',
    '"kind": "drop"',
    '"kind": "duplicate"',
    '"kind": "reorder"',
    '"kind": "corrupt"',
    '"kind": "truncate"',
    '"capacity": 0',
    '"ip": 6',
    '"from": "b"',
  ]) {
    assert.ok(all.includes(feature), feature);
  }
});
