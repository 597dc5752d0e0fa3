/**
 * @module
 * `ipsecov2 miniport VECTORS.json [--pcap FILE]`: the golden model for driver engineers. The
 * vectors file (docs/golden-model.md) gives the NIC's capabilities, SAs (JSON, or the hex of
 * binary x64/x86 ADD_SA / ADD_SA_EX structures), then NBLs; the output is one JSON document with
 * each OID's status and handles and each NBL's status, completion OOB, exact frames and changed
 * counters. A bad file names the JSON path of its first bad field (exit 2) and nothing is
 * written: stdout only after the whole run succeeded, the capture through a temporary file and a
 * rename.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EpbDirection, PcapngWriter } from '../sim/pcapng.ts';
import { UsageError, type Command, type Io } from './command.ts';
import { runVectors } from './golden-run.ts';
import { parseVectors } from './golden-schema.ts';

/** The fixed capture clock: frame i is stamped i milliseconds after the epoch. */
const FRAME_SPACING_NS = 1_000_000n;

/** The pcapng bytes of `frames`, outbound, on the fixed clock. */
export function captureOf(frames: readonly Uint8Array[]): Uint8Array {
  const writer = new PcapngWriter({ interfaceName: 'ipsecov2 miniport' });
  frames.forEach((f, i) => {
    writer.writePacket(f, BigInt(i) * FRAME_SPACING_NS, EpbDirection.Outbound);
  });
  return writer.bytes();
}

/** Runs the vectors text; returns the output JSON text and the frames (throws UsageError). */
export function golden(text: string): {
  readonly json: string;
  readonly frames: readonly Uint8Array[];
} {
  const run = runVectors(parseVectors(text));
  return { json: `${JSON.stringify(run.output, null, 2)}\n`, frames: run.frames };
}

/** The `miniport` command. */
export const miniport: Command = {
  name: 'miniport',
  summary:
    'the golden model: capabilities, SAs and NBLs from VECTORS.json → statuses and exact frames',
  usage: `usage: ipsecov2 miniport VECTORS.json [--pcap FILE]

  VECTORS.json  capabilities, SAs (JSON or hex ADD_SA/ADD_SA_EX), NBLs (see docs/golden-model.md)
  --pcap FILE   also write the output frames as pcapng (fixed clock: frame i at i ms)

Prints JSON: each OID's status and handles, each NBL's status, completion OOB, frames (hex) and
changed counters. A bad file names the JSON path of its first bad field; exit 2, nothing written.`,
  run(args: readonly string[], io: Io): number {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: { pcap: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) {
      throw new UsageError(`expected one VECTORS.json, got ${positionals.length} files`);
    }
    const file = positionals[0];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new UsageError(
        `${file}: expected a readable file, got ${(e as NodeJS.ErrnoException).code ?? 'an error'}`
      );
    }
    const result = golden(text);
    if (values.pcap !== undefined) {
      const target = values.pcap;
      const temp = `${target}.${process.pid}.tmp`;
      try {
        writeFileSync(temp, captureOf(result.frames));
        renameSync(temp, target);
      } catch (e) {
        rmSync(temp, { force: true });
        throw new UsageError(
          `--pcap: expected a writable path, got ${(e as NodeJS.ErrnoException).code ?? 'an error'} for ${target}`
        );
      }
    }
    io.stdout(result.json);
    return 0;
  },
};
