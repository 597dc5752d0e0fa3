/**
 * @module
 * `ipsecov2 doctor`: the environment the model runs in — Node's version, the OpenSSL it ships,
 * and which ESP crypto engine is active (the native batched addon of issue 6, or node:crypto)
 * and why. Exit code 0.
 */
import { parseArgs } from 'node:util';
import { activeEngine, engineReason } from '../crypto/engine.ts';
import type { Command, Io } from './command.ts';

const USAGE = `usage: ipsecov2 doctor

  Prints the Node.js and OpenSSL versions and the active ESP crypto engine ("native": the
  batched addon in native/, built at install; "node:crypto": the fallback) with the reason.
  IPSECOV2_ENGINE=js forces node:crypto.`;

/** The report `doctor` prints, one "name: value" line each. */
export function doctorText(): string {
  return [
    `node: ${process.version}`,
    `openssl: ${process.versions.openssl}`,
    `engine: ${activeEngine()}`,
    `reason: ${engineReason()}`,
  ].join('\n');
}

/** The `doctor` command. */
export const doctor: Command = {
  name: 'doctor',
  summary: 'print the Node.js and OpenSSL versions and the active crypto engine',
  usage: USAGE,
  run(args: readonly string[], io: Io): number {
    parseArgs({ args: [...args], options: {}, strict: true, allowPositionals: false });
    io.stdout(`${doctorText()}\n`);
    return 0;
  },
};
