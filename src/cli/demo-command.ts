/**
 * @module
 * `ipsecov2 demo [--seed N]`: the demo job of `demo.ts` (one NIC, SAs added by OID, three sends,
 * every frame decoded and verified).
 */
import { parseArgs } from 'node:util';
import { UsageError, type Command, type Io } from './command.ts';
import { runDemo } from './demo.ts';

/** The `demo` command. */
export const demo: Command = {
  name: 'demo',
  summary:
    'one NIC, SAs added by OID, an LSO send over ESP, a tunnel send, an AH+ESP send, decoded',
  usage: `usage: ipsecov2 demo [--seed N]

  --seed N  the seed of the keys, IVs and payloads (default 1): same seed, same bytes`,
  run(args: readonly string[], io: Io): number {
    const { values } = parseArgs({
      args: [...args],
      options: { seed: { type: 'string' } },
      strict: true,
    });
    const seedText = values.seed ?? '1';
    if (!/^\d+$/.test(seedText)) {
      throw new UsageError(`--seed: expected a non-negative integer, got "${seedText}"`);
    }
    const result = runDemo(Number(seedText));
    io.stdout(`${result.text}\n`);
    return result.delivered && result.defects.length === 0 ? 0 : 1;
  },
};
