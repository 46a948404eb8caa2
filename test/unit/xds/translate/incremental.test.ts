// The incremental translator against a fresh one: a long-lived translator, fed a seeded random
// sequence of mesh changes (instances, ports, services, routing rules, nearby routing, host name
// clashes) that share unchanged Service objects, must serve every node view exactly what a new
// translator serves for the same mesh: the same names in the same order, the same bytes, the same
// versions and skip reasons, and consistent snapshots. Also: what it shares while nothing changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  meshState,
  serviceKey,
  type Instance,
  type MatchString,
  type MeshState,
  type RouteRule,
  type Service,
} from '../../../../src/model/mesh.js';
import {
  createTranslator,
  resourceJson,
  type NodeView,
  type Translation,
} from '../../../../src/xds/translate/index.js';
import { consistent } from '../../../../src/xds/snapshot.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, PUSH_ORDER } from '../../../../src/xds/resource.js';
import { NEARBY_KEY } from '../../../../src/xds/translate/routing/nearby.js';
import { inboundCluster, outboundCluster } from '../../../../src/xds/translate/names.js';
import { resource, type Json } from './support/envoy-protos.js';
import { dest, gateway, instance, ms, proxyless, rule, service, sidecar, source } from './support/fixtures.js';
import { Rand } from '../../../support/random.js';

// ---------------------------------------------------------------- randomness

// ---------------------------------------------------------------- the mesh

const LOCALITIES = [
  { region: 'r1', zone: 'z1', campus: 'c1' },
  { region: 'r1', zone: 'z2', campus: '' },
  { region: 'r2', zone: 'z3', campus: '' },
  { region: '', zone: '', campus: '' },
];
const PORTS = [8080, 8080, 8080, 9090, 7070];

let hosts = 0;
function newInstance(r: Rand, port = r.pick(PORTS)): Instance {
  const n = ++hosts;
  return instance(`i${n}`, `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, {
    port,
    protocol: r.pick(['http', 'http', 'grpc']),
    metadata: { version: r.pick(['v1', 'v1', 'v2']) },
    locality: r.pick(LOCALITIES),
    healthy: !r.chance(0.15),
  });
}

function instances(r: Rand, n: number): Instance[] {
  const port = r.pick(PORTS);
  return Array.from({ length: n }, () => newInstance(r, r.chance(0.2) ? r.pick(PORTS) : port));
}

// Callers that rules may name: services some views front.
const NAMED_CALLERS: ReadonlyArray<{ service?: string; namespace?: string }> = [
  { service: 'caller', namespace: 'prod' },
  { service: 'svc0', namespace: 'prod' },
  { service: 'dsvc0' },
  { namespace: 'dev' },
  { service: 'nobody', namespace: 'prod' },
];

let rules = 0;
/** inboundRule draws a rule for a callee: open to any caller or naming one, matching on a header or path, splitting by version (sometimes a version no instance has, or overlapping groups). */
function inboundRule(r: Rand, caller?: { service?: string; namespace?: string }): RouteRule {
  const id = `rule${++rules}`;
  const match: Record<string, MatchString> = r.chance(0.5)
    ? { '$header.x-canary': ms('EXACT', String(r.int(3))) }
    : { $path: ms('REGEX', `/p${r.int(3)}/.*`) };
  const sources = r.chance(0.1)
    ? []
    : [source(r.chance(0.9) ? match : { $path: ms('EXACT', `/e${r.int(3)}`) }, caller ?? {})];
  const shape = r.int(5);
  const destinations =
    shape === 0
      ? [dest({ version: ms('EXACT', 'v2') }, { weight: 80 }), dest({ version: ms('EXACT', 'v1') }, { weight: 20 })]
      : shape === 1
        ? [dest({ version: ms('EXACT', 'v2') }), dest({}, { priority: 1 })]
        : shape === 2
          ? [dest({ version: ms('EXACT', 'v3') })] // usually matches no instance
          : shape === 3
            ? [dest({ version: ms('EXACT', 'v1') }), dest({ version: ms('IN', 'v1,v2') })] // overlapping groups
            : [dest({})];
  return rule(id, sources, destinations, r.int(3));
}

function withInstances(s: Service, list: readonly Instance[]): Service {
  // The routing object is kept, as the registry cache keeps it while the rules do not change.
  return {
    ...s,
    instances: [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    revision: `${s.revision}+`,
  };
}

function withRules(
  s: Service,
  inbounds: readonly RouteRule[],
  outbounds: readonly RouteRule[] = s.routing.outbounds,
): Service {
  return { ...s, routing: { inbounds, outbounds, revision: `${s.routing.revision}+` } };
}

function withMetadata(s: Service, metadata: Record<string, string>): Service {
  return { ...s, metadata };
}

function gatewayRules(r: Rand, services: ReadonlyMap<string, Service>): RouteRule[] {
  const targets = [...services.values()].filter((s) => s.namespace !== 'edge');
  const out: RouteRule[] = [];
  for (let i = 0, n = 1 + r.int(3); i < n; i++) {
    const t = r.chance(0.9) ? r.pick(targets) : { namespace: 'prod', name: 'gone' };
    // Some share a name with a rule of the callee (the registry's outbound copy of its inbound rule).
    const twin = 'routing' in t ? t.routing.inbounds[0] : undefined;
    const name = twin && r.chance(0.5) ? twin.name : `gw${++rules}`;
    const labels: Record<string, MatchString> = r.chance(0.5) ? {} : { version: ms('EXACT', r.pick(['v1', 'v2'])) };
    out.push(
      rule(
        name,
        [source({ $path: ms('EXACT', `/gw${i}`) }, { service: 'gw', namespace: 'edge' })],
        [dest(labels, { service: t.name, namespace: t.namespace })],
      ),
    );
  }
  return out;
}

/** initial builds ~30 services over prod, dev and edge. */
function initial(r: Rand): Map<string, Service> {
  // Ids and addresses restart too, so each test's mesh does not depend on which tests ran before.
  hosts = 0;
  rules = 0;
  const list: Service[] = [];
  for (let i = 0; i < 13; i++) list.push(service('prod', `svc${i}`, instances(r, 1 + r.int(4))));
  for (let i = 0; i < 12; i++) list.push(service('dev', `dsvc${i}`, instances(r, 1 + r.int(4))));
  list.push(service('prod', 'caller', instances(r, 2)));
  list.push(service('edge', 'edgeapi', instances(r, 2)));
  const services = new Map(list.map((s) => [serviceKey(s.namespace, s.name), s]));
  const set = (s: Service): void => void services.set(serviceKey(s.namespace, s.name), s);
  // Inbound rules: open to anyone, naming a caller service, naming a caller namespace.
  set(withRules(services.get('prod/svc3')!, [inboundRule(r), inboundRule(r)]));
  set(withRules(services.get('prod/svc4')!, [inboundRule(r, { service: 'caller', namespace: 'prod' })]));
  set(withRules(services.get('dev/dsvc2')!, [inboundRule(r, { namespace: 'prod' }), inboundRule(r)]));
  set(withRules(services.get('dev/dsvc3')!, [inboundRule(r, { service: 'dsvc0' })]));
  set(withMetadata(services.get('prod/svc5')!, { [NEARBY_KEY]: 'zone' }));
  set(service('edge', 'gw', [], { outbounds: gatewayRules(r, services) }));
  return services;
}

// ---------------------------------------------------------------- changes

type Change = (r: Rand, services: Map<string, Service>) => string | undefined;

const pickService = (
  r: Rand,
  services: ReadonlyMap<string, Service>,
  filter: (s: Service) => boolean = () => true,
): Service | undefined => {
  const list = [...services.values()].filter(filter);
  return list.length === 0 ? undefined : r.pick(list);
};
const put = (services: Map<string, Service>, s: Service): void => void services.set(serviceKey(s.namespace, s.name), s);
/** An instance change lands on a service with rules half the time, where it can change which rules have instances. */
const pickForInstances = (r: Rand, services: ReadonlyMap<string, Service>): Service | undefined =>
  (r.chance(0.5)
    ? pickService(r, services, (x) => x.instances.length > 0 && x.routing.inbounds.length > 0)
    : undefined) ?? pickService(r, services, (x) => x.instances.length > 0);

const CHANGES: ReadonlyArray<readonly [string, number, Change]> = [
  [
    'flip health',
    4,
    (r, m) => {
      const s = pickForInstances(r, m);
      if (!s) return undefined;
      const i = r.int(s.instances.length);
      put(
        m,
        withInstances(
          s,
          s.instances.map((x, j) => (j === i ? { ...x, healthy: !x.healthy } : x)),
        ),
      );
      return `${s.namespace}/${s.name} instance ${s.instances[i]!.id} healthy=${!s.instances[i]!.healthy}`;
    },
  ],
  [
    'add instance',
    3,
    (r, m) => {
      const s = pickService(r, m)!;
      const inst = newInstance(r, s.instances[0]?.port);
      put(m, withInstances(s, [...s.instances, inst]));
      return `${s.namespace}/${s.name} + ${inst.id} (${inst.metadata.version}, port ${inst.port})`;
    },
  ],
  [
    'remove instance',
    3,
    (r, m) => {
      const s = pickForInstances(r, m);
      if (!s) return undefined;
      const i = r.int(s.instances.length);
      put(
        m,
        withInstances(
          s,
          s.instances.filter((_, j) => j !== i),
        ),
      );
      return `${s.namespace}/${s.name} - ${s.instances[i]!.id} (${s.instances[i]!.metadata.version})`;
    },
  ],
  [
    'relabel instance',
    2,
    (r, m) => {
      const s = pickForInstances(r, m);
      if (!s) return undefined;
      const i = r.int(s.instances.length);
      const version = r.pick(['v1', 'v2', 'v3'].filter((v) => v !== s.instances[i]!.metadata.version));
      put(
        m,
        withInstances(
          s,
          s.instances.map((x, j) => (j === i ? { ...x, metadata: { ...x.metadata, version } } : x)),
        ),
      );
      return `${s.namespace}/${s.name} instance ${s.instances[i]!.id} version ${s.instances[i]!.metadata.version} → ${version}`;
    },
  ],
  [
    'change port',
    2,
    (r, m) => {
      const s = pickForInstances(r, m);
      if (!s) return undefined;
      const i = r.int(s.instances.length);
      const port = r.pick([...PORTS, 6060].filter((p) => p !== s.instances[i]!.port));
      put(
        m,
        withInstances(
          s,
          s.instances.map((x, j) => (j === i ? { ...x, port } : x)),
        ),
      );
      return `${s.namespace}/${s.name} instance ${s.instances[i]!.id} port ${s.instances[i]!.port} → ${port}`;
    },
  ],
  [
    'isolate or unweight',
    1,
    (r, m) => {
      const s = pickForInstances(r, m);
      if (!s) return undefined;
      const i = r.int(s.instances.length);
      const x = s.instances[i]!;
      const changed = r.chance(0.5) ? { ...x, isolate: !x.isolate } : { ...x, weight: x.weight === 0 ? 100 : 0 };
      put(
        m,
        withInstances(
          s,
          s.instances.map((y, j) => (j === i ? changed : y)),
        ),
      );
      return `${s.namespace}/${s.name} instance ${x.id} isolate=${changed.isolate} weight=${changed.weight}`;
    },
  ],
  [
    'add service',
    1,
    (r, m) => {
      const ns = r.pick(['prod', 'dev']);
      const s = service(
        ns,
        `new${++rules}`,
        instances(r, r.int(4)),
        r.chance(0.3) ? { inbounds: [inboundRule(r)] } : {},
      );
      put(m, s);
      return `+ ${ns}/${s.name}`;
    },
  ],
  [
    'remove service',
    1,
    (r, m) => {
      const s = pickService(r, m, (x) => x.name !== 'gw');
      if (!s) return undefined;
      m.delete(serviceKey(s.namespace, s.name));
      return `- ${s.namespace}/${s.name}`;
    },
  ],
  [
    'add rule',
    2,
    (r, m) => {
      const s = pickService(r, m, (x) => x.namespace !== 'edge')!;
      const caller = r.chance(0.5) ? r.pick(NAMED_CALLERS) : undefined;
      put(m, withRules(s, [...s.routing.inbounds, inboundRule(r, caller)]));
      return `${s.namespace}/${s.name} + rule for ${caller ? JSON.stringify(caller) : 'any caller'}`;
    },
  ],
  [
    'remove rule',
    2,
    (r, m) => {
      const s = pickService(r, m, (x) => x.routing.inbounds.length > 0);
      if (!s) return undefined;
      const i = r.int(s.routing.inbounds.length);
      put(
        m,
        withRules(
          s,
          s.routing.inbounds.filter((_, j) => j !== i),
        ),
      );
      return `${s.namespace}/${s.name} - rule ${s.routing.inbounds[i]!.id}`;
    },
  ],
  [
    'change rule',
    2,
    (r, m) => {
      const s = pickService(r, m, (x) => x.routing.inbounds.length > 0);
      if (!s) return undefined;
      const i = r.int(s.routing.inbounds.length);
      const old = s.routing.inbounds[i]!;
      // Same id, new content: a new match value, caller or destinations.
      const fresh = {
        ...inboundRule(r, r.chance(0.4) ? r.pick(NAMED_CALLERS) : undefined),
        id: old.id,
        name: old.name,
      };
      put(
        m,
        withRules(
          s,
          s.routing.inbounds.map((x, j) => (j === i ? fresh : x)),
        ),
      );
      return `${s.namespace}/${s.name} ~ rule ${old.id}`;
    },
  ],
  [
    'nearby on/off',
    1,
    (r, m) => {
      const s = pickService(r, m)!;
      const on = s.metadata[NEARBY_KEY] === undefined;
      const metadata: Record<string, string> = { ...s.metadata };
      if (on) metadata[NEARBY_KEY] = r.pick(['zone', 'region', 'campus']);
      else delete metadata[NEARBY_KEY];
      put(m, withMetadata(s, metadata));
      return `${s.namespace}/${s.name} nearby ${on ? metadata[NEARBY_KEY] : 'off'}`;
    },
  ],
  [
    'gateway rules',
    1,
    (r, m) => {
      const gw = m.get('edge/gw');
      if (!gw) return undefined;
      put(m, withRules(gw, gw.routing.inbounds, gatewayRules(r, m)));
      return 'edge/gw new outbound rules';
    },
  ],
  [
    'host name clash',
    1,
    (r, m) => {
      // prod/<x>.dev's short name (for prod callers) is dev/<x>'s namespaced name <x>.dev, and
      // dev.prod/<x> and prod/<x>.dev both are <x>.dev.prod (there is no dev/ext1).
      const base = r.pick(['dsvc1', 'dsvc4', 'ext1']);
      const s = r.chance(0.5)
        ? service('prod', `${base}.dev`, instances(r, 1 + r.int(2)))
        : service('dev.prod', base, instances(r, 1 + r.int(2)));
      put(m, s);
      return `+ clash ${s.namespace}/${s.name}`;
    },
  ],
  [
    'new object, same inbound rules and instances',
    3,
    (r, m) => {
      // As the sources give it when only a service's outbound copies of rules changed: every
      // part the outbound set reads is the same object.
      const s = pickService(r, m)!;
      const outbounds = r.chance(0.5) ? [...s.routing.outbounds] : s.routing.outbounds.slice(1);
      put(m, { ...s, routing: { ...s.routing, outbounds, revision: `${s.routing.revision}+` } });
      return `${s.namespace}/${s.name} new object (${outbounds.length} outbound rules)`;
    },
  ],
];

function randomChange(r: Rand, services: Map<string, Service>): string {
  const total = CHANGES.reduce((n, [, w]) => n + w, 0);
  for (;;) {
    let x = r.int(total);
    for (const [name, w, change] of CHANGES) {
      if ((x -= w) >= 0) continue;
      const what = change(r, services);
      if (what !== undefined) return `${name}: ${what}`;
      break;
    }
  }
}

// ---------------------------------------------------------------- views

const ON_DEMAND = { 'sidecar.polarismesh.cn/openOnDemand': 'true' };

function views(): Array<[string, NodeView]> {
  return [
    [
      'sidecar prod/svc0 with locality',
      sidecar('prod', { service: 'svc0', locality: { region: 'r1', zone: 'z1', subZone: 'c1' } }),
    ],
    ['sidecar prod/svc1', sidecar('prod', { service: 'svc1' })],
    ['sidecar prod/svc6', sidecar('prod', { service: 'svc6' })],
    [
      'sidecar prod/caller, custom ports',
      sidecar('prod', {
        service: 'caller',
        metadata: { 'polaris-xds.io/outbound-port': '16001', 'polaris-xds.io/inbound-port': '16006' },
      }),
    ],
    ['sidecar dev/dsvc0 with locality', sidecar('dev', { service: 'dsvc0', locality: { region: 'r2', zone: 'z3' } })],
    ['sidecar dev, no service', sidecar('dev')],
    [
      'sidecar prod/ghost with bind ports',
      sidecar('prod', { service: 'ghost', metadata: { 'sidecar.polarismesh.cn/bindPorts': '7000,7001' } }),
    ],
    // On demand: a change that moves only assignments swaps them into the group's last snapshot.
    ['on-demand sidecar prod/svc1', sidecar('prod', { service: 'svc1', metadata: ON_DEMAND })],
    ['on-demand sidecar dev, no service', sidecar('dev', { metadata: ON_DEMAND })],
    ['gateway edge/gw', gateway('edge', 'gw')],
    [
      'proxyless prod/svc2 with locality',
      proxyless('prod', { service: 'svc2', locality: { region: 'r1', zone: 'z2' } }),
    ],
    ['proxyless dev', proxyless('dev')],
  ];
}

// ---------------------------------------------------------------- comparison

function sortedSkips(t: Translation): string[] {
  return t.skipped.map((s) => JSON.stringify(s)).sort();
}

/** namedProbe lists names to ask an on-demand snapshot for: every outbound cluster, and a VHDS name per cluster's service. */
function namedProbe(t: Translation): string[] {
  const clusters = t.snapshot.resources[CLUSTER_TYPE].named;
  if (!clusters) return [];
  const out: string[] = [];
  for (const name of clusters.keys()) {
    out.push(name);
    const [, ns, svc] = name.split('|');
    if (ns && svc) out.push(`polaris-outbound-router/${svc}.${ns}`, `polaris-outbound-router/${svc}`);
  }
  return out;
}

/** same asserts that two translations serve the same thing: names and their order, bytes, versions, skip reasons. */
function same(got: Translation, want: Translation, what: string): void {
  for (const type of PUSH_ORDER) {
    const a = got.snapshot.resources[type];
    const b = want.snapshot.resources[type];
    assert.deepEqual([...a.items.keys()], [...b.items.keys()], `${what}: ${type} names`);
    for (const [name, rb] of b.items) {
      const ra = a.items.get(name)!;
      if (!ra.any.equals(rb.any))
        assert.deepEqual(resourceJson(ra), resourceJson(rb), `${what}: ${type} ${name} content`);
      assert.ok(ra.any.equals(rb.any), `${what}: ${type} ${name} bytes`);
    }
    assert.equal(a.version, b.version, `${what}: ${type} version`);
    // What only a name reaches (on-demand clusters, VHDS answers): the same answer to every name.
    for (const name of namedProbe(want)) {
      const ra = a.named?.get(name);
      const rb = b.named?.get(name);
      assert.equal(ra?.version, rb?.version, `${what}: ${type} ${name} by name`);
    }
  }
  assert.deepEqual(sortedSkips(got), sortedSkips(want), `${what}: skipped`);
}

/** namesCaller says whether some inbound rule names this caller service. */
function namesCaller(mesh: MeshState, svc: string): boolean {
  for (const s of mesh.services.values()) {
    for (const r of s.routing.inbounds) for (const src of r.sources) if (src.service === svc) return true;
  }
  return false;
}

// ---------------------------------------------------------------- tests

test('a long-lived translator serves, after each of 150 random mesh changes, what a fresh translator serves', () => {
  const r = new Rand(20240611);
  const services = initial(r);
  const long = createTranslator();
  const vs = views();
  const history: string[] = [];
  let mesh = meshState(services.values(), 'test');
  const kinds = new Set<string>();
  for (let step = 0; step <= 150; step++) {
    if (step > 0) {
      const change = randomChange(r, services);
      kinds.add(change.slice(0, change.indexOf(':')));
      history.push(`${step}. ${change}`);
      mesh = meshState(services.values(), 'test');
    }
    for (const [name, view] of vs) {
      const what = `step ${step} (${history.at(-1) ?? 'initial mesh'}), ${name}`;
      const got = long.translate(mesh, view);
      const want = createTranslator().translate(mesh, view);
      try {
        same(got, want, what);
        assert.deepEqual(consistent(got.snapshot), [], `${what}: consistent`);
      } catch (e) {
        if (e instanceof Error) e.message += `\nchanges so far:\n${history.slice(-12).join('\n')}`;
        throw e;
      }
    }
  }
  assert.equal(kinds.size, CHANGES.length, `every kind of change was drawn: ${[...kinds].join(', ')}`);
});

/** walkUnchanged translates every view twice per step of a short random walk, `again` giving the second mesh; returns what was not shared. */
function walkUnchanged(again: (mesh: MeshState, services: ReadonlyMap<string, Service>) => MeshState): string[] {
  const r = new Rand(7);
  const services = initial(r);
  const long = createTranslator();
  const unshared: string[] = [];
  for (let step = 0; step < 20; step++) {
    if (step > 0) randomChange(r, services);
    const mesh = meshState(services.values(), 'test');
    for (const [name, view] of views()) {
      const first = long.translate(mesh, view);
      const second = long.translate(again(mesh, services), view);
      if (second !== first) unshared.push(`step ${step} ${name}: new translation`);
      for (const type of PUSH_ORDER)
        if (second.snapshot.resources[type] !== first.snapshot.resources[type])
          unshared.push(`step ${step} ${name}: new ${type} set`);
    }
  }
  return unshared;
}

test('asked again for the same mesh, the long-lived translator returns the same translation', () => {
  // Listed together, so one kind of node does not hide another.
  assert.deepEqual(
    walkUnchanged((mesh) => mesh),
    [],
  );
});

test('for a new mesh object holding the same services, the long-lived translator returns the same type sets', () => {
  assert.deepEqual(
    walkUnchanged((_, services) => meshState(services.values(), 'test')).filter((u) => !u.endsWith('new translation')),
    [],
  );
});

test('sidecars of different services in one namespace share the endpoint set object while their cluster sets differ', () => {
  const r = new Rand(99);
  const services = initial(r);
  const long = createTranslator();
  let shared = 0;
  for (let step = 0; step < 40; step++) {
    if (step > 0) randomChange(r, services);
    const mesh = meshState(services.values(), 'test');
    if (namesCaller(mesh, 'svc1') || namesCaller(mesh, 'svc6')) continue;
    // Each needs instances (ports) for an inbound cluster of its own.
    if (!services.get('prod/svc1')?.instances.length || !services.get('prod/svc6')?.instances.length) continue;
    const a = long.translate(mesh, sidecar('prod', { service: 'svc1' }));
    const b = long.translate(mesh, sidecar('prod', { service: 'svc6' }));
    assert.ok(
      a.snapshot.resources[ENDPOINT_TYPE] === b.snapshot.resources[ENDPOINT_TYPE],
      `step ${step}: endpoint set shared`,
    );
    assert.notEqual(
      a.snapshot.resources[CLUSTER_TYPE].version,
      b.snapshot.resources[CLUSTER_TYPE].version,
      `step ${step}: cluster versions`,
    );
    const onlyA = [...a.snapshot.resources[CLUSTER_TYPE].items.keys()].filter(
      (n) => !b.snapshot.resources[CLUSTER_TYPE].items.has(n),
    );
    assert.ok(
      onlyA.includes(inboundCluster('prod', 'svc1')),
      `step ${step}: svc1's own inbound cluster (${onlyA.join(', ')})`,
    );
    shared++;
  }
  assert.ok(shared >= 10, `checked ${shared} steps`);
});

// Cases the random walk above runs into, on their own.

test("a sidecar's own resources follow its own service when nothing else changes (its instances start to speak gRPC)", () => {
  const long = createTranslator();
  const view = sidecar('prod', { service: 'api' });
  const other = service('prod', 'web', [instance('w1', '10.0.0.9')]);
  const api = (protocol: string) => service('prod', 'api', [instance('a1', '10.0.0.1', { protocol })]);
  for (const protocol of ['http', 'grpc', 'http']) {
    const mesh = meshState([other, api(protocol)], 'test');
    same(long.translate(mesh, view), createTranslator().translate(mesh, view), `api speaks ${protocol}`);
  }
});

test("an instance change that leaves a rule without matching instances drops the rule's route, as a fresh translator does", () => {
  const v2 = instance('a2', '10.0.0.2', { metadata: { version: 'v2' } });
  const api = service('prod', 'api', [instance('a1', '10.0.0.1', { metadata: { version: 'v1' } }), v2], {
    inbounds: [
      rule('canary', [source({ '$header.x-canary': ms('EXACT', '1') })], [dest({ version: ms('EXACT', 'v2') })]),
    ],
  });
  const web = service('prod', 'web', [instance('w1', '10.0.1.1')]);
  for (const view of [sidecar('prod', { service: 'web' }), proxyless('prod', { service: 'web' })]) {
    const long = createTranslator();
    long.translate(meshState([api, web], 'test'), view);
    // Only the instances change: the routing object is the same, as the registry cache keeps it.
    const next = meshState(
      [
        withInstances(
          api,
          api.instances.filter((i) => i !== v2),
        ),
        web,
      ],
      'test',
    );
    same(
      long.translate(next, view),
      createTranslator().translate(next, view),
      `${view.runType} after the v2 instance left`,
    );
    // And back: the rule has an instance again.
    const back = meshState([withInstances(api, [...api.instances]), web], 'test');
    same(
      long.translate(back, view),
      createTranslator().translate(back, view),
      `${view.runType} after the v2 instance came back`,
    );
  }
});

const clashing = (): [Service, Service] => [
  service('prod', 'api.dev', [instance('a1', '10.0.0.1')]),
  service('dev.prod', 'api', [instance('b1', '10.0.0.2')]),
];

test('proxyless: of two services both named api.dev.prod (prod/api.dev and dev.prod/api), each listener routes to its own service', () => {
  const [a, b] = clashing();
  const t = createTranslator().translate(meshState([a, b], 'test'), proxyless('prod'));
  const clusterOf = (listener: string): string => {
    const rc = resource(t.snapshot, 'lds', listener).apiListener.apiListener.rds.routeConfigName as string;
    const routes = resource(t.snapshot, 'rds', rc).virtualHosts.flatMap((vh: Json) => vh.routes as Json[]) as Json[];
    return routes.at(-1).route.cluster as string;
  };
  // `api.dev` is prod/api.dev's short name for prod callers; `api.dev.prod` goes to dev.prod/api (the lower key).
  assert.equal(clusterOf('api.dev'), outboundCluster(a.namespace, a.name), 'api.dev');
  assert.equal(clusterOf('api.dev.prod'), outboundCluster(b.namespace, b.name), 'api.dev.prod');
});

test('proxyless: with two services both named api.dev.prod, a change to one gives what a fresh translator gives', () => {
  const [a, b] = clashing();
  const view = proxyless('prod');
  const long = createTranslator();
  long.translate(meshState([a, b], 'test'), view);
  for (const [what, next] of [
    ['dev.prod/api changed', meshState([a, withInstances(b, [instance('b1', '10.0.0.3')])], 'test')],
    ['prod/api.dev changed', meshState([withInstances(a, [instance('a1', '10.0.0.4')]), b], 'test')],
  ] as const) {
    same(long.translate(next, view), createTranslator().translate(next, view), what);
  }
});
