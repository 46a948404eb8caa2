// Circuit-breaker and fault-detect rules created in a real Polaris server (v1.18.1) through its
// HTTP API reach a real Envoy through the syncer and act as polaris-go would: consecutive errors
// and error rates eject instances until the sleep window has passed, health checks take a dead
// instance out and bring it back, rules Envoy cannot enforce are skipped with their reason, and
// changes (and a Polaris outage with the disk cache) carry through.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecar, type Sidecar } from '../support/mesh.js';
import { waitFor } from '../support/ports.js';
import { startPolaris, type PolarisServer } from '../support/polaris.js';
import { startFaultyUpstream, type FaultyUpstream } from '../support/upstream.js';

const NS = 'cbp';
/** Changes in Polaris must reach Envoy within this long. */
const WITHIN_MS = 3000;
/**
 * Polaris refreshes its cache every second; with the default poll (1 s plus up to 1 s of jitter) a
 * change takes up to about 3 s, right at the bound, so the bridge polls every 0.5 s here, as the
 * sync tests do, to keep the bound from flaking on a loaded machine.
 */
const BRIDGE_ENV = { POLARIS_XDS_POLARIS_POLL_INTERVAL_MS: '500' };
const cluster = (svc: string) => `OUTBOUND|${NS}|${svc}`;
const host = (svc: string) => `${svc}.${NS}`;

function instanceRule(
  name: string,
  service: string,
  triggers: Array<Record<string, unknown>>,
  sleep: number,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    name,
    namespace: NS,
    enable: true,
    level: 'INSTANCE',
    rule_matcher: { source: { service: '*', namespace: '*' }, destination: { service, namespace: NS } },
    error_conditions: [{ input_type: 'RET_CODE', condition: { type: 'RANGE', value: '500~599' } }],
    trigger_condition: triggers,
    max_ejection_percent: 100,
    recoverCondition: { sleep_window: sleep, consecutiveSuccess: 1 },
    ...extra,
  };
}

describe('circuit breakers and fault detectors from a real Polaris server through a real Envoy', () => {
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let caller: Sidecar;
  let cacheDir: string;
  const up: Record<string, FaultyUpstream> = {};
  const ids: Record<string, string> = {};

  /** counter reads one of Envoy's counters of a service's cluster (or of the cluster named `name`). */
  async function counter(svc: string, stat: string, name = cluster(svc)): Promise<number> {
    const text = await caller.envoy.admin(`/stats?filter=${encodeURIComponent(`${stat}$`)}`);
    const line = text.split('\n').find((l) => l.startsWith(`cluster.${name}.${stat}:`));
    return line ? Number(line.split(':')[1]) : 0;
  }

  /** ejected waits until Envoy has ejected the host of a breaker cluster (ejection is applied asynchronously). */
  async function ejected(name: string): Promise<void> {
    // Envoy writes ':' in stat names as '_'.
    await waitFor(
      `${name} ejected`,
      async () => (await counter('', 'outlier_detection.ejections_enforced_total', name.replaceAll(':', '_'))) > 0,
      3000,
      20,
    );
  }

  /** hostFlags maps each upstream's name to its health flags in Envoy's /clusters. */
  async function hostFlags(svc: string): Promise<Record<string, string>> {
    const text = await caller.envoy.admin('/clusters');
    const out: Record<string, string> = {};
    for (const [name, u] of Object.entries(up)) {
      const line = text.split('\n').find((l) => l.startsWith(`${cluster(svc)}::127.0.0.1:${u.port}::health_flags::`));
      if (line) out[name] = line.split('::health_flags::')[1]!;
    }
    return out;
  }

  /** envoyCluster is a cluster as Envoy holds it (its config_dump JSON). */
  async function envoyCluster(svc: string): Promise<Record<string, any>> {
    const c = (await caller.envoy.configDump()).clusters.find((x) => x.name === cluster(svc));
    return (c?.raw ?? {}) as Record<string, any>;
  }

  /** reaches waits until Envoy's cluster passes `ok`, at most WITHIN_MS after `since`; returns how long it took. */
  async function reaches(
    what: string,
    svc: string,
    ok: (c: Record<string, any>) => boolean,
    since: number,
  ): Promise<number> {
    await waitFor(what, async () => ok(await envoyCluster(svc)), Math.max(100, WITHIN_MS - (Date.now() - since)), 50);
    return Date.now() - since;
  }

  function instance(svc: string, name: string) {
    return { namespace: NS, service: svc, host: '127.0.0.1', port: up[name]!.port, protocol: 'http' };
  }

  before(async () => {
    polaris = await startPolaris();
    for (const name of ['a', 'b', 'c', 'p70', 'p20', 'ok', 'h1', 'h2', 'h3', 'g1', 'g2'])
      up[name] = await startFaultyUpstream(name);
    await polaris.api.createNamespaces([NS]);
    await polaris.api.createServices(
      ['echo', 'rate', 'hc', 'guarded', 'frontend'].map((name) => ({ namespace: NS, name })),
    );
    await polaris.api.registerInstances([
      ...['a', 'b', 'c'].map((n) => instance('echo', n)),
      ...['g1', 'g2'].map((n) => instance('guarded', n)),
      ...['p70', 'p20', 'ok'].map((n) => instance('rate', n)),
      ...['h1', 'h2', 'h3'].map((n) => instance('hc', n)),
    ]);
    [ids.consecutive, ids.rate, ids.slow, ids.method, ids.guardedMethod, ids.service] =
      await polaris.api.createCircuitBreakerRules([
        instanceRule('echo-5-in-a-row', 'echo', [{ trigger_type: 'CONSECUTIVE_ERROR', error_count: 5 }], 3),
        instanceRule(
          'rate-half',
          'rate',
          [{ trigger_type: 'ERROR_RATE', error_percent: 50, interval: 2, minimum_request: 10 }],
          60,
        ),
        instanceRule('hc-slow', 'hc', [{ trigger_type: 'CONSECUTIVE_ERROR', error_count: 3 }], 10, {
          error_conditions: [{ input_type: 'DELAY', condition: { type: 'RANGE', value: '1000~60000' } }],
        }),
        {
          ...instanceRule('echo-method', 'echo', [{ trigger_type: 'CONSECUTIVE_ERROR', error_count: 3 }], 5),
          level: 'METHOD',
          rule_matcher: {
            source: { service: '*', namespace: '*' },
            destination: { service: 'echo', namespace: NS, method: { type: 'EXACT', value: '/x' } },
          },
          recoverCondition: { sleep_window: 5, consecutiveSuccess: 3 },
        },
        {
          ...instanceRule('guarded-method', 'guarded', [{ trigger_type: 'CONSECUTIVE_ERROR', error_count: 2 }], 3),
          level: 'METHOD',
          rule_matcher: {
            source: { service: '*', namespace: '*' },
            destination: { service: 'guarded', namespace: NS, method: { type: 'EXACT', value: '/m' } },
          },
          fallbackConfig: { enable: true, response: { code: 429, body: 'method-later' } },
        },
        {
          ...instanceRule('guarded-service', 'guarded', [{ trigger_type: 'CONSECUTIVE_ERROR', error_count: 3 }], 3),
          level: 'SERVICE',
          fallbackConfig: {
            enable: true,
            response: { code: 503, headers: [{ key: 'x-fallback', value: 'guarded' }], body: 'later' },
          },
        },
      ]);
    [ids.hc] = await polaris.api.createFaultDetectors([
      {
        name: 'hc-http',
        namespace: NS,
        target_service: { service: 'hc', namespace: NS },
        interval: 1,
        timeout: 500,
        port: 0,
        protocol: 'HTTP',
        http_config: { method: 'GET', url: '/healthz' },
      },
    ]);
    cacheDir = mkdtempSync(join(tmpdir(), 'pxds-cb-cache-'));
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS, '--cache-dir', cacheDir], {
      ready: true,
      env: BRIDGE_ENV,
    });
    caller = await startSidecar(bridge, { namespace: NS, service: 'frontend' });
    await waitFor(
      'rules in Envoy',
      async () =>
        (await envoyCluster('echo')).outlier_detection !== undefined &&
        (await envoyCluster('hc')).health_checks !== undefined,
      20_000,
      100,
    );
  });

  after(async () => {
    await caller?.stop();
    await bridge?.stop();
    await polaris?.stop();
    await Promise.all(Object.values(up).map((u) => u.close().catch(() => undefined)));
    if (cacheDir) rmSync(cacheDir, { recursive: true, force: true });
  });

  it('consecutive errors eject the failing instance after at most 5 failures; it gets traffic again after the sleep window', async () => {
    const od = (await envoyCluster('echo')).outlier_detection;
    assert.deepEqual(
      [
        od.consecutive_5xx,
        od.enforcing_consecutive_5xx,
        od.enforcing_success_rate,
        od.base_ejection_time,
        od.max_ejection_time,
        od.max_ejection_percent,
      ],
      [5, 100, 0, '3s', '3s', 100],
    );
    // The bridge's own view of the node says the same.
    const node = (await bridge.adminJson<Array<{ nodeId: string; service: string }>>('/debug/syncz')).find(
      (r) => r.service === 'frontend',
    )!.nodeId;
    const dump = JSON.stringify(await bridge.adminJson(`/debug/config_dump?node=${encodeURIComponent(node)}`));
    assert.match(dump, /"consecutive_?5xx"\s*:\s*5\b/);

    up.b!.failPerTen = 10;
    const before = await counter('echo', 'outlier_detection.ejections_enforced_total');
    for (let i = 0; i < 30 && (await counter('echo', 'outlier_detection.ejections_enforced_total')) === before; i++)
      await caller.send(host('echo'));
    assert.equal(await counter('echo', 'outlier_detection.ejections_enforced_total'), before + 1, 'b was ejected');
    assert.ok(up.b!.failures <= 5, `ejected after ${up.b!.failures} failures`);
    const after = await caller.tally(100, host('echo'));
    assert.equal(after.get('b') ?? 0, 0, JSON.stringify(Object.fromEntries(after)));
    assert.equal((after.get('a') ?? 0) + (after.get('c') ?? 0), 100);

    up.b!.failPerTen = 0;
    const hits = up.b!.hits;
    const back = Date.now();
    await waitFor(
      'b back after the sleep window',
      async () => {
        await caller.tally(9, host('echo'));
        return up.b!.hits > hits;
      },
      10_000,
      100,
    );
    assert.ok(Date.now() - back <= 3000 + 1000 + 1000, 'back within the sleep window (3 s) plus a sweep');
  });

  it('an error rate ejects an instance failing 70 % of requests and leaves one failing 20 % alone', async () => {
    const od = (await envoyCluster('rate')).outlier_detection;
    assert.deepEqual(
      [
        od.failure_percentage_threshold,
        od.failure_percentage_request_volume,
        od.enforcing_failure_percentage,
        od.interval,
      ],
      [50, 10, 100, '2s'],
    );
    up.p70!.failPerTen = 7;
    up.p20!.failPerTen = 2;
    await waitFor(
      'p70 ejected',
      async () => {
        await caller.tally(30, host('rate'), '/', {}, 3);
        return /failed_outlier_check/.test((await hostFlags('rate')).p70 ?? '');
      },
      15_000,
      10,
    );
    // Another full window at the same rates: p20 stays in.
    await caller.tally(60, host('rate'), '/', {}, 3);
    await new Promise((r) => setTimeout(r, 2100));
    await caller.tally(3, host('rate'));
    const flags = await hostFlags('rate');
    assert.match(flags.p70!, /failed_outlier_check/);
    assert.doesNotMatch(flags.p20!, /failed_outlier_check/);
    assert.doesNotMatch(flags.ok!, /failed_outlier_check/);
  });

  it('a health check takes a killed instance out within 3 intervals and brings it back; a slow-call rule is skipped, the check still applies', async () => {
    const hc = (await envoyCluster('hc')).health_checks;
    assert.deepEqual(hc, [
      {
        timeout: '0.500s',
        interval: '1s',
        no_traffic_interval: '1s',
        unhealthy_threshold: 1,
        healthy_threshold: 1,
        http_health_check: { path: '/healthz', expected_statuses: [{ start: '200', end: '400' }], method: 'GET' },
      },
    ]);
    assert.equal((await envoyCluster('hc')).outlier_detection, undefined, 'the slow-call rule is not enforced');
    const skipped = await bridge.adminJson<Array<{ kind: string; path: string; reason: string }>>('/debug/skipped');
    assert.ok(
      skipped.some(
        (s) =>
          s.kind === 'circuit-breaker' &&
          s.path === `${NS}/hc.circuitBreakers[${ids.slow}]` &&
          /slow-call \(DELAY\)/.test(s.reason),
      ),
      JSON.stringify(skipped),
    );
    assert.ok(
      skipped.some(
        (s) =>
          s.path === `${NS}/echo.circuitBreakers[${ids.method}]` &&
          /^recoverCondition\.consecutiveSuccess: 3/.test(s.reason),
      ),
      'a rule closing on several probes is skipped with its reason',
    );
    const metrics = (await bridge.admin('/metrics')).body;
    assert.match(metrics, /polaris_xds_rules_skipped\{kind="circuit-breaker"\} [1-9]/);

    await up.h2!.close();
    const killed = Date.now();
    await waitFor('h2 unhealthy', async () => /failed_active_hc/.test((await hostFlags('hc')).h2 ?? ''), 3000, 50);
    assert.ok(Date.now() - killed <= 3000);
    const out = await caller.tally(30, host('hc'));
    assert.deepEqual([...out.keys()].sort(), ['h1', 'h3'], JSON.stringify(Object.fromEntries(out)));
    await up.h2!.restart();
    await waitFor(
      'h2 healthy again',
      async () => !/failed_active_hc/.test((await hostFlags('hc')).h2 ?? 'failed_active_hc'),
      3000,
      50,
    );
    await waitFor('h2 gets traffic', async () => (await caller.tally(9, host('hc'))).has('h2'), 3000, 50);
  });

  it('service- and method-level rules open when calls fail: the caller gets the fallback answer without the upstream seeing the calls, and they close after the sleep window', async () => {
    const names = (await caller.envoy.configDump()).clusters.map((c) => c.name);
    assert.ok(
      names.includes(`BREAKER|${NS}|guarded`) && names.includes(`BREAKER|${NS}|guarded|method:${ids.guardedMethod}`),
      'the breaker clusters are in Envoy',
    );
    // Routes come last in a push (CDS, EDS, LDS, RDS): wait until the caller's routes use the breakers.
    await waitFor(
      'routes through the breakers',
      async () => {
        const routes = JSON.stringify(
          (await caller.envoy.configDump()).routes
            .filter((r) => r.name === 'polaris-outbound-router')
            .map((r) => r.raw),
        );
        return (
          routes.includes(`"BREAKER|${NS}|guarded"`) &&
          routes.includes(`"BREAKER|${NS}|guarded|method:${ids.guardedMethod}"`)
        );
      },
      20_000,
      100,
    );
    up.g1!.failPerTen = 10;
    up.g2!.failPerTen = 10;
    const call = async (path: string) =>
      caller.send(host('guarded'), path) as Promise<{
        status: number;
        body: string;
        headers?: Record<string, unknown>;
      }>;
    // The method's rule (2 in a row) opens first, on calls to /m only.
    const methodHost = `BREAKER|${NS}|guarded|method:${ids.guardedMethod}|upstream`;
    for (let i = 0; i < 2; i++)
      assert.equal((await call('/m')).status, 503, "the service's own failure passes through while closed");
    await ejected(methodHost);
    assert.equal(up.g1!.failures + up.g2!.failures, 2);
    assert.equal((await call('/m')).body, 'method-later', 'the method opened after 2 consecutive errors');
    // The service's rule (3 in a row, counting the method's calls) opens on the next failure.
    assert.equal((await call('/')).body.endsWith('failed'), true);
    await ejected(`BREAKER|${NS}|guarded|upstream`);
    assert.equal((await call('/')).body, 'later', 'the service opened after 3 consecutive errors');
    assert.equal(up.g1!.failures + up.g2!.failures, 3);
    const seen = up.g1!.hits + up.g2!.hits;
    for (let i = 0; i < 10; i++) {
      const r = await call('/');
      assert.deepEqual([r.status, r.body, r.headers?.['x-fallback']], [503, 'later', 'guarded']);
      const m = await call('/m');
      assert.deepEqual([m.status, m.body], [429, 'method-later']);
    }
    assert.equal(up.g1!.hits + up.g2!.hits, seen, 'the upstream saw none of the calls while open');

    up.g1!.failPerTen = 0;
    up.g2!.failPerTen = 0;
    const opened = Date.now();
    await waitFor('service closed again', async () => ['g1', 'g2'].includes((await call('/')).body), 8000, 100);
    await waitFor('method closed again', async () => ['g1', 'g2'].includes((await call('/m')).body), 8000, 100);
    assert.ok(Date.now() - opened <= 3000 + 1000 + 1000, 'closed within the sleep window (3 s) plus a sweep');
  });

  it('a changed or disabled rule reaches Envoy within 3 s; the disk cache carries the rules across a Polaris outage', async () => {
    const rule = instanceRule('echo-5-in-a-row', 'echo', [{ trigger_type: 'CONSECUTIVE_ERROR', error_count: 2 }], 3);
    let since = Date.now();
    await polaris.api.updateCircuitBreakerRules([{ ...rule, id: ids.consecutive }]);
    const changed = await reaches('changed rule', 'echo', (c) => c.outlier_detection?.consecutive_5xx === 2, since);
    since = Date.now();
    await polaris.api.enableCircuitBreakerRules([ids.consecutive!], false);
    const disabled = await reaches('disabled rule', 'echo', (c) => c.outlier_detection === undefined, since);
    since = Date.now();
    await polaris.api.enableCircuitBreakerRules([ids.consecutive!], true);
    await reaches('enabled again', 'echo', (c) => c.outlier_detection?.consecutive_5xx === 2, since);
    console.log(`# rule change reached Envoy in ${changed} ms, disabling in ${disabled} ms`);

    // Polaris goes away and the bridge restarts: the rules come back from the disk cache.
    await new Promise((r) => setTimeout(r, 1200)); // the disk cache is written at most once a second
    await polaris.kill();
    const ports: [number, number] = [bridge.xdsPort, bridge.adminPort];
    await bridge.stop();
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS, '--cache-dir', cacheDir], {
      ready: true,
      ports,
      env: BRIDGE_ENV,
    });
    const status = await bridge.adminJson<{ origin?: string }>('/readyz').catch(() => ({}) as { origin?: string });
    assert.equal(status.origin, 'disk-cache');
    await waitFor(
      'Envoy reconnected',
      async () => JSON.stringify(await bridge.adminJson('/debug/syncz')).includes(NS),
      15_000,
      100,
    );
    const c = await envoyCluster('echo');
    assert.equal(c.outlier_detection?.consecutive_5xx, 2);
    assert.equal((await envoyCluster('hc')).health_checks?.length, 1);
  });
});
