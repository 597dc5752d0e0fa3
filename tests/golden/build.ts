/**
 * @module
 * An independent frame builder for the golden-model expectations: it builds, from the RFCs alone,
 * both the frame the transport hands the NIC (contract D1: final lengths, zero IV and ICV fields,
 * the ESP trailer in place) and the frame the NIC must put on the wire. Crypto comes from
 * @noble/ciphers and @noble/hashes through tests/oracle/crypto.ts; bytes are built here. Nothing
 * is imported from `src/`.
 *
 * RFC 791 §3.1 (IPv4 header, checksum RFC 1071), RFC 8200 §3 (IPv6), RFC 793 §3.1 / RFC 8200 §8.1
 * (TCP checksum pseudo-header), RFC 4303 §2 (ESP: SPI, Sequence Number, IV, payload, padding 1, 2,
 * …, Pad Length, Next Header, ICV; §2.4 alignment), RFC 3602 (AES-CBC, explicit IV), RFC 2404 /
 * RFC 4868 (HMAC-SHA-1-96, HMAC-SHA-256-128 over SPI ‖ Seq ‖ IV ‖ ciphertext), RFC 4106 (AES-GCM:
 * nonce = salt ‖ IV, AAD = SPI ‖ Seq; contract D6: IV = the 64-bit sequence number), RFC 4302 §2,
 * §3.3.3 (AH: length a multiple of 4 over IPv4 / 8 over IPv6, ICV over the packet with mutable
 * fields zeroed), RFC 3948 §2.1 (UDP-ESP: port 4500, checksum 0 over IPv4).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { be32, concat, internetChecksum, onesSum } from '../oracle/bytes.ts';
import { cbcEncrypt, gcmSeal, hmacIcv } from '../oracle/crypto.ts';

/** Deterministic key bytes: SHA-256 of the label, extended by SHA-256 of label + "+". */
export function keyBytes(label: string, length: number): Uint8Array {
  const enc = new TextEncoder();
  const a = sha256(enc.encode(label));
  const b = sha256(enc.encode(`${label}+`));
  return concat(a, b).subarray(0, length);
}

/** A recognisable payload: byte k = (seed + 7k) mod 256. */
export function payload(length: number, seed = 0): Uint8Array {
  return Uint8Array.from({ length }, (_, k) => (seed + 7 * k) & 0xff);
}

/** Lower-case hex. */
export function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

const u16 = (n: number): Uint8Array => new Uint8Array([(n >> 8) & 0xff, n & 0xff]);

/** Parses a dotted quad. */
export function v4(text: string): Uint8Array {
  return Uint8Array.from(text.split('.').map(Number));
}

/** Parses a full or ::-shortened IPv6 address. */
export function v6(text: string): Uint8Array {
  const [head, tail] = text.includes('::') ? text.split('::') : [text, ''];
  const h = head === '' ? [] : head.split(':');
  const t = tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return concat(...groups.map((g) => u16(parseInt(g, 16))));
}

/** An Ethernet II header (IEEE 802.3 §3.2.6). */
export function ethernet(type: 0x0800 | 0x86dd): Uint8Array {
  const dst = [0x02, 0, 0, 0, 0, 0x0b];
  const src = [0x02, 0, 0, 0, 0, 0x0a];
  return new Uint8Array([...dst, ...src, type >> 8, type & 0xff]);
}

/** An IPv4 header without options, checksum filled (RFC 791 §3.1). */
export function ipv4(o: {
  src: Uint8Array;
  dst: Uint8Array;
  protocol: number;
  totalLength: number;
  id: number;
  ttl?: number;
  df?: boolean;
}): Uint8Array {
  const h = new Uint8Array(20);
  h[0] = 0x45;
  h.set(u16(o.totalLength), 2);
  h.set(u16(o.id), 4);
  h[6] = o.df === false ? 0 : 0x40;
  h[8] = o.ttl ?? 64;
  h[9] = o.protocol;
  h.set(o.src, 12);
  h.set(o.dst, 16);
  h.set(u16(internetChecksum(h)), 10);
  return h;
}

/** An IPv6 header (RFC 8200 §3). */
export function ipv6(o: {
  src: Uint8Array;
  dst: Uint8Array;
  nextHeader: number;
  payloadLength: number;
  hopLimit?: number;
}): Uint8Array {
  const h = new Uint8Array(40);
  h[0] = 0x60;
  h.set(u16(o.payloadLength), 4);
  h[6] = o.nextHeader;
  h[7] = o.hopLimit ?? 64;
  h.set(o.src, 8);
  h.set(o.dst, 24);
  return h;
}

/** TCP header fields. */
export interface Tcp {
  readonly srcPort: number;
  readonly dstPort: number;
  readonly seq: number;
  readonly ack: number;
  readonly flags: number;
  readonly window: number;
}

/** A TCP segment (20-byte header + data) with its checksum over the pseudo-header of src/dst. */
export function tcp(t: Tcp, data: Uint8Array, src: Uint8Array, dst: Uint8Array): Uint8Array {
  const h = new Uint8Array(20);
  h.set(u16(t.srcPort), 0);
  h.set(u16(t.dstPort), 2);
  h.set(be32(t.seq >>> 0), 4);
  h.set(be32(t.ack >>> 0), 8);
  h[12] = 5 << 4;
  h[13] = t.flags;
  h.set(u16(t.window), 14);
  const segment = concat(h, data);
  const length = segment.length;
  const pseudo =
    src.length === 4
      ? concat(src, dst, new Uint8Array([0, 6]), u16(length))
      : concat(src, dst, be32(length), new Uint8Array([0, 0, 0, 6]));
  segment.set(u16(internetChecksum(pseudo, segment)), 16);
  return segment;
}

/** The ESP SA of a build. */
export interface EspBuild {
  readonly spi: number;
  readonly seq: number;
  readonly encryption: 'aes-gcm-128' | 'aes-cbc-128';
  readonly integrity?: 'hmac-sha1-96' | 'hmac-sha256-128';
  readonly encryptionKey: Uint8Array;
  readonly integrityKey?: Uint8Array;
  /** CBC: the explicit IV. */
  readonly iv?: Uint8Array;
}

/** Before and after the NIC: the framed ESP packet (D1) and the sealed one. */
export interface Pair {
  readonly pre: Uint8Array;
  readonly post: Uint8Array;
  readonly padLength: number;
}

/** ESP over `inner` with `nextHeader` (RFC 4303 §2; padding 1, 2, …, minimal). */
export function esp(sa: EspBuild, inner: Uint8Array, nextHeader: number): Pair {
  const gcm = sa.encryption === 'aes-gcm-128';
  const align = gcm ? 4 : 16;
  const ivLength = gcm ? 8 : 16;
  const icvLength = gcm ? 16 : sa.integrity === 'hmac-sha256-128' ? 16 : 12;
  const padLength = (align - ((inner.length + 2) % align)) % align;
  const plaintext = concat(
    inner,
    Uint8Array.from({ length: padLength }, (_, k) => k + 1),
    new Uint8Array([padLength, nextHeader])
  );
  const header = concat(be32(sa.spi), be32(sa.seq));
  const pre = concat(header, new Uint8Array(ivLength), plaintext, new Uint8Array(icvLength));
  let post: Uint8Array;
  if (gcm) {
    const iv = concat(be32(0), be32(sa.seq));
    post = concat(header, iv, gcmSeal(sa.encryptionKey, iv, header, plaintext, 16));
  } else {
    const iv = sa.iv!;
    const ct = cbcEncrypt(sa.encryptionKey, iv, plaintext);
    const icv = hmacIcv(sa.integrity!, sa.integrityKey!, concat(header, iv, ct));
    post = concat(header, iv, ct, icv);
  }
  return { pre, post, padLength };
}

/** The AH SA of a build (HMAC only). */
export interface AhBuild {
  readonly spi: number;
  readonly seq: number;
  readonly integrity: 'hmac-sha1-96' | 'hmac-sha256-128';
  readonly integrityKey: Uint8Array;
}

/**
 * An IP packet with AH after the base header: `ipHeader(ahLength)` gives the header for the
 * total length; `rest` is what follows AH (before and after the NIC). RFC 4302 §3.3.3.1: the ICV
 * covers the IP header with TOS, flags/fragment, TTL, checksum (IPv4) or traffic class, flow
 * label, hop limit (IPv6) zeroed, the AH header with a zero ICV field, and the payload.
 */
export function ah(
  sa: AhBuild,
  version: 4 | 6,
  ipHeader: (ahLength: number) => Uint8Array,
  nextHeader: number,
  rest: { pre: Uint8Array; post: Uint8Array }
): { pre: Uint8Array; post: Uint8Array; ahLength: number } {
  const icvLength = sa.integrity === 'hmac-sha256-128' ? 16 : 12;
  const unit = version === 4 ? 4 : 8;
  const ahLength = Math.ceil((12 + icvLength) / unit) * unit;
  const header = new Uint8Array(ahLength);
  header[0] = nextHeader;
  header[1] = ahLength / 4 - 2;
  header.set(be32(sa.spi), 4);
  header.set(be32(sa.seq), 8);
  const ip = ipHeader(ahLength);
  const mutable = ip.slice();
  if (version === 4) {
    mutable[1] = 0;
    mutable[6] = 0;
    mutable[7] = 0;
    mutable[8] = 0;
    mutable[10] = 0;
    mutable[11] = 0;
  } else {
    mutable.set([0x60, 0, 0, 0], 0);
    mutable[7] = 0;
  }
  const icv = hmacIcv(sa.integrity, sa.integrityKey, concat(mutable, header, rest.post));
  const sealed = header.slice();
  sealed.set(icv, 12);
  return {
    pre: concat(ip, header, rest.pre),
    post: concat(ip, sealed, rest.post),
    ahLength,
  };
}

/** One LSO segment's expected frame (transport ESP AES-GCM over IPv4, D2/D3 per segment). */
export function lsoSegment(o: {
  sa: EspBuild;
  src: Uint8Array;
  dst: Uint8Array;
  id: number;
  tcp: Tcp;
  data: Uint8Array;
}): Uint8Array {
  const segment = tcp(o.tcp, o.data, o.src, o.dst);
  const sealed = esp(o.sa, segment, 6).post;
  const ip = ipv4({
    src: o.src,
    dst: o.dst,
    protocol: 50,
    totalLength: 20 + sealed.length,
    id: o.id,
  });
  return concat(ethernet(0x0800), ip, sealed);
}

/** The one's complement sum helper, re-exported for the generator's seeds. */
export { onesSum };

/** An x86 IPSEC_OFFLOAD_V2_ADD_SA with one ESP SA, built from ndis-ipsecov2.md §2.2, §2.3, §2.5. */
export function addSaX86(o: {
  src: Uint8Array;
  dst: Uint8Array;
  spi: number;
  encryptionIdentifier: number;
  key: Uint8Array;
  icvLength: number;
}): Uint8Array {
  const KEYDATA = 0x9c;
  const b = new Uint8Array(KEYDATA + o.key.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x80; // NDIS_OBJECT_TYPE_DEFAULT
  b[1] = 1; // NDIS_IPSEC_OFFLOAD_V2_ADD_SA_REVISION_1
  dv.setUint16(2, 0x9d, true); // RTL_SIZEOF_THROUGH_FIELD(…, KeyData) on x86
  dv.setUint32(0x04, 0, true); // Next: none
  dv.setUint32(0x08, 1, true); // NumExtHdrs
  dv.setUint32(0x0c, 0, true); // Flags: outbound, IPv4
  b.set(o.src, 0x10); // IPv4 addresses in network order (D7)
  b.set(o.dst, 0x14);
  dv.setUint32(0x30, 0, true); // OffloadHandle (out)
  dv.setUint32(0x34, 0, true); // UdpEspEncapsulation
  const sa = 0x38;
  dv.setUint32(sa + 0x00, 0, true); // Flags
  dv.setUint32(sa + 0x04, 2, true); // IPsecOffloadV2Esp
  dv.setUint32(sa + 0x08, o.spi, false); // Spi, network order (D7)
  // AuthenticationAlgorithm at +0x0C stays zero (combined mode).
  dv.setUint32(sa + 0x1c, o.encryptionIdentifier, true);
  dv.setUint32(sa + 0x20, o.key.length, true);
  dv.setUint32(sa + 0x24, 0, true); // KeyOffsetBytes
  dv.setUint32(sa + 0x28, o.icvLength, true); // AdditionalInfo: ICV length (D5)
  dv.setUint32(0x98, o.key.length, true); // KeyLength
  b.set(o.key, KEYDATA);
  return b;
}
