import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { envoyBootstrap } from '../../src/bootstrap/envoy.js';
import { grpcBootstrap } from '../../src/bootstrap/grpc.js';
import { parseNode } from '../../src/xds/node.js';
import { RATELIMIT_SERVICE_CLUSTER } from '../../src/xds/translate/ratelimit-global.js';
import { nodeView } from '../../src/xds/translate/view.js';
import { envoyBinary } from '../support/components.js';
import { scratchDir } from '../support/temp.js';

const scratch = scratchDir('pxds-bs-');

function envoyValidates(bootstrap: unknown): void {
  const f = scratch.file('b.json', JSON.stringify(bootstrap));
  execFileSync(envoyBinary(), ['--mode', 'validate', '-c', f, '--log-level', 'error'], { stdio: 'pipe' });
}

describe('envoy bootstrap', () => {
  const base = {
    xdsAddress: '127.0.0.1:15010',
    nodeId: 'shop/u1~10.0.0.1',
    namespace: 'shop',
    service: 'cart',
    adminAddress: '127.0.0.1:15000',
    delta: false,
    gateway: false,
  };

  it('is accepted by a real Envoy, SotW and Delta, sidecar and gateway', () => {
    for (const variant of [
      base,
      { ...base, delta: true },
      { ...base, gateway: true, nodeId: 'gateway~shop/u1~10.0.0.1' },
      { ...base, xdsAddress: 'xds.example.internal:15010' },
    ]) {
      envoyValidates(envoyBootstrap(variant));
    }
  });

  it('carries the Polaris node conventions the server parses back', () => {
    const b = envoyBootstrap({ ...base, bindPorts: [8080] }) as {
      node: { id: string; metadata: Record<string, string> };
    };
    const info = parseNode({ id: b.node.id, metadata: b.node.metadata, userAgentName: 'envoy', clientFeatures: [] });
    assert.equal(info.namespace, 'shop');
    assert.equal(info.service, 'cart');
    assert.deepEqual(info.bindPorts, [8080]);
    const gw = envoyBootstrap({ ...base, gateway: true, nodeId: 'gateway~shop/u1~10.0.0.1' }) as {
      node: { id: string; metadata: Record<string, string> };
    };
    const g = parseNode({ id: gw.node.id, metadata: gw.node.metadata, userAgentName: 'envoy', clientFeatures: [] });
    assert.equal(g.runType, 'gateway');
    assert.equal(g.service, 'cart');
  });

  it('with --ratelimit-address: the rate-limit service cluster (HTTP/2) and the node metadata that switches GLOBAL rate limits on', () => {
    const b = envoyBootstrap({ ...base, rateLimitAddress: '127.0.0.1:8081' }) as {
      node: { id: string; metadata: Record<string, string> };
      static_resources: { clusters: Array<Record<string, any>> };
    };
    envoyValidates(b);
    envoyValidates(envoyBootstrap({ ...base, rateLimitAddress: 'ratelimit.example.internal:8081' }));
    const rls = b.static_resources.clusters.find((c) => c.name === RATELIMIT_SERVICE_CLUSTER)!;
    assert.ok(
      rls.typed_extension_protocol_options['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']
        .explicit_http_config.http2_protocol_options,
    );
    assert.deepEqual(rls.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address, {
      address: '127.0.0.1',
      port_value: 8081,
    });
    const view = nodeView(
      parseNode({ id: b.node.id, metadata: b.node.metadata, userAgentName: 'envoy', clientFeatures: [] }),
    );
    assert.equal(view.rateLimitService, true);
    const plain = envoyBootstrap(base) as {
      node: { id: string; metadata: Record<string, string> };
      static_resources: { clusters: unknown[] };
    };
    assert.equal(plain.static_resources.clusters.length, 1);
    assert.equal(
      nodeView(
        parseNode({ id: plain.node.id, metadata: plain.node.metadata, userAgentName: 'envoy', clientFeatures: [] }),
      ).rateLimitService,
      false,
    );
  });

  it('an on-demand sidecar is a Delta sidecar with openOnDemand, accepted by a real Envoy', () => {
    const b = envoyBootstrap({ ...base, delta: true, onDemand: true }) as {
      node: { id: string; metadata: Record<string, string> };
    };
    envoyValidates(b);
    assert.equal(b.node.metadata['sidecar.polarismesh.cn/openOnDemand'], 'true');
    assert.equal(
      parseNode({ id: b.node.id, metadata: b.node.metadata, userAgentName: 'envoy', clientFeatures: [] }).onDemand,
      true,
    );
    assert.throws(() => envoyBootstrap({ ...base, onDemand: true }), /Delta/);
    assert.equal(
      (envoyBootstrap({ ...base, delta: true }) as { node: { metadata: Record<string, string> } }).node.metadata[
        'sidecar.polarismesh.cn/openOnDemand'
      ],
      undefined,
    );
  });

  it('selects the ADS flavour', () => {
    const sotw = envoyBootstrap(base) as { dynamic_resources: { ads_config: { api_type: string } } };
    const delta = envoyBootstrap({ ...base, delta: true }) as {
      dynamic_resources: { ads_config: { api_type: string } };
    };
    assert.equal(sotw.dynamic_resources.ads_config.api_type, 'GRPC');
    assert.equal(delta.dynamic_resources.ads_config.api_type, 'DELTA_GRPC');
  });
});

describe('grpc bootstrap', () => {
  it('always has a node locality (grpc-js requires one) and the server uri', () => {
    const b = grpcBootstrap({ xdsAddress: '127.0.0.1:1', nodeId: 'n', namespace: 'ns', service: 's' }) as {
      xds_servers: Array<{ server_uri: string }>;
      node: { locality: unknown };
    };
    assert.equal(b.xds_servers[0]!.server_uri, '127.0.0.1:1');
    assert.deepEqual(b.node.locality, { region: '', zone: '', sub_zone: '' });
  });
});
