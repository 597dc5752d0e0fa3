/**
 * @module
 * The send path's working state ("Sending Network Data with IPsec Offload Version 2",
 * MiniportSendNetBufferLists): the outcome of one NET_BUFFER_LIST (an NDIS status and a named
 * reason, contract D9/§4 kind 3), where the IP layers and IPsec headers of one frame are, and the
 * per-SA counts of an NBL that become visible only if the NBL succeeds (contract D10).
 *
 * Like the descriptors of a hardware send ring (netvmini's TCBs), these objects are kept by the
 * miniport and reused for every call, NBL and NET_BUFFER, so the per-packet path does not allocate
 * them (style practice 7). A call processes its chain in batches: each NBL is checked and built
 * and its record parked; at the end of a batch the deferred ESP seals run and the records are
 * completed in chain order (datapath.ts).
 *
 * Offsets are byte offsets from the first byte of the frame (the Ethernet header), never from the
 * IP header, except the OOB `AhHeaderOffset`/`EspHeaderOffset` (4-byte units from the outermost
 * IP header, contract D4) which are converted where they are read.
 */
import type { NetBufferList } from '../ndis/nbl.ts';
import { NdisStatus } from '../ndis/status.ts';
import type { TransportLocation } from './csum.ts';
import type { SaBundle, SaElement } from './sa-table.ts';
import type { LsoRequest } from './lso.ts';
import type { HeaderOob, L2 } from './send-locate.ts';
import { SealQueue, type TxSlab } from './tx-batch.ts';

const { NDIS_STATUS_SUCCESS, NDIS_STATUS_FAILURE, NDIS_STATUS_INVALID_PACKET } = NdisStatus;

/** How one NBL ends: NDIS_STATUS_SUCCESS, or a failure status with the reason it is counted under. */
export class Outcome {
  status: number = NDIS_STATUS_SUCCESS;
  reason = '';
  /** TCP/UDP checksum seeds that were not the pseudo-header sum (counted, not refused: D2, D13). */
  checksumSeedMismatches = 0;

  /** True while nothing has failed. */
  get ok(): boolean {
    return this.status === NDIS_STATUS_SUCCESS;
  }

  /** Records a malformed request (contract D9: NDIS_STATUS_INVALID_PACKET) and returns false. */
  invalid(reason: string): false {
    this.status = NDIS_STATUS_INVALID_PACKET;
    this.reason = reason;
    return false;
  }

  /** Records a refusal with NDIS_STATUS_FAILURE (D2, D3, D8) and returns false. */
  failure(reason: string): false {
    this.status = NDIS_STATUS_FAILURE;
    this.reason = reason;
    return false;
  }

  /** Records any other status (e.g. NDIS_STATUS_PAUSED, D16) and returns false. */
  fail(status: number, reason: string): false {
    this.status = status;
    this.reason = reason;
    return false;
  }

  /** Back to success, for the next NBL. */
  reset(): void {
    this.status = NDIS_STATUS_SUCCESS;
    this.reason = '';
    this.checksumSeedMismatches = 0;
  }
}

/**
 * One IP header of a frame and what the walk of its next-header chain found (RFC 791 §3.1,
 * RFC 8200 §4): the UDP-ESP header (RFC 3948), the AH header (RFC 4302) and the ESP header
 * (RFC 4303) that follow it, or the upper-layer protocol where the walk stopped.
 */
export class IpLayer {
  /** First byte of the IP header. */
  start = 0;
  version: 4 | 6 = 4;
  /** IPv4: IHL × 4; IPv6: 40 (extension headers are part of the walk). */
  headerLength = 0;
  /** One past the last byte of this IP packet. */
  end = 0;
  /** IPv4 options are present (IHL > 5). */
  options = false;
  /** IPv6 extension headers other than AH/ESP are present (RFC 8200 §4). */
  extensions = false;
  /** The packet is a fragment (IPv4 MF or offset, or an IPv6 Fragment header). */
  fragment = false;
  /** Start of the UDP-ESP header, or -1. */
  udp = -1;
  /** Start of the first AH header, or -1. */
  ah = -1;
  /** Start of the first ESP header, or -1 (the walk stops there: what follows is payload). */
  esp = -1;
  /** The protocol where the walk stopped (50 at an ESP header, else the upper layer). */
  upperProtocol = 0;
  /** Where that protocol's header starts. */
  upperOffset = 0;

  /** Forgets the previous packet. */
  reset(): void {
    this.start = 0;
    this.version = 4;
    this.headerLength = 0;
    this.end = 0;
    this.options = false;
    this.extensions = false;
    this.fragment = false;
    this.udp = -1;
    this.ah = -1;
    this.esp = -1;
    this.upperProtocol = 0;
    this.upperOffset = 0;
  }
}

/** Which of the NBL's SA bundles a layout belongs to (contract D4, D14). */
export type Role =
  /** The only bundle (TunnelHandle 0): transport or tunnel mode, located by the OOB offsets. */
  | 'only'
  /** The TunnelHandle bundle of transport-over-tunnel: right after the outer IP (or UDP) header. */
  | 'tunnel'
  /** The OffloadHandle bundle of transport-over-tunnel: inside the tunnel, located by the OOB offsets. */
  | 'transport';

/**
 * Where one SA bundle's headers are in a frame and what they protect: the ESP header ‖ IV ‖
 * payload ‖ trailer ‖ ICV region and/or the AH header, the UDP-ESP header, and the protected
 * payload (its protocol and extent, for checksum offload and tunnel parsing).
 */
export class SaLayout {
  bundle: SaBundle | null = null;
  role: Role = 'only';
  /** The IP header the bundle's AH/ESP headers follow. */
  ip: IpLayer;
  ah: SaElement | null = null;
  esp: SaElement | null = null;
  /** Index of `ah` / `esp` in `bundle.elements` (for the per-SA counters). */
  ahIndex = -1;
  espIndex = -1;
  udpStart = -1;
  ahStart = -1;
  ahLength = 0;
  espStart = -1;
  /** One past the ESP ICV (= the end of the IP packet the ESP header is in). */
  espEnd = -1;
  /** The ESP Pad Length and Next Header of the trailer (LSO: from the OOB). */
  padLength = 0;
  nextHeader = 0;
  /** The protected payload: TCP/UDP segment, inner IP packet, … */
  payloadStart = 0;
  payloadEnd = 0;
  payloadProtocol = 0;
  /** The sequence number high halves of this packet (contract D3; 0 without ESN). */
  ahHigh = 0;
  espHigh = 0;

  constructor(ip: IpLayer) {
    this.ip = ip;
  }

  /** Forgets the previous packet. */
  reset(role: Role, ip: IpLayer): void {
    this.bundle = null;
    this.role = role;
    this.ip = ip;
    this.ah = null;
    this.esp = null;
    this.ahIndex = -1;
    this.espIndex = -1;
    this.udpStart = -1;
    this.ahStart = -1;
    this.ahLength = 0;
    this.espStart = -1;
    this.espEnd = -1;
    this.padLength = 0;
    this.nextHeader = 0;
    this.payloadStart = 0;
    this.payloadEnd = 0;
    this.payloadProtocol = 0;
    this.ahHigh = 0;
    this.espHigh = 0;
  }
}

/** The most SA elements one NBL can use: two bundles (OffloadHandle, TunnelHandle) of two each. */
const MAX_ELEMENTS = 4;
/** A batch is completed once it holds this many frames (or NBLs). */
const BATCH_FRAMES = 256;

/**
 * One NBL processed and waiting for the end of its batch: its outcome, its frames
 * (`SendWork.frames[frameStart, frameEnd)`) and its per-SA counts, applied only if it succeeds
 * (contract D10). Records are reused from batch to batch.
 */
export class NblRecord {
  nbl: NetBufferList | null = null;
  lsoRaw = 0;
  status: number = NDIS_STATUS_SUCCESS;
  reason = '';
  checksumSeedMismatches = 0;
  unprocessed = false;
  tcpPayload = 0;
  primaryBundle: SaBundle | null = null;
  tunnelBundle: SaBundle | null = null;
  frameStart = 0;
  frameEnd = 0;
  readonly elements: (SaElement | null)[] = new Array<SaElement | null>(MAX_ELEMENTS).fill(null);
  readonly packets: Float64Array = new Float64Array(MAX_ELEMENTS);
  readonly bytes: Float64Array = new Float64Array(MAX_ELEMENTS);

  /** Whether `elements`/`packets`/`bytes` hold counts (to be cleared before reuse). */
  counted = false;

  /** Clears the counts for the next NBL. */
  clearCounts(): void {
    if (!this.counted) return;
    for (let i = 0; i < MAX_ELEMENTS; i++) {
      this.elements[i] = null;
      this.packets[i] = 0;
      this.bytes[i] = 0;
    }
    this.counted = false;
  }

  /** Adds the NBL's counts to the SAs' counters (called once, when the NBL succeeded). */
  commitCounts(): void {
    for (let i = 0; i < MAX_ELEMENTS; i++) {
      const element = this.elements[i];
      if (element === null) continue;
      element.counters.packets += this.packets[i];
      element.counters.bytes += this.bytes[i];
    }
  }
}

/**
 * Everything the send path reuses across NBLs: the outcome, the IP layers and bundle layouts of
 * the frame at hand, and the batch — the frames of the NBLs processed so far (held back until
 * every NET_BUFFER of their NBL succeeded, contract D10, and until their ESP seals ran), one
 * {@link NblRecord} per NBL, and the deferred seals. A `SendWork` is reused from call to call.
 */
export class SendWork {
  readonly outcome: Outcome = new Outcome();
  /** The Ethernet header of the frame at hand. */
  readonly l2: L2 = { ipStart: 0, version: 0, tagged: false };
  /** The NBL's header OOB (slot 12), offsets in bytes. */
  readonly header: HeaderOob = { nextHeader: 0, padLength: 0, ahOffset: 0, espOffset: 0 };
  /** The raw slot 12 value `header` was decoded from (-1: none yet). */
  headerRaw = -1;
  /** Where the TCP/UDP header of the packet at hand is (checksum offload, D13). */
  readonly l4: TransportLocation = { protocol: 0, start: 0, end: 0, ipStart: 0, version: 4 };
  /** The NBL's OffloadHandle bundle, while the NBL is in the NIC's hands (SaBundle.inFlight). */
  primaryBundle: SaBundle | null = null;
  /** The NBL's TunnelHandle bundle, likewise. */
  tunnelBundle: SaBundle | null = null;
  /** The NBL is IPsec-marked but IPsec offload is not configured (seed rule 1, D10). */
  unprocessed = false;
  /** The outermost IP header. */
  readonly outer: IpLayer = new IpLayer();
  /** The inner IP header of transport-over-tunnel (the transport SA's IP header). */
  readonly inner: IpLayer = new IpLayer();
  /** The IP header that carries the TCP/UDP header in tunnel mode (checksum offload, D13). */
  readonly innermost: IpLayer = new IpLayer();
  /** The OffloadHandle bundle's layout. */
  readonly primary: SaLayout = new SaLayout(this.outer);
  /** The TunnelHandle bundle's layout. */
  readonly tunnel: SaLayout = new SaLayout(this.outer);
  /** The frames of the batch, in order (each NBL's are a range of its record). */
  readonly frames: Uint8Array[] = [];
  /** TCP payload bytes of the NBL at hand (LsoV1TransmitComplete.TcpPayload, D11). */
  tcpPayload = 0;
  /** The NBL's LSO request (slot 2), decoded. */
  readonly lso: LsoRequest = { version: 1, mss: 0, tcpHeaderOffset: 0, ipv6: false };
  /** Where frames are built (the miniport's transmit memory). */
  readonly slab: TxSlab;
  /** ESP seals deferred to the end of the batch (only with a batch engine). */
  readonly seals: SealQueue = new SealQueue();
  /** The batch's NBLs, `recordCount` of them in use. */
  readonly records: NblRecord[] = [];
  recordCount = 0;
  #frameMark = 0;
  #sealMark = 0;
  /** The record of the NBL at hand (its per-SA counts are written straight into it). */
  #record: NblRecord = new NblRecord();

  constructor(slab: TxSlab) {
    this.slab = slab;
  }

  /** The index the NBL at hand will have among the batch's records (owner of its seals). */
  get recordIndex(): number {
    return this.recordCount;
  }

  /** True when the batch should be completed before the next NBL. */
  get batchFull(): boolean {
    return this.frames.length >= BATCH_FRAMES || this.recordCount >= BATCH_FRAMES;
  }

  /** Starts a new NBL: no frames, no counts, success. */
  beginNbl(): void {
    this.outcome.reset();
    this.#frameMark = this.frames.length;
    this.#sealMark = this.seals.count;
    this.tcpPayload = 0;
    this.primaryBundle = null;
    this.tunnelBundle = null;
    this.unprocessed = false;
    if (this.recordCount === this.records.length) this.records.push(new NblRecord());
    const r = this.records[this.recordCount];
    r.clearCounts();
    this.#record = r;
  }

  /**
   * Ends the NBL at hand: a failed NBL loses its frames and queued seals (nothing of it is sent,
   * D10); either way its record joins the batch, to be completed in order.
   */
  park(nbl: NetBufferList, lsoRaw: number): NblRecord {
    const o = this.outcome;
    if (!o.ok) {
      this.frames.length = this.#frameMark;
      this.seals.truncate(this.#sealMark);
    }
    const r = this.#record;
    this.recordCount++;
    r.nbl = nbl;
    r.lsoRaw = lsoRaw;
    r.status = o.status;
    r.reason = o.reason;
    r.checksumSeedMismatches = o.checksumSeedMismatches;
    r.unprocessed = this.unprocessed;
    r.tcpPayload = this.tcpPayload;
    r.primaryBundle = this.primaryBundle;
    r.tunnelBundle = this.tunnelBundle;
    r.frameStart = this.#frameMark;
    r.frameEnd = this.frames.length;
    return r;
  }

  /**
   * Forgets the batch (its records have been completed; they are reused as they are): its frames
   * have been transmitted or dropped, so a recycling slab may reuse their memory.
   */
  endBatch(): void {
    this.recordCount = 0;
    this.frames.length = 0;
    this.seals.truncate(0);
    this.slab.release();
  }

  /** Notes that the frame at hand carries `layout`'s headers over an IP packet of `ipBytes` bytes. */
  countLayout(layout: SaLayout, ipBytes: number): void {
    const base = layout.role === 'tunnel' ? 2 : 0;
    if (layout.ah !== null) this.#count(base + layout.ahIndex, layout.ah, ipBytes);
    if (layout.esp !== null) this.#count(base + layout.espIndex, layout.esp, ipBytes);
  }

  #count(slot: number, element: SaElement, ipBytes: number): void {
    const r = this.#record;
    r.counted = true;
    r.elements[slot] = element;
    r.packets[slot] += 1;
    r.bytes[slot] += ipBytes;
  }
}
