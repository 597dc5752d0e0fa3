#!/usr/bin/env node
/**
 * @module
 * The `ipsecov2` command: `ipsecov2 <command> [options]`, commands from `commands.ts`. Without a
 * command it runs the default job, `run` on the embedded default scenario. `--version` names the
 * crypto engine too (native addon or node:crypto, issue 6).
 */
import { readFileSync } from 'node:fs';
import { activeEngine, engineReason } from '../crypto/engine.ts';
import { UsageError, type Io } from './command.ts';
import { COMMANDS } from './commands.ts';

const DEFAULT_COMMAND = 'run';

function version(): string {
  const pkg = JSON.parse(
    readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')
  ) as {
    version: string;
  };
  return pkg.version;
}

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const lines = COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `usage: ipsecov2 [command] [options]      (default command: ${DEFAULT_COMMAND})

commands:
${lines.join('\n')}

  ipsecov2 <command> --help   the command's options
  ipsecov2 --version          the version and the active crypto engine`;
}

/** Runs the command line `argv` (without node and the script); returns the exit code. */
export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h') {
    io.stdout(`${help()}\n`);
    return 0;
  }
  if (first === '--version') {
    io.stdout(`ipsecov2 ${version()}\ncrypto engine: ${activeEngine()} (${engineReason()})\n`);
    return 0;
  }
  const named = argv.length > 0 && !first.startsWith('-');
  const name = named ? first : DEFAULT_COMMAND;
  const args = named ? rest : argv;
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    io.stderr(
      `ipsecov2: expected a command (${COMMANDS.map((c) => c.name).join(', ')}), got "${name}"\n${help()}\n`
    );
    return 2;
  }
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout(`${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(args, io);
  } catch (e) {
    if (
      e instanceof UsageError ||
      (e instanceof TypeError && 'code' in e && String(e.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      io.stderr(`ipsecov2 ${command.name}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}

const io: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  tty: process.stdout.isTTY,
};
process.exitCode = await main(process.argv.slice(2), io);
