/**
 * @module
 * What every `ipsecov2` subcommand is: a name, one line of help, its usage text, and a function
 * from arguments to an exit code. Output goes through `Io`, so tests run commands in-process and
 * read what they printed. Exit codes: 0 success, 1 the run found a defect (e.g. bytes not
 * delivered), 2 bad usage or a bad input file (the message names the field).
 */

/** Where a command writes, and whether it may draw a progress bar. */
export interface Io {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  /** True when stdout is a terminal (progress bars only then). */
  readonly tty: boolean;
}

/** One subcommand. */
export interface Command {
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  run(args: readonly string[], io: Io): Promise<number> | number;
}

/** A usage or input error: printed as `ipsecov2 <command>: <message>`, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
