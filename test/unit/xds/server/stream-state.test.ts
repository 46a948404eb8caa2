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
