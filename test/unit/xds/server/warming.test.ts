// The warming gate: listeners and routes wait until the assignments of new EDS clusters are
// written, for a wildcard-CDS client that asks for endpoints, at most maxHoldMs; a cluster's EDS
// name is read from its references.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CLUSTER_TYPE, ENDPOINT_TYPE, type TypeUrl } from '../../../../src/xds/resource.js';
import { TypeState } from '../../../../src/xds/server/stream-state.js';
import { edsNameOf, WarmingGate } from '../../../../src/xds/server/warming.js';
import { cluster, simpleMesh } from '../../../support/fake-watcher.js';

function states(wildcardCds: boolean): Map<TypeUrl, TypeState> {
  const cds = new TypeState(CLUSTER_TYPE);
  cds.noteRequest();
  cds.applySotw(wildcardCds ? [] : ['a']);
  const eds = new TypeState(ENDPOINT_TYPE);
  eds.noteRequest();
  eds.applySotw(['a']);
  return new Map<TypeUrl, TypeState>([
    [CLUSTER_TYPE, cds],
    [ENDPOINT_TYPE, eds],
  ]);
}

test("a cluster's EDS name comes from its references: its service_name, else its name", () => {
  assert.equal(edsNameOf(cluster('a')), 'a');
  assert.equal(edsNameOf(cluster('a', { edsServiceName: 'svc-a' })), 'svc-a');
});

test('listeners and routes wait for the assignment of a new cluster, then go', () => {
  const snap = simpleMesh(['a']);
  const types = states(true);
  const gate = new WarmingGate(types, 60_000, () => assert.fail('no timeout expected'));
  try {
    gate.clustersSent([snap.resources[CLUSTER_TYPE].items.get('a')!]);
    assert.equal(gate.open(snap), false);
    types
      .get(ENDPOINT_TYPE)!
      .sent(
        { nonce: 'e1', version: 'v', wireVersion: 'v', at: 0 },
        { resources: [snap.resources[ENDPOINT_TYPE].items.get('a')!] },
      );
    assert.equal(gate.open(snap), true);
  } finally {
    gate.close();
  }
});

test('a client that names its clusters, or a cluster gone from the mesh, holds nothing back', () => {
  const snap = simpleMesh(['a']);
  const named = new WarmingGate(states(false), 60_000, () => undefined);
  named.clustersSent([snap.resources[CLUSTER_TYPE].items.get('a')!]);
  assert.equal(named.open(snap), true);
  named.close();
  const gone = new WarmingGate(states(true), 60_000, () => undefined);
  gone.clustersSent([snap.resources[CLUSTER_TYPE].items.get('a')!]);
  assert.equal(gone.open(simpleMesh([])), true);
  gone.close();
});

test('a client that never asks for the endpoints gets its routes after maxHoldMs', (t) => {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const snap = simpleMesh(['a']);
  let timedOut = 0;
  const gate = new WarmingGate(states(true), 500, () => timedOut++);
  try {
    gate.clustersSent([snap.resources[CLUSTER_TYPE].items.get('a')!]);
    assert.equal(gate.open(snap), false);
    t.mock.timers.tick(499);
    assert.equal(timedOut, 0);
    t.mock.timers.tick(1);
    assert.equal(timedOut, 1);
    assert.equal(gate.open(snap), true);
  } finally {
    gate.close();
  }
});
