// Polaris going away never empties what Envoy has: traffic keeps flowing while Polaris is down,
// changes arrive after it returns, and a bridge started while Polaris is down serves its disk cache.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { startPolaris, type PolarisServer } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';
import { scratchDir } from '../support/temp.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'outage';
const SVC = 'echo';

async function envoyFor(bridge: BridgeProcess): Promise<{ envoy: EnvoyProcess; outbound: number }> {
  return startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'client' });
}

async function endpointsOf(envoy: EnvoyProcess): Promise<string[]> {
  const dump = await envoy.configDump();
  const cla = dump.endpoints.find((e) => e.name === `OUTBOUND|${NS}|${SVC}`)?.raw as
    | {
        endpoints?: Array<{
          lb_endpoints?: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }>;
        }>;
      }
    | undefined;
  return (cla?.endpoints ?? [])
    .flatMap((l) => l.lb_endpoints ?? [])
    .map((e) => String(e.endpoint.address.socket_address.port_value))
    .sort();
}

describe('Polaris outage', () => {
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let envoy: EnvoyProcess;
  let outbound = 0;
  const cacheDir = scratchDir('pxds-outage-cache-').dir;
  const upstreams: Upstream[] = [];

  before(async () => {
    polaris = await startPolaris();
    for (const name of ['a', 'b', 'c']) upstreams.push(await startUpstream(`${SVC}-${name}`));
    await polaris.api.createNamespaces([NS]);
    await polaris.api.registerInstances(
      upstreams
        .slice(0, 2)
        .map((u) => ({ namespace: NS, service: SVC, host: '127.0.0.1', port: u.port, weight: 100, healthy: true })),
    );
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS, '--cache-dir', cacheDir], {
      ready: true,
    });
    ({ envoy, outbound } = await envoyFor(bridge));
    await waitFor('envoy routes to both instances', async () => (await endpointsOf(envoy)).length === 2, 20_000);
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await polaris?.stop();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  it('keeps routing with 0 failed requests for 10 s while Polaris is killed; a change after restart arrives', async () => {
    const before = await endpointsOf(envoy);
    await polaris.kill();
    let sent = 0;
    let failed = 0;
    const until = Date.now() + 10_000;
    while (Date.now() < until) {
      const r = await sendThrough(outbound, `${SVC}.${NS}`).catch(() => ({ status: 0, body: '' }));
      sent++;
      if (r.status !== 200) failed++;
      await new Promise((res) => setTimeout(res, 20));
    }
    console.log(`during the outage: ${sent} requests, ${failed} failed`);
    assert.equal(failed, 0);
    assert.ok(sent > 100);
    assert.deepEqual(await endpointsOf(envoy), before, 'endpoints unchanged during the outage');
    const ready = await bridge.adminJson<{ ready: boolean; reason: string }>('/readyz');
    assert.equal(ready.ready, true, 'still serving the last good state');

    await polaris.restart();
    await polaris.api.registerInstances([
      { namespace: NS, service: SVC, host: '127.0.0.1', port: upstreams[2]!.port, weight: 100, healthy: true },
    ]);
    await waitFor('the new instance reaches Envoy', async () => (await endpointsOf(envoy)).length === 3, 15_000, 200);
  });

  it('a bridge started while Polaris is down serves its disk cache while Polaris stays down, and Envoy routes', async () => {
    await polaris.kill();
    await bridge.stop();
    await envoy.stop();
    const started = Date.now();
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS, '--cache-dir', cacheDir], {
      ready: true,
    });
    const readyAfter = Date.now() - started;
    // How soon is a figure, not a pass mark: process start alone varies with load. Without the disk cache
    // the bridge would never be ready here (Polaris is down), so readiness itself is the behaviour.
    console.log(`ready from disk cache after ${readyAfter} ms (process start included)`);
    const ready = await bridge.adminJson<{ ready: boolean; origin: string; reason: string }>('/readyz');
    assert.equal(ready.origin, 'disk-cache', ready.reason);
    ({ envoy, outbound } = await envoyFor(bridge));
    await waitFor(
      'envoy routes from the cached state',
      async () => (await sendThrough(outbound, `${SVC}.${NS}`).catch(() => undefined))?.status === 200,
      15_000,
    );
    assert.equal((await endpointsOf(envoy)).length, 3);
  });
});
