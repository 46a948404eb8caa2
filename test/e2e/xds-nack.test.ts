// NACK parking against real Envoys (SotW and Delta): the in-process xDS server, fed snapshots by
// the test, sends a cluster Envoy rejects (connect_timeout 0 breaks its validation rules). Each
// Envoy NACKs it with an error_detail the server records; that version is sent once and never
// again, while later changes of other types (and, on Delta, of other clusters) keep arriving and
// being applied, and traffic keeps flowing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { envoyBootstrap } from '../../src/bootstrap/envoy.js';
import { createXdsServer, type XdsServer } from '../../src/xds/server/ads.js';
import type { XdsHooks } from '../../src/xds/server/hooks.js';
import { CLUSTER_TYPE } from '../../src/xds/resource.js';
import { startEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { cluster, endpoints, FakeWatcher, httpListener, route, snapshotOf } from '../support/fake-watcher.js';
import { freePorts, waitFor } from '../support/ports.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';
import { endpointPorts } from '../support/xds-helpers.js';

interface Sent {
  readonly nodeId: string;
  readonly typeUrl: string;
  readonly version: string;
  readonly resources: readonly string[];
}

describe('NACK parking with real Envoys', () => {
  let server: XdsServer;
  const watcher = new FakeWatcher();
  const registry = new Registry();
  const sent: Sent[] = [];
  const nacks: Array<{ nodeId: string; typeUrl: string; version: string; message: string }> = [];
  const envoys: Array<{ envoy: EnvoyProcess; nodeId: string; port: number; delta: boolean }> = [];
  let a: Upstream;
  let b: Upstream;
  let listenPorts: number[] = [];

  /** mesh is the snapshot of one step: cluster `up` with endpoints on `ports`, `extra` clusters, and the `bad` one if asked. */
  const mesh = (ports: number[], opts: { bad?: boolean; extra?: string[] } = {}) =>
    snapshotOf({
      clusters: [
        cluster('up'),
        ...(opts.bad ? [cluster('bad', { timeoutS: 0 })] : []),
        ...(opts.extra ?? []).map((n) => cluster(n)),
      ],
      endpoints: [
        endpoints('up', ports),
        ...(opts.bad ? [endpoints('bad')] : []),
        ...(opts.extra ?? []).map((n) => endpoints(n, [1])),
      ],
      listeners: listenPorts.map((p, i) => httpListener(`http-${i}`, p, 'r')),
      routes: [route('r', ['up'])],
    });

  const badSends = (nodeId: string) =>
    sent.filter((s) => s.nodeId === nodeId && s.typeUrl === CLUSTER_TYPE && s.resources.includes('bad'));

  before(async () => {
    a = await startUpstream('a');
    b = await startUpstream('b');
    // All four ports at once, so an admin port cannot be one of the listener ports Envoy binds later.
    const ports = await freePorts(4);
    listenPorts = ports.slice(0, 2);
    const adminPorts = ports.slice(2);
    watcher.set(mesh([a.port]));
    const hooks: XdsHooks = {
      onResponse: (r) =>
        sent.push({ nodeId: r.nodeId ?? '', typeUrl: r.typeUrl, version: r.version, resources: r.resources }),
      onNack: (n) => nacks.push({ nodeId: n.nodeId ?? '', typeUrl: n.typeUrl, version: n.version, message: n.message }),
    };
    server = await createXdsServer({ host: '127.0.0.1', port: 0, watcher, registry, hooks });
    for (const delta of [false, true]) {
      const admin = adminPorts[envoys.length]!;
      const nodeId = `nack/${delta ? 'delta' : 'sotw'}-${admin}~127.0.0.1`;
      const bootstrap = envoyBootstrap({
        xdsAddress: `127.0.0.1:${server.port}`,
        nodeId,
        namespace: 'nack',
        service: 'client',
        adminAddress: `127.0.0.1:${admin}`,
        delta,
        gateway: false,
      });
      const envoy = await startEnvoy(bootstrap, admin);
      envoys.push({ envoy, nodeId, port: listenPorts[envoys.length]!, delta });
    }
    for (const e of envoys)
      await waitFor(
        'Envoy routes /up',
        async () => (await sendThrough(e.port, 'x', '/up').catch(() => undefined))?.body === 'a',
        20_000,
        100,
      );
  });

  after(async () => {
    await Promise.all(envoys.map((e) => e.envoy.stop()));
    await server?.stop(1000);
    await a?.close();
    await b?.close();
  });

  it('each Envoy rejects the bad cluster; the server records the NACK with its error_detail', async () => {
    watcher.set(mesh([a.port], { bad: true }));
    await waitFor(
      'both NACKs',
      () => envoys.every((e) => nacks.some((n) => n.nodeId === e.nodeId && n.typeUrl === CLUSTER_TYPE)),
      10_000,
      20,
    );
    for (const e of envoys) {
      const row = server.status().find((s) => s.nodeId === e.nodeId)!;
      const cds = row.types[CLUSTER_TYPE]!;
      assert.ok(cds.lastNack, `${e.nodeId}: NACK shown in status`);
      assert.match(
        cds.lastNack!.message,
        /Proto constraint validation failed.*ConnectTimeout/s,
        "Envoy's validation message",
      );
      assert.equal(cds.lastNack!.version, badSends(e.nodeId)[0]!.version, 'the NACK names the version sent');
      console.log(
        `${e.delta ? 'Delta' : 'SotW'} Envoy NACK: …${cds
          .lastNack!.message.replace(/\s+/g, ' ')
          .replace(/^.*(Proto constraint)/, '$1')
          .slice(0, 160)}`,
      );
    }
    assert.ok(/polaris_xds_nacks_total\{type="cds",mode="sotw"\} 1/.test(await registry.metrics()), 'NACK counted');
  });

  it('other types keep updating: new endpoints and traffic reach Envoy; the bad cluster is not sent again', async () => {
    watcher.set(mesh([a.port, b.port], { bad: true }));
    for (const e of envoys) {
      await waitFor(
        `${e.nodeId} applies the new endpoints`,
        async () => {
          const dump = await e.envoy.configDump();
          return (
            JSON.stringify(endpointPorts(dump.endpoints.find((x) => x.name === 'up')?.raw ?? {})) ===
            JSON.stringify([a.port, b.port].sort((x, y) => x - y))
          );
        },
        10_000,
        50,
      );
      const seen = new Set<string>();
      for (let i = 0; i < 20; i++) {
        const r = await sendThrough(e.port, 'x', '/up');
        assert.equal(r.status, 200);
        seen.add(r.body);
      }
      assert.deepEqual([...seen].sort(), ['a', 'b'], 'both endpoints take traffic');
      const dump = await e.envoy.configDump();
      assert.equal(
        dump.clusters.some((c) => c.name === 'bad'),
        false,
        'the rejected cluster was not applied',
      );
    }
    await new Promise((r) => setTimeout(r, 300));
    for (const e of envoys)
      assert.equal(badSends(e.nodeId).length, 1, `${e.nodeId}: the rejected version went out once`);
  });

  it('a new cluster: Delta sends it alone and keeps the bad one parked; SotW sends the new set, a new version, once', async () => {
    watcher.set(mesh([a.port, b.port], { bad: true, extra: ['more'] }));
    const d = envoys.find((e) => e.delta)!;
    const s = envoys.find((e) => !e.delta)!;
    await waitFor(
      'Delta Envoy gets cluster more',
      async () => (await d.envoy.configDump()).clusters.some((c) => c.name === 'more'),
      10_000,
      50,
    );
    const cdsToDelta = sent.filter((x) => x.nodeId === d.nodeId && x.typeUrl === CLUSTER_TYPE);
    assert.deepEqual(cdsToDelta.at(-1)!.resources, ['more'], 'only the new cluster');
    await waitFor(
      'SotW NACKs the new set',
      () => nacks.filter((n) => n.nodeId === s.nodeId && n.typeUrl === CLUSTER_TYPE).length === 2,
      10_000,
      20,
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(badSends(d.nodeId).length, 1, 'Delta: bad not re-sent');
    const versions = badSends(s.nodeId).map((x) => x.version);
    assert.equal(versions.length, 2, 'SotW: the old set once, the new set once');
    assert.notEqual(versions[0], versions[1]);
    assert.equal(
      server.status().find((x) => x.nodeId === d.nodeId)!.types[CLUSTER_TYPE]!.lastNack !== undefined,
      true,
      'last NACK still shown',
    );
  });
});
