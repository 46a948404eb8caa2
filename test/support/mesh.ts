// Mesh files and sidecars for end-to-end routing tests: the file source's YAML shape
// (docs/mesh-file.md) as TypeScript types, a writer that replaces the file atomically (the file
// source re-reads it when it changes, so a test changes the mesh by rewriting it), and a sidecar
// Envoy bootstrapped by `polaris-xds bootstrap` on free listener ports, with request tallies.
import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify as stringifyYaml } from 'yaml';
import { startSidecarEnvoy, type EnvoyProcess } from './envoy.js';
import { waitFor } from './ports.js';
import { sendThrough } from './upstream.js';

/** MeshMatch is a condition; a bare string is an EXACT text match. */
export type MeshMatch =
  | string
  | {
      type?: 'EXACT' | 'REGEX' | 'NOT_EQUALS' | 'IN' | 'NOT_IN' | 'RANGE';
      value: string;
      value_type?: 'TEXT' | 'PARAMETER' | 'VARIABLE';
    };

export interface MeshInstance {
  host?: string;
  port: number;
  id?: string;
  protocol?: string;
  version?: string;
  weight?: number;
  priority?: number;
  healthy?: boolean;
  isolate?: boolean;
  locality?: { region?: string; zone?: string; campus?: string };
  metadata?: Record<string, string>;
}

export interface MeshService {
  name: string;
  metadata?: Record<string, string>;
  aliasFor?: { namespace?: string; name: string };
  instances?: MeshInstance[];
}

export interface MeshArgument {
  type: 'HEADER' | 'QUERY' | 'COOKIE' | 'PATH' | 'METHOD' | 'CALLER_IP' | 'CUSTOM';
  key?: string;
  value: MeshMatch;
}

export interface MeshRule {
  name: string;
  enable?: boolean;
  priority?: number;
  sources?: Array<{ service?: string; namespace?: string; arguments?: MeshArgument[] }>;
  destinations: Array<{
    service: string;
    namespace?: string;
    labels?: Record<string, MeshMatch>;
    priority?: number;
    weight?: number;
    isolate?: boolean;
    name?: string;
  }>;
}

export interface MeshNamespace {
  name: string;
  services?: MeshService[];
  rules?: MeshRule[];
  /** Rate-limit rules in the console's JSON shape (docs/mesh-file.md). */
  ratelimits?: Array<Record<string, unknown>>;
}

/** MeshDoc is a whole mesh file. */
export interface MeshDoc {
  namespaces: MeshNamespace[];
}

/** writeMesh replaces `path` with `mesh` as YAML in one rename, so the watcher never reads half a file. */
export function writeMesh(path: string, mesh: MeshDoc): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, stringifyYaml(mesh));
  renameSync(tmp, path);
}

/** MeshFile is a mesh file in its own temp folder. */
export interface MeshFile {
  readonly path: string;
  write(mesh: MeshDoc): void;
  remove(): void;
}

/** meshFile writes `mesh` to a fresh temp folder; `remove()` deletes the folder. */
export function meshFile(mesh: MeshDoc): MeshFile {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-mesh-'));
  const path = join(dir, 'mesh.yaml');
  writeMesh(path, mesh);
  return { path, write: (m) => writeMesh(path, m), remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Tally counts answers by body; failed requests count under `status <code>` or `error`. */
export type Tally = Map<string, number>;

/** Sidecar is a real Envoy bootstrapped as a sidecar (or gateway) of one service. */
export interface Sidecar {
  readonly envoy: EnvoyProcess;
  /** The outbound (or gateway) listener port requests are sent to. */
  readonly port: number;
  /** send sends one GET through the outbound listener. */
  send(host: string, path?: string, headers?: Record<string, string>): Promise<{ status: number; body: string }>;
  /** tally sends `n` requests, `concurrency` at a time, and counts the answers. */
  tally(n: number, host: string, path?: string, headers?: Record<string, string>, concurrency?: number): Promise<Tally>;
  /** only asserts that `n` requests all succeed and all land on `body`. */
  only(body: string, n: number, host: string, path?: string, headers?: Record<string, string>): Promise<void>;
  stop(): Promise<void>;
}

export interface SidecarOptions {
  namespace: string;
  service: string;
  region?: string;
  zone?: string;
  subZone?: string;
  /** A gateway node (its listener is on the returned `port`) instead of a sidecar. */
  gateway?: boolean;
  /** An on-demand sidecar (`bootstrap --on-demand`: Delta, VHDS and on-demand CDS). */
  onDemand?: boolean;
}

/** startSidecar bootstraps and runs a sidecar Envoy against a bridge, on free admin and listener ports. */
export async function startSidecar(bridge: { xdsAddress: string }, opts: SidecarOptions): Promise<Sidecar> {
  const extra: string[] = [];
  if (opts.region) extra.push('--region', opts.region);
  if (opts.zone) extra.push('--zone', opts.zone);
  if (opts.subZone) extra.push('--sub-zone', opts.subZone);
  if (opts.gateway) extra.push('--gateway');
  if (opts.onDemand) extra.push('--on-demand');
  const { envoy, outbound } = await startSidecarEnvoy(bridge.xdsAddress, {
    namespace: opts.namespace,
    service: opts.service,
    extra,
  });
  const send = (host: string, path = '/', headers: Record<string, string> = {}) =>
    sendThrough(outbound, host, path, headers);
  const tally = async (
    n: number,
    host: string,
    path = '/',
    headers: Record<string, string> = {},
    concurrency = 10,
  ): Promise<Tally> => {
    const counts: Tally = new Map();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        next++;
        const key = await send(host, path, headers).then(
          (r) => (r.status === 200 ? r.body : `status ${r.status}`),
          () => 'error',
        );
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, worker));
    return counts;
  };
  return {
    envoy,
    port: outbound,
    send,
    tally,
    only: async (body, n, host, path = '/', headers = {}) => {
      const counts = await tally(n, host, path, headers);
      assert.deepEqual(Object.fromEntries(counts), { [body]: n }, `${host}${path} ${JSON.stringify(headers)}`);
    },
    stop: () => envoy.stop(),
  };
}

/** waitForOnly waits until `n` requests in a row all land on `body`; it returns how long that took. */
export async function waitForOnly(
  sidecar: Sidecar,
  body: string,
  host: string,
  headers: Record<string, string> = {},
  timeoutMs = 10_000,
  n = 10,
): Promise<number> {
  const started = Date.now();
  await waitFor(
    `${host} ${JSON.stringify(headers)} → ${body}`,
    async () => {
      const counts = await sidecar.tally(n, host, '/', headers, 5);
      return counts.size === 1 && counts.get(body) === n;
    },
    timeoutMs,
    50,
  );
  return Date.now() - started;
}
