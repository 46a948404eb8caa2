import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  Rule_AmountMode,
  Rule_FailoverType,
  Rule_Resource,
  Rule_Type,
  MatchArgument_Type,
  RateLimit,
} from '../../../src/gen/v1/ratelimit.js';
import { FaultDetector } from '../../../src/gen/v1/fault_detector.js';
import { convertFaultDetectors, convertRateLimits } from '../../../src/sync/convert-governance.js';
import { rateLimit } from '../../support/governance.js';

describe('governance conversion', () => {
  it('carries every field of a rate-limit rule into the model, ordered by priority then id', () => {
    const full = {
      id: 'r2',
      name: 'api-5qps',
      service: 'echo',
      namespace: 'ns',
      subset: { env: { type: 0, value: 'prod' } },
      priority: 1,
      resource: Rule_Resource.CONCURRENCY,
      type: Rule_Type.LOCAL,
      labels: { 'x-user': { type: 3, value: 'a,b' } },
      amounts: [
        {
          maxAmount: 3,
          validDuration: { seconds: 1, nanos: 500_000_000 },
          precision: 10,
          startAmount: 1,
          minAmount: 2,
        },
      ],
      action: 'UNIRATE',
      disable: true,
      report: { interval: { seconds: 2, nanos: 0 }, amountPercent: 80 },
      ctime: 'c',
      mtime: 'm',
      revision: 'rev',
      adjuster: { climb: { enable: true } },
      regexCombine: true,
      amountMode: Rule_AmountMode.SHARE_EQUALLY,
      failover: Rule_FailoverType.FAILOVER_PASS,
      cluster: { service: 'limiter', namespace: 'Polaris' },
      method: { type: 1, value: '^/api' },
      arguments: [{ type: MatchArgument_Type.CALLER_SERVICE, key: 'ns', value: { type: 0, value: 'web' } }],
      etime: 'e',
      maxQueueDelay: 7,
      concurrencyAmount: { maxAmount: 9 },
      customResponse: { body: 'slow down' },
      metadata: { b: '2', a: '1' },
    };
    const { value, skipped } = convertRateLimits(
      'ns',
      'echo',
      RateLimit.fromPartial({
        rules: [full, { id: 'r1', priority: 1 }, { id: 'r0', priority: 0 }, { id: 'bad', type: 7 as Rule_Type }],
        revision: 'x',
      }),
      'x',
    );
    assert.deepEqual(
      value.rules.map((r) => r.id),
      ['r0', 'r1', 'r2'],
    );
    assert.deepEqual(skipped, [
      { service: 'ns/echo', kind: 'rate-limit', id: 'bad', reason: 'rules[3].type: unknown value 7' },
    ]);
    assert.deepEqual(value.rules[2], {
      ...rateLimit('ns', 'echo'),
      id: 'r2',
      name: 'api-5qps',
      priority: 1,
      resource: 'CONCURRENCY',
      type: 'LOCAL',
      subset: { env: { type: 'EXACT', value: 'prod', valueType: 'TEXT' } },
      labels: { 'x-user': { type: 'IN', value: 'a,b', valueType: 'TEXT' } },
      amounts: [
        {
          maxAmount: 3,
          validDuration: { seconds: 1, nanos: 500_000_000 },
          precision: 10,
          startAmount: 1,
          minAmount: 2,
        },
      ],
      action: 'UNIRATE',
      disable: true,
      report: { interval: { seconds: 2, nanos: 0 }, amountPercent: 80 },
      ctime: 'c',
      mtime: 'm',
      etime: 'e',
      revision: 'rev',
      climbEnabled: true,
      regexCombine: true,
      amountMode: 'SHARE_EQUALLY',
      failover: 'FAILOVER_PASS',
      cluster: { service: 'limiter', namespace: 'Polaris' },
      method: { type: 'REGEX', value: '^/api', valueType: 'TEXT' },
      arguments: [{ type: 'CALLER_SERVICE', key: 'ns', value: { type: 'EXACT', value: 'web', valueType: 'TEXT' } }],
      maxQueueDelaySeconds: 7,
      concurrencyMaxAmount: 9,
      customResponseBody: 'slow down',
      metadata: { a: '1', b: '2' },
    });
    // Absent wrappers take their zero values; an absent method means any.
    const bare = value.rules[0]!;
    assert.equal(bare.method, undefined);
    assert.deepEqual(
      [bare.type, bare.resource, bare.amountMode, bare.failover, bare.disable],
      ['GLOBAL', 'QPS', 'GLOBAL_TOTAL', 'FAILOVER_LOCAL', false],
    );
  });

  it("carries a fault detector's checks, TCP and UDP payloads included", () => {
    const { value } = convertFaultDetectors(
      'ns',
      'echo',
      FaultDetector.fromPartial({
        rules: [
          {
            id: 'f',
            protocol: 2,
            port: 9,
            tcpConfig: { send: '01', receive: ['02', '03'] },
            udpConfig: { send: 'aa', receive: ['bb'] },
          },
        ],
      }),
      'x',
    );
    assert.deepEqual(
      [value.rules[0]!.protocol, value.rules[0]!.port, value.rules[0]!.tcp, value.rules[0]!.udp],
      ['TCP', 9, { send: '01', receive: ['02', '03'] }, { send: 'aa', receive: ['bb'] }],
    );
  });
});
