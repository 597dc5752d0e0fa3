/**
 * @module
 * The SAs the multi-queue tests send on (src/sim/send-queue.test.ts, tests/queues.test.ts): SA 0
 * ESP AES-GCM-128 without ESN, SA 1 ESP AES-GCM-128 with ESN starting `firstEsn` (just below 2^32,
 * so the sends cross the boundary), both from A to B.
 */
import type { QueueSa } from '../src/sim/queue-work.ts';

const A: Uint8Array = Uint8Array.of(192, 0, 2, 10);
const B: Uint8Array = Uint8Array.of(198, 51, 100, 20);

/** `n` key bytes derived from `seed`. */
const key = (n: number, seed: number): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => (seed * 37 + i * 29 + 1) & 0xff);

/** The two SAs; SA 1's first sequence number is `firstEsn`. */
export function queueSas(firstEsn: bigint): readonly QueueSa[] {
  return [
    {
      source: A,
      destination: B,
      sas: [{ protocol: 'esp', spi: 0x1001, encryption: 'aes-gcm-128', encryptionKey: key(20, 1) }],
    },
    {
      source: A,
      destination: B,
      sas: [
        {
          protocol: 'esp',
          spi: 0x2002,
          encryption: 'aes-gcm-128',
          encryptionKey: key(20, 2),
          esn: true,
        },
      ],
      firstSequence: firstEsn,
    },
  ];
}
