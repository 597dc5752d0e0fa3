import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Counters } from './counters.ts';

test('Counters: add, bump through a slot, get, sum and a sorted snapshot of counted names only', () => {
  const c = new Counters();
  const nbl = c.slot('send.nbl');
  c.slot('send.never'); // registered, never counted: not reported
  c.bump(nbl);
  c.bump(nbl, 2);
  c.add('send.fail:failure:x');
  c.add('recv.frame', 5);
  c.add('send.zero', 0); // counted with 0: reported, as before slots existed
  assert.equal(c.get('send.nbl'), 3);
  assert.equal(c.get('send.never'), 0);
  assert.equal(c.get('unknown'), 0);
  assert.equal(c.sum('send.'), 4);
  assert.deepEqual(c.snapshot(), {
    'recv.frame': 5,
    'send.fail:failure:x': 1,
    'send.nbl': 3,
    'send.zero': 0,
  });
  assert.deepEqual(Object.keys(c.snapshot()), [
    'recv.frame',
    'send.fail:failure:x',
    'send.nbl',
    'send.zero',
  ]);
});

test('Counters: slots keep their values as the table grows; equals a Map model', () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 9 })), {
        maxLength: 300,
      }),
      (events) => {
        const c = new Counters();
        const model = new Map<string, number>();
        for (const [k, n] of events) {
          const name = `c${k}`;
          if (k % 2 === 0) c.add(name, n);
          else c.bump(c.slot(name), n);
          model.set(name, (model.get(name) ?? 0) + n);
        }
        for (const [name, v] of model) assert.equal(c.get(name), v);
        assert.equal(Object.keys(c.snapshot()).length, model.size);
      }
    )
  );
});
