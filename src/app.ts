// Composition root: wires a mesh source, the snapshot cache, the xDS server and the admin server.
// Everything else is built from the parts it names here; nothing below knows about this file.
import type { Server as HttpServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Gauge, Histogram } from 'prom-client';
import { startAdmin, type AdminView } from './admin/server.js';
import { splitHostPort } from './bootstrap/envoy.js';
import type { Config } from './config/schema.js';
import type { Logger } from './log.js';
import { createRegistry } from './metrics.js';
import { createFileSource } from './sync/file-source.js';
import { createPolarisSource } from './sync/polaris-source.js';
import type { MeshSource } from './sync/source.js';
import { parseNode } from './xds/node.js';
import { createXdsServer, type XdsServer } from './xds/server/ads.js';
import { SnapshotCache } from './xds/snapshot-cache.js';
import { translator, configDump } from './xds/translate/index.js';

/** EXAMPLE_MESH is the embedded default: served when neither Polaris nor a file is configured. */
export const EXAMPLE_MESH = join(dirname(fileURLToPath(import.meta.url)), '../examples/envoy/mesh.yaml');

export interface App {
  readonly xdsPort: number;
  readonly adminPort: number;
  stop(): Promise<void>;
}

function createSource(cfg: Config, logger: Logger, registry: ReturnType<typeof createRegistry>): MeshSource {
  if (cfg.polaris.addresses.length > 0) {
    return createPolarisSource({
      addresses: [...cfg.polaris.addresses],
      namespaces: [...cfg.polaris.namespaces],
      token: cfg.polaris.token,
      tls: cfg.polaris.tls,
      cacheDir: cfg.cacheDir,
      pollIntervalMs: cfg.polaris.pollIntervalMs,
      requestTimeoutMs: cfg.polaris.requestTimeoutMs,
      startupWaitMs: cfg.polaris.startupWaitMs,
      logger: logger.child({ component: 'polaris' }),
      registry,
    });
  }
  return createFileSource({ path: cfg.file ?? EXAMPLE_MESH, logger: logger.child({ component: 'file' }) });
}

/** startApp starts every part and resolves once the xDS and admin ports are bound. */
export async function startApp(cfg: Config, logger: Logger): Promise<App> {
  const registry = createRegistry();
  const source = createSource(cfg, logger, registry);
  const buildSeconds = new Histogram({
    name: 'polaris_xds_snapshot_build_seconds',
    help: 'Time to translate a mesh change into snapshots for every node group.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  const groupsGauge = new Gauge({ name: 'polaris_xds_node_groups', help: 'Node groups with their own snapshot.', registers: [registry] });
  const cache = new SnapshotCache({
    translator,
    logger: logger.child({ component: 'snapshot' }),
    debounceMs: cfg.xds.debounceMs,
    debounceMaxMs: cfg.xds.debounceMaxMs,
    onBuild: ({ groups, millis }) => {
      buildSeconds.observe(millis / 1000);
      groupsGauge.set(groups);
    },
  });
  source.subscribe((mesh) => cache.setMesh(mesh));

  const xdsAddr = splitHostPort(cfg.xds.address);
  const xds: XdsServer = await createXdsServer({
    host: xdsAddr.host,
    port: xdsAddr.port,
    watcher: cache,
    logger: logger.child({ component: 'xds' }),
    registry,
    config: cfg.xds,
  });

  const view: AdminView = {
    registry,
    readiness: () => {
      const s = source.status();
      return { ready: s.ready, reason: s.reason, origin: s.origin };
    },
    configDump: (nodeId) => {
      const known = cache.nodes().find((n) => n.node.id === nodeId)?.node ?? parseNode({ id: nodeId, userAgentName: '', clientFeatures: [] });
      const t = cache.translationFor(known);
      return t && { node: known, ...configDump(t.snapshot) };
    },
    syncz: () => xds.status(),
    nodes: () => cache.nodes(),
    source: () => ('debugState' in source && typeof source.debugState === 'function' ? source.debugState() : source.status()),
    skipped: () => cache.skipped(),
  };
  const adminAddr = splitHostPort(cfg.admin.address);
  const admin: HttpServer = await startAdmin(view, adminAddr.host, adminAddr.port, logger.child({ component: 'admin' }));
  const adminPort = (admin.address() as { port: number }).port;

  await source.start();
  logger.info({ xds: `${xdsAddr.host}:${xds.port}`, admin: `${adminAddr.host}:${adminPort}`, source: source.status() }, 'polaris-xds serving');

  return {
    xdsPort: xds.port,
    adminPort,
    stop: async () => {
      await xds.stop(cfg.xds.drainMs);
      cache.stop();
      await source.stop();
      await new Promise<void>((r) => admin.close(() => r()));
    },
  };
}
