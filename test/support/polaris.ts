// Runs the real Polaris server for end-to-end tests: a private copy of its release configuration
// in a temp folder, every listener moved to a free loopback port, and an OpenAPI (console) client.
// kill() and restart() keep the folder, so the data (boltdb) survives a restart.
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { polarisHome } from './components.js';
import { freePort, waitFor } from './ports.js';

/** The default admin token of a fresh Polaris (release bolt data); console APIs need it. */
export const ADMIN_TOKEN = 'nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=';

export interface ApiInstance {
  namespace: string;
  service: string;
  host: string;
  port: number;
  weight?: number;
  healthy?: boolean;
  isolate?: boolean;
  protocol?: string;
  version?: string;
  metadata?: Record<string, string>;
  location?: { region?: string; zone?: string; campus?: string };
}

export interface ApiMatch {
  type?: string;
  value: string;
  value_type?: string;
}

/** A v2 routing rule with one sub-rule, in the console API's JSON shape. */
export interface ApiRoutingRule {
  name: string;
  namespace: string;
  enable?: boolean;
  priority?: number;
  rules: Array<{
    name: string;
    sources: Array<{
      service: string;
      namespace: string;
      arguments?: Array<{ type: string; key?: string; value: ApiMatch }>;
    }>;
    destinations: Array<{
      service: string;
      namespace: string;
      labels?: Record<string, ApiMatch>;
      priority?: number;
      weight?: number;
      isolate?: boolean;
      name?: string;
    }>;
  }>;
}

interface BatchAnswer {
  code: number;
  info: string;
  responses?: Array<{
    code: number;
    info: string;
    instance?: { id?: string };
    data?: { id?: string };
    rateLimit?: { id?: string };
  }>;
}

/** PolarisApi is a small client of Polaris's HTTP OpenAPI (bodies are JSON arrays). */
export class PolarisApi {
  constructor(
    readonly baseUrl: string,
    private readonly token = ADMIN_TOKEN,
  ) {}

  /** call sends one request and returns the parsed answer; it throws unless the code is 200000. */
  async call<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: { 'content-type': 'application/json', 'x-polaris-token': this.token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json: { code?: number; info?: string };
    try {
      json = JSON.parse(text) as { code?: number };
    } catch {
      throw new Error(`${method} ${path}: HTTP ${res.status}: ${text.slice(0, 300)}`);
    }
    if (json.code !== 200000)
      throw new Error(`${method} ${path}: code ${json.code}: ${json.info ?? ''} ${text.slice(0, 500)}`);
    return json as T;
  }

  /** batch posts `items` in chunks (the API limits batch sizes) and returns each item's answer. */
  private async batch(method: string, path: string, items: unknown[]): Promise<NonNullable<BatchAnswer['responses']>> {
    const out: NonNullable<BatchAnswer['responses']> = [];
    for (let i = 0; i < items.length; i += 50) {
      const answer = await this.call<BatchAnswer>(method, path, items.slice(i, i + 50));
      out.push(...(answer.responses ?? []));
    }
    return out;
  }

  async createNamespaces(names: string[]): Promise<void> {
    await this.batch(
      'POST',
      '/naming/v1/namespaces',
      names.map((name) => ({ name })),
    );
  }

  async createServices(
    services: Array<{ namespace: string; name: string; metadata?: Record<string, string> }>,
  ): Promise<void> {
    await this.batch(
      'POST',
      '/naming/v1/services',
      services.map((s) => ({ name: s.name, namespace: s.namespace, metadata: s.metadata ?? {} })),
    );
  }

  async deleteServices(services: Array<{ namespace: string; name: string }>): Promise<void> {
    await this.batch('POST', '/naming/v1/services/delete', services);
  }

  /** registerInstances creates instances (health checks off) and returns their ids. */
  async registerInstances(instances: ApiInstance[]): Promise<string[]> {
    const answers = await this.batch(
      'POST',
      '/naming/v1/instances',
      instances.map((i) => ({ ...i, enable_health_check: false })),
    );
    return answers.map((a) => a.instance?.id ?? '');
  }

  /** updateInstances changes weight, isolate, metadata… of instances named by service/namespace/host/port. */
  async updateInstances(instances: ApiInstance[]): Promise<void> {
    await this.batch('PUT', '/naming/v1/instances', instances);
  }

  async isolateHost(namespace: string, service: string, host: string, isolate: boolean): Promise<void> {
    await this.call('PUT', '/naming/v1/instances/isolate/host', [{ namespace, service, host, isolate }]);
  }

  async deleteInstances(
    instances: Array<{ namespace: string; service: string; host: string; port: number }>,
  ): Promise<void> {
    await this.batch('POST', '/naming/v1/instances/delete', instances);
  }

  /** listServices returns every service of a namespace (paged). */
  async listServices(
    namespace: string,
  ): Promise<Array<{ name: string; namespace: string; metadata?: Record<string, string> }>> {
    const out: Array<{ name: string; namespace: string; metadata?: Record<string, string> }> = [];
    for (let offset = 0; offset < 100_000; offset += 100) {
      const page = await this.call<{ services?: typeof out; amount?: number }>(
        'GET',
        `/naming/v1/services?namespace=${encodeURIComponent(namespace)}&offset=${offset}&limit=100`,
      );
      out.push(...(page.services ?? []));
      if ((page.services ?? []).length < 100) break;
    }
    return out;
  }

  /** listInstances returns every instance of a namespace (paged), as the console shows them. */
  async listInstances(namespace: string): Promise<
    Array<
      Required<Pick<ApiInstance, 'namespace' | 'service' | 'host' | 'port'>> & {
        id: string;
        weight: number;
        healthy: boolean;
        isolate: boolean;
        protocol?: string | null;
        version?: string | null;
        location?: { region?: string | null; zone?: string | null; campus?: string | null } | null;
        metadata?: Record<string, string>;
      }
    >
  > {
    type Row = Awaited<ReturnType<PolarisApi['listInstances']>>[number];
    const out: Row[] = [];
    for (let offset = 0; offset < 100_000; offset += 100) {
      const page = await this.call<{ instances?: Row[] }>(
        'GET',
        `/naming/v1/instances?namespace=${encodeURIComponent(namespace)}&offset=${offset}&limit=100`,
      );
      out.push(...(page.instances ?? []));
      if ((page.instances ?? []).length < 100) break;
    }
    return out;
  }

  /** createRoutingRules creates v2 rules (RulePolicy) and returns their ids. */
  async createRoutingRules(rules: ApiRoutingRule[]): Promise<string[]> {
    const body = rules.map((r) => ({
      name: r.name,
      namespace: r.namespace,
      enable: r.enable ?? true,
      priority: r.priority ?? 0,
      routing_policy: 'RulePolicy',
      routing_config: { '@type': 'type.googleapis.com/v1.RuleRoutingConfig', rules: r.rules },
    }));
    const answers = await this.batch('POST', '/naming/v2/routings', body);
    return answers.map((a) => a.data?.id ?? '');
  }

  async enableRoutingRules(ids: string[], enable: boolean): Promise<void> {
    await this.batch(
      'PUT',
      '/naming/v2/routings/enable',
      ids.map((id) => ({ id, enable })),
    );
  }

  async deleteRoutingRules(ids: string[]): Promise<void> {
    await this.batch(
      'POST',
      '/naming/v2/routings/delete',
      ids.map((id) => ({ id })),
    );
  }

  /** createCircuitBreakerRules creates v2 circuit-breaker rules (console JSON shape) and switches each on or off as its `enable` says; returns their ids. */
  async createCircuitBreakerRules(rules: Array<Record<string, unknown>>): Promise<string[]> {
    const answers = await this.batch('POST', '/naming/v1/circuitbreaker/rules', rules);
    const ids = answers.map((a) => a.data?.id ?? '');
    await this.enableCircuitBreakerRules(
      ids.filter((_, i) => rules[i]!.enable !== false),
      true,
    );
    return ids;
  }

  async enableCircuitBreakerRules(ids: string[], enable: boolean): Promise<void> {
    if (ids.length > 0)
      await this.batch(
        'PUT',
        '/naming/v1/circuitbreaker/rules/enable',
        ids.map((id) => ({ id, enable })),
      );
  }

  /** updateCircuitBreakerRules replaces rules (each with its `id`). */
  async updateCircuitBreakerRules(rules: Array<Record<string, unknown>>): Promise<void> {
    await this.batch('PUT', '/naming/v1/circuitbreaker/rules', rules);
  }

  async deleteCircuitBreakerRules(ids: string[]): Promise<void> {
    await this.batch(
      'POST',
      '/naming/v1/circuitbreaker/rules/delete',
      ids.map((id) => ({ id })),
    );
  }

  /** createFaultDetectors creates fault-detect rules and returns their ids. */
  async createFaultDetectors(rules: Array<Record<string, unknown>>): Promise<string[]> {
    const answers = await this.batch('POST', '/naming/v1/faultdetectors', rules);
    return answers.map((a) => a.data?.id ?? '');
  }

  async deleteFaultDetectors(ids: string[]): Promise<void> {
    await this.batch(
      'POST',
      '/naming/v1/faultdetectors/delete',
      ids.map((id) => ({ id })),
    );
  }

  /** createRateLimits creates rate-limit rules and returns their ids. */
  async createRateLimits(rules: Array<Record<string, unknown>>): Promise<string[]> {
    const answers = await this.batch('POST', '/naming/v1/ratelimits', rules);
    // v1.18.1 answers with the rule under `rateLimit`.
    return answers.map((a) => a.data?.id ?? a.rateLimit?.id ?? '');
  }

  /** updateRateLimits replaces rate-limit rules (each with its `id`). */
  async updateRateLimits(rules: Array<Record<string, unknown>>): Promise<void> {
    await this.batch('PUT', '/naming/v1/ratelimits', rules);
  }

  /** enableRateLimits switches rules on or off (Polaris keeps the switch as the rule's `disable`). */
  async enableRateLimits(ids: string[], enable: boolean): Promise<void> {
    await this.batch(
      'PUT',
      '/naming/v1/ratelimits/enable',
      ids.map((id) => ({ id, disable: !enable })),
    );
  }

  /** discover asks the client API (no token) what a Discover request of `type` returns. */
  async discover(
    type: 'INSTANCE' | 'ROUTING' | 'SERVICES',
    namespace: string,
    name: string,
  ): Promise<Record<string, unknown>> {
    const res = await fetch(`${this.baseUrl}/v1/Discover`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type, service: { namespace, name } }),
    });
    return (await res.json()) as Record<string, unknown>;
  }
}

export interface PolarisServer {
  readonly dir: string;
  readonly httpUrl: string;
  /** `host:port` of the service-grpc (Discover) listener. */
  readonly grpcAddress: string;
  /** `host:port` of Polaris's own xds-v3 server. */
  readonly xdsAddress: string;
  /** pid of the running server process, -1 when it is not running. */
  pid(): number;
  readonly api: PolarisApi;
  /** kill ends the process with SIGKILL (data stays). */
  kill(): Promise<void>;
  /** restart starts it again on the same ports and data, and waits until it serves. */
  restart(): Promise<void>;
  /** stop kills it and removes its folder. */
  stop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** nacosPort finds a free port p with p+1000 also free: Polaris's nacos listener opens both. */
async function nacosPort(taken: Set<number>): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort();
    if (p + 1000 < 65536 && !taken.has(p) && !taken.has(p + 1000) && (await portFree(p + 1000))) return p;
  }
  throw new Error('no free port pair for the nacos listener');
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * rewriteConfig moves every `listenPort` of the release configuration to the given ports (by
 * listener name) and binds them to loopback. It throws when the file has a listener it does not know.
 */
export function rewriteConfig(yaml: string, ports: Record<string, number>): string {
  let current = '';
  const seen = new Set<string>();
  const lines = yaml.split('\n').map((line) => {
    const name = /^\s*-\s*name:\s*([\w-]+)\s*$/.exec(line);
    if (name) current = name[1]!;
    if (/^\s*listenIP:/.test(line)) return line.replace(/listenIP:.*/, 'listenIP: "127.0.0.1"');
    const port = /^(\s*)listenPort:\s*\d+/.exec(line);
    if (port) {
      const p = ports[current];
      if (p === undefined) throw new Error(`polaris config: unknown listener ${current}; add it to the port map`);
      seen.add(current);
      return `${port[1]}listenPort: ${p}`;
    }
    return line;
  });
  for (const k of Object.keys(ports)) if (!seen.has(k)) throw new Error(`polaris config: listener ${k} not found`);
  return lines.join('\n');
}

/** startPolaris runs a fresh Polaris in a temp folder; `onSpawn` sees each server process it starts. */
export async function startPolaris(
  opts: { onSpawn?: (child: ChildProcess) => void; clientAuth?: boolean } = {},
): Promise<PolarisServer> {
  const home = polarisHome();
  const dir = mkdtempSync(join(tmpdir(), 'pxds-polaris-'));
  cpSync(join(home, 'conf'), join(dir, 'conf'), { recursive: true });
  const taken = new Set<number>();
  const pick = async (): Promise<number> => {
    for (let attempt = 0; attempt < 100; attempt++) {
      const p = await freePort();
      if (!taken.has(p)) {
        taken.add(p);
        return p;
      }
    }
    throw new Error('no free port for polaris');
  };
  const nacos = await nacosPort(taken);
  taken.add(nacos).add(nacos + 1000);
  const ports = {
    'service-eureka': await pick(),
    'api-http': await pick(),
    'service-grpc': await pick(),
    'config-grpc': await pick(),
    'xds-v3': await pick(),
    'service-nacos': nacos,
  };
  const confFile = join(dir, 'conf/polaris-server.yaml');
  let conf = rewriteConfig(readFileSync(confFile, 'utf8'), ports);
  // Client auth on (off by default): the client API wants a valid token.
  if (opts.clientAuth)
    conf = conf.replace(/clientOpen: false/, 'clientOpen: true').replace(/clientStrict: false/, 'clientStrict: true');
  writeFileSync(confFile, conf);
  const httpUrl = `http://127.0.0.1:${ports['api-http']}`;
  const grpcAddress = `127.0.0.1:${ports['service-grpc']}`;
  const api = new PolarisApi(httpUrl);
  let child: ChildProcess | undefined;
  const killOnExit = (): void => void child?.kill('SIGKILL');
  process.once('exit', killOnExit);

  async function launch(): Promise<void> {
    const log = openSync(join(dir, 'polaris-stdout.log'), 'a');
    const proc = spawn(join(home, 'polaris-server'), ['start', '-c', 'conf/polaris-server.yaml'], {
      cwd: dir,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    child = proc;
    opts.onSpawn?.(proc);
    let exited = false;
    proc.once('exit', () => (exited = true));
    try {
      await waitFor(
        'polaris to serve',
        async () => {
          if (exited) throw new Error(`polaris exited; see ${join(dir, 'polaris-stdout.log')}`);
          if (!(await tcpOpen(ports['service-grpc'])) || !(await tcpOpen(ports['xds-v3']))) return false;
          await api.call('GET', '/naming/v1/namespaces?limit=1');
          return true;
        },
        30_000,
        100,
      );
    } catch (err) {
      throw new Error(
        `${(err as Error).message}\n${readFileSync(join(dir, 'polaris-stdout.log'), 'utf8').slice(-2000)}`,
      );
    }
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = undefined;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  await launch();
  return {
    dir,
    httpUrl,
    grpcAddress,
    xdsAddress: `127.0.0.1:${ports['xds-v3']}`,
    pid: () => child?.pid ?? -1,
    api,
    kill,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      process.removeListener('exit', killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
