// Delta: a snapshot set that grows by names a client has not subscribed to yet (a new service's
// assignment before Envoy asks for it) costs the stream nothing, and what follows is exact.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdsHandlers } from '../../../../src/xds/server/ads.js';
import { TYPES, type DeltaResponse } from '../../../support/ads-client.js';
import { endpoints, FakeWatcher, snapshotOf } from '../../../support/fake-watcher.js';
import { MockCall, tick } from './mock-call.js';

const { eds } = TYPES;

describe('Delta: a set that grows by names not subscribed yet', () => {
  const eds3 = (a: number[], withC: boolean) =>
    snapshotOf({ endpoints: [endpoints('a', a), endpoints('b'), ...(withC ? [endpoints('c')] : [])] });

  /** holdingAB is a Delta stream that subscribed to a and b and ACKed them. */
  async function holdingAB(): Promise<{ watcher: FakeWatcher; call: MockCall<DeltaResponse> }> {
    const watcher = new FakeWatcher(eds3([8080], false));
    const ads = createAdsHandlers({ watcher });
    const call = new MockCall<DeltaResponse>('delta');
    ads.delta(call);
    call.delta({ typeUrl: eds, subscribe: ['a', 'b'] });
    await tick();
    call.delta({ typeUrl: eds, nonce: call.responses[0]!.nonce });
    return { watcher, call };
  }

  it('sends nothing until the new name is subscribed, then only it; a change with it sends only what changed', async () => {
    const { watcher, call } = await holdingAB();
    assert.deepEqual(call.responses[0]!.names, ['a', 'b']);
    watcher.set(eds3([8080], true));
    await tick();
    assert.equal(call.responses.length, 1, 'c is not subscribed: nothing to send');
    call.delta({ typeUrl: eds, subscribe: ['c'] });
    await tick();
    assert.deepEqual(call.responses[1]!.names, ['c']);
    call.delta({ typeUrl: eds, nonce: call.responses[1]!.nonce });
    // The set grows again while a changes: only a is sent.
    watcher.set(snapshotOf({ endpoints: [endpoints('a', [9090]), endpoints('b'), endpoints('c'), endpoints('d')] }));
    await tick();
    assert.deepEqual(call.responses[2]!.names, ['a']);
    assert.deepEqual(call.responses[2]!.removed, []);
    assert.equal(call.responses.length, 3);
    assert.deepEqual(call.violations, []);
  });

  it('a subscribed name that goes away while the set grows is told as removed', async () => {
    const { watcher, call } = await holdingAB();
    watcher.set(snapshotOf({ endpoints: [endpoints('a'), endpoints('c')] }));
    await tick();
    assert.deepEqual(call.responses[1]!.names, []);
    assert.deepEqual(call.responses[1]!.removed, ['b']);
    assert.deepEqual(call.violations, []);
  });
});
