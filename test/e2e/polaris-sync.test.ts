// End to end against the real Polaris server: what the syncer publishes must match what Polaris's
// console API says, within 3 s of each change, through a kill and a restart; routing rules created
// through the v2 API arrive as model RouteRules with Polaris's match keys.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { silentLogger } from '../../src/log.js';
import type { MeshState, RouteRule } from '../../src/model/mesh.js';
import { createPolarisSource, type PolarisSource } from '../../src/sync/polaris-source.js';
import { startPolaris, type ApiInstance, type PolarisServer } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';

const NAMESPACES = ['e2e-a', 'e2e-b', 'e2e-c'];
const WITHIN_MS = 3000;

type View = Map<string, string[]>;

function sortedJson(m: Record<string, string> | undefined): string {
  return JSON.stringify(Object.fromEntries(Object.entries(m ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))));
}

interface InstanceFacts {
  host: string;
  port: number;
  weight: number;
  healthy: boolean;
  isolate: boolean;
  protocol?: string | null;
  version?: string | null;
  metadata?: Record<string, string>;
}

/**
 * Discover answers carry `version`, `protocol`, `region`, `zone` and `campus` as metadata labels
 * (Polaris's cache adds them), while the console list leaves those labels out; they are compared
 * as top-level fields instead, and the labels are checked separately below.
 */
const LABELS_POLARIS_ADDS = new Set(['version', 'protocol', 'region', 'zone', 'campus']);

function instanceSig(i: InstanceFacts): string {
  const metadata = Object.fromEntries(Object.entries(i.metadata ?? {}).filter(([k]) => !LABELS_POLARIS_ADDS.has(k)));
  return `${i.host}:${i.port} w=${i.weight} h=${i.healthy} i=${i.isolate} p=${i.protocol || ''} v=${i.version || ''} m=${sortedJson(metadata)}`;
}

/** polarisView is Polaris's own view from its console API: per service, its metadata and instances. */
async function polarisView(p: PolarisServer): Promise<View> {
  const view: View = new Map();
  for (const ns of NAMESPACES) {
    for (const s of await p.api.listServices(ns)) view.set(`${ns}/${s.name}`, [`meta=${sortedJson(s.metadata)}`]);
    for (const i of await p.api.listInstances(ns)) view.get(`${ns}/${i.service}`)?.push(instanceSig(i));
  }
  for (const v of view.values()) v.sort();
  return view;
}

function meshView(state: MeshState | undefined): View {
  const view: View = new Map();
  for (const s of state?.services.values() ?? [])
    view.set(`${s.namespace}/${s.name}`, [`meta=${sortedJson(s.metadata)}`, ...s.instances.map(instanceSig)].sort());
  return view;
}

function diff(a: View, b: View): string {
  const out: string[] = [];
  for (const k of new Set([...a.keys(), ...b.keys()])) {
    const x = JSON.stringify(a.get(k));
    const y = JSON.stringify(b.get(k));
    if (x !== y) out.push(`${k}: polaris=${x} mesh=${y}`);
  }
  return out.slice(0, 5).join('\n');
}

describe('polaris source against a real Polaris', { timeout: 90_000 }, () => {
  let polaris: PolarisServer;
  let source: PolarisSource;
  let cacheDir: string;

  /** matches waits until the published state equals Polaris's view, at most WITHIN_MS after `since`. */
  async function matches(what: string, since = Date.now()): Promise<void> {
    let last = '';
    try {
      await waitFor(
        what,
        async () => {
          const expected = await polarisView(polaris);
          last = diff(expected, meshView(source.current()));
          return last === '' && expected.size > 0;
        },
        Math.max(100, WITHIN_MS - (Date.now() - since)),
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${last}`);
    }
  }

  function instancesOf(ns: string, service: string, n: number, base: number): ApiInstance[] {
    return Array.from({ length: n }, (_, k) => ({
      namespace: ns,
      service,
      host: `10.${base}.${k}.1`,
      port: 8000 + k,
      weight: 100 - k,
      protocol: k % 2 ? 'grpc' : 'http',
      metadata: { version: `v${(k % 2) + 1}`, idx: String(k) },
    }));
  }

  before(async () => {
    polaris = await startPolaris();
    cacheDir = mkdtempSync(join(tmpdir(), 'pxds-e2e-cache-'));
    await polaris.api.createNamespaces(NAMESPACES);
    const services = Array.from({ length: 50 }, (_, i) => ({
      namespace: NAMESPACES[i % 3]!,
      name: `svc-${i}`,
      metadata: { owner: `team-${i % 4}` },
    }));
    await polaris.api.createServices(services);
    await polaris.api.registerInstances(services.flatMap((s, i) => instancesOf(s.namespace, s.name, 1 + (i % 4), i)));
    source = createPolarisSource({
      addresses: [polaris.grpcAddress],
      namespaces: NAMESPACES,
      pollIntervalMs: 500,
      pollJitterMs: 500,
      requestTimeoutMs: 2000,
      cacheDir,
      backoff: { maxMs: 1000 },
      logger: silentLogger(),
    });
    await source.start();
  });

  after(async () => {
    await source?.stop();
    await polaris?.stop();
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('syncs 50 services across 3 namespaces', async () => {
    await matches('first full sync');
    assert.equal(source.current()!.services.size, 50);
    const st = source.status();
    assert.equal(st.ready, true);
    assert.equal(st.origin, 'polaris');
    const instances = [...source.current()!.services.values()].reduce((n, s) => n + s.instances.length, 0);
    assert.equal(
      instances,
      Array.from({ length: 50 }, (_, i) => 1 + (i % 4)).reduce((a, b) => a + b, 0),
    );
    const sample = source
      .current()!
      .services.get('e2e-c/svc-5')!
      .instances.find((i) => i.port === 8001)!;
    assert.deepEqual(
      [sample.protocol, sample.metadata.version, sample.metadata.protocol, sample.metadata.idx],
      ['grpc', 'v2', 'grpc', '1'],
    );
  });

  it('follows added and removed services', async () => {
    await polaris.api.createServices([
      { namespace: 'e2e-a', name: 'new-1' },
      { namespace: 'e2e-c', name: 'new-2', metadata: { fresh: 'yes' } },
    ]);
    await polaris.api.registerInstances([
      ...instancesOf('e2e-a', 'new-1', 2, 201),
      ...instancesOf('e2e-c', 'new-2', 1, 202),
    ]);
    const since = Date.now();
    await polaris.api.deleteInstances(instancesOf('e2e-b', 'svc-1', 2, 1));
    await polaris.api.deleteServices([{ namespace: 'e2e-b', name: 'svc-1' }]);
    await matches('services added and removed', since);
    const s = source.current()!;
    assert.ok(s.services.has('e2e-a/new-1') && s.services.has('e2e-c/new-2'));
    assert.ok(!s.services.has('e2e-b/svc-1'));
  });

  it('follows added, removed, isolated and re-weighted instances', async () => {
    const since = Date.now();
    await polaris.api.registerInstances(instancesOf('e2e-a', 'svc-0', 3, 0).slice(1)); // svc-0 had one
    await polaris.api.deleteInstances(instancesOf('e2e-c', 'svc-5', 3, 5).slice(0, 1));
    await polaris.api.isolateHost('e2e-b', 'svc-4', '10.4.0.1', true);
    await polaris.api.updateInstances([
      { ...instancesOf('e2e-c', 'svc-2', 3, 2)[2]!, weight: 0, metadata: { version: 'v9' } },
    ]);
    await matches('instance changes', since);
    const s = source.current()!;
    assert.equal(s.services.get('e2e-a/svc-0')!.instances.length, 3);
    assert.equal(s.services.get('e2e-b/svc-4')!.instances.find((i) => i.host === '10.4.0.1')!.isolate, true);
    const changed = s.services.get('e2e-c/svc-2')!.instances.find((i) => i.host === '10.2.2.1')!;
    assert.equal(changed.weight, 0);
    assert.equal(changed.metadata.version, 'v9');
  });

  it('keeps the state while Polaris is down and picks up changes after a restart', async () => {
    const before = source.current();
    await polaris.kill();
    await waitFor('disconnect noticed', () => /unreachable/.test(source.status().reason), 5000, 50);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(source.current(), before, 'nothing removed while Polaris is down');
    assert.equal(source.status().ready, true);
    await polaris.restart();
    const since = Date.now();
    await polaris.api.createServices([{ namespace: 'e2e-b', name: 'after-restart' }]);
    await polaris.api.registerInstances(instancesOf('e2e-b', 'after-restart', 2, 210));
    await polaris.api.deleteInstances(instancesOf('e2e-a', 'new-1', 2, 201).slice(0, 1));
    await matches('changes after restart', since);
    assert.ok(source.current()!.services.has('e2e-b/after-restart'));
    assert.match(source.status().reason, /synced from polaris/);
  });

  it('receives v2 routing rules as model rules with Polaris match keys', async () => {
    const [ns, caller, callee] = ['e2e-a', 'svc-0', 'svc-3'];
    const since = Date.now();
    const ids = await polaris.api.createRoutingRules([
      {
        name: 'by-request',
        namespace: ns,
        priority: 2,
        rules: [
          {
            name: 'sub',
            sources: [
              {
                service: caller,
                namespace: ns,
                arguments: [
                  { type: 'HEADER', key: 'x-user', value: { type: 'EXACT', value: 'u1', value_type: 'TEXT' } },
                  { type: 'QUERY', key: 'q', value: { type: 'REGEX', value: '^a.*' } },
                  { type: 'PATH', value: { type: 'NOT_EQUALS', value: '/admin' } },
                  { type: 'METHOD', value: { type: 'IN', value: 'GET,POST' } },
                  { type: 'COOKIE', key: 'session', value: { type: 'EXACT', value: 's1' } },
                  { type: 'CALLER_IP', value: { type: 'EXACT', value: '10.1.1.1' } },
                  { type: 'CUSTOM', key: 'env', value: { type: 'EXACT', value: 'prod' } },
                ],
              },
            ],
            destinations: [
              {
                service: callee,
                namespace: ns,
                labels: { version: { type: 'EXACT', value: 'v1', value_type: 'TEXT' } },
                priority: 0,
                weight: 80,
                name: 'g1',
              },
              {
                service: callee,
                namespace: ns,
                labels: { version: { type: 'EXACT', value: 'v2', value_type: 'TEXT' } },
                priority: 1,
                weight: 20,
                name: 'g2',
                isolate: true,
              },
            ],
          },
        ],
      },
      {
        name: 'catch-all',
        namespace: ns,
        priority: 1,
        rules: [
          {
            name: 'sub',
            sources: [{ service: '*', namespace: ns }],
            destinations: [{ service: callee, namespace: ns, labels: {}, weight: 100, name: 'all' }],
          },
        ],
      },
    ]);
    assert.equal(ids.length, 2);
    const key = `${ns}/${callee}`;
    const state = await waitFor(
      'rules arrive',
      () => {
        const s = source.current();
        return s &&
          s.services.get(key)!.routing.inbounds.length === 2 &&
          s.services.get(`${ns}/${caller}`)!.routing.outbounds.length === 2
          ? s
          : undefined;
      },
      Math.max(100, WITHIN_MS - (Date.now() - since)),
      50,
    );
    const inbounds = state.services.get(key)!.routing.inbounds;
    assert.deepEqual(
      inbounds.map((r) => r.name),
      ['catch-all.sub', 'by-request.sub'],
      'ordered by rule priority',
    );
    const rule = inbounds[1]!;
    assert.deepEqual(rule.sources[0]!.service, caller);
    assert.deepEqual(rule.sources[0]!.match, {
      '$header.x-user': { type: 'EXACT', value: 'u1', valueType: 'TEXT' },
      '$query.q': { type: 'REGEX', value: '^a.*', valueType: 'TEXT' },
      $path: { type: 'NOT_EQUALS', value: '/admin', valueType: 'TEXT' },
      $method: { type: 'IN', value: 'GET,POST', valueType: 'TEXT' },
      '$cookie.session': { type: 'EXACT', value: 's1', valueType: 'TEXT' },
      $caller_ip: { type: 'EXACT', value: '10.1.1.1', valueType: 'TEXT' },
      env: { type: 'EXACT', value: 'prod', valueType: 'TEXT' },
    });
    assert.deepEqual(
      rule.destinations.map((d) => [
        d.service,
        d.namespace,
        d.labels.version?.value,
        d.priority,
        d.weight,
        d.isolate,
        d.name,
      ]),
      [
        [callee, ns, 'v1', 0, 80, false, 'by-request.sub.g1'],
        [callee, ns, 'v2', 1, 20, true, 'by-request.sub.g2'],
      ],
    );
    // The caller sees its own rule (and the namespace-wide one) as outbound.
    const outbound = (r: RouteRule[]) => r.map((x) => x.name).sort();
    assert.deepEqual(outbound([...state.services.get(`${ns}/${caller}`)!.routing.outbounds]), [
      'by-request.sub',
      'catch-all.sub',
    ]);
    // Polaris writes the asking service into the `*` caller of the outbound copy it serves; the model
    // carries the caller as the callee's copy has it (src/sync/true-callers.ts).
    const catchAll = state.services.get(`${ns}/${caller}`)!.routing.outbounds.find((r) => r.name === 'catch-all.sub')!;
    assert.deepEqual(
      catchAll.sources.map((x) => [x.namespace, x.service]),
      [[ns, '*']],
    );

    const since2 = Date.now();
    await polaris.api.enableRoutingRules([ids[0]!], false);
    await waitFor(
      'disabled rule leaves',
      () => {
        const r = source.current()!.services.get(key)!.routing.inbounds;
        return r.length === 1 && r[0]!.name === 'catch-all.sub';
      },
      Math.max(100, WITHIN_MS - (Date.now() - since2)),
      50,
    );
    const since3 = Date.now();
    await polaris.api.deleteRoutingRules([ids[1]!]);
    await waitFor(
      'deleted rule leaves',
      () => source.current()!.services.get(key)!.routing.inbounds.length === 0,
      Math.max(100, WITHIN_MS - (Date.now() - since3)),
      50,
    );
    assert.deepEqual(source.debugState().skipped, []);
  });

  it('receives circuit-breaker, fault-detect and rate-limit rules created through the HTTP API, and their changes', async () => {
    const [ns, svc] = ['e2e-b', 'svc-7'];
    const key = `${ns}/${svc}`;
    const [cbId] = await polaris.api.createCircuitBreakerRules([
      {
        name: 'cb-sync',
        namespace: ns,
        enable: true,
        level: 'INSTANCE',
        rule_matcher: { source: { service: '*', namespace: '*' }, destination: { service: svc, namespace: ns } },
        error_conditions: [{ input_type: 'RET_CODE', condition: { type: 'RANGE', value: '500~599' } }],
        trigger_condition: [{ trigger_type: 'CONSECUTIVE_ERROR', error_count: 5 }],
        max_ejection_percent: 100,
        recoverCondition: { sleep_window: 60, consecutiveSuccess: 1 },
        fallbackConfig: {
          enable: true,
          response: { code: 503, headers: [{ key: 'x-fb', value: '1' }], body: 'fallback' },
        },
      },
    ]);
    await polaris.api.createFaultDetectors([
      {
        name: 'fd-sync',
        namespace: ns,
        target_service: { service: svc, namespace: ns },
        interval: 1,
        timeout: 500,
        port: 0,
        protocol: 'HTTP',
        http_config: { method: 'GET', url: '/healthz' },
      },
    ]);
    await polaris.api.createRateLimits([
      {
        name: 'rl-sync',
        namespace: ns,
        service: svc,
        type: 'LOCAL',
        resource: 'QPS',
        method: { type: 'EXACT', value: '/api' },
        amounts: [{ maxAmount: 5, validDuration: '1s' }],
        action: 'REJECT',
        disable: false,
      },
    ]);
    const since = Date.now();
    const state = await waitFor(
      'governance rules arrive',
      () => {
        const s = source.current()?.services.get(key);
        return s &&
          s.circuitBreakers.rules.length === 1 &&
          s.faultDetectors.rules.length === 1 &&
          s.rateLimits.rules.length === 1
          ? s
          : undefined;
      },
      Math.max(100, WITHIN_MS - (Date.now() - since)),
      50,
    ).catch((err) => {
      const s = source.current()?.services.get(key);
      throw new Error(
        `${(err as Error).message}: ${JSON.stringify([s?.circuitBreakers, s?.faultDetectors, s?.rateLimits, source.debugState().keys.filter((k) => k.service === svc)])}`,
      );
    });
    const cb = state.circuitBreakers.rules[0]!;
    assert.equal(cb.id, cbId);
    assert.deepEqual(
      [cb.name, cb.enable, cb.level, cb.destination.service, cb.maxEjectionPercent, cb.recover.sleepWindowSeconds],
      ['cb-sync', true, 'INSTANCE', svc, 100, 60],
    );
    assert.deepEqual(cb.errorConditions, [
      { inputType: 'RET_CODE', condition: { type: 'RANGE', value: '500~599', valueType: 'TEXT' } },
    ]);
    assert.deepEqual(
      cb.triggerConditions.map((t) => [t.triggerType, t.errorCount]),
      [['CONSECUTIVE_ERROR', 5]],
    );
    assert.deepEqual(cb.fallback, {
      enable: true,
      code: 503,
      headers: [{ key: 'x-fb', value: '1' }],
      body: 'fallback',
    });
    const fd = state.faultDetectors.rules[0]!;
    assert.deepEqual(
      [fd.name, fd.protocol, fd.intervalSeconds, fd.timeoutMs, fd.http.url, fd.http.method],
      ['fd-sync', 'HTTP', 1, 500, '/healthz', 'GET'],
    );
    const rl = state.rateLimits.rules[0]!;
    assert.deepEqual(
      [rl.name, rl.type, rl.resource, rl.method?.value, rl.amounts[0]!.maxAmount, rl.amounts[0]!.validDuration.seconds],
      ['rl-sync', 'LOCAL', 'QPS', '/api', 5, 1],
    );
    assert.ok(
      ['SERVICES', 'INSTANCE', 'ROUTING', 'CIRCUIT_BREAKER', 'FAULT_DETECTOR'].every((t) =>
        source
          .debugState()
          .keys.some((k) => k.type === t && k.service === (t === 'SERVICES' ? '' : svc) && k.revision !== ''),
      ),
    );

    const since2 = Date.now();
    await polaris.api.enableCircuitBreakerRules([cbId!], false);
    await waitFor(
      'the switch reaches the model',
      () =>
        source
          .current()!
          .services.get(key)!
          .circuitBreakers.rules.every((r) => !r.enable),
      Math.max(100, WITHIN_MS - (Date.now() - since2)),
      50,
    );
    assert.deepEqual(source.debugState().skipped, []);
  });
});
