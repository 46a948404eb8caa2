import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { envoyConfigDump } from '../../../src/admin/config-dump.js';
import { withIdentity } from '../../../src/admin/syncz.js';
import { parseNode } from '../../../src/xds/node.js';
import type { NodeStatus } from '../../../src/xds/server/status.js';

const row = (nodeId: string): NodeStatus => ({
  streamId: 1,
  nodeId,
  cluster: '',
  mode: 'sotw',
  peer: 'ipv4:127.0.0.1:1',
  connectedSince: new Date(0).toISOString(),
  blocked: false,
  types: {},
  counters: {
    requests: 0,
    responses: 0,
    bytesSent: 0,
    acks: 0,
    nacks: 0,
    expiredNonces: 0,
    resendsSuppressed: 0,
    writesBlocked: 0,
  },
});

describe('withIdentity', () => {
  it('adds service, namespace and run type by node id; unknown nodes get empty strings', () => {
    const node = parseNode({
      id: 'shop/u1~10.0.0.1',
      metadata: { 'sidecar.polarismesh.cn/serviceName': 'cart' },
      userAgentName: 'envoy',
      clientFeatures: [],
    });
    const [known, unknown] = withIdentity([row('shop/u1~10.0.0.1'), row('other')], [{ node }]);
    assert.deepEqual([known!.service, known!.namespace, known!.runType], ['cart', 'shop', 'sidecar']);
    assert.equal(known!.streamId, 1);
    assert.deepEqual([unknown!.service, unknown!.namespace, unknown!.runType], ['', '', '']);
    assert.equal('snapshotRefused' in known!, false);
  });

  it("shows why a node's newest snapshot was refused", () => {
    const node = parseNode({ id: 'shop/u1~10.0.0.1', userAgentName: 'envoy', clientFeatures: [] });
    const [r] = withIdentity(
      [row('shop/u1~10.0.0.1')],
      [{ node, refused: { at: 0, errors: ['route x: no resource names it'] } }],
    );
    assert.deepEqual(r!.snapshotRefused, { at: '1970-01-01T00:00:00.000Z', errors: ['route x: no resource names it'] });
  });
});

describe('envoyConfigDump', () => {
  it('wraps each type as Envoy admin dumps do, in Envoy order, with type and resource versions', () => {
    const r = (name: string) => [{ name, version: `rv-${name}`, resource: { '@type': 'x', name } }];
    const out = envoyConfigDump(
      {
        cds: { version: 'c1', resources: r('c') },
        eds: { version: 'e1', resources: r('e') },
        lds: { version: 'l1', resources: r('l') },
        rds: { version: 'r1', resources: r('r') },
      },
      { node: { id: 'n' } },
    ) as { node: unknown; configs: Array<Record<string, unknown>> };
    assert.deepEqual(out.node, { id: 'n' });
    assert.deepEqual(
      out.configs.map((c) => String(c['@type']).split('.').pop()),
      ['ClustersConfigDump', 'EndpointsConfigDump', 'ListenersConfigDump', 'RoutesConfigDump'],
    );
    assert.deepEqual(
      out.configs.map((c) => c.version_info),
      ['c1', 'e1', 'l1', 'r1'],
    );
    assert.deepEqual(out.configs[0]!.dynamic_active_clusters, [
      { version_info: 'rv-c', cluster: { '@type': 'x', name: 'c' } },
    ]);
    assert.deepEqual(out.configs[2]!.dynamic_listeners, [
      { name: 'l', active_state: { version_info: 'rv-l', listener: { '@type': 'x', name: 'l' } } },
    ]);
    assert.deepEqual(out.configs[3]!.dynamic_route_configs, [
      { version_info: 'rv-r', route_config: { '@type': 'x', name: 'r' } },
    ]);
  });
});
