/**
 * @module
 * report.json of `ipsecov2 run` and its human summary: per flow what was sent and delivered with
 * the sha256 of the application bytes in order; per SA its packets and bytes and who did the
 * IPsec work (the sending NIC or software, and the receiving NIC or software); NBL completions by
 * NDIS_STATUS name; drops by reason; the faults the link injected; the NAT's counters.
 */
import type { System, SystemResult } from '../sim/system.ts';

/** One flow of report.json. */
export interface FlowReport {
  readonly name: string;
  readonly from: string;
  readonly to: string;
  readonly l4: string;
  readonly ip: number;
  readonly packetsSent: number;
  readonly bytesSent: number;
  readonly packetsDelivered: number;
  readonly bytesDelivered: number;
  readonly sentSha256: string;
  readonly deliveredSha256: string;
  /** deliveredSha256 === sentSha256. */
  readonly match: boolean;
  readonly sendFailures: number;
  readonly lossGaps: number;
  readonly lossBytes: number;
  readonly drops: Readonly<Record<string, number>>;
}

/** Where one side of an SA was processed: by the NIC, or in software and why. */
export interface SideReport {
  readonly host: string;
  readonly processing: 'offloaded' | 'software';
  /** Why the NIC does not hold the bundle (`capability:<member>`, `capacity`, …), or null. */
  readonly why: string | null;
}

/** One SA of report.json. */
export interface SaReport {
  readonly name: string;
  readonly protocol: string;
  readonly mode: string;
  readonly spi: string;
  /** Frames sent through the SA, by who did the IPsec work. */
  readonly packets: number;
  readonly packetsOffloaded: number;
  readonly packetsSoftware: number;
  /** Application bytes of the flows the SA carried (successfully completed sends). */
  readonly bytes: number;
  readonly sender: SideReport;
  readonly receiver: SideReport;
}

/** report.json. */
export interface Report {
  readonly description: string;
  readonly seed: number;
  /** The scenario's key fields that were absent and came from the seed (`sas[0].keys.encryption`). */
  readonly keysFromSeed: readonly string[];
  readonly ok: boolean;
  readonly frames: number;
  readonly flows: readonly FlowReport[];
  readonly sas: readonly SaReport[];
  /** Per sending host: NBL completions by NDIS_STATUS name. */
  readonly nblCompletions: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Per receiving host: packets the receiver dropped, by reason. */
  readonly drops: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Per direction (`a->b`): the fault injector's counters, when the link has faults. */
  readonly faults: Readonly<Record<string, Readonly<Record<string, number>>>>;
  readonly nat: Readonly<Record<string, number>> | null;
  /** Each NIC's named counters. */
  readonly nics: Readonly<Record<string, Readonly<Record<string, number>>>>;
}

function hexSpi(spi: number): string {
  return `0x${spi.toString(16).padStart(8, '0')}`;
}

function sorted(r: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(r).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
}

/** Builds report.json from a system that has run and its result. */
export function buildReport(
  system: System,
  result: SystemResult,
  description: string,
  keysFromSeed: readonly string[] = []
): Report {
  const spec = system.spec;
  const sides = [system.a, system.b];
  const sideOf = (name: string): (typeof sides)[number] =>
    sides.find((s) => s.spec.name === name) ?? sides[0];
  const other = (name: string): string => sides.find((s) => s.spec.name !== name)!.spec.name;
  const flows = spec.flows.map((flow, i): FlowReport => {
    const r = result.flows[i];
    return {
      name: r.name,
      from: flow.from,
      to: flow.to,
      l4: flow.l4,
      ip: flow.ipVersion,
      packetsSent: r.packetsSent,
      bytesSent: r.bytesSent,
      packetsDelivered: r.packetsDelivered,
      bytesDelivered: r.bytesDelivered,
      sentSha256: r.sentSha256,
      deliveredSha256: r.deliveredSha256,
      match: r.deliveredSha256 === r.sentSha256,
      sendFailures: r.sendFailures,
      lossGaps: r.lossGaps,
      lossBytes: r.lossBytes,
      drops: sorted(r.drops),
    };
  });
  const sas = spec.sas.map((sa, i): SaReport => {
    const from = sideOf(sa.from);
    const to = sideOf(other(sa.from));
    const out = from.host.sadb.states().filter((s) => !s.inbound && s.config.name === sa.name);
    const inn = to.host.sadb.states().filter((s) => s.inbound && s.config.name === sa.name);
    const side = (host: string, states: typeof out): SideReport => {
      const s = states.at(-1);
      const offloaded = s?.offloaded ?? false;
      return {
        host,
        processing: offloaded ? 'offloaded' : 'software',
        why: offloaded ? null : (s?.why ?? 'not added'),
      };
    };
    const offloaded = out.reduce((n, s) => n + s.counters.offloaded, 0);
    const software = out.reduce((n, s) => n + s.counters.software, 0);
    const bytes = spec.flows.reduce(
      (n, f, k) => (f.sa === sa.name || f.tunnelSa === sa.name ? n + flows[k].bytesSent : n),
      0
    );
    const spis = [sa.esp?.spi, sa.ah?.spi].filter((x): x is number => x !== undefined);
    return {
      name: spec.sas[i].name,
      protocol: sa.protocol,
      mode: sa.mode,
      spi: spis.map(hexSpi).join('+'),
      packets: offloaded + software,
      packetsOffloaded: offloaded,
      packetsSoftware: software,
      bytes,
      sender: side(from.spec.name, out),
      receiver: side(to.spec.name, inn),
    };
  });
  const nblCompletions: Record<string, Record<string, number>> = {};
  for (const side of sides) {
    const counts: Record<string, number> = {};
    const mine = spec.flows.filter((f) => f.from === side.spec.name);
    const ok = mine.reduce((n, f) => n + side.host.flow(f.name).counters.nblsSent, 0);
    if (ok > 0) counts['NDIS_STATUS_SUCCESS'] = ok;
    for (const f of side.host.failures) {
      if (f.reason !== 'nic') continue;
      counts[f.statusName] = (counts[f.statusName] ?? 0) + 1;
    }
    nblCompletions[side.spec.name] = sorted(counts);
  }
  const drops: Record<string, Record<string, number>> = {};
  for (const [host, d] of Object.entries(result.receiverDrops)) drops[host] = sorted(d);
  const faults: Record<string, Record<string, number>> = {};
  const [a, b] = [system.a.spec.name, system.b.spec.name];
  if (system.faults.aToB) faults[`${a}->${b}`] = { ...system.faults.aToB.counters };
  if (system.faults.bToA) faults[`${b}->${a}`] = { ...system.faults.bToA.counters };
  const nics: Record<string, Record<string, number>> = {};
  for (const [host, c] of Object.entries(result.nics)) nics[host] = sorted(c);
  return {
    description,
    seed: spec.seed,
    keysFromSeed,
    ok: flows.every((f) => f.match),
    frames: result.frames,
    flows,
    sas,
    nblCompletions,
    drops,
    faults,
    nat: system.nat ? { ...system.nat.counters } : null,
    nics,
  };
}

function table(rows: readonly (readonly string[])[]): string[] {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) =>
    r
      .map((cell, c) =>
        c === 0 || /[a-z]/i.test(cell) ? cell.padEnd(widths[c]) : cell.padStart(widths[c])
      )
      .join('  ')
      .trimEnd()
  );
}

function counts(r: Readonly<Record<string, number>>): string {
  const e = Object.entries(r).filter(([, n]) => n > 0);
  return e.length === 0 ? 'none' : e.map(([k, n]) => `${k} ${n}`).join(', ');
}

/** The human summary: flows, SAs, completions, drops, faults, and a last line `ok` or what failed. */
export function summarize(report: Report): string {
  const out: string[] = [];
  out.push(
    ...table([
      ['flow', 'path', 'sent', 'bytes', 'delivered', 'bytes', 'sha256'],
      ...report.flows.map((f) => [
        f.name,
        `${f.from}->${f.to} ${f.l4}/ipv${f.ip}`,
        String(f.packetsSent),
        String(f.bytesSent),
        String(f.packetsDelivered),
        String(f.bytesDelivered),
        f.match ? 'match' : 'DIFFERS',
      ]),
    ])
  );
  if (report.sas.length > 0) {
    out.push('');
    out.push(
      ...table([
        ['sa', 'protocol', 'spi', 'packets', 'bytes', 'sender', 'receiver'],
        ...report.sas.map((s) => [
          s.name,
          `${s.protocol} ${s.mode}`,
          s.spi,
          String(s.packets),
          String(s.bytes),
          `${s.sender.host} ${s.sender.processing}${s.sender.why ? ` (${s.sender.why})` : ''}`,
          `${s.receiver.host} ${s.receiver.processing}${s.receiver.why ? ` (${s.receiver.why})` : ''}`,
        ]),
      ])
    );
  }
  out.push('');
  for (const [host, c] of Object.entries(report.nblCompletions)) {
    out.push(`NBL completions ${host}: ${counts(c)}`);
  }
  for (const [host, d] of Object.entries(report.drops)) out.push(`drops at ${host}: ${counts(d)}`);
  for (const [dir, c] of Object.entries(report.faults)) {
    const { frames, forwarded, ...kinds } = c;
    out.push(`faults ${dir}: ${counts(kinds)} (${frames} frames in, ${forwarded} out)`);
  }
  if (report.nat) out.push(`nat: ${counts(report.nat)}`);
  out.push(`${report.frames} frames on the link`);
  const bad = report.flows.filter((f) => !f.match);
  out.push(
    bad.length === 0
      ? 'ok'
      : `FAILED: ${bad
          .map(
            (f) => `${f.name} delivered ${f.bytesDelivered} of ${f.bytesSent} bytes, sha256 differs`
          )
          .join('; ')}`
  );
  return `${out.join('\n')}\n`;
}
