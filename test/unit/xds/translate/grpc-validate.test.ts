// grpc-js-xds accepts what proxyless clients are served: every resource of a proxyless snapshot
// goes through the library's own resource decoders (the code that NACKs), which must return no error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, type TypeUrl } from '../../../../src/xds/resource.js';
import { anyParts } from './support/envoy-protos.js';
import { dest, instance, mesh, ms, proxyless, rule, service, source } from './support/fixtures.js';

const require = createRequire(import.meta.url);
// register() fills the library's HTTP filter and load balancer registries, as a real client does.
(require('@grpc/grpc-js-xds') as { register(): void }).register();
const base = '@grpc/grpc-js-xds/build/src/xds-resource-type';
interface ResourceType {
  decode(context: unknown, resource: { type_url: string; value: Buffer }): { name: string; value?: unknown; error?: string };
}
const load = (file: string, name: string): ResourceType => (require(`${base}/${file}`) as Record<string, { get(): ResourceType }>)[name]!.get();
const DECODERS: Partial<Record<TypeUrl, ResourceType>> = {
  [CLUSTER_TYPE]: load('cluster-resource-type.js', 'ClusterResourceType'),
  [ENDPOINT_TYPE]: load('endpoint-resource-type.js', 'EndpointResourceType'),
  [LISTENER_TYPE]: load('listener-resource-type.js', 'ListenerResourceType'),
  [ROUTE_TYPE]: load('route-config-resource-type.js', 'RouteConfigurationResourceType'),
};
const CONTEXT = { server: { serverUri: 'localhost:1', channelCreds: [], serverFeatures: [] }, bootstrap: { certificateProviders: {} } };

test('grpc-js-xds accepts every listener, route configuration, cluster and assignment of a proxyless view', () => {
  const api = service(
    'prod',
    'api',
    [
      instance('a1', '10.0.0.1', { metadata: { version: 'v1' }, protocol: 'grpc', locality: { region: 'r', zone: 'z1', campus: '' } }),
      instance('a2', '10.0.0.2', { metadata: { version: 'v2' }, protocol: 'grpc', healthy: false, locality: { region: 'r', zone: 'z2', campus: '' } }),
      instance('a3', 'fd00::3', { metadata: { version: 'v2' }, protocol: 'grpc' }),
      instance('a4', 'not-an-ip', { metadata: { version: 'v2' } }),
      instance('a5', '10.0.0.1', { metadata: { version: 'v1' } }),
    ],
    {
      metadata: { 'polaris-xds.io/nearby': 'zone' },
      inbounds: [
        rule('by-user', [source({ '$header.x-user': ms('IN', 'a,b'), $path: ms('REGEX', '^/pkg.Api/') })], [dest({ version: ms('EXACT', 'v2') }, { weight: 9 }), dest({ version: ms('EXACT', 'v1') }, { weight: 1 }), dest({}, { priority: 2 })]),
        rule('not-user', [source({ '$header.x-user': ms('NOT_EQUALS', 'c'), '$header.x-n': ms('RANGE', '1~9') })], [dest({ version: ms('EXACT', 'v1') })]),
        rule('cookie', [source({ '$cookie.k': ms('EXACT', 'v') })], [dest({ version: ms('EXACT', 'v2') })]),
      ],
    },
  );
  const m = mesh(api, service('prod', 'web', [instance('w', '10.0.1.1', { port: 50051 })]), service('dev', 'api', []));
  const t = createTranslator().translate(m, proxyless('prod', { service: 'web', locality: { region: 'r', zone: 'z1' } }));
  let checked = 0;
  for (const type of [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE] as const) {
    for (const [name, r] of t.snapshot.resources[type].items) {
      const { typeUrl, value } = anyParts(r.any);
      const result = DECODERS[type]!.decode(CONTEXT, { type_url: typeUrl, value });
      assert.equal(result.error, undefined, `${name}: ${result.error}`);
      assert.equal(result.name, name);
      checked++;
    }
  }
  assert.ok(checked > 15, `only ${checked} resources`);
  // The rule routes made it (not everything was skipped).
  assert.ok(t.snapshot.resources[CLUSTER_TYPE].items.size >= 5);
});
