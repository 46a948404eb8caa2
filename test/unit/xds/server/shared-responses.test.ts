// Responses with the same content are encoded once and written as the same bytes to every stream
// they are due on; a nonce still never repeats on a stream for its type (the ResponseChecker of
// every MockCall records a repeat as a violation).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAdsHandlers } from '../../../../src/xds/server/ads.js';
import { SharedResponses } from '../../../../src/xds/server/shared-responses.js';
import { TYPES, type DeltaResponse, type SotwResponse } from '../../../support/ads-client.js';
import { endpoints, FakeWatcher, simpleMesh, snapshotOf } from '../../../support/fake-watcher.js';
import { MockCall, tick } from './mock-call.js';

const { cds, eds } = TYPES;

describe('shared responses', () => {
  it('streams sent the same content get the same bytes; other content gets other bytes and nonces', async () => {
    const watcher = new FakeWatcher(simpleMesh(['a', 'b']));
    const ads = createAdsHandlers({ watcher });
    const calls = [0, 1, 2].map(() => new MockCall<DeltaResponse>('delta'));
    for (const c of calls) {
      ads.delta(c);
      c.delta({ typeUrl: cds });
    }
    await tick();
    const first = calls.map((c) => c.responses[0]!);
    assert.ok(
      first.every((r) => r.raw.equals(first[0]!.raw)),
      'the same CDS response, byte for byte',
    );
    for (const [i, c] of calls.entries())
      c.delta({ typeUrl: eds, subscribe: i === 2 ? ['b'] : ['a'], nonce: first[i]!.nonce });
    await tick();
    const [a0, a1, b2] = calls.map((c) => c.responses[1]!);
    assert.deepEqual([a0!.names, a1!.names, b2!.names], [['a'], ['a'], ['b']]);
    assert.ok(a0!.raw.equals(a1!.raw));
    assert.notEqual(b2!.nonce, a0!.nonce);
    for (const c of calls) assert.deepEqual(c.violations, []);
  });

  it('the same content again on one stream gets a nonce of its own', async () => {
    const watcher = new FakeWatcher(simpleMesh(['a']));
    const ads = createAdsHandlers({ watcher });
    const call = new MockCall<DeltaResponse>('delta');
    ads.delta(call);
    const other = new MockCall<DeltaResponse>('delta');
    ads.delta(other);
    for (const c of [call, other]) c.delta({ typeUrl: eds, subscribe: ['a'] });
    await tick();
    const r1 = call.responses[0]!;
    // Unsubscribed and subscribed again: the resource is sent again, unchanged.
    call.delta({ typeUrl: eds, unsubscribe: ['a'], nonce: r1.nonce });
    call.delta({ typeUrl: eds, subscribe: ['a'] });
    await tick();
    const r2 = call.responses[1]!;
    assert.deepEqual(r2.names, ['a']);
    assert.notEqual(r2.nonce, r1.nonce);
    assert.equal(r2.systemVersion, r2.nonce);
    assert.deepEqual(call.violations, []);
    // The other stream, which never had it twice, still shares the first bytes.
    assert.ok(other.responses[0]!.raw.equals(r1.raw));
  });

  it('SotW responses share bytes only with equal version_info too', async () => {
    const watcher = new FakeWatcher(snapshotOf({ endpoints: [endpoints('a')] }));
    const ads = createAdsHandlers({ watcher });
    const calls = [0, 1].map(() => new MockCall<SotwResponse>('sotw'));
    for (const c of calls) {
      ads.sotw(c);
      c.sotw({ typeUrl: eds, names: ['a'] });
    }
    await tick();
    assert.ok(calls[0]!.responses[0]!.raw.equals(calls[1]!.responses[0]!.raw));
    watcher.set(snapshotOf({ endpoints: [endpoints('a', [1])] }));
    await tick();
    const [n0, n1] = calls.map((c) => c.responses[1]!);
    assert.notEqual(n0!.version, calls[0]!.responses[0]!.version);
    assert.ok(n0!.raw.equals(n1!.raw));
    for (const c of calls) assert.deepEqual(c.violations, []);
  });

  it('keeps recent contents within its byte budget and never caches one that would take most of it', () => {
    const cache = new SharedResponses(1000);
    let encodes = 0;
    const encode = (size: number) => (nonce: string) => {
      encodes++;
      return Buffer.alloc(size, nonce);
    };
    const a = cache.get('a', encode(100));
    assert.equal(cache.get('a', encode(100)), a);
    assert.equal(encodes, 1);
    const big = cache.get('big', encode(500));
    assert.notEqual(cache.get('big', encode(500)).nonce, big.nonce, 'over an eighth of the budget: not kept');
    for (let i = 0; i < 12; i++) cache.get(`k${i}`, encode(100));
    const again = cache.get('a', encode(100));
    assert.ok(again.id > a.id, 'the oldest content was dropped and gets a new id');
  });

  it('a content naming what a client chose is kept only once a second stream is sent it', () => {
    const cache = new SharedResponses(1000);
    const encode = (nonce: string) => Buffer.from(nonce);
    const once = cache.get('-3:abc', encode, true);
    const twice = cache.get('-3:abc', encode, true);
    assert.notEqual(twice.id, once.id, 'not kept after its first use');
    assert.equal(cache.get('-3:abc', encode, true), twice, 'kept after its second');
  });
});
