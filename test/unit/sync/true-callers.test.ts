// The repair of Polaris's rewritten `*` callers, where answers become model: an outbound rule takes
// its callee's sources, the MeshState never carries the rewritten caller, and objects stay the
// same while nothing they depend on changed (the translator memoises on them).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serviceKey, type Service } from '../../../src/model/mesh.js';
import { TrueCallers } from '../../../src/sync/true-callers.js';
import { dest, instance, ms, rule, service, source } from '../xds/translate/support/fixtures.js';

const toV2 = dest({ version: ms('EXACT', 'v2') }, { service: 'backend', namespace: 'shop' });
const asCalleeHoldsIt = rule('r.any', [source({ $path: ms('EXACT', '/beta') })], [toV2]);
// Polaris v1.18.1 writes the asking service into the `*` caller of the outbound copy.
const rewritten = rule(
  'r.any',
  [source({ $path: ms('EXACT', '/beta') }, { service: 'gw', namespace: 'edge' })],
  [toV2],
);
const ownRule = rule('r.own', [source({ $path: ms('EXACT', '/own') }, { service: 'gw', namespace: 'edge' })], [toV2]);

function backendWith(inbounds: Service['routing']['inbounds']): Service {
  const s = service('shop', 'backend', [instance('b1', '10.0.0.1', { metadata: { version: 'v2' } })]);
  return { ...s, routing: { inbounds, outbounds: [], revision: `r${inbounds.length}` } };
}

function byKey(...services: Service[]): Map<string, Service> {
  return new Map(services.map((s) => [serviceKey(s.namespace, s.name), s]));
}

function published(services: Iterable<Service>, key: string): Service {
  const s = [...services].find((x) => serviceKey(x.namespace, x.name) === key);
  assert.ok(s, `${key} is published`);
  return s;
}

test("an outbound rule takes its callee's sources: the `*` caller Polaris rewrote comes back", () => {
  const tc = new TrueCallers();
  const gw = service('edge', 'gw', [], { outbounds: [rewritten, ownRule] });
  const built = byKey(backendWith([asCalleeHoldsIt]), gw);
  const out = published(tc.update(built, built.keys()), 'edge/gw');
  assert.notEqual(out, gw, 'the gateway is published repaired');
  assert.deepEqual(out.routing.outbounds[0]!.sources, asCalleeHoldsIt.sources, 'the callee decides who the caller is');
  assert.equal(out.routing.outbounds[1], ownRule, 'a rule the callee does not hold stays as it is');
  assert.equal(gw.routing.outbounds[0], rewritten, 'the built service is not edited');
});

test('without a copy at the callee, the outbound copy is all there is, and it stays', () => {
  const tc = new TrueCallers();
  const gw = service('edge', 'gw', [], { outbounds: [rewritten] });
  const built = byKey(backendWith([]), gw);
  assert.equal(published(tc.update(built, built.keys()), 'edge/gw'), gw);
});

test('the repaired service keeps its object while nothing changes, and follows its callee when its rules do', () => {
  const tc = new TrueCallers();
  const gw = service('edge', 'gw', [], { outbounds: [rewritten] });
  let built = byKey(backendWith([asCalleeHoldsIt]), gw);
  const first = published(tc.update(built, built.keys()), 'edge/gw');
  // Only the backend changed (its instances), its rules are the same objects: the gateway stays.
  const backend2 = { ...built.get('shop/backend')!, revision: 'i2' };
  built = byKey(backend2, gw);
  assert.equal(published(tc.update(built, ['shop/backend']), 'edge/gw'), first);
  // The backend's copy of the rule now names a caller: the gateway is published again, with it.
  const named = rule('r.any', [source({ $path: ms('EXACT', '/beta') }, { service: 'web', namespace: 'shop' })], [toV2]);
  built = byKey(backendWith([named]), gw);
  const second = published(tc.update(built, ['shop/backend']), 'edge/gw');
  assert.notEqual(second, first);
  assert.deepEqual(second.routing.outbounds[0]!.sources, named.sources);
  // The backend goes away: the outbound copy is all there is again.
  built = byKey(gw);
  const third = [...tc.update(built, ['shop/backend'])];
  assert.deepEqual(third, [gw]);
});
