/**
 * @module
 * The batched ESP open of the receive path (issue 6: "one call … opens a batch of packets of one
 * SA in place"): after every frame of a batch has been checked (receive.ts, phase 1), the ESP
 * packets waiting for their open are grouped by SA element, and each group is opened with one
 * `openBatch` call per receive buffer (ArrayBuffer) its frames live in — a NIC's receive ring is
 * one buffer, so frames DMA'd into it open in one call; frames in buffers of their own open one
 * call each, still without a per-packet JavaScript object.
 *
 * The batch must open each packet exactly as the frame-by-frame path would (receive.ts notes):
 * - The ESN candidates (contract D3) are estimated from the SA's highest authenticated number as
 *   it stands before the batch, but a frame of the batch can move it. The estimate never
 *   decreases as that number grows; so when the candidates estimated from the largest number the
 *   group can reach (its largest candidate) are those estimated before the batch, every packet
 *   gets the candidates the frame-by-frame path would give it, and the group is opened.
 *   Otherwise it is left to the last phase, packet by packet.
 * - A transform without `openBatch` (node:crypto), an SA past the first RX_BATCH_GROUPS of the
 *   batch and a batch whose open throws leave their packets to the last phase too.
 * Nothing here changes an SA's receive state: the last phase (receive.ts) does, in frame order.
 */
import type { BatchEspTransform } from '../crypto/native-esp.ts';
import { opensBatches } from './recv-bundle.ts';
import { RX_BATCH_GROUPS, Stage, type RxContext } from './recv-context.ts';
import {
  candidatesAt,
  highCandidates,
  windowTop,
  type HighCandidates,
  type SeqHalves,
} from './recv-state.ts';
import type { SaElement } from './sa-table.ts';

/** Scratch (the receive path is synchronous). */
const top: SeqHalves = { high: 0, low: 0 };
const moved: HighCandidates = { first: 0, second: -1 };

/**
 * Phase 2 for frames [0, count) of the batch: opens the packets of frames at stage EspPending,
 * leaving each result (or NOT_OPENED) and the candidates it opened with in the frame's record.
 */
export function openPending(ctx: RxContext, count: number): void {
  const works = ctx.works;
  const elements = ctx.groupElements;
  const heads = ctx.groupHeads;
  const tails = ctx.groupTails;
  let n = 0;
  let g = -1;
  for (let i = 0; i < count; i++) {
    const w = works[i];
    if (w.stage !== Stage.EspPending) continue;
    const element = w.espElement!;
    if (g < 0 || element !== elements[g]) {
      g = n - 1;
      while (g >= 0 && elements[g] !== element) g--;
      if (g < 0) {
        if (n === RX_BATCH_GROUPS || !opensBatches(element.esp!)) continue;
        g = n++;
        elements[g] = element;
        heads[g] = i;
        tails[g] = -1;
      }
    }
    if (tails[g] >= 0) works[tails[g]].nextInGroup = i;
    tails[g] = i;
  }
  ctx.reserve(count);
  for (let j = 0; j < n; j++) openGroup(ctx, heads[j]);
  elements.fill(null, 0, n);
}

/** Opens one SA element's pending packets (a list through `nextInGroup` from `head`). */
function openGroup(ctx: RxContext, head: number): void {
  const works = ctx.works;
  const element = works[head].espElement!;
  for (let i = head; i >= 0; i = works[i].nextInGroup) {
    highCandidates(element, works[i].low, works[i].tried);
  }
  if (element.esn && !stable(ctx, element, head)) return;
  const esp = element.esp as BatchEspTransform;
  let buffer: ArrayBufferLike | null = null;
  let runHead = -1;
  let k = 0;
  for (let i = head; i >= 0; i = works[i].nextInGroup) {
    const w = works[i];
    if (w.frame.buffer !== buffer) {
      openRun(ctx, esp, runHead, k);
      buffer = w.frame.buffer;
      runHead = i;
      k = 0;
    }
    ctx.offsets[k] = w.frame.byteOffset + w.espAt;
    ctx.lengths[k] = w.espEnd - w.espAt;
    ctx.highs[k] = w.tried.first;
    k++;
  }
  openRun(ctx, esp, runHead, k);
}

/** One openBatch over the `k` packets from `runHead` on, which share one ArrayBuffer. */
function openRun(ctx: RxContext, esp: BatchEspTransform, runHead: number, k: number): void {
  if (k === 0) return;
  const works = ctx.works;
  const first = works[runHead].frame;
  // One packet: the frame itself. More: the whole buffer they share (offsets are from its start).
  let buffer = first;
  if (k === 1) ctx.offsets[0] -= first.byteOffset;
  else buffer = new Uint8Array(first.buffer);
  try {
    esp.openBatch(buffer, ctx.offsets, ctx.lengths, ctx.highs, k, ctx.results);
  } catch {
    return; // each packet is opened again, alone, in the last phase (which counts the error)
  }
  let i = runHead;
  for (let j = 0; j < k; j++, i = works[i].nextInGroup) works[i].opened = ctx.results[j];
}

/**
 * Whether the ESN candidates of every packet of the group stay as estimated while the SA's
 * highest authenticated number moves up to the largest candidate of the group (see the module
 * notes).
 */
function stable(ctx: RxContext, element: SaElement, head: number): boolean {
  const works = ctx.works;
  windowTop(element, top);
  let high = top.high;
  let low = top.low;
  for (let i = head; i >= 0; i = works[i].nextInGroup) {
    const w = works[i];
    // The largest of first ‖ low and second ‖ low (second is -1 when there is none).
    const h = Math.max(w.tried.first, w.tried.second);
    if (h > high || (h === high && w.low > low)) {
      high = h;
      low = w.low;
    }
  }
  for (let i = head; i >= 0; i = works[i].nextInGroup) {
    const w = works[i];
    candidatesAt(w.low, high, low, moved);
    if (moved.first !== w.tried.first || moved.second !== w.tried.second) return false;
  }
  return true;
}
