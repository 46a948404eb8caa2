import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiscoverResponse } from '../../../src/gen/v1/discover.js';
import { MeshCache } from '../../../src/sync/cache.js';
import type { DiscoverKey } from '../../../src/sync/keys.js';

const NS1: DiscoverKey = { type: 'SERVICES', namespace: 'ns1', service: '' };

const servicesAnswer = (revision: string, names: string[], metadata: Record<string, string> = {}) =>
  DiscoverResponse.fromPartial({ code: 200000, type: 6, service: { namespace: 'ns1', name: '', revision }, services: names.map((name) => ({ name, namespace: 'ns1', metadata })) });
const instanceAnswer = (revision: string, hosts: string[]) =>
  DiscoverResponse.fromPartial({ code: 200000, type: 1, service: { revision }, instances: hosts.map((host) => ({ id: host, host, port: 80 })) });
const routingAnswer = (revision: string) => DiscoverResponse.fromPartial({ code: 200000, type: 3, service: { revision }, routing: { inbounds: [], outbounds: [] } });

describe('MeshCache', () => {
  it('lists services, includes each once both halves answered, and tracks revisions', () => {
    const c = new MeshCache();
    assert.equal(c.complete([NS1]), false);
    const r = c.applyServices(NS1, servicesAnswer('s1', ['a', 'b']));
    assert.deepEqual(r.added, [{ namespace: 'ns1', name: 'a' }, { namespace: 'ns1', name: 'b' }]);
    assert.equal(c.revision(NS1), 's1');
    assert.equal(c.complete([NS1]), false);
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    c.applyRouting({ namespace: 'ns1', name: 'a' }, routingAnswer('r1'));
    c.applyInstances({ namespace: 'ns1', name: 'b' }, instanceAnswer('i2', []));
    assert.deepEqual([...c.build('polaris').services.keys()], ['ns1/a'], 'b still waits for its routing');
    assert.deepEqual(c.pending(), [{ namespace: 'ns1', name: 'b' }]);
    c.applyRouting({ namespace: 'ns1', name: 'b' }, routingAnswer('r2'));
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
      c.applyInstances({ namespace: 'ns1', name: n }, instanceAnswer('i1', ['h1']));
      c.applyRouting({ namespace: 'ns1', name: n }, routingAnswer('r1'));
    }
    const s1 = c.build('polaris');
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i-new', ['h1']));
    assert.equal(c.changed, false);
    assert.equal(c.build('polaris'), s1);
    assert.equal(c.revision({ type: 'INSTANCE', namespace: 'ns1', service: 'a' }), 'i-new', 'the new revision is still sent next time');
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i2', ['h1', 'h2']));
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
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    const rule = (name: string, header: string) => ({
      name,
      sources: [{ service: '*', namespace: '*', metadata: { 'x-h': { type: 0, value: header, valueType: 0 } } }],
      destinations: [{ service: 'a', namespace: 'ns1', weight: 100 }],
    });
    const answer = (revision: string, out: string) =>
      DiscoverResponse.fromPartial({ code: 200000, type: 3, service: { revision }, routing: { inbounds: [rule('in', '1')], outbounds: [rule('out', out)] } });
    c.applyRouting({ namespace: 'ns1', name: 'a' }, answer('r1', '1'));
    const s1 = c.build('polaris').services.get('ns1/a')!;
    c.applyRouting({ namespace: 'ns1', name: 'a' }, answer('r2', '2'));
    const s2 = c.build('polaris').services.get('ns1/a')!;
    assert.notDeepEqual(s2.routing.outbounds, s1.routing.outbounds);
    assert.equal(s2.routing.inbounds, s1.routing.inbounds);
    assert.equal(s2.instances, s1.instances);
  });

  it('drops removed services and their revisions; an empty list is stored with no revision', () => {
    const c = new MeshCache();
    c.applyServices(NS1, servicesAnswer('s1', ['a']));
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    c.applyRouting({ namespace: 'ns1', name: 'a' }, routingAnswer('r1'));
    assert.equal(c.build('polaris').services.size, 1);
    const r = c.applyServices(NS1, DiscoverResponse.fromPartial({ code: 200000, type: 6, service: { namespace: 'ns1', name: '', revision: 's1' } }));
    assert.deepEqual(r.removed, [{ namespace: 'ns1', name: 'a' }]);
    assert.equal(c.revision(NS1), '', 'the echoed revision of an empty answer is not kept');
    assert.equal(c.revision({ type: 'INSTANCE', namespace: 'ns1', service: 'a' }), '');
    assert.equal(c.build('polaris').services.size, 0);
    assert.equal(c.listed({ namespace: 'ns1', name: 'a' }), false);
    // Late answers for a dropped service change nothing.
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i9', ['h9']));
    assert.equal(c.build('polaris').services.size, 0);
  });

  it('marks a service gone on 400202 until a good answer', () => {
    const c = new MeshCache();
    c.applyServices(NS1, servicesAnswer('s1', ['a']));
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    c.applyRouting({ namespace: 'ns1', name: 'a' }, routingAnswer('r1'));
    c.markGone({ namespace: 'ns1', name: 'a' });
    assert.equal(c.build('polaris').services.size, 0);
    assert.equal(c.complete([NS1]), true, 'a gone service counts as answered');
    c.applyInstances({ namespace: 'ns1', name: 'a' }, instanceAnswer('i1', ['h1']));
    assert.equal(c.build('polaris').services.size, 1);
  });

  it('keeps only its namespace from a SERVICES answer', () => {
    const c = new MeshCache();
    const r = c.applyServices(NS1, DiscoverResponse.fromPartial({ code: 200000, services: [{ name: 'a', namespace: 'ns1' }, { name: 'x', namespace: 'ns2' }], service: { revision: 'z' } }));
    assert.deepEqual(r.added, [{ namespace: 'ns1', name: 'a' }]);
  });
});
