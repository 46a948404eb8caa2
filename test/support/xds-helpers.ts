// Helpers shared by the xds-*.test.ts end-to-end files: Envoys bootstrapped by `polaris-xds
// bootstrap` (SotW or Delta, against one or several bridge replicas), a background request loop
// that counts every failed request, and a wait for Envoy's config_dump to hold exactly the
// expected resources, all accepted.
import { startSidecarEnvoy, type ConfigDump, type EnvoyProcess } from './envoy.js';
import { freePorts, waitFor } from './ports.js';
import { sendThrough } from './upstream.js';

/** AdsEnvoy is a real Envoy getting everything over ADS from polaris-xds. */
export interface AdsEnvoy {
  readonly envoy: EnvoyProcess;
  readonly nodeId: string;
  readonly outbound: number;
  readonly inbound: number;
  readonly delta: boolean;
  stop(): Promise<void>;
}

export interface AdsEnvoyOptions {
  readonly namespace: string;
  readonly service: string;
  readonly delta?: boolean;
  /** Admin, outbound and inbound ports; free ones when absent. */
  readonly ports?: readonly [number, number, number];
}

/**
 * startAdsEnvoy bootstraps a sidecar Envoy with `polaris-xds bootstrap` on free ports. With more
 * than one xDS address, the bootstrap's xDS cluster lists every replica (Envoy picks one per
 * stream and moves to another when its stream fails).
 */
export async function startAdsEnvoy(xdsAddresses: readonly string[], opts: AdsEnvoyOptions): Promise<AdsEnvoy> {
  const ports = opts.ports ?? ((await freePorts(3)) as [number, number, number]);
  const admin = ports[0];
  const nodeId = `${opts.namespace}/${opts.delta ? 'delta' : 'sotw'}-${process.pid}-${admin}~127.0.0.1`;
  const { envoy, outbound, inbound } = await startSidecarEnvoy(xdsAddresses[0]!, {
    namespace: opts.namespace,
    service: opts.service,
    ports,
    extra: ['--node-id', nodeId, ...(opts.delta ? ['--delta'] : [])],
    edit: (bootstrap) => {
      if (xdsAddresses.length < 2) return;
      const cluster = (bootstrap.static_resources.clusters as Array<Record<string, any>>).find(
        (c) => c.name === 'polaris_xds_server',
      )!;
      cluster.load_assignment.endpoints[0].lb_endpoints = xdsAddresses.map((a) => {
        const [host, port] = a.split(':');
        return { endpoint: { address: { socket_address: { address: host, port_value: Number(port) } } } };
      });
    },
  });
  return { envoy, nodeId, outbound, inbound, delta: !!opts.delta, stop: () => envoy.stop() };
}

/** LoopResult counts a request loop's answers. */
export interface LoopResult {
  readonly ok: number;
  readonly failed: number;
  /** Failure kinds (`status 503`, `error: …`) with counts. */
  readonly failures: Readonly<Record<string, number>>;
  /** Answers by body (the upstream's name). */
  readonly bodies: Readonly<Record<string, number>>;
}

/** RequestLoop sends requests without pause until stopped. */
export interface RequestLoop {
  /** snapshot is the tally so far. */
  snapshot(): LoopResult;
  stop(): Promise<LoopResult>;
}

/** startRequestLoop keeps `workers` sequential GET loops running against `host` through `port`. */
export function startRequestLoop(port: number, host: string, workers = 2): RequestLoop {
  let running = true;
  let ok = 0;
  let failed = 0;
  const failures: Record<string, number> = {};
  const bodies: Record<string, number> = {};
  const worker = async (): Promise<void> => {
    while (running) {
      try {
        const r = await sendThrough(port, host);
        if (r.status === 200) {
          ok++;
          bodies[r.body] = (bodies[r.body] ?? 0) + 1;
        } else {
          failed++;
          const k = `status ${r.status}`;
          failures[k] = (failures[k] ?? 0) + 1;
        }
      } catch (err) {
        failed++;
        const k = `error: ${(err as Error).message}`;
        failures[k] = (failures[k] ?? 0) + 1;
      }
    }
  };
  const done = Promise.all(Array.from({ length: workers }, worker));
  const snapshot = (): LoopResult => ({ ok, failed, failures: { ...failures }, bodies: { ...bodies } });
  return {
    snapshot,
    stop: async () => {
      running = false;
      await done;
      return snapshot();
    },
  };
}

/** Expected is what an Envoy should hold: resource names (or patterns) per type, and endpoint ports per cluster. */
export interface Expected {
  readonly clusters: ReadonlyArray<string | RegExp>;
  readonly listeners: readonly string[];
  readonly routes: readonly string[];
  /** ClusterLoadAssignment name (or a pattern's source) → ports of its endpoints. */
  readonly endpoints: Readonly<Record<string, readonly number[]>>;
  /** Route configuration name → domains that must (true) or must not (false) be served. */
  readonly domains?: Readonly<Record<string, Readonly<Record<string, boolean>>>>;
}

const sorted = (xs: Iterable<string>): string[] => [...xs].sort();

/** named replaces each pattern of `want` by the one name of `got` it matches, so lists compare by equality. */
function named(got: readonly string[], want: ReadonlyArray<string | RegExp>): string[] {
  return want.map((w) =>
    typeof w === 'string'
      ? w
      : got.filter((g) => w.test(g)).length === 1
        ? got.find((g) => w.test(g))!
        : `<one name matching ${w.source}>`,
  );
}

/** endpointPorts lists the ports of a dumped ClusterLoadAssignment, sorted. */
export function endpointPorts(raw: Record<string, any>): number[] {
  const ports: number[] = [];
  for (const l of raw.endpoints ?? [])
    for (const e of l.lb_endpoints ?? []) ports.push(Number(e.endpoint?.address?.socket_address?.port_value));
  return ports.sort((a, b) => a - b);
}

/** routeDomains lists every domain of a dumped RouteConfiguration. */
export function routeDomains(raw: Record<string, any>): Set<string> {
  return new Set((raw.virtual_hosts ?? []).flatMap((vh: { domains?: string[] }) => vh.domains ?? []));
}

/** mismatch describes how a dump differs from `want`, or returns undefined when it matches. */
export function mismatch(dump: ConfigDump, want: Expected): string | undefined {
  const problems: string[] = [];
  const same = (what: string, got: string[], exp: string[]) => {
    if (JSON.stringify(got) !== JSON.stringify(exp))
      problems.push(`${what}: ${JSON.stringify(got)} ≠ ${JSON.stringify(exp)}`);
  };
  const clusterNames = dump.clusters.map((c) => c.name);
  same('clusters', sorted(clusterNames), sorted(named(clusterNames, want.clusters)));
  same('listeners', sorted(dump.listeners.map((c) => c.name)), sorted(want.listeners));
  same('routes', sorted(dump.routes.map((c) => c.name)), sorted(want.routes));
  const patterns = new Map(
    Object.keys(want.endpoints).map((k) => [
      k,
      want.clusters.find((c) => typeof c !== 'string' && c.source === k) ?? k,
    ]),
  );
  const endpointNames = dump.endpoints.map((c) => c.name);
  const wantNames = new Map(Object.keys(want.endpoints).map((k) => [named(endpointNames, [patterns.get(k)!])[0]!, k]));
  same('endpoints', sorted(endpointNames), sorted(wantNames.keys()));
  for (const e of dump.endpoints) {
    const key = wantNames.get(e.name);
    const exp = key === undefined ? undefined : want.endpoints[key];
    if (exp)
      same(`endpoints of ${e.name}`, endpointPorts(e.raw).map(String), [...exp].sort((a, b) => a - b).map(String));
  }
  for (const [rc, domains] of Object.entries(want.domains ?? {})) {
    const r = dump.routes.find((x) => x.name === rc);
    const have = r ? routeDomains(r.raw) : new Set<string>();
    for (const [d, present] of Object.entries(domains))
      if (have.has(d) !== present) problems.push(`${rc}: domain ${d} ${present ? 'missing' : 'still served'}`);
  }
  return problems.length ? problems.join('; ') : undefined;
}

/** rejected lists every dynamic resource of a dump with an error state, and listeners still warming. */
export function rejected(dump: ConfigDump): string[] {
  const out: string[] = [];
  for (const r of [...dump.clusters, ...dump.listeners, ...dump.routes, ...dump.endpoints]) {
    if (r.errorState !== undefined) out.push(`${r.name}: ${JSON.stringify(r.errorState)}`);
  }
  const raw = dump.raw as { configs: Array<Record<string, any>> };
  const listeners = raw.configs.find((c) => String(c['@type']).endsWith('.ListenersConfigDump'));
  for (const l of listeners?.dynamic_listeners ?? [])
    if (l.warming_state && !l.active_state) out.push(`${l.name}: still warming`);
  const clusters = raw.configs.find((c) => String(c['@type']).endsWith('.ClustersConfigDump'));
  for (const c of clusters?.dynamic_warming_clusters ?? []) out.push(`${c.cluster?.name}: cluster still warming`);
  return out;
}

/** converge waits until Envoy holds exactly `want` with nothing rejected; returns the dump and the time taken. */
export async function converge(
  e: AdsEnvoy,
  want: Expected,
  timeoutMs = 15_000,
): Promise<{ dump: ConfigDump; ms: number }> {
  const started = Date.now();
  let last = '';
  try {
    const dump = await waitFor(
      'Envoy config_dump to match',
      async () => {
        const d = await e.envoy.configDump();
        last = mismatch(d, want) ?? rejected(d).join('; ');
        return last === '' ? d : undefined;
      },
      timeoutMs,
      50,
    );
    return { dump, ms: Date.now() - started };
  } catch (err) {
    throw new Error(`${e.delta ? 'Delta' : 'SotW'} Envoy: ${(err as Error).message}; last difference: ${last}`);
  }
}

/** envoyStats reads Envoy's counters whose names match `pattern`. */
export async function envoyStats(e: AdsEnvoy, pattern: string): Promise<Record<string, number>> {
  const text = await e.envoy.admin(`/stats?filter=${encodeURIComponent(pattern)}`);
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^([^:]+): (\d+)$/.exec(line.trim());
    if (m) out[m[1]!] = Number(m[2]);
  }
  return out;
}
