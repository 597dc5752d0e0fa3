/**
 * @module
 * The shape of a scenario file (docs/scenarios.md) as a zod schema, and its first error as
 * `<json path>: expected <…>, got <…>`. Only the shape of each field is checked here; checks that
 * need two fields (a flow naming an unknown SA, endpoints, LSO on a tunnel, …) are in
 * `scenario-check.ts`. Algorithm names are contract D17's.
 */
import * as z from 'zod';
import {
  ENCRYPTION_NAMES,
  INTEGRITY_NAMES,
  type EncryptionName,
  type IntegrityName,
} from '../crypto/names.ts';
import { FAULT_KINDS, type FaultKind } from '../sim/faults.ts';
import { describeValue, jsonPath } from './scenario-path.ts';

/** A leaf of the schema: `test` decides, `expected` says what it wanted. */
function leaf<T>(test: (v: unknown) => boolean, expected: string): z.ZodType<T> {
  return z.custom<T>(test, { error: expected });
}

function oneOf<T extends string | number | null>(
  values: readonly T[],
  what = 'one of'
): z.ZodType<T> {
  const shown = values.map((v) => (v === null ? 'null' : String(v))).join(', ');
  return leaf<T>((v) => values.includes(v as T), `expected ${what} ${shown}`);
}

function int(min: number, max: number): z.ZodType<number> {
  return leaf<number>(
    (v) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max,
    `expected an integer from ${min} to ${max}`
  );
}

const bool = leaf<boolean>((v) => typeof v === 'boolean', 'expected true or false');
const probability = leaf<number>(
  (v) => typeof v === 'number' && v >= 0 && v <= 1,
  'expected a number from 0 to 1'
);
const name = leaf<string>(
  (v) => typeof v === 'string' && /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v),
  'expected a name (letters, digits, ".", "_", "-"; at most 64)'
);
const mac = leaf<string>(
  (v) => typeof v === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v),
  'expected a MAC address "xx:xx:xx:xx:xx:xx"'
);
/** Parsed and checked by scenario-check.ts with the wire codecs. */
const address = leaf<string>((v) => typeof v === 'string', 'expected an IPv4 or IPv6 address');
const hex = leaf<string>(
  (v) => typeof v === 'string' && /^(0x)?([0-9a-f]{2})*$/i.test(v),
  'expected a hex string of whole bytes'
);
const spiValue = leaf<string | number>(
  (v) =>
    (typeof v === 'number' && Number.isSafeInteger(v) && v >= 256 && v <= 0xffff_ffff) ||
    (typeof v === 'string' && /^0x[0-9a-f]{1,8}$/i.test(v) && Number.parseInt(v, 16) >= 256),
  'expected an SPI from 256 to 0xffffffff ("0x…" hex string or integer)'
);
const sequence = leaf<string | number>(
  (v) =>
    (typeof v === 'number' && Number.isSafeInteger(v) && v >= 1) ||
    (typeof v === 'string' &&
      (/^[1-9][0-9]{0,19}$/.test(v) || /^0x[0-9a-f]{1,16}$/i.test(v)) &&
      BigInt(v) >= 1n &&
      BigInt(v) < 2n ** 64n),
  'expected a sequence number from 1 to 2^64-1 (integer, decimal string or "0x…" string)'
);

function object<T extends z.ZodRawShape>(shape: T): z.ZodObject<T, z.core.$strict> {
  const keys = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (issue) =>
      issue.code === 'unrecognized_keys'
        ? `expected one of the keys ${keys}`
        : 'expected an object',
  });
}

function array<T extends z.ZodType>(item: T, min = 0): z.ZodArray<T> {
  return z
    .array(item, { error: 'expected an array' })
    .min(min, { error: `expected an array of at least ${min}` });
}

function record<T extends z.ZodType>(value: T): z.ZodRecord<z.ZodString, T> {
  return z.record(z.string(), value, { error: 'expected an object' });
}

const encryption = oneOf<EncryptionName>(ENCRYPTION_NAMES);
const integrity = oneOf<(typeof INTEGRITY_NAMES)[number] | null>([null, ...INTEGRITY_NAMES]);
const algorithmList = <N extends string>(names: readonly N[]): z.ZodType<N[] | number> =>
  z.union([array(oneOf<N>(names)), int(0, 0xffff_ffff)], {
    error: `expected an array of names (${names.join(', ')}) or a bit mask`,
  });

/** NDIS_IPSEC_OFFLOAD_V2 members by Microsoft's names and by friendly names, and host options. */
const nic: z.ZodType<NicOverrides> = object({
  receiveOffload: bool.optional(),
  Encapsulation: int(0, 0xffff_ffff).optional(),
  IPv6Supported: bool.optional(),
  IPv4Options: bool.optional(),
  IPv6NonIPsecExtensionHeaders: bool.optional(),
  Ah: bool.optional(),
  Esp: bool.optional(),
  AhEspCombined: bool.optional(),
  Transport: bool.optional(),
  Tunnel: bool.optional(),
  TransportTunnelCombined: bool.optional(),
  LsoSupported: bool.optional(),
  ExtendedSequenceNumbers: bool.optional(),
  UdpEsp: int(0, 0xffff_ffff).optional(),
  AuthenticationAlgorithms: algorithmList(INTEGRITY_NAMES).optional(),
  EncryptionAlgorithms: algorithmList(ENCRYPTION_NAMES).optional(),
  SaOffloadCapacity: int(0, 0xffff_ffff).optional(),
  ipv6: bool.optional(),
  ah: bool.optional(),
  esp: bool.optional(),
  ahEsp: bool.optional(),
  transport: bool.optional(),
  tunnel: bool.optional(),
  transportOverTunnel: bool.optional(),
  lso: bool.optional(),
  esn: bool.optional(),
  udpEsp: int(0, 0xffff_ffff).optional(),
  integrity: algorithmList(INTEGRITY_NAMES).optional(),
  encryption: algorithmList(ENCRYPTION_NAMES).optional(),
  capacity: int(0, 0xffff_ffff).optional(),
  tcpChecksumCoexistence: bool.optional(),
  udpChecksumCoexistence: bool.optional(),
  lsoV1: bool.optional(),
  lsoV2: bool.optional(),
});

const host: z.ZodType<HostFile> = object({
  mac,
  ipv4: address.optional(),
  ipv6: address.optional(),
  nic: nic.optional(),
});

const sa: z.ZodType<SaFile> = object({
  name,
  from: name,
  to: name,
  protocol: oneOf(['esp', 'ah', 'ah+esp'] as const),
  mode: oneOf(['transport', 'tunnel'] as const).optional(),
  encryption: encryption.optional(),
  integrity: integrity.optional(),
  ahIntegrity: integrity.optional(),
  icvLength: oneOf([8, 12, 16] as const).optional(),
  spi: z.union([spiValue, object({ esp: spiValue, ah: spiValue })], {
    error: 'expected an SPI ("0x…" hex string or integer) or {"esp": SPI, "ah": SPI}',
  }),
  esn: bool.optional(),
  initialSequence: sequence.optional(),
  replayWindow: int(1, 65536).optional(),
  udpEncapsulation: object({
    srcPort: int(1, 65535).optional(),
    dstPort: int(1, 65535).optional(),
  })
    .nullable()
    .optional(),
  ip: oneOf([4, 6] as const).optional(),
  source: address.optional(),
  destination: address.optional(),
  keys: object({
    encryption: hex.optional(),
    integrity: hex.optional(),
    ahIntegrity: hex.optional(),
  }).optional(),
});

const flow: z.ZodType<FlowFile> = object({
  name,
  from: name,
  to: name,
  ip: oneOf([4, 6] as const).optional(),
  l4: oneOf(['tcp', 'udp'] as const),
  sa: name.optional(),
  tunnelSa: name.optional(),
  srcPort: int(1, 65535).optional(),
  dstPort: int(1, 65535).optional(),
  bytes: int(1, 1 << 30),
  writeSize: int(1, 1 << 30).optional(),
  lso: object({ version: oneOf([1, 2] as const), mss: int(88, 65535).optional() }).optional(),
});

const faults: z.ZodType<FaultsFile> = object({
  probabilities: object(
    Object.fromEntries(FAULT_KINDS.map((k) => [k, probability.optional()])) as Record<
      (typeof FAULT_KINDS)[number],
      z.ZodOptional<z.ZodType<number>>
    >
  ).optional(),
  schedule: array(
    object({
      index: int(0, 2 ** 31),
      kind: oneOf(FAULT_KINDS),
      hold: int(1, 1 << 16).optional(),
      offset: int(0, 65535).optional(),
      xor: int(1, 255).optional(),
      length: int(0, 65535).optional(),
    })
  ).optional(),
  hold: int(1, 1 << 16).optional(),
});

const scenario: z.ZodType<ScenarioFile> = object({
  description: leaf<string>((v) => typeof v === 'string', 'expected a string').optional(),
  seed: int(0, Number.MAX_SAFE_INTEGER).optional(),
  hosts: record(host),
  nic: nic.optional(),
  sas: array(sa).optional(),
  flows: array(flow, 1),
  link: object({
    mtu: int(576, 9000).optional(),
    bitsPerSecond: int(1_000_000, 1_000_000_000_000).optional(),
    latencyNanos: int(0, 1_000_000_000).optional(),
    faults: record(faults).optional(),
    nat: object({ publicAddress: address }).optional(),
  }).optional(),
});

type Opt<T> = T | undefined;
type IntegrityOrNull = IntegrityName | null;

/** NDIS_IPSEC_OFFLOAD_V2 overrides by Microsoft's or friendly names, and `receiveOffload`. */
export interface NicOverrides {
  receiveOffload?: Opt<boolean>;
  Encapsulation?: Opt<number>;
  IPv6Supported?: Opt<boolean>;
  IPv4Options?: Opt<boolean>;
  IPv6NonIPsecExtensionHeaders?: Opt<boolean>;
  Ah?: Opt<boolean>;
  Esp?: Opt<boolean>;
  AhEspCombined?: Opt<boolean>;
  Transport?: Opt<boolean>;
  Tunnel?: Opt<boolean>;
  TransportTunnelCombined?: Opt<boolean>;
  LsoSupported?: Opt<boolean>;
  ExtendedSequenceNumbers?: Opt<boolean>;
  UdpEsp?: Opt<number>;
  AuthenticationAlgorithms?: Opt<IntegrityName[] | number>;
  EncryptionAlgorithms?: Opt<EncryptionName[] | number>;
  SaOffloadCapacity?: Opt<number>;
  ipv6?: Opt<boolean>;
  ah?: Opt<boolean>;
  esp?: Opt<boolean>;
  ahEsp?: Opt<boolean>;
  transport?: Opt<boolean>;
  tunnel?: Opt<boolean>;
  transportOverTunnel?: Opt<boolean>;
  lso?: Opt<boolean>;
  esn?: Opt<boolean>;
  udpEsp?: Opt<number>;
  integrity?: Opt<IntegrityName[] | number>;
  encryption?: Opt<EncryptionName[] | number>;
  capacity?: Opt<number>;
  tcpChecksumCoexistence?: Opt<boolean>;
  udpChecksumCoexistence?: Opt<boolean>;
  lsoV1?: Opt<boolean>;
  lsoV2?: Opt<boolean>;
}

/** One host of a scenario file. */
export interface HostFile {
  mac: string;
  ipv4?: Opt<string>;
  ipv6?: Opt<string>;
  nic?: Opt<NicOverrides>;
}

/** An SPI as written: a "0x…" string or an integer. */
export type SpiFile = string | number;

/** One SA of a scenario file. */
export interface SaFile {
  name: string;
  from: string;
  to: string;
  protocol: 'esp' | 'ah' | 'ah+esp';
  mode?: Opt<'transport' | 'tunnel'>;
  encryption?: Opt<EncryptionName>;
  integrity?: Opt<IntegrityOrNull>;
  ahIntegrity?: Opt<IntegrityOrNull>;
  icvLength?: Opt<8 | 12 | 16>;
  spi: SpiFile | { esp: SpiFile; ah: SpiFile };
  esn?: Opt<boolean>;
  initialSequence?: Opt<string | number>;
  replayWindow?: Opt<number>;
  udpEncapsulation?: Opt<{ srcPort?: Opt<number>; dstPort?: Opt<number> } | null>;
  ip?: Opt<4 | 6>;
  source?: Opt<string>;
  destination?: Opt<string>;
  keys?: Opt<{ encryption?: Opt<string>; integrity?: Opt<string>; ahIntegrity?: Opt<string> }>;
}

/** One flow of a scenario file. */
export interface FlowFile {
  name: string;
  from: string;
  to: string;
  ip?: Opt<4 | 6>;
  l4: 'tcp' | 'udp';
  sa?: Opt<string>;
  tunnelSa?: Opt<string>;
  srcPort?: Opt<number>;
  dstPort?: Opt<number>;
  bytes: number;
  writeSize?: Opt<number>;
  lso?: Opt<{ version: 1 | 2; mss?: Opt<number> }>;
}

/** One scheduled fault. */
export interface ScheduledFaultFile {
  index: number;
  kind: FaultKind;
  hold?: Opt<number>;
  offset?: Opt<number>;
  xor?: Opt<number>;
  length?: Opt<number>;
}

/** The faults on the frames one host sends. */
export interface FaultsFile {
  probabilities?: Opt<Partial<Record<FaultKind, Opt<number>>>>;
  schedule?: Opt<ScheduledFaultFile[]>;
  hold?: Opt<number>;
}

/** A scenario file whose every field has the right shape. */
export interface ScenarioFile {
  description?: Opt<string>;
  seed?: Opt<number>;
  hosts: Record<string, HostFile>;
  nic?: Opt<NicOverrides>;
  sas?: Opt<SaFile[]>;
  flows: FlowFile[];
  link?: Opt<{
    mtu?: Opt<number>;
    bitsPerSecond?: Opt<number>;
    latencyNanos?: Opt<number>;
    faults?: Opt<Record<string, FaultsFile>>;
    nat?: Opt<{ publicAddress: string }>;
  }>;
}

/** The `<path>: expected …, got …` text of one zod issue. */
function explain(issue: z.core.$ZodIssue, root: unknown): string {
  let path: PropertyKey[] = issue.path;
  let input: unknown = (issue as { input?: unknown }).input;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0];
    path = [...issue.path, key];
    return `${jsonPath(path)}: ${issue.message}, got an unknown key "${key}"`;
  }
  if (input === undefined && path.length > 0) {
    let at: unknown = root;
    for (const p of path) at = (at as Record<PropertyKey, unknown> | undefined)?.[p];
    input = at;
  }
  const message = issue.message.startsWith('expected')
    ? issue.message
    : `expected ${issue.message}`;
  return `${jsonPath(path)}: ${message}, got ${describeValue(input)}`;
}

/** Checks the shape of `json`; throws a TypeError `<path>: expected …, got …` at the first bad field. */
export function parseScenarioShape(json: unknown): ScenarioFile {
  const r = scenario.safeParse(json, { reportInput: true });
  if (r.success) return r.data;
  throw new TypeError(explain(r.error.issues[0], json));
}
