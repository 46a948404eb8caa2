// Per-address backoff: exponential, capped, jittered in its upper half; a success clears it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AddressBackoff, backoffDelay } from '../../../../src/sync/serverconnector/backoff.js';

describe('backoff', () => {
  it('grows exponentially with jitter and is capped', () => {
    const lo = { initialMs: 100, maxMs: 1000, random: () => 0 };
    const hi = { initialMs: 100, maxMs: 1000, random: () => 0.999999 };
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, lo)),
      [50, 100, 200, 400, 500, 500],
    );
    assert.deepEqual(
      [1, 2, 3, 4, 5, 9].map((n) => backoffDelay(n, hi)),
      [100, 200, 400, 800, 1000, 1000],
    );
    assert.equal(backoffDelay(0, lo), 0);
    const b = new AddressBackoff(hi);
    assert.equal(b.fail('a', 1000), 100);
    assert.equal(b.fail('a', 1000), 200);
    assert.equal(b.readyAt('a'), 1200);
    assert.equal(b.readyAt('b'), 0);
    b.succeed('a');
    assert.equal(b.readyAt('a'), 0);
    assert.equal(b.fail('a', 0), 100);
  });
});
