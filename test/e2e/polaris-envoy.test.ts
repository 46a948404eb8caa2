// The vertical slice against real peers: instances registered in a real Polaris server reach a
// real Envoy through polaris-xds, and Envoy routes real HTTP to them. Deregistering or isolating
// an instance takes it out of rotation.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { startPolaris, type PolarisServer } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'slice';
const SVC = 'echo';
const EXTRA_NS = 'slice-extra';

describe('real Polaris → polaris-xds → real Envoy', () => {
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let envoy: EnvoyProcess;
  let outbound = 0;
  const upstreams: Upstream[] = [];

  /** hits sends n requests and counts answers per upstream name; every request must succeed. */
  async function hits(n: number): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const r = await sendThrough(outbound, `${SVC}.${NS}`);
      assert.equal(r.status, 200, `request ${i} failed: ${r.status} ${r.body}`);
      counts.set(r.body, (counts.get(r.body) ?? 0) + 1);
    }
    return counts;
  }

  before(async () => {
    polaris = await startPolaris();
    for (const name of ['a', 'b', 'c']) upstreams.push(await startUpstream(`${SVC}-${name}`));
    await polaris.api.createNamespaces([NS]);
    await polaris.api.registerInstances(
      upstreams.map((u) => ({
        namespace: NS,
        service: SVC,
        host: '127.0.0.1',
        port: u.port,
        protocol: 'http',
        weight: 100,
        healthy: true,
      })),
    );
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS, '--namespace', EXTRA_NS], {
      ready: true,
    });
    ({ envoy, outbound } = await startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'client' }));
    await waitFor(
      'all three endpoints in Envoy',
      async () => {
        const c = await hits(30).catch(() => undefined);
        return c && c.size === 3;
      },
      20_000,
      250,
    );
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await polaris?.stop();
    await Promise.all(upstreams.map((u) => u.close()));
  });

  it('routes 60 requests, all succeed, every upstream gets traffic', async () => {
    const counts = await hits(60);
    assert.deepEqual([...counts.keys()].sort(), upstreams.map((u) => u.name).sort());
  });

  it('shows every dynamic resource accepted in config_dump', async () => {
    const dump = await envoy.configDump();
    assert.ok(dump.endpoints.some((e) => e.name === `OUTBOUND|${NS}|${SVC}`));
    for (const r of [...dump.clusters, ...dump.listeners, ...dump.routes, ...dump.endpoints]) {
      assert.equal(r.errorState, undefined, `${r.name} rejected: ${JSON.stringify(r.errorState)}`);
    }
  });

  it('stops sending to a deregistered instance within 5 s', async () => {
    const gone = upstreams[0]!;
    await polaris.api.deleteInstances([{ namespace: NS, service: SVC, host: '127.0.0.1', port: gone.port }]);
    const started = Date.now();
    await waitFor('deregistered instance out of rotation', async () => !(await hits(20)).has(gone.name), 5_000, 100);
    const before = gone.hits;
    const counts = await hits(30);
    assert.equal(gone.hits, before);
    assert.equal(counts.size, 2);
    console.log(`deregistered instance left rotation after ${Date.now() - started} ms`);
  });

  it('stops sending to an isolated instance within 5 s', async () => {
    const isolated = upstreams[1]!;
    await polaris.api.updateInstances([
      { namespace: NS, service: SVC, host: '127.0.0.1', port: isolated.port, isolate: true },
    ]);
    const started = Date.now();
    await waitFor('isolated instance out of rotation', async () => !(await hits(20)).has(isolated.name), 5_000, 100);
    const before = isolated.hits;
    const counts = await hits(30);
    assert.equal(isolated.hits, before);
    assert.deepEqual([...counts.keys()], [upstreams[2]!.name]);
    console.log(`isolated instance left rotation after ${Date.now() - started} ms`);
  });
  it("serves on /debug/mesh what Polaris's console shows, within 3 s of each change", async () => {
    type Summary = {
      services: Array<{
        namespace: string;
        name: string;
        instances: Array<{ host: string; port: number; weight: number; healthy: boolean; isolate: boolean }>;
      }>;
    };
    const served = async () => {
      const s = await bridge.adminJson<Summary>('/debug/mesh');
      return s.services
        .filter((x) => x.namespace === EXTRA_NS)
        .flatMap((x) =>
          x.instances.map(
            (i) =>
              `${x.name} ${i.host}:${i.port} w${i.weight} ${i.healthy ? 'up' : 'down'}${i.isolate ? ' isolated' : ''}`,
          ),
        )
        .sort();
    };
    const polarisView = async () =>
      (await polaris.api.listInstances(EXTRA_NS))
        .map(
          (i) =>
            `${i.service} ${i.host}:${i.port} w${i.weight} ${i.healthy ? 'up' : 'down'}${i.isolate ? ' isolated' : ''}`,
        )
        .sort();
    const agree = async (what: string) => {
      const started = Date.now();
      await waitFor(
        `bridge to match polaris after ${what}`,
        async () => JSON.stringify(await served()) === JSON.stringify(await polarisView()),
        3_000,
        100,
      );
      return Date.now() - started;
    };
    await polaris.api.createNamespaces([EXTRA_NS]);
    const extra = { namespace: EXTRA_NS, service: 'extra', host: '127.0.0.1', port: 1, weight: 50, healthy: true };
    await polaris.api.registerInstances([extra, { ...extra, port: 2 }]);
    const added = await agree('adding a service');
    await polaris.api.updateInstances([{ ...extra, weight: 7 }]);
    const reweighted = await agree('re-weighting an instance');
    await polaris.api.deleteInstances([extra]);
    const removed = await agree('removing an instance');
    console.log(
      `/debug/mesh matched polaris after ${added} / ${reweighted} / ${removed} ms (add / re-weight / remove)`,
    );
  });
});
