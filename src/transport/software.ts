/**
 * @module
 * Software IPsec: what the transport does itself when the NIC cannot take the work (capacity
 * full, algorithm or mode not offered, offload disabled by OID_TCP_OFFLOAD_PARAMETERS, a packet
 * that needs fragmentation — contract D10, D12, D16). The frame is framed exactly as for the NIC
 * (contract D1, framing.ts) and then protected the way the NIC would protect it, so the receiver
 * cannot tell the two apart: inner bundle first, ESP seal (IV: the 64-bit sequence number for
 * GCM/GMAC, the injected Random for CBC — contract D6), the UDP-ESP Length and checksum (0 over
 * IPv4, computed over IPv6 — D14, RFC 3948 §2.1), then AH over the IP packet (RFC 4302 §3.3.3;
 * the AES-GMAC IV is the sequence number and stays in the ICV input, RFC 4543 §7). The ESN high
 * half is given to the transforms, which append it themselves (RFC 4303 §2.2.1, RFC 4302 §2.5.1).
 */
import type { AuthTransform, EspTransform } from '../crypto/transform.ts';
import * as ah from '../wire/ah.ts';
import * as checksum from '../wire/checksum.ts';
import { IpProtocol } from '../wire/ipv4.ts';
import * as udp from '../wire/udp.ts';
import type { LevelPlan, Plan } from './framing.ts';

/** The transforms and ESN high half of one level's bundle for one packet. */
export interface SoftwareLevel {
  readonly esp: EspTransform | null;
  readonly auth: AuthTransform | null;
  /** The high 32 bits of this packet's 64-bit sequence number (used only with ESN). */
  readonly high: number;
}

/** Scratch for the AH ICV input (grown on demand; sends are synchronous). */
let scratch = new Uint8Array(4096);

function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

function addresses(packet: Uint8Array): { src: Uint8Array; dst: Uint8Array; v6: boolean } {
  const v6 = packet[0] >>> 4 === 6;
  return v6
    ? { src: packet.subarray(8, 24), dst: packet.subarray(24, 40), v6 }
    : { src: packet.subarray(12, 16), dst: packet.subarray(16, 20), v6 };
}

/**
 * Protects one level of a framed non-LSO frame in place; throws a RangeError when the frame
 * does not match the plan (our own misuse: framing made both).
 */
function protectLevel(frame: Uint8Array, lp: LevelPlan, level: SoftwareLevel): void {
  const e = lp.esp;
  if (e !== undefined) {
    if (level.esp === null) throw new RangeError('software.protect: expected an ESP transform');
    // D1: the framed ESP packet runs from the SPI to the end of the zero ICV field.
    level.esp.seal(frame.subarray(e.offset, e.offset + e.length), level.esp.esn ? level.high : 0);
    if (lp.udpOffset !== undefined) {
      // D14 / RFC 3948 §2.1: Length stays as framed (final); checksum 0 over IPv4, else computed.
      const datagram = frame.subarray(lp.udpOffset, e.offset + e.length);
      const ipPacket = frame.subarray(lp.ipOffset);
      const { src, dst, v6 } = addresses(ipPacket);
      if (v6) {
        udp.fillChecksum(
          datagram,
          checksum.pseudoHeaderV6(src, dst, IpProtocol.Udp, datagram.length)
        );
      } else {
        datagram[6] = 0;
        datagram[7] = 0;
      }
    }
  }
  const a = lp.ah;
  if (a !== undefined) {
    const auth = level.auth;
    if (auth === null) throw new RangeError('software.protect: expected an AH transform');
    const high = auth.esn ? level.high : 0;
    const ivAt = a.offset + ah.FIXED_LENGTH;
    if (auth.ivLength > 0) {
      // D6 / RFC 4543 §3.1: the AES-GMAC IV is the 64-bit sequence number high ‖ low.
      put32(frame, ivAt, high);
      frame.copyWithin(ivAt + 4, a.offset + 8, a.offset + 12);
    }
    const packet = frame.subarray(lp.ipOffset, lp.ipOffset + lp.packetLength);
    if (scratch.length < packet.length) scratch = new Uint8Array(packet.length * 2);
    const input = ah.icvInput(packet, scratch, {
      icvLength: auth.icvLength,
      ivLength: auth.ivLength,
    });
    if (!input.ok) {
      throw new RangeError(`software.protect: expected an AH ICV input, got ${input.error.reason}`);
    }
    const icvAt = lp.ipOffset + input.value.icvOffset;
    auth.compute(
      input.value.input,
      high,
      auth.ivLength > 0 ? frame.subarray(ivAt, ivAt + auth.ivLength) : null,
      frame.subarray(icvAt, icvAt + auth.icvLength)
    );
  }
}

/**
 * Applies software IPsec to a frame that framing emitted without LSO (contract D1), with
 * `levels[i]` the bundle of `plan.levels[i]` (null for a level without one): the innermost level
 * first, as the NIC does (reference §4.1: ESP then AH; the tunnel bundle last).
 */
export function protect(
  frame: Uint8Array,
  plan: Plan,
  levels: readonly (SoftwareLevel | null)[]
): void {
  if (levels.length !== plan.levels.length) {
    throw new RangeError(
      `software.protect: expected ${plan.levels.length} levels, got ${levels.length}`
    );
  }
  for (let i = plan.levels.length - 1; i >= 0; i--) {
    const level = levels[i];
    const lp = plan.levels[i];
    if (level === null) {
      if (lp.esp !== undefined || lp.ah !== undefined) {
        throw new RangeError(`software.protect: expected transforms for level ${i}, got none`);
      }
      continue;
    }
    protectLevel(frame, lp, level);
  }
}
