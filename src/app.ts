// Composition root: wires a mesh source, the snapshot cache, the xDS server and the admin server.
// Everything else is built from the parts it names here; nothing below knows about this file.
import type { Server as HttpServer } from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Counter, Gauge, Histogram } from 'prom-client';
import { registerConfigSize } from './admin/config-size.js';
import { envoyConfigDump } from './admin/config-dump.js';
import { addHealthService, type GrpcHealth } from './admin/health.js';
import { meshSummary } from './admin/mesh-summary.js';
import { startAdmin, stopAdmin, type AdminView } from './admin/server.js';
import { withIdentity } from './admin/syncz.js';
import { createXdsObserver } from './admin/xds-observer.js';
import { limiterNodeCheck } from './xds/ratelimit-node-check.js';
import { splitHostPort } from './bootstrap/envoy.js';
import type { Config } from './config/schema.js';
import { PolarisXdsError } from './errors.js';
import type { Logger } from './log.js';
import { createRegistry } from './metrics.js';
import { createFileSource } from './sync/file-source.js';
import { createPolarisSource } from './sync/polaris-source.js';
import type { MeshSource } from './sync/source.js';
import { loggingUnsupportedKeys, UnsupportedKeyLog } from './xds/conventions.js';
import { parseNode, type NodeInfo } from './xds/node.js';
import { createXdsServer, type XdsServer } from './xds/server/ads.js';
import type { Snapshot } from './xds/snapshot.js';
import { SnapshotCache } from './xds/snapshot-cache.js';
import { createTranslator, configDump } from './xds/translate/index.js';
import { reportingTranslator, skipReporter } from './xds/translate/skip-report.js';

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

/** groupSnapshots lists one snapshot per node group with a connected node. */
function groupSnapshots(cache: Pick<SnapshotCache<{ readonly key: string }>, 'nodes' | 'translationFor'>): Snapshot[] {
  const firstNode = new Map<string, NodeInfo>();
  for (const { node, group } of cache.nodes()) if (!firstNode.has(group)) firstNode.set(group, node);
  return [...firstNode.values()].flatMap((n) => cache.translationFor(n)?.snapshot ?? []);
}

/** listenError names the configuration key of an address that cannot be bound (in use, not permitted). */
function listenError(key: string, address: string, err: unknown): PolarisXdsError {
  const msg = String((err as Error)?.message ?? err);
  const why = /EADDRINUSE/.test(msg)
    ? 'address already in use'
    : /EACCES/.test(msg)
      ? 'permission denied'
      : /EADDRNOTAVAIL/.test(msg)
        ? 'no such local address'
        : msg;
  return new PolarisXdsError('PXDS_ERR_SERVE_LISTEN', [key, address, why], { cause: err });
}

/** startApp starts every part and resolves once the xDS and admin ports are bound. */
export async function startApp(cfg: Config, logger: Logger): Promise<App> {
  const registry = createRegistry();
  const source = createSource(cfg, logger, registry);
  const observer = createXdsObserver(registry);
  const limiterCheck = limiterNodeCheck(logger.child({ component: 'xds' }));
  const buildSeconds = new Histogram({
    name: 'polaris_xds_snapshot_build_seconds',
    help: 'Time to translate a mesh change into snapshots for every node group.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers: [registry],
  });
  // Read when scraped: a group whose last stream closed is gone at once, not at the next rebuild.
  new Gauge({
    name: 'polaris_xds_node_groups',
    help: 'Node groups with their own snapshot (groups with at least one open stream).',
    registers: [registry],
    collect() {
      this.set(cache.groupCount());
    },
  });
  // What the translator leaves out is logged (each reason once) and counted by kind (polaris_xds_rules_skipped).
  const reportSkips = skipReporter({
    logger: logger.child({ component: 'translate' }),
    registry,
    current: () => cache.skipped(),
  });
  const refusedSnapshots = new Counter({
    name: 'polaris_xds_snapshots_refused_total',
    help:
      'New snapshots not published because their references do not resolve (a translation bug); ' +
      'the group keeps its last good one.',
    registers: [registry],
  });
  const cache = new SnapshotCache({
    translator: reportingTranslator(createTranslator(), reportSkips),
    logger: logger.child({ component: 'snapshot' }),
    debounceMs: cfg.xds.debounceMs,
    debounceMaxMs: cfg.xds.debounceMaxMs,
    onBuild: ({ millis }) => {
      buildSeconds.observe(millis / 1000);
      observer.built();
    },
    onRefused: () => refusedSnapshots.inc(),
  });
  registerConfigSize(registry, () => groupSnapshots(cache));
  let stopping = false;
  const readiness = () => {
    const s = source.status();
    return stopping
      ? { ready: false, reason: 'shutting down', origin: s.origin }
      : { ready: s.ready, reason: s.reason, origin: s.origin };
  };
  new Gauge({
    name: 'polaris_xds_ready',
    help: '1 while /readyz answers 200 (the source has a complete state and the process is not stopping).',
    registers: [registry],
    collect() {
      this.set(readiness().ready ? 1 : 0);
    },
  });

  const xdsAddr = splitHostPort(cfg.xds.address);
  let health!: GrpcHealth;
  const xds: XdsServer = await createXdsServer({
    host: xdsAddr.host,
    port: xdsAddr.port,
    // Node metadata keys that are not supported yet are logged once per node.
    watcher: loggingUnsupportedKeys(cache, new UnsupportedKeyLog(logger.child({ component: 'xds' }))),
    logger: logger.child({ component: 'xds' }),
    registry,
    config: cfg.xds,
    hooks: {
      ...observer.hooks,
      onRequest: (info) => {
        observer.hooks.onRequest?.(info);
        // A rate-limit service with a node id not marking it as one is served nothing: say so.
        limiterCheck.onRequest(info);
      },
    },
    // The gRPC health service shares the xDS port: NOT_SERVING until the source is ready.
    services: (server) => (health = addHealthService(server)),
  }).catch((err: unknown) => {
    throw listenError('xds.address (--xds-address)', cfg.xds.address, err);
  });
  const syncHealth = () => {
    if (!stopping) health.set(source.status().ready);
  };
  source.subscribe((mesh) => {
    observer.meshChanged();
    cache.setMesh(mesh);
    syncHealth();
  });
  // Readiness can also change without a new state (a disk cache loaded, Polaris lost), so poll too.
  const healthTimer = setInterval(syncHealth, 500);
  healthTimer.unref();

  const view: AdminView = {
    registry,
    readiness,
    configDump: (nodeId) => {
      const known =
        cache.nodes().find((n) => n.node.id === nodeId)?.node ??
        parseNode({ id: nodeId, userAgentName: '', clientFeatures: [] });
      const t = cache.translationFor(known);
      return (
        t &&
        envoyConfigDump(configDump(t.snapshot), {
          node: known,
          streams: xds.status().filter((r) => r.nodeId === nodeId),
        })
      );
    },
    syncz: () => withIdentity(xds.status(), cache.nodes()),
    nodes: () => cache.nodes(),
    mesh: () => meshSummary(source.current()),
    source: () =>
      'debugState' in source && typeof source.debugState === 'function' ? source.debugState() : source.status(),
    skipped: () => cache.skipped(),
  };
  const adminAddr = splitHostPort(cfg.admin.address);
  let admin: HttpServer;
  try {
    admin = await startAdmin(view, adminAddr.host, adminAddr.port, logger.child({ component: 'admin' }));
  } catch (err) {
    clearInterval(healthTimer);
    await xds.stop(0);
    throw listenError('admin.address (--admin-address)', cfg.admin.address, err);
  }
  const adminPort = (admin.address() as { port: number }).port;

  try {
    await source.start();
  } catch (err) {
    // A source that cannot start (a missing or invalid mesh file) ends start-up: release the ports.
    clearInterval(healthTimer);
    await source.stop();
    await xds.stop(0);
    await stopAdmin(admin);
    throw err;
  }
  syncHealth();
  logger.info(
    { xds: `${xdsAddr.host}:${xds.port}`, admin: `${adminAddr.host}:${adminPort}`, source: source.status() },
    'polaris-xds serving',
  );

  return {
    xdsPort: xds.port,
    adminPort,
    stop: async () => {
      // NOT_SERVING and unready first, then stop accepting and end every stream (GOAWAY), forced
      // after the grace period; Envoys keep their config and reconnect to another replica.
      stopping = true;
      clearInterval(healthTimer);
      health.set(false);
      await xds.stop(cfg.xds.drainMs);
      cache.stop();
      await source.stop();
      await stopAdmin(admin);
    },
  };
}
