// ConsistencyCheck: both ways (every name resolves; every assignment and route configuration is
// named), with one long-lived checker across snapshots that share, patch and layer their sets as
// the translator's do, so what it remembers is shown not to hide a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../../../src/xds/resource.js';
import {
  ConsistencyCheck,
  layerTypeSet,
  makeSnapshot,
  patchTypeSet,
  typeSet,
  type Snapshot,
} from '../../../src/xds/snapshot.js';
import { cluster, endpoints, listener, route } from '../../support/fake-watcher.js';

const names = ['a', 'b', 'c'];
const clusters = typeSet(
  CLUSTER_TYPE,
  names.map((n) => cluster(n)),
);
const claS = typeSet(
  ENDPOINT_TYPE,
  names.map((n) => endpoints(n)),
);

function group(
  own: { clusters?: ReturnType<typeof cluster>[]; routeTo?: string[] },
  eds = claS,
  base = clusters,
): Snapshot {
  return makeSnapshot({
    [CLUSTER_TYPE]: layerTypeSet(base, CLUSTER_TYPE, own.clusters ?? []),
    [ENDPOINT_TYPE]: eds,
    [LISTENER_TYPE]: typeSet(LISTENER_TYPE, [listener('l', 'r')]),
    [ROUTE_TYPE]: typeSet(ROUTE_TYPE, [route('r', own.routeTo ?? names)]),
  });
}

test('one checker across groups and changes: shared parts are remembered, and every change is still seen', () => {
  const check = new ConsistencyCheck();
  assert.deepEqual(check.check(group({})), []);
  assert.deepEqual(
    check.check(group({ clusters: [cluster('own', { edsServiceName: 'a' })] })),
    [],
    'a group cluster naming a shared assignment',
  );
  // A group's own cluster names an assignment nobody has.
  assert.deepEqual(check.check(group({ clusters: [cluster('x')] })), [
    'cluster x names endpoints x, which is not in the snapshot',
  ]);
  // A route names a cluster that is in no set.
  assert.deepEqual(check.check(group({ routeTo: ['a', 'zz'] })), [
    'route r names cluster zz, which is not in the snapshot',
  ]);
  // The shared assignments patched in versions only: still consistent (remembered), ...
  const flipped = patchTypeSet(claS, ENDPOINT_TYPE, [endpoints('a', [9090])], []);
  assert.deepEqual(check.check(group({}, flipped)), []);
  // ... one taken away: the cluster that names it is told, ...
  const fewer = patchTypeSet(claS, ENDPOINT_TYPE, [], ['c']);
  assert.deepEqual(check.check(group({}, fewer)), ['cluster c names endpoints c, which is not in the snapshot']);
  // ... and one nothing names.
  const more = patchTypeSet(claS, ENDPOINT_TYPE, [endpoints('d')], []);
  assert.deepEqual(check.check(group({}, more)), ['endpoints d: no resource names it']);
  // A shared cluster set without c, with c's assignment still there.
  const noC = patchTypeSet(clusters, CLUSTER_TYPE, [], ['c']);
  assert.deepEqual(check.check(group({ routeTo: ['a', 'b'] }, claS, noC)), ['endpoints c: no resource names it']);
  assert.deepEqual(check.check(group({})), [], 'back to the first: consistent');
});

test('carriesOver: a snapshot that changed only assignment versions passes as its predecessor did; any other change is checked', () => {
  const check = new ConsistencyCheck();
  const lds = typeSet(LISTENER_TYPE, [listener('l', 'r')]);
  const rds = typeSet(ROUTE_TYPE, [route('r', names)]);
  const of = (eds: typeof claS, cds = clusters, routes = rds): Snapshot =>
    makeSnapshot({ [CLUSTER_TYPE]: cds, [ENDPOINT_TYPE]: eds, [LISTENER_TYPE]: lds, [ROUTE_TYPE]: routes });
  const before = of(claS);
  assert.deepEqual(check.check(before), []);
  // A one-instance change: b's assignment patched in place, the same names.
  const patched = patchTypeSet(claS, ENDPOINT_TYPE, [endpoints('b', [9090])], []);
  assert.equal(check.carriesOver(before, of(patched)), true);
  assert.equal(check.carriesOver(before, before), true);
  // An assignment added (a new name) or removed, or another type changed: checked again.
  assert.equal(check.carriesOver(before, of(patchTypeSet(claS, ENDPOINT_TYPE, [endpoints('d')], []))), false);
  const removed = of(patchTypeSet(claS, ENDPOINT_TYPE, [], ['c']));
  assert.equal(check.carriesOver(before, removed), false);
  assert.deepEqual(check.check(removed), ['cluster c names endpoints c, which is not in the snapshot']);
  assert.equal(check.carriesOver(before, of(claS, clusters, typeSet(ROUTE_TYPE, [route('r', ['a'])]))), false);
  assert.equal(check.carriesOver(before, of(claS, layerTypeSet(clusters, CLUSTER_TYPE, [cluster('own')]))), false);
});
