import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CLUSTER_TYPE, ENDPOINT_TYPE } from '../../../../src/xds/resource.js';
import { Subscription, TypeState } from '../../../../src/xds/server/stream-state.js';
import { cluster, endpoints, snapshotOf } from '../../../support/fake-watcher.js';

type View = { wildcard: boolean; names: string[] };
const view = (s: Subscription): View => ({ wildcard: s.wildcard, names: [...s.names].sort() });

describe('Subscription: SotW wildcard sequence (xds_protocol "How the client specifies what resources to return")', () => {
  const steps: Array<{ send: string[]; want: View; added: string[]; removed: string[] }> = [
    { send: [], want: { wildcard: true, names: [] }, added: ['*'], removed: [] },
    { send: ['*', 'A'], want: { wildcard: true, names: ['A'] }, added: ['A'], removed: [] },
    { send: ['A'], want: { wildcard: false, names: ['A'] }, added: [], removed: ['*'] },
    // Identical to the first request, but no longer legacy wildcard: it unsubscribes everything.
    { send: [], want: { wildcard: false, names: [] }, added: [], removed: ['A'] },
  ];
  const s = new Subscription();
  for (const [i, step] of steps.entries()) {
    it(`step ${i + 1}: resource_names [${step.send.join(', ')}]`, () => {
      const change = s.applySotw(step.send);
      assert.deepEqual(view(s), step.want);
      assert.deepEqual([...change.added].sort(), step.added);
      assert.deepEqual([...change.removed].sort(), step.removed);
    });
  }

  it('repeated empty lists stay wildcard while nothing was ever named', () => {
    const t = new Subscription();
    for (let i = 0; i < 3; i++) t.applySotw([]);
    assert.deepEqual(view(t), { wildcard: true, names: [] });
    assert.equal(t.everNamed, false);
  });

  it('explicit * alone is wildcard, and a later empty list is not', () => {
    const t = new Subscription();
    t.applySotw(['*']);
    assert.deepEqual(view(t), { wildcard: true, names: [] });
    t.applySotw([]);
    assert.deepEqual(view(t), { wildcard: false, names: [] });
  });

  it('a first list of names is not wildcard (gRPC clients)', () => {
    const t = new Subscription();
    t.applySotw(['x', 'y']);
    assert.deepEqual(view(t), { wildcard: false, names: ['x', 'y'] });
  });
});

describe('Subscription: Delta wildcard sequence', () => {
  const steps: Array<{ sub: string[]; unsub: string[]; want: View }> = [
    { sub: [], unsub: [], want: { wildcard: true, names: [] } },
    { sub: ['A'], unsub: [], want: { wildcard: true, names: ['A'] } },
    { sub: [], unsub: ['*'], want: { wildcard: false, names: ['A'] } },
    // Empty again, as after the first request, but not wildcard.
    { sub: [], unsub: ['A'], want: { wildcard: false, names: [] } },
  ];
  const s = new Subscription();
  for (const [i, step] of steps.entries()) {
    it(`step ${i + 1}: subscribe [${step.sub.join(', ')}] unsubscribe [${step.unsub.join(', ')}]`, () => {
      s.applyDelta(step.sub, step.unsub, i === 0);
      assert.deepEqual(view(s), step.want);
    });
  }

  it('a first request naming names is not wildcard; * may be added and removed later', () => {
    const t = new Subscription();
    t.applyDelta(['A'], [], true);
    assert.deepEqual(view(t), { wildcard: false, names: ['A'] });
    assert.deepEqual(t.applyDelta(['*'], [], false).added, ['*']);
    assert.deepEqual(view(t), { wildcard: true, names: ['A'] });
  });

  it('phantom unsubscribes are ignored', () => {
    const t = new Subscription();
    t.applyDelta(['A'], [], true);
    const change = t.applyDelta([], ['nope', 'B'], false);
    assert.deepEqual(change.removed, []);
    assert.deepEqual(view(t), { wildcard: false, names: ['A'] });
  });
});

describe('desired', () => {
  const snap = snapshotOf({ clusters: [cluster('a'), cluster('b')], endpoints: [endpoints('a'), endpoints('b')] });

  it('wildcard covers every cluster; explicit names that do not exist map to undefined', () => {
    const t = new TypeState(CLUSTER_TYPE);
    t.applySotw(['*', 'zz']);
    const want = t.desired(snap.resources[CLUSTER_TYPE]);
    assert.deepEqual([...want.keys()].sort(), ['a', 'b', 'zz']);
    assert.equal(want.get('zz'), undefined);
  });

  it('wildcard means nothing for EDS: only named CLAs are wanted', () => {
    const t = new TypeState(ENDPOINT_TYPE);
    t.applySotw([]);
    assert.equal(t.desired(snap.resources[ENDPOINT_TYPE]).size, 0);
    t.applySotw(['b']);
    assert.deepEqual([...t.desired(snap.resources[ENDPOINT_TYPE]).keys()], ['b']);
  });

  it('retained resources stand in for names the snapshot dropped, within the subscription only', () => {
    const t = new TypeState(CLUSTER_TYPE);
    t.applySotw(['a']);
    const old = cluster('gone');
    t.retain(old);
    assert.equal(t.desired(snap.resources[CLUSTER_TYPE]).has('gone'), false);
    t.applySotw(['a', 'gone']);
    assert.equal(t.desired(snap.resources[CLUSTER_TYPE]).get('gone'), old);
  });
});

describe('touchedBy: what a new snapshot changes for a Delta client that names few resources', () => {
  const before = snapshotOf({ endpoints: [endpoints('a'), endpoints('b'), endpoints('c')] }).resources[ENDPOINT_TYPE];
  // b's assignment changes; a and c stay the same resources.
  const after = snapshotOf({ endpoints: [endpoints('a'), endpoints('b', [9090]), endpoints('c')] }).resources[
    ENDPOINT_TYPE
  ];
  const holding = (names: string[], set = before): TypeState => {
    const t = new TypeState(ENDPOINT_TYPE);
    t.noteRequest();
    t.applyDelta(names, [], true);
    const sent = names.flatMap((n) => {
      const r = set.items.get(n);
      return r ? [r] : [];
    });
    const missing = names.filter((n) => !set.items.has(n));
    t.sent(
      { nonce: 'n1', version: set.version, wireVersion: 'n1', at: 0, resources: sent },
      { resources: sent, missing },
    );
    return t;
  };

  it('is false when no subscribed name changed, true when one did', () => {
    assert.equal(holding(['a', 'c']).touchedBy(before, after), false);
    assert.equal(holding(['a', 'b']).touchedBy(before, after), true);
  });

  it('is true when a held name is gone, false for a name the client was told is missing and still is', () => {
    const gone = snapshotOf({ endpoints: [endpoints('b')] }).resources[ENDPOINT_TYPE];
    assert.equal(holding(['a']).touchedBy(before, gone), true);
    assert.equal(holding(['zz']).touchedBy(before, after), false);
    const appears = snapshotOf({ endpoints: [endpoints('zz')] }).resources[ENDPOINT_TYPE];
    assert.equal(holding(['zz']).touchedBy(before, appears), true);
  });

  it('is true while anything is owed: a first response, a forced name, a pending type', () => {
    const first = new TypeState(ENDPOINT_TYPE);
    first.noteRequest();
    first.applyDelta(['a'], [], true);
    assert.equal(first.touchedBy(before, after), true);
    const forced = holding(['a']);
    forced.force('a');
    assert.equal(forced.touchedBy(before, after), true);
    const pending = holding(['a']);
    pending.markPending(0);
    assert.equal(pending.touchedBy(before, after), true);
  });

  it('follows the subscription: a name unsubscribed no longer touches, a name subscribed again does', () => {
    const t = holding(['a', 'b']);
    t.applyDelta([], ['b'], false);
    t.prune();
    assert.equal(t.touchedBy(before, after), false);
    t.applyDelta(['b'], [], false);
    t.force('b');
    assert.equal(t.touchedBy(before, before), true, 'a new subscription is owed a response');
  });

  it('is true for a wildcard client whose wildcard part changed', () => {
    const c1 = snapshotOf({ clusters: [cluster('a')] }).resources[CLUSTER_TYPE];
    const c2 = snapshotOf({ clusters: [cluster('a'), cluster('b')] }).resources[CLUSTER_TYPE];
    const t = new TypeState(CLUSTER_TYPE);
    t.noteRequest();
    t.applyDelta([], [], true);
    t.sent({ nonce: 'n1', version: c1.version, wireVersion: 'n1', at: 0, resources: [] }, { set: c1 });
    assert.equal(t.touchedBy(c1, c2), true);
    assert.equal(t.touchedBy(c1, c1), false);
  });
});
