/**
 * @module
 * `ipsecov2 decode FILE.pcapng [--keys keys.json]`: every frame of a capture layer by layer,
 * ESP decrypted and AH verified with the keys, defects in parentheses — bad ICV ("icv
 * mismatch"), bad padding, bad checksum ("checksum incorrect"), truncation ("truncated at N"),
 * replay ("replay of #N", "too old for window W …") — and a summary. Exit codes: 0 decoded
 * (defects included), 1 defects found with `--strict`, 2 bad usage or an unreadable file (the
 * pcapng byte offset, or the keys.json path of the first bad field).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { read } from '../sim/pcapng.ts';
import { UsageError, type Command, type Io } from './command.ts';
import { Decoder, frameJson, frameText, summaryText, type DecodedFrame } from './decode-core.ts';
import { loadKeys } from './decode-keys.ts';

const USAGE = `usage: ipsecov2 decode FILE.pcapng [--keys keys.json] [--frames N-M] [--window W] [--json] [--strict]

  Prints every frame as "#<n> <seconds since the first frame> <length> bytes [in|out]", then one
  line per layer; defects in parentheses: (icv mismatch), (bad padding), (checksum incorrect),
  (truncated at <offset>), (replay of #<first frame>), (too old for window W (highest S at #F)).
  Replay is judged per SA (protocol, SPI, destination) on 64-bit sequence numbers (ESN: the
  estimated high half) of packets whose ICV verified, or on the wire's 32 bits without a key.

  --keys FILE    keys.json (as written by ipsecov2 run): decrypt ESP, verify AH
  --frames N-M   report frames N to M only (1-based; "N" or "N-" also work); all frames are
                 still decoded, so replays of earlier frames are found
  --window W     anti-replay window for "too old" (default 64; 0: report repeats only)
  --json         one JSON object per line: {frame, time, length, originalLength, direction,
                 layers: [{depth, layer, text, defects}], defects}; then {"summary": …}
  --strict       exit 1 when any reported frame has a defect

  exit codes: 0 decoded (even with defects), 1 defects with --strict, 2 bad usage or bad file`;

/** `N-M`, `N`, `N-` → an inclusive range. */
function parseRange(text: string): { first: number; last?: number } {
  const m = /^(\d+)(?:(-)(\d*))?$/.exec(text);
  if (m === null) throw new UsageError(`--frames: expected N-M, N or N-, got "${text}"`);
  const first = Number(m[1]);
  const dash = m[2] as string | undefined;
  const last = dash === undefined ? first : m[3] === '' ? undefined : Number(m[3]);
  if (first < 1 || (last !== undefined && last < first)) {
    throw new UsageError(`--frames: expected 1 ≤ N ≤ M, got "${text}"`);
  }
  return last === undefined ? { first } : { first, last };
}

/** Output in chunks (200,000 frames: not 200,000 writes). */
class Buffered {
  readonly #write: (text: string) => void;
  #parts: string[] = [];
  #size = 0;
  constructor(write: (text: string) => void) {
    this.#write = write;
  }
  push(text: string): void {
    this.#parts.push(text);
    this.#size += text.length;
    if (this.#size >= 1 << 16) this.flush();
  }
  flush(): void {
    if (this.#parts.length > 0) this.#write(this.#parts.join(''));
    this.#parts = [];
    this.#size = 0;
  }
}

/** The `decode` command. */
export const decode: Command = {
  name: 'decode',
  summary: 'a pcapng capture layer by layer, decrypted with keys.json, defects annotated',
  usage: USAGE,
  run(args: readonly string[], io: Io): number {
    const { values, positionals } = parseArgs({
      args: [...args],
      options: {
        keys: { type: 'string' },
        frames: { type: 'string' },
        window: { type: 'string' },
        json: { type: 'boolean' },
        strict: { type: 'boolean' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) {
      throw new UsageError(
        `expected one FILE.pcapng, got ${positionals.length === 0 ? 'none' : positionals.join(' ')}`
      );
    }
    const file = positionals[0];
    const windowText = values.window ?? '64';
    if (!/^\d+$/.test(windowText) || Number(windowText) > 2 ** 31) {
      throw new UsageError(`--window: expected an integer from 0 to 2^31, got "${windowText}"`);
    }
    const range = values.frames === undefined ? {} : parseRange(values.frames);
    const keys = values.keys === undefined ? null : loadKeys(values.keys);

    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new UsageError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const parsed = read(bytes);
    if (!parsed.ok) {
      const { reason, offset } = parsed.error;
      throw new UsageError(
        `${file}: not a readable pcapng capture: ${reason.replace(/-/g, ' ')} at byte offset ${offset}`
      );
    }
    const decoder = new Decoder(parsed.value, {
      keyring: keys?.keyring ?? null,
      window: Number(windowText),
      ...range,
    });
    const out = new Buffered(io.stdout);
    const json = values.json === true;
    const render = json ? frameJson : frameText;
    const summary = decoder.run((frame: DecodedFrame) => {
      out.push(render(frame));
    });
    out.push(json ? `${JSON.stringify({ summary })}\n` : summaryText(summary));
    out.flush();
    return values.strict === true && summary.framesWithDefects > 0 ? 1 : 0;
  },
};
