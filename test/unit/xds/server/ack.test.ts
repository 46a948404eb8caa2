// ACK/NACK bookkeeping of one type on one stream: an answer pairs with the response of its nonce
// and settles every older one; error_detail alone makes a NACK, which parks the version (SotW) or
// the resources' versions (Delta); unknown nonces are not answers; what is kept is bounded.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AckState } from '../../../../src/xds/server/ack.js';

const sent = (nonce: string, version: string, at = 0, resources?: Array<{ name: string; version: string }>) => ({
  nonce,
  version,
  wireVersion: version,
  at,
  ...(resources ? { resources } : {}),
});

test('an ACK pairs with its response, settles the older ones, and reports the latency', () => {
  const a = new AckState();
  a.recordSent(sent('1', 'v1', 100));
  a.recordSent(sent('2', 'v2', 200));
  assert.equal(a.settled(), false);
  assert.deepEqual(a.answer('2', undefined, 'v2', 250), { kind: 'ack', nonce: '2', version: 'v2', latencyMs: 50 });
  assert.equal(a.settled(), true);
  assert.equal(a.isOutstanding('1'), false, 'the older response is settled too');
  assert.equal(a.answer('1', undefined, 'v1', 300), undefined, 'a nonce no longer in flight is not an answer');
  assert.equal(a.answer('nope', undefined, 'v9', 300), undefined);
});

test('error_detail alone makes a NACK: the SotW version is parked, and Delta resources by version', () => {
  const a = new AckState();
  a.recordSent(
    sent('1', 'v1', 0, [
      { name: 'x', version: 'x1' },
      { name: 'y', version: 'y1' },
    ]),
  );
  const out = a.answer('1', { code: 3, message: 'bad cluster' }, 'v0', 10);
  assert.equal(out?.kind, 'nack');
  assert.equal(a.parkedVersion, 'v1');
  assert.equal(a.parkedVersionOf('x'), 'x1');
  assert.equal(a.parkedCount, 2);
  assert.deepEqual(a.lastNack, { version: 'v1', nonce: '1', code: 3, message: 'bad cluster', at: 10 });
  assert.equal(a.ackedVersion, undefined, 'a NACK is not an ACK, whatever version_info says');
  a.pruneParked((n) => n !== 'x');
  assert.deepEqual([a.parkedVersionOf('x'), a.parkedVersionOf('y')], [undefined, 'y1']);
});

test('what is kept is bounded: 32 responses in flight, a clipped error message, the newest 10,000 parked versions', () => {
  const a = new AckState();
  for (let i = 0; i < 40; i++) a.recordSent(sent(String(i), `v${i}`));
  assert.equal(a.isOutstanding('7'), false, 'the oldest are forgotten');
  assert.equal(a.isOutstanding('8'), true);
  a.answer('39', { code: 3, message: 'x'.repeat(5000) }, undefined, 0);
  assert.equal(a.lastNack!.message.length, 1024);
  const many = Array.from({ length: 10_005 }, (_, i) => ({ name: `r${i}`, version: '1' }));
  a.recordSent(sent('big', 'vb', 0, many));
  a.answer('big', { code: 3, message: 'no' }, undefined, 0);
  assert.equal(a.parkedCount, 10_000);
  assert.equal(a.parkedVersionOf('r4'), undefined, 'the oldest parked go first');
  assert.equal(a.parkedVersionOf('r10004'), '1');
});

test('a Delta ACK records the content version for hooks and the system_version_info the response carried', () => {
  const a = new AckState();
  a.recordSent({ nonce: 'c7', version: 'content-v', wireVersion: 'c7', at: 0 });
  assert.deepEqual(a.answer('c7', undefined, undefined, 0), {
    kind: 'ack',
    nonce: 'c7',
    version: 'content-v',
    latencyMs: 0,
  });
  assert.equal(a.ackedWireVersion, 'c7');
});
