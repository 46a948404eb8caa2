import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Routing as PRouting } from '../../../src/gen/v1/routing.js';
import { Instance as PInstance, Service as PService } from '../../../src/gen/v1/service.js';
import {
  aliasTarget,
  convertInstances,
  convertRouting,
  convertServiceList,
  polarisInstanceId,
} from '../../../src/sync/convert.js';
import { argumentKey } from '../../../src/sync/route-keys.js';

const route = (
  id: string | undefined,
  priority: string | undefined,
  dest = 'callee',
  extra: Record<string, unknown> = {},
) => ({
  sources: [{ service: 'caller', namespace: 'ns' }],
  destinations: [{ service: dest, namespace: 'ns', name: `${id ?? 'r'}.s.g` }],
  extendInfo: { ...(id ? { __routing_v2_id__: id } : {}), ...(priority ? { __routing_v2_priority__: priority } : {}) },
  ...extra,
});

describe('convertInstances', () => {
  it('applies Polaris defaults, sorts by id and copies fields', () => {
    const { instances, skipped } = convertInstances('ns', 'svc', [
      PInstance.fromPartial({
        id: 'z',
        host: 'h1',
        port: 1,
        weight: 0,
        healthy: false,
        isolate: true,
        priority: 2,
        protocol: 'grpc',
        version: 'v3',
        revision: 'r',
        location: { region: 'a', zone: 'b' },
        metadata: { k: 'v' },
      }),
      PInstance.fromPartial({ id: 'a', host: 'h2', port: 2 }),
      PInstance.fromPartial({ host: 'h3', port: 3 }),
    ]);
    assert.deepEqual(skipped, []);
    const id3 = polarisInstanceId('ns', 'svc', 'h3', 3);
    assert.deepEqual(
      instances.map((i) => i.id),
      ['a', id3, 'z'].sort(),
    );
    const z = instances.find((i) => i.id === 'z')!;
    assert.deepEqual(z, {
      id: 'z',
      host: 'h1',
      port: 1,
      protocol: 'grpc',
      version: 'v3',
      weight: 0,
      priority: 2,
      healthy: false,
      isolate: true,
      locality: { region: 'a', zone: 'b', campus: '' },
      metadata: { k: 'v' },
      revision: 'r',
    });
    const a = instances.find((i) => i.id === 'a')!;
    assert.equal(a.weight, 100);
    assert.equal(a.healthy, true);
    assert.equal(a.isolate, false);
    assert.equal(a.protocol, '');
    assert.deepEqual(a.locality, { region: '', zone: '', campus: '' });
  });

  it('matches the id Polaris computes for an instance registered without one', () => {
    // Observed on a real Polaris v1.18.1: ns1/svc1 10.0.0.1:8080 registered without an id.
    assert.equal(polarisInstanceId('ns1', 'svc1', '10.0.0.1', 8080), 'b2fc8fb442fa012cb23b63f4e9c34456d49e6a43');
  });

  it('skips instances without host or with a bad port, with a path', () => {
    const { instances, skipped } = convertInstances('ns', 'svc', [
      PInstance.fromPartial({ id: 'x', port: 1 }),
      PInstance.fromPartial({ id: 'y', host: 'h' }),
      PInstance.fromPartial({ id: 'ok', host: 'h', port: 9 }),
    ]);
    assert.deepEqual(
      instances.map((i) => i.id),
      ['ok'],
    );
    assert.deepEqual(
      skipped.map((s) => [s.id, s.reason]),
      [
        ['x', 'instances[0].host: missing'],
        ['y', 'instances[1].port: 0 is not a valid port'],
      ],
    );
    assert.ok(skipped.every((s) => s.kind === 'instance' && s.service === 'ns/svc'));
  });
});

describe('convertServiceList and aliasTarget', () => {
  it('keeps named services sorted by key', () => {
    const list = convertServiceList([
      PService.fromPartial({ name: 'b', namespace: 'n2', metadata: { x: '1' } }),
      PService.fromPartial({ name: '', namespace: 'n1' }),
      PService.fromPartial({ name: 'a', namespace: 'n2' }),
    ]);
    assert.deepEqual(list, [
      { namespace: 'n2', name: 'a', metadata: {} },
      { namespace: 'n2', name: 'b', metadata: { x: '1' } },
    ]);
  });
  it('ignores aliasFor naming the service itself', () => {
    assert.equal(aliasTarget('ns', 'a', PService.fromPartial({ name: 'a', namespace: 'ns' })), undefined);
    assert.equal(aliasTarget('ns', 'a', undefined), undefined);
    assert.deepEqual(aliasTarget('ns', 'a', PService.fromPartial({ name: 'real', namespace: 'ns2' })), {
      namespace: 'ns2',
      name: 'real',
    });
  });
});

describe('convertRouting', () => {
  it('orders inbounds by v2 priority then id, numbering sub-rules', () => {
    const routing = PRouting.fromPartial({
      inbounds: [
        route('b', '0002'),
        route('a', '0002'),
        route('c', '0001'),
        route('a', '0002', 'callee', { sources: [{ service: 'other', namespace: 'ns' }] }),
      ],
    });
    const { routing: r, skipped } = convertRouting('ns', 'callee', routing, 'rev');
    assert.deepEqual(skipped, []);
    assert.deepEqual(
      r.inbounds.map((x) => [x.id, x.priority]),
      [
        ['c#0', 1],
        ['a#0', 2],
        ['a#1', 2],
        ['b#0', 2],
      ],
    );
    assert.equal(r.inbounds[2]!.sources[0]!.service, 'other', 'sub-rules of one rule keep their order');
    assert.equal(r.revision, 'rev');
  });

  it('sorts outbounds (no server order) by rule id, stably', () => {
    const { routing: r } = convertRouting(
      'ns',
      'caller',
      PRouting.fromPartial({ outbounds: [route('z', undefined), route('m', undefined), route('a', undefined)] }),
      '',
    );
    assert.deepEqual(
      r.outbounds.map((x) => x.id),
      ['a#0', 'm#0', 'z#0'],
    );
  });

  it('keeps the list order of servers that send no extendInfo', () => {
    const { routing: r } = convertRouting(
      'ns',
      'callee',
      PRouting.fromPartial({
        inbounds: [
          route(undefined, undefined, 'callee'),
          route(undefined, undefined, 'callee', {
            destinations: [{ service: 'callee', namespace: 'ns', name: 'rule2.sub.g' }],
          }),
        ],
      }),
      '',
    );
    assert.deepEqual(
      r.inbounds.map((x) => [x.id, x.name]),
      [
        ['r.s#0', 'r.s'],
        ['rule2.sub#1', 'rule2.sub'],
      ],
    );
  });

  it('defaults source service/namespace to * and destination namespace to the owner', () => {
    const { routing: r } = convertRouting(
      'ns',
      'callee',
      PRouting.fromPartial({
        inbounds: [
          {
            sources: [{ metadata: { $caller_ip: { type: 3, value: '1.1.1.1,2.2.2.2', valueType: 0 } } }],
            destinations: [{ service: 'callee', weight: 0 }],
          },
        ],
      }),
      '',
    );
    const rule = r.inbounds[0]!;
    assert.deepEqual(rule.sources[0], {
      service: '*',
      namespace: '*',
      match: { $caller_ip: { type: 'IN', value: '1.1.1.1,2.2.2.2', valueType: 'TEXT' } },
    });
    assert.equal(rule.destinations[0]!.namespace, 'ns');
    assert.equal(rule.destinations[0]!.weight, 0, 'an explicit 0 weight is kept');
  });

  it('skips malformed rules with path-prefixed reasons and keeps the others', () => {
    const routing = PRouting.fromPartial({
      inbounds: [
        route('bad-type', '0000', 'callee', {
          sources: [{ service: 'c', namespace: 'ns', metadata: { $path: { type: 42, value: '/' } } }],
        }),
        route('bad-value-type', '0000', 'callee', {
          destinations: [
            { service: 'callee', namespace: 'ns', metadata: { v: { type: 0, value: 'x', valueType: 7 } } },
          ],
        }),
        route('bad-priority', 'high'),
        route('no-dest', '0000', 'callee', { destinations: [] }),
        route('good', '0003'),
      ],
    });
    const { routing: r, skipped } = convertRouting('ns', 'callee', routing, '');
    assert.deepEqual(
      r.inbounds.map((x) => x.id),
      ['good#0'],
    );
    assert.deepEqual(
      skipped.map((s) => [s.id, s.reason]),
      [
        ['bad-type#0', 'inbounds[0].sources[0].metadata["$path"].type: unknown match type 42'],
        ['bad-value-type#0', 'inbounds[1].destinations[0].metadata["v"].value_type: unknown value type 7'],
        ['bad-priority#0', 'inbounds[2].extendInfo.__routing_v2_priority__: "high" is not a number'],
        ['no-dest#0', 'inbounds[3].destinations: empty'],
      ],
    );
    assert.ok(skipped.every((s) => s.kind === 'rule' && s.service === 'ns/callee'));
  });

  it('treats a missing routing payload as no rules', () => {
    const { routing: r } = convertRouting('ns', 's', undefined, 'x');
    assert.deepEqual(r, { inbounds: [], outbounds: [], revision: 'x' });
  });
});

describe('argumentKey', () => {
  it('encodes v2 arguments as the server does', () => {
    assert.deepEqual(
      (['CUSTOM', 'METHOD', 'HEADER', 'QUERY', 'CALLER_IP', 'PATH', 'COOKIE'] as const).map((t) => argumentKey(t, 'k')),
      ['k', '$method', '$header.k', '$query.k', '$caller_ip', '$path', '$cookie.k'],
    );
  });
});
