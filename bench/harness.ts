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

/** Slices a timed run is cut into; the median slice is reported (robust to GC and noisy neighbours). */
export const SLICES = 5;

/**
 * Runs `round` for `warmupMs`, then for at least `budgetMs` (whole rounds) in {@link SLICES}
 * separately timed slices, and returns the rates of the median slice with the slices' spread.
 */
export function measure(round: Round, budgetMs = 1000, warmupMs = 300): Measurement {
  const warmEnd = process.hrtime.bigint() + BigInt(warmupMs) * 1_000_000n;
  do round();
  while (process.hrtime.bigint() < warmEnd);
  const slice = (BigInt(budgetMs) * 1_000_000n) / BigInt(SLICES);
  const done: Measurement[] = [];
  for (let s = 0; s < SLICES; s++) {
    let packets = 0;
    let payloadBytes = 0;
    const start = process.hrtime.bigint();
    let now: bigint;
    do {
      const r = round();
      packets += r.packets;
      payloadBytes += r.payloadBytes;
      now = process.hrtime.bigint();
    } while (now - start < slice);
    done.push(rates(packets, payloadBytes, now - start));
  }
  done.sort((a, b) => a.packetsPerSecond - b.packetsPerSecond);
  const median = done[SLICES >> 1];
  const spread =
    (done[SLICES - 1].packetsPerSecond - done[0].packetsPerSecond) / median.packetsPerSecond;
  return { ...median, spread };
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
