// The Discover connector: answers come back on one stream; a dead address fails the requests in
// flight and the next request goes to the next address; a silent stream is dropped after the
// request timeout; connection changes are told to listeners, and a failing address waits out its
// backoff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { discoverRequest } from '../../../../src/sync/keys.js';
import {
  DiscoverConnector,
  StreamFailure,
  type ConnectionStatus,
} from '../../../../src/sync/serverconnector/connector.js';
import { FakePolaris } from '../../../support/fake-polaris.js';
import { captureLogger } from '../helpers.js';

const INSTANCES = discoverRequest({ type: 'INSTANCE', namespace: 'ns1', service: 'a' }, '');

test('answers on one stream; a dead address fails what is in flight and the next request goes to the next address', async (t) => {
  const a = await FakePolaris.start();
  const b = await FakePolaris.start();
  t.after(() => Promise.all([a.stop(), b.stop()]));
  for (const f of [a, b]) f.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 80 }] });
  const changes: ConnectionStatus[] = [];
  const failures: string[] = [];
  const c = new DiscoverConnector({
    addresses: [a.address, b.address],
    requestTimeoutMs: 2000,
    logger: captureLogger().logger,
    backoff: { initialMs: 60_000, maxMs: 60_000 },
    onStreamFailure: (address) => failures.push(address),
  });
  t.after(() => c.close());
  c.onChange((s) => changes.push(s));
  const first = await c.discover(INSTANCES);
  assert.equal(first.code, 200000);
  assert.deepEqual(c.status(), { connected: true, address: a.address });
  assert.equal(a.requests.length, 1);
  // a goes silent: the request in flight fails when a is stopped.
  a.faults = { silent: true };
  const pending = c.discover(INSTANCES);
  await a.stop();
  await assert.rejects(pending, (err: unknown) => err instanceof StreamFailure);
  assert.deepEqual(failures, [a.address]);
  // The next request is sent to b (a waits out its backoff), and the change is told.
  const second = await c.discover(INSTANCES);
  assert.equal(second.code, 200000);
  assert.equal(b.requests.length, 1);
  assert.deepEqual(c.status(), { connected: true, address: b.address });
  assert.deepEqual(
    changes.map((s) => [s.connected, s.address]),
    [
      [true, a.address],
      [false, a.address],
      [false, b.address],
      [true, b.address],
    ],
  );
});

test('a silent stream is dropped after the request timeout, and the address backs off', async (t) => {
  const a = await FakePolaris.start();
  t.after(() => a.stop());
  a.faults = { silent: true };
  const c = new DiscoverConnector({
    addresses: [a.address],
    requestTimeoutMs: 200,
    logger: captureLogger().logger,
    backoff: { initialMs: 60_000, maxMs: 60_000 },
  });
  t.after(() => c.close());
  await assert.rejects(
    c.discover(INSTANCES),
    (err: unknown) => err instanceof StreamFailure && /no answer within 200 ms/.test(err.message),
  );
  assert.equal(c.status().connected, false);
  assert.match(c.status().lastError ?? '', /no answer within 200 ms/);
  // Within its backoff the address is not tried again: the request fails at once, unsent.
  const sent = a.requests.length;
  await assert.rejects(c.discover(INSTANCES), (err: unknown) => err instanceof StreamFailure);
  assert.equal(a.requests.length, sent);
});
