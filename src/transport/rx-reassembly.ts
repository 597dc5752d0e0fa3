/**
 * @module
 * IP reassembly before IPsec processing (contract D16: packets that need fragmentation are not
 * offloaded; the sender fragments after IPsec, so the receiver reassembles before it decrypts —
 * RFC 4303 §3.4.1, RFC 4302 §3.4.1). IPv4 per RFC 791 §3.2 (key: source, destination, protocol,
 * identification), IPv6 per RFC 8200 §4.5 (key: source, destination, identification; the
 * Fragment header removed, the unfragmentable part taken from the first fragment).
 *
 * Bounded: at most `maxDatagrams` datagrams in progress (the oldest is evicted), at most 65,535
 * bytes each; a datagram not complete within `timeout` is discarded (RFC 8200 §4.5: 60 s; the
 * clock is injected, contract D6, or time counts offered fragments). Overlapping fragments
 * discard the whole datagram (RFC 5722 for IPv6; Model: the same rule for IPv4, whose RFC 791
 * would let later bytes win); exact duplicates are ignored. Every outcome is a named counter.
 */
import * as checksum from '../wire/checksum.ts';
import { bump, type Counters } from './rx-flow.ts';

/** How reassembly is bounded. */
export interface ReassemblyOptions {
  /** Datagrams in progress at most (default 64). */
  readonly maxDatagrams?: number;
  /** The injected clock, in milliseconds; without it time counts fragments offered. */
  readonly now?: () => number;
  /** Milliseconds (with `now`, default 60,000) or fragments offered (default 1,024). */
  readonly timeout?: number;
}

/** One fragment, as the IP parser found it. */
export interface Fragment {
  /** The whole fragment packet (IP header through the end of its payload). */
  readonly packet: Uint8Array;
  readonly version: 4 | 6;
  /** Key fields: addresses (subarrays of `packet`), IPv4 protocol, identification. */
  readonly source: Uint8Array;
  readonly destination: Uint8Array;
  readonly protocol: number;
  readonly identification: number;
  /** Byte offset of this fragment's data in the original payload. */
  readonly offset: number;
  readonly moreFragments: boolean;
  /** The unfragmentable part: IPv4 header; IPv6 header up to the Fragment header. */
  readonly headerLength: number;
  /** IPv6: offset of the Next Header byte that names the Fragment header (6 or in an extension). */
  readonly nextHeaderField: number;
  /** Where the fragment's data starts (IPv6: after the 8-byte Fragment header). */
  readonly dataStart: number;
  /** IPv6: the Fragment header's Next Header (the reassembled packet's protocol). */
  readonly innerNextHeader: number;
}

/** What an offered fragment led to. */
export type Offered =
  | { readonly kind: 'held' }
  | { readonly kind: 'bad'; readonly reason: string }
  | { readonly kind: 'complete'; readonly packet: Uint8Array };

interface Piece {
  readonly offset: number;
  readonly data: Uint8Array;
}

interface Datagram {
  readonly key: string;
  readonly started: number;
  readonly pieces: Piece[];
  /** Payload bytes of the original datagram, once the last fragment arrived (−1 before). */
  total: number;
  received: number;
  /** The unfragmentable part of the offset-0 fragment (copied), and its fields. */
  first: Fragment | null;
  header: Uint8Array | null;
}

const HELD: Offered = { kind: 'held' };
const MAX_PAYLOAD = 0xffff;

function bad(reason: string): Offered {
  return { kind: 'bad', reason };
}

function hex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** Reassembles IPv4 and IPv6 fragments, bounded in memory and time. */
export class Reassembler {
  /** Outcomes by name: frag-held, frag-complete, frag-timeout, frag-evicted, frag-overlap, … */
  readonly counters: Counters = {};
  readonly #maxDatagrams: number;
  readonly #now: (() => number) | undefined;
  readonly #timeout: number;
  readonly #datagrams = new Map<string, Datagram>();
  #offered = 0;

  constructor(options: ReassemblyOptions = {}) {
    this.#maxDatagrams = options.maxDatagrams ?? 64;
    this.#now = options.now;
    this.#timeout = options.timeout ?? (options.now === undefined ? 1024 : 60_000);
    if (!Number.isInteger(this.#maxDatagrams) || this.#maxDatagrams < 1) {
      throw new RangeError(
        `Reassembler: expected maxDatagrams ≥ 1, got ${String(options.maxDatagrams)}`
      );
    }
  }

  /** Datagrams in progress. */
  get pending(): number {
    return this.#datagrams.size;
  }

  #time(): number {
    return this.#now === undefined ? this.#offered : this.#now();
  }

  /** Discards every datagram older than the timeout (counted as frag-timeout); returns how many. */
  expire(): number {
    const now = this.#time();
    let n = 0;
    for (const d of this.#datagrams.values()) {
      if (now - d.started >= this.#timeout) {
        this.#datagrams.delete(d.key);
        bump(this.counters, 'frag-timeout');
        n++;
      }
    }
    return n;
  }

  /** Takes one fragment; returns the reassembled packet when it completes one. Never throws. */
  offer(f: Fragment): Offered {
    this.#offered++;
    this.expire();
    const dataLength = f.packet.length - f.dataStart;
    const end = f.offset + dataLength;
    // RFC 791 §3.2 / RFC 8200 §4.5: every fragment but the last carries a multiple of 8 bytes.
    if (dataLength <= 0 || (f.moreFragments && dataLength % 8 !== 0)) {
      return this.#bad('frag-bad-length');
    }
    // RFC 8200 §4.5: a reassembled payload over 65,535 bytes is an error (IPv4: Total Length).
    const limit = f.version === 4 ? MAX_PAYLOAD - f.headerLength : MAX_PAYLOAD;
    if (end > limit) return this.#bad('frag-too-big');
    const key =
      f.version === 4
        ? `4/${hex(f.source)}/${hex(f.destination)}/${f.protocol}/${f.identification}`
        : `6/${hex(f.source)}/${hex(f.destination)}/${f.identification}`;
    let d = this.#datagrams.get(key);
    if (d === undefined) {
      if (this.#datagrams.size >= this.#maxDatagrams) {
        const oldest = this.#datagrams.keys().next().value!;
        this.#datagrams.delete(oldest);
        bump(this.counters, 'frag-evicted');
      }
      d = {
        key,
        started: this.#time(),
        pieces: [],
        total: -1,
        received: 0,
        first: null,
        header: null,
      };
      this.#datagrams.set(key, d);
    }
    const data = f.packet.subarray(f.dataStart);
    for (const p of d.pieces) {
      if (f.offset < p.offset + p.data.length && p.offset < end) {
        if (p.offset === f.offset && p.data.length === dataLength && equal(p.data, data)) {
          return this.#bad('frag-duplicate'); // the datagram goes on
        }
        this.#datagrams.delete(key); // RFC 5722 §4: discard the whole datagram
        return this.#bad('frag-overlap');
      }
    }
    if (!f.moreFragments) {
      if (d.total >= 0 && d.total !== end) {
        this.#datagrams.delete(key);
        return this.#bad('frag-inconsistent-end');
      }
      d.total = end;
    }
    if (d.total >= 0 && end > d.total) {
      this.#datagrams.delete(key);
      return this.#bad('frag-beyond-end');
    }
    d.pieces.push({ offset: f.offset, data: data.slice() });
    d.received += dataLength;
    if (f.offset === 0) {
      d.first = f;
      d.header = f.packet.slice(0, f.headerLength);
    }
    if (d.total < 0 || d.received !== d.total || d.header === null || d.first === null) {
      bump(this.counters, 'frag-held');
      return HELD;
    }
    this.#datagrams.delete(key);
    bump(this.counters, 'frag-held');
    bump(this.counters, 'frag-complete');
    return { kind: 'complete', packet: assemble(d, d.first, d.header) };
  }

  #bad(reason: string): Offered {
    bump(this.counters, reason);
    return bad(reason);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Builds the reassembled packet: the first fragment's unfragmentable part, then the data. */
function assemble(d: Datagram, first: Fragment, header: Uint8Array): Uint8Array {
  const out = new Uint8Array(header.length + d.total);
  out.set(header);
  for (const p of d.pieces) out.set(p.data, header.length + p.offset);
  if (first.version === 4) {
    // RFC 791 §3.2: the reassembled header: Total Length, MF 0, offset 0, checksum recomputed.
    const length = header.length + d.total;
    out[2] = length >>> 8;
    out[3] = length & 0xff;
    out[6] &= 0x40; // keep DF, clear MF and the offset
    out[7] = 0;
    out[10] = 0;
    out[11] = 0;
    const c = checksum.checksum(out.subarray(0, header.length));
    out[10] = c >>> 8;
    out[11] = c & 0xff;
  } else {
    // RFC 8200 §4.5: the Fragment header's Next Header goes into the header before it; Payload
    // Length counts the unfragmentable extensions and the reassembled data.
    out[first.nextHeaderField] = first.innerNextHeader;
    const payload = header.length - 40 + d.total;
    out[4] = payload >>> 8;
    out[5] = payload & 0xff;
  }
  return out;
}
