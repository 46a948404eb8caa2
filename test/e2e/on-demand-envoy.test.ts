// On-demand sidecars through a real Envoy: in a 200-service mesh a sidecar bootstrapped with
// `--on-demand` holds only the services it calls (VHDS virtual hosts and on-demand clusters), each
// first request succeeds (Envoy holds it until the virtual host, cluster and endpoints arrive),
// new services cost it nothing, a new instance of a service it holds reaches it, and a removed
// service leaves it while the others keep answering.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, waitListenerActive, type ConfigDump, type SidecarEnvoy } from '../support/envoy.js';
import { meshFile, type MeshDoc, type MeshFile, type MeshService } from '../support/mesh.js';
import { waitFor } from '../support/ports.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';
import { startRequestLoop } from '../support/xds-helpers.js';
import { TYPES } from '../support/ads-client.js';
import { DeltaFollower } from '../support/xds-follower.js';

const NS = 'od';
const FILLER = 200;
const CALLED = ['alpha', 'beta', 'gamma'];
const cluster = (svc: string) => `OUTBOUND|${NS}|${svc}`;
const vhostName = (host: string) => `polaris-outbound-router/${host}`;

interface State {
  extraServices?: number;
  /** Extra instances of a service (ports of further upstreams). */
  extraInstances?: Record<string, number[]>;
  removed?: string[];
}

function mesh(ups: Record<string, Upstream>, state: State = {}): MeshDoc {
  const services: MeshService[] = [];
  for (const name of CALLED) {
    if (state.removed?.includes(name)) continue;
    const ports = [ups[name]!.port, ...(state.extraInstances?.[name] ?? [])];
    services.push({ name, instances: ports.map((port) => ({ host: '127.0.0.1', port, protocol: 'http' })) });
  }
  // Filler services: never called; their instances point at a port nothing listens on.
  const filler = FILLER - CALLED.length + (state.extraServices ?? 0);
  for (let i = 0; i < filler; i++)
    services.push({
      name: `svc-${String(i).padStart(4, '0')}`,
      instances: [{ host: '127.0.0.1', port: 9, protocol: 'http' }],
    });
  services.push({ name: 'client', instances: [{ host: '127.0.0.1', port: ups.client!.port, protocol: 'http' }] });
  return { namespaces: [{ name: NS, services, rules: [] }] };
}

function vhosts(dump: ConfigDump): Array<{ name: string; domains: string[]; clusters: string[] }> {
  const out: Array<{ name: string; domains: string[]; clusters: string[] }> = [];
  for (const r of dump.routes) {
    if (r.name !== 'polaris-outbound-router') continue;
    for (const vh of (r.raw.virtual_hosts ?? []) as Array<Record<string, any>>) {
      out.push({
        name: vh.name,
        domains: vh.domains,
        clusters: (vh.routes ?? []).map((x: any) => x.route?.cluster).filter(Boolean),
      });
    }
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}

const outboundClusters = (dump: ConfigDump) =>
  dump.clusters
    .map((c) => c.name)
    .filter((n) => n.startsWith('OUTBOUND|'))
    .sort();

describe('on-demand sidecar through a real Envoy (VHDS + on-demand CDS)', () => {
  const ups: Record<string, Upstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  let sidecar: SidecarEnvoy;
  let full: DeltaFollower;
  let state: State = {};
  const write = (s: State) => file.write(mesh(ups, (state = s)));
  const send = (host: string) => sendThrough(sidecar.outbound, host);
  const bytesSent = async () => {
    const rows = await bridge.adminJson<Array<{ nodeId: string; counters: { bytesSent: number } }>>('/debug/syncz');
    return rows
      .filter((r) => r.nodeId.startsWith(`${NS}/`) && !r.nodeId.startsWith(`${NS}/full~`))
      .reduce((n, r) => n + r.counters.bytesSent, 0);
  };

  before(async () => {
    for (const name of [...CALLED, 'client', 'alpha2']) ups[name] = await startUpstream(name);
    file = meshFile(mesh(ups));
    bridge = await startBridge(['--file', file.path], { ready: true });
    full = new DeltaFollower(bridge.xdsAddress, {
      node: {
        id: `${NS}/full~127.0.0.1`,
        metadata: { 'sidecar.polarismesh.cn/serviceNamespace': NS, 'sidecar.polarismesh.cn/serviceName': 'other' },
      },
    }).start();
    sidecar = await startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'client', extra: ['--on-demand'] });
    await waitListenerActive(sidecar.envoy, 'OUTBOUND_');
  });

  after(async () => {
    await full?.close();
    await sidecar?.envoy.stop();
    await bridge?.stop();
    file?.remove();
    for (const u of Object.values(ups)) await u.close();
  });

  it('answers the first request to each service it calls, and holds only those', async () => {
    const before = await sidecar.envoy.configDump();
    assert.deepEqual(outboundClusters(before), [], 'no outbound cluster before any call');
    assert.deepEqual(vhosts(before), [], 'no virtual host before any call');
    for (const name of CALLED) {
      const started = Date.now();
      const r = await send(`${name}.${NS}`);
      assert.equal(r.status, 200, `${name}: ${r.status} ${r.body}`);
      assert.equal(r.body, name);
      console.log(`first request to ${name}.${NS}: ${Date.now() - started} ms`);
    }
    const dump = await sidecar.envoy.configDump();
    assert.deepEqual(outboundClusters(dump), CALLED.map(cluster));
    assert.deepEqual(
      vhosts(dump).map((v) => v.name),
      CALLED.map((n) => vhostName(`${n}.${NS}`)),
    );
    assert.deepEqual(
      vhosts(dump).map((v) => v.clusters),
      CALLED.map((n) => [cluster(n)]),
    );
    assert.deepEqual(
      dump.endpoints
        .map((e) => e.name)
        .filter((n) => n.startsWith('OUTBOUND|'))
        .sort(),
      CALLED.map(cluster),
    );
    const others = dump.clusters
      .map((c) => c.name)
      .filter((n) => !n.startsWith('OUTBOUND|'))
      .sort();
    assert.deepEqual(others, ['INBOUND|od|client', 'PassthroughCluster']);
    const syncz =
      await bridge.adminJson<Array<{ nodeId: string; onDemand?: { virtualHosts: number; clusters: number } }>>(
        '/debug/syncz',
      );
    const row = syncz.find((r) => r.nodeId.startsWith(`${NS}/`) && !r.nodeId.startsWith(`${NS}/full~`));
    assert.deepEqual(row?.onDemand, { virtualHosts: 3, clusters: 5 });
    assert.equal(others.length + CALLED.length, 5);
  });

  it('a host no service owns gets a passthrough virtual host, as the full-state allow_any host', async () => {
    const host = 'example.com:8080';
    await send(host).catch(() => undefined);
    const vh = vhosts(await sidecar.envoy.configDump()).find((v) => v.name === vhostName(host));
    assert.deepEqual(vh, { name: vhostName(host), domains: [host], clusters: ['PassthroughCluster'] });
  });

  it('50 new services send it nothing; a new instance of a service it holds arrives, one of another does not', async () => {
    const sent = await bytesSent();
    write({ extraServices: 50 });
    // A full-state Delta client of the same namespace gets the new services; by then every stream was told of the snapshot.
    await waitFor(
      'the full-state client to get the new services',
      () => full.names(TYPES.cds).length === FILLER + 50 + 2,
      10_000,
      20,
    );
    await full.quiet(300);
    assert.equal(await bytesSent(), sent, 'bytes sent to the on-demand sidecar');
    write({ extraServices: 50, extraInstances: { alpha: [ups.alpha2!.port], 'svc-0005': [10] } });
    await waitFor('alpha2 answers for alpha', async () => (await send(`alpha.${NS}`)).body === 'alpha2', 10_000, 50);
    const dump = await sidecar.envoy.configDump();
    assert.deepEqual(outboundClusters(dump), CALLED.map(cluster), 'svc-0005 is not fetched');
  });

  it('a removed service leaves the sidecar; the others answer throughout', async () => {
    const loop = startRequestLoop(sidecar.outbound, `beta.${NS}`);
    try {
      write({ ...state, removed: ['gamma'] });
      await waitFor(
        'gamma to leave',
        async () => !outboundClusters(await sidecar.envoy.configDump()).includes(cluster('gamma')),
        10_000,
        50,
      );
      const dump = await sidecar.envoy.configDump();
      const g = vhosts(dump).find((v) => v.name === vhostName(`gamma.${NS}`));
      assert.ok(
        !g?.clusters.includes(cluster('gamma')),
        `gamma's virtual host no longer routes to it: ${JSON.stringify(g)}`,
      );
    } finally {
      const r = await loop.stop();
      assert.equal(r.failed, 0, JSON.stringify(r));
      assert.ok(r.ok > 0);
    }
  });
});
