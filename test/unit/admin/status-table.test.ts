import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatStatus, typeState } from '../../../src/admin/status-table.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  RATELIMIT_CONFIG_TYPE,
  ROUTE_TYPE,
  VHOST_TYPE,
} from '../../../src/xds/resource.js';

const synced = { sentVersion: 'v1', sentNonce: '4', ackedVersion: 'v1', ackedNonce: '4', pending: false };

describe('typeState', () => {
  const cases: Array<[string, Parameters<typeof typeState>[0], string]> = [
    ['never asked', undefined, '-'],
    ['asked, nothing sent', { pending: true }, 'NOT SENT'],
    ['latest response ACKed', synced, 'SYNCED'],
    ['latest response unanswered', { ...synced, sentNonce: '5', sentVersion: 'v2' }, 'STALE'],
    ['ACKed but a newer response is due', { ...synced, pending: true }, 'STALE'],
    [
      'latest response NACKed',
      { ...synced, sentNonce: '5', sentVersion: 'v2', lastNack: { nonce: '5', version: 'v2' } },
      'NACKED',
    ],
    ['an older NACK, latest ACKed', { ...synced, lastNack: { nonce: '2', version: 'v0' } }, 'SYNCED'],
    ['rows without nonces compare versions', { sentVersion: 'v1', ackedVersion: 'v1' }, 'SYNCED'],
  ];
  for (const [name, input, want] of cases) it(name, () => assert.equal(typeState(input), want));
});

describe('formatStatus', () => {
  it("renders one aligned row per stream with node, service, mode, the types in push order (the rate-limit service's last) and what an on-demand sidecar holds", () => {
    const out = formatStatus([
      {
        nodeId: 'default/a~10.0.0.1',
        service: 'web',
        namespace: 'default',
        mode: 'sotw',
        types: {
          [CLUSTER_TYPE]: synced,
          [ENDPOINT_TYPE]: synced,
          [LISTENER_TYPE]: { ...synced, lastNack: { nonce: '4' } },
          [ROUTE_TYPE]: synced,
        },
      },
      { nodeId: 'x', mode: 'delta', types: {} },
      { nodeId: 'ratelimit~rl-0', mode: 'sotw', types: { [RATELIMIT_CONFIG_TYPE]: synced } },
      { nodeId: 'od', mode: 'delta', types: { [VHOST_TYPE]: synced }, onDemand: { virtualHosts: 3, clusters: 5 } },
    ]);
    const lines = out.split('\n');
    assert.deepEqual(lines[0]!.split(/\s+/), [
      'NODE',
      'SERVICE',
      'MODE',
      'CDS',
      'EDS',
      'LDS',
      'RDS',
      'VHDS',
      'RLS',
      'ON-DEMAND',
    ]);
    assert.deepEqual(lines[1]!.split(/\s+/), [
      'default/a~10.0.0.1',
      'web.default',
      'sotw',
      'SYNCED',
      'SYNCED',
      'NACKED',
      'SYNCED',
      '-',
      '-',
      '-',
    ]);
    assert.deepEqual(lines[2]!.split(/\s+/), ['x', '-', 'delta', '-', '-', '-', '-', '-', '-', '-']);
    assert.deepEqual(lines[3]!.split(/\s+/), ['ratelimit~rl-0', '-', 'sotw', '-', '-', '-', '-', '-', 'SYNCED', '-']);
    assert.deepEqual(lines[4]!.split(/\s+/), ['od', '-', 'delta', '-', '-', '-', '-', 'SYNCED', '-', '3vh/5c']);
    // Columns for VHDS, the limiter's configuration and on-demand holdings only when a stream has them.
    const plain = formatStatus([{ nodeId: 'x', mode: 'delta', types: { [CLUSTER_TYPE]: synced } }]).split('\n');
    assert.deepEqual(plain[0]!.split(/\s+/), ['NODE', 'SERVICE', 'MODE', 'CDS', 'EDS', 'LDS', 'RDS']);
    const col = lines[0]!.indexOf('CDS');
    assert.equal(lines[1]!.indexOf('SYNCED'), col, 'columns line up');
  });

  it('accepts { streams: [...] } and rejects anything that is not a syncz answer', () => {
    assert.equal(formatStatus({ streams: [] }).trim().split('\n').length, 1);
    assert.throws(() => formatStatus({ error: 'nope' }), /not a \/debug\/syncz answer/);
  });
});
