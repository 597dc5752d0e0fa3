/**
 * @module
 * The inbound policy check (RFC 4301 §5.2: after IPsec processing, the receiver checks that the
 * packet arrived under the SAs the SPD demands for its selectors, and discards it otherwise) and
 * the flow table it uses: flows found by protocol and ports (policy.ts FlowConfig).
 */
import type { FlowConfig } from './policy.ts';

/** The flow key: protocol number, source port, destination port. */
export function flowKey(protocol: number, srcPort: number, dstPort: number): number {
  // 8 + 16 + 16 bits: exact in a double, no string per packet.
  return protocol * 2 ** 32 + srcPort * 2 ** 16 + dstPort;
}

/** The key of a configured flow. */
export function keyOf(flow: FlowConfig): number {
  return flowKey(flow.l4 === 'tcp' ? 6 : 17, flow.srcPort, flow.dstPort);
}

/**
 * Judges the SAs a packet arrived under (bundle names, outermost first) against the flow's
 * policy: null when they match, else the drop reason — `policy-unprotected` (cleartext where
 * protection is required), `policy-unexpected-protection` (protected where the policy says
 * bypass), `policy-wrong-sa` (other SAs, or in another order).
 */
export function checkPolicy(flow: FlowConfig, applied: readonly string[]): string | null {
  // FlowConfig: `tunnelSa` is the outer SA of transport over tunnel; `sa` the transport SA or
  // the only SA of a tunnel-only flow.
  const outer = flow.tunnelSa;
  const inner = flow.sa;
  const want = (outer === undefined ? 0 : 1) + (inner === undefined ? 0 : 1);
  if (want === 0) return applied.length === 0 ? null : 'policy-unexpected-protection';
  if (applied.length === 0) return 'policy-unprotected';
  if (applied.length !== want) return 'policy-wrong-sa';
  if (outer !== undefined && applied[0] !== outer) return 'policy-wrong-sa';
  if (inner !== undefined && applied[want - 1] !== inner) return 'policy-wrong-sa';
  return null;
}
