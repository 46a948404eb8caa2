// The README's run command end to end: `polaris-xds serve` on its embedded default (the example
// mesh from the file source) feeding a real Envoy, which routes real HTTP to local upstreams.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { waitFor } from '../support/ports.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';

// The example mesh puts its instances on these fixed ports (examples/envoy/mesh.yaml).
const ECHO = { 'echo-v1-a': 18081, 'echo-v1-b': 18082, 'echo-v2': 18083 };
const WEB = { 'web-a': 18101, 'web-isolated': 18102 };

describe('example mesh through a real Envoy', () => {
  let bridge: BridgeProcess;
  let envoy: EnvoyProcess;
  const upstreams: Upstream[] = [];
  let outbound = 0;

  before(async () => {
    for (const [name, port] of Object.entries({ ...ECHO, ...WEB })) upstreams.push(await startUpstream(name, port));
    bridge = await startBridge([], { ready: true });
    ({ envoy, outbound } = await startSidecarEnvoy(bridge.xdsAddress, { namespace: 'default', service: 'web' }));
    await waitFor(
      'envoy to route echo.default',
      async () => (await sendThrough(outbound, 'echo.default').catch(() => undefined))?.status === 200,
      20_000,
    );
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  it('accepts every dynamic resource', async () => {
    const dump = await envoy.configDump();
    const all = [...dump.clusters, ...dump.listeners, ...dump.routes, ...dump.endpoints];
    assert.ok(
      dump.clusters.some((c) => c.name === 'OUTBOUND|default|echo'),
      'echo cluster present',
    );
    assert.ok(
      dump.listeners.some((l) => l.name === `OUTBOUND_${outbound}`),
      'outbound listener present',
    );
    assert.ok(
      dump.routes.some((r) => r.name === 'polaris-outbound-router'),
      'outbound routes present',
    );
    for (const r of all) assert.equal(r.errorState, undefined, `${r.name} rejected: ${JSON.stringify(r.errorState)}`);
  });

  it('routes by the example header rule and by default to v1', async () => {
    const v2 = await Promise.all(
      Array.from({ length: 10 }, () => sendThrough(outbound, 'echo.default', '/', { 'x-version': 'v2' })),
    );
    assert.deepEqual(new Set(v2.map((r) => r.body)), new Set(['echo-v2']));
    const rest = await Promise.all(Array.from({ length: 20 }, () => sendThrough(outbound, 'echo.default:18081', '/')));
    assert.ok(rest.every((r) => r.status === 200));
    assert.deepEqual(new Set(rest.map((r) => r.body)), new Set(['echo-v1-a', 'echo-v1-b']));
  });

  it('sends nothing to an isolated instance', async () => {
    const before = upstreams.find((u) => u.name === 'web-isolated')!.hits;
    const res = await Promise.all(Array.from({ length: 20 }, () => sendThrough(outbound, 'web.default')));
    assert.ok(res.every((r) => r.status === 200 && r.body === 'web-a'));
    assert.equal(upstreams.find((u) => u.name === 'web-isolated')!.hits, before);
  });

  it('is ready and reports its source', async () => {
    const ready = await bridge.adminJson<{ ready: boolean; origin: string }>('/readyz');
    assert.equal(ready.ready, true);
    assert.equal(ready.origin, 'file');
  });
});
