/**
 * @module
 * The receiving side for the send queues' test runs (issue 6): opens each ESP frame a queue put
 * on the wire with the software ESP transform (crypto/esp.ts, node:crypto, independent of the
 * NIC's engine), rebuilds the 64-bit sequence number, checks the ESP trailer and the TCP
 * checksum, and says which flow and which send the frame carries. Misuse throws; a frame that
 * does not open or verify is a value with a reason (contract §4).
 */
import { createEsp } from '../crypto/esp.ts';
import type { EspTransform } from '../crypto/transform.ts';
import * as checksum from '../wire/checksum.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import {
  fillPayload,
  firstSequence,
  frameIpsec,
  isFailing,
  tcpSequence,
  type QueueFlow,
  type QueueSa,
} from './queue-work.ts';

/** An opened frame. */
export interface OpenedFrame {
  /** Index of the bundle (by SPI). */
  readonly sa: number;
  /** The 64-bit sequence number (high half inferred from the bundle's first number). */
  readonly sequence: bigint;
  /** Index of the flow (bundle and ports). */
  readonly flow: number;
  /** Which send of the flow (from the TCP sequence number), and the segment's byte offset in it. */
  readonly send: number;
  readonly offset: number;
  /** The TCP payload of this frame. */
  readonly payload: Uint8Array;
}

/** Why a frame was not accepted. */
export type OpenFailure =
  | 'not-esp'
  | 'unknown-spi'
  | 'icv-mismatch'
  | 'bad-length'
  | 'bad-trailer'
  | 'not-tcp'
  | 'tcp-checksum'
  | 'unknown-flow';

/** Opens the queues' ESP frames (transport mode, TCP) of bundles `sas` carrying `flows`. */
export class QueueVerifier {
  readonly #sas: readonly QueueSa[];
  readonly #flows: readonly QueueFlow[];
  readonly #esp: (EspTransform | null)[];

  constructor(sas: readonly QueueSa[], flows: readonly QueueFlow[]) {
    this.#sas = sas;
    this.#flows = flows;
    this.#esp = sas.map((sa) => {
      const d = sa.sas.find((x) => x.protocol === 'esp');
      return d === undefined || sa.sas.length !== 1
        ? null
        : createEsp({
            encryption: d.encryption ?? 'null',
            integrity: d.integrity ?? null,
            encryptionKey: d.encryptionKey ?? new Uint8Array(0),
            ...(d.integrityKey === undefined ? {} : { integrityKey: d.integrityKey }),
            ...(d.icvLength === undefined ? {} : { icvLength: d.icvLength }),
            esn: d.esn ?? false,
          });
    });
  }

  /**
   * The 64-bit number of bundle `sa` whose low half is `low`: the first at or after the bundle's
   * first sequence number (a run reserves fewer than 2^32 numbers).
   */
  sequenceOf(sa: number, low: number): bigint {
    const base = firstSequence(this.#sas[sa]);
    const v = (base & ~0xffff_ffffn) | BigInt(low >>> 0);
    return v < base ? v + (1n << 32n) : v;
  }

  /** Opens `frame` (not modified). */
  open(frame: Uint8Array): OpenedFrame | OpenFailure {
    const h = frameIpsec(frame);
    if (h?.protocol !== IpProtocol.Esp) return 'not-esp';
    const sa = this.#sas.findIndex((s) =>
      s.sas.some((d) => d.protocol === 'esp' && d.spi === h.spi)
    );
    const t = sa < 0 ? null : this.#esp[sa];
    if (t === null) return 'unknown-spi';
    const v4 = frame[14] >> 4 === 4;
    const dv = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    const ipEnd = v4 ? 14 + dv.getUint16(16) : 14 + 40 + dv.getUint16(18);
    if (ipEnd > frame.length) return 'bad-length';
    const packet = frame.slice(h.offset, ipEnd);
    const sequence = this.sequenceOf(sa, h.sequence);
    const r = t.open(packet, Number(sequence >> 32n));
    if (r !== 'ok') return r;
    // RFC 4303 §2.4: … padding, Pad Length, Next Header, then the ICV.
    const end = packet.length - t.icvLength;
    const padLength = packet[end - 2];
    const data = 8 + t.ivLength;
    if (packet[end - 1] !== IpProtocol.Tcp) return 'not-tcp';
    for (let i = 0; i < padLength; i++)
      if (packet[end - 2 - padLength + i] !== i + 1) return 'bad-trailer';
    const segment = packet.subarray(data, end - 2 - padLength);
    const s = this.#sas[sa];
    const pseudo = v4
      ? checksum.pseudoHeaderV4(s.source, s.destination, IpProtocol.Tcp, segment.length)
      : checksum.pseudoHeaderV6(s.source, s.destination, IpProtocol.Tcp, segment.length);
    if (segment.length < 20 || checksum.fold(checksum.sum16(segment, pseudo)) !== 0xffff) {
      return 'tcp-checksum';
    }
    const sdv = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
    const sourcePort = sdv.getUint16(0);
    const destinationPort = sdv.getUint16(2);
    const flow = this.#flows.findIndex(
      (f) => f.sa === sa && f.sourcePort === sourcePort && f.destinationPort === destinationPort
    );
    if (flow < 0) return 'unknown-flow';
    const f = this.#flows[flow];
    const byte = (sdv.getUint32(4) - tcpSequence(f, 0)) >>> 0;
    const send = Math.floor(byte / f.payload);
    return {
      sa,
      sequence,
      flow,
      send,
      offset: byte - send * f.payload,
      payload: segment.slice((segment[12] >> 4) * 4),
    };
  }
}

/** What {@link verifyRuns} found. */
export interface RunsReport {
  /** Every discrepancy, one line each; empty when the runs are right. */
  readonly problems: string[];
  /** Frames opened and verified. */
  readonly frames: number;
  /** Every verified frame: queue, where it came from, its number, and its bytes. */
  readonly opened: readonly (OpenedFrame & {
    readonly queue: number;
    readonly frame: Uint8Array;
  })[];
  /** Sequence numbers of failed NBLs, per bundle (from the queues' captures). */
  readonly gaps: readonly number[];
}

/** What {@link verifyRuns} checks the runs against. */
export interface RunsExpectation {
  readonly sas: readonly QueueSa[];
  readonly flows: readonly QueueFlow[];
  /** The queue each flow is pinned to. */
  readonly queueOfFlow: readonly number[];
  /** Sends per flow in the run. */
  readonly sendsPerFlow: number;
  /** Send k of a flow failed at the NIC iff k % failEvery = failEvery − 1 (0: none fail). */
  readonly failEvery: number;
  /** Each bundle's shared counter after the run (SharedSeq.next). */
  readonly next: readonly bigint[];
}

/** A test-mode run of one queue as verifyRuns reads it. */
export interface CapturedRun {
  readonly queue: number;
  readonly stats: { readonly frames: number; readonly gaps: number; readonly reserved: number };
  readonly capture: {
    readonly frames: readonly Uint8Array[];
    readonly gaps: readonly {
      readonly sa: number;
      readonly first: bigint;
      readonly count: number;
    }[];
  } | null;
}

/**
 * Checks test-mode runs of every queue of one workload (each bundle's counter starting at its
 * first number): every frame opens and carries exactly the bytes of its flow's send, on the
 * queue the flow is pinned to; every send that should succeed is on the wire whole, every other
 * absent; no sequence number is sent twice; and per bundle the numbers sent plus the numbers of
 * failed NBLs are exactly the numbers reserved — no other gap.
 */
export function verifyRuns(runs: readonly CapturedRun[], x: RunsExpectation): RunsReport {
  const problems: string[] = [];
  const verifier = new QueueVerifier(x.sas, x.flows);
  const opened: (OpenedFrame & { queue: number; frame: Uint8Array })[] = [];
  const seen = x.sas.map(() => new Map<bigint, string>()); // number → who used it
  const gaps = x.sas.map(() => 0);
  const covered = new Map<string, number>(); // "flow/send" → payload bytes on the wire
  const claim = (sa: number, n: bigint, who: string): void => {
    const before = seen[sa].get(n);
    if (before !== undefined)
      problems.push(`SA ${sa}: sequence number ${n} used by ${before} and ${who}`);
    else seen[sa].set(n, who);
  };
  for (const run of runs) {
    const c = run.capture;
    if (c === null) {
      problems.push(`queue ${run.queue}: no capture (not a test-mode run)`);
      continue;
    }
    if (c.frames.length !== run.stats.frames) {
      problems.push(
        `queue ${run.queue}: ${c.frames.length} frames kept, ${run.stats.frames} counted`
      );
    }
    c.frames.forEach((frame, i) => {
      const o = verifier.open(frame);
      const who = `queue ${run.queue} frame ${i}`;
      if (typeof o === 'string') {
        problems.push(`${who}: ${o}`);
        return;
      }
      claim(o.sa, o.sequence, who);
      if (x.queueOfFlow[o.flow] !== run.queue) {
        problems.push(`${who}: flow ${o.flow} is pinned to queue ${x.queueOfFlow[o.flow]}`);
      }
      const f = x.flows[o.flow];
      const want = fillPayload(o.flow, o.send, new Uint8Array(f.payload));
      const bytes = want.subarray(o.offset, o.offset + o.payload.length);
      if (o.payload.length === 0 && f.payload > 0) problems.push(`${who}: empty segment`);
      if (bytes.length !== o.payload.length || bytes.some((b, j) => b !== o.payload[j])) {
        problems.push(`${who}: flow ${o.flow} send ${o.send} offset ${o.offset}: payload differs`);
      }
      if (o.send >= x.sendsPerFlow || isFailing(o.send, x.failEvery)) {
        problems.push(`${who}: flow ${o.flow} send ${o.send} should not be on the wire`);
      }
      const key = `${o.flow}/${o.send}`;
      covered.set(key, (covered.get(key) ?? 0) + o.payload.length);
      opened.push({ ...o, queue: run.queue, frame });
    });
    let gapNumbers = 0;
    for (const g of c.gaps) {
      gaps[g.sa] += g.count;
      gapNumbers += g.count;
      for (let k = 0n; k < BigInt(g.count); k++)
        claim(g.sa, g.first + k, `queue ${run.queue} failed NBL`);
    }
    if (gapNumbers !== run.stats.gaps) {
      problems.push(`queue ${run.queue}: gaps recorded ${gapNumbers}, counted ${run.stats.gaps}`);
    }
    if (run.stats.frames + run.stats.gaps !== run.stats.reserved) {
      problems.push(
        `queue ${run.queue}: reserved ${run.stats.reserved} ≠ frames ${run.stats.frames} + gaps ${run.stats.gaps}`
      );
    }
  }
  // Every send that should succeed is on the wire whole.
  x.flows.forEach((f, flow) => {
    for (let k = 0; k < x.sendsPerFlow; k++) {
      const got = covered.get(`${flow}/${k}`) ?? 0;
      const want = isFailing(k, x.failEvery) ? 0 : f.payload;
      if (got !== want)
        problems.push(`flow ${flow} send ${k}: ${got} payload bytes on the wire, expected ${want}`);
    }
  });
  // Per bundle: sent ∪ gaps is exactly [first, next).
  x.sas.forEach((sa, i) => {
    const first = firstSequence(sa);
    const span = x.next[i] - first;
    if (BigInt(seen[i].size) !== span) {
      problems.push(
        `SA ${i}: ${seen[i].size} numbers sent or lost, ${span} reserved (${first} to ${x.next[i] - 1n})`
      );
    }
    for (const n of seen[i].keys()) {
      if (n < first || n >= x.next[i])
        problems.push(`SA ${i}: number ${n} outside ${first} to ${x.next[i] - 1n}`);
    }
  });
  return { problems, frames: opened.length, opened, gaps };
}
