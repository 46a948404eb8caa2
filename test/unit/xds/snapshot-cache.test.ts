// SnapshotCache debounce: a lone change after a quiet spell is pushed on the next tick; changes
// that follow a push closely are coalesced until the registry is quiet; a burst that never goes
// quiet is still pushed by the maximum delay. Telling the watches never blocks the event loop for
// long, and one failing listener does not keep the snapshot from the others.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/log.js';
import { meshState, type MeshState } from '../../../src/model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../src/xds/resource.js';
import { SnapshotCache } from '../../../src/xds/snapshot-cache.js';
import { encodeResource, makeSnapshot, type Snapshot } from '../../../src/xds/snapshot.js';

const DEBOUNCE_MS = 300;

/**
 * A translator whose snapshot carries the mesh's origin, so each mesh gives a new version. Time is
 * `now` (default: the mocked `Date.now`, so `t.mock.timers` drives timers and clock together).
 */
function cache(
  debounceMaxMs = 3000,
  now: () => number = () => Date.now(),
): { cache: SnapshotCache<{ key: string }>; pushes: Array<{ origin: string; at: number }>; set(origin: string): void } {
  const c = new SnapshotCache<{ key: string }>({
    translator: {
      nodeView: () => ({ key: 'all' }),
      translate: (mesh: MeshState) => ({
        snapshot: makeSnapshot({
          [CLUSTER_TYPE]: [encodeResource(CLUSTER_TYPE, 'c', Buffer.from(mesh.origin), mesh.origin)],
        }),
        skipped: [],
      }),
    },
    logger: silentLogger(),
    debounceMs: DEBOUNCE_MS,
    debounceMaxMs,
    now,
  });
  const pushes: Array<{ origin: string; at: number }> = [];
  return {
    cache: c,
    pushes,
    set: (origin) => c.setMesh(meshState([], origin)),
  };
}

/** mockTime switches the test to mocked timers and clock, starting at 0 ms. */
function mockTime(t: TestContext): (ms: number) => void {
  t.mock.timers.enable({ apis: ['setTimeout', 'setImmediate', 'Date'], now: 0 });
  return (ms) => t.mock.timers.tick(ms);
}

/** originOf is the origin of the mesh a snapshot was translated from. */
const originOf = (s: Snapshot): string => String(s.resources[CLUSTER_TYPE].items.get('c')!.message);

function watch(c: ReturnType<typeof cache>): void {
  c.cache.watch(nodeOf('n1')).feed.subscribe((_, s) => c.pushes.push({ origin: originOf(s), at: Date.now() }));
}

test('a lone change after a quiet spell is pushed at once, not after the debounce', (t) => {
  const tick = mockTime(t);
  const c = cache();
  t.after(() => c.cache.stop());
  c.set('m1');
  watch(c);
  tick(DEBOUNCE_MS + 50);
  c.set('m2');
  tick(0);
  assert.deepEqual(c.pushes, [{ origin: 'm2', at: DEBOUNCE_MS + 50 }]);
});

test('changes right after a push are coalesced into one push once quiet', (t) => {
  const tick = mockTime(t);
  const c = cache();
  t.after(() => c.cache.stop());
  c.set('m1');
  watch(c);
  tick(DEBOUNCE_MS + 50);
  c.set('m2');
  tick(20);
  c.set('m3');
  tick(DEBOUNCE_MS / 3);
  c.set('m4');
  const lastChange = Date.now();
  tick(DEBOUNCE_MS - 1);
  assert.deepEqual(
    c.pushes.map((p) => p.origin),
    ['m2'],
    'the burst waits for quiet',
  );
  tick(1);
  assert.deepEqual(
    c.pushes.map((p) => p.origin),
    ['m2', 'm4'],
  );
  assert.equal(c.pushes[1]!.at, lastChange + DEBOUNCE_MS, 'and no longer');
});

test('a burst that never goes quiet is pushed by the maximum delay', (t) => {
  const tick = mockTime(t);
  const c = cache(DEBOUNCE_MS * 2);
  t.after(() => c.cache.stop());
  c.set('m1');
  watch(c);
  c.set('m2'); // within the debounce of the first build: waits
  for (let i = 3; i < 20; i++) {
    tick(DEBOUNCE_MS / 6);
    c.set(`m${i}`);
  }
  assert.ok(c.pushes.length >= 1, 'pushed while changes kept coming');
  assert.equal(c.pushes[0]!.at, DEBOUNCE_MS * 2, 'first push at the maximum delay');
});

/** nodeOf is a node with its own id (its own watch); every node is in the one group 'all'. */
const nodeOf = (id: string) =>
  ({
    id,
    cluster: '',
    metadata: undefined,
    locality: undefined,
    userAgentName: 'envoy',
    extensions: [],
    clientFeatures: [],
    listeningAddresses: [],
  }) as never;

test('a feed listener that throws does not keep the snapshot from the others', (t) => {
  const tick = mockTime(t);
  const c = cache();
  t.after(() => c.cache.stop());
  c.set('m1');
  const got: string[] = [];
  for (const id of ['a', 'b', 'c']) {
    c.cache.watch(nodeOf(id)).feed.subscribe((_, s) => {
      if (id === 'b') throw new Error('listener bug');
      got.push(`${id}:${originOf(s)}`);
    });
  }
  tick(DEBOUNCE_MS + 50);
  c.set('m2');
  tick(50);
  c.set('m3');
  tick(DEBOUNCE_MS);
  assert.deepEqual(got, ['a:m2', 'c:m2', 'a:m3', 'c:m3']);
});

test('an inconsistent snapshot is not published: the group keeps its last good one, and says why until a good one comes', (t) => {
  const tick = mockTime(t);
  const refused: Array<{ group: string; errors: readonly string[] }> = [];
  const c = new SnapshotCache<{ key: string }>({
    translator: {
      nodeView: () => ({ key: 'all' }),
      // A mesh whose origin starts with 'bad' gives an assignment no cluster names (a translation bug).
      translate: (mesh: MeshState) => ({
        snapshot: makeSnapshot({
          [CLUSTER_TYPE]: [encodeResource(CLUSTER_TYPE, 'c', Buffer.from(mesh.origin), mesh.origin)],
          ...(mesh.origin.startsWith('bad')
            ? { [ENDPOINT_TYPE]: [encodeResource(ENDPOINT_TYPE, 'orphan', Buffer.from('x'), 'orphan')] }
            : {}),
        }),
        skipped: [],
      }),
    },
    logger: silentLogger(),
    debounceMs: DEBOUNCE_MS,
    debounceMaxMs: 3000,
    now: () => Date.now(),
    onRefused: (info) => refused.push(info),
  });
  t.after(() => c.stop());
  const pushes: string[] = [];
  c.setMesh(meshState([], 'good-1'));
  const w = c.watch(nodeOf('n1'));
  w.feed.subscribe((_, s) => pushes.push(originOf(s)));
  tick(DEBOUNCE_MS + 50);
  c.setMesh(meshState([], 'bad-1'));
  tick(DEBOUNCE_MS + 50);
  assert.deepEqual(pushes, [], 'nothing pushed');
  assert.equal(originOf(w.current()!), 'good-1', 'the last good snapshot stays');
  assert.deepEqual(refused, [{ group: 'all', errors: ['endpoints orphan: no resource names it'] }]);
  assert.deepEqual(c.nodes()[0]!.refused?.errors, ['endpoints orphan: no resource names it']);
  c.setMesh(meshState([], 'good-2'));
  tick(DEBOUNCE_MS + 50);
  assert.deepEqual(pushes, ['good-2']);
  assert.equal(c.nodes()[0]!.refused, undefined, 'a good snapshot clears the refusal');
  // Still refused: a node joining the group is served the last good snapshot.
  c.setMesh(meshState([], 'bad-2'));
  tick(DEBOUNCE_MS + 50);
  const late = c.watch(nodeOf('n2'));
  assert.equal(originOf(late.current()!), 'good-2', 'a new node of the group is served the last good one');
});
