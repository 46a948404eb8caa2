// The real Polaris server for the side-by-side run. Like test/support/polaris.ts (whose config
// rewrite and API client it reuses), but it also exposes what the bench needs: the port of
// Polaris's own xds-v3 listener and the process id (for CPU and RSS). restart() keeps the data.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, cpSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { polarisHome } from '../../test/support/components.js';
import { PolarisApi, rewriteConfig } from '../../test/support/polaris.js';
import { freePort, waitFor } from '../../test/support/ports.js';
import { track } from '../lib/proc.js';

export interface BenchPolaris {
  readonly dir: string;
  readonly api: PolarisApi;
  /** host:port of service-grpc (Discover), what polaris-xds syncs from. */
  readonly grpcAddress: string;
  /** host:port of Polaris's own xDS server. */
  readonly xdsAddress: string;
  pid(): number;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
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

async function ports(): Promise<Record<string, number>> {
  const taken = new Set<number>();
  const pick = async (ok: (p: number) => Promise<boolean> = async () => true): Promise<number> => {
    for (let i = 0; i < 100; i++) {
      const p = await freePort();
      if (!taken.has(p) && (await ok(p))) {
        taken.add(p);
        return p;
      }
    }
    throw new Error('no free port for polaris');
  };
  // The nacos listener also opens port + 1000.
  const nacos = await pick(async (p) => p + 1000 < 65536 && (await portFree(p + 1000)));
  taken.add(nacos + 1000);
  return {
    'service-eureka': await pick(),
    'api-http': await pick(),
    'service-grpc': await pick(),
    'config-grpc': await pick(),
    'xds-v3': await pick(),
    'service-nacos': nacos,
  };
}

/** startBenchPolaris runs a fresh Polaris in a temp folder and waits until its APIs and xDS port answer. */
export async function startBenchPolaris(): Promise<BenchPolaris> {
  const home = polarisHome();
  const dir = mkdtempSync(join(tmpdir(), 'pxds-bench-polaris-'));
  cpSync(join(home, 'conf'), join(dir, 'conf'), { recursive: true });
  const p = await ports();
  const conf = join(dir, 'conf/polaris-server.yaml');
  writeFileSync(conf, rewriteConfig(readFileSync(conf, 'utf8'), p));
  const api = new PolarisApi(`http://127.0.0.1:${p['api-http']}`);
  let child: ChildProcess | undefined;

  async function launch(): Promise<void> {
    const log = openSync(join(dir, 'polaris-stdout.log'), 'a');
    const proc = track(spawn(join(home, 'polaris-server'), ['start', '-c', 'conf/polaris-server.yaml'], { cwd: dir, stdio: ['ignore', log, log] }));
    closeSync(log);
    child = proc;
    await waitFor(
      'polaris to serve',
      async () => {
        if (proc.exitCode !== null) throw new Error(`polaris exited; see ${join(dir, 'polaris-stdout.log')}`);
        if (!(await tcpOpen(p['service-grpc']!)) || !(await tcpOpen(p['xds-v3']!))) return false;
        await api.call('GET', '/naming/v1/namespaces?limit=1');
        return true;
      },
      60_000,
      200,
    );
  }

  async function kill(): Promise<void> {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill('SIGKILL');
    });
  }

  await launch();
  return {
    dir,
    api,
    grpcAddress: `127.0.0.1:${p['service-grpc']}`,
    xdsAddress: `127.0.0.1:${p['xds-v3']}`,
    pid: () => child?.pid ?? -1,
    restart: async () => {
      await kill();
      await launch();
    },
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
