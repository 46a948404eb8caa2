// Poller: when each key is asked again, the bound on requests in flight, the pause when Polaris
// cannot be reached, and removal. Time is mocked (Date, intervals, immediates), and each poll is a
// promise the test settles, so every assertion names an exact moment.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { DiscoverKey } from '../../../src/sync/keys.js';
import { Poller, type PollerOptions, type PollOutcome } from '../../../src/sync/poller.js';

interface Harness {
  readonly poller: Poller;
  /** The polls made so far, in order, as `<service>@<ms>`. */
  readonly calls: string[];
  /** Settles the oldest unsettled poll of a service. */
  answer(service: string, outcome?: PollOutcome): Promise<void>;
  /** Moves time on by `ms` and runs what falls due. */
  advance(ms: number): Promise<void>;
}

const key = (service: string): DiscoverKey => ({ type: 'INSTANCE', namespace: 'ns', service });

function harness(t: TestContext, opts: Partial<PollerOptions> = {}): Harness {
  t.mock.timers.enable({ apis: ['setInterval', 'setImmediate', 'Date'], now: 0 });
  const calls: string[] = [];
  const open = new Map<string, Array<(o: PollOutcome) => void>>();
  const poller = new Poller({
    intervalMs: 1000,
    jitterMs: 0,
    maxInFlight: 10,
    tickMs: 50,
    pauseMs: 250,
    random: () => 0.5,
    ...opts,
    poll: (k) =>
      new Promise<PollOutcome>((resolve) => {
        calls.push(`${k.service}@${Date.now()}`);
        open.set(k.service, [...(open.get(k.service) ?? []), resolve]);
      }),
  });
  // Settled promises run their callbacks on the microtask queue; the pump then runs on an immediate.
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 3; i++) await Promise.resolve();
    t.mock.timers.tick(0);
  };
  t.after(() => poller.stop());
  return {
    poller,
    calls,
    async answer(service, outcome = 'answered') {
      const pending = open.get(service) ?? [];
      const resolve = pending.shift();
      assert.ok(resolve, `no poll of ${service} is in flight`);
      resolve(outcome);
      await settle();
    },
    async advance(ms) {
      for (let left = ms; left > 0; left -= 50) {
        t.mock.timers.tick(Math.min(50, left));
        await settle();
      }
    },
  };
}

test('a new key is polled at once, and again an interval after its answer', async (t) => {
  const h = harness(t);
  h.poller.start();
  h.poller.add(key('a'));
  t.mock.timers.tick(0);
  assert.deepEqual(h.calls, ['a@0']);
  await h.advance(100);
  await h.answer('a');
  await h.advance(950);
  assert.deepEqual(h.calls, ['a@0'], 'not before the interval has passed since the answer');
  await h.advance(100);
  assert.deepEqual(h.calls, ['a@0', 'a@1100']);
});

test('jitter adds up to jitterMs, as the random source says', async (t) => {
  const h = harness(t, { jitterMs: 400, random: () => 0.5 });
  h.poller.start();
  h.poller.add(key('a'));
  t.mock.timers.tick(0);
  await h.answer('a');
  await h.advance(1150);
  assert.deepEqual(h.calls, ['a@0'], 'interval plus half the jitter has not passed');
  await h.advance(50);
  assert.deepEqual(h.calls, ['a@0', 'a@1200']);
});

test('a key is never polled again while its request is in flight', async (t) => {
  const h = harness(t);
  h.poller.start();
  h.poller.add(key('a'));
  t.mock.timers.tick(0);
  await h.advance(10_000);
  assert.deepEqual(h.calls, ['a@0']);
  assert.equal(h.poller.isInFlight('INSTANCE ns/a'), true);
  await h.answer('a');
  assert.equal(h.poller.isInFlight('INSTANCE ns/a'), false);
});

test('at most maxInFlight requests are in flight; an answer lets the next key go', async (t) => {
  const h = harness(t, { maxInFlight: 2 });
  h.poller.start();
  for (const s of ['a', 'b', 'c', 'd']) h.poller.add(key(s));
  t.mock.timers.tick(0);
  assert.deepEqual(h.calls, ['a@0', 'b@0']);
  await h.advance(500);
  assert.equal(h.calls.length, 2);
  await h.answer('b');
  assert.deepEqual(h.calls, ['a@0', 'b@0', 'c@500']);
});

test('an unreachable Polaris pauses sending for pauseMs instead of spinning through the keys', async (t) => {
  const h = harness(t);
  h.poller.start();
  h.poller.add(key('a'));
  t.mock.timers.tick(0);
  await h.answer('a', 'unreachable');
  h.poller.add(key('b'));
  await h.advance(200);
  assert.deepEqual(h.calls, ['a@0'], 'nothing is sent during the pause');
  await h.advance(50);
  assert.deepEqual(h.calls, ['a@0', 'a@250', 'b@250'], 'the key that failed is retried first, then the others');
});

test('a removed key is not polled again, even when its answer arrives later', async (t) => {
  const h = harness(t);
  h.poller.start();
  h.poller.add(key('a'));
  h.poller.add(key('b'));
  t.mock.timers.tick(0);
  h.poller.remove('INSTANCE ns/a');
  assert.equal(h.poller.has('INSTANCE ns/a'), false);
  await h.answer('a');
  await h.answer('b');
  await h.advance(3000);
  assert.deepEqual(h.calls, ['a@0', 'b@0', 'b@1000']);
});

test('a stopped poller sends nothing, and adding a known key does nothing', async (t) => {
  const h = harness(t);
  h.poller.start();
  h.poller.add(key('a'));
  h.poller.add(key('a'));
  t.mock.timers.tick(0);
  assert.deepEqual(h.calls, ['a@0']);
  assert.equal(h.poller.size, 1);
  h.poller.stop();
  await h.answer('a');
  await h.advance(5000);
  assert.deepEqual(h.calls, ['a@0']);
});
