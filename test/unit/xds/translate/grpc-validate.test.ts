// grpc-js-xds accepts what proxyless clients are served: a real grpc-js-xds client, through the
// library's public API, fetches every resource of a proxyless snapshot from a polaris-xds server
// and runs it through its own validators (the code that NACKs): it must ACK every one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, SHORT_NAMES } from '../../../../src/xds/resource.js';
import { grpcVerdict } from '../../../support/grpc-xds-client.js';
import { dest, instance, mesh, ms, proxyless, rule, service, source } from './support/fixtures.js';

test('grpc-js-xds accepts every listener, route configuration, cluster and assignment of a proxyless view', async () => {
  const api = service(
    'prod',
    'api',
    [
      instance('a1', '127.0.0.1', {
        metadata: { version: 'v1' },
        protocol: 'grpc',
        locality: { region: 'r', zone: 'z1', campus: '' },
      }),
      instance('a2', '127.0.0.2', {
        metadata: { version: 'v2' },
        protocol: 'grpc',
        healthy: false,
        locality: { region: 'r', zone: 'z2', campus: '' },
      }),
      instance('a3', '::1', { metadata: { version: 'v2' }, protocol: 'grpc' }),
      instance('a4', 'not-an-ip', { metadata: { version: 'v2' } }),
      instance('a5', '127.0.0.1', { metadata: { version: 'v1' } }),
    ],
    {
      metadata: { 'polaris-xds.io/nearby': 'zone' },
      inbounds: [
        rule(
          'by-user',
          [source({ '$header.x-user': ms('IN', 'a,b'), $path: ms('REGEX', '^/pkg.Api/') })],
          [
            dest({ version: ms('EXACT', 'v2') }, { weight: 9 }),
            dest({ version: ms('EXACT', 'v1') }, { weight: 1 }),
            dest({}, { priority: 2 }),
          ],
        ),
        rule(
          'not-user',
          [source({ '$header.x-user': ms('NOT_EQUALS', 'c'), '$header.x-n': ms('RANGE', '1~9') })],
          [dest({ version: ms('EXACT', 'v1') })],
        ),
        rule('cookie', [source({ '$cookie.k': ms('EXACT', 'v') })], [dest({ version: ms('EXACT', 'v2') })]),
      ],
    },
  );
  // Loopback addresses: the client connects to them once resolved, and nothing listening there
  // refuses at once (an unroutable address would hold the test's process open for a connect timeout).
  const m = mesh(api, service('prod', 'web', [instance('w', '127.0.1.1', { port: 50051 })]), service('dev', 'api', []));
  const t = createTranslator().translate(
    m,
    proxyless('prod', { service: 'web', locality: { region: 'r', zone: 'z1' } }),
  );
  const verdict = await grpcVerdict(t.snapshot);
  assert.deepEqual(verdict.nacks, {}, 'no type NACKed');
  for (const type of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE] as const) {
    const short = SHORT_NAMES[type];
    const all = [...t.snapshot.resources[type].items.keys()].sort();
    assert.deepEqual(
      [...verdict.asked[short]!].sort(),
      all.slice(0, 100),
      `the client fetched every ${short} resource`,
    );
  }
  assert.ok(t.snapshot.resources[CLUSTER_TYPE].items.size + t.snapshot.resources[LISTENER_TYPE].items.size > 8);
  // The rule routes made it (not everything was skipped).
  assert.ok(t.snapshot.resources[CLUSTER_TYPE].items.size >= 5);
});
