// VHDS and on-demand CDS through the real server over gRPC, on snapshots of the real translator:
// the first VHDS request is answered with the removal of the bare prefix (what readies Envoy's
// route configuration), named virtual hosts and clusters are sent as asked, and a change to what
// the client does not hold sends it nothing.
import assert from 'node:assert/strict';
import { afterEach, it } from 'node:test';
import { TYPES } from '../../../support/ads-client.js';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { instance, mesh, service, sidecar } from '../translate/support/fixtures.js';
import { startHarness, type Harness } from './harness.js';

const NS = 'prod';
const view = sidecar(NS, { service: 'web', metadata: { 'sidecar.polarismesh.cn/openOnDemand': 'true' } });
const node = {
  id: `${NS}/od~10.0.0.1`,
  metadata: { 'sidecar.polarismesh.cn/serviceName': 'web', 'sidecar.polarismesh.cn/openOnDemand': 'true' },
};
const world = (extra: string[] = [], hosts = ['10.0.0.1']) =>
  mesh(
    service(NS, 'web', [instance('w', '10.1.0.1')]),
    service(
      NS,
      'backend',
      hosts.map((h, i) => instance(`b${i}`, h)),
    ),
    ...extra.map((n) => service(NS, n, [instance(n, '10.2.0.1')])),
  );

let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

it('VHDS: the opening removal, a named virtual host and its cluster; unrelated changes send nothing', async () => {
  const tr = createTranslator();
  h = await startHarness(tr.translate(world(), view).snapshot);
  const c = h.delta();
  c.send({ typeUrl: TYPES.cds, node });
  const cds = await c.next(TYPES.cds);
  assert.deepEqual(cds.names, ['INBOUND|prod|web', 'PassthroughCluster']);
  c.ack(cds);
  c.send({ typeUrl: TYPES.vhds });
  const open = await c.next(TYPES.vhds);
  assert.deepEqual([open.names, open.removed], [[], ['polaris-outbound-router/']]);
  c.ack(open);
  c.send({ typeUrl: TYPES.vhds, subscribe: ['polaris-outbound-router/backend.prod'] });
  const vh = await c.next(TYPES.vhds);
  assert.deepEqual(vh.names, ['polaris-outbound-router/backend.prod']);
  assert.deepEqual(vh.resources[0]!.value.domains, ['backend.prod']);
  c.ack(vh);
  c.send({ typeUrl: TYPES.cds, subscribe: ['OUTBOUND|prod|backend'] });
  const od = await c.next(TYPES.cds);
  assert.deepEqual(od.names, ['OUTBOUND|prod|backend']);
  c.ack(od);
  await h.answered(TYPES.cds, od.nonce);
  // A new service and a new instance of a service the client does not hold: nothing.
  h.watcher.set(tr.translate(world(['zeta']), view).snapshot);
  await c.expectNone(undefined, 200);
  assert.equal(h.server.status()[0]!.onDemand?.virtualHosts, 1);
  assert.equal(h.server.status()[0]!.onDemand?.clusters, 3);
  // The service goes away: its name passes through first, then (make before break) its cluster goes.
  h.watcher.set(tr.translate(mesh(service(NS, 'web', [instance('w', '10.1.0.1')])), view).snapshot);
  const pass = await c.next(TYPES.vhds);
  assert.equal(
    (pass.resources[0]!.value.routes as Array<{ route: { cluster: string } }>)[0]!.route.cluster,
    'PassthroughCluster',
  );
  await c.expectNone(TYPES.cds, 100);
  c.ack(pass);
  const gone = await c.next(TYPES.cds);
  assert.deepEqual(gone.removed, ['OUTBOUND|prod|backend']);
  c.ack(gone);
});

it('an on-demand stream skips changes to what it does not hold, and still gets the next change to what it holds', async () => {
  const tr = createTranslator();
  h = await startHarness(tr.translate(world(), view).snapshot);
  const c = h.delta();
  c.send({ typeUrl: TYPES.cds, node });
  c.ack(await c.next(TYPES.cds));
  c.send({ typeUrl: TYPES.cds, subscribe: ['OUTBOUND|prod|backend'] });
  c.ack(await c.next(TYPES.cds));
  c.send({ typeUrl: TYPES.eds, subscribe: ['OUTBOUND|prod|backend'] });
  const eds = await c.next(TYPES.eds);
  c.ack(eds);
  await h.answered(TYPES.eds, eds.nonce);
  // New instances of a service the stream does not hold, twice: nothing is sent.
  h.watcher.set(tr.translate(world(['zeta']), view).snapshot);
  h.watcher.set(tr.translate(world(['zeta', 'eta']), view).snapshot);
  await c.expectNone(undefined, 200);
  // A new instance of the service it holds: its assignment, with the new address.
  h.watcher.set(tr.translate(world(['zeta', 'eta'], ['10.0.0.1', '10.0.0.2']), view).snapshot);
  const next = await c.next(TYPES.eds);
  assert.deepEqual(next.names, ['OUTBOUND|prod|backend']);
  assert.match(JSON.stringify(next.resources[0]!.value), /10\.0\.0\.2/);
  c.ack(next);
  await c.expectNone(undefined, 100);
});
