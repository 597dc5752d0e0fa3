/**
 * @module
 * The bench's tools (issue 6): a timing helper (warm-up, then whole rounds until a time budget
 * is spent, measured with `process.hrtime.bigint`), `openssl speed` as the anchor of the native
 * reference, and the plain-text table. Reports only: nothing here asserts a time.
 */
import { spawnSync } from 'node:child_process';

/** What one timed run measured. */
export interface Measurement {
  readonly packets: number;
  /** Payload bytes (application bytes of the case; for a reference, the same payload). */
  readonly payloadBytes: number;
  readonly seconds: number;
  readonly packetsPerSecond: number;
  readonly gbitPerSecond: number;
  readonly usPerPacket: number;
  /** (fastest − slowest slice) ÷ median, packets/s; 0 for a single timed pass. */
  readonly spread: number;
}

/** One round of work: does it and returns how many packets and payload bytes it handled. */
export type Round = () => { readonly packets: number; readonly payloadBytes: number };

/** Derived rates from raw counts and nanoseconds. */
export function rates(packets: number, payloadBytes: number, ns: bigint): Measurement {
  const seconds = Number(ns) / 1e9;
  return {
    packets,
    payloadBytes,
    seconds,
    packetsPerSecond: packets / seconds,
    gbitPerSecond: (payloadBytes * 8) / seconds / 1e9,
    usPerPacket: (seconds * 1e6) / packets,
    spread: 0,
  };
}

/**
 * The clock slices are timed with: 'wall' (process.hrtime, the default) or 'cpu' (user + system
 * CPU time of this process, process.cpuUsage): on a machine busy with other work, CPU time counts
 * only what this process spent, so rates stay comparable from run to run.
 */
export type Clock = 'wall' | 'cpu';
let clockNs: () => bigint = () => process.hrtime.bigint();

/** Selects the clock for every later measurement. */
export function useClock(clock: Clock): void {
  clockNs =
    clock === 'wall'
      ? () => process.hrtime.bigint()
      : () => {
          const u = process.cpuUsage();
          return BigInt(u.user + u.system) * 1000n;
        };
}

/** Now, in nanoseconds, on the selected clock. */
export function now(): bigint {
  return clockNs();
}

/** Slices a timed run is cut into; the median slice is reported (robust to GC and noisy neighbours). */
export const SLICES = 9;

/**
 * Runs `round` for `warmupMs`, then for at least `budgetMs` (whole rounds) in {@link SLICES}
 * separately timed slices, and returns the rates of the median slice with the slices' spread.
 */
export function measure(round: Round, budgetMs = 1000, warmupMs = 300): Measurement {
  warm(round, warmupMs);
  const sliceNs = (BigInt(budgetMs) * 1_000_000n) / BigInt(SLICES);
  const done: Measurement[] = [];
  for (let s = 0; s < SLICES; s++) done.push(slice(round, sliceNs));
  return medianOf(done);
}

/** A case and its reference, measured in interleaved slices. */
export interface PairMeasurement {
  readonly result: Measurement;
  readonly reference: Measurement;
  /** The median over slice pairs of case Gbit/s ÷ reference Gbit/s. */
  readonly ratio: number;
}

/**
 * Measures `round` and `reference` in {@link SLICES} pairs of slices, one right after the other
 * (after a warm-up of each), so both see the same machine: a noisy neighbour slows both sides
 * of a pair alike and the ratio stays put. Each side reports its median slice; the ratio is the
 * median of the per-pair ratios.
 */
export function measurePair(
  round: Round,
  reference: Round,
  budgetMs = 1000,
  warmupMs = 300
): PairMeasurement {
  warm(round, warmupMs / 2);
  warm(reference, warmupMs / 2);
  const sliceNs = (BigInt(budgetMs) * 1_000_000n) / BigInt(SLICES);
  return pairOf(
    () => slice(round, sliceNs),
    () => slice(reference, sliceNs)
  );
}

/**
 * {@link SLICES} pairs of timed passes, case then reference, each side's median pass, and the
 * median of the per-pair ratios (case Gbit/s ÷ reference Gbit/s).
 */
export function pairOf(pass: () => Measurement, reference: () => Measurement): PairMeasurement {
  const mine: Measurement[] = [];
  const theirs: Measurement[] = [];
  const ratios: number[] = [];
  for (let s = 0; s < SLICES; s++) {
    const a = pass();
    const b = reference();
    mine.push(a);
    theirs.push(b);
    ratios.push(a.gbitPerSecond / b.gbitPerSecond);
  }
  ratios.sort((x, y) => x - y);
  return { result: medianOf(mine), reference: medianOf(theirs), ratio: ratios[SLICES >> 1] };
}

function warm(round: Round, ms: number): void {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms)) * 1_000_000n;
  do round();
  while (process.hrtime.bigint() < end);
}

/**
 * Whole rounds for at least `ns` nanoseconds of wall time, timed as one slice on the selected
 * clock (read only at the slice's start and end: reading CPU time is a system call).
 */
function slice(round: Round, ns: bigint): Measurement {
  let packets = 0;
  let payloadBytes = 0;
  const start = clockNs();
  const end = process.hrtime.bigint() + ns;
  do {
    const r = round();
    packets += r.packets;
    payloadBytes += r.payloadBytes;
  } while (process.hrtime.bigint() < end);
  return rates(packets, payloadBytes, clockNs() - start);
}

/** The median slice by packets/s, with the spread of all slices. */
export function medianOf(done: Measurement[]): Measurement {
  done.sort((a, b) => a.packetsPerSecond - b.packetsPerSecond);
  const m = done[done.length >> 1];
  const spread =
    (done[done.length - 1].packetsPerSecond - done[0].packetsPerSecond) / m.packetsPerSecond;
  return { ...m, spread };
}

/** `openssl speed -evp aes-128-gcm` at one block size, or null when openssl is absent or fails. */
export interface OpensslSpeed {
  readonly version: string;
  readonly bytes: number;
  /** Bytes per second as openssl reports them ("k" = 1000 bytes). */
  readonly bytesPerSecond: number;
  readonly gbitPerSecond: number;
  readonly packetsPerSecond: number;
}

/** Runs `openssl speed -evp <cipher> -seconds 1 -bytes <bytes>` and parses its result line. */
export function opensslSpeed(cipher: string, bytes: number): OpensslSpeed | null {
  const version = spawnSync('openssl', ['version'], { encoding: 'utf8' });
  if (version.error !== undefined || version.status !== 0) return null;
  const r = spawnSync('openssl', ['speed', '-evp', cipher, '-seconds', '1', '-bytes', `${bytes}`], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  if (r.error !== undefined || r.status !== 0) return null;
  // The last line: "AES-128-GCM      1234567.89k" (one column per -bytes value).
  const line = r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.toUpperCase().startsWith(cipher.toUpperCase()))
    .pop();
  const m = line === undefined ? null : /([\d.]+)k\s*$/.exec(line);
  if (m === null) return null;
  const bytesPerSecond = Number(m[1]) * 1000;
  return {
    version: version.stdout.trim().replace(/ \(Library:.*$/, ''),
    bytes,
    bytesPerSecond,
    gbitPerSecond: (bytesPerSecond * 8) / 1e9,
    packetsPerSecond: bytesPerSecond / bytes,
  };
}

/** Right-aligned columns after a left-aligned first one; a line of dashes under the head. */
export function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A number with `digits` decimals and thousands separators. */
export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}
