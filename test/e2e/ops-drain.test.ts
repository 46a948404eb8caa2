// Health and shutdown with a real Envoy: the gRPC health service on the xDS port follows readiness;
// SIGTERM turns it NOT_SERVING, drains within xds.drainMs and exits 0; Envoy keeps its config and
// its traffic meanwhile, and reconnects to a bridge started again on the same port.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { runCli, startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { freePort, freePorts, waitFor } from '../support/ports.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';

const DRAIN_MS = 4000;

type HealthClient = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }>;
};

function healthClient(address: string): HealthClient {
  const def = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } };
  };
  return new pkg.grpc.health.v1.Health(address, grpc.credentials.createInsecure());
}

function check(client: HealthClient, service = ''): Promise<string> {
  return new Promise((resolve, reject) =>
    client.check({ service }, (err, res) => (err ? reject(err) : resolve(res!.status))),
  );
}

/** connectedState reads Envoy's control_plane.connected_state stat (1 while its ADS stream is up). */
async function connectedState(envoy: EnvoyProcess): Promise<number> {
  const text = await envoy.admin('/stats?filter=^control_plane\\.connected_state$');
  const m = /control_plane\.connected_state: (\d+)/.exec(text);
  return m ? Number(m[1]) : -1;
}

/** dynamicVersions lists every dynamic resource Envoy holds as `type name version`. */
async function dynamicVersions(envoy: EnvoyProcess): Promise<string[]> {
  const d = await envoy.configDump();
  const rows = (kind: string, list: Array<{ name: string; versionInfo?: string }>) =>
    list.map((r) => `${kind} ${r.name} ${r.versionInfo}`);
  return [
    ...rows('cds', d.clusters),
    ...rows('eds', d.endpoints),
    ...rows('lds', d.listeners),
    ...rows('rds', d.routes),
  ].sort();
}

describe('gRPC health on the xDS port', () => {
  it('is NOT_SERVING while the source is not ready (Polaris unreachable)', async () => {
    const bridge = await startBridge(['--polaris', `127.0.0.1:${await freePort()}`]);
    const client = healthClient(bridge.xdsAddress);
    try {
      assert.equal((await bridge.admin('/readyz')).status, 503);
      assert.equal(await check(client), 'NOT_SERVING');
      assert.equal(await check(client, 'envoy.service.discovery.v3.AggregatedDiscoveryService'), 'NOT_SERVING');
    } finally {
      client.close();
      assert.equal(await bridge.stop(), 0);
    }
  });
});

describe('port conflicts', () => {
  for (const key of ['xds', 'admin'] as const) {
    it(`exits 2 naming ${key}.address and its flag when its port is taken, in one line (grpc-js's own line goes through the logger)`, async () => {
      const taken = await freePort();
      // The other address takes port 0 (any free port), so only the held one can conflict.
      const other = 0;
      const holder = createServer();
      await new Promise<void>((r) => holder.listen(taken, '127.0.0.1', () => r()));
      try {
        const addr = (p: number) => `127.0.0.1:${p}`;
        const [xds, admin] = key === 'xds' ? [taken, other] : [other, taken];
        const started = Date.now();
        const r = await runCli(['serve', '--xds-address', addr(xds), '--admin-address', addr(admin)]);
        assert.equal(r.code, 2, r.stderr);
        assert.match(
          r.stderr,
          new RegExp(
            `^polaris-xds: cannot listen on ${key}\\.address \\(--${key}-address\\) 127\\.0\\.0\\.1:${taken}: address already in use \\[PXDS_ERR_SERVE_LISTEN\\]\n$`,
          ),
        );
        // Nothing but JSON log lines on stdout: no stray "No address added out of total 1 resolved".
        for (const line of r.stdout.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(line), line);
        assert.ok(Date.now() - started < 10_000, 'exits at once, nothing left running');
      } finally {
        await new Promise((r) => holder.close(r));
      }
    });
  }
});

describe('SIGTERM with a real Envoy connected', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-drain-'));
  let upstream: Upstream;
  let bridge: BridgeProcess;
  let envoy: EnvoyProcess;
  let outbound = 0;
  let ports: [number, number];
  const meshFile = join(dir, 'mesh.yaml');
  const configFile = join(dir, 'config.yaml');

  before(async () => {
    upstream = await startUpstream('echo-1');
    writeFileSync(
      meshFile,
      `namespaces:\n  - name: default\n    services:\n      - name: echo\n        instances:\n          - { host: 127.0.0.1, port: ${upstream.port}, protocol: http }\n`,
    );
    writeFileSync(configFile, `xds:\n  drainMs: ${DRAIN_MS}\n`);
    ports = (await freePorts(2)) as [number, number];
    bridge = await startBridge(['--file', meshFile, '--config', configFile], { ready: true, ports });
    ({ envoy, outbound } = await startSidecarEnvoy(bridge.xdsAddress, { namespace: 'default', service: 'client' }));
    await waitFor(
      'envoy to route echo.default',
      async () => (await sendThrough(outbound, 'echo.default').catch(() => undefined))?.status === 200,
      20_000,
    );
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    await upstream?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is SERVING once ready; on SIGTERM goes NOT_SERVING, drains and exits 0 within the grace period', async () => {
    assert.equal(await connectedState(envoy), 1);
    const before = await dynamicVersions(envoy);
    assert.ok(before.length >= 4, `envoy holds dynamic config: ${before.join(', ')}`);

    const client = healthClient(bridge.xdsAddress);
    assert.equal(await check(client), 'SERVING');
    const watch = client.watch({ service: '' });
    const seen: string[] = [];
    const notServing = new Promise<void>((resolve) =>
      watch.on('data', (m: { status: string }) => {
        seen.push(m.status);
        if (m.status === 'NOT_SERVING') resolve();
      }),
    );
    watch.on('error', () => {});
    await waitFor('the watch to report SERVING', () => seen.includes('SERVING'), 5000);

    const started = Date.now();
    const exited = bridge.stop('SIGTERM');
    await notServing;
    watch.cancel();
    client.close();
    const code = await exited;
    const elapsed = Date.now() - started;
    assert.equal(code, 0, bridge.logs());
    assert.ok(elapsed < DRAIN_MS, `exited after ${elapsed} ms; grace period ${DRAIN_MS} ms`);
    assert.deepEqual(seen, ['SERVING', 'NOT_SERVING']);

    await waitFor('envoy to notice the control plane is gone', async () => (await connectedState(envoy)) === 0, 10_000);
    assert.deepEqual(await dynamicVersions(envoy), before, 'envoy keeps every resource at the same version');
    const hits = upstream.hits;
    const res = await Promise.all(Array.from({ length: 10 }, () => sendThrough(outbound, 'echo.default')));
    assert.ok(
      res.every((r) => r.status === 200 && r.body === 'echo-1'),
      JSON.stringify(res.map((r) => r.status)),
    );
    assert.equal(upstream.hits, hits + 10);
  });

  it('reconnects to a bridge started again on the same port, which sends nothing new', async () => {
    const before = await dynamicVersions(envoy);
    bridge = await startBridge(['--file', meshFile, '--config', configFile], { ready: true, ports });
    await waitFor(
      'envoy to reconnect (connected_state 1)',
      async () => (await connectedState(envoy)) === 1,
      40_000,
      250,
    );
    await waitFor(
      'the new bridge to list the node',
      async () => (await bridge.adminJson<unknown[]>('/debug/syncz')).length === 1,
      10_000,
    );
    // Content-hash versions: the restarted bridge serves the same versions, so nothing changes.
    assert.deepEqual(await dynamicVersions(envoy), before);
    assert.equal((await sendThrough(outbound, 'echo.default')).status, 200);
  });
});
