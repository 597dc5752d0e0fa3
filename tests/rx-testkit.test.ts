import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bytes, espTransform, makeSa, SoftSender, udpL4 } from './rx-testkit.ts';

test('testkit: a sealed ESP frame opens with the same keys', () => {
  const sa = makeSa({ name: 'x', encryption: 'aes-cbc-128', integrity: 'hmac-sha1-96' });
  const sent = new SoftSender([sa]).send({ sa: 'x', l4: udpL4(bytes(100)) });
  const lp = sent.plan.levels[0].esp!;
  const packet = sent.frame.slice(lp.offset, lp.offset + lp.length);
  assert.equal(espTransform(sa).open(packet, 0), 'ok');
});
