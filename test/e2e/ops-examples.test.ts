// The checked-in bootstraps in examples/envoy never drift from what `polaris-xds bootstrap`
// prints: they are regenerated into a temporary folder and compared, and a real Envoy validates
// the Envoy ones.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { envoyBinary, repoRoot } from '../support/components.js';

const EXAMPLES = join(repoRoot, 'examples/envoy');
const BOOTSTRAPS = ['gateway.yaml', 'grpc-bootstrap.json', 'sidecar-delta.yaml', 'sidecar-sotw.yaml'];

function parse(file: string): unknown {
  const text = readFileSync(file, 'utf8');
  return file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
}

describe('examples/envoy bootstraps', () => {
  const out = mkdtempSync(join(tmpdir(), 'pxds-examples-'));
  after(() => rmSync(out, { recursive: true, force: true }));

  it('are exactly what generate.sh makes with polaris-xds bootstrap', () => {
    execFileSync('bash', [join(EXAMPLES, 'generate.sh'), out], { stdio: 'pipe' });
    assert.deepEqual(readdirSync(out).sort(), BOOTSTRAPS);
    for (const name of BOOTSTRAPS) {
      assert.deepEqual(
        parse(join(EXAMPLES, name)),
        parse(join(out, name)),
        `${name} drifted: run examples/envoy/generate.sh`,
      );
    }
  });

  it('are accepted by a real Envoy (--mode validate)', () => {
    for (const name of BOOTSTRAPS.filter((n) => n.endsWith('.yaml'))) {
      execFileSync(
        envoyBinary(),
        ['--mode', 'validate', '-c', join(EXAMPLES, name), '--log-level', 'error', '--disable-hot-restart'],
        { stdio: 'pipe' },
      );
    }
  });

  it('cover the four kinds of client', () => {
    const api = (n: string) =>
      (parse(join(EXAMPLES, n)) as { dynamic_resources: { ads_config: { api_type: string } } }).dynamic_resources
        .ads_config.api_type;
    assert.equal(api('sidecar-sotw.yaml'), 'GRPC');
    assert.equal(api('sidecar-delta.yaml'), 'DELTA_GRPC');
    const gw = parse(join(EXAMPLES, 'gateway.yaml')) as { node: { id: string; metadata: Record<string, string> } };
    assert.match(gw.node.id, /^gateway~/);
    assert.equal(gw.node.metadata['gateway.polarismesh.cn/serviceName'], 'gateway');
    const grpcBs = parse(join(EXAMPLES, 'grpc-bootstrap.json')) as {
      xds_servers: Array<{ server_uri: string; server_features: string[] }>;
      node: { locality: unknown };
    };
    assert.equal(grpcBs.xds_servers[0]!.server_uri, '127.0.0.1:15010');
    assert.deepEqual(grpcBs.xds_servers[0]!.server_features, ['xds_v3']);
    assert.ok(grpcBs.node.locality, 'grpc-js requires a node locality');
  });
});
