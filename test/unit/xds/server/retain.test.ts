// Make-before-break on removal: clusters (and their endpoints) a new snapshot drops stay with the
// client until the listeners and routes of the push are ACKed, or at most retainRemovedMs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, type TypeUrl } from '../../../../src/xds/resource.js';
import { RemovalGuard } from '../../../../src/xds/server/retain.js';
import { TypeState } from '../../../../src/xds/server/stream-state.js';
import { simpleMesh } from '../../../support/fake-watcher.js';

/** stream builds the type states of a wildcard SotW client that holds `snapshot` and ACKed it all. */
function stream(snapshot: ReturnType<typeof simpleMesh>): Map<TypeUrl, TypeState> {
  const types = new Map<TypeUrl, TypeState>();
  for (const type of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE] as const) {
    const t = new TypeState(type);
    t.noteRequest();
    t.applySotw(type === ENDPOINT_TYPE || type === ROUTE_TYPE ? [...snapshot.resources[type].items.keys()] : []);
    t.sent({ nonce: `${type}-1`, version: 'v1', wireVersion: 'v1', at: 0 }, { set: snapshot.resources[type] });
    t.ack.answer(`${type}-1`, undefined, 'v1', 0);
    types.set(type, t);
  }
  return types;
}

test('a dropped cluster and its endpoints stay until the routes of the push are written and ACKed', () => {
  const before = simpleMesh(['a', 'b']);
  const after = simpleMesh(['a'], { routeTo: ['a'] });
  const types = stream(before);
  const guard = new RemovalGuard(types, 60_000, () => assert.fail('no timeout expected'));
  try {
    guard.hold(before, after);
    const cds = types.get(CLUSTER_TYPE)!;
    const eds = types.get(ENDPOINT_TYPE)!;
    assert.equal(cds.isRetained('b'), true);
    assert.equal(eds.isRetained('b'), true);
    assert.deepEqual([...cds.desired(after.resources[CLUSTER_TYPE]).keys()].sort(), ['a', 'b'], 'b is still served');
    // The new routes are pending, then written but not ACKed: b stays.
    const rds = types.get(ROUTE_TYPE)!;
    rds.markPending(1);
    assert.equal(guard.releaseIfSettled(2), false);
    rds.takePending();
    rds.sent({ nonce: 'r-2', version: 'v2', wireVersion: 'v2', at: 2 }, { set: after.resources[ROUTE_TYPE] });
    assert.equal(guard.releaseIfSettled(3), false);
    // ACKed: b goes, and clusters and endpoints are due again.
    rds.ack.answer('r-2', undefined, 'v2', 4);
    assert.equal(guard.releaseIfSettled(5), true);
    assert.equal(cds.isRetained('b'), false);
    assert.equal(cds.pending && eds.pending, true);
  } finally {
    guard.close();
  }
});

test('a cluster that comes back is no longer held, and nothing is held when routes cannot change', () => {
  const before = simpleMesh(['a', 'b']);
  const types = stream(before);
  const guard = new RemovalGuard(types, 60_000, () => undefined);
  try {
    const without = simpleMesh(['a'], { routeTo: ['a'] });
    guard.hold(before, without);
    assert.equal(types.get(CLUSTER_TYPE)!.isRetained('b'), true);
    guard.hold(without, before);
    assert.equal(types.get(CLUSTER_TYPE)!.isRetained('b'), false);
    // Listeners and routes settled and unchanged by the push: the removal goes out at once.
    const sameRoutes = simpleMesh(['a'], { routeTo: ['a', 'b'] });
    const fresh = stream(before);
    const g2 = new RemovalGuard(fresh, 60_000, () => undefined);
    const routesOf = (s: ReturnType<typeof simpleMesh>) => s.resources[ROUTE_TYPE].version;
    assert.equal(routesOf(sameRoutes), routesOf(before));
    g2.hold(before, sameRoutes);
    assert.equal(fresh.get(CLUSTER_TYPE)!.isRetained('b'), false);
    g2.close();
  } finally {
    guard.close();
  }
});

test('a client that never ACKs its routes gets the removal after retainRemovedMs', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const before = simpleMesh(['a', 'b']);
  const after = simpleMesh(['a'], { routeTo: ['a'] });
  const types = stream(before);
  let timedOut = 0;
  const guard = new RemovalGuard(types, 1000, () => timedOut++);
  try {
    guard.hold(before, after);
    const rds = types.get(ROUTE_TYPE)!;
    rds.sent({ nonce: 'r-2', version: 'v2', wireVersion: 'v2', at: 0 }, { set: after.resources[ROUTE_TYPE] });
    t.mock.timers.tick(999);
    assert.equal(types.get(CLUSTER_TYPE)!.isRetained('b'), true);
    t.mock.timers.tick(1);
    assert.equal(timedOut, 1);
    assert.equal(types.get(CLUSTER_TYPE)!.isRetained('b'), false);
  } finally {
    guard.close();
  }
});
