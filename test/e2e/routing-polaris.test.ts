// Routing rules created in a real Polaris server (v1.18.1) through its HTTP API
// (`/naming/v2/routings`) reach a real Envoy through the syncer and route as Polaris's rule router
// would: request conditions, caller service, isolated groups, weights, priority failover (instances
// marked unhealthy through the API), and an untranslatable rule skipped while the rest route.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecar, waitForOnly, type Sidecar } from '../support/mesh.js';
import { startPolaris, type ApiMatch, type ApiRoutingRule, type PolarisServer } from '../support/polaris.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'rtp';
const HOST = `echo.${NS}`;

/** Instance name → version: a1/a2 are v1, b is v2, c is v3. */
const VERSIONS: Record<string, string> = { a1: 'v1', a2: 'v1', b: 'v2', c: 'v3' };

type Sub = ApiRoutingRule['rules'][number];
type Dest = Sub['destinations'][number];

function m(value: string, type = 'EXACT'): ApiMatch {
  return { type, value, value_type: 'TEXT' };
}

function to(version: string, extra: Partial<Dest> = {}): Dest {
  return {
    service: 'echo',
    namespace: NS,
    labels: { version: m(version) },
    priority: 0,
    weight: 100,
    isolate: false,
    name: version,
    ...extra,
  };
}

/** rule builds a one-sub-rule v2 rule; `args` are (type, key, match) triples of its only source. */
function rule(
  name: string,
  priority: number,
  args: Array<[string, string, ApiMatch]>,
  destinations: Dest[],
  caller = { service: '*', namespace: '*' },
): ApiRoutingRule {
  return {
    name,
    namespace: NS,
    priority,
    rules: [
      {
        name: 'main',
        sources: [{ ...caller, arguments: args.map(([type, key, value]) => ({ type, key, value })) }],
        destinations,
      },
    ],
  };
}

const RULES: ApiRoutingRule[] = [
  rule('unsupported-caller-ip', 0, [['CALLER_IP', '', m('127.0.0.1')]], [to('v2')]),
  rule('by-header', 0, [['HEADER', 'x-version', m('v2')]], [to('v2')]),
  rule('by-query', 0, [['QUERY', 'canary', m('yes')]], [to('v2')]),
  rule('by-path', 0, [['PATH', '', m('/beta')]], [to('v2')]),
  rule('by-in', 0, [['HEADER', 'x-user', m('alice,bob', 'IN')]], [to('v2')]),
  rule('by-not-in', 0, [['HEADER', 'x-team', m('red,blue', 'NOT_IN')]], [to('v3')]),
  rule('by-regex', 0, [['HEADER', 'x-agent', m('mobile-[0-9]+', 'REGEX')]], [to('v3')]),
  rule('by-range', 0, [['HEADER', 'x-uid', m('100~199', 'RANGE')]], [to('v3')]),
  rule('by-caller', 0, [['HEADER', 'x-caller', m('yes')]], [to('v3')], { service: 'frontend', namespace: NS }),
  rule(
    'isolated',
    0,
    [['HEADER', 'x-iso', m('1')]],
    [to('v2', { isolate: true }), to('v3', { weight: 50 }), to('v1', { priority: 1 })],
  ),
  rule('split', 0, [['HEADER', 'x-split', m('1')]], [to('v1', { weight: 80 }), to('v2', { weight: 20 })]),
  rule(
    'failover',
    0,
    [['HEADER', 'x-failover', m('1')]],
    [to('v1', { name: 'primary' }), to('v3', { priority: 1, name: 'backup' })],
  ),
  rule('zero-weights', 0, [['HEADER', 'x-zero', m('all')]], [to('v2', { weight: 0 }), to('v3', { weight: 0 })]),
  rule('zero-weight-group', 0, [['HEADER', 'x-zero', m('some')]], [to('v2', { weight: 0 }), to('v3', { weight: 1 })]),
  rule('default', 1, [], [to('v1')]),
];

describe('routing rules from a real Polaris server through a real Envoy', () => {
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let frontend: Sidecar;
  let backend: Sidecar;
  const upstreams: Record<string, Upstream> = {};

  async function setHealthy(names: string[], healthy: boolean): Promise<void> {
    await polaris.api.updateInstances(
      names.map((n) => ({ namespace: NS, service: 'echo', host: '127.0.0.1', port: upstreams[n]!.port, healthy })),
    );
  }

  function instance(name: string) {
    return {
      namespace: NS,
      service: 'echo',
      host: '127.0.0.1',
      port: upstreams[name]!.port,
      protocol: 'http',
      version: VERSIONS[name]!,
      healthy: true,
    };
  }

  /** timed runs an API change, then waits until the failover rule's traffic passes `ok`; returns the ms from the call. */
  async function timed(change: () => Promise<unknown>, ok: (c: Map<string, number>) => boolean): Promise<number> {
    const started = Date.now();
    await change();
    await waitForCounts({ 'x-failover': '1' }, ok, 5_000);
    return Date.now() - started;
  }

  /** waitForCounts polls 20 requests at a time until their counts pass `ok`; returns the ms it took. */
  async function waitForCounts(
    headers: Record<string, string>,
    ok: (c: Map<string, number>) => boolean,
    timeoutMs: number,
  ): Promise<number> {
    const started = Date.now();
    let last = new Map<string, number>();
    while (Date.now() - started < timeoutMs) {
      last = await frontend.tally(20, HOST, '/', headers, 5);
      if ([...last.keys()].every((k) => k in VERSIONS) && ok(last)) return Date.now() - started;
      await new Promise((r) => setTimeout(r, 50));
    }
    return assert.fail(`timed out after ${timeoutMs} ms; last counts ${JSON.stringify(Object.fromEntries(last))}`);
  }

  before(async () => {
    polaris = await startPolaris();
    for (const name of Object.keys(VERSIONS)) upstreams[name] = await startUpstream(name);
    await polaris.api.createNamespaces([NS]);
    await polaris.api.createServices([
      { namespace: NS, name: 'echo' },
      { namespace: NS, name: 'frontend' },
      { namespace: NS, name: 'backend' },
    ]);
    await polaris.api.registerInstances(Object.keys(VERSIONS).map(instance));
    const ids = await polaris.api.createRoutingRules(RULES);
    assert.equal(ids.filter((id) => id !== '').length, RULES.length);
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS], { ready: true });
    [frontend, backend] = await Promise.all([
      startSidecar(bridge, { namespace: NS, service: 'frontend' }),
      startSidecar(bridge, { namespace: NS, service: 'backend' }),
    ]);
    await Promise.all([
      waitForOnly(frontend, 'b', HOST, { 'x-version': 'v2' }, 20_000),
      waitForOnly(backend, 'b', HOST, { 'x-version': 'v2' }, 20_000),
    ]);
  });

  after(async () => {
    await Promise.all([frontend?.stop(), backend?.stop()]);
    await bridge?.stop();
    await polaris?.stop();
    await Promise.all(Object.values(upstreams).map((u) => u.close()));
  });

  it('Envoy accepts every resource', async () => {
    const dump = await frontend.envoy.configDump();
    for (const r of [...dump.clusters, ...dump.listeners, ...dump.routes, ...dump.endpoints]) {
      assert.equal(r.errorState, undefined, `${r.name} rejected: ${JSON.stringify(r.errorState)}`);
    }
  });

  it('request conditions: header, query, path, IN, NOT_IN, REGEX, RANGE; the rest to v1', async () => {
    const v1 = new Set(['a1', 'a2']);
    const cases: Array<[string, Record<string, string>, string]> = [
      ['/', { 'x-version': 'v2' }, 'b'],
      ['/', { 'x-version': 'v3' }, 'v1'],
      ['/', {}, 'v1'],
      ['/?canary=yes', {}, 'b'],
      ['/?canary=no', {}, 'v1'],
      ['/beta', {}, 'b'],
      ['/beta/x', {}, 'v1'],
      ['/', { 'x-user': 'bob' }, 'b'],
      ['/', { 'x-user': 'carol' }, 'v1'],
      ['/', { 'x-team': 'green' }, 'c'],
      ['/', { 'x-team': 'red' }, 'v1'],
      ['/', { 'x-agent': 'Mozilla mobile-42' }, 'c'],
      ['/', { 'x-agent': 'desktop' }, 'v1'],
      ['/', { 'x-uid': '100' }, 'c'],
      ['/', { 'x-uid': '199' }, 'c'],
      ['/', { 'x-uid': '200' }, 'v1'],
    ];
    for (const [path, headers, want] of cases) {
      const counts = await frontend.tally(10, HOST, path, headers);
      const got = [...counts.keys()];
      if (want === 'v1')
        assert.ok(
          got.every((k) => v1.has(k)),
          `${path} ${JSON.stringify(headers)} → ${JSON.stringify(Object.fromEntries(counts))}, want v1`,
        );
      else assert.deepEqual(Object.fromEntries(counts), { [want]: 10 }, `${path} ${JSON.stringify(headers)}`);
    }
  });

  it("a rule for caller frontend applies to frontend's sidecar and not to backend's", async () => {
    await frontend.only('c', 20, HOST, '/', { 'x-caller': 'yes' });
    const counts = await backend.tally(20, HOST, '/', { 'x-caller': 'yes' });
    assert.deepEqual([...counts.keys()].sort(), ['a1', 'a2']);
  });

  it('an isolated destination gets 0 requests', async () => {
    const before = { a1: upstreams.a1!.hits, a2: upstreams.a2!.hits, b: upstreams.b!.hits };
    await frontend.only('c', 100, HOST, '/', { 'x-iso': '1' });
    assert.deepEqual({ a1: upstreams.a1!.hits, a2: upstreams.a2!.hits, b: upstreams.b!.hits }, before);
  });

  it('80/20 weights: 1,000 requests land within ±5 points', async () => {
    const counts = await frontend.tally(1000, HOST, '/', { 'x-split': '1' }, 20);
    const v1 = ((counts.get('a1') ?? 0) + (counts.get('a2') ?? 0)) / 10;
    const v2 = (counts.get('b') ?? 0) / 10;
    console.log(`polaris 80/20 split measured: v1 ${v1} %, v2 ${v2} % of 1000`);
    assert.equal(v1 + v2, 100, JSON.stringify(Object.fromEntries(counts)));
    assert.ok(Math.abs(v1 - 80) <= 5 && Math.abs(v2 - 20) <= 5, `v1 ${v1} %, v2 ${v2} %`);
  });

  it('weight 0 gets no traffic; a rule whose weights are all 0 is skipped', async () => {
    const b = upstreams.b!.hits;
    const counts = await frontend.tally(20, HOST, '/', { 'x-zero': 'all' });
    assert.deepEqual([...counts.keys()].sort(), ['a1', 'a2']);
    await frontend.only('c', 20, HOST, '/', { 'x-zero': 'some' });
    assert.equal(upstreams.b!.hits, b);
  });

  it('every priority-0 instance unhealthy → priority 1 within 5 s, and back', async () => {
    const failover = { 'x-failover': '1' };
    await waitForCounts(failover, bothPrimaries, 5_000);
    await timed(
      () => setHealthy(['a1'], false),
      (c) => !c.has('a1'),
    );
    await frontend.only('a2', 50, HOST, '/', failover);
    const away = await timed(() => setHealthy(['a2'], false), onlyBackup);
    await frontend.only('c', 50, HOST, '/', failover);
    const back = await timed(() => setHealthy(['a1', 'a2'], true), bothPrimaries);
    console.log(`polaris failover (unhealthy): to priority 1 in ${away} ms, back in ${back} ms, from the API call`);
  });

  it('every priority-0 instance deregistered → priority 1 within 5 s, and back', async () => {
    const away = await timed(() => polaris.api.deleteInstances(['a1', 'a2'].map(instance)), onlyBackup);
    await frontend.only('c', 50, HOST, '/', { 'x-failover': '1' });
    const back = await timed(() => polaris.api.registerInstances(['a1', 'a2'].map(instance)), bothPrimaries);
    console.log(`polaris failover (deregistered): to priority 1 in ${away} ms, back in ${back} ms, from the API call`);
  });

  it('skips the untranslatable rule with its reason', async () => {
    const skipped = await bridge.adminJson<Array<{ kind: string; path: string; reason: string }>>('/debug/skipped');
    const rules = skipped.filter((s) => s.kind === 'rule');
    assert.equal(rules.length, 2, JSON.stringify(skipped));
    assert.ok(
      rules.some((r) => /\.sources\[0\]\.match\["\$caller_ip"\]$/.test(r.path) && /caller_ip/i.test(r.reason)),
      JSON.stringify(rules),
    );
    assert.ok(
      rules.some((r) => /no destination can take traffic/.test(r.reason)),
      JSON.stringify(rules),
    );
    assert.match((await bridge.admin('/metrics')).body, /^polaris_xds_rules_skipped\{kind="rule"\} 2$/m);
  });
});

function onlyBackup(c: Map<string, number>): boolean {
  return c.size === 1 && c.has('c');
}

function bothPrimaries(c: Map<string, number>): boolean {
  return c.size === 2 && c.has('a1') && c.has('a2');
}
