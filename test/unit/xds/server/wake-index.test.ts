// A group's new snapshot wakes only the streams it concerns (wake-index.ts): a Delta stream that
// names a few resources is woken when one of them changes, appears or goes away, and not for
// changes elsewhere; what it is sent afterwards is exact, though it skipped snapshots.
import assert from 'node:assert/strict';
import { describe, it, mock } from 'node:test';
import { createAdsHandlers } from '../../../../src/xds/server/ads.js';
import { FeedAnnouncer, GroupFeed } from '../../../../src/xds/server/feed.js';
import { AdsStream } from '../../../../src/xds/server/stream.js';
import { FEW_NAMES, TypeSetViews } from '../../../../src/xds/server/stream-state.js';
import { WakeIndex } from '../../../../src/xds/server/wake-index.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../../src/xds/resource.js';
import { lookup, type Snapshot } from '../../../../src/xds/snapshot.js';
import { TYPES, type DeltaResponse, type SotwResponse } from '../../../support/ads-client.js';
import { cluster, endpoints, FakeWatcher, snapshotOf } from '../../../support/fake-watcher.js';
import { MockCall, tick } from './mock-call.js';

const { eds } = TYPES;
/** world: assignments a, b, c on the given ports (the port is the content, so the version). */
const world = (ports: { a?: number; b?: number; c?: number }, more: string[] = []) =>
  snapshotOf({
    endpoints: [
      endpoints('a', [ports.a ?? 1]),
      endpoints('b', [ports.b ?? 1]),
      endpoints('c', [ports.c ?? 1]),
      ...more.map((n) => endpoints(n)),
    ],
  });
const versionOf = (s: Snapshot, name: string) => lookup(s.resources[ENDPOINT_TYPE], name)!.version;

describe('streams woken by a new snapshot', () => {
  it('a Delta stream naming a few resources is woken only when one of them changes; SotW always', async () => {
    const wake = mock.method(AdsStream.prototype, 'wake');
    try {
      const s1 = world({});
      const watcher = new FakeWatcher(s1);
      const ads = createAdsHandlers({ watcher });
      const node = { id: 'n1', cluster: 'c' };
      const onA = new MockCall<DeltaResponse>('delta');
      const onB = new MockCall<DeltaResponse>('delta');
      const sotw = new MockCall<SotwResponse>('sotw');
      ads.delta(onA);
      ads.delta(onB);
      ads.sotw(sotw);
      onA.delta({ typeUrl: eds, subscribe: ['a'], node });
      onB.delta({ typeUrl: eds, subscribe: ['b'], node });
      sotw.sotw({ typeUrl: eds, names: ['a', 'b'], node });
      await tick();
      onA.delta({ typeUrl: eds, nonce: onA.responses[0]!.nonce });
      onB.delta({ typeUrl: eds, nonce: onB.responses[0]!.nonce });
      const first = sotw.responses[0]!;
      sotw.sotw({ typeUrl: eds, names: ['a', 'b'], version: first.version, nonce: first.nonce });
      await tick();
      // Streams are numbered in the order they opened.
      const [streamA, streamB, streamS] = [1, 2, 3];
      assert.deepEqual(
        ads
          .status()
          .map((s) => s.streamId)
          .sort(),
        [1, 2, 3],
      );
      const woken = () => wake.mock.calls.map((c) => (c.this as AdsStream<unknown>).id);

      // b changes, and a name nobody subscribes to appears: b's stream and the SotW stream only.
      const s2 = world({ b: 2 }, ['z']);
      watcher.set(s2);
      await tick();
      assert.deepEqual(woken().sort(), [streamB, streamS].sort());
      assert.equal(onA.responses.length, 1);
      assert.deepEqual(onB.responses[1]!.names, ['b']);
      onB.delta({ typeUrl: eds, nonce: onB.responses[1]!.nonce });

      // a's stream skipped that snapshot; subscribing to b now sends b as it is in it.
      onA.delta({ typeUrl: eds, subscribe: ['b'] });
      await tick();
      assert.deepEqual(onA.responses[1]!.names, ['b']);
      assert.equal(onA.responses[1]!.resources[0]!.version, versionOf(s2, 'b'));
      onA.delta({ typeUrl: eds, nonce: onA.responses[1]!.nonce });
      await tick();

      // Unsubscribed from a: a change to a wakes neither Delta stream; subscribed again, a is sent as it is now.
      onA.delta({ typeUrl: eds, unsubscribe: ['a'] });
      await tick();
      wake.mock.resetCalls();
      const s3 = world({ a: 3, b: 2 }, ['z']);
      watcher.set(s3);
      await tick();
      assert.deepEqual(woken(), [streamS]);
      assert.equal(onA.responses.length, 2);
      assert.equal(onB.responses.length, 2);
      onA.delta({ typeUrl: eds, subscribe: ['a'] });
      await tick();
      assert.deepEqual(onA.responses[2]!.names, ['a']);
      assert.equal(onA.responses[2]!.resources[0]!.version, versionOf(s3, 'a'));
      onA.delta({ typeUrl: eds, nonce: onA.responses[2]!.nonce });
      await tick();

      // Subscribed again, a change to a wakes the stream; a removed name is sent as removed.
      wake.mock.resetCalls();
      watcher.set(snapshotOf({ endpoints: [endpoints('a', [4]), endpoints('c')] }));
      await tick();
      assert.deepEqual(woken().sort(), [streamA, streamB, streamS].sort());
      assert.deepEqual(onA.responses[3]!.names, ['a']);
      assert.deepEqual(onA.responses[3]!.removed, ['b']);
      assert.deepEqual(onB.responses[2]!.removed, ['b']);
      // A name subscribed while missing is sent when it appears.
      onB.delta({ typeUrl: eds, nonce: onB.responses[2]!.nonce });
      await tick();
      watcher.set(world({ a: 4, b: 5 }));
      await tick();
      assert.deepEqual(onB.responses[3]!.names, ['b']);
      for (const c of [onA, onB]) assert.deepEqual(c.violations, []);
      for (const c of [onA, onB, sotw]) c.cancel();
    } finally {
      wake.mock.restore();
    }
  });

  it("a change to one node group's snapshot does not wake the streams of another", async () => {
    const wake = mock.method(AdsStream.prototype, 'wake');
    try {
      const watcher = new FakeWatcher(world({}));
      const ads = createAdsHandlers({ watcher });
      const one = new MockCall<DeltaResponse>('delta');
      const two = new MockCall<DeltaResponse>('delta');
      ads.delta(one);
      ads.delta(two);
      one.delta({ typeUrl: eds, subscribe: ['a'], node: { id: 'g1', cluster: 'c' } });
      two.delta({ typeUrl: eds, subscribe: ['a'], node: { id: 'g2', cluster: 'c' } });
      await tick();
      const ids = new Map(ads.status().map((s) => [s.nodeId, s.streamId]));
      wake.mock.resetCalls();
      watcher.set(world({ a: 2 }), 'g1');
      await tick();
      assert.deepEqual(
        wake.mock.calls.map((c) => (c.this as AdsStream<unknown>).id),
        [ids.get('g1')],
      );
      assert.equal(one.responses.length, 2);
      assert.equal(two.responses.length, 1);
      one.cancel();
      two.cancel();
    } finally {
      wake.mock.restore();
    }
  });
});

describe('WakeIndex', () => {
  /** setup is an index over one feed whose snapshot the test sets; `woken` lists what was woken since the last call. */
  function setup(initial: Snapshot) {
    let current = initial;
    const feed = new GroupFeed(() => current, new FeedAnnouncer());
    const index = new WakeIndex(new TypeSetViews());
    const log: string[] = [];
    const stream = (name: string) => ({ wake: () => void log.push(name) });
    const set = async (s: Snapshot) => {
      current = s;
      feed.changed();
      await tick();
    };
    const woken = () => log.splice(0).sort();
    return { feed, index, stream, set, woken };
  }
  const cds = (timeouts: Record<string, number>) =>
    snapshotOf({ clusters: Object.entries(timeouts).map(([n, t]) => cluster(n, { timeoutS: t })) });

  it('wakes by name, by a changed wildcard part, and always for full-state streams', async () => {
    const { feed, index, stream, set, woken } = setup(cds({ a: 1, b: 1 }));
    const named = stream('named');
    const wild = stream('wildcard');
    const full = stream('full-state');
    const many = stream('many names');
    index.track(named, feed, false);
    index.track(wild, feed, false);
    index.track(full, feed, true);
    index.track(many, feed, false);
    index.follow(named, CLUSTER_TYPE, false, new Set(['a']));
    index.follow(wild, CLUSTER_TYPE, true, new Set());
    index.follow(many, CLUSTER_TYPE, false, new Set(Array.from({ length: FEW_NAMES + 1 }, (_, i) => `n${i}`)));
    await set(cds({ a: 1, b: 2 }));
    assert.deepEqual(woken(), ['full-state', 'many names', 'wildcard']);
    await set(cds({ a: 2, b: 2 }));
    assert.deepEqual(woken(), ['full-state', 'many names', 'named', 'wildcard']);
    // Fewer names again: indexed by name from now on.
    index.follow(many, CLUSTER_TYPE, false, new Set(['b']));
    index.follow(wild, CLUSTER_TYPE, false, new Set());
    await set(cds({ a: 3, b: 2 }));
    assert.deepEqual(woken(), ['full-state', 'named']);
  });

  it('a closed stream leaves nothing behind, and the last one unsubscribes from its group', async () => {
    const { feed, index, stream, set, woken } = setup(cds({ a: 1 }));
    const s1 = stream('s1');
    const s2 = stream('s2');
    index.track(s1, feed, false);
    index.track(s2, feed, true);
    index.follow(s1, CLUSTER_TYPE, true, new Set(['a', 'b']));
    index.follow(s1, ENDPOINT_TYPE, false, new Set(['a']));
    assert.deepEqual(index.size(), { feeds: 1, streams: 2, names: 3 });
    index.drop(s1);
    assert.deepEqual(index.size(), { feeds: 1, streams: 1, names: 0 });
    index.drop(s2);
    index.drop(s2);
    assert.deepEqual(index.size(), { feeds: 0, streams: 0, names: 0 });
    await set(cds({ a: 2 }));
    assert.deepEqual(woken(), []);
    // A stream tracked again follows the feed again.
    index.track(s1, feed, true);
    await set(cds({ a: 3 }));
    assert.deepEqual(woken(), ['s1']);
  });

  it('a stream dropped while queued is not woken', async () => {
    const { feed, index, stream, woken } = setup(cds({ a: 1 }));
    let current = cds({ a: 1 });
    const own = new GroupFeed(() => current, new FeedAnnouncer());
    const dropped = stream('dropped');
    const first = { wake: () => index.drop(dropped) };
    index.track(first, own, true);
    index.track(dropped, own, true);
    index.track(stream('other'), feed, true);
    current = cds({ a: 2 });
    own.changed();
    await tick();
    assert.deepEqual(woken(), []);
    assert.equal(index.size().streams, 2);
  });

  for (const groups of [1, 12]) {
    it(`slow streams are woken in slices: the event loop runs between them, and every stream is woken (${groups === 1 ? 'one group' : 'a group each, announced on one turn'})`, async (t) => {
      // Real immediates, a clock each stream moves on by the 25 ms of work it stands for.
      let now = 0;
      let current = cds({ a: 1 });
      // One announcer, as one snapshot cache has: every group's announcement runs on the same turn.
      const announcer = new FeedAnnouncer();
      const feeds = Array.from({ length: groups }, () => new GroupFeed(() => current, announcer));
      const index = new WakeIndex(new TypeSetViews(), () => now);
      let turn = 0;
      let turning = true;
      const turnOver = (): void => {
        turn++;
        if (turning) setImmediate(turnOver);
      };
      setImmediate(turnOver);
      t.after(() => (turning = false));
      const got: Array<{ stream: string; turn: number }> = [];
      const all = new Promise<void>((resolve) => {
        for (let i = 0; i < 12; i++) {
          const stream = {
            wake: () => {
              now += 25; // a stream writing large responses
              got.push({ stream: `s${i}`, turn });
              if (got.length === 12) resolve();
            },
          };
          index.track(stream, feeds[i % groups]!, true);
        }
      });
      current = cds({ a: 2 });
      for (const feed of feeds) feed.changed();
      await all;
      assert.deepEqual(
        got.map((g) => g.stream),
        Array.from({ length: 12 }, (_, i) => `s${i}`),
      );
      // 100 ms slices of 25 ms streams: four per turn of the event loop.
      const turns = [...new Set(got.map((g) => g.turn))];
      assert.equal(turns.length, 3, `streams were woken in turns ${got.map((g) => g.turn).join(',')}`);
    });
  }
});
