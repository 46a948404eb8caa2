// Responses spliced from pre-encoded bytes decode, with an independent decoder, to what was meant.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER_TYPE } from '../../../../src/xds/resource.js';
import {
  encodeControlPlane,
  encodeDeltaResponse,
  encodeSotwResponse,
  setVersion,
} from '../../../../src/xds/server/response.js';
import { decodeDelta, decodeSotw } from '../../../support/ads-client.js';
import { cluster, snapshotOf } from '../../../support/fake-watcher.js';

describe('response splicing', () => {
  const a = cluster('a');
  const b = cluster('b', { timeoutS: 4 });

  it('a DiscoveryResponse carries version, the resources as Any, type, nonce and control plane', () => {
    const bytes = encodeSotwResponse(
      { typeUrl: CLUSTER_TYPE, version: 'v1', resources: [a, b] },
      '17',
      encodeControlPlane('cp-1'),
    );
    const { response, violations } = decodeSotw(bytes);
    assert.deepEqual(violations, []);
    assert.deepEqual(
      [response.version, response.typeUrl, response.nonce, response.controlPlane],
      ['v1', CLUSTER_TYPE, '17', 'cp-1'],
    );
    assert.deepEqual(response.names, ['a', 'b']);
    assert.equal(response.resources[1]!.value.connect_timeout.seconds, '4');
  });

  it('a DeltaDiscoveryResponse carries Resources with name and version, and removed names (even empty ones)', () => {
    const bytes = encodeDeltaResponse(
      { typeUrl: CLUSTER_TYPE, version: 'sys', resources: [a], removed: ['', 'gone'] },
      '3',
      undefined,
    );
    const { response, violations } = decodeDelta(bytes);
    assert.deepEqual(violations, []);
    assert.deepEqual(
      response.resources.map((r) => [r.name, r.version]),
      [['a', a.version]],
    );
    assert.deepEqual(response.removed, ['', 'gone']);
    assert.equal(response.systemVersion, 'sys');
    assert.equal(response.controlPlane, undefined);
  });

  it('setVersion of a whole type equals the snapshot version', () => {
    const snap = snapshotOf({ clusters: [b, a] });
    assert.equal(setVersion([a, b]), snap.resources[CLUSTER_TYPE].version);
    assert.notEqual(setVersion([a]), snap.resources[CLUSTER_TYPE].version);
  });
});
