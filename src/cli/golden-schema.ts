/**
 * @module
 * The VECTORS.json format of `ipsecov2 miniport` (docs/golden-model.md), as a zod schema, and its
 * error messages: the first bad field as `<JSON path>: expected …, got …` (a {@link UsageError},
 * exit code 2). Numbers that a driver engineer copies from a trace may be given as JSON numbers or
 * as `"0x…"` hex strings; byte strings are hex (whitespace ignored). References to SA handles are
 * resolved later (golden-run.ts), because they depend on what the OIDs write back.
 */
import { z } from 'zod';
import { ENCRYPTION_NAMES, INTEGRITY_NAMES } from '../crypto/names.ts';
import { defaultCapabilities } from '../ndis/caps.ts';
import { UsageError } from './command.ts';

/** A bad field of the vectors file: the message is `<path>: expected <expected>, got <got>`. */
export class VectorsError extends UsageError {
  constructor(path: string, expected: string, got: string) {
    super(`${path}: expected ${expected}, got ${got}`);
  }
}

/** How a JSON value is shown after "got". */
export function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  }
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value !== null && typeof value === 'object') return 'an object';
  // Numbers, booleans and null: JSON values print as in the file.
  return JSON.stringify(value);
}

/** Parses `v` or returns undefined; wrapped into a zod schema whose issue says `expected`. */
function custom<T>(expected: string, parse: (v: unknown) => T | undefined): z.ZodType<T> {
  return z.unknown().transform((v, ctx) => {
    const out = v === undefined ? undefined : parse(v);
    if (out === undefined) {
      ctx.issues.push({ code: 'custom', message: expected, input: v });
      return z.NEVER;
    }
    return out;
  });
}

/** A non-negative integer up to `max`, as a JSON number or a "0x…" / decimal string. */
function bigUint(v: unknown, max: bigint): bigint | undefined {
  let n: bigint;
  if (typeof v === 'number' && Number.isSafeInteger(v)) n = BigInt(v);
  else if (typeof v === 'string' && /^(0x[0-9a-fA-F]+|[0-9]+)$/.test(v)) n = BigInt(v);
  else return undefined;
  return n >= 0n && n <= max ? n : undefined;
}

/** An unsigned integer of `bits` bits (≤ 32) as a number. */
export function uint(bits: number): z.ZodType<number> {
  const max = 2n ** BigInt(bits) - 1n;
  return custom(`an integer from 0 to ${max} (or "0x…")`, (v) => {
    const n = bigUint(v, max);
    return n === undefined ? undefined : Number(n);
  });
}

/** An unsigned 64-bit value as a bigint. */
export const u64: z.ZodType<bigint> = custom('an integer from 0 to 2^64-1 (or "0x…")', (v) =>
  bigUint(v, 0xffff_ffff_ffff_ffffn)
);

/** Hex bytes ("0x" prefix and whitespace allowed). */
export const hexBytes: z.ZodType<Uint8Array> = custom('hex bytes (pairs of 0-9a-f)', (v) => {
  if (typeof v !== 'string') return undefined;
  const text = v.replace(/\s+/g, '').replace(/^0x/i, '');
  if (!/^([0-9a-fA-F]{2})*$/.test(text)) return undefined;
  return Uint8Array.from(Buffer.from(text, 'hex'));
});

/** A handle reference: a literal handle, or `{ "sa": index | name, "entry"?: k }`. */
export type HandleRef = bigint | { readonly sa: number | string; readonly entry: number };

const handleRef: z.ZodType<HandleRef> = custom(
  'a handle ("0x…" or a number) or {"sa": <index or name>, "entry"?: <k>}',
  (v): HandleRef | undefined => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (!keys.includes('sa') || keys.some((k) => k !== 'sa' && k !== 'entry')) return undefined;
      const sa = o['sa'];
      const entry = o['entry'] ?? 0;
      if (!(typeof sa === 'string' || (Number.isSafeInteger(sa) && (sa as number) >= 0))) {
        return undefined;
      }
      if (!Number.isSafeInteger(entry) || (entry as number) < 0) return undefined;
      return { sa: sa as number | string, entry: entry as number };
    }
    return bigUint(v, 0xffff_ffff_ffff_ffffn);
  }
);

/** One SA of a `json` bundle (contract D17 names). */
export interface SaJson {
  readonly protocol: 'esp' | 'ah';
  readonly spi: number;
  readonly encryption?: (typeof ENCRYPTION_NAMES)[number] | undefined;
  readonly integrity?: (typeof INTEGRITY_NAMES)[number] | null | undefined;
  readonly encryptionKey?: Uint8Array | undefined;
  readonly integrityKey?: Uint8Array | undefined;
  readonly icvLength?: 8 | 12 | 16 | undefined;
  readonly esn?: boolean | undefined;
  readonly seqHigh?: number | undefined;
}

/** One validated SA entry (`json`, `addSa` or `addSaEx`). */
export interface SaVector {
  readonly name?: string | undefined;
  readonly json?:
    | {
        readonly inbound?: boolean | undefined;
        readonly src: string;
        readonly dst: string;
        readonly udpEspEncapsulation?: number | undefined;
        readonly sas: readonly SaJson[];
      }
    | undefined;
  readonly addSa?: Uint8Array | undefined;
  readonly baseAddress?: bigint | undefined;
  readonly addSaEx?: Uint8Array | undefined;
}

/** OOB bit values. */
type Bit = 0 | 1;

/** One validated NBL. */
export interface NblVector {
  readonly name?: string | undefined;
  readonly netBuffers: readonly Uint8Array[];
  readonly ipsec?:
    | {
        readonly offloadHandle?: HandleRef | undefined;
        readonly tunnelHandle?: HandleRef | undefined;
      }
    | undefined;
  readonly header?:
    | {
        readonly NextHeader?: number | undefined;
        readonly PadLength?: number | undefined;
        readonly AhHeaderOffset?: number | undefined;
        readonly EspHeaderOffset?: number | undefined;
      }
    | undefined;
  readonly lso?:
    | {
        readonly version: 1 | 2;
        readonly MSS: number;
        readonly TcpHeaderOffset: number;
        readonly IPVersion?: Bit | undefined;
      }
    | undefined;
  readonly checksum?:
    | {
        readonly IsIPv4?: Bit | undefined;
        readonly IsIPv6?: Bit | undefined;
        readonly TcpChecksum?: Bit | undefined;
        readonly UdpChecksum?: Bit | undefined;
        readonly IpHeaderChecksum?: Bit | undefined;
        readonly TcpHeaderOffset?: number | undefined;
      }
    | undefined;
  readonly slots?: Readonly<Record<string, bigint>> | undefined;
  readonly ivs?: readonly Uint8Array[] | undefined;
}

/** One validated step: exactly one member is set. */
export interface StepVector {
  readonly nbl?: NblVector | undefined;
  readonly sa?: SaVector | undefined;
  readonly updateSa?:
    | {
        readonly offloadHandle: HandleRef;
        readonly operation: 'esp' | 'ah';
        readonly spi: number;
        readonly seqHigh: number;
      }
    | undefined;
  readonly deleteSa?:
    | { readonly handles: readonly HandleRef[]; readonly baseAddress?: bigint | undefined }
    | undefined;
}

/** A validated vectors file. */
export interface Vectors {
  readonly description?: string | undefined;
  readonly arch?: 'x64' | 'x86' | undefined;
  readonly capabilities?: Record<string, unknown> | undefined;
  readonly random?: bigint | undefined;
  readonly sas?: readonly SaVector[] | undefined;
  readonly nbls?: readonly NblVector[] | undefined;
  readonly steps?: readonly StepVector[] | undefined;
}

const saDescription: z.ZodType<SaJson> = z.strictObject({
  protocol: z.enum(['esp', 'ah']),
  spi: uint(32),
  encryption: z.enum(ENCRYPTION_NAMES).optional(),
  integrity: z.enum(INTEGRITY_NAMES).nullable().optional(),
  encryptionKey: hexBytes.optional(),
  integrityKey: hexBytes.optional(),
  icvLength: oneOf([8, 12, 16]).optional(),
  esn: z.boolean().optional(),
  seqHigh: uint(32).optional(),
});

const bundle = z.strictObject({
  inbound: z.boolean().optional(),
  src: z.string(),
  dst: z.string(),
  udpEspEncapsulation: uint(32).optional(),
  sas: z.array(saDescription).min(1).max(2),
});

const saStep: z.ZodType<SaVector> = z
  .strictObject({
    name: z.string().optional(),
    json: bundle.optional(),
    addSa: hexBytes.optional(),
    baseAddress: u64.optional(),
    addSaEx: hexBytes.optional(),
  })
  .superRefine((o, ctx) => {
    const given = (['json', 'addSa', 'addSaEx'] as const).filter((k) => o[k] !== undefined);
    if (given.length !== 1) {
      ctx.issues.push({
        code: 'custom',
        message: `exactly one of "json", "addSa", "addSaEx" (got ${given.length === 0 ? 'none' : given.join(' and ')})`,
        input: o,
      });
    } else if (o.baseAddress !== undefined && o.addSa === undefined) {
      ctx.issues.push({
        code: 'custom',
        message: '"baseAddress" only with "addSa"',
        input: o.baseAddress,
        path: ['baseAddress'],
      });
    }
  });

/** One of a few numbers. */
function oneOf<const T extends number>(values: readonly T[]): z.ZodType<T> {
  return custom(`one of ${values.join(', ')}`, (v) =>
    values.includes(v as T) ? (v as T) : undefined
  );
}

const bit = oneOf([0, 1]);

const nbl: z.ZodType<NblVector> = z.strictObject({
  name: z.string().optional(),
  netBuffers: z.array(hexBytes).min(1),
  ipsec: z
    .strictObject({ offloadHandle: handleRef.optional(), tunnelHandle: handleRef.optional() })
    .optional(),
  header: z
    .strictObject({
      NextHeader: uint(8).optional(),
      PadLength: uint(8).optional(),
      AhHeaderOffset: uint(8).optional(),
      EspHeaderOffset: uint(8).optional(),
    })
    .optional(),
  lso: z
    .strictObject({
      version: oneOf([1, 2]),
      MSS: uint(20),
      TcpHeaderOffset: uint(10),
      IPVersion: bit.optional(),
    })
    .optional(),
  checksum: z
    .strictObject({
      IsIPv4: bit.optional(),
      IsIPv6: bit.optional(),
      TcpChecksum: bit.optional(),
      UdpChecksum: bit.optional(),
      IpHeaderChecksum: bit.optional(),
      TcpHeaderOffset: uint(10).optional(),
    })
    .optional(),
  slots: z.record(z.string().regex(/^(1[0-7]|[0-9])$/, 'a slot number 0-17'), u64).optional(),
  ivs: z.array(hexBytes).optional(),
});

const updateSa = z.strictObject({
  offloadHandle: handleRef,
  operation: z.enum(['esp', 'ah']),
  spi: uint(32),
  seqHigh: uint(32),
});

const deleteSa = z.strictObject({
  handles: z.array(handleRef).min(1),
  baseAddress: u64.optional(),
});

const STEP_KINDS = ['nbl', 'sa', 'updateSa', 'deleteSa'] as const;

const step: z.ZodType<StepVector> = z
  .strictObject({
    nbl: nbl.optional(),
    sa: saStep.optional(),
    updateSa: updateSa.optional(),
    deleteSa: deleteSa.optional(),
  })
  .superRefine((o, ctx) => {
    const given = STEP_KINDS.filter((k) => o[k] !== undefined);
    if (given.length !== 1) {
      ctx.issues.push({
        code: 'custom',
        message: `exactly one of ${STEP_KINDS.map((k) => `"${k}"`).join(', ')} (got ${given.length === 0 ? 'none' : given.join(' and ')})`,
        input: o,
      });
    }
  });

/** A strict, all-optional override schema shaped like `template` (booleans, ULONGs, records). */
function overrides(template: object): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, value] of Object.entries(template)) {
    shape[key] = (
      typeof value === 'boolean'
        ? z.boolean()
        : typeof value === 'number'
          ? uint(32)
          : overrides(value as object)
    ).optional();
  }
  return z.strictObject(shape);
}

const caps = defaultCapabilities();
const { IPsecV2, ...rest } = caps;
const capabilities = overrides({ ...IPsecV2, ...rest });

const vectors: z.ZodType<Vectors> = z
  .strictObject({
    description: z.string().optional(),
    arch: z.enum(['x64', 'x86']).optional(),
    capabilities: capabilities.optional(),
    random: u64.optional(),
    sas: z.array(saStep).optional(),
    nbls: z.array(nbl).optional(),
    steps: z.array(step).optional(),
  })
  .superRefine((o, ctx) => {
    if (o.nbls !== undefined && o.steps !== undefined) {
      ctx.issues.push({
        code: 'custom',
        message: '"nbls" or "steps", not both',
        input: o.steps,
        path: ['steps'],
      });
    }
  });

/** A JSON path like `$.steps[2].nbl.netBuffers[0]`. */
export function jsonPath(path: readonly PropertyKey[]): string {
  return (
    '$' +
    path
      .map((k) =>
        typeof k === 'number'
          ? `[${k}]`
          : /^[A-Za-z_$][\w$]*$/.test(String(k))
            ? `.${String(k)}`
            : `[${JSON.stringify(String(k))}]`
      )
      .join('')
  );
}

/** The value at `path` inside `root` (undefined when absent). */
function at(root: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = root;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** What a zod issue expected, in words. */
function expectedOf(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type':
      return issue.expected === 'object'
        ? 'an object'
        : issue.expected === 'array'
          ? 'an array'
          : `a ${issue.expected}`;
    case 'invalid_value':
      return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'too_small':
      return `at least ${String(issue.minimum)} ${issue.origin === 'array' ? 'entries' : ''}`.trim();
    case 'too_big':
      return `at most ${String(issue.maximum)} ${issue.origin === 'array' ? 'entries' : ''}`.trim();
    case 'custom':
    case 'invalid_element':
    case 'invalid_format':
    case 'invalid_key':
    case 'invalid_union':
    case 'not_multiple_of':
    case 'unrecognized_keys':
      return issue.message;
  }
}

/**
 * Parses and validates the text of a vectors file; throws a {@link VectorsError} naming the JSON
 * path of the first bad field (or `$` when the text is not JSON).
 */
export function parseVectors(text: string): Vectors {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new VectorsError('$', 'JSON', `a syntax error (${(e as Error).message})`);
  }
  const result = vectors.safeParse(raw);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    throw new VectorsError(jsonPath([...issue.path, key]), 'no such key', JSON.stringify(key));
  }
  if (issue.code === 'invalid_key') {
    const key = issue.path[issue.path.length - 1];
    throw new VectorsError(jsonPath(issue.path), 'a slot number 0-17', JSON.stringify(key));
  }
  throw new VectorsError(jsonPath(issue.path), expectedOf(issue), describe(at(raw, issue.path)));
}
