/**
 * @module
 * The receiving transport: ProtocolReceiveNetBufferLists for the NBLs a NIC indicates with
 * NdisMIndicateReceiveNetBufferLists, proving every packet (reference §1.5, §4.2: the NIC
 * decrypts and verifies what it can and reports it in slot 1 {SaDeleteReq, CryptoDone,
 * NextCryptoDone, CryptoStatus} and slot 12 {NextHeader, PadLength, HeaderInfoSet}; replay,
 * inbound policy and failed packets are the transport's). Per frame:
 *
 * 1. Ethernet (802.1Q skipped) → IP; fragments are reassembled first (D16, rx-reassembly.ts);
 * 2. each IP level's bundle (AH, ESP, AH+ESP, UDP-ESP; tunnel → inner IP → transport bundle;
 *    the AH and ESP steps are rx-ipsec.ts):
 *    SA by SPI + protocol + destination; anti-replay check (RFC 4303 §3.4.3); the ICV verified
 *    by the NIC (CryptoDone, data decrypted in place) or here in software (crypto transforms,
 *    ESN high half from the window, RFC 4303 A2.2); the window advanced only then; AH/ESP
 *    stripped, the ESP trailer checked (RFC 4303 §2.4–§2.6; dummy packets dropped, counted);
 * 3. the inner IPv4 header checksum and the TCP/UDP checksum (D13: pseudo-header of the
 *    carrying header); the inbound policy (RFC 4301 §5.2, rx-policy.ts);
 * 4. delivery: TCP bytes in order per flow, UDP datagrams per flow (rx-flow.ts).
 *
 * Every frame ends in exactly one named outcome: accepted by a flow, held as a fragment, or a
 * drop reason (`drops`); the CRYPTO_* names are used for ICV and syntax failures on both paths.
 */
import * as esp from '../wire/esp.ts';
import { EtherType } from '../wire/ethernet.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import * as tcp from '../wire/tcp.ts';
import * as udp from '../wire/udp.ts';
import * as udpencap from '../wire/udpencap.ts';
import { chain, type NetBufferList } from '../ndis/nbl.ts';
import { getField, HeaderReceive, IpsecReceive } from '../ndis/oob.ts';
import type { FlowConfig, SaConfig } from './policy.ts';
import type { ReplayCounters } from './replay.ts';
import { bump, FlowState, type Counters, type FlowReport } from './rx-flow.ts';
import { IpHeader, parseIp, pseudoSum, u16, u32 } from './rx-ip.ts';
import { RxFrame, RxIpsec } from './rx-ipsec.ts';
import { checkPolicy, flowKey, keyOf } from './rx-policy.ts';
import { Reassembler, type ReassemblyOptions } from './rx-reassembly.ts';
import { InboundSad, type InboundSa } from './rx-sa.ts';

/** The counter name of a CryptoStatus value (rx-ipsec.ts). */
export { cryptoStatusName } from './rx-ipsec.ts';

/** How a receiving host is set up. */
export interface ReceiverOptions {
  /** The host's IP addresses (4 or 16 bytes each); other destinations are dropped. */
  readonly addresses: readonly Uint8Array[];
  /** Its inbound SA bundles, keys included (software decryption). */
  readonly sas: readonly SaConfig[];
  /** Its flows: which arrive under which SAs (inbound policy). */
  readonly flows: readonly FlowConfig[];
  /** Called once per SA when the NIC sets SaDeleteReq on a packet of that SA (reference §1.3). */
  readonly onSaDeleteRequest?: (saName: string) => void;
  /** Called with each delivered run of application bytes. */
  readonly onData?: (flow: string, bytes: Uint8Array) => void;
  readonly reassembly?: ReassemblyOptions;
  /** Bytes a TCP flow holds out of order (default 1 MiB). */
  readonly tcpWindow?: number;
  /** First TCP sequence numbers by flow name (default: from the first segment). */
  readonly initialSequence?: Readonly<Record<string, number>>;
}

/** Everything a receiver counted. */
export interface ReceiverReport {
  readonly counters: Readonly<Counters>;
  readonly drops: Readonly<Counters>;
  readonly reassembly: Readonly<Counters>;
  readonly flows: readonly FlowReport[];
  /** Anti-replay counters per SA, by `name/esp` or `name/ah`. */
  readonly replay: Readonly<Record<string, ReplayCounters>>;
}

const TCP_SYN = 0x02;

/** The receiving transport of one host. */
export class Receiver {
  /** Events: nbls, frames, accepted, fragments-held, reassembled, offloaded, software, … */
  readonly counters: Counters = {};
  /** Drops by reason; every frame not accepted or held is here exactly once. */
  readonly drops: Counters = {};
  readonly #addresses: readonly Uint8Array[];
  readonly #sad: InboundSad;
  readonly #flows = new Map<number, FlowState>();
  readonly #flowsBySa = new Map<string, FlowState>();
  readonly #byName = new Map<string, FlowState>();
  readonly #reassembler: Reassembler;
  readonly #ipsec: RxIpsec;
  /** One parsed header per IP level (outer, inner). */
  readonly #ip: readonly IpHeader[] = [new IpHeader(), new IpHeader()];
  // Per-frame state, reset by #frame.
  readonly #rx = new RxFrame();

  constructor(options: ReceiverOptions) {
    this.#addresses = options.addresses;
    this.#sad = new InboundSad(options.sas);
    this.#reassembler = new Reassembler(options.reassembly);
    this.#ipsec = new RxIpsec({
      sad: this.#sad,
      counters: this.counters,
      frame: this.#rx,
      drop: (reason, sa) => {
        this.#drop(reason, sa);
      },
      onSaDeleteRequest: options.onSaDeleteRequest,
    });
    for (const f of options.flows) {
      const isn = options.initialSequence?.[f.name];
      const state = new FlowState(f, {
        ...(options.tcpWindow === undefined ? {} : { tcpWindow: options.tcpWindow }),
        ...(isn === undefined ? {} : { initialSequence: isn }),
        ...(options.onData === undefined ? {} : { onData: options.onData }),
      });
      const key = keyOf(f);
      if (this.#flows.has(key) || this.#byName.has(f.name)) {
        throw new RangeError(`Receiver: expected unique flows, got ${f.name} twice`);
      }
      this.#flows.set(key, state);
      this.#byName.set(f.name, state);
      // Failures before the ports are known are reported to the first flow of the SA.
      for (const sa of [f.sa, f.tunnelSa]) {
        if (sa !== undefined && !this.#flowsBySa.has(sa)) this.#flowsBySa.set(sa, state);
      }
    }
  }

  /**
   * ProtocolReceiveNetBufferLists: processes every NBL of the chain (each NET_BUFFER one
   * frame). The NBLs stay the caller's; their data may have been decrypted in place.
   */
  receive(first: NetBufferList | null): void {
    for (const nbl of chain(first)) {
      bump(this.counters, 'nbls');
      const rx = nbl.info.getU32(1); // slot 1: IPsecOffloadV2NetBufferListInfo.Receive
      const done = getField(rx, IpsecReceive.CryptoDone);
      const next = getField(rx, IpsecReceive.NextCryptoDone);
      if (next !== 0 && done === 0) bump(this.counters, 'oob-next-crypto-done-without-crypto-done');
      // A status with CryptoDone 0 is a packet the NIC refused before any ICV check (syntax,
      // protocol): still a failure to drop and report (reference §3.5, receive.ts decision).
      const status = getField(rx, IpsecReceive.CryptoStatus);
      for (const nb of nbl.netBuffers) {
        const frame = this.#rx;
        frame.offloaded = done === 0 ? 0 : next !== 0 ? 2 : 1;
        frame.failStatus = status;
        frame.headerInfo = nbl.info.getU32(12); // slot 12: header info, Receive
        frame.deleteReq = getField(rx, IpsecReceive.SaDeleteReq) !== 0;
        frame.applied.length = 0;
        frame.firstSa = null;
        frame.offloadNh = -1;
        this.#frame(nb.data());
      }
    }
  }

  /** Declares every TCP gap lost and delivers what flows hold; expires old fragments. */
  flush(): void {
    for (const f of this.#byName.values()) f.flush();
    this.#reassembler.expire();
  }

  /** The report of flow `name` (undefined when no such flow). */
  flow(name: string): FlowReport | undefined {
    return this.#byName.get(name)?.report();
  }

  /** Everything counted so far. */
  report(): ReceiverReport {
    const replay: Record<string, ReplayCounters> = {};
    for (const sa of this.#sad.all()) {
      replay[`${sa.bundle.name}/${sa.protocol}`] = { ...sa.window.counters };
    }
    return {
      counters: { ...this.counters },
      drops: { ...this.drops },
      reassembly: { ...this.#reassembler.counters },
      flows: [...this.#byName.values()].map((f) => f.report()),
      replay,
    };
  }

  /** The sum of all drops. */
  get dropped(): number {
    let n = 0;
    for (const v of Object.values(this.drops)) n += v;
    return n;
  }

  #drop(reason: string, sa: InboundSa | null = null, flow: FlowState | null = null): void {
    bump(this.drops, reason);
    const f = flow ?? (sa === null ? undefined : this.#flowsBySa.get(sa.bundle.name));
    f?.drop(reason);
  }

  #frame(frame: Uint8Array): void {
    bump(this.counters, 'frames');
    if (frame.length < 14) {
      this.#drop('ethernet-truncated');
      return;
    }
    let type = u16(frame, 12);
    let l2 = 14;
    if (type === EtherType.Vlan) {
      if (frame.length < 18) {
        this.#drop('ethernet-truncated');
        return;
      }
      type = u16(frame, 16);
      l2 = 18;
    }
    if (type !== EtherType.Ipv4 && type !== EtherType.Ipv6) {
      this.#drop('not-ip');
      return;
    }
    this.#packet(frame.subarray(l2), 0);
  }

  #isOurs(address: Uint8Array): boolean {
    outer: for (const a of this.#addresses) {
      if (a.length !== address.length) continue;
      for (let i = 0; i < a.length; i++) if (a[i] !== address[i]) continue outer;
      return true;
    }
    return false;
  }

  /** One IP packet at `depth` (0 outer, 1 inner of a tunnel). */
  #packet(bytes: Uint8Array, depth: number): void {
    if (depth > 1) {
      this.#drop('ip-nesting-too-deep');
      return;
    }
    const ip = this.#ip[depth];
    const error = parseIp(bytes, ip);
    if (error !== null) {
      // RFC 4303 §3.4.4 / D13: the inner IPv4 header checksum is the transport's to verify.
      this.#drop(depth > 0 && error === 'ipv4-header-checksum' ? 'inner-' + error : error);
      return;
    }
    if (depth === 0 && !this.#isOurs(ip.destination)) {
      this.#drop('not-for-this-host');
      return;
    }
    if (ip.fragment) {
      if (depth > 0) {
        this.#drop('inner-fragment');
        return;
      }
      this.#fragment(ip);
      return;
    }
    const packet = ip.packet;
    let proto = ip.protocol;
    let off = ip.upperOffset;
    let end = packet.length;
    let protectedHere = false;
    for (;;) {
      switch (proto) {
        case IpProtocol.Ah: {
          const next = end - off >= 1 ? packet[off] : 0;
          const length = this.#ipsec.ah(ip, off, end, depth);
          if (length < 0) return;
          protectedHere = true;
          proto = next;
          off += length;
          continue;
        }
        case IpProtocol.Esp:
          proto = this.#ipsec.esp(ip, off, end, depth, false);
          if (proto < 0) return;
          protectedHere = true;
          off = this.#rx.start;
          end = this.#rx.end;
          if (esp.isDummy(proto)) {
            this.#drop('esp-dummy');
            return;
          } // RFC 4303 §2.6: silently
          continue;
        case IpProtocol.Udp:
          if (!protectedHere && this.#isUdpEsp(packet, off, end)) {
            proto = this.#udpEsp(ip, off, end, depth);
            if (proto < 0) return;
            protectedHere = true;
            off = this.#rx.start;
            end = this.#rx.end;
            if (esp.isDummy(proto)) {
              this.#drop('esp-dummy');
              return;
            }
            continue;
          }
          {
            this.#deliver(ip, proto, packet.subarray(off, end));
            return;
          }
        case IpProtocol.Tcp: {
          this.#deliver(ip, proto, packet.subarray(off, end));
          return;
        }
        case IpProtocol.Ipip:
        case IpProtocol.Ipv6:
          if (this.#rx.failStatus !== 0) {
            this.#ipsec.cryptoFailure(null);
            return;
          }
          {
            this.#packet(packet.subarray(off, end), depth + 1);
            return;
          }
        default:
          if (this.#rx.failStatus !== 0) {
            this.#ipsec.cryptoFailure(null);
            return;
          }
          {
            this.#drop(proto === IpProtocol.NoNext ? 'no-next-header' : 'unsupported-protocol');
            return;
          }
      }
    }
  }

  #fragment(ip: IpHeader): void {
    // D16 / reference §4.2: the NIC does not offload packets that need reassembly.
    if (this.#rx.offloaded > 0) bump(this.counters, 'crypto-done-on-fragment-ignored');
    this.#rx.offloaded = 0;
    this.#rx.failStatus = 0;
    const r = this.#reassembler.offer({
      packet: ip.packet,
      version: ip.version,
      source: ip.source,
      destination: ip.destination,
      protocol: ip.protocol,
      identification: ip.identification,
      offset: ip.fragmentOffset,
      moreFragments: ip.moreFragments,
      headerLength: ip.unfragmentableLength,
      nextHeaderField: ip.nextHeaderField,
      dataStart: ip.fragmentDataStart,
      innerNextHeader: ip.fragmentNextHeader,
    });
    if (r.kind === 'bad') {
      this.#drop(r.reason);
      return;
    }
    bump(this.counters, 'fragments-held');
    if (r.kind === 'complete') {
      bump(this.counters, 'reassembled');
      this.#packet(r.packet, 0);
    }
  }

  #isUdpEsp(packet: Uint8Array, off: number, end: number): boolean {
    // D14: the receiver recognises UDP-ESP on port 4500 (RFC 3948 §2.1).
    return end - off >= udp.HEADER_LENGTH && u16(packet, off + 2) === udpencap.PORT;
  }

  /** UDP-ESP (RFC 3948): keepalives and IKE are counted; ESP goes on. Returns Next Header or −1. */
  #udpEsp(ip: IpHeader, off: number, end: number, depth: number): number {
    const packet = ip.packet;
    const length = u16(packet, off + 4);
    if (length < udp.HEADER_LENGTH || off + length > end) {
      this.#drop('udp-bad-length');
      return -1;
    }
    const datagram = packet.subarray(off, off + length);
    const kind = udpencap.classify(datagram.subarray(udp.HEADER_LENGTH));
    if (!kind.ok) {
      this.#drop('udp-esp-truncated');
      return -1;
    }
    if (kind.value === 'keepalive') {
      this.#drop('nat-keepalive'); // RFC 3948 §2.3: discarded by the receiver
      return -1;
    }
    if (kind.value === 'ike') {
      this.#drop('ike-not-modelled'); // D14: passed up to IKE, which this model does not run
      return -1;
    }
    // Model: the NIC checked nothing of the UDP header; after in-place decryption its checksum
    // no longer covers the bytes, so it is verified on the software path only.
    if (depth >= this.#rx.offloaded && (datagram[6] !== 0 || datagram[7] !== 0)) {
      if (!udp.checksumValid(datagram, pseudoSum(ip, IpProtocol.Udp, length), ip.version)) {
        this.#drop('udp-esp-checksum');
        return -1;
      }
    }
    return this.#ipsec.esp(ip, off + udp.HEADER_LENGTH, off + length, depth, true);
  }

  /**
   * Slot 12 against the innermost trailer the NIC decrypted (reference §4.2 step 8, inferred: a
   * copy of it); a difference is counted, the bytes win.
   */
  #compareHeaderInfo(): void {
    const raw = this.#rx.headerInfo;
    if (getField(raw, HeaderReceive.HeaderInfoSet) === 0) {
      bump(this.counters, 'header-info-missing');
    } else if (
      getField(raw, HeaderReceive.NextHeader) !== this.#rx.offloadNh ||
      getField(raw, HeaderReceive.PadLength) !== this.#rx.offloadPad
    ) {
      bump(this.counters, 'header-info-mismatch');
    }
  }

  /** TCP or UDP: checksum, flow, inbound policy, delivery. */
  #deliver(ip: IpHeader, proto: number, segment: Uint8Array): void {
    const isTcp = proto === IpProtocol.Tcp;
    const headerMin = isTcp ? tcp.HEADER_LENGTH : udp.HEADER_LENGTH;
    if (this.#rx.failStatus !== 0) {
      this.#ipsec.cryptoFailure(null);
      return;
    }
    if (segment.length < headerMin) {
      this.#drop(isTcp ? 'tcp-truncated' : 'udp-truncated');
      return;
    }
    const flow = this.#flows.get(flowKey(proto, u16(segment, 0), u16(segment, 2)));
    if (flow === undefined) {
      this.#drop('no-flow');
      return;
    }
    let payload: Uint8Array;
    if (isTcp) {
      const dataOffset = (segment[12] >>> 4) * 4;
      if (dataOffset < tcp.HEADER_LENGTH || dataOffset > segment.length) {
        this.#drop('tcp-bad-data-offset', null, flow);
        return;
      }
      if (!tcp.checksumValid(segment, pseudoSum(ip, proto, segment.length))) {
        this.#drop('tcp-checksum', null, flow);
        return;
      }
      payload = segment.subarray(dataOffset);
    } else {
      const length = u16(segment, 4);
      if (length < udp.HEADER_LENGTH || length > segment.length) {
        this.#drop('udp-bad-length', null, flow);
        return;
      }
      const datagram = segment.subarray(0, length);
      if (!udp.checksumValid(datagram, pseudoSum(ip, proto, length), ip.version)) {
        this.#drop('udp-checksum', null, flow);
        return;
      }
      payload = datagram.subarray(udp.HEADER_LENGTH);
    }
    if (this.#rx.offloadNh >= 0) this.#compareHeaderInfo();
    const violation = checkPolicy(flow.config, this.#rx.applied);
    if (violation !== null) {
      this.#drop(violation, null, flow);
      return;
    }
    if (!isTcp) {
      bump(this.counters, 'accepted');
      flow.deliverDatagram(payload);
      return;
    }
    const fate = flow.receiveSegment(u32(segment, 4), (segment[13] & TCP_SYN) !== 0, payload);
    if (fate === 'duplicate') {
      this.#drop('tcp-duplicate', null, flow);
      return;
    }
    bump(this.counters, 'accepted');
  }
}
