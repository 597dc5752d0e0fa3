/**
 * @module
 * The decoder behind `ipsecov2 decode`: every packet of a pcapng capture printed layer by layer
 * (`wire/pretty.ts`), ESP decrypted and AH verified with a `Keyring` whose transforms are built
 * once, and each AH/ESP header checked for replay (`decode-replay.ts`). Every frame is decoded —
 * the keyring's ESN estimate and the replay state need the whole history — and the frames of the
 * selected range are reported and counted.
 *
 * Decisions: a header whose ICV failed is not recorded as seen (RFC 4303 §3.4.3: the window is
 * updated only after verification); a header without a key is recorded by its wire number
 * (unauthenticated). Link types: Ethernet (1) layer by layer, raw IP (101, 228, 229) from the IP
 * header, others as data.
 */
import type { Keyring } from '../sim/keyring.ts';
import { LINKTYPE_ETHERNET, type Capture, type Packet } from '../sim/pcapng.ts';
import {
  describeFrame,
  describeIp,
  format,
  type Line,
  type Options,
  type SequenceCheck,
} from '../wire/pretty.ts';
import { ReplayTracker } from './decode-replay.ts';

/** How to decode. */
export interface DecodeOptions {
  /** The keys (none: ESP stays "encrypted", AH unverified). */
  readonly keyring?: Keyring | null;
  /** Replay window for "too old" annotations; 0: repeats only. */
  readonly window: number;
  /** The frames to report, 1-based and inclusive (default: all). */
  readonly first?: number;
  readonly last?: number;
}

/** One decoded frame. */
export interface DecodedFrame {
  /** 1-based, in capture order. */
  readonly number: number;
  /** Nanoseconds since the first frame of the capture. */
  readonly relativeNanos: bigint;
  readonly length: number;
  readonly originalLength: number;
  /** From `epb_flags`: `in`, `out`, or undefined. */
  readonly direction: 'in' | 'out' | undefined;
  readonly lines: readonly Line[];
}

/** Counts of the reported frames. */
export interface Summary {
  /** Frames in the capture, and frames reported (the range). */
  readonly frames: number;
  readonly reported: number;
  /** Reported frames with at least one defect. */
  readonly framesWithDefects: number;
  /** ESP headers: decrypted (ICV ok), failed, without a key. */
  readonly esp: { decrypted: number; failed: number; noKey: number };
  /** AH headers: verified, failed, without a key. */
  readonly ah: { verified: number; failed: number; noKey: number };
  /** Defects by kind ("icv mismatch", "truncated", "replay", …). */
  readonly defects: Record<string, number>;
}

const LINKTYPE_RAW = 101;
const LINKTYPE_IPV4 = 228;
const LINKTYPE_IPV6 = 229;

/** The kind of a defect, for the summary: "truncated at 37" → "truncated", "replay of #3" → "replay". */
export function defectKind(defect: string): string {
  if (defect.startsWith('replay of #')) return 'replay';
  if (defect.startsWith('too old for window')) return 'too old';
  return defect.replace(/ at \d+$/, '').replace(/^bad version \d+$/, 'bad version');
}

/** Hex of an address (the replay key part). */
const addressKey = (a: Uint8Array): string => Buffer.from(a).toString('hex');

/** Decodes a capture frame by frame, keeping the replay state and the summary. */
export class Decoder {
  readonly #capture: Capture;
  readonly #options: DecodeOptions;
  readonly #replay: ReplayTracker;
  readonly #hooks: Options;
  readonly #start: bigint;
  #frame = 0;
  #inRange = false;
  readonly #summary = {
    frames: 0,
    reported: 0,
    framesWithDefects: 0,
    esp: { decrypted: 0, failed: 0, noKey: 0 },
    ah: { verified: 0, failed: 0, noKey: 0 },
    defects: {} as Record<string, number>,
  };

  constructor(capture: Capture, options: DecodeOptions) {
    this.#capture = capture;
    this.#options = options;
    this.#replay = new ReplayTracker(options.window);
    this.#start = capture.packets.length > 0 ? capture.packets[0].timestampNanos : 0n;
    this.#summary.frames = capture.packets.length;
    const keyring = options.keyring ?? null;
    this.#hooks = {
      ...(keyring ? keyring.hooks() : {}),
      checkSequence: (s) => this.#checkSequence(s, keyring),
    };
  }

  /** Decodes every frame; calls `emit` for each frame of the range, in order. */
  run(emit: (frame: DecodedFrame) => void): Summary {
    const first = this.#options.first ?? 1;
    const last = this.#options.last ?? Infinity;
    this.#capture.packets.forEach((packet, i) => {
      this.#frame = i + 1;
      this.#inRange = this.#frame >= first && this.#frame <= last;
      const decoded = this.#decode(packet);
      if (!this.#inRange) return;
      this.#count(decoded);
      emit(decoded);
    });
    return this.summary();
  }

  /** The counts so far. */
  summary(): Summary {
    const s = this.#summary;
    return { ...s, esp: { ...s.esp }, ah: { ...s.ah }, defects: { ...s.defects } };
  }

  #decode(packet: Packet): DecodedFrame {
    const iface = this.#capture.interfaces.filter((f) => f.section === packet.section)[
      packet.interfaceId
    ] as { linkType: number } | undefined;
    const linkType = iface?.linkType ?? LINKTYPE_ETHERNET;
    let lines: Line[];
    if (linkType === LINKTYPE_ETHERNET) lines = describeFrame(packet.data, this.#hooks);
    else if ([LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6].includes(linkType)) {
      lines = describeIp(packet.data, this.#hooks);
    } else {
      lines = [
        {
          depth: 0,
          layer: 'data',
          text: `${packet.data.length} bytes (linktype ${linkType})`,
          defects: [],
        },
      ];
    }
    const bits = (packet.flags ?? 0) & 3;
    return {
      number: this.#frame,
      relativeNanos: packet.timestampNanos - this.#start,
      length: packet.data.length,
      originalLength: packet.originalLength,
      direction: bits === 1 ? 'in' : bits === 2 ? 'out' : undefined,
      lines,
    };
  }

  #count(frame: DecodedFrame): void {
    const s = this.#summary;
    s.reported++;
    let any = false;
    for (const line of frame.lines) {
      for (const d of line.defects) {
        any = true;
        const kind = defectKind(d);
        s.defects[kind] = (s.defects[kind] ?? 0) + 1;
      }
    }
    if (any) s.framesWithDefects++;
  }

  #checkSequence(s: SequenceCheck, keyring: Keyring | null): string | null {
    if (this.#inRange) {
      const verdict = s.verified === undefined ? 'noKey' : s.verified ? 'ok' : ('failed' as const);
      if (s.protocol === 'esp') {
        this.#summary.esp[verdict === 'ok' ? 'decrypted' : verdict]++;
      } else {
        this.#summary.ah[verdict === 'ok' ? 'verified' : verdict]++;
      }
    }
    if (s.verified === false) return null;
    const sequence =
      s.verified && keyring?.lastSequence != null
        ? keyring.lastSequence
        : BigInt(s.sequenceNumber >>> 0);
    const sa = `${s.protocol}:${s.spi >>> 0}:${addressKey(s.ip.destination)}`;
    return this.#replay.check(sa, sequence, this.#frame);
  }
}

/** Seconds with nine decimals: 1234567n → "0.001234567". */
export function formatNanos(nanos: bigint): string {
  const sign = nanos < 0n ? '-' : '';
  const abs = nanos < 0n ? -nanos : nanos;
  return `${sign}${abs / 1_000_000_000n}.${(abs % 1_000_000_000n).toString().padStart(9, '0')}`;
}

/** The header line of a frame: `#3 0.000120000 1454 bytes out`. */
export function frameHeader(f: DecodedFrame): string {
  const of = f.originalLength > f.length ? ` (of ${f.originalLength})` : '';
  const dir = f.direction ? ` ${f.direction}` : '';
  return `#${f.number} ${formatNanos(f.relativeNanos)} ${f.length} bytes${of}${dir}`;
}

/** A frame as text: its header line, then one line per layer. */
export function frameText(f: DecodedFrame): string {
  return `${frameHeader(f)}\n${format(f.lines)}\n`;
}

/** A frame as one JSON line: number, time, lengths, direction, layers, defects. */
export function frameJson(f: DecodedFrame): string {
  const defects: string[] = [];
  for (const l of f.lines) for (const d of l.defects) defects.push(`${l.layer}: ${d}`);
  return `${JSON.stringify({
    frame: f.number,
    time: formatNanos(f.relativeNanos),
    length: f.length,
    originalLength: f.originalLength,
    ...(f.direction ? { direction: f.direction } : {}),
    layers: f.lines,
    defects,
  })}\n`;
}

/** The summary as text lines. */
export function summaryText(s: Summary): string {
  const range = s.reported === s.frames ? '' : ` (${s.reported} reported)`;
  const kinds = Object.entries(s.defects)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([k, n]) => `${k} ${n}`);
  return (
    [
      `summary: ${s.frames} frames${range}, ${s.framesWithDefects} with defects`,
      `  esp: ${s.esp.decrypted} decrypted, ${s.esp.failed} failed, ${s.esp.noKey} without key`,
      `  ah: ${s.ah.verified} verified, ${s.ah.failed} failed, ${s.ah.noKey} without key`,
      `  defects: ${kinds.length > 0 ? kinds.join(', ') : 'none'}`,
    ].join('\n') + '\n'
  );
}
