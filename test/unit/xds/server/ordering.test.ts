// Push order within one snapshot change (CDS → EDS → LDS → RDS) and make-before-break when a
// change adds clusters that routes name (routes wait for their endpoints) or removes clusters that
// routes named (xds_protocol "Eventual consistency considerations").
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TYPES, type DeltaClient, type SotwClient } from '../../../support/ads-client.js';
import { cluster, endpoints, listener, route, snapshotOf } from '../../../support/fake-watcher.js';
import { startHarness, type Harness } from './harness.js';

const { cds, eds, lds, rds } = TYPES;
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** before: clusters a, b; the route sends traffic to a and b. */
const before = () =>
  snapshotOf({
    clusters: [cluster('a'), cluster('b')],
    endpoints: [endpoints('a'), endpoints('b')],
    listeners: [listener('l', 'r')],
    routes: [route('r', ['a', 'b'])],
  });

/** after: a is gone, c is new, and the route moved from a to c. */
const after = () =>
  snapshotOf({
    clusters: [cluster('b'), cluster('c')],
    endpoints: [endpoints('b'), endpoints('c')],
    listeners: [listener('l', 'r')],
    routes: [route('r', ['b', 'c'])],
  });

const short = (t: string) => t.split('.').pop()!;

async function sotwSubscribed(c: SotwClient): Promise<void> {
  const plan: Array<[string, string[] | undefined]> = [
    [cds, undefined],
    [eds, ['a', 'b']],
    [lds, undefined],
    [rds, ['r']],
  ];
  for (const [typeUrl, names] of plan) {
    c.send({ typeUrl, names });
    const r = await c.next(typeUrl);
    c.ack(r);
    await h!.answered(typeUrl, r.nonce);
  }
}

async function deltaSubscribed(c: DeltaClient): Promise<void> {
  const plan: Array<[string, string[]]> = [
    [cds, []],
    [eds, ['a', 'b']],
    [lds, []],
    [rds, ['r']],
  ];
  for (const [typeUrl, subscribe] of plan) {
    c.send({ typeUrl, subscribe });
    const r = await c.next(typeUrl);
    c.ack(r);
    await h!.answered(typeUrl, r.nonce);
  }
}

describe('push order', () => {
  const changedEverywhere = () =>
    snapshotOf({
      clusters: [cluster('a', { timeoutS: 2 }), cluster('b')],
      endpoints: [endpoints('a', [1]), endpoints('b')],
      listeners: [listener('l', 'r', { statPrefix: 'l2' })],
      routes: [route('r', ['b', 'a'])],
    });

  it('SotW: one change to every type is pushed CDS → EDS → LDS → RDS', async () => {
    h = await startHarness(before());
    const c = h.sotw();
    await sotwSubscribed(c);
    h.watcher.set(changedEverywhere());
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push(short((await c.nextAny()).typeUrl));
    assert.deepEqual(order, ['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration']);
  });

  it('Delta: one change to every type is pushed CDS → EDS → LDS → RDS', async () => {
    h = await startHarness(before());
    const c = h.delta();
    await deltaSubscribed(c);
    h.watcher.set(changedEverywhere());
    const order: string[] = [];
    for (let i = 0; i < 4; i++) order.push(short((await c.nextAny()).typeUrl));
    assert.deepEqual(order, ['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration']);
  });
});

describe('make-before-break', () => {
  it('SotW: a dropped cluster stays in CDS until the route that named it is replaced and ACKed', async () => {
    h = await startHarness(before());
    const c = h.sotw();
    await sotwSubscribed(c);
    h.watcher.set(after());
    const union = await c.nextAny();
    assert.equal(union.typeUrl, cds);
    assert.deepEqual(union.names, ['a', 'b', 'c'], 'CDS adds c and keeps a');
    // As Envoy does: ACK the clusters and ask for the new cluster's endpoints.
    c.ack(union);
    c.send({ typeUrl: eds, names: ['a', 'b', 'c'], version: '', nonce: h.server.status()[0]!.types[eds]!.sentNonce });
    const routes = await c.next(rds);
    assert.deepEqual(
      routes.resources[0]!.value.virtual_hosts[0].routes.map((x: { route: { cluster: string } }) => x.route.cluster),
      ['b', 'c'],
    );
    assert.deepEqual((await c.next(eds)).names, ['c']);
    // Until the routes are ACKed, a must not be removed.
    await c.expectNone(cds, 200);
    c.ack(routes);
    const final = await c.next(cds);
    assert.deepEqual(final.names, ['b', 'c']);
    const cdsResponses = c.received.filter((r) => r.typeUrl === cds);
    const routeIndex = c.received.indexOf(routes);
    assert.equal(c.received.indexOf(final) > routeIndex, true, 'removal after the routes');
    assert.equal(cdsResponses.filter((r) => !r.names.includes('a')).length, 1, 'one CDS without a');
  });

  it('SotW: when no route can still name it, a dropped cluster is removed at once', async () => {
    const routeToB = (clusters: string[]) =>
      snapshotOf({
        clusters: clusters.map((n) => cluster(n)),
        endpoints: clusters.map((n) => endpoints(n)),
        listeners: [listener('l', 'r')],
        routes: [route('r', ['b'])],
      });
    h = await startHarness(routeToB(['a', 'b']));
    const c = h.sotw();
    await sotwSubscribed(c);
    h.watcher.set(routeToB(['b']));
    assert.deepEqual((await c.next(cds)).names, ['b']);
  });

  it('SotW: if routes are never ACKed, the dropped cluster is removed after retainRemovedMs', async () => {
    h = await startHarness(before(), { limits: { retainRemovedMs: 300 } });
    const c = h.sotw();
    await sotwSubscribed(c);
    h.watcher.set(after());
    assert.deepEqual((await c.next(cds)).names, ['a', 'b', 'c']);
    await c.next(rds);
    const final = await c.next(cds, 2000);
    assert.deepEqual(final.names, ['b', 'c']);
  });

  it('Delta: removed_resources for the dropped cluster and its endpoints come after the routes are ACKed', async () => {
    h = await startHarness(before());
    const c = h.delta();
    await deltaSubscribed(c);
    h.watcher.set(after());
    const added = await c.nextAny();
    assert.equal(added.typeUrl, cds);
    assert.deepEqual([added.names, added.removed], [['c'], []]);
    c.ack(added);
    c.send({ typeUrl: eds, subscribe: ['c'] });
    const routes = await c.next(rds);
    assert.deepEqual((await c.next(eds)).names, ['c']);
    await c.expectNone(cds, 200);
    c.ack(routes);
    const removeCluster = await c.next(cds);
    assert.deepEqual([removeCluster.names, removeCluster.removed], [[], ['a']]);
    const removeEndpoints = await c.next(eds);
    assert.deepEqual([removeEndpoints.names, removeEndpoints.removed], [[], ['a']]);
    assert.equal(
      c.received.indexOf(removeEndpoints) > c.received.indexOf(removeCluster),
      true,
      'endpoints removed after their cluster',
    );
  });

  it('SotW: routes naming a new cluster wait until its endpoints are written, so Envoy never routes to a warming cluster', async () => {
    h = await startHarness(before());
    const c = h.sotw();
    await sotwSubscribed(c);
    h.watcher.set(after());
    const clusters = await c.next(cds);
    c.ack(clusters);
    // Envoy asks for c's endpoints only after it applied the clusters; until then, no routes.
    await c.expectNone(rds, 200);
    await c.expectNone(lds, 0);
    c.send({ typeUrl: eds, names: ['a', 'b', 'c'], version: '', nonce: h.server.status()[0]!.types[eds]!.sentNonce });
    const endpointsC = await c.next(eds);
    const routes = await c.next(rds);
    assert.deepEqual(endpointsC.names, ['c']);
    assert.equal(
      c.received.indexOf(endpointsC) < c.received.indexOf(routes),
      true,
      'endpoints before the routes that need them',
    );
  });

  it('Delta: routes naming a new cluster wait until its endpoints are written', async () => {
    h = await startHarness(before());
    const c = h.delta();
    await deltaSubscribed(c);
    h.watcher.set(after());
    const clusters = await c.next(cds);
    assert.deepEqual(clusters.names, ['c']);
    c.ack(clusters);
    await c.expectNone(rds, 200);
    c.send({ typeUrl: eds, subscribe: ['c'] });
    const endpointsC = await c.next(eds);
    const routes = await c.next(rds);
    assert.equal(
      c.received.indexOf(endpointsC) < c.received.indexOf(routes),
      true,
      'endpoints before the routes that need them',
    );
  });

  it('SotW: a client that never asks for the new endpoints gets its routes after retainRemovedMs', async () => {
    h = await startHarness(before(), { limits: { retainRemovedMs: 300 } });
    const c = h.sotw();
    await sotwSubscribed(c);
    const started = Date.now();
    h.watcher.set(after());
    c.ack(await c.next(cds));
    await c.next(rds, 2000);
    assert.equal(Date.now() - started >= 250, true, 'routes were held');
  });

  it('SotW: a client that names its clusters (gRPC) gets routes at once: it learns clusters from them', async () => {
    h = await startHarness(before());
    const c = h.sotw();
    const plan: Array<[string, string[]]> = [
      [lds, ['l']],
      [rds, ['r']],
      [cds, ['a', 'b']],
      [eds, ['a', 'b']],
    ];
    for (const [typeUrl, names] of plan) {
      c.send({ typeUrl, names });
      const r = await c.next(typeUrl);
      c.ack(r);
      await h.answered(typeUrl, r.nonce);
    }
    h.watcher.set(after());
    const routes = await c.next(rds, 1000);
    assert.deepEqual(
      routes.resources[0]!.value.virtual_hosts[0].routes.map((x: { route: { cluster: string } }) => x.route.cluster),
      ['b', 'c'],
    );
  });
});
