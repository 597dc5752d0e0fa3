/**
 * @module
 * The demo job (until the scenario runner of issue 5 replaces it): one simulated IPsecOV2 NIC,
 * SAs added through OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA with the binary x64 structures, and
 * three sends framed by the transport's framing code — an LSOv2 TCP send over ESP AES-GCM-128
 * (transport mode, IPv4), a UDP datagram over tunnel-mode ESP AES-CBC-256 + HMAC-SHA-256-128
 * (IPv6 in IPv6), and a TCP segment over AH HMAC-SHA1-96 + ESP AES-CBC-128 (IPv4). Every frame
 * the NIC puts on the wire is printed layer by layer, decrypted and verified with the SAs' keys,
 * and the delivered bytes are compared with the bytes sent. Reproducible for a given seed.
 */
import { seededRandom } from '../crypto/random.ts';
import { encryptionInfo, integrityInfo } from '../crypto/names.ts';
import { Miniport } from '../miniport/miniport.ts';
import { encodeAddSaList, readAddSaHandle } from '../ndis/addsa.ts';
import { NetBufferList } from '../ndis/nbl.ts';
import { decodeLsoV2TransmitComplete, getLso } from '../ndis/oob.ts';
import { Oid } from '../ndis/oid.ts';
import { NdisStatus, statusName } from '../ndis/status.ts';
import { Keyring } from '../sim/keyring.ts';
import * as framing from '../transport/framing.ts';
import type { FrameSpec } from '../transport/framing.ts';
import { chooseMss, segmentCount } from '../transport/mss.ts';
import { addSaEntry, type SaDescription } from '../transport/sa-entry.ts';
import * as ethernet from '../wire/ethernet.ts';
import * as ipv4 from '../wire/ipv4.ts';
import * as ipv6 from '../wire/ipv6.ts';
import { describeFrame, format, type Line } from '../wire/pretty.ts';

const MTU = 1500;

/** What one demo run produced, for the CLI to print and for tests to check. */
export interface DemoResult {
  readonly text: string;
  readonly frames: readonly Uint8Array[];
  /** Every NBL's completion status, in send order. */
  readonly statuses: readonly number[];
  /** True when every application byte sent came back out of the decrypted frames. */
  readonly delivered: boolean;
  /** Defects the decoder annotated on any frame (expected: none). */
  readonly defects: readonly string[];
}

function bytes(length: number, random: { fill(out: Uint8Array): void }): Uint8Array {
  const b = new Uint8Array(length);
  random.fill(b);
  return b;
}

/** Runs the demo with `seed`; returns the printout and the evidence. */
export function runDemo(seed = 1): DemoResult {
  const random = seededRandom(seed);
  const out: string[] = [];
  const frames: Uint8Array[] = [];
  const completed: NetBufferList[] = [];
  const mp = new Miniport({
    link: { transmit: (frame) => frames.push(frame) },
    complete: (nbl) => completed.push(nbl),
    random,
  });

  const macA = ethernet.parseMac('02:00:00:00:00:0a');
  const macB = ethernet.parseMac('02:00:00:00:00:0b');
  const a4 = ipv4.parseAddress('192.0.2.10');
  const b4 = ipv4.parseAddress('198.51.100.20');
  const a6 = ipv6.parseAddress('2001:db8:a::10');
  const b6 = ipv6.parseAddress('2001:db8:b::20');
  const gwA6 = ipv6.parseAddress('2001:db8:ffff::a');
  const gwB6 = ipv6.parseAddress('2001:db8:ffff::b');

  const key = (length: number): Uint8Array => bytes(length, random);
  const gcm: SaDescription = {
    protocol: 'esp',
    spi: 0x1001,
    encryption: 'aes-gcm-128',
    encryptionKey: key(encryptionInfo('aes-gcm-128').keyLength),
  };
  const cbc: SaDescription = {
    protocol: 'esp',
    spi: 0x2002,
    encryption: 'aes-cbc-256',
    integrity: 'hmac-sha256-128',
    encryptionKey: key(encryptionInfo('aes-cbc-256').keyLength),
    integrityKey: key(integrityInfo('hmac-sha256-128').keyLength),
  };
  const bundleEsp: SaDescription = {
    protocol: 'esp',
    spi: 0x3003,
    encryption: 'aes-cbc-128',
    integrity: 'hmac-sha1-96',
    encryptionKey: key(16),
    integrityKey: key(20),
  };
  const bundleAh: SaDescription = {
    protocol: 'ah',
    spi: 0x3004,
    integrity: 'hmac-sha1-96',
    integrityKey: key(20),
  };
  const bundles = [
    { what: 'esp aes-gcm-128 transport', src: a4, dst: b4, sas: [gcm] },
    { what: 'esp aes-cbc-256+hmac-sha256-128 tunnel', src: gwA6, dst: gwB6, sas: [cbc] },
    {
      what: 'ah hmac-sha1-96 + esp aes-cbc-128+hmac-sha1-96',
      src: a4,
      dst: b4,
      sas: [bundleEsp, bundleAh],
    },
  ];

  // Control path: one ADD_SA list in the x64 layout, set by OID; read each handle back.
  const entries = bundles.map((b) =>
    addSaEntry({ inbound: false, source: b.src, destination: b.dst, sas: b.sas })
  );
  const list = encodeAddSaList(entries, 0x1000n, 'x64');
  const add = mp.oidRequest({
    type: 'set',
    oid: Oid.OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA,
    buffer: list.bytes,
    baseAddress: 0x1000n,
  });
  const handles = list.entryOffsets.map((o) => readAddSaHandle(list.bytes, o, 'x64'));
  out.push(
    `OID_TCP_TASK_IPSEC_OFFLOAD_V2_ADD_SA (x64, ${list.bytes.length} bytes) → ${statusName(add.status)}`
  );
  bundles.forEach((b, i) => {
    const spis = b.sas.map((s) => `0x${s.spi.toString(16).padStart(8, '0')}`).join('+');
    out.push(`  handle ${handles[i]}  outbound  spi ${spis}  ${b.what}`);
  });

  const keyring = new Keyring();
  for (const b of bundles) for (const sa of b.sas) keyring.add(sa);
  const geometry = (
    sa: SaDescription
  ): { ivLength: number; icvLength: number; padAlign: number } => {
    const e = encryptionInfo(sa.encryption ?? 'null');
    const icv = e.combined ? e.icvLength : sa.integrity ? integrityInfo(sa.integrity).icvLength : 0;
    return { ivLength: e.ivLength, icvLength: icv, padAlign: e.padAlign };
  };
  const eth = { source: macA, destination: macB };
  const tcpHeader = (seq: number) => ({
    srcPort: 49152,
    dstPort: 443,
    sequenceNumber: seq,
    acknowledgmentNumber: 1,
    flags: 0x18,
    window: 65535,
    urgentPointer: 0,
    options: [],
  });

  // 1. LSOv2: 4,000 bytes of TCP over ESP AES-GCM-128, MSS chosen so every segment fits the MTU.
  const tcpPayload = bytes(4000, random);
  const lsoBase: FrameSpec = {
    ethernet: eth,
    ip: { version: 4, source: a4, destination: b4, identification: 0x100, dontFragment: true },
    transport: { handle: handles[0], esp: { spi: gcm.spi, sequenceNumber: 1n, ...geometry(gcm) } },
    l4: { protocol: 'tcp', header: tcpHeader(1000), payload: tcpPayload },
  };
  const mss = chooseMss(MTU, framing.mssOverhead(lsoBase));
  const lso = framing.build({ ...lsoBase, lso: { version: 2, mss } });
  // 2. UDP over IPv6-in-IPv6 tunnel mode, ESP AES-CBC-256 + HMAC-SHA-256-128.
  const udpPayload = bytes(300, random);
  const tunnel = framing.build({
    ethernet: eth,
    ip: { version: 6, source: gwA6, destination: gwB6 },
    tunnel: {
      protection: {
        handle: handles[1],
        esp: { spi: cbc.spi, sequenceNumber: 1n, ...geometry(cbc) },
      },
      inner: { version: 6, source: a6, destination: b6 },
    },
    l4: { protocol: 'udp', srcPort: 5000, dstPort: 5001, payload: udpPayload },
  });
  // 3. AH + ESP bundle over IPv4, one TCP segment (no LSO).
  const bundlePayload = bytes(200, random);
  const segmentsOfLso = segmentCount(tcpPayload.length, mss);
  const bundled = framing.build({
    ethernet: eth,
    ip: { version: 4, source: a4, destination: b4, identification: 0x200 },
    transport: {
      handle: handles[2],
      esp: { spi: bundleEsp.spi, sequenceNumber: 1n, ...geometry(bundleEsp) },
      ah: { spi: bundleAh.spi, sequenceNumber: 1n, icvLength: 12 },
    },
    l4: { protocol: 'tcp', header: tcpHeader(5000), payload: bundlePayload },
  });

  const nbls = [lso, tunnel, bundled];
  const what = [
    `TCP ${tcpPayload.length} bytes, LSOv2 MSS ${mss} (${segmentsOfLso} segments), ESP transport IPv4`,
    `UDP ${udpPayload.length} bytes, ESP tunnel IPv6 in IPv6`,
    `TCP ${bundlePayload.length} bytes, AH + ESP transport IPv4`,
  ];
  nbls.forEach((nbl, i) => (nbl.next = nbls[i + 1] ?? null));
  // Data path: one call, the whole chain (MiniportSendNetBufferLists).
  mp.sendNetBufferLists(nbls[0]);

  // Print every frame decoded with the keys; collect the application bytes that come out.
  const perNbl = [segmentsOfLso, 1, 1];
  const defects: string[] = [];
  const tcpOut: Uint8Array[] = [];
  let frameIndex = 0;
  nbls.forEach((nbl, i) => {
    const lsoInfo =
      i === 0
        ? ` (LsoV2TransmitComplete.Type ${decodeLsoV2TransmitComplete(getLso(nbl)).Type})`
        : '';
    out.push('', `NBL ${i + 1}: ${what[i]} → ${statusName(nbl.status)}${lsoInfo}`);
    for (let k = 0; k < perNbl[i] && frameIndex < frames.length; k++, frameIndex++) {
      const frame = frames[frameIndex];
      const lines: Line[] = describeFrame(frame, keyring.hooks());
      out.push(`frame ${frameIndex + 1} (${frame.length} bytes)`, format(lines));
      for (const l of lines)
        defects.push(...l.defects.map((d) => `frame ${frameIndex + 1} ${l.layer}: ${d}`));
    }
  });
  // The decoded application bytes, recovered independently of the printout.
  const collect = (frame: Uint8Array): Uint8Array | null => {
    let found: Uint8Array | null = null;
    describeFrame(frame, {
      ...keyring.hooks(),
      openEsp: (packet) => {
        const opened = keyring.openEsp(packet);
        if (opened?.ok) found = opened.plaintext;
        return opened;
      },
    });
    return found;
  };
  for (let f = 0; f < segmentsOfLso; f++) {
    const plain = frames[f] ? collect(frames[f]) : null;
    // Transport-mode TCP: 20-byte header, then data; the trailer is after payloadLength.
    if (plain) tcpOut.push(plain);
  }
  const joined = Buffer.concat(tcpOut.map((p) => stripTrailer(p).subarray(20)));
  const delivered =
    frames.length === segmentsOfLso + 2 &&
    Buffer.from(tcpPayload).equals(joined) &&
    completed.length === 3 &&
    completed.every((n) => n.status === NdisStatus.NDIS_STATUS_SUCCESS);
  out.push(
    '',
    `${completed.length} NBLs completed, ${frames.length} frames on the wire, ` +
      `${defects.length} defects; LSO payload ${delivered ? 'reassembles to the bytes sent' : 'DOES NOT match'}`
  );
  const counters = Object.entries(mp.counters.snapshot()).filter(([k]) => k.startsWith('send.'));
  out.push(`counters: ${counters.map(([k, v]) => `${k}=${v}`).join(' ')}`);
  return {
    text: out.join('\n'),
    frames,
    statuses: completed.map((n) => n.status),
    delivered,
    defects,
  };
}

/** Payload without the ESP trailer (padding, Pad Length, Next Header). */
function stripTrailer(plaintext: Uint8Array): Uint8Array {
  const padLength = plaintext[plaintext.length - 2] ?? 0;
  return plaintext.subarray(0, plaintext.length - 2 - padLength);
}
