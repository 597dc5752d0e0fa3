/**
 * The written table of the issue-4 matrix: every axis, the rule that excludes each invalid
 * combination, the valid cells, and the summary that docs/matrix.md shows (tests/matrix.test.ts
 * checks that the document shows exactly what this module computes).
 *
 * Axes: IP version × mode × bundle (protocol and algorithm set) × UDP-ESP × LSO × ESN. The raw
 * product is enumerated in full and each combination is either a cell or excluded by the first
 * rule of {@link RULES} that refuses it, so nothing disappears without a named reason.
 */
import type { EncryptionName, IntegrityName } from '../../src/crypto/names.ts';

/** IP version of every header of the cell (tunnel: outer and inner alike). */
export type IpVersion = 4 | 6;

/** transport, tunnel, or a transport SA inside a tunnel SA (reference §1.10). */
export type Mode = 'transport' | 'tunnel' | 'transport-over-tunnel';

/** The bundle under test (reference §1.11: AH+ESP is ESP inside, AH outside). */
export type Protocol = 'esp' | 'ah' | 'ah+esp';

/** Which SA is UDP-encapsulated (RFC 3948): none, the transport SA, or the tunnel SA. */
export type UdpEspChoice = 'off' | 'transport' | 'tunnel';

/** One algorithm set of the issue's algorithm axis. */
export interface AlgorithmSet {
  /** The cell-name label (contract D17 names). */
  readonly label: string;
  /** ESP: encryption (or combined mode) and integrity (null for AES-GCM). */
  readonly encryption: EncryptionName;
  readonly integrity: IntegrityName | null;
  /**
   * The AH algorithm of the set: its integrity algorithm; for a combined-mode set (AES-GCM-k,
   * which has none) the AES-GMAC of the same key size (RFC 4543, GCM's authentication-only form).
   */
  readonly ah: IntegrityName;
}

/** The algorithm axis, in the issue's order. */
export const ALGORITHM_SETS: readonly AlgorithmSet[] = [
  { label: 'aes-gcm-128', encryption: 'aes-gcm-128', integrity: null, ah: 'aes-gmac-128' },
  { label: 'aes-gcm-256', encryption: 'aes-gcm-256', integrity: null, ah: 'aes-gmac-256' },
  {
    label: 'aes-cbc-128+hmac-sha1-96',
    encryption: 'aes-cbc-128',
    integrity: 'hmac-sha1-96',
    ah: 'hmac-sha1-96',
  },
  {
    label: 'aes-cbc-256+hmac-sha256-128',
    encryption: 'aes-cbc-256',
    integrity: 'hmac-sha256-128',
    ah: 'hmac-sha256-128',
  },
  {
    label: '3des-cbc+hmac-md5-96',
    encryption: '3des-cbc',
    integrity: 'hmac-md5-96',
    ah: 'hmac-md5-96',
  },
  { label: 'null+hmac-sha1-96', encryption: 'null', integrity: 'hmac-sha1-96', ah: 'hmac-sha1-96' },
  // RFC 4543: ESP with AES-GMAC is ENCR_NULL_AUTH_AES_GMAC (NULL encryption, GMAC integrity).
  { label: 'aes-gmac-128', encryption: 'null', integrity: 'aes-gmac-128', ah: 'aes-gmac-128' },
];

export const IP_VERSIONS: readonly IpVersion[] = [4, 6];
export const MODES: readonly Mode[] = ['transport', 'tunnel', 'transport-over-tunnel'];
export const PROTOCOLS: readonly Protocol[] = ['esp', 'ah', 'ah+esp'];
export const UDP_ESP: readonly UdpEspChoice[] = ['off', 'transport', 'tunnel'];
export const LSO: readonly boolean[] = [false, true];
export const ESN: readonly boolean[] = [false, true];

/** The fixed tunnel SA of transport-over-tunnel cells: ESP AES-GCM-128 (the test's subject is the transport SA). */
export const FIXED_TUNNEL: AlgorithmSet = ALGORITHM_SETS[0];

/** One combination of the raw product. */
export interface Combination {
  readonly ip: IpVersion;
  readonly mode: Mode;
  readonly protocol: Protocol;
  readonly set: AlgorithmSet;
  readonly udpEsp: UdpEspChoice;
  readonly lso: boolean;
  readonly esn: boolean;
}

/** A valid combination: a cell of the matrix. */
export interface Cell extends Combination {
  /** e.g. `ipv6 tunnel esp aes-cbc-256+hmac-sha256-128 udp-esp-tunnel lso-off esn-on`. */
  readonly name: string;
  /** The AH algorithm of the bundle under test, or null (ESP only). */
  readonly ah: IntegrityName | null;
  /** The ESP algorithms of the bundle under test, or null (AH only). */
  readonly esp: {
    readonly encryption: EncryptionName;
    readonly integrity: IntegrityName | null;
  } | null;
}

/** An exclusion rule: its id, its statement, and the test it applies. */
export interface Rule {
  readonly id: string;
  readonly text: string;
  readonly excludes: (c: Combination) => boolean;
}

/** The rules, in the order they are applied (the first that refuses names the exclusion). */
export const RULES: readonly Rule[] = [
  {
    id: 'R1 ah-duplicate',
    text:
      "AH authenticates only: an AH cell runs the AH algorithm of its set (the set's integrity " +
      'algorithm; AES-GMAC of the same key size for AES-GCM). AH alone under a set whose AH ' +
      'algorithm an earlier set already has is the same SA again: NULL+HMAC-SHA1-96 (= ' +
      'AES-CBC-128+HMAC-SHA1-96) and AES-GMAC-128 (= AES-GCM-128). Each AH algorithm runs once.',
    excludes: (c) =>
      c.protocol === 'ah' &&
      ALGORITHM_SETS.findIndex((s) => s.ah === c.set.ah) !== ALGORITHM_SETS.indexOf(c.set),
  },
  {
    id: 'R2 udp-esp-no-such-sa',
    text:
      'UDP-ESP names the SA it encapsulates: a transport-mode cell has no tunnel SA and a ' +
      'tunnel-mode cell has no transport SA.',
    excludes: (c) =>
      (c.udpEsp === 'tunnel' && c.mode === 'transport') ||
      (c.udpEsp === 'transport' && c.mode === 'tunnel'),
  },
  {
    id: 'R3 udp-esp-needs-esp',
    text:
      'UDP-ESP (RFC 3948) encapsulates ESP only, never AH: the encapsulated SA must be ESP ' +
      'alone (tx-caps.ts refuses AH with UdpEsp). Transport over a UDP-encapsulated tunnel ' +
      '(type 4) also needs an ESP transport SA (reference §1.9: "transport portion ' +
      'ESP-protected"), so UDP-ESP cells of transport over tunnel have an ESP transport SA.',
    excludes: (c) => c.udpEsp !== 'off' && c.protocol !== 'esp',
  },
  {
    id: 'R4 lso-not-tunnel',
    text:
      'LSO is for TCP in transport mode only: never for tunnel packets, transport over tunnel ' +
      'included (contract D2, D12; reference §1.6).',
    excludes: (c) => c.lso && c.mode !== 'transport',
  },
];

/** The first rule that excludes `c`, or null when `c` is a cell. */
export function exclusionOf(c: Combination): Rule | null {
  return RULES.find((r) => r.excludes(c)) ?? null;
}

function onOff(b: boolean): string {
  return b ? 'on' : 'off';
}

/** The cell name (without the offload/software suffix the test adds). */
export function cellName(c: Combination): string {
  const alg =
    c.protocol === 'esp'
      ? c.set.label
      : c.protocol === 'ah'
        ? c.set.ah
        : `esp:${c.set.label} ah:${c.set.ah}`;
  const udp = c.udpEsp === 'off' ? 'udp-esp-off' : `udp-esp-${c.udpEsp}`;
  return `ipv${c.ip} ${c.mode} ${c.protocol} ${alg} ${udp} lso-${onOff(c.lso)} esn-${onOff(c.esn)}`;
}

/** Every combination of the raw product, in axis order. */
export function combinations(): Combination[] {
  const out: Combination[] = [];
  for (const ip of IP_VERSIONS)
    for (const mode of MODES)
      for (const protocol of PROTOCOLS)
        for (const set of ALGORITHM_SETS)
          for (const udpEsp of UDP_ESP)
            for (const lso of LSO)
              for (const esn of ESN) out.push({ ip, mode, protocol, set, udpEsp, lso, esn });
  return out;
}

/** The valid cells, in axis order. */
export function validCells(): Cell[] {
  return combinations()
    .filter((c) => exclusionOf(c) === null)
    .map((c): Cell => ({
      ...c,
      name: cellName(c),
      ah: c.protocol === 'esp' ? null : c.set.ah,
      esp:
        c.protocol === 'ah' ? null : { encryption: c.set.encryption, integrity: c.set.integrity },
    }));
}

/** Markdown of the table that docs/matrix.md shows between its `matrix table` markers. */
export function renderTable(): string {
  const cells = validCells();
  const perIpEsn = IP_VERSIONS.length * ESN.length;
  const rows = new Map<string, { key: string[]; algs: string[]; n: number }>();
  for (const c of cells) {
    if (c.ip !== IP_VERSIONS[0] || c.esn !== ESN[0]) continue;
    const udp = c.udpEsp === 'off' ? 'off' : `on (${c.udpEsp} SA)`;
    const key = [c.mode, c.protocol, udp, onOff(c.lso)];
    const k = key.join('|');
    const alg =
      c.protocol === 'esp'
        ? c.set.label
        : c.protocol === 'ah'
          ? c.set.ah
          : `${c.set.label} / AH ${c.set.ah}`;
    const row = rows.get(k) ?? { key, algs: [], n: 0 };
    row.algs.push(alg);
    row.n++;
    rows.set(k, row);
  }
  const lines = [
    '| mode | bundle | algorithms (ESP set / AH) | UDP-ESP | LSO | per IP×ESN | cells |',
    '|---|---|---|---|---|---:|---:|',
  ];
  for (const r of rows.values()) {
    const [mode, protocol, udp, lso] = r.key;
    if (r.n === ALGORITHM_SETS.length) {
      r.algs = [protocol === 'esp' ? 'all 7 sets' : 'all 7 sets, each with its AH algorithm'];
    }
    lines.push(
      `| ${mode} | ${protocol} | ${r.algs.join(', ')} | ${udp} | ${lso} | ${r.n} | ${r.n * perIpEsn} |`
    );
  }
  const all = combinations();
  lines.push(`| **all** | | | | | **${cells.length / perIpEsn}** | **${cells.length}** |`);
  lines.push('');
  lines.push('| rule | what it excludes | combinations excluded |');
  lines.push('|---|---|---:|');
  for (const r of RULES) {
    const n = all.filter((c) => exclusionOf(c) === r).length;
    lines.push(`| ${r.id} | ${r.text} | ${n} |`);
  }
  lines.push(
    `| **raw product** ${all.length} | **excluded** ${all.length - cells.length} | **valid ${cells.length}** |`
  );
  lines.push('');
  lines.push('Cells per axis value:');
  lines.push('');
  const axes: [string, (c: Cell) => string][] = [
    ['IP version', (c) => `IPv${c.ip}`],
    ['mode', (c) => c.mode],
    ['bundle', (c) => c.protocol],
    ['ESP set', (c) => (c.protocol === 'ah' ? '' : c.set.label)],
    ['AH algorithm', (c) => c.ah ?? ''],
    ['UDP-ESP on SA', (c) => c.udpEsp],
    ['LSO', (c) => `lso-${onOff(c.lso)}`],
    ['ESN', (c) => `esn-${onOff(c.esn)}`],
  ];
  for (const [axis, value] of axes) {
    const counts = new Map<string, number>();
    for (const c of cells) {
      const v = value(c);
      if (v !== '') counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    lines.push(`- ${axis}: ${[...counts].map(([v, n]) => `${v} ${n}`).join(', ')}`);
  }
  lines.push('');
  lines.push(
    `Valid cells: **${cells.length}**, each run twice (offload and software): **${2 * cells.length}** runs.`
  );
  return lines.join('\n') + '\n';
}
