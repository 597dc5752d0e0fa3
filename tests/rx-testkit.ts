/**
 * @module
 * Test helpers for the receiving transport: inbound/outbound SA records (policy.ts), a software
 * sender that frames with framing.ts and seals with crypto/ (the bytes a NIC would put on the
 * wire), and a stand-in NIC that decrypts in place and fills the receive OOB (slots 1 and 12)
 * the way reference §4.2 describes — for the receiver's unit tests of the offloaded path.
 */
import assert from 'node:assert/strict';
import { createAuth } from '../src/crypto/ah.ts';
import { createEsp } from '../src/crypto/esp.ts';
import {
  encryptionInfo,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from '../src/crypto/names.ts';
import { seededRandom } from '../src/crypto/random.ts';
import type { EspTransform } from '../src/crypto/transform.ts';
import { NetBuffer, NetBufferList } from '../src/ndis/nbl.ts';
import { setHeaderReceive, setIpsecReceive } from '../src/ndis/oob.ts';
import * as ah from '../src/wire/ah.ts';
import * as esp from '../src/wire/esp.ts';
import * as ipv4 from '../src/wire/ipv4.ts';
import * as ipv6 from '../src/wire/ipv6.ts';
import * as framing from '../src/transport/framing.ts';
import type { AhSa, EspSa, FrameSpec, L4Spec, Protection } from '../src/transport/framing.ts';
import type { IpSpec } from '../src/transport/ip.ts';
import type { FlowConfig, SaConfig } from '../src/transport/policy.ts';

/** Addresses: hosts A (sender) and B (receiver), their tunnel gateways, IPv4 and IPv6. */
export const ADDR: Readonly<
  Record<'a4' | 'b4' | 'ga4' | 'gb4' | 'a6' | 'b6' | 'ga6' | 'gb6', Uint8Array>
> = {
  a4: ipv4.parseAddress('192.0.2.10'),
  b4: ipv4.parseAddress('198.51.100.20'),
  ga4: ipv4.parseAddress('203.0.113.1'),
  gb4: ipv4.parseAddress('203.0.113.2'),
  a6: ipv6.parseAddress('2001:db8:a::10'),
  b6: ipv6.parseAddress('2001:db8:b::20'),
  ga6: ipv6.parseAddress('2001:db8:ffff::a'),
  gb6: ipv6.parseAddress('2001:db8:ffff::b'),
};

/** B's addresses (the receiver). */
export const B_ADDRESSES: readonly Uint8Array[] = [ADDR.b4, ADDR.gb4, ADDR.b6, ADDR.gb6];

/** Deterministic bytes. */
export function bytes(length: number, seed = 0): Uint8Array {
  const b = new Uint8Array(length);
  for (let i = 0; i < length; i++) b[i] = (seed * 131 + i * 29 + (i >>> 8)) & 0xff;
  return b;
}

/** What an SA record is made of, by algorithm name. */
export interface SaSpec {
  readonly name: string;
  readonly protocol?: 'esp' | 'ah' | 'ah+esp';
  readonly mode?: 'transport' | 'tunnel';
  readonly encryption?: EncryptionName;
  readonly integrity?: IntegrityName | null;
  readonly ahIntegrity?: IntegrityName;
  readonly icvLength?: number;
  readonly esn?: boolean;
  readonly initialSequence?: bigint;
  readonly replayWindow?: number;
  readonly udp?: boolean;
  readonly ipv6?: boolean;
  readonly espSpi?: number;
  readonly ahSpi?: number;
}

/** An SA record (one direction, A → B) with deterministic keys. */
export function makeSa(s: SaSpec): SaConfig {
  const protocol = s.protocol ?? 'esp';
  const mode = s.mode ?? 'transport';
  const v6 = s.ipv6 ?? false;
  const tunnel = mode === 'tunnel';
  const source = v6 ? (tunnel ? ADDR.ga6 : ADDR.a6) : tunnel ? ADDR.ga4 : ADDR.a4;
  const destination = v6 ? (tunnel ? ADDR.gb6 : ADDR.b6) : tunnel ? ADDR.gb4 : ADDR.b4;
  const seed = s.name.length * 7 + s.name.charCodeAt(0);
  const encryption = s.encryption ?? 'aes-gcm-128';
  const integrity = s.integrity === undefined ? null : s.integrity;
  const espSpi = s.espSpi ?? 0x1000 + seed;
  const ahSpi = s.ahSpi ?? 0x2000 + seed;
  return {
    name: s.name,
    protocol,
    mode,
    ...(protocol === 'ah'
      ? {}
      : {
          esp: {
            spi: espSpi,
            encryption,
            integrity,
            encryptionKey: bytes(encryptionInfo(encryption).keyLength, seed),
            ...(integrity === null
              ? {}
              : { integrityKey: bytes(integrityInfo(integrity).keyLength, seed + 1) }),
            ...(s.icvLength === undefined ? {} : { icvLength: s.icvLength }),
          },
        }),
    ...(protocol === 'esp'
      ? {}
      : {
          ah: {
            spi: ahSpi,
            integrity: s.ahIntegrity ?? 'hmac-sha256-128',
            integrityKey: bytes(
              integrityInfo(s.ahIntegrity ?? 'hmac-sha256-128').keyLength,
              seed + 2
            ),
          },
        }),
    esn: s.esn ?? false,
    initialSequence: s.initialSequence ?? 1n,
    replayWindow: s.replayWindow ?? 64,
    udpEncapsulation: s.udp === true ? { srcPort: 4500, dstPort: 4500 } : null,
    source,
    destination,
  };
}

/** A receive-side ESP transform for `c` (software checks in tests). */
export function espTransform(c: SaConfig): EspTransform {
  const e = c.esp!;
  return createEsp({
    encryption: e.encryption,
    integrity: e.integrity,
    encryptionKey: e.encryptionKey,
    ...(e.integrityKey === undefined ? {} : { integrityKey: e.integrityKey }),
    ...(e.icvLength === undefined ? {} : { icvLength: e.icvLength }),
    esn: c.esn,
    random: seededRandom(7),
  });
}

/** The frame geometry framing needs for an SA's ESP part. */
function espSa(c: SaConfig, seq: bigint): EspSa {
  const t = espTransform(c);
  return {
    spi: c.esp!.spi,
    sequenceNumber: seq,
    ivLength: t.ivLength,
    icvLength: t.icvLength,
    padAlign: t.padAlign,
  };
}

function ahSa(c: SaConfig, seq: bigint): AhSa {
  const info = integrityInfo(c.ah!.integrity);
  return {
    spi: c.ah!.spi,
    sequenceNumber: seq,
    icvLength: info.icvLength,
    ivLength: info.ivLength,
  };
}

/** The framing protection of SA record `c` with `handle` and sequence number `seq`. */
export function protectionOf(c: SaConfig, handle: bigint, seq: bigint): Protection {
  return {
    handle,
    ...(c.esp === undefined ? {} : { esp: espSa(c, seq) }),
    ...(c.ah === undefined ? {} : { ah: ahSa(c, seq) }),
    ...(c.udpEncapsulation === null ? {} : { udp: c.udpEncapsulation }),
  };
}

/** A sealed frame and how it was laid out. */
export interface Sent {
  readonly frame: Uint8Array;
  readonly plan: framing.Plan;
  /** The SA records of each level, outermost first (undefined: cleartext level). */
  readonly levels: readonly (SaConfig | undefined)[];
  /** The 64-bit sequence number of each level (0n: cleartext level). */
  readonly seqs: readonly bigint[];
}

/** What to send. */
export interface SendSpec {
  readonly ip?: IpSpec;
  /** Transport-mode SA (or the only SA of a tunnel-only flow). */
  readonly sa?: string;
  /** Tunnel SA of transport over tunnel. */
  readonly tunnelSa?: string;
  /** The inner IP header in tunnel mode (default: A → B of the outer version). */
  readonly inner?: IpSpec;
  readonly l4: L4Spec;
  /** Override the sequence number (e.g. to replay). */
  readonly seq?: bigint;
}

/** A software IPsec sender: frames with framing.ts, seals with crypto/, counts sequence numbers. */
export class SoftSender {
  readonly #sas = new Map<string, SaConfig>();
  readonly #next = new Map<string, bigint>();
  readonly #scratch = new Uint8Array(70_000);

  constructor(sas: readonly SaConfig[]) {
    for (const s of sas) {
      this.#sas.set(s.name, s);
      this.#next.set(s.name, s.initialSequence);
    }
  }

  #protection(name: string, seqOverride?: bigint): { p: Protection; c: SaConfig } {
    const c = this.#sas.get(name)!;
    const seq = seqOverride ?? this.#next.get(name)!;
    if (seqOverride === undefined) this.#next.set(name, seq + 1n);
    return {
      c,
      p: {
        handle: 1n,
        ...(c.esp === undefined ? {} : { esp: espSa(c, seq) }),
        ...(c.ah === undefined ? {} : { ah: ahSa(c, seq) }),
        ...(c.udpEncapsulation === null ? {} : { udp: c.udpEncapsulation }),
      },
    };
  }

  /** The frame for `spec`, sealed. */
  send(spec: SendSpec): Sent {
    const v6 = spec.ip?.version === 6;
    const outerSa = spec.tunnelSa ?? spec.sa;
    const outerCfg = outerSa === undefined ? undefined : this.#sas.get(outerSa);
    const tunnel = outerCfg?.mode === 'tunnel';
    const defaultIp: IpSpec = tunnel
      ? { version: 4, source: ADDR.ga4, destination: ADDR.gb4 }
      : { version: 4, source: ADDR.a4, destination: ADDR.b4 };
    const ip = spec.ip ?? defaultIp;
    const inner: IpSpec =
      spec.inner ??
      (v6
        ? { version: 6, source: ADDR.a6, destination: ADDR.b6 }
        : { version: 4, source: ADDR.a4, destination: ADDR.b4 });
    const levels: (SaConfig | undefined)[] = [];
    let fs: FrameSpec;
    const eth = {
      source: new Uint8Array([2, 0, 0, 0, 0, 0xa]),
      destination: new Uint8Array([2, 0, 0, 0, 0, 0xb]),
    };
    if (tunnel) {
      const outer = this.#protection(outerSa!, spec.seq);
      levels.push(outer.c);
      const innerName = spec.tunnelSa === undefined ? undefined : spec.sa;
      const innerP = innerName === undefined ? undefined : this.#protection(innerName, spec.seq);
      levels.push(innerP?.c);
      fs = {
        ethernet: eth,
        ip,
        tunnel: { protection: outer.p, inner },
        ...(innerP === undefined ? {} : { transport: innerP.p }),
        l4: spec.l4,
      };
    } else if (outerSa !== undefined) {
      const t = this.#protection(outerSa, spec.seq);
      levels.push(t.c);
      fs = { ethernet: eth, ip, transport: t.p, l4: spec.l4 };
    } else {
      throw new RangeError('SoftSender: use clearFrame for cleartext');
    }
    const nbl = framing.build(fs);
    const frame = nbl.netBuffers[0].data();
    const plan = framing.plan(fs);
    const seqs: bigint[] = [];
    for (let i = plan.levels.length - 1; i >= 0; i--) {
      const c = levels[i];
      seqs[i] = 0n;
      if (c === undefined) continue;
      const lp = plan.levels[i];
      const p = i === 0 && tunnel ? fs.tunnel!.protection : fs.transport!;
      const seq = (p.esp ?? p.ah)!.sequenceNumber;
      seqs[i] = seq;
      const high = Number(seq >> 32n);
      if (lp.esp !== undefined) {
        espTransform(c).seal(frame.subarray(lp.esp.offset, lp.esp.offset + lp.esp.length), high);
      }
      if (lp.ah !== undefined) {
        const auth = createAuth({
          integrity: c.ah!.integrity,
          key: c.ah!.integrityKey,
          esn: c.esn,
        });
        const packet = frame.subarray(lp.ipOffset, lp.ipOffset + lp.packetLength);
        const ivAt = lp.ah.offset - lp.ipOffset + ah.FIXED_LENGTH;
        if (auth.ivLength > 0) {
          // RFC 4543 §3.1 / D6: the IV is the 64-bit sequence number.
          new DataView(packet.buffer, packet.byteOffset).setBigUint64(ivAt, seq);
        }
        const input = ah.icvInput(packet, this.#scratch, {
          icvLength: auth.icvLength,
          ivLength: auth.ivLength,
        });
        assert.ok(input.ok);
        const out = new Uint8Array(auth.icvLength);
        const iv = auth.ivLength > 0 ? packet.slice(ivAt, ivAt + auth.ivLength) : null;
        auth.compute(input.value.input, high, iv, out);
        packet.set(out, input.value.icvOffset);
      }
    }
    return { frame, plan, levels, seqs };
  }
}

/** One NBL over `frame` with the receive OOB of an unprocessed packet (CryptoDone 0). */
export function nblOf(frame: Uint8Array): NetBufferList {
  return new NetBufferList(new NetBuffer(frame));
}

/** How the stand-in NIC reports a frame. */
export interface NicReport {
  /** IP levels it processes (1: the outer bundle; 2: also the transport bundle inside a tunnel). */
  readonly levels?: 1 | 2;
  /** A failure CryptoStatus to report instead of decrypting. */
  readonly status?: number;
  readonly saDeleteReq?: boolean;
  /** Corrupt the header OOB (NextHeader + 1) to exercise the consistency check. */
  readonly badHeaderInfo?: boolean;
}

/**
 * Plays the NIC's receive path for a frame the test built: decrypts each processed level's ESP in
 * place (headers, IV, trailer and ICV stay) and fills slots 1 and 12 (reference §4.2).
 */
export function offloaded(sent: Sent, report: NicReport = {}): NetBufferList {
  const nbl = nblOf(sent.frame);
  const status = report.status ?? 0;
  const levels = Math.min(report.levels ?? sent.levels.length, sent.levels.length);
  let trailer: esp.Trailer | null = null;
  if (status === 0) {
    for (let i = 0; i < levels; i++) {
      const c = sent.levels[i];
      const lp = sent.plan.levels[i];
      if (c === undefined || lp.esp === undefined) continue;
      const packet = sent.frame.subarray(lp.esp.offset, lp.esp.offset + lp.esp.length);
      assert.equal(espTransform(c).open(packet, Number(sent.seqs[i] >> 32n)), 'ok');
      const t = esp.parseTrailer(
        packet.subarray(lp.esp.headerLength, packet.length - lp.esp.icvLength)
      );
      assert.ok(t.ok);
      trailer = t.value;
    }
  }
  setIpsecReceive(nbl, {
    SaDeleteReq: report.saDeleteReq === true ? 1 : 0,
    CryptoDone: 1,
    NextCryptoDone: levels === 2 && status === 0 ? 1 : 0,
    CryptoStatus: status,
  });
  if (trailer !== null) {
    setHeaderReceive(nbl, {
      NextHeader: (trailer.nextHeader + (report.badHeaderInfo === true ? 1 : 0)) & 0xff,
      PadLength: trailer.padLength,
      HeaderInfoSet: 1,
    });
  }
  return nbl;
}

/** A TCP segment spec. */
export function tcpL4(
  seq: number,
  payload: Uint8Array,
  srcPort = 40000,
  dstPort = 443,
  flags = 0x18
): L4Spec {
  return {
    protocol: 'tcp',
    header: {
      srcPort,
      dstPort,
      sequenceNumber: seq >>> 0,
      acknowledgmentNumber: 1,
      flags,
      window: 65535,
      urgentPointer: 0,
      options: [],
    },
    payload,
  };
}

/** A UDP datagram spec. */
export function udpL4(payload: Uint8Array, srcPort = 5000, dstPort = 5001): L4Spec {
  return { protocol: 'udp', srcPort, dstPort, payload };
}

/** A flow record. */
export function flow(
  name: string,
  l4: 'tcp' | 'udp',
  sa?: string,
  tunnelSa?: string,
  ports?: [number, number]
): FlowConfig {
  const [srcPort, dstPort] = ports ?? (l4 === 'tcp' ? [40000, 443] : [5000, 5001]);
  return {
    name,
    l4,
    ipVersion: 4,
    srcPort,
    dstPort,
    ...(sa === undefined ? {} : { sa }),
    ...(tunnelSa === undefined ? {} : { tunnelSa }),
  };
}

/** Concatenates byte arrays. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
