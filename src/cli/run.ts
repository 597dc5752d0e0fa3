/**
 * @module
 * `ipsecov2 run [SCENARIO.json] [--out DIR] [--seed N]`: runs the two-host system on a scenario
 * (docs/scenarios.md; without one, the embedded default) and writes DIR/capture.pcapng,
 * DIR/esp_sa, DIR/keys.json and DIR/report.json — all four or none (written beside DIR first,
 * then renamed into place) — and prints a summary table. Exit 0 when every flow delivered its
 * bytes (same sha256), 1 when one did not, 2 for bad usage or a bad scenario file.
 */
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { keyEntries } from '../sim/keys.ts';
import { System, writeCount, type SystemResult } from '../sim/system.ts';
import { espSaTable } from '../sim/wireshark.ts';
import { UsageError, type Command, type Io } from './command.ts';
import { buildReport, summarize, type Report } from './report.ts';
import { DEFAULT_SCENARIO } from './scenario-default.ts';
import { loadScenario, type Scenario } from './scenario.ts';

/** The four output files, in the order they are written. */
export const OUTPUT_FILES: readonly string[] = [
  'capture.pcapng',
  'esp_sa',
  'keys.json',
  'report.json',
];

/** Runs with at least this many application writes draw a progress bar (on a terminal). */
export const PROGRESS_MIN_WRITES = 200;

function readScenario(file: string | undefined, seed: number | undefined): Scenario {
  const where = file ?? '(default scenario)';
  let json: unknown = DEFAULT_SCENARIO;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(
        `${file}: expected a readable scenario file, got ${(e as NodeJS.ErrnoException).code ?? String(e)}`
      );
    }
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${file}: expected JSON, got ${(e as Error).message}`);
    }
  }
  try {
    return loadScenario(json, seed);
  } catch (e) {
    if (e instanceof TypeError || e instanceof RangeError)
      throw new UsageError(`${where}: ${e.message}`);
    throw e;
  }
}

/** Everything a run writes: file name → bytes. */
export interface RunOutput {
  readonly files: ReadonlyMap<string, Uint8Array>;
  readonly report: Report;
}

/** Runs `scenario`; returns the four files and the report (nothing is written). */
export function runScenario(
  scenario: Scenario,
  progress: (done: number) => void = () => {}
): RunOutput {
  let system: System;
  let result: SystemResult;
  try {
    system = new System(scenario.spec);
    result = system.run(progress);
  } catch (e) {
    // The model refused the setup (a host without a neighbour, …): a scenario problem.
    if (e instanceof TypeError || e instanceof RangeError)
      throw new UsageError(`scenario: ${e.message}`);
    throw e;
  }
  const report = buildReport(system, result, scenario.description, scenario.generatedKeys);
  const entries = keyEntries(scenario.spec.sas, scenario.spec.hosts);
  const text = (s: string): Uint8Array => new TextEncoder().encode(s);
  const files = new Map<string, Uint8Array>([
    ['capture.pcapng', result.pcapng ?? new Uint8Array(0)],
    ['esp_sa', text(espSaTable(entries))],
    ['keys.json', text(`${JSON.stringify({ sas: entries }, null, 2)}\n`)],
    ['report.json', text(`${JSON.stringify(report, null, 2)}\n`)],
  ]);
  return { files, report };
}

/**
 * Writes `files` into `dir` all or nothing: into a fresh directory beside `dir` that is renamed
 * to `dir`; when `dir` exists, into `dir/.tmp-XXXXXX`, then each file renamed over its old one.
 */
export function writeOutputs(dir: string, files: ReadonlyMap<string, Uint8Array>): void {
  const target = resolve(dir);
  let exists = false;
  try {
    exists = statSync(target).isDirectory();
    if (!exists) throw new UsageError(`--out: expected a directory, got the file ${dir}`);
  } catch (e) {
    if (e instanceof UsageError) throw e;
  }
  if (!exists) mkdirSync(dirname(target), { recursive: true });
  const tmp = exists
    ? mkdtempSync(join(target, '.tmp-'))
    : mkdtempSync(join(dirname(target), `.${basename(target)}.tmp-`));
  try {
    for (const [name, bytes] of files) writeFileSync(join(tmp, name), bytes);
    if (exists) {
      for (const name of files.keys()) renameSync(join(tmp, name), join(target, name));
      rmSync(tmp, { recursive: true, force: true });
    } else {
      chmodSync(tmp, 0o755);
      renameSync(tmp, target);
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function parseSeed(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text))
    throw new UsageError(`--seed: expected a non-negative integer, got "${text}"`);
  return Number(text);
}

/** The `run` command. */
export const run: Command = {
  name: 'run',
  summary:
    'runs a scenario on the two-host system; writes capture.pcapng, esp_sa, keys.json, report.json',
  usage: `usage: ipsecov2 run [SCENARIO.json] [--out DIR] [--seed N]

  SCENARIO.json  the scenario (docs/scenarios.md); default: the embedded default scenario
                 (examples/default.json)
  --out DIR      where to write capture.pcapng, esp_sa, keys.json, report.json (default ./out)
  --seed N       the seed of keys, IVs, payloads and faults (default: the scenario's seed, else 1)

exit codes: 0 every flow delivered its bytes, 1 a flow did not, 2 bad usage or scenario`,
  run(args: readonly string[], io: Io): number {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { out: { type: 'string' }, seed: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length > 1) {
      throw new UsageError(
        `expected at most one scenario file, got ${positionals.length}: ${positionals.join(' ')}`
      );
    }
    const scenario = readScenario(positionals[0], parseSeed(values.seed));
    const total = writeCount(scenario.spec);
    let bar: cliProgress.SingleBar | null = null;
    if (io.tty && total >= PROGRESS_MIN_WRITES) {
      bar = new cliProgress.SingleBar(
        {
          format: 'run [{bar}] {percentage}% | {value}/{total} writes',
          clearOnComplete: true,
          stream: process.stdout,
        },
        cliProgress.Presets.shades_classic
      );
      bar.start(total, 0);
    }
    let output: RunOutput;
    try {
      output = runScenario(scenario, (done) => bar?.update(done));
    } finally {
      bar?.stop();
    }
    const dir = values.out ?? 'out';
    writeOutputs(dir, output.files);
    io.stdout(summarize(output.report));
    io.stdout(`wrote ${OUTPUT_FILES.map((f) => join(dir, f)).join(', ')}\n`);
    return output.report.ok ? 0 : 1;
  },
};
