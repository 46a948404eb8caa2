// SotW request decoding: a large resource_names list is decoded once per distinct content and
// shared, and the result is always what the generated decoder gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Node } from '../../../src/gen/envoy/config/core/v3/base.js';
import { DiscoveryRequest } from '../../../src/gen/envoy/service/discovery/v3/discovery.js';
import { decodeDiscoveryRequest } from '../../../src/xds/server/decode.js';
import { adsServiceDefinition } from '../../../src/xds/server/ads.js';
import { DecodeFailure } from '../../../src/xds/server/protocol.js';

const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const names = (n: number, tag = '') => Array.from({ length: n }, (_, i) => `OUTBOUND|ns|svc-${i}${tag}`);

function request(resourceNames: string[], nonce: string, extra: Partial<DiscoveryRequest> = {}): Buffer {
  return Buffer.from(
    DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ versionInfo: 'v1', node: Node.fromPartial({ id: 'ns/a~10.0.0.1', cluster: 'c' }), resourceNames, typeUrl: EDS, responseNonce: nonce, ...extra })).finish(),
  );
}

test('a large names list decodes to what the generated decoder gives, and the same bytes share one frozen list', () => {
  const list = names(500);
  const a = decodeDiscoveryRequest(request(list, '1'));
  const b = decodeDiscoveryRequest(request(list, '2', { errorDetail: { code: 3, message: 'bad', details: [] } }));
  assert.deepEqual(a, DiscoveryRequest.decode(request(list, '1')));
  assert.deepEqual(b, DiscoveryRequest.decode(request(list, '2', { errorDetail: { code: 3, message: 'bad', details: [] } })));
  assert.equal(a.resourceNames, b.resourceNames, 'shared list');
  assert.ok(Object.isFrozen(a.resourceNames));
  const c = decodeDiscoveryRequest(request(names(500, 'x'), '3'));
  assert.notEqual(c.resourceNames, a.resourceNames);
  assert.deepEqual(c.resourceNames, names(500, 'x'));
});

test('small lists, and names split around other fields, decode in full', () => {
  const small = decodeDiscoveryRequest(request(names(3), '1'));
  assert.deepEqual(small.resourceNames, names(3));
  // resource_names, then type_url, then more resource_names: not one run of bytes.
  const head = Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ resourceNames: names(300) })).finish());
  const mid = Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ typeUrl: EDS })).finish());
  const tail = Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ resourceNames: names(300, 'y') })).finish());
  const split = decodeDiscoveryRequest(Buffer.concat([head, mid, tail]));
  assert.deepEqual(split.resourceNames, [...names(300), ...names(300, 'y')]);
  assert.equal(split.typeUrl, EDS);
});

test('undecodable bytes are a DecodeFailure, not an exception', () => {
  const good = request(names(500), '1');
  const deserialize = adsServiceDefinition.StreamAggregatedResources.requestDeserialize;
  for (const bad of [good.subarray(0, good.length - 7), Buffer.concat([good, Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f])]), Buffer.from([0xff, 0xff, 0xff])]) {
    assert.ok(deserialize(bad) instanceof DecodeFailure);
  }
});
