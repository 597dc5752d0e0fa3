/**
 * @module
 * A scenario's flows checked against its hosts and SAs (docs/scenarios.md): hosts known and
 * distinct, the SA's direction is the flow's, a transport SA of the flow's IP version, `tunnelSa`
 * a tunnel-mode SA under a transport-mode `sa`, LSO only for TCP without a tunnel (contract D2)
 * and LSOv1 only over IPv4, UDP datagrams that fit an IP packet, distinct ports, and flows
 * from the outside into a NAT carried by UDP-ESP.
 */
import type { HostSpec, SystemFlow, SystemSa } from '../sim/system.ts';
import { ScenarioError } from './scenario-path.ts';
import type { ScenarioFile } from './scenario-schema.ts';

/** The largest UDP payload a scenario may write at once (an IPv4 datagram of 65,535 bytes less headers and IPsec). */
export const MAX_DATAGRAM = 65000;

/** Checks `file.flows` and builds the SystemFlows; a ScenarioError names the bad field. */
export function checkFlows(
  file: ScenarioFile,
  hosts: readonly HostSpec[],
  sas: readonly SystemSa[],
  nat: Uint8Array | undefined
): SystemFlow[] {
  const names = hosts.map((h) => h.name);
  const tuples = new Map<string, number>();
  return file.flows.map((f, i): SystemFlow => {
    const path = ['flows', i];
    for (const end of ['from', 'to'] as const) {
      if (!names.includes(f[end])) {
        throw new ScenarioError([...path, end], `a host name (${names.join(', ')})`, f[end]);
      }
    }
    if (f.from === f.to)
      throw new ScenarioError([...path, 'to'], `a host other than ${f.from}`, f.to);
    const v = f.ip ?? 4;
    const from = hosts[names.indexOf(f.from)];
    const to = hosts[names.indexOf(f.to)];
    for (const h of [from, to]) {
      if ((v === 4 ? h.ipv4 : h.ipv6) === undefined) {
        throw new ScenarioError([...path, 'ip'], `a version host ${h.name} has an address of`, v);
      }
    }
    const find = (field: 'sa' | 'tunnelSa'): SystemSa | undefined => {
      const n = f[field];
      if (n === undefined) return undefined;
      const s = sas.find((x) => x.name === n);
      if (s === undefined) {
        throw new ScenarioError(
          [...path, field],
          `the name of an SA (${sas.map((x) => x.name).join(', ') || 'none defined'})`,
          n
        );
      }
      const sFrom = s.from;
      const sTo = names.find((x) => x !== sFrom);
      if (sFrom !== f.from || sTo !== f.to) {
        throw new ScenarioError(
          [...path, field],
          `an SA from ${f.from} to ${f.to}`,
          `${n} (from ${sFrom} to ${sTo})`
        );
      }
      return s;
    };
    if (f.sa === undefined) {
      throw new ScenarioError(
        [...path, 'sa'],
        'the name of an SA (flows in clear are not modelled)',
        undefined
      );
    }
    const sa = find('sa');
    const tunnel = find('tunnelSa');
    if (tunnel !== undefined) {
      if (sa === undefined) {
        throw new ScenarioError(
          [...path, 'sa'],
          'a transport-mode SA with tunnelSa (a tunnel-only flow names its SA in sa)',
          undefined
        );
      }
      if (tunnel.mode !== 'tunnel')
        throw new ScenarioError(
          [...path, 'tunnelSa'],
          'a tunnel-mode SA',
          `${tunnel.name} (transport mode)`
        );
      if (sa.mode !== 'transport')
        throw new ScenarioError(
          [...path, 'sa'],
          'a transport-mode SA under tunnelSa',
          `${sa.name} (tunnel mode)`
        );
    }
    if (sa?.mode === 'transport' && sa.source.length !== (v === 4 ? 4 : 16)) {
      throw new ScenarioError(
        [...path, 'ip'],
        `${sa.source.length === 4 ? 4 : 6}, the version of transport-mode SA ${sa.name}`,
        v
      );
    }
    const tunnelled = tunnel !== undefined || sa?.mode === 'tunnel';
    if (f.lso !== undefined) {
      if (f.l4 !== 'tcp')
        throw new ScenarioError(
          [...path, 'lso'],
          'nothing for a UDP flow (LSO segments TCP)',
          f.lso
        );
      if (tunnelled) {
        throw new ScenarioError(
          [...path, 'lso'],
          'nothing for a tunnel flow (contract D2: no LSO for tunnel packets)',
          f.lso
        );
      }
      if (f.lso.version === 1 && v === 6) {
        throw new ScenarioError([...path, 'lso', 'version'], '2 over IPv6 (LSOv1 is IPv4 only)', 1);
      }
    }
    const write = f.writeSize ?? f.bytes;
    if (f.l4 === 'udp' && write > MAX_DATAGRAM) {
      throw new ScenarioError(
        [...path, f.writeSize === undefined ? 'bytes' : 'writeSize'],
        `a UDP datagram of at most ${MAX_DATAGRAM} bytes per write`,
        write
      );
    }
    // Into the NAT from outside over IPv4: only UDP-ESP finds its way back to the inside host.
    const outer = tunnel ?? sa;
    if (nat !== undefined && v === 4 && to === hosts[0] && outer?.udpEncapsulation == null) {
      throw new ScenarioError(
        [...path, 'sa'],
        `a UDP-encapsulated SA (the flow enters the NAT in front of ${to.name})`,
        f.sa
      );
    }
    const srcPort = f.srcPort ?? 40000 + i;
    const dstPort = f.dstPort ?? 5000 + i;
    const tuple = `${f.from}/${f.to}/${f.l4}/${v}/${srcPort}/${dstPort}`;
    const first = tuples.get(tuple);
    if (first !== undefined) {
      throw new ScenarioError(
        [...path, 'srcPort'],
        `ports not used by flows[${first}] (same hosts, protocol and IP version)`,
        srcPort
      );
    }
    tuples.set(tuple, i);
    const own = v === 4 ? to.ipv4 : to.ipv6;
    // Transport-mode packets go to the SA's destination (the NAT's address behind a NAT).
    const destination = sa?.mode === 'transport' ? sa.destination : own;
    return {
      name: f.name,
      from: f.from,
      to: f.to,
      l4: f.l4,
      ipVersion: v,
      srcPort,
      dstPort,
      ...(sa === undefined ? {} : { sa: sa.name }),
      ...(tunnel === undefined ? {} : { tunnelSa: tunnel.name }),
      ...(destination === undefined ? {} : { destination }),
      ...(f.lso === undefined
        ? {}
        : {
            lso: { version: f.lso.version, ...(f.lso.mss === undefined ? {} : { mss: f.lso.mss }) },
          }),
      bytes: f.bytes,
      ...(f.writeSize === undefined ? {} : { writeSize: f.writeSize }),
    };
  });
}
