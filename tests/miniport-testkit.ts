/**
 * @module
 * Test support for the send path (datapath.test.ts, protect.test.ts, lso.test.ts, csum.test.ts):
 * a miniport whose Link records every frame and whose completion callback records every NBL;
 * SA bundles keyed deterministically and inserted straight into the SA table (the control path's
 * OID tests cover ADD_SA); a small "transport" that frames packets exactly as contract D1 (and D2
 * for LSO) says; and a decoder that verifies emitted frames with separate transform instances of
 * the same keys — IPv4 header checksum, lengths, AH ICV, ESP ICV and decryption, the trailer's
 * padding 1..n and Next Header, TCP/UDP checksums over the right pseudo-header.
 *
 * Not used by the miniport itself. Pages: "Sending Network Data with IPsec Offload Version 2";
 * RFC 4302, RFC 4303, RFC 3948, RFC 9293, RFC 768.
 */
import { createAuth } from '../src/crypto/ah.ts';
import { createEsp, type EspConfig } from '../src/crypto/esp.ts';
import {
  encryptionInfo,
  integrityInfo,
  type EncryptionName,
  type IntegrityName,
} from '../src/crypto/names.ts';
import { seededRandom } from '../src/crypto/random.ts';
import type {
  AuthTransform,
  EspGeometry,
  EspTransform,
  OpenResult,
  Random,
} from '../src/crypto/transform.ts';
import { defaultCapabilities, type Offload } from '../src/ndis/caps.ts';
import { NetBuffer, NetBufferList, link } from '../src/ndis/nbl.ts';
import {
  headerOffsetUnits,
  setChecksum,
  setHeaderTransmit,
  setLso,
  setOffloadHandle,
  setTunnelHandle,
} from '../src/ndis/oob.ts';
import * as ah from '../src/wire/ah.ts';
import * as checksum from '../src/wire/checksum.ts';
import * as esp from '../src/wire/esp.ts';
import * as ethernet from '../src/wire/ethernet.ts';
import * as ipv4 from '../src/wire/ipv4.ts';
import { IpProtocol } from '../src/wire/ipv4.ts';
import * as ipv6 from '../src/wire/ipv6.ts';
import * as tcp from '../src/wire/tcp.ts';
import * as udp from '../src/wire/udp.ts';
import { Miniport } from '../src/miniport/miniport.ts';
import type { SaBundle, SaElement } from '../src/miniport/sa-table.ts';

// ---------------------------------------------------------------------------------------------
// A miniport with a recording link.

/** A miniport whose wire and completions are recorded. */
export interface Harness {
  readonly mp: Miniport;
  /** Every frame the Link transmitted, in order. */
  readonly wire: Uint8Array[];
  /** Every NBL completed, in order (an NBL completed twice appears twice). */
  readonly completed: NetBufferList[];
}

/** A miniport (default capabilities unless given) with a recording Link and completion callback. */
export function harness(capabilities?: Offload, seed = 1, copies = false): Harness {
  const wire: Uint8Array[] = [];
  const completed: NetBufferList[] = [];
  const mp = new Miniport({
    ...(capabilities === undefined ? {} : { capabilities }),
    // `copies`: the Link copies each frame, so the NIC recycles its transmit memory (Link.copies).
    link: copies
      ? {
          copies: true,
          transmit(frame: Uint8Array): void {
            wire.push(frame.slice());
          },
        }
      : {
          transmit(frame: Uint8Array): void {
            wire.push(frame);
          },
        },
    complete(nbl: NetBufferList): void {
      completed.push(nbl);
    },
    random: seededRandom(seed),
  });
  return { mp, wire, completed };
}

// ---------------------------------------------------------------------------------------------
// SAs.

/** One SA of a bundle to create. */
export interface ElementSpec {
  readonly operation: 'esp' | 'ah';
  readonly spi: number;
  /** ESP: the cipher ('null' for ESP without confidentiality). */
  readonly encryption?: EncryptionName;
  /** ESP: the integrity algorithm (null or absent for GCM); AH: required. */
  readonly integrity?: IntegrityName | null;
  readonly icvLength?: number;
  readonly esn?: boolean;
  readonly seqHigh?: number;
}

/** A bundle to create: its elements in ADD_SA (processing) order. */
export interface BundleSpec {
  readonly elements: readonly ElementSpec[];
  readonly inbound?: boolean;
  readonly ipv6?: boolean;
  readonly udpEspEncapsulation?: number;
}

/** An independent transform of the same keys, for verifying frames. */
export interface Verifier {
  readonly spi: number;
  readonly operation: 'esp' | 'ah';
  readonly esn: boolean;
  /** The SA's SequenceNumberHighOrder when the verifier was made. */
  readonly seqHigh: number;
  readonly esp: EspTransform | null;
  readonly auth: AuthTransform | null;
  /** The key bytes (for noble cross-checks): encryption, integrity. */
  readonly encryptionKey: Uint8Array;
  readonly integrityKey: Uint8Array;
}

/** A bundle in the SA table, with its verifiers. */
export interface TestSa {
  readonly handle: bigint;
  readonly bundle: SaBundle;
  readonly verifiers: readonly Verifier[];
}

/** Deterministic key bytes for an SPI and a role (0: encryption, 1: integrity). */
export function keyFor(spi: number, role: number, length: number): Uint8Array {
  const key = new Uint8Array(length);
  for (let i = 0; i < length; i++) key[i] = (spi * 7 + role * 101 + i * 13 + 5) & 0xff;
  return key;
}

function espConfig(spec: ElementSpec, random: Random | null): EspConfig {
  const encryption = spec.encryption ?? 'aes-gcm-128';
  const integrity = spec.integrity ?? null;
  return {
    encryption,
    integrity,
    encryptionKey: keyFor(spec.spi, 0, encryptionInfo(encryption).keyLength),
    ...(integrity === null
      ? {}
      : { integrityKey: keyFor(spec.spi, 1, integrityInfo(integrity).keyLength) }),
    ...(spec.icvLength === undefined ? {} : { icvLength: spec.icvLength }),
    esn: spec.esn ?? false,
    ...(random === null ? {} : { random }),
  };
}

function authTransform(spec: ElementSpec): AuthTransform {
  const integrity = spec.integrity ?? 'hmac-sha256-128';
  return createAuth({
    integrity,
    key: keyFor(spec.spi, 1, integrityInfo(integrity).keyLength),
    esn: spec.esn ?? false,
    ...(spec.icvLength === undefined ? {} : { icvLength: spec.icvLength }),
  });
}

/** Creates the bundle's transforms, inserts it into `mp.saTable` with a fresh handle. */
export function addBundle(mp: Miniport, spec: BundleSpec): TestSa {
  const elements: SaElement[] = [];
  const verifiers: Verifier[] = [];
  for (const e of spec.elements) {
    const esn = e.esn ?? false;
    const seqHigh = e.seqHigh ?? 0;
    if (e.operation === 'esp') {
      const config = espConfig(e, mp.random);
      elements.push({
        operation: 'esp',
        spi: e.spi,
        esn,
        seqHigh,
        encryption: config.encryption,
        integrity: config.integrity,
        esp: createEsp(config),
        auth: null,
        counters: { packets: 0, bytes: 0 },
      });
      verifiers.push({
        spi: e.spi,
        operation: 'esp',
        esn,
        seqHigh,
        esp: createEsp(espConfig(e, null)),
        auth: null,
        encryptionKey: config.encryptionKey,
        integrityKey: config.integrityKey ?? new Uint8Array(0),
      });
    } else {
      const integrity = e.integrity ?? 'hmac-sha256-128';
      elements.push({
        operation: 'ah',
        spi: e.spi,
        esn,
        seqHigh,
        encryption: null,
        integrity,
        esp: null,
        auth: authTransform(e),
        counters: { packets: 0, bytes: 0 },
      });
      verifiers.push({
        spi: e.spi,
        operation: 'ah',
        esn,
        seqHigh,
        esp: null,
        auth: authTransform(e),
        encryptionKey: new Uint8Array(0),
        integrityKey: keyFor(e.spi, 1, integrityInfo(integrity).keyLength),
      });
    }
  }
  const ipv6 = spec.ipv6 ?? false;
  const handle = mp.saTable.nextHandle();
  const bundle: SaBundle = {
    handle,
    inbound: spec.inbound ?? false,
    ipv6,
    source: new Uint8Array(ipv6 ? 16 : 4),
    destination: new Uint8Array(ipv6 ? 16 : 4),
    udpEspEncapsulation: spec.udpEspEncapsulation ?? 0,
    elements,
    inFlight: 0,
  };
  mp.saTable.insert(bundle);
  return { handle, bundle, verifiers };
}

/** The framing geometry of an ESP element (IV, ICV, pad alignment). */
export function geometryOf(sa: TestSa, spi?: number): EspGeometry {
  for (const e of sa.bundle.elements) {
    if (e.esp !== null && (spi === undefined || e.spi === spi)) return e.esp;
  }
  throw new TypeError('geometryOf: expected an ESP element');
}

/** The AH transform of a bundle's AH element. */
export function authOf(sa: TestSa): AuthTransform {
  for (const e of sa.bundle.elements) if (e.auth !== null) return e.auth;
  throw new TypeError('authOf: expected an AH element');
}

// ---------------------------------------------------------------------------------------------
// Framing (the transport's side, contract D1 and D2).

/** IPv4 and IPv6 test addresses (RFC 5737, RFC 3849). */
export const ADDR: Readonly<
  Record<
    'v4src' | 'v4dst' | 'v4tunSrc' | 'v4tunDst' | 'v6src' | 'v6dst' | 'v6tunSrc' | 'v6tunDst',
    Uint8Array
  >
> = {
  v4src: ipv4.parseAddress('192.0.2.1'),
  v4dst: ipv4.parseAddress('198.51.100.7'),
  v4tunSrc: ipv4.parseAddress('203.0.113.1'),
  v4tunDst: ipv4.parseAddress('203.0.113.2'),
  v6src: ipv6.parseAddress('2001:db8::1'),
  v6dst: ipv6.parseAddress('2001:db8::2'),
  v6tunSrc: ipv6.parseAddress('2001:db8:ffff::1'),
  v6tunDst: ipv6.parseAddress('2001:db8:ffff::2'),
} as const;

/** Deterministic payload bytes. */
export function payloadBytes(length: number, seed = 0): Uint8Array {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (i * 31 + seed * 17 + (i >>> 8)) & 0xff;
  return out;
}

/** How the transport leaves a TCP/UDP checksum field. */
export type ChecksumMode =
  /** The full checksum (the transport computed it). */
  | 'complete'
  /** The pseudo-header sum with the length (non-LSO offload, D13). */
  | 'seed'
  /** The pseudo-header sum without the length (LSO, D2). */
  | 'lso-seed'
  /** Zero. */
  | 'zero';

/** A TCP segment to build. */
export interface TcpSpec {
  readonly seq?: number;
  readonly ack?: number;
  readonly flags?: number;
  readonly srcPort?: number;
  readonly dstPort?: number;
  readonly options?: readonly tcp.Option[];
  readonly payload: Uint8Array;
}

/** The pseudo-header sum of `version` addresses (unfolded). */
function pseudo(
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array,
  proto: number,
  len: number
): number {
  return version === 4
    ? checksum.pseudoHeaderV4(src, dst, proto, len)
    : checksum.pseudoHeaderV6(src, dst, proto, len);
}

/** A TCP segment whose checksum field is as `mode` says, for the given IP addresses. */
export function tcpSegment(
  spec: TcpSpec,
  mode: ChecksumMode,
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array
): Uint8Array {
  const header: tcp.Header = {
    srcPort: spec.srcPort ?? 49152,
    dstPort: spec.dstPort ?? 443,
    sequenceNumber: spec.seq ?? 1000,
    acknowledgmentNumber: spec.ack ?? 77,
    flags: spec.flags ?? tcp.Flags.Ack | tcp.Flags.Psh,
    window: 65535,
    urgentPointer: 0,
    options: spec.options ?? [],
  };
  const length = tcp.headerLength(header);
  const out = new Uint8Array(length + spec.payload.length);
  tcp.emit(header, out);
  out.set(spec.payload, length);
  setTransportChecksum(out, 16, IpProtocol.Tcp, mode, version, src, dst);
  return out;
}

/** A UDP datagram whose checksum field is as `mode` says. */
export function udpDatagram(
  payload: Uint8Array,
  mode: ChecksumMode,
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array,
  ports: { src: number; dst: number } = { src: 5353, dst: 53 }
): Uint8Array {
  const out = new Uint8Array(8 + payload.length);
  udp.emit({ srcPort: ports.src, dstPort: ports.dst }, out, payload.length);
  out.set(payload, 8);
  setTransportChecksum(out, 6, IpProtocol.Udp, mode, version, src, dst);
  return out;
}

function setTransportChecksum(
  out: Uint8Array,
  at: number,
  proto: number,
  mode: ChecksumMode,
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array
): void {
  let value = 0;
  if (mode === 'complete') {
    value = checksum.finish(checksum.sum16(out, pseudo(version, src, dst, proto, out.length)));
    if (proto === IpProtocol.Udp && value === 0) value = 0xffff;
  } else if (mode === 'seed') {
    value = checksum.fold(pseudo(version, src, dst, proto, out.length));
  } else if (mode === 'lso-seed') {
    value = checksum.fold(pseudo(version, src, dst, proto, 0));
  }
  out[at] = value >>> 8;
  out[at + 1] = value & 0xff;
}

/** One IPsec-related header of an IP packet, in wire order. */
export type Layer =
  | { readonly kind: 'udp'; readonly srcPort?: number; readonly dstPort?: number }
  | {
      readonly kind: 'ah';
      readonly spi: number;
      readonly seq: number;
      readonly auth: AuthTransform;
    }
  | {
      readonly kind: 'esp';
      readonly spi: number;
      readonly seq: number;
      readonly geometry: EspGeometry;
      /** Overrides the trailer's Pad Length (a malformed packet); default the minimal RFC 4303 pad. */
      readonly padLength?: number;
    };

/** An IP packet to build. */
export interface IpSpec {
  readonly version: 4 | 6;
  readonly src?: Uint8Array;
  readonly dst?: Uint8Array;
  readonly id?: number;
  readonly ttl?: number;
  readonly dontFragment?: boolean;
  /** IPv4 option TLVs (before EOL). */
  readonly options?: Uint8Array;
  /** IPv6 extension headers before the IPsec headers. */
  readonly extensions?: readonly ipv6.Extension[];
  /** The IPsec headers in wire order. */
  readonly layers?: readonly Layer[];
  /** What the innermost header carries. */
  readonly payload: { readonly protocol: number; readonly bytes: Uint8Array };
  /**
   * LSO framing (D2): ESP without trailer and ICV, `filler` bytes after the payload, and the
   * length field `lengthField` ('final' for LSOv1, 'zero' for LSOv2).
   */
  readonly lso?: { readonly filler: number; readonly lengthField: 'final' | 'zero' };
}

/** A built IP packet and where its headers are (offsets from the IP header, -1 if absent). */
export interface BuiltIp {
  readonly bytes: Uint8Array;
  readonly version: 4 | 6;
  readonly udp: number;
  readonly ah: number;
  readonly esp: number;
  /** Where the innermost payload (TCP, inner IP, …) starts. */
  readonly payload: number;
  /** The ESP trailer's Pad Length and Next Header (0 without ESP). */
  readonly padLength: number;
  readonly nextHeader: number;
}

function concat(...parts: Uint8Array[]): Uint8Array {
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

/** Frames an IP packet as the transport does (D1; D2 with `lso`). */
export function buildIp(spec: IpSpec): BuiltIp {
  const version = spec.version;
  const src = spec.src ?? (version === 4 ? ADDR.v4src : ADDR.v6src);
  const dst = spec.dst ?? (version === 4 ? ADDR.v4dst : ADDR.v6dst);
  const layers = spec.layers ?? [];
  let protocol = spec.payload.protocol;
  let body = spec.payload.bytes;
  let padLength = 0;
  let nextHeader = 0;
  const lso = spec.lso;
  if (lso !== undefined) body = concat(body, new Uint8Array(lso.filler).fill(0xee));
  // Innermost first.
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    if (layer.kind === 'esp') {
      const g = layer.geometry;
      if (lso !== undefined) {
        const head = new Uint8Array(8 + g.ivLength);
        new DataView(head.buffer).setUint32(0, layer.spi);
        new DataView(head.buffer).setUint32(4, layer.seq);
        padLength = lso.filler;
        nextHeader = protocol;
        body = concat(head, body);
      } else {
        const plan = esp.planEsp(body.length, g);
        const out = new Uint8Array(plan.totalLength);
        esp.frameEsp(
          out,
          { spi: layer.spi, sequenceNumber: layer.seq, nextHeader: protocol, payload: body },
          g
        );
        padLength = plan.padLength;
        nextHeader = protocol;
        if (layer.padLength !== undefined) out[out.length - g.icvLength - 2] = layer.padLength;
        body = out;
      }
      protocol = IpProtocol.Esp;
    } else if (layer.kind === 'udp') {
      const head = new Uint8Array(8);
      udp.emit(
        { srcPort: layer.srcPort ?? 4500, dstPort: layer.dstPort ?? 4500 },
        head,
        body.length
      );
      body = concat(head, body);
      protocol = IpProtocol.Udp;
    } else {
      const header: ah.Header = {
        nextHeader: protocol,
        spi: layer.spi,
        sequenceNumber: layer.seq,
        ivLength: layer.auth.ivLength,
        icvLength: layer.auth.icvLength,
        ipVersion: version,
      };
      const head = new Uint8Array(ah.headerLength(header));
      ah.emit(header, head);
      body = concat(head, body);
      protocol = IpProtocol.Ah;
    }
  }
  // LSOv2 length fields are 0 (D2), so a large send may exceed what the field could hold.
  const zeroLength = lso?.lengthField === 'zero';
  let header: Uint8Array;
  if (version === 4) {
    const h: ipv4.Header = {
      typeOfService: 0,
      identification: spec.id ?? 0x1234,
      dontFragment: spec.dontFragment ?? true,
      moreFragments: false,
      fragmentOffset: 0,
      timeToLive: spec.ttl ?? 64,
      protocol,
      sourceAddress: src,
      destinationAddress: dst,
      options: spec.options ?? new Uint8Array(0),
    };
    header = new Uint8Array(ipv4.headerLength(h));
    ipv4.emit(h, header, zeroLength ? 0 : body.length);
  } else {
    const h: ipv6.Header = {
      trafficClass: 0,
      flowLabel: 0x12345,
      hopLimit: spec.ttl ?? 64,
      sourceAddress: src,
      destinationAddress: dst,
      extensions: spec.extensions ?? [],
      nextHeader: protocol,
    };
    header = new Uint8Array(ipv6.headerLength(h));
    ipv6.emit(h, header, zeroLength ? 0 : body.length);
  }
  if (zeroLength) {
    header[version === 4 ? 2 : 4] = 0;
    header[version === 4 ? 3 : 5] = 0;
  }
  const bytes = concat(header, body);
  // Offsets in wire order.
  let at = header.length;
  let udpAt = -1;
  let ahAt = -1;
  let espAt = -1;
  let payload = at;
  for (const layer of layers) {
    if (layer.kind === 'udp') {
      udpAt = at;
      at += 8;
    } else if (layer.kind === 'ah') {
      ahAt = at;
      at += ah.ahLength(layer.auth.icvLength, layer.auth.ivLength, version);
    } else {
      espAt = at;
      at += 8 + layer.geometry.ivLength;
    }
    payload = at;
  }
  return { bytes, version, udp: udpAt, ah: ahAt, esp: espAt, payload, padLength, nextHeader };
}

/** An Ethernet II frame around an IP packet (optionally 802.1Q-tagged). */
export function ethernetFrame(ip: Uint8Array, version: 4 | 6, vlan?: number): Uint8Array {
  const header: ethernet.Header = {
    destination: Uint8Array.of(2, 0, 0, 0, 0, 2),
    source: Uint8Array.of(2, 0, 0, 0, 0, 1),
    etherType: version === 4 ? ethernet.EtherType.Ipv4 : ethernet.EtherType.Ipv6,
    ...(vlan === undefined ? {} : { vlan: { pcp: 0, dei: false, vid: vlan } }),
  };
  const length = ethernet.headerLength(header);
  const out = new Uint8Array(length + ip.length);
  ethernet.emit(header, out);
  out.set(ip, length);
  return out;
}

/** The Ethernet header length of an untagged frame. */
export const L2 = 14;

/** The OOB of one NBL. */
export interface Oob {
  readonly offloadHandle?: bigint;
  readonly tunnelHandle?: bigint;
  readonly header?: {
    readonly NextHeader: number;
    readonly PadLength: number;
    readonly AhHeaderOffset: number;
    readonly EspHeaderOffset: number;
  };
  readonly lso?: number;
  readonly checksum?: number;
}

/** An NBL holding one NET_BUFFER per frame, with `oob`; each NB's memory has 32 bytes of unused space. */
export function nblOf(frames: readonly Uint8Array[], oob: Oob = {}): NetBufferList {
  const nbl = new NetBufferList(
    ...frames.map((f) => {
      const memory = new Uint8Array(32 + f.length);
      memory.set(f, 32);
      return new NetBuffer(memory, 32, f.length);
    })
  );
  if (oob.offloadHandle !== undefined) setOffloadHandle(nbl, oob.offloadHandle);
  if (oob.tunnelHandle !== undefined) setTunnelHandle(nbl, oob.tunnelHandle);
  if (oob.header !== undefined) setHeaderTransmit(nbl, oob.header);
  if (oob.lso !== undefined) setLso(nbl, oob.lso);
  if (oob.checksum !== undefined) setChecksum(nbl, oob.checksum);
  return nbl;
}

/** The header OOB (slot 12) the transport writes for a built packet whose outer IP is `outer`. */
export function headerOob(
  built: BuiltIp,
  base = 0
): { NextHeader: number; PadLength: number; AhHeaderOffset: number; EspHeaderOffset: number } {
  return {
    NextHeader: built.esp >= 0 ? built.nextHeader : 0,
    PadLength: built.esp >= 0 ? built.padLength : 0,
    AhHeaderOffset: built.ah >= 0 ? headerOffsetUnits(base + built.ah) : 0,
    EspHeaderOffset: built.esp >= 0 ? headerOffsetUnits(base + built.esp) : 0,
  };
}

/** Links NBLs into a chain and returns the first. */
export function chainOf(...nbls: NetBufferList[]): NetBufferList | null {
  return link(nbls);
}

// ---------------------------------------------------------------------------------------------
// Decoding what went on the wire.

/** What the decoder found in one IP packet, outermost first. */
export interface DecodedIp {
  readonly version: 4 | 6;
  /** IPv4 only. */
  readonly id: number;
  readonly totalLength: number;
  readonly headerChecksumOk: boolean;
  readonly udp: {
    readonly length: number;
    readonly checksum: number;
    readonly checksumOk: boolean;
  } | null;
  readonly ah: {
    readonly spi: number;
    readonly seq: number;
    readonly result: OpenResult;
    readonly iv: Uint8Array;
    readonly length: number;
  } | null;
  readonly esp: {
    readonly spi: number;
    readonly seq: number;
    readonly result: OpenResult;
    readonly iv: Uint8Array;
    readonly padLength: number;
    readonly padValid: boolean;
    readonly nextHeader: number;
    /** The decrypted payload (inner IP packet or TCP/UDP segment). */
    readonly plaintext: Uint8Array;
  } | null;
  /** The inner IP packet of a tunnel. */
  readonly inner: DecodedIp | null;
  readonly tcp: {
    readonly seq: number;
    readonly flags: number;
    readonly checksumOk: boolean;
    readonly headerLength: number;
    readonly payload: Uint8Array;
    readonly checksum: number;
  } | null;
  readonly udpPayload: { readonly checksumOk: boolean; readonly payload: Uint8Array } | null;
}

/** How the decoder finds the high half of a sequence number (ESN); default: the verifier's. */
export type HighOf = (spi: number, seqLow: number) => number;

/**
 * Decodes and verifies one emitted Ethernet frame with `verifiers` (by SPI): every check result
 * is reported, not asserted, so a test can say which one failed.
 */
export function decodeFrame(
  frame: Uint8Array,
  verifiers: readonly Verifier[],
  highOf?: HighOf
): DecodedIp {
  const f = frame.slice();
  const type = (f[12] << 8) | f[13];
  const at = type === ethernet.EtherType.Vlan ? 18 : 14;
  return decodeIp(f.subarray(at), verifiers, highOf ?? ((spi) => byspi(verifiers, spi).seqHigh));
}

function byspi(verifiers: readonly Verifier[], spi: number): Verifier {
  const v = verifiers.find((x) => x.spi === spi);
  if (v === undefined)
    throw new TypeError(`decodeFrame: no verifier for SPI 0x${spi.toString(16)}`);
  return v;
}

function decodeIp(packet: Uint8Array, verifiers: readonly Verifier[], highOf: HighOf): DecodedIp {
  const dv = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  const version = packet[0] >>> 4 === 4 ? 4 : 6;
  let id = 0;
  let totalLength: number;
  let headerChecksumOk = true;
  let protocol: number;
  let at: number;
  if (version === 4) {
    const ihl = (packet[0] & 15) * 4;
    totalLength = dv.getUint16(2);
    id = dv.getUint16(4);
    headerChecksumOk = checksum.checksum(packet.subarray(0, ihl)) === 0;
    protocol = packet[9];
    at = ihl;
  } else {
    totalLength = 40 + dv.getUint16(4);
    protocol = packet[6];
    at = 40;
    while (ipv6.isWalkedExtension(protocol)) {
      const len = protocol === IpProtocol.Fragment ? 8 : (packet[at + 1] + 1) * 8;
      protocol = packet[at];
      at += len;
    }
  }
  const end = Math.min(totalLength, packet.length);
  const src = version === 4 ? packet.slice(12, 16) : packet.slice(8, 24);
  const dst = version === 4 ? packet.slice(16, 20) : packet.slice(24, 40);
  let udpInfo: DecodedIp['udp'] = null;
  let ahInfo: DecodedIp['ah'] = null;
  let espInfo: DecodedIp['esp'] = null;
  let inner: DecodedIp | null = null;
  let tcpInfo: DecodedIp['tcp'] = null;
  let udpPayload: DecodedIp['udpPayload'] = null;
  const original = packet.slice(0, end); // before decryption, for AH

  if (protocol === IpProtocol.Ah) {
    const spi = dv.getUint32(at + 4);
    const seq = dv.getUint32(at + 8);
    const v = byspi(verifiers, spi);
    const auth = v.auth!;
    const length = (packet[at + 1] + 2) * 4;
    const scratch = new Uint8Array(end + 8);
    const input = ah.icvInput(original, scratch, {
      icvLength: auth.icvLength,
      ivLength: auth.ivLength,
    });
    let result: OpenResult = 'bad-length';
    const iv = original.slice(at + 12, at + 12 + auth.ivLength);
    if (input.ok) {
      const icv = original.slice(input.value.icvOffset, input.value.icvOffset + auth.icvLength);
      result = auth.verify(input.value.input, highOf(spi, seq), auth.ivLength > 0 ? iv : null, icv);
    }
    ahInfo = { spi, seq, result, iv, length };
    protocol = packet[at];
    at += length;
  }
  if (protocol === IpProtocol.Udp && (dv.getUint16(at + 2) === 4500 || dv.getUint16(at) === 4500)) {
    const length = dv.getUint16(at + 4);
    const sum = dv.getUint16(at + 6);
    const ok =
      sum === 0
        ? version === 4
        : checksum.fold(
            checksum.sum16(packet.subarray(at, end), pseudo(version, src, dst, 17, end - at))
          ) === 0xffff;
    udpInfo = { length, checksum: sum, checksumOk: ok };
    protocol = IpProtocol.Esp;
    at += 8;
  }
  if (protocol === IpProtocol.Esp) {
    const spi = dv.getUint32(at);
    const seq = dv.getUint32(at + 4);
    const v = byspi(verifiers, spi);
    const t = v.esp!;
    const region = packet.subarray(at, end);
    const iv = region.slice(8, 8 + t.ivLength);
    const result = t.open(region, highOf(spi, seq));
    const body = region.subarray(8 + t.ivLength, region.length - t.icvLength);
    const trailer = esp.parseTrailer(body);
    const padLength = trailer.ok ? trailer.value.padLength : -1;
    const nextHeader = trailer.ok ? trailer.value.nextHeader : -1;
    const plaintext = trailer.ok ? body.slice(0, trailer.value.payloadLength) : new Uint8Array(0);
    espInfo = {
      spi,
      seq,
      result,
      iv,
      padLength,
      padValid: trailer.ok && trailer.value.padValid,
      nextHeader,
      plaintext,
    };
    if (result === 'ok' && (nextHeader === 4 || nextHeader === 41)) {
      inner = decodeIp(plaintext, verifiers, highOf);
    } else if (result === 'ok' && nextHeader === IpProtocol.Tcp) {
      tcpInfo = decodeTcp(plaintext, version, src, dst);
    } else if (result === 'ok' && nextHeader === IpProtocol.Udp) {
      udpPayload = decodeUdp(plaintext, version, src, dst);
    }
  } else if (protocol === 4 || protocol === 41) {
    inner = decodeIp(packet.subarray(at, end), verifiers, highOf);
  } else if (protocol === IpProtocol.Tcp) {
    tcpInfo = decodeTcp(packet.subarray(at, end), version, src, dst);
  } else if (protocol === IpProtocol.Udp) {
    udpPayload = decodeUdp(packet.subarray(at, end), version, src, dst);
  }
  return {
    version,
    id,
    totalLength,
    headerChecksumOk,
    udp: udpInfo,
    ah: ahInfo,
    esp: espInfo,
    inner,
    tcp: tcpInfo,
    udpPayload,
  };
}

function decodeTcp(
  seg: Uint8Array,
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array
): DecodedIp['tcp'] {
  const dv = new DataView(seg.buffer, seg.byteOffset, seg.byteLength);
  const headerLength = (seg[12] >>> 4) * 4;
  return {
    seq: dv.getUint32(4),
    flags: seg[13],
    checksum: dv.getUint16(16),
    checksumOk:
      checksum.fold(checksum.sum16(seg, pseudo(version, src, dst, 6, seg.length))) === 0xffff,
    headerLength,
    payload: seg.slice(headerLength),
  };
}

function decodeUdp(
  d: Uint8Array,
  version: 4 | 6,
  src: Uint8Array,
  dst: Uint8Array
): DecodedIp['udpPayload'] {
  return {
    checksumOk: udp.checksumValid(d, pseudo(version, src, dst, 17, d.length), version),
    payload: d.slice(8),
  };
}

// ---------------------------------------------------------------------------------------------
// Shortcuts for the common cases.

/** A TCP segment as an IP payload, for `version`'s default addresses (or `src`/`dst`). */
export function tcpPayload(
  version: 4 | 6,
  length: number,
  mode: ChecksumMode = 'complete',
  spec: Partial<TcpSpec> = {},
  src?: Uint8Array,
  dst?: Uint8Array
): { protocol: number; bytes: Uint8Array } {
  const s = src ?? (version === 4 ? ADDR.v4src : ADDR.v6src);
  const d = dst ?? (version === 4 ? ADDR.v4dst : ADDR.v6dst);
  return {
    protocol: IpProtocol.Tcp,
    bytes: tcpSegment(
      { ...spec, payload: spec.payload ?? payloadBytes(length) },
      mode,
      version,
      s,
      d
    ),
  };
}

/** A packet built from `spec`, its Ethernet frame, and an NBL with `sa`'s handle and header OOB. */
export function framePacket(
  spec: IpSpec,
  sa: TestSa | null,
  oob: Oob = {}
): { frame: Uint8Array; built: BuiltIp; nbl: NetBufferList } {
  const built = buildIp(spec);
  const frame = ethernetFrame(built.bytes, spec.version);
  const nbl = nblOf([frame], {
    ...(sa === null ? {} : { offloadHandle: sa.handle, header: headerOob(built) }),
    ...oob,
  });
  return { frame, built, nbl };
}

/** The ESP layer of `sa` (its first ESP element, or the one with `spi`) with sequence number `seq`. */
export function espLayer(sa: TestSa, seq: number, spi?: number): Layer {
  for (const e of sa.bundle.elements) {
    if (e.esp !== null && (spi === undefined || e.spi === spi)) {
      return { kind: 'esp', spi: e.spi, seq, geometry: e.esp };
    }
  }
  throw new TypeError('espLayer: expected an ESP element');
}

/** The AH layer of `sa` with sequence number `seq`. */
export function ahLayer(sa: TestSa, seq: number): Layer {
  for (const e of sa.bundle.elements) {
    if (e.auth !== null) return { kind: 'ah', spi: e.spi, seq, auth: e.auth };
  }
  throw new TypeError('ahLayer: expected an AH element');
}

/** The default capabilities with some NDIS_IPSEC_OFFLOAD_V2 members changed. */
export function capsWith(patch: Partial<Offload['IPsecV2']>, base?: Offload): Offload {
  const caps = base ?? defaultCapabilities();
  return { ...caps, IPsecV2: { ...caps.IPsecV2, ...patch } };
}

/** The `send.fail:…` counters that are non-zero, as `name=value` (for messages and asserts). */
export function failures(mp: Miniport): string[] {
  return Object.entries(mp.counters.snapshot())
    .filter(([k]) => k.startsWith('send.fail:'))
    .map(([k, v]) => `${k}=${v}`);
}
