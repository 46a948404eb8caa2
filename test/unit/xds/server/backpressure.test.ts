// Backpressure (invariant 8): a stream that cannot write stops, keeps only "a response of this type
// is due", and later sends the latest state once — in push order, with bounded memory.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdsHandlers } from '../../../../src/xds/server/ads.js';
import { TYPES, type SotwResponse } from '../../../support/ads-client.js';
import { cluster, endpoints, FakeWatcher, listener, route, snapshotOf } from '../../../support/fake-watcher.js';
import { MockCall, tick } from './mock-call.js';

const { cds, eds, lds, rds } = TYPES;
const mesh = (timeoutS: number) =>
  snapshotOf({
    clusters: [cluster('a', { timeoutS }), cluster('b')],
    endpoints: [endpoints('a', [timeoutS]), endpoints('b')],
  });

async function subscribed(watcher: FakeWatcher, opts: Parameters<typeof createAdsHandlers>[0]['limits'] = {}) {
  const ads = createAdsHandlers({ watcher, limits: opts });
  const call = new MockCall<SotwResponse>('sotw');
  ads.sotw(call);
  call.sotw({ typeUrl: cds });
  await tick();
  call.sotw({ typeUrl: cds, version: call.responses[0]!.version, nonce: call.responses[0]!.nonce });
  call.sotw({ typeUrl: eds, names: ['a', 'b'] });
  await tick();
  const e = call.responses[1]!;
  call.sotw({ typeUrl: eds, names: ['a', 'b'], version: e.version, nonce: e.nonce });
  await tick();
  assert.equal(call.responses.length, 2);
  return { ads, call };
}

describe('backpressure', () => {
  it('write() returning false stops writing until drain; then only the latest state goes out, in push order', async () => {
    const watcher = new FakeWatcher(mesh(1));
    const { ads, call } = await subscribed(watcher);
    call.writable = false;
    watcher.set(mesh(2));
    await tick();
    // CDS was written (write() said false after it), EDS waits.
    assert.deepEqual(
      call.responses.map((r) => r.typeUrl),
      [cds, eds, cds],
    );
    for (let v = 3; v <= 50; v++) {
      watcher.set(mesh(v));
      await tick();
    }
    assert.equal(call.responses.length, 3, 'nothing written while waiting for drain');
    assert.equal(ads.status()[0]!.blocked, true);
    assert.equal(ads.status()[0]!.types[eds]!.pending, true);
    call.drain();
    await tick();
    const after = call.responses.slice(3);
    assert.deepEqual(
      after.map((r) => r.typeUrl),
      [cds, eds],
    );
    assert.equal(after[0]!.resources.find((x) => x.name === 'a')!.value.connect_timeout.seconds, '50');
    assert.equal(
      after[1]!.resources[0]!.value.endpoints[0].lb_endpoints[0].endpoint.address.socket_address.port_value,
      50,
    );
    assert.equal(ads.status()[0]!.counters.writesBlocked, 1);
    assert.deepEqual(call.violations, []);
  });

  it('responses not yet flushed count too: at most maxInFlightResponses are outstanding', async () => {
    const watcher = new FakeWatcher(mesh(1));
    const { ads, call } = await subscribed(watcher, { maxInFlightResponses: 2 });
    call.autoFlush = false;
    for (let v = 2; v <= 40; v++) {
      watcher.set(mesh(v));
      await tick();
    }
    assert.equal(call.unflushedCount, 2, 'only two responses in flight');
    assert.equal(call.responses.length, 4);
    call.autoFlush = true;
    call.flush();
    await tick();
    await tick();
    const last = call.responses.slice(-2);
    assert.deepEqual(
      last.map((r) => r.typeUrl),
      [cds, eds],
    );
    assert.equal(last[0]!.resources.find((x) => x.name === 'a')!.value.connect_timeout.seconds, '40');
    assert.equal(call.responses.length <= 6, true, `coalesced: ${call.responses.length} responses for 39 changes`);
    assert.equal(ads.status()[0]!.blocked, false);
    assert.deepEqual(call.violations, []);
  });

  it('a blocked stream does not hold up another stream', async () => {
    const watcher = new FakeWatcher(mesh(1));
    const slow = await subscribed(watcher);
    const ads = slow.ads;
    const fast = new MockCall<SotwResponse>('sotw');
    ads.sotw(fast);
    fast.sotw({ typeUrl: cds, node: { id: 'fast' } });
    await tick();
    fast.sotw({ typeUrl: cds, version: fast.responses[0]!.version, nonce: fast.responses[0]!.nonce });
    slow.call.writable = false;
    slow.call.autoFlush = false;
    for (let v = 2; v <= 5; v++) {
      watcher.set(mesh(v));
      await tick();
      const r = fast.responses.at(-1)!;
      fast.sotw({ typeUrl: cds, version: r.version, nonce: r.nonce });
    }
    assert.equal(fast.responses.length, 5);
    assert.equal(slow.call.responses.length, 3);
  });

  it('a cancelled stream with writes pending leaves nothing behind', async () => {
    const watcher = new FakeWatcher(mesh(1));
    const { ads, call } = await subscribed(watcher);
    call.writable = false;
    call.autoFlush = false;
    watcher.set(mesh(2));
    await tick();
    call.cancel();
    watcher.set(mesh(3));
    await tick();
    assert.equal(ads.streamCount(), 0);
    assert.equal(watcher.open, 0);
    assert.equal(call.listenerCount('drain'), 0);
    assert.equal(call.listenerCount('data'), 0);
  });

  it('clusters dropped while the stream is blocked are removed only after the routes are written, even past retainRemovedMs', async () => {
    const mesh2 = (clusters: string[]) =>
      snapshotOf({
        clusters: clusters.map((n) => cluster(n)),
        endpoints: clusters.map((n) => endpoints(n)),
        listeners: [listener('l', 'r')],
        routes: [route('r', clusters)],
      });
    const watcher = new FakeWatcher(mesh2(['a', 'b']));
    const ads = createAdsHandlers({ watcher, limits: { retainRemovedMs: 40 } });
    const call = new MockCall<SotwResponse>('sotw');
    ads.sotw(call);
    for (const [typeUrl, names] of [
      [cds, []],
      [eds, ['a', 'b']],
      [lds, []],
      [rds, ['r']],
    ] as const) {
      call.sotw({ typeUrl, names: [...names] });
      await tick();
      const r = call.responses.at(-1)!;
      call.sotw({ typeUrl, names: [...names], version: r.version, nonce: r.nonce });
    }
    call.writable = false;
    call.autoFlush = false;
    watcher.set(mesh2(['b', 'c']));
    await tick();
    assert.deepEqual(call.responses.at(-1)!.names, ['a', 'b', 'c']);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(call.responses.length, 5, 'blocked: nothing more, and no early removal');
    call.autoFlush = true;
    call.flush();
    call.drain();
    await new Promise((r) => setTimeout(r, 150));
    const rest = call.responses.slice(5).map((r) => [r.typeUrl, r.names.join(',')]);
    assert.deepEqual(rest, [
      [rds, 'r'],
      [cds, 'b,c'],
    ]);
    assert.deepEqual(call.violations, []);
  });
});
