/**
 * @module
 * The registry of `ipsecov2` subcommands, in the order `--help` lists them. A command module
 * exports one `Command`; adding a command is one import and one entry here.
 */
import type { Command } from './command.ts';
import { decode } from './decode.ts';
import { demo } from './demo-command.ts';
import { doctor } from './doctor.ts';
import { miniport } from './golden.ts';
import { run } from './run.ts';

/** Every subcommand. */
export const COMMANDS: readonly Command[] = [demo, run, decode, miniport, doctor];
