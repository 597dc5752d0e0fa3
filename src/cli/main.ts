#!/usr/bin/env node
/**
 * @module
 * The `ipsecov2` command. Today it runs the demo job (`ipsecov2` or `ipsecov2 demo [--seed N]`);
 * the scenario runner, golden-model mode and decoder come with issue 5.
 */
import { parseArgs } from 'node:util';
import { runDemo } from './demo.ts';

const USAGE = `usage: ipsecov2 [demo] [--seed N]

  demo      one simulated IPsecOV2 NIC: SAs added by OID, an LSO send over ESP, a tunnel-mode
            send and an AH+ESP send, every frame decoded, decrypted and verified (default)
  --seed N  the seed of the keys, IVs and payloads (default 1): same seed, same bytes
  --help    this text`;

function main(argv: readonly string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    process.stderr.write(`ipsecov2: ${(e as Error).message}\n${USAGE}\n`);
    return 2;
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const command = parsed.positionals[0] ?? 'demo';
  if (command !== 'demo' || parsed.positionals.length > 1) {
    process.stderr.write(
      `ipsecov2: expected the command "demo", got "${parsed.positionals.join(' ')}"\n${USAGE}\n`
    );
    return 2;
  }
  const seedText = parsed.values.seed ?? '1';
  if (!/^\d+$/.test(seedText)) {
    process.stderr.write(`ipsecov2: --seed: expected a non-negative integer, got "${seedText}"\n`);
    return 2;
  }
  const result = runDemo(Number(seedText));
  process.stdout.write(`${result.text}\n`);
  return result.delivered && result.defects.length === 0 ? 0 : 1;
}

process.exitCode = main(process.argv.slice(2));
