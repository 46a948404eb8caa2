// Incremental (Delta) conformance, over real gRPC, walking the rules of the xDS protocol doc.
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { TYPES, type DeltaClient, type DeltaResponse } from '../../../support/ads-client.js';
import { cluster, endpoints, simpleMesh, snapshotOf } from '../../../support/fake-watcher.js';
import { startHarness, type Harness } from './harness.js';

const { cds, eds } = TYPES;
let h: Harness | undefined;
afterEach(async () => {
  await h?.stop();
  h = undefined;
});

async function ready(names = ['a', 'b']): Promise<Harness> {
  h = await startHarness(simpleMesh(names));
  return h;
}

/** acked ACKs `r` and waits until the server recorded it, so later snapshot changes cannot race it. */
async function acked(c: DeltaClient, r: DeltaResponse): Promise<void> {
  c.ack(r);
  await h!.answered(r.typeUrl, r.nonce);
}

const versionsOf = (r: DeltaResponse): Record<string, string> =>
  Object.fromEntries(r.resources.map((x) => [x.name, x.version!]));

describe('Delta: subscriptions', () => {
  it('walks the legacy wildcard sequence: unset → *, +A → * and A, -* → A, -A → nothing', async () => {
    const c = (await ready()).delta();
    c.send({ typeUrl: cds });
    const r1 = await c.next(cds);
    assert.deepEqual(r1.names, ['a', 'b']);
    assert.deepEqual(r1.removed, []);
    assert.equal(r1.controlPlane, 'test-cp');
    await acked(c, r1);
    c.send({ typeUrl: cds, subscribe: ['a'] });
    // Names in resource_names_subscribe are always (re)sent, even if held.
    const r2 = await c.next(cds);
    assert.deepEqual(r2.names, ['a']);
    await acked(c, r2);
    c.send({ typeUrl: cds, unsubscribe: ['*'] });
    await c.expectNone(cds);
    h!.watcher.set(snapshotOf({ clusters: [cluster('a'), cluster('b', { timeoutS: 4 })] }));
    await c.expectNone(cds);
    h!.watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 4 }), cluster('b', { timeoutS: 4 })] }));
    const r3 = await c.next(cds);
    assert.deepEqual(r3.names, ['a']);
    await acked(c, r3);
    c.send({ typeUrl: cds, unsubscribe: ['a'] });
    await c.expectNone(cds);
    h!.watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 7 })] }));
    await c.expectNone(cds, 200);
  });

  it('an unknown name is in removed_resources at once, and sent when it appears', async () => {
    const c = (await ready()).delta();
    c.send({ typeUrl: eds, subscribe: ['a', 'zz'] });
    const r = await c.next(eds);
    assert.deepEqual(r.names, ['a']);
    assert.deepEqual(r.removed, ['zz']);
    await acked(c, r);
    h!.watcher.set(snapshotOf({ endpoints: [endpoints('a'), endpoints('zz')] }));
    const r2 = await c.next(eds);
    assert.deepEqual(r2.names, ['zz']);
    assert.deepEqual(r2.removed, []);
  });

  it('sends each changed resource alone, with its content version, and deletions as removed_resources', async () => {
    const snap = simpleMesh(['a', 'b', 'c']);
    h = await startHarness(snap);
    const c = h.delta();
    c.send({ typeUrl: cds });
    const r1 = await c.next(cds);
    assert.deepEqual(versionsOf(r1), {
      a: snap.resources[cds].items.get('a')!.version,
      b: snap.resources[cds].items.get('b')!.version,
      c: snap.resources[cds].items.get('c')!.version,
    });
    assert.equal(r1.systemVersion, r1.nonce, 'system_version_info names the response, as its nonce does');
    await acked(c, r1);
    h.watcher.set(snapshotOf({ clusters: [cluster('a'), cluster('b', { timeoutS: 3 })] }));
    const r2 = await c.next(cds);
    assert.deepEqual(r2.names, ['b']);
    assert.deepEqual(r2.removed, ['c']);
    assert.notEqual(r2.resources[0]!.version, r1.resources[1]!.version);
  });

  it('wildcard plus a name: unsubscribing the name is answered with the resource, or its removal', async () => {
    const c = (await ready()).delta();
    c.send({ typeUrl: cds, subscribe: ['*', 'a', 'zz'] });
    const r1 = await c.next(cds);
    assert.deepEqual(r1.names, ['a', 'b']);
    assert.deepEqual(r1.removed, ['zz']);
    await acked(c, r1);
    c.send({ typeUrl: cds, unsubscribe: ['a'] });
    const r2 = await c.next(cds);
    assert.deepEqual([r2.names, r2.removed], [['a'], []]);
    await acked(c, r2);
    c.send({ typeUrl: cds, unsubscribe: ['zz'] });
    const r3 = await c.next(cds);
    assert.deepEqual([r3.names, r3.removed], [[], ['zz']]);
  });

  it('the first response of a type is sent even when there is nothing to send', async () => {
    h = await startHarness(snapshotOf({}));
    const c = h.delta();
    c.send({ typeUrl: cds });
    const r = await c.next(cds);
    assert.deepEqual([r.names, r.removed], [[], []]);
    await acked(c, r);
    c.send({ typeUrl: cds });
    await c.expectNone(cds);
  });
});

describe('Delta: reconnect, ACK, NACK and nonces', () => {
  it('initial_resource_versions: nothing the client holds at the current version is sent again', async () => {
    const snap = simpleMesh(['a', 'b', 'c']);
    h = await startHarness(snap);
    const v = (n: string) => snap.resources[cds].items.get(n)!.version;
    const c = h.delta();
    c.send({ typeUrl: cds, initialVersions: { a: v('a'), b: 'old', gone: 'v0' } });
    const r = await c.next(cds);
    assert.deepEqual(r.names, ['b', 'c']);
    assert.deepEqual(r.removed, ['gone']);
    await acked(c, r);
    const ve = snap.resources[eds].items.get('a')!.version;
    c.send({ typeUrl: eds, subscribe: ['a', 'b'], initialVersions: { a: ve } });
    const re = await c.next(eds);
    assert.deepEqual(re.names, ['b']);
  });

  it('initial_resource_versions matching everything: an empty first response, then quiet', async () => {
    const snap = simpleMesh(['a']);
    h = await startHarness(snap);
    const c = h.delta();
    c.send({ typeUrl: cds, initialVersions: { a: snap.resources[cds].items.get('a')!.version }, nonce: '41' });
    const r = await c.next(cds);
    assert.deepEqual([r.names, r.removed], [[], []]);
    await acked(c, r);
    await c.expectNone(cds);
  });

  it('a NACK parks that resource version: not sent again; its next version is', async () => {
    const c = (await ready()).delta();
    c.send({ typeUrl: cds });
    await acked(c, await c.next(cds));
    const bad = snapshotOf({ clusters: [cluster('a', { timeoutS: 9 }), cluster('b')] });
    h!.watcher.set(bad);
    const r = await c.next(cds);
    assert.deepEqual(r.names, ['a']);
    c.nack(r, 'cluster a: rejected');
    await h!.answered(cds, r.nonce);
    const t = h!.server.status()[0]!.types[cds]!;
    assert.equal(t.lastNack?.message, 'cluster a: rejected');
    h!.watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 2 }), cluster('b')] }));
    const good = await c.next(cds);
    assert.deepEqual(good.names, ['a']);
    await acked(c, good);
    // The rejected version of `a` again, while `b` changes: only `b` is sent.
    h!.watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 9 }), cluster('b', { timeoutS: 5 })] }));
    const mixed = await c.next(cds);
    assert.deepEqual(mixed.names, ['b']);
    await acked(c, mixed);
    // Subscribing to `a` again does not bring the parked version back either.
    c.send({ typeUrl: cds, subscribe: ['a'] });
    await c.expectNone(cds);
    assert.equal(h!.server.status()[0]!.counters.resendsSuppressed >= 1, true, 'suppressed resend counted');
    h!.watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 11 }), cluster('b', { timeoutS: 5 })] }));
    assert.deepEqual((await c.next(cds)).names, ['a']);
  });

  it('subscription changes are honoured even with a stale nonce', async () => {
    const c = (await ready()).delta();
    c.send({ typeUrl: cds });
    const r1 = await c.next(cds);
    h!.watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 2 }), cluster('b')] }));
    const r2 = await c.next(cds);
    await acked(c, r2);
    c.send({ typeUrl: cds, subscribe: ['zz'], nonce: r1.nonce });
    const r3 = await c.next(cds);
    assert.deepEqual(r3.removed, ['zz']);
    assert.equal(h!.server.status()[0]!.counters.expiredNonces, 1);
  });

  it('ACK state is tracked per type; syncz shows the system_version_info the client received, and the content version apart', async () => {
    const snap = simpleMesh(['a', 'b']);
    h = await startHarness(snap);
    const c = h.delta();
    c.send({ typeUrl: cds });
    const r = await c.next(cds);
    await acked(c, r);
    const t = h!.server.status()[0]!.types[cds]!;
    assert.equal(t.sentVersion, r.systemVersion, 'what the client was sent');
    assert.equal(t.ackedVersion, r.systemVersion, 'what the ACKed response carried');
    assert.equal(t.contentVersion, snap.resources[cds].version);
    assert.notEqual(t.sentVersion, t.contentVersion, 'Delta sends the nonce, not the content version');
    assert.equal(t.ackedNonce, r.nonce);
    assert.equal(t.resources, 2);
  });
});
