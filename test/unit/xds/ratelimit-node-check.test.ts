// A node that asks for the rate-limit service's configuration without the node id that gets it
// served is named in one warning (per node id); the rate-limit service itself and Envoys are not.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { Logger } from '../../../src/log.js';
import { limiterNodeCheck } from '../../../src/xds/ratelimit-node-check.js';
import { LISTENER_TYPE, RATELIMIT_CONFIG_TYPE, type TypeUrl } from '../../../src/xds/resource.js';

it('warns once per node id that asks for rate-limit configuration without a ratelimit~ id', () => {
  const warnings: string[] = [];
  const logger = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as Logger;
  const check = limiterNodeCheck(logger);
  const ask = (nodeId: string | undefined, typeUrl: TypeUrl) =>
    check.onRequest({ streamId: 1, mode: 'sotw', peer: '', nodeId, typeUrl, request: {} as never });
  ask('ratelimit~rl-0', RATELIMIT_CONFIG_TYPE);
  ask('default/abc~10.0.0.1', LISTENER_TYPE);
  assert.deepEqual(warnings, []);
  ask('default', RATELIMIT_CONFIG_TYPE);
  ask('default', RATELIMIT_CONFIG_TYPE);
  assert.equal(warnings.length, 1);
  assert.match(
    warnings[0]!,
    /node "default" asks for rate-limit configuration but is served none: .*CONFIG_GRPC_XDS_NODE_ID=ratelimit~<name>/,
  );
});
