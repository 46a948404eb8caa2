import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiscoverResponse } from '../../../src/gen/v1/discover.js';
import { MeshCache } from '../../../src/sync/cache.js';
import type { DiscoverKey } from '../../../src/sync/keys.js';

const NS1: DiscoverKey = { type: 'SERVICES', namespace: 'ns1', service: '' };

const servicesAnswer = (revision: string, names: string[], metadata: Record<string, string> = {}) =>
  DiscoverResponse.fromPartial({
    code: 200000,
    type: 6,
    service: { namespace: 'ns1', name: '', revision },
    services: names.map((name) => ({ name, namespace: 'ns1', metadata })),
  });
const instanceAnswer = (revision: string, hosts: string[]) =>
  DiscoverResponse.fromPartial({
    code: 200000,
    type: 1,
    service: { revision },
    instances: hosts.map((host) => ({ id: host, host, port: 80 })),
  });
/** governed answers the governance kinds of a service as Polaris does when it has no rules: 200000, no payload. */
const governed = (c: MeshCache, ref: { namespace: string; name: string }) => {
  for (const type of ['RATE_LIMIT', 'CIRCUIT_BREAKER', 'FAULT_DETECTOR'] as const)
    c.apply(type, ref, DiscoverResponse.fromPartial({ code: 200000, type: 4 }));
};
const routingAnswer = (revision: string) =>
  DiscoverResponse.fromPartial({
    code: 200000,
    type: 3,
    service: { revision },
    routing: { inbounds: [], outbounds: [] },
  });

describe('MeshCache', () => {
  it('lists services, includes each once both halves answered, and tracks revisions', () => {
    const c = new MeshCache();
    assert.equal(c.complete([NS1]), false);
    const r = c.applyServices(NS1, servicesAnswer('s1', ['a', 'b']));
    assert.deepEqual(r.added, [
      { namespace: 'ns1', name: 'a' },
      { namespace: 'ns1', name: 'b' },
    ]);
    assert.equal(c.revision(NS1), 's1');
    assert.equal(c.complete([NS1]), false);
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    c.apply('ROUTING', { namespace: 'ns1', name: 'a' }, routingAnswer('r1'));
    governed(c, { namespace: 'ns1', name: 'a' });
    c.apply('INSTANCE', { namespace: 'ns1', name: 'b' }, instanceAnswer('i2', []));
    assert.deepEqual([...c.build('polaris').services.keys()], ['ns1/a'], 'b still waits for its routing');
    assert.deepEqual(c.pending(), [{ namespace: 'ns1', name: 'b' }]);
    c.apply('ROUTING', { namespace: 'ns1', name: 'b' }, routingAnswer('r2'));
    governed(c, { namespace: 'ns1', name: 'b' });
    assert.equal(c.complete([NS1]), true);
    const s = c.build('polaris');
    assert.deepEqual([...s.services.keys()], ['ns1/a', 'ns1/b']);
    assert.equal(c.revision({ type: 'INSTANCE', namespace: 'ns1', service: 'a' }), 'i1');
    assert.equal(c.revision({ type: 'ROUTING', namespace: 'ns1', service: 'b' }), 'r2');
    assert.equal(c.build('polaris'), s, 'nothing changed: same state object');
  });

  it('shares unchanged services and ignores revision-only changes', () => {
    const c = new MeshCache();
    c.applyServices(NS1, servicesAnswer('s1', ['a', 'b']));
    for (const n of ['a', 'b']) {
      c.apply('INSTANCE', { namespace: 'ns1', name: n }, instanceAnswer('i1', ['h1']));
      c.apply('ROUTING', { namespace: 'ns1', name: n }, routingAnswer('r1'));
      governed(c, { namespace: 'ns1', name: n });
    }
    const s1 = c.build('polaris');
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i-new', ['h1']));
    assert.equal(c.changed, false);
    assert.equal(c.build('polaris'), s1);
    assert.equal(
      c.revision({ type: 'INSTANCE', namespace: 'ns1', service: 'a' }),
      'i-new',
      'the new revision is still sent next time',
    );
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i2', ['h1', 'h2']));
    const s2 = c.build('polaris');
    assert.notEqual(s2, s1);
    assert.notEqual(s2.services.get('ns1/a'), s1.services.get('ns1/a'));
    assert.equal(s2.services.get('ns1/b'), s1.services.get('ns1/b'));
    c.applyServices(NS1, servicesAnswer('s2', ['a', 'b'], { owner: 'x' }));
    const s3 = c.build('polaris');
    assert.deepEqual(s3.services.get('ns1/b')!.metadata, { owner: 'x' });
  });

  it('keeps the inbound rules object when only the outbound rules changed', () => {
    const c = new MeshCache();
    c.applyServices(NS1, servicesAnswer('s1', ['a']));
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    const rule = (name: string, header: string) => ({
      name,
      sources: [{ service: '*', namespace: '*', metadata: { 'x-h': { type: 0, value: header, valueType: 0 } } }],
      destinations: [{ service: 'a', namespace: 'ns1', weight: 100 }],
    });
    const answer = (revision: string, out: string) =>
      DiscoverResponse.fromPartial({
        code: 200000,
        type: 3,
        service: { revision },
        routing: { inbounds: [rule('in', '1')], outbounds: [rule('out', out)] },
      });
    c.apply('ROUTING', { namespace: 'ns1', name: 'a' }, answer('r1', '1'));
    governed(c, { namespace: 'ns1', name: 'a' });
    const s1 = c.build('polaris').services.get('ns1/a')!;
    c.apply('ROUTING', { namespace: 'ns1', name: 'a' }, answer('r2', '2'));
    governed(c, { namespace: 'ns1', name: 'a' });
    const s2 = c.build('polaris').services.get('ns1/a')!;
    assert.notDeepEqual(s2.routing.outbounds, s1.routing.outbounds);
    assert.equal(s2.routing.inbounds, s1.routing.inbounds);
    assert.equal(s2.instances, s1.instances);
  });

  it('drops removed services and their revisions; an empty list is stored with no revision', () => {
    const c = new MeshCache();
    c.applyServices(NS1, servicesAnswer('s1', ['a']));
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    c.apply('ROUTING', { namespace: 'ns1', name: 'a' }, routingAnswer('r1'));
    governed(c, { namespace: 'ns1', name: 'a' });
    assert.equal(c.build('polaris').services.size, 1);
    const r = c.applyServices(
      NS1,
      DiscoverResponse.fromPartial({ code: 200000, type: 6, service: { namespace: 'ns1', name: '', revision: 's1' } }),
    );
    assert.deepEqual(r.removed, [{ namespace: 'ns1', name: 'a' }]);
    assert.equal(c.revision(NS1), '', 'the echoed revision of an empty answer is not kept');
    assert.equal(c.revision({ type: 'INSTANCE', namespace: 'ns1', service: 'a' }), '');
    assert.equal(c.build('polaris').services.size, 0);
    assert.equal(c.listed({ namespace: 'ns1', name: 'a' }), false);
    // Late answers for a dropped service change nothing.
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i9', ['h9']));
    assert.equal(c.build('polaris').services.size, 0);
  });

  it('marks a service gone on 400202 until a good answer', () => {
    const c = new MeshCache();
    c.applyServices(NS1, servicesAnswer('s1', ['a']));
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    c.apply('ROUTING', { namespace: 'ns1', name: 'a' }, routingAnswer('r1'));
    governed(c, { namespace: 'ns1', name: 'a' });
    c.markGone({ namespace: 'ns1', name: 'a' });
    assert.equal(c.build('polaris').services.size, 0);
    assert.equal(c.complete([NS1]), true, 'a gone service counts as answered');
    c.apply('INSTANCE', { namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    assert.equal(c.build('polaris').services.size, 1);
  });

  it('keeps only its namespace from a SERVICES answer', () => {
    const c = new MeshCache();
    const r = c.applyServices(
      NS1,
      DiscoverResponse.fromPartial({
        code: 200000,
        services: [
          { name: 'a', namespace: 'ns1' },
          { name: 'x', namespace: 'ns2' },
        ],
        service: { revision: 'z' },
      }),
    );
    assert.deepEqual(r.added, [{ namespace: 'ns1', name: 'a' }]);
  });

  it('keeps governance rules per service with revisions, through the same path as instances and routing', () => {
    const c = new MeshCache();
    const ref = { namespace: 'ns1', name: 'a' };
    c.applyServices(NS1, servicesAnswer('s1', ['a']));
    c.apply('INSTANCE', ref, instanceAnswer('i1', ['h1']));
    c.apply('ROUTING', ref, routingAnswer('r1'));
    c.apply('RATE_LIMIT', ref, DiscoverResponse.fromPartial({ code: 200000, type: 4 }));
    c.apply('FAULT_DETECTOR', ref, DiscoverResponse.fromPartial({ code: 200000, type: 13 }));
    assert.equal(c.complete([NS1]), false, 'CIRCUIT_BREAKER has not answered yet');
    assert.deepEqual(c.pending(), [ref]);
    const cbAnswer = (revision: string, level: number, sleep: number) =>
      DiscoverResponse.fromPartial({
        code: 200000,
        type: 5,
        service: { revision },
        circuitBreaker: {
          revision,
          rules: [
            {
              id: 'z',
              name: 'z',
              level,
              enable: true,
              ruleMatcher: { destination: { service: 'a', namespace: 'ns1' } },
              recoverCondition: { sleepWindow: sleep, consecutiveSuccess: 2 },
            },
            {
              id: 'b',
              name: 'b',
              level: 4,
              enable: false,
              errorConditions: [{ inputType: 1, condition: { type: 5, value: '500~599' } }],
              triggerCondition: [{ triggerType: 1, errorPercent: 50, interval: 10, minimumRequest: 10 }],
            },
          ],
        },
      });
    c.apply('CIRCUIT_BREAKER', ref, cbAnswer('c1', 1, 5));
    assert.equal(c.complete([NS1]), true);
    assert.equal(c.revision({ type: 'CIRCUIT_BREAKER', namespace: 'ns1', service: 'a' }), 'c1');
    const s1 = c.build('polaris').services.get('ns1/a')!;
    assert.deepEqual(
      s1.circuitBreakers.rules.map((r) => [r.id, r.level, r.enable, r.recover.sleepWindowSeconds]),
      [
        ['b', 'INSTANCE', false, 0],
        ['z', 'SERVICE', true, 5],
      ],
      'ordered by id, every field converted',
    );
    assert.deepEqual(s1.circuitBreakers.rules[0]!.triggerConditions, [
      { triggerType: 'ERROR_RATE', errorCount: 0, errorPercent: 50, intervalSeconds: 10, minimumRequest: 10 },
    ]);
    assert.deepEqual(s1.circuitBreakers.rules[0]!.errorConditions[0]!.condition, {
      type: 'RANGE',
      value: '500~599',
      valueType: 'TEXT',
    });
    assert.deepEqual(s1.rateLimits.rules, []);
    c.apply('CIRCUIT_BREAKER', ref, cbAnswer('c2', 1, 5));
    assert.equal(c.changed, false, 'a new revision with the same rules changes nothing');
    assert.equal(c.revision({ type: 'CIRCUIT_BREAKER', namespace: 'ns1', service: 'a' }), 'c2');
    const r = c.apply('CIRCUIT_BREAKER', ref, cbAnswer('c3', 9, 5));
    assert.deepEqual(
      r.newSkips.map((x) => [x.kind, x.id, x.reason]),
      [['circuit-breaker', 'z', 'rules[0].level: unknown value 9']],
      'a rule this build cannot read is skipped with its path; the others stay',
    );
    const s3 = c.build('polaris').services.get('ns1/a')!;
    assert.deepEqual(
      s3.circuitBreakers.rules.map((x) => x.id),
      ['b'],
    );
    assert.equal(s3.instances, s1.instances);
    assert.equal(s3.routing, s1.routing);
  });
});
