import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseNode, parseNodeId } from '../../../src/xds/node.js';

describe('parseNodeId', () => {
  const cases: Array<[string, ReturnType<typeof parseNodeId>]> = [
    ['default/5f1c~10.0.0.7', { runType: 'sidecar', namespace: 'default', uuid: '5f1c', ip: '10.0.0.7' }],
    ['sidecar~ns1/abc-def~10.1.2.3', { runType: 'sidecar', namespace: 'ns1', uuid: 'abc-def', ip: '10.1.2.3' }],
    ['gateway~edge/u1~192.168.0.1', { runType: 'gateway', namespace: 'edge', uuid: 'u1', ip: '192.168.0.1' }],
    ['not-a-polaris-id', undefined],
    ['ns/uuid-without-ip', undefined],
    ['', undefined],
  ];
  for (const [id, want] of cases) {
    it(`parses ${JSON.stringify(id)}`, () => assert.deepEqual(parseNodeId(id), want));
  }
});

describe('parseNode', () => {
  it('takes namespace and service from sidecar metadata over the id', () => {
    const n = parseNode({
      id: 'default/u~10.0.0.1',
      metadata: {
        'sidecar.polarismesh.cn/serviceNamespace': 'shop',
        'sidecar.polarismesh.cn/serviceName': 'cart',
        'sidecar.polarismesh.cn/bindPorts': '8080, 80,8080,x',
      },
      userAgentName: 'envoy',
      clientFeatures: [],
    });
    assert.equal(n.runType, 'sidecar');
    assert.equal(n.namespace, 'shop');
    assert.equal(n.service, 'cart');
    assert.equal(n.ip, '10.0.0.1');
    assert.deepEqual(n.bindPorts, [80, 8080]);
  });
  it('reads gateway keys, including the legacy ones, only for gateway ids', () => {
    const gw = parseNode({
      id: 'gateway~edge/u~1.2.3.4',
      metadata: { gateway_namespace: 'edge', gateway_service: 'ingress' },
      userAgentName: 'envoy',
      clientFeatures: [],
    });
    assert.equal(gw.runType, 'gateway');
    assert.equal(gw.service, 'ingress');
    const sidecar = parseNode({
      id: 'edge/u~1.2.3.4',
      metadata: { gateway_service: 'ingress' },
      userAgentName: 'envoy',
      clientFeatures: [],
    });
    assert.equal(sidecar.service, '');
  });
  it('treats gRPC user agents as proxyless and stringifies metadata like Polaris', () => {
    const n = parseNode({
      id: 'x',
      metadata: { n: 3.9, b: true, s: 'v' },
      userAgentName: 'gRPC Node',
      clientFeatures: ['f'],
      locality: { region: 'r', zone: 'z', subZone: 'c' },
    });
    assert.equal(n.runType, 'proxyless');
    assert.deepEqual(n.metadata, { b: 'true', n: '3', s: 'v' });
    assert.deepEqual(n.locality, { region: 'r', zone: 'z', campus: 'c' });
    assert.equal(n.namespace, '');
  });
});
