// translate(): determinism (invariant 1), encode-once memoisation, consistent references, node
// views and the config dump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configDump, createTranslator, nodeView, type Translation } from '../../../../src/xds/translate/index.js';
import { outboundCluster, OUTBOUND_ROUTE_CONFIG } from '../../../../src/xds/translate/names.js';
import { consistent, makeSnapshot, type EncodedResource, type Snapshot } from '../../../../src/xds/snapshot.js';
import { encodeRouteConfigParts } from '../../../../src/xds/translate/encode.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, PUSH_ORDER, ROUTE_TYPE } from '../../../../src/xds/resource.js';
import { parseNode } from '../../../../src/xds/node.js';
import { meshState, type Service } from '../../../../src/model/mesh.js';
import { dest, gateway, instance, mesh, ms, proxyless, rule, service, sidecar, source } from './support/fixtures.js';

function world(): Service[] {
  const routed = service(
    'prod',
    'api',
    [
      instance('a1', '10.0.0.1', { metadata: { version: 'v1' } }),
      instance('a2', '10.0.0.2', { metadata: { version: 'v2' }, protocol: 'grpc' }),
    ],
    {
      inbounds: [
        rule(
          'canary',
          [source({ '$header.x-canary': ms('EXACT', '1') }), source({ '$cookie.beta': ms('IN', 'yes,true') })],
          [
            dest({ version: ms('EXACT', 'v2') }, { weight: 90 }),
            dest({ version: ms('EXACT', 'v1') }, { weight: 10 }),
            dest({}, { priority: 1 }),
          ],
        ),
      ],
      metadata: { 'polaris-xds.io/nearby': 'zone' },
    },
  );
  return [
    routed,
    service('prod', 'web', [instance('w1', '10.0.1.1', { locality: { region: 'r', zone: 'z', campus: '' } })]),
    service('dev', 'api', [instance('d1', '10.0.2.1')]),
    service('edge', 'gw', [], {
      outbounds: [
        rule('to-api', [source({ $path: ms('EXACT', '/api') })], [dest({}, { service: 'api', namespace: 'prod' })]),
      ],
    }),
  ];
}

const VIEWS = () => [
  sidecar('prod', { service: 'web', locality: { region: 'r', zone: 'z' } }),
  gateway('edge', 'gw'),
  proxyless('prod', { service: 'web' }),
];

function bytes(s: Snapshot): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const t of PUSH_ORDER) {
    out[t] = {};
    for (const [name, r] of s.resources[t].items) out[t]![name] = r.any.toString('hex');
  }
  return out;
}

test('the same mesh and view give byte-identical resources, whatever the construction order or translator', () => {
  for (const view of VIEWS()) {
    const a = createTranslator().translate(mesh(...world()), view);
    const b = createTranslator().translate(meshState([...world()].reverse(), 'other-origin'), view);
    assert.deepEqual(bytes(a.snapshot), bytes(b.snapshot), view.runType);
    for (const t of PUSH_ORDER) assert.equal(a.snapshot.resources[t].version, b.snapshot.resources[t].version);
    assert.deepEqual(a.skipped, b.skipped);
  }
});

test('every snapshot is consistent: endpoints and route configurations are all referenced, and references resolve', () => {
  for (const view of VIEWS()) {
    const t = createTranslator().translate(mesh(...world()), view);
    assert.deepEqual(consistent(t.snapshot), [], view.runType);
    // The references are read from the resources: every assignment and route configuration is named.
    const named = (type: typeof ENDPOINT_TYPE | typeof ROUTE_TYPE): string[] =>
      [
        ...new Set(
          PUSH_ORDER.flatMap((s) => [...t.snapshot.resources[s].items.values()].flatMap((r) => r.refs[type] ?? [])),
        ),
      ].sort();
    assert.deepEqual(named(ENDPOINT_TYPE), [...t.snapshot.resources[ENDPOINT_TYPE].items.keys()].sort(), view.runType);
    assert.deepEqual(named(ROUTE_TYPE), [...t.snapshot.resources[ROUTE_TYPE].items.keys()].sort(), view.runType);
    // A snapshot missing one of them, or holding one nothing names, is found out.
    const cla = [...t.snapshot.resources[ENDPOINT_TYPE].items.values()];
    const without = makeSnapshot({ ...t.snapshot.resources, [ENDPOINT_TYPE]: cla.slice(1) });
    assert.match(
      consistent(without).join('\n'),
      new RegExp(`names endpoints ${cla[0]!.name.replace(/[|.]/g, '\\$&')}, which is not in the snapshot`),
    );
    const orphan = encodeRouteConfigParts('orphan', []);
    const extra = makeSnapshot({
      ...t.snapshot.resources,
      [ROUTE_TYPE]: [...t.snapshot.resources[ROUTE_TYPE].items.values(), orphan],
    });
    assert.deepEqual(consistent(extra), ['route orphan: no resource names it']);
  }
});

function items(
  t: Translation,
  type: typeof CLUSTER_TYPE | typeof ENDPOINT_TYPE | typeof LISTENER_TYPE | typeof ROUTE_TYPE,
): Map<string, EncodedResource> {
  return new Map(t.snapshot.resources[type].items);
}

test('an unchanged mesh reuses every encoded resource', () => {
  const tr = createTranslator();
  const services = world();
  const view = sidecar('prod', { service: 'web' });
  const a = tr.translate(mesh(...services), view);
  const b = tr.translate(mesh(...services), view);
  for (const t of PUSH_ORDER)
    for (const [name, r] of a.snapshot.resources[t].items)
      assert.equal(b.snapshot.resources[t].items.get(name), r, name);
});

test('one instance change re-encodes only that service’s assignments', () => {
  const tr = createTranslator();
  const services = world();
  const view = sidecar('prod', { service: 'web' });
  const before = tr.translate(mesh(...services), view);
  const web = services[1]!;
  const changed = { ...web, instances: [...web.instances, instance('w2', '10.0.1.2')] };
  const after = tr.translate(mesh(services[0]!, changed, services[2]!, services[3]!), view);
  const changedNames: string[] = [];
  for (const t of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE] as const) {
    for (const [name, r] of items(after, t))
      if (items(before, t).get(name) !== r) changedNames.push(`${t.split('.').pop()}:${name}`);
  }
  assert.deepEqual(changedNames, [`ClusterLoadAssignment:${outboundCluster('prod', 'web')}`]);
  // web has no rules and its domains did not change, so no virtual host and no route configuration is rebuilt.
  assert.equal(
    items(after, ROUTE_TYPE).get(OUTBOUND_ROUTE_CONFIG),
    items(before, ROUTE_TYPE).get(OUTBOUND_ROUTE_CONFIG),
  );
});

test('a rule change re-encodes that service’s virtual host, not the others', () => {
  const tr = createTranslator();
  const services = world();
  const view = sidecar('prod', { service: 'web' });
  const before = tr.translate(mesh(...services), view);
  const api = services[0]!;
  const changed = { ...api, routing: { ...api.routing, inbounds: [] } };
  const after = tr.translate(mesh(changed, services[1]!, services[2]!, services[3]!), view);
  const vhosts = (t: Translation) =>
    (items(t, ROUTE_TYPE).get(OUTBOUND_ROUTE_CONFIG)!.message as { virtualHosts: Array<{ name: string }> })
      .virtualHosts;
  const byName = (t: Translation) => new Map(vhosts(t).map((v) => [v.name, v]));
  assert.notEqual(
    byName(after).get(outboundCluster('prod', 'api')),
    byName(before).get(outboundCluster('prod', 'api')),
  );
  assert.equal(byName(after).get(outboundCluster('prod', 'web')), byName(before).get(outboundCluster('prod', 'web')));
  assert.equal(byName(after).get(outboundCluster('dev', 'api')), byName(before).get(outboundCluster('dev', 'api')));
  // Its rule cluster is gone from CDS and EDS.
  assert.ok([...items(before, CLUSTER_TYPE).keys()].some((n) => n.startsWith('OUTBOUND|prod|api|')));
  assert.ok(![...items(after, CLUSTER_TYPE).keys()].some((n) => n.startsWith('OUTBOUND|prod|api|')));
});

test('sidecars of one service share a view key; the key changes with what changes the snapshot', () => {
  const a = sidecar('prod', { service: 'web', ip: '10.0.0.1' });
  const b = sidecar('prod', { service: 'web', ip: '10.0.0.2' });
  assert.equal(a.key, b.key);
  assert.notEqual(a.key, sidecar('prod', { service: 'api' }).key);
  assert.notEqual(a.key, sidecar('prod', { service: 'web', locality: { region: 'r' } }).key);
  assert.notEqual(a.key, proxyless('prod', { service: 'web' }).key);
  assert.notEqual(a.key, sidecar('prod', { service: 'web', metadata: { 'polaris-xds.io/outbound-port': '1' } }).key);
  // Settings that do not apply to a run type do not split it.
  assert.equal(gateway('edge', 'gw').key, gateway('edge', 'gw', { 'sidecar.polarismesh.cn/bindPorts': '80' }).key);
  const v = nodeView(
    parseNode({
      id: 'sidecar~prod/u~1.2.3.4',
      metadata: { 'sidecar.polarismesh.cn/serviceName': 'web' },
      userAgentName: 'envoy',
      clientFeatures: [],
    }),
  );
  assert.deepEqual(
    [v.runType, v.namespace, v.service, v.locality, v.outboundPort, v.inboundPort],
    ['sidecar', 'prod', 'web', undefined, 15001, 15006],
  );
});

test('configDump shows every resource as JSON with nested typed configs decoded', () => {
  const t = createTranslator().translate(mesh(...world()), sidecar('prod', { service: 'web' }));
  const dump = configDump(t.snapshot);
  assert.deepEqual(Object.keys(dump), ['cds', 'eds', 'lds', 'rds', 'vhds']);
  assert.equal(dump.cds!.version, t.snapshot.resources[CLUSTER_TYPE].version);
  const listener = dump.lds!.resources.find((r) => r.name === 'OUTBOUND_15001')!.resource as {
    '@type': string;
    filterChains: Array<{ filters: Array<{ typedConfig: Record<string, unknown> }> }>;
  };
  assert.equal(listener['@type'], LISTENER_TYPE);
  const hcm = listener.filterChains[0]!.filters[0]!.typedConfig;
  assert.equal(
    hcm['@type'],
    'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  );
  assert.equal((hcm.rds as { routeConfigName: string }).routeConfigName, OUTBOUND_ROUTE_CONFIG);
  assert.doesNotThrow(() => JSON.stringify(dump));
});
