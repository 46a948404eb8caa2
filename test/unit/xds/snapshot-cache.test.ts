// SnapshotCache debounce: a lone change after a quiet spell is pushed on the next tick; changes
// that follow a push closely are coalesced until the registry is quiet; a burst that never goes
// quiet is still pushed by the maximum delay. Telling the watches never blocks the event loop for
// long, and one failing listener does not keep the snapshot from the others.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '../../../src/log.js';
import { meshState, type MeshState } from '../../../src/model/mesh.js';
import { CLUSTER_TYPE } from '../../../src/xds/resource.js';
import { SnapshotCache } from '../../../src/xds/snapshot-cache.js';
import { encodeResource, makeSnapshot, type Snapshot } from '../../../src/xds/snapshot.js';

const DEBOUNCE_MS = 300;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A translator whose snapshot carries the mesh's origin, so each mesh gives a new version. */
function cache(debounceMaxMs = 3000): { cache: SnapshotCache<{ key: string }>; pushes: Array<{ origin: string; at: number }>; set(origin: string): void } {
  const c = new SnapshotCache<{ key: string }>({
    translator: {
      nodeView: () => ({ key: 'all' }),
      translate: (mesh: MeshState) => ({ snapshot: makeSnapshot({ [CLUSTER_TYPE]: [encodeResource(CLUSTER_TYPE, 'c', Buffer.from(mesh.origin), mesh.origin)] }), skipped: [] }),
    },
    logger: silentLogger(),
    debounceMs: DEBOUNCE_MS,
    debounceMaxMs,
  });
  const pushes: Array<{ origin: string; at: number }> = [];
  return {
    cache: c,
    pushes,
    set: (origin) => c.setMesh(meshState([], origin)),
  };
}

/** originOf is the origin of the mesh a snapshot was translated from. */
const originOf = (s: Snapshot): string => String(s.resources[CLUSTER_TYPE].items.get('c')!.message);

function watch(c: ReturnType<typeof cache>): void {
  c.cache.watch(nodeOf('n1')).onChange((s: Snapshot) => c.pushes.push({ origin: originOf(s), at: performance.now() }));
}

test('a lone change after a quiet spell is pushed at once, not after the debounce', async (t) => {
  const c = cache();
  t.after(() => c.cache.stop());
  c.set('m1');
  watch(c);
  await sleep(DEBOUNCE_MS + 50);
  const at = performance.now();
  c.set('m2');
  await sleep(DEBOUNCE_MS / 3);
  assert.deepEqual(c.pushes.map((p) => p.origin), ['m2']);
  assert.ok(c.pushes[0]!.at - at < DEBOUNCE_MS / 3, `pushed after ${c.pushes[0]!.at - at} ms`);
});

test('changes right after a push are coalesced into one push once quiet', async (t) => {
  const c = cache();
  t.after(() => c.cache.stop());
  c.set('m1');
  watch(c);
  await sleep(DEBOUNCE_MS + 50);
  c.set('m2');
  await sleep(20);
  const burstStart = performance.now();
  c.set('m3');
  await sleep(DEBOUNCE_MS / 3);
  c.set('m4');
  const lastChange = performance.now();
  await sleep(DEBOUNCE_MS * 2);
  assert.deepEqual(c.pushes.map((p) => p.origin), ['m2', 'm4']);
  assert.ok(c.pushes[1]!.at - lastChange >= DEBOUNCE_MS - 5, 'the burst waited for quiet');
  assert.ok(c.pushes[1]!.at - burstStart < DEBOUNCE_MS * 2, 'and no longer');
});

test('a burst that never goes quiet is pushed by the maximum delay', async (t) => {
  const c = cache(DEBOUNCE_MS * 2);
  t.after(() => c.cache.stop());
  c.set('m1');
  watch(c);
  c.set('m2'); // within the debounce of the first build: waits
  const start = performance.now();
  for (let i = 3; i < 20; i++) {
    await sleep(DEBOUNCE_MS / 6);
    c.set(`m${i}`);
  }
  assert.ok(c.pushes.length >= 1, 'pushed while changes kept coming');
  assert.ok(c.pushes[0]!.at - start <= DEBOUNCE_MS * 2 + 100, `first push after ${c.pushes[0]!.at - start} ms`);
});

/** nodeOf is a node with its own id (its own watch); every node is in the one group 'all'. */
const nodeOf = (id: string) => ({ id, cluster: '', metadata: undefined, locality: undefined, userAgentName: 'envoy', extensions: [], clientFeatures: [], listeningAddresses: [] }) as never;

test('slow listeners are called in slices: the event loop runs between them, and every watch gets the latest snapshot', async (t) => {
  const c = cache();
  t.after(() => c.cache.stop());
  c.set('m1');
  const got: string[] = [];
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  t.after(() => clearInterval(ticker));
  let ticksDuringPush = -1;
  for (let i = 0; i < 12; i++) {
    const w = c.cache.watch(nodeOf(`n${i}`));
    w.onChange((s: Snapshot) => {
      if (i === 0) ticksDuringPush = ticks;
      const until = performance.now() + 25; // a listener writing large responses
      while (performance.now() < until);
      got.push(`n${i}:${originOf(s)}`);
      if (i === 11) ticksDuringPush = ticks - ticksDuringPush;
    });
  }
  await sleep(DEBOUNCE_MS + 50);
  c.set('m2');
  await sleep(12 * 25 + 200);
  assert.deepEqual(got, Array.from({ length: 12 }, (_, i) => `n${i}:m2`));
  assert.ok(ticksDuringPush >= 1, `timers ran ${ticksDuringPush} times while 300 ms of listeners ran`);
});

test('a listener that throws does not keep the snapshot from the other watches', async (t) => {
  const c = cache();
  t.after(() => c.cache.stop());
  c.set('m1');
  const got: string[] = [];
  for (const id of ['a', 'b', 'c']) {
    c.cache.watch(nodeOf(id)).onChange((s: Snapshot) => {
      if (id === 'b') throw new Error('listener bug');
      got.push(`${id}:${originOf(s)}`);
    });
  }
  await sleep(DEBOUNCE_MS + 50);
  c.set('m2');
  await sleep(50);
  c.set('m3');
  await sleep(DEBOUNCE_MS + 100);
  assert.deepEqual(got, ['a:m2', 'c:m2', 'a:m3', 'c:m3']);
});
