/**
 * @module
 * A scenario file (docs/scenarios.md) to the two-host system's SystemSpec: the shape is checked
 * by `scenario-schema.ts`, then every check that needs two fields, each error naming the JSON
 * path of the field (`flows[2].sa: expected an SA from a to b, got "back" (from b to a)`).
 * Defaults: mode transport, esn false, initialSequence 1, replayWindow 64, UDP-ESP ports
 * 4500/4500, SA endpoints the hosts' addresses, ports 40000+i → 5000+i, keys from the seed.
 */
import { createHash } from 'node:crypto';
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import { seededRandom } from '../crypto/random.ts';
import { defaultCapabilities } from '../ndis/caps.ts';
import type { HostSpec, LinkSpec, SystemFlow, SystemSa, SystemSpec } from '../sim/system.ts';
import type { AhConfig, EspConfig } from '../transport/policy.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { applyNic } from './scenario-nic.ts';
import { ScenarioError } from './scenario-path.ts';
import { checkFlows } from './scenario-flows.ts';
import { parseScenarioShape, type SaFile, type ScenarioFile } from './scenario-schema.ts';

/** A checked scenario, ready to run. */
export interface Scenario {
  readonly description: string;
  readonly seed: number;
  readonly spec: SystemSpec;
  /** The SAs' keys that came from the seed: `sas[i].keys.<part>` → true. */
  readonly generatedKeys: readonly string[];
}

type Path = readonly PropertyKey[];

/** Parses an address of version `version` (or either when omitted); a ScenarioError if bad. */
export function parseAddress(text: string, path: Path, version?: 4 | 6): Uint8Array {
  const v = version ?? (text.includes(':') ? 6 : 4);
  try {
    return v === 4 ? ipv4.parseAddress(text) : ipv6.parseAddress(text);
  } catch {
    throw new ScenarioError(path, `an IPv${v} address`, text);
  }
}

function same(x: Uint8Array, y: Uint8Array): boolean {
  return x.length === y.length && x.every((b, i) => b === y[i]);
}

function keyBytes(seed: number, sa: string, part: string, length: number): Uint8Array {
  const digest = createHash('sha256').update(`${seed}:scenario-key:${sa}:${part}`).digest();
  const out = new Uint8Array(length);
  seededRandom(digest.readBigUInt64BE(0)).fill(out);
  return out;
}

function spiNumber(v: string | number): number {
  return typeof v === 'number' ? v : Number.parseInt(v, 16);
}

/** The hosts, by name, in file order (the first is host A: the inside of a NAT). */
function hostsOf(file: ScenarioFile): [HostSpec, HostSpec] {
  const names = Object.keys(file.hosts);
  if (names.length !== 2) throw new ScenarioError(['hosts'], 'exactly 2 hosts', names);
  const hosts = names.map((name): HostSpec => {
    const h = file.hosts[name];
    const path = ['hosts', name];
    let caps = defaultCapabilities();
    if (file.nic) caps = applyNic(caps, file.nic, ['nic']);
    if (h.nic) caps = applyNic(caps, h.nic, [...path, 'nic']);
    const receiveOffload = h.nic?.receiveOffload ?? file.nic?.receiveOffload;
    if (h.ipv4 === undefined && h.ipv6 === undefined) {
      throw new ScenarioError(path, 'an ipv4 or ipv6 address', h);
    }
    return {
      name,
      mac: ethernet.parseMac(h.mac),
      ...(h.ipv4 === undefined ? {} : { ipv4: parseAddress(h.ipv4, [...path, 'ipv4'], 4) }),
      ...(h.ipv6 === undefined ? {} : { ipv6: parseAddress(h.ipv6, [...path, 'ipv6'], 6) }),
      capabilities: caps,
      ...(receiveOffload === undefined ? {} : { receiveOffload }),
    };
  });
  return [hosts[0], hosts[1]];
}

/** The key `part` of SA `s`: from the file (checked against `length`) or from the seed. */
function keyOf(
  s: SaFile,
  i: number,
  part: 'encryption' | 'integrity' | 'ahIntegrity',
  length: number,
  algorithm: string,
  seed: number,
  generated: string[]
): Uint8Array {
  const text = s.keys?.[part];
  if (text === undefined) {
    generated.push(`sas[${i}].keys.${part}`);
    return keyBytes(seed, s.name, part, length);
  }
  const bytes = Uint8Array.from(Buffer.from(text.replace(/^0x/i, ''), 'hex'));
  if (bytes.length !== length) {
    throw new ScenarioError(
      ['sas', i, 'keys', part],
      `${length} bytes (${length * 2} hex digits) for ${algorithm}`,
      `${bytes.length} bytes`
    );
  }
  return bytes;
}

function espOf(s: SaFile, i: number, spi: number, seed: number, gen: string[]): EspConfig {
  const path = ['sas', i];
  if (s.encryption === undefined) {
    throw new ScenarioError(
      [...path, 'encryption'],
      `an encryption name for ${s.protocol}`,
      undefined
    );
  }
  const info = encryptionInfo(s.encryption);
  const integrity = s.integrity ?? null;
  if (info.combined && integrity !== null) {
    throw new ScenarioError(
      [...path, 'integrity'],
      `null for ${s.encryption} (a combined mode carries its own ICV)`,
      integrity
    );
  }
  if (!info.combined && integrity === null) {
    throw new ScenarioError(
      [...path, 'integrity'],
      `an integrity name with ${s.encryption}`,
      s.integrity
    );
  }
  if (integrity !== null && integrity.startsWith('aes-gmac') && s.encryption !== 'null') {
    throw new ScenarioError(
      [...path, 'integrity'],
      `an HMAC with ${s.encryption} (RFC 4543: AES-GMAC goes with encryption null only)`,
      integrity
    );
  }
  if (s.icvLength !== undefined && !(info.combined && info.icvLengths.includes(s.icvLength))) {
    throw new ScenarioError(
      [...path, 'icvLength'],
      info.combined ? `one of ${info.icvLengths.join(', ')}` : `nothing for ${s.encryption}`,
      s.icvLength
    );
  }
  return {
    spi,
    encryption: s.encryption,
    integrity,
    encryptionKey: keyOf(s, i, 'encryption', info.keyLength, s.encryption, seed, gen),
    ...(integrity === null
      ? {}
      : {
          integrityKey: keyOf(
            s,
            i,
            'integrity',
            integrityInfo(integrity).keyLength,
            integrity,
            seed,
            gen
          ),
        }),
    ...(s.icvLength === undefined ? {} : { icvLength: s.icvLength }),
  };
}

function ahOf(s: SaFile, i: number, spi: number, seed: number, gen: string[]): AhConfig {
  const field = s.protocol === 'ah' ? 'integrity' : 'ahIntegrity';
  const integrity = s[field];
  if (integrity === undefined || integrity === null) {
    throw new ScenarioError(['sas', i, field], `an integrity name for AH`, integrity);
  }
  return {
    spi,
    integrity,
    integrityKey: keyOf(s, i, field, integrityInfo(integrity).keyLength, integrity, seed, gen),
  };
}

/** The SPIs of `s`: one for ESP or AH, `{esp, ah}` for AH+ESP. */
function spisOf(s: SaFile, i: number): { esp?: number; ah?: number } {
  const path = ['sas', i, 'spi'];
  if (s.protocol === 'ah+esp') {
    if (typeof s.spi !== 'object')
      throw new ScenarioError(path, '{"esp": SPI, "ah": SPI} for ah+esp', s.spi);
    return { esp: spiNumber(s.spi.esp), ah: spiNumber(s.spi.ah) };
  }
  if (typeof s.spi === 'object') throw new ScenarioError(path, `one SPI for ${s.protocol}`, s.spi);
  return s.protocol === 'esp' ? { esp: spiNumber(s.spi) } : { ah: spiNumber(s.spi) };
}

/** The IP version of SA `s`: `ip`, else its `source`'s, else its first flow's, else 4. */
function versionOf(s: SaFile, file: ScenarioFile): 4 | 6 {
  if (s.ip !== undefined) return s.ip;
  const text = s.source ?? s.destination;
  if (text !== undefined) return text.includes(':') ? 6 : 4;
  const f = file.flows.find((x) => x.sa === s.name || x.tunnelSa === s.name);
  return f?.ip ?? 4;
}

function saOf(
  file: ScenarioFile,
  s: SaFile,
  i: number,
  hosts: readonly HostSpec[],
  nat: Uint8Array | undefined,
  seed: number,
  gen: string[]
): SystemSa {
  const path = ['sas', i];
  const names = hosts.map((h) => h.name);
  for (const end of ['from', 'to'] as const) {
    if (!names.includes(s[end])) {
      throw new ScenarioError([...path, end], `a host name (${names.join(', ')})`, s[end]);
    }
  }
  if (s.from === s.to)
    throw new ScenarioError([...path, 'to'], `a host other than ${s.from}`, s.to);
  if (s.protocol === 'ah' && s.encryption !== undefined) {
    throw new ScenarioError([...path, 'encryption'], 'nothing for protocol ah', s.encryption);
  }
  if (s.protocol !== 'ah+esp' && s.ahIntegrity !== undefined) {
    throw new ScenarioError(
      [...path, 'ahIntegrity'],
      `nothing for protocol ${s.protocol}`,
      s.ahIntegrity
    );
  }
  if (s.protocol === 'ah' && s.icvLength !== undefined) {
    throw new ScenarioError([...path, 'icvLength'], 'nothing for protocol ah', s.icvLength);
  }
  const spis = spisOf(s, i);
  const esn = s.esn ?? false;
  const initialSequence = BigInt(s.initialSequence ?? 1);
  if (!esn && initialSequence > 0xffff_ffffn) {
    throw new ScenarioError(
      [...path, 'initialSequence'],
      'at most 4294967295 without esn (a 32-bit sequence number cannot wrap)',
      s.initialSequence
    );
  }
  if (s.udpEncapsulation && s.protocol !== 'esp') {
    throw new ScenarioError(
      [...path, 'udpEncapsulation'],
      `null for protocol ${s.protocol} (only ESP is UDP-encapsulated, RFC 3948)`,
      s.udpEncapsulation
    );
  }
  const v = versionOf(s, file);
  const from = hosts[names.indexOf(s.from)];
  const to = hosts[names.indexOf(s.to)];
  const own = (h: HostSpec, end: string): Uint8Array => {
    const a = v === 4 ? h.ipv4 : h.ipv6;
    if (a === undefined)
      throw new ScenarioError([...path, end], `host ${h.name} to have an ipv${v} address`, h.name);
    return a;
  };
  // Behind a NAT (host A = hosts[0]), the peer sends to the NAT's public address.
  const toAddress = (): Uint8Array =>
    nat !== undefined && v === 4 && to === hosts[0] ? nat : own(to, 'to');
  const source =
    s.source === undefined ? own(from, 'from') : parseAddress(s.source, [...path, 'source'], v);
  const destination =
    s.destination === undefined
      ? toAddress()
      : parseAddress(s.destination, [...path, 'destination'], v);
  const mode = s.mode ?? 'transport';
  if (mode === 'transport') {
    if (!same(source, own(from, 'from'))) {
      throw new ScenarioError(
        [...path, 'source'],
        `host ${from.name}'s address (transport mode)`,
        s.source
      );
    }
    if (!same(destination, toAddress())) {
      throw new ScenarioError(
        [...path, 'destination'],
        `host ${to.name}'s address${toAddress() === nat ? " as the NAT's public address" : ''} (transport mode)`,
        s.destination
      );
    }
  }
  const u = s.udpEncapsulation;
  return {
    name: s.name,
    from: s.from,
    protocol: s.protocol,
    mode,
    ...(spis.esp === undefined ? {} : { esp: espOf(s, i, spis.esp, seed, gen) }),
    ...(spis.ah === undefined ? {} : { ah: ahOf(s, i, spis.ah, seed, gen) }),
    esn,
    initialSequence,
    replayWindow: s.replayWindow ?? 64,
    udpEncapsulation: u ? { srcPort: u.srcPort ?? 4500, dstPort: u.dstPort ?? 4500 } : null,
    source,
    destination,
  };
}

/** Names must be unique: the path of the first repeat. */
function unique(items: readonly { name: string }[], where: string): void {
  const seen = new Map<string, number>();
  items.forEach((x, i) => {
    const first = seen.get(x.name);
    if (first !== undefined) {
      throw new ScenarioError([where, i, 'name'], `a name not used by ${where}[${first}]`, x.name);
    }
    seen.set(x.name, i);
  });
}

function linkOf(
  file: ScenarioFile,
  hosts: readonly HostSpec[],
  nat: Uint8Array | undefined
): LinkSpec {
  const link = file.link ?? {};
  const out: { -readonly [K in keyof LinkSpec]: LinkSpec[K] } = {};
  if (link.mtu !== undefined) out.mtu = link.mtu;
  if (link.bitsPerSecond !== undefined) out.bitsPerSecond = link.bitsPerSecond;
  if (link.latencyNanos !== undefined) out.latencyNanos = link.latencyNanos;
  if (nat !== undefined) out.natPublicAddress = nat;
  for (const [name, f] of Object.entries(link.faults ?? {})) {
    const at = hosts.findIndex((h) => h.name === name);
    if (at < 0) {
      throw new ScenarioError(
        ['link', 'faults', name],
        `a host name (${hosts.map((h) => h.name).join(', ')}) as the key`,
        name
      );
    }
    const options = {
      ...(f.probabilities === undefined
        ? {}
        : {
            probabilities: Object.fromEntries(
              Object.entries(f.probabilities).filter(([, p]) => p !== undefined)
            ) as Record<string, number>,
          }),
      ...(f.schedule === undefined
        ? {}
        : {
            schedule: f.schedule.map(
              (e) =>
                Object.fromEntries(Object.entries(e).filter(([, x]) => x !== undefined)) as never
            ),
          }),
      ...(f.hold === undefined ? {} : { hold: f.hold }),
    };
    if (at === 0) out.faultsAToB = options;
    else out.faultsBToA = options;
  }
  return out;
}

/** Checks a parsed scenario file and builds its SystemSpec; a ScenarioError names the bad field. */
export function resolveScenario(file: ScenarioFile, seedOverride?: number): Scenario {
  const seed = seedOverride ?? file.seed ?? 1;
  const hosts = hostsOf(file);
  let nat: Uint8Array | undefined;
  if (file.link?.nat !== undefined) {
    nat = parseAddress(file.link.nat.publicAddress, ['link', 'nat', 'publicAddress'], 4);
    if (hosts[0].ipv4 === undefined) {
      throw new ScenarioError(
        ['link', 'nat'],
        `host ${hosts[0].name} (the inside host) to have an ipv4 address`,
        file.link.nat
      );
    }
  }
  const sasFile = file.sas ?? [];
  unique(sasFile, 'sas');
  unique(file.flows, 'flows');
  const generated: string[] = [];
  const sas = sasFile.map((s, i) => saOf(file, s, i, hosts, nat, seed, generated));
  checkSpis(sas);
  const flows: SystemFlow[] = checkFlows(file, hosts, sas, nat);
  return {
    description: file.description ?? '',
    seed,
    spec: { seed, hosts, sas, flows, link: linkOf(file, hosts, nat), capture: true },
    generatedKeys: generated,
  };
}

/** SPIs must be unique per receiving host and protocol (RFC 4301 §4.1: the SAD lookup). */
function checkSpis(sas: readonly SystemSa[]): void {
  const seen = new Map<string, number>();
  sas.forEach((s, i) => {
    for (const [protocol, spi] of [
      ['esp', s.esp?.spi],
      ['ah', s.ah?.spi],
    ] as const) {
      if (spi === undefined) continue;
      const key = `${s.from}/${protocol}/${spi}`;
      const first = seen.get(key);
      if (first !== undefined) {
        const path = s.protocol === 'ah+esp' ? ['sas', i, 'spi', protocol] : ['sas', i, 'spi'];
        throw new ScenarioError(
          path,
          `an ${protocol} SPI not used by sas[${first}] in the same direction`,
          `0x${spi.toString(16)}`
        );
      }
      seen.set(key, i);
    }
  });
}

/** Parses and checks a scenario from its JSON value; throws a TypeError naming the bad field. */
export function loadScenario(json: unknown, seedOverride?: number): Scenario {
  return resolveScenario(parseScenarioShape(json), seedOverride);
}
