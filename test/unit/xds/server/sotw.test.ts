// State-of-the-World conformance, over real gRPC, walking the rules of the xDS protocol doc.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TYPES, type SotwClient, type SotwResponse } from '../../../support/ads-client.js';
import { cluster, endpoints, listener, route, simpleMesh, snapshotOf } from '../../../support/fake-watcher.js';
import { startHarness, type Harness } from './harness.js';

const { cds, eds, lds, rds } = TYPES;
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

/** acked ACKs `r` and waits until the server recorded it, so later snapshot changes cannot race it. */
async function acked(c: SotwClient, r: SotwResponse, names?: readonly string[]): Promise<void> {
  c.ack(r, names);
  await h!.answered(r.typeUrl, r.nonce);
}

async function ready(names = ['a', 'b']): Promise<Harness> {
  h = await startHarness(simpleMesh(names));
  return h;
}

describe('SotW: what a response carries', () => {
  it('legacy wildcard: an empty list gets every cluster and listener, with version, nonce and control plane id', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    const r = await c.next(cds);
    assert.deepEqual(r.names, ['a', 'b']);
    assert.notEqual(r.version, '', 'version_info set');
    assert.equal(r.controlPlane, 'test-cp');
    assert.equal(r.resources[0]!.value.type, 'EDS');
    c.send({ typeUrl: lds });
    const l = await c.next(lds);
    assert.deepEqual(l.names, ['l']);
    assert.notEqual(l.nonce, r.nonce, 'each response has its own nonce');
  });

  it('explicit * plus a name is still wildcard', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds, names: ['*', 'a'] });
    assert.deepEqual((await c.next(cds)).names, ['a', 'b']);
  });

  it('naming a resource the wildcard already sent is answered: newly requested names are always sent', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    const r = await c.next(cds);
    await acked(c, r);
    c.send({ typeUrl: cds, names: ['*', 'a'], version: r.version, nonce: r.nonce });
    const again = await c.next(cds);
    assert.deepEqual(again.names, ['a', 'b']);
    assert.equal(again.version, r.version);
  });

  it('named subscriptions (gRPC clients) get only those names, as full state; a missing name is absent', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds, names: ['b', 'zz'] });
    const r = await c.next(cds);
    assert.deepEqual(r.names, ['b']);
    await acked(c, r);
    h!.watcher.set(simpleMesh(['a', 'b', 'zz']));
    assert.deepEqual((await c.next(cds)).names, ['b', 'zz']);
  });

  it('the SotW version of a whole type is the snapshot version, the same on every replica', async () => {
    const snap = simpleMesh(['a', 'b']);
    h = await startHarness(snap);
    const c = h.sotw();
    c.send({ typeUrl: cds });
    assert.equal((await c.next(cds)).version, snap.resources[cds].version);
  });

  it('an ACK gets no response: nothing is re-sent unchanged (no ACK loop)', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    await acked(c, await c.next(cds));
    c.send({ typeUrl: eds, names: ['a'] });
    await acked(c, await c.next(eds));
    h!.watcher.set(simpleMesh(['a', 'b']));
    await c.expectNone(undefined, 200);
  });

  it('a change sends CDS as the full set and EDS with only the changed assignment', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    await acked(c, await c.next(cds));
    c.send({ typeUrl: eds, names: ['a', 'b'] });
    await acked(c, await c.next(eds));
    h!.watcher.set(
      snapshotOf({
        clusters: [cluster('a'), cluster('b', { timeoutS: 5 })],
        endpoints: [endpoints('a'), endpoints('b', [9090])],
      }),
    );
    const rc = await c.next(cds);
    assert.deepEqual(rc.names, ['a', 'b']);
    await acked(c, rc);
    const re = await c.next(eds);
    assert.deepEqual(re.names, ['b']);
    assert.equal(re.resources[0]!.value.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value, 9090);
  });

  it('a removed cluster is omitted from the next full CDS state, down to an empty response', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    await acked(c, await c.next(cds));
    h!.watcher.set(snapshotOf({ clusters: [cluster('a')] }));
    const r1 = await c.next(cds);
    assert.deepEqual(r1.names, ['a']);
    await acked(c, r1);
    h!.watcher.set(snapshotOf({}));
    const r2 = await c.next(cds);
    assert.deepEqual(r2.names, []);
    assert.notEqual(r2.version, '', 'version_info set');
  });

  it('EDS: newly subscribed names are sent even when unchanged; an unsubscribe needs no response', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: eds, names: ['a'] });
    const r1 = await c.next(eds);
    assert.deepEqual(r1.names, ['a']);
    c.ack(r1, ['a', 'b']);
    assert.deepEqual((await c.next(eds)).names, ['b']);
    c.send({ typeUrl: eds, names: ['b'] });
    await c.expectNone(eds);
    c.send({ typeUrl: eds, names: ['a', 'b'] });
    assert.deepEqual((await c.next(eds)).names, ['a']);
  });

  it('EDS/RDS for names that do not exist: no empty response; sent once they appear', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: rds, names: ['r2'] });
    await c.expectNone(rds);
    h!.watcher.set(snapshotOf({ routes: [route('r', ['a']), route('r2', ['b'])] }));
    assert.deepEqual((await c.next(rds)).names, ['r2']);
  });

  it('waits for the first snapshot before answering', async () => {
    h = await startHarness(undefined);
    const c = h.sotw();
    c.send({ typeUrl: cds });
    await c.expectNone(cds);
    h.watcher.set(simpleMesh(['a']));
    assert.deepEqual((await c.next(cds)).names, ['a']);
  });

  it('an updated cluster is followed by its ClusterLoadAssignment, even unchanged, so Envoy can finish warming it', async () => {
    h = await startHarness(
      snapshotOf({
        clusters: [cluster('a', { edsServiceName: 'svc-a' }), cluster('b')],
        endpoints: [endpoints('svc-a'), endpoints('b')],
      }),
    );
    const c = h.sotw();
    c.send({ typeUrl: cds });
    await acked(c, await c.next(cds));
    c.send({ typeUrl: eds, names: ['svc-a', 'b'] });
    const e1 = await c.next(eds);
    await acked(c, e1);
    h.watcher.set(
      snapshotOf({
        clusters: [cluster('a', { edsServiceName: 'svc-a', timeoutS: 3 }), cluster('b')],
        endpoints: [endpoints('svc-a'), endpoints('b')],
      }),
    );
    await acked(c, await c.next(cds));
    const e2 = await c.next(eds);
    assert.deepEqual(e2.names, ['svc-a']);
    assert.equal(e2.version, e1.version);
  });
});

describe('SotW: ACK, NACK and nonces', () => {
  it('NACK is detected by error_detail alone, even when version_info is the new version', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    const r = await c.next(cds);
    // A gRPC client (A46) applies the good resources and advances its version, then NACKs.
    c.send({ typeUrl: cds, version: r.version, nonce: r.nonce, error: { message: 'cluster b: bad lb policy' } });
    await c.expectNone(cds);
    const t = h!.server.status()[0]!.types[cds]!;
    assert.equal(t.lastNack?.message, 'cluster b: bad lb policy');
    assert.equal(t.lastNack?.version, r.version);
    assert.equal(t.ackedVersion, undefined);
  });

  it('a request without error_detail is an ACK even when its version_info differs', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: eds, names: ['a'] });
    const r = await c.next(eds);
    c.send({ typeUrl: eds, names: ['a'], version: 'older', nonce: r.nonce });
    await c.expectNone(eds);
    const t = h!.server.status()[0]!.types[eds]!;
    assert.equal(t.ackedNonce, r.nonce);
    assert.equal(t.lastNack, undefined);
  });

  it('a NACKed version is not sent again to that stream; the next changed version is', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    const v1 = await c.next(cds);
    await acked(c, v1);
    const good = simpleMesh(['a', 'b']);
    const bad = snapshotOf({ clusters: [cluster('a', { timeoutS: 9 }), cluster('b')] });
    h!.watcher.set(bad);
    const r = await c.next(cds);
    c.nack(r, 'rejected');
    await h!.answered(cds, r.nonce);
    // Another request at that nonce, and a snapshot event that leaves CDS as it is: nothing.
    c.send({ typeUrl: cds, names: ['*'], nonce: r.nonce });
    h!.watcher.set(
      snapshotOf({ clusters: [cluster('a', { timeoutS: 9 }), cluster('b')], endpoints: [endpoints('a')] }),
    );
    await c.expectNone(cds, 200);
    // Back to the good state: sent (the client still runs it, but the server sent it the bad one).
    h!.watcher.set(good);
    const back = await c.next(cds);
    assert.equal(back.version, v1.version);
    await acked(c, back);
    // The rejected version again: parked, not re-sent.
    h!.watcher.set(bad);
    await c.expectNone(cds, 200);
    const counters = h!.server.status()[0]!.counters;
    assert.equal(counters.resendsSuppressed, 1);
    assert.equal(counters.nacks, 1);
    // The next changed version is sent.
    h!.watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 2 }), cluster('b')] }));
    const next = await c.next(cds);
    assert.notEqual(next.version, r.version);
    assert.equal(next.resources[0]!.value.connect_timeout.seconds, '2');
  });

  it('a request carrying a stale nonce is ignored; one with the current nonce is answered', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: eds, names: ['a'] });
    const first = await c.next(eds);
    h!.watcher.set(snapshotOf({ endpoints: [endpoints('a', [1]), endpoints('b')] }));
    const second = await c.next(eds);
    c.send({ typeUrl: eds, names: ['a', 'b'], version: first.version, nonce: first.nonce });
    await c.expectNone(eds);
    assert.equal(h!.server.status()[0]!.counters.expiredNonces, 1);
    c.send({ typeUrl: eds, names: ['a', 'b'], version: second.version, nonce: second.nonce });
    assert.deepEqual((await c.next(eds)).names, ['b']);
  });

  it('after a reconnect the first request of each type is answered, even when it looks like an ACK', async () => {
    h = await startHarness(simpleMesh(['a', 'b']));
    const c1 = h.sotw();
    c1.send({ typeUrl: cds });
    const rc = await c1.next(cds);
    await acked(c1, rc);
    c1.send({ typeUrl: eds, names: ['a', 'b'] });
    const re = await c1.next(eds);
    await acked(c1, re);
    c1.close();
    const c2 = h.sotw();
    // Same versions, and nonces from the old stream (envoyproxy/envoy#15767): not stale, initial.
    c2.send({ typeUrl: cds, version: rc.version, nonce: '77' });
    const rc2 = await c2.next(cds);
    assert.deepEqual(rc2.names, ['a', 'b']);
    assert.equal(rc2.version, rc.version);
    c2.send({ typeUrl: eds, names: ['a', 'b'], version: re.version, nonce: '78' });
    assert.deepEqual((await c2.next(eds)).names, ['a', 'b']);
  });

  it('types are independent sub-streams: a route NACK does not touch the cluster ACK', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: cds });
    const rc = await c.next(cds);
    c.send({ typeUrl: rds, names: ['r'] });
    const rr = await c.next(rds);
    c.nack(rr, 'bad route');
    await acked(c, rc);
    await c.expectNone();
    const s = h!.server.status()[0]!;
    assert.equal(s.types[cds]!.ackedVersion, rc.version);
    assert.equal(s.types[rds]!.lastNack?.message, 'bad route');
  });
});

describe('SotW: listeners and routes', () => {
  it('serves an API listener whose HCM names its route over ADS, and the route', async () => {
    const c = (await ready()).sotw();
    c.send({ typeUrl: lds });
    const l = await c.next(lds);
    const hcm = l.resources[0]!.value.api_listener.api_listener;
    assert.equal(
      hcm['@type'],
      'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    );
    assert.equal(hcm.rds.route_config_name, 'r');
    await acked(c, l);
    c.send({ typeUrl: rds, names: ['r'] });
    const r: SotwResponse = await c.next(rds);
    assert.deepEqual(
      r.resources[0]!.value.virtual_hosts[0].routes.map((x: { route: { cluster: string } }) => x.route.cluster),
      ['a', 'b'],
    );
    await acked(c, r);
    h!.watcher.set(snapshotOf({ listeners: [listener('l', 'r')], routes: [route('r', ['b'])] }));
    assert.deepEqual((await c.next(rds)).resources[0]!.value.virtual_hosts[0].routes.length, 1);
  });
});
