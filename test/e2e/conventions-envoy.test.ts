// Polaris users' own conventions through a real Envoy: nearby routing switched on by Polaris's
// service metadata `internal-enable-nearby`, unhealthy instances used only when none is healthy
// (on service clusters and rule clusters alike), and a Host that is no service. First from a mesh
// file, then the same conventions set through a real Polaris server's API.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import {
  meshFile,
  startSidecar,
  waitForOnly,
  type MeshDoc,
  type MeshFile,
  type Sidecar,
  type Tally,
} from '../support/mesh.js';
import { startPolaris, type PolarisServer } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'cv';
/** Upstream name → locality: a in the caller's zone, b in its region, c elsewhere; d is a spare. */
const PLACES: Record<string, { region: string; zone: string }> = {
  a: { region: 'r1', zone: 'zone-a' },
  b: { region: 'r1', zone: 'zone-b' },
  c: { region: 'r2', zone: 'zone-c' },
  d: { region: 'r2', zone: 'zone-c' },
};

/** mesh: `healthy` lists the instances of `flat` and `ruled` (a, b, c) that are healthy. */
function mesh(up: Record<string, Upstream>, healthy: string[]): MeshDoc {
  const inst = (name: string, o: { healthy?: boolean; metadata?: Record<string, string> } = {}) => ({
    host: '127.0.0.1',
    port: up[name]!.port,
    locality: PLACES[name],
    ...o,
  });
  const abc = (metadata?: Record<string, string>) =>
    ['a', 'b', 'c'].map((n) => inst(n, { healthy: healthy.includes(n), ...(metadata ? { metadata } : {}) }));
  return {
    namespaces: [
      {
        name: NS,
        services: [
          { name: 'client' },
          {
            name: 'near',
            metadata: { 'internal-enable-nearby': 'true' },
            instances: ['a', 'b', 'c'].map((n) => inst(n)),
          },
          {
            name: 'near-region',
            metadata: { 'internal-enable-nearby': 'true', 'polaris-xds.io/nearby': 'region' },
            instances: ['a', 'b', 'c'].map((n) => inst(n)),
          },
          {
            name: 'near-far',
            metadata: { 'internal-enable-nearby': 'true' },
            instances: ['a', 'b', 'c'].map((n) => inst(n, { healthy: n === 'c' })),
          },
          { name: 'flat', instances: abc() },
          // `ruled`'s rule sends everything to the v=1 group (a, b, c): a rule cluster without d.
          { name: 'ruled', instances: [...abc({ v: '1' }), inst('d', { metadata: { v: '2' } })] },
        ],
        rules: [
          {
            name: 'to-v1',
            sources: [{ service: '*', namespace: '*' }],
            destinations: [{ service: 'ruled', namespace: NS, labels: { v: '1' }, weight: 100 }],
          },
        ],
      },
    ],
  };
}

const keys = (t: Tally) => [...t.keys()].sort();

describe("Polaris's conventions through a real Envoy", () => {
  const up: Record<string, Upstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  let sidecar: Sidecar;

  before(async () => {
    for (const name of Object.keys(PLACES)) up[name] = await startUpstream(name);
    file = meshFile(mesh(up, ['a']));
    bridge = await startBridge(['--file', file.path], { ready: true });
    sidecar = await startSidecar(bridge, { namespace: NS, service: 'client', region: 'r1', zone: 'zone-a' });
    await waitForOnly(sidecar, 'a', `near.${NS}`, {}, 20_000);
  });

  after(async () => {
    await sidecar?.stop();
    await bridge?.stop();
    file?.remove();
    await Promise.all(Object.values(up).map((u) => u.close()));
  });

  it('internal-enable-nearby: "true" keeps a caller in its zone, widens up to all; polaris-xds.io/nearby chooses another level', async () => {
    await sidecar.only('a', 40, `near.${NS}`);
    // region level (the project key wins): a and b, never c.
    assert.deepEqual(keys(await sidecar.tally(60, `near-region.${NS}`)), ['a', 'b']);
    // zone and region have no healthy instance: widened to all, as the SDKs' default maxMatchLevel.
    await sidecar.only('c', 40, `near-far.${NS}`);
  });

  it('1 healthy of 3 → all traffic to it, on a service cluster and on a rule cluster (no 50 % panic)', async () => {
    for (const host of [`flat.${NS}`, `ruled.${NS}`]) {
      const counts = await sidecar.tally(90, host);
      console.log(`1 healthy of 3, ${host}: ${JSON.stringify(Object.fromEntries(counts))}`);
      assert.deepEqual(Object.fromEntries(counts), { a: 90 }, host);
    }
    const stats = await sidecar.envoy.admin('/stats?filter=lb_healthy_panic');
    for (const line of stats.split('\n').filter((l) => /cv\|(flat|ruled)/.test(l))) assert.match(line, /: 0$/, line);
  });

  it('0 healthy of 3 → traffic to all three, as polaris-go recovers all (not 503)', async () => {
    file.write(mesh(up, []));
    for (const host of [`flat.${NS}`, `ruled.${NS}`]) {
      let seen: string[] = [];
      await waitFor(
        `${host} spread over a, b, c`,
        async () => {
          seen = keys(await sidecar.tally(30, host));
          return seen.join() === 'a,b,c';
        },
        10_000,
        50,
      );
      const counts = await sidecar.tally(90, host);
      console.log(`0 healthy of 3, ${host}: ${JSON.stringify(Object.fromEntries(counts))}`);
      assert.deepEqual(keys(counts), ['a', 'b', 'c'], `${host}: ${JSON.stringify(Object.fromEntries(counts))}`);
    }
    // And back: one healthy again takes everything.
    file.write(mesh(up, ['b']));
    await waitForOnly(sidecar, 'b', `flat.${NS}`, {}, 10_000);
    await sidecar.only('b', 60, `ruled.${NS}`);
  });

  it('a Host that is no service goes to PassthroughCluster; sent straight to the listener it has no original destination: 503 no healthy upstream', async () => {
    const before = Number(
      /: (\d+)/.exec(
        await sidecar.envoy.admin('/stats?filter=^cluster\\.PassthroughCluster\\.upstream_cx_none_healthy$'),
      )?.[1] ?? 0,
    );
    const r = await sidecar.send('nowhere.example.com');
    assert.equal(r.status, 503);
    assert.match(r.body, /no healthy upstream/);
    const now = Number(
      /: (\d+)/.exec(
        await sidecar.envoy.admin('/stats?filter=^cluster\\.PassthroughCluster\\.upstream_cx_none_healthy$'),
      )?.[1] ?? 0,
    );
    assert.equal(now, before + 1);
    // A service's host on the same listener is routed.
    assert.equal((await sidecar.send(`flat.${NS}`)).status, 200);
  });
});

describe("Polaris's conventions set through a real Polaris, through a real Envoy", () => {
  const NSP = 'cvp';
  const up: Record<string, Upstream> = {};
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let sidecar: Sidecar;

  const inst = (service: string, name: string, healthy = true) => ({
    namespace: NSP,
    service,
    host: '127.0.0.1',
    port: up[name]!.port,
    protocol: 'http',
    healthy,
    location: PLACES[name],
  });

  before(async () => {
    for (const name of ['a', 'b', 'c']) up[name] = await startUpstream(name);
    polaris = await startPolaris();
    await polaris.api.createNamespaces([NSP]);
    await polaris.api.createServices([
      { namespace: NSP, name: 'client' },
      { namespace: NSP, name: 'near', metadata: { 'internal-enable-nearby': 'true' } },
      { namespace: NSP, name: 'flat' },
    ]);
    await polaris.api.registerInstances([
      inst('near', 'a'),
      inst('near', 'b'),
      inst('near', 'c'),
      inst('flat', 'a'),
      inst('flat', 'b', false),
      inst('flat', 'c', false),
    ]);
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NSP], { ready: true });
    sidecar = await startSidecar(bridge, { namespace: NSP, service: 'client', region: 'r1', zone: 'zone-a' });
    await waitForOnly(sidecar, 'a', `near.${NSP}`, {}, 20_000);
  });

  after(async () => {
    await sidecar?.stop();
    await bridge?.stop();
    await polaris?.stop();
    await Promise.all(Object.values(up).map((u) => u.close()));
  });

  it('internal-enable-nearby set in Polaris keeps the caller in its zone', async () => {
    await sidecar.only('a', 40, `near.${NSP}`);
  });

  it('1 healthy of 3 → all to it; all 3 marked unhealthy through the API → traffic to all three', async () => {
    await sidecar.only('a', 60, `flat.${NSP}`);
    await polaris.api.updateInstances([inst('flat', 'a', false)]);
    await waitFor(
      'flat spread over a, b, c',
      async () => keys(await sidecar.tally(30, `flat.${NSP}`)).join() === 'a,b,c',
      15_000,
      100,
    );
  });
});
