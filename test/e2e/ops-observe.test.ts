// Metrics and debugging with real Envoys connected: /metrics moves after a mesh change,
// /debug/config_dump and `polaris-xds dump` show what Envoy holds, /debug/syncz and
// `polaris-xds status` show SYNCED for every type, and an Envoy that rejects a listener shows
// NACKED with its error everywhere it should.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli, startBridge, type BridgeProcess } from '../support/bridge.js';
import { parseConfigDump, startSidecarEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { freePorts, waitFor } from '../support/ports.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';

const GOOD_NODE = 'default/observe-good~127.0.0.1';
const NACK_NODE = 'default/observe-nack~127.0.0.1';

function meshYaml(ports: number[]): string {
  const instances = ports.map((p) => `          - { host: 127.0.0.1, port: ${p}, protocol: http }`).join('\n');
  return `namespaces:\n  - name: default\n    services:\n      - name: echo\n        instances:\n${instances}\n      - name: web\n        instances:\n          - { host: 127.0.0.1, port: 1, protocol: http }\n`;
}

/** sample sums the samples of `name` whose labels include every pair in `labels`. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  let found = false;
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) {
      found = true;
      sum += Number(m[3]);
    }
  }
  return found ? sum : undefined;
}

describe('metrics and debugging with real Envoys', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-observe-'));
  const meshFile = join(dir, 'mesh.yaml');
  const upstreams: Upstream[] = [];
  let bridge: BridgeProcess;
  let good: EnvoyProcess;
  let nacking: EnvoyProcess | undefined;
  let blocker: Server | undefined;
  let outbound = 0;

  async function sidecar(nodeId: string, outboundPort: number, inboundPort: number): Promise<EnvoyProcess> {
    const [adminPort] = await freePorts(1);
    const extra = ['--node-id', nodeId];
    return (
      await startSidecarEnvoy(bridge.xdsAddress, {
        namespace: 'default',
        service: 'web',
        extra,
        ports: [adminPort!, outboundPort, inboundPort],
      })
    ).envoy;
  }

  before(async () => {
    upstreams.push(await startUpstream('echo-1'), await startUpstream('echo-2'));
    writeFileSync(meshFile, meshYaml([upstreams[0]!.port]));
    bridge = await startBridge(['--file', meshFile], { ready: true });
    const [o, i] = await freePorts(2);
    outbound = o!;
    good = await sidecar(GOOD_NODE, outbound, i!);
    await waitFor(
      'envoy to route echo.default',
      async () => (await sendThrough(outbound, 'echo.default').catch(() => undefined))?.status === 200,
      20_000,
    );
  });

  after(async () => {
    await good?.stop();
    await nacking?.stop();
    await bridge?.stop();
    await new Promise((r) => (blocker ? blocker.close(r) : r(undefined)));
    await Promise.all(upstreams.map((u) => u.close()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('status shows the node, its service and SYNCED for all four types', async () => {
    await waitFor(
      'all types synced',
      async () => {
        const r = await runCli(['status', '--admin-address', bridge.adminAddress]);
        return (
          r.code === 0 &&
          /SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/.test(r.stdout.split('\n').find((l) => l.startsWith(GOOD_NODE)) ?? '')
        );
      },
      10_000,
    );
    const r = await runCli(['status', '--admin-address', bridge.adminAddress]);
    const [header, ...rows] = r.stdout.trim().split('\n');
    assert.match(header!, /^NODE\s+SERVICE\s+MODE\s+CDS\s+EDS\s+LDS\s+RDS$/);
    const row = rows.find((l) => l.startsWith(GOOD_NODE))!.split(/\s+/);
    // No stream here holds VHDS, the rate-limit configuration or on-demand state: no columns for them.
    assert.deepEqual(row, [GOOD_NODE, 'web.default', 'sotw', 'SYNCED', 'SYNCED', 'SYNCED', 'SYNCED']);
  });

  it('/debug/syncz and /debug/nodes list the node with its identity and ACKed versions', async () => {
    const rows =
      await bridge.adminJson<
        Array<{
          nodeId: string;
          service: string;
          namespace: string;
          types: Record<string, { sentVersion: string; ackedVersion: string }>;
        }>
      >('/debug/syncz');
    const row = rows.find((r) => r.nodeId === GOOD_NODE)!;
    assert.equal(row.service, 'web');
    assert.equal(row.namespace, 'default');
    assert.equal(Object.keys(row.types).length, 4);
    for (const t of Object.values(row.types)) assert.equal(t.ackedVersion, t.sentVersion);
    const nodes =
      await bridge.adminJson<Array<{ node: { id: string; service: string }; group: string }>>('/debug/nodes');
    assert.ok(nodes.some((n) => n.node.id === GOOD_NODE && n.node.service === 'web' && n.group.length > 0));
  });

  it('/debug/config_dump and `polaris-xds dump` show what Envoy holds, shaped like its config_dump', async () => {
    const viaHttp = await bridge.adminJson<{ configs: Array<Record<string, unknown>>; node: { id: string } }>(
      `/debug/config_dump?node=${encodeURIComponent(GOOD_NODE)}`,
    );
    const cli = await runCli(['dump', '--node', GOOD_NODE, '--admin-address', bridge.adminAddress]);
    assert.equal(cli.code, 0, cli.stderr);
    const viaCli = JSON.parse(cli.stdout) as typeof viaHttp;
    assert.deepEqual(viaCli.configs, viaHttp.configs);
    assert.equal(viaHttp.node.id, GOOD_NODE);

    const ours = parseConfigDump(viaHttp as never);
    const envoys = await good.configDump();
    const names = (l: Array<{ name: string }>) => l.map((x) => x.name).sort();
    assert.deepEqual(names(ours.clusters), names(envoys.clusters));
    assert.deepEqual(names(ours.listeners), names(envoys.listeners));
    assert.deepEqual(ours.routes.map((r) => r.name).sort(), names(envoys.routes));
    // Envoy's top-level CDS and LDS versions are the last versions it accepted: ours, exactly.
    const top = (d: { configs: Array<Record<string, unknown>> }, suffix: string) =>
      d.configs.find((c) => String(c['@type']).endsWith(suffix))?.version_info;
    const envoyRaw = envoys.raw as { configs: Array<Record<string, unknown>> };
    assert.equal(top(viaHttp, 'ClustersConfigDump'), top(envoyRaw, 'ClustersConfigDump'));
    assert.equal(top(viaHttp, 'ListenersConfigDump'), top(envoyRaw, 'ListenersConfigDump'));

    const missing = await bridge.admin('/debug/config_dump');
    assert.equal(missing.status, 400);
  });

  it('metrics are present and move after a mesh change', async () => {
    const before = (await bridge.admin('/metrics')).body;
    for (const name of ['polaris_xds_process_cpu_user_seconds_total', 'polaris_xds_nodejs_heap_size_used_bytes'])
      assert.notEqual(sample(before, name), undefined, `${name} (process default)`);
    assert.equal(sample(before, 'polaris_xds_connected_streams', { mode: 'sotw' }), 1);
    for (const type of ['cds', 'eds', 'lds', 'rds']) {
      assert.equal(sample(before, 'polaris_xds_subscribed_streams', { type, mode: 'sotw' }), 1, `subscribed ${type}`);
      assert.ok(sample(before, 'polaris_xds_config_bytes', { type })! > 0, `config bytes ${type}`);
      assert.ok(sample(before, 'polaris_xds_config_resources', { type })! > 0, `config resources ${type}`);
      assert.ok(sample(before, 'polaris_xds_pushes_total', { type, mode: 'sotw' })! >= 1, `pushes ${type}`);
    }
    assert.equal(sample(before, 'polaris_xds_ready'), 1);

    // Add a second echo instance: a new EDS version is pushed, and Envoy ACKs it.
    writeFileSync(meshFile, meshYaml(upstreams.map((u) => u.port)));
    await waitFor(
      'both echo instances to take traffic',
      async () => {
        const bodies = await Promise.all(
          Array.from({ length: 10 }, () => sendThrough(outbound, 'echo.default').then((r) => r.body)),
        );
        return new Set(bodies).size === 2;
      },
      20_000,
    );
    const afterText = await waitFor(
      'convergence to be observed',
      async () => {
        const t = (await bridge.admin('/metrics')).body;
        return (sample(t, 'polaris_xds_convergence_seconds_count', { type: 'eds' }) ?? 0) >= 1 ? t : undefined;
      },
      10_000,
    );
    const grew = (name: string, labels: Record<string, string> = {}) =>
      assert.ok(
        (sample(afterText, name, labels) ?? 0) > (sample(before, name, labels) ?? 0),
        `${name}${JSON.stringify(labels)} did not grow`,
      );
    grew('polaris_xds_mesh_updates_total');
    grew('polaris_xds_snapshot_build_seconds_count');
    grew('polaris_xds_pushes_total', { type: 'eds' });
    grew('polaris_xds_response_bytes_total', { type: 'eds' });
    grew('polaris_xds_push_seconds_count', { type: 'eds' });
    grew('polaris_xds_ack_latency_seconds_count', { type: 'eds' });
    grew('polaris_xds_config_bytes', { type: 'eds' });
    assert.ok(sample(afterText, 'polaris_xds_convergence_seconds_sum', { type: 'eds' })! < 10);
  });

  it('an Envoy that rejects a listener shows NACKED in status, syncz and the nacks metric', async () => {
    // Hold the outbound port this Envoy is told to listen on: its LDS update cannot bind and is NACKed.
    const [taken, inbound] = await freePorts(2);
    blocker = createServer();
    await new Promise<void>((r) => blocker!.listen(taken, '127.0.0.1', () => r()));
    nacking = await sidecar(NACK_NODE, taken!, inbound!);
    await waitFor(
      'the LDS NACK',
      async () => {
        const rows =
          await bridge.adminJson<Array<{ nodeId: string; types: Record<string, { lastNack?: unknown }> }>>(
            '/debug/syncz',
          );
        return Object.values(rows.find((r) => r.nodeId === NACK_NODE)?.types ?? {}).some((t) => t.lastNack);
      },
      20_000,
    );
    const rows =
      await bridge.adminJson<Array<{ nodeId: string; types: Record<string, { lastNack?: { message: string } }> }>>(
        '/debug/syncz',
      );
    const lds = rows.find((r) => r.nodeId === NACK_NODE)!.types[
      'type.googleapis.com/envoy.config.listener.v3.Listener'
    ]!;
    assert.match(lds.lastNack!.message, new RegExp(String(taken)));
    const status = await runCli(['status', '--admin-address', bridge.adminAddress]);
    const row = status.stdout
      .split('\n')
      .find((l) => l.startsWith(NACK_NODE))!
      .split(/\s+/);
    assert.equal(row[5], 'NACKED', status.stdout);
    assert.ok(sample((await bridge.admin('/metrics')).body, 'polaris_xds_nacks_total', { type: 'lds' })! >= 1);
    // The good node is untouched.
    assert.match(status.stdout.split('\n').find((l) => l.startsWith(GOOD_NODE))!, /SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/);
  });
});
