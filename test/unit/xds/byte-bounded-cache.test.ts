// The one eviction cache: least recently used out first, by bytes or by count; an entry over the
// entry limit is not kept; peek and has leave the order alone; every leaving entry is reported.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteBoundedCache } from '../../../src/xds/byte-bounded-cache.js';

test('by bytes: the least recently used go first, and an entry over the entry limit is not kept', () => {
  const removed: string[] = [];
  const c = new ByteBoundedCache<string, string>({
    maxBytes: 10,
    maxEntryBytes: 6,
    sizeOf: (v) => v.length,
    onRemove: (_, k) => removed.push(k),
  });
  assert.equal(c.set('a', 'aaa'), true);
  assert.equal(c.set('b', 'bbb'), true);
  assert.equal(c.get('a'), 'aaa', 'a is now the most recently used');
  assert.equal(c.set('c', 'cccc'), true);
  assert.deepEqual([...c.keys()], ['b', 'a', 'c'], 'within 10 bytes');
  assert.equal(c.set('d', 'dd'), true);
  assert.deepEqual(removed, ['b'], 'b was used least recently');
  assert.equal(c.bytes, 9);
  assert.equal(c.set('big', 'xxxxxxx'), false, 'over the entry limit');
  assert.equal(c.has('big'), false);
  c.set('a', 'a');
  assert.deepEqual(removed, ['b', 'a'], 'a replaced entry is reported too');
  assert.equal(c.bytes, 7);
});

test('by count: at most maxEntries, least recently used out first; peek and has do not make an entry recent', () => {
  const c = new ByteBoundedCache<number, string>({ maxEntries: 3 });
  for (const k of [1, 2, 3]) c.set(k, String(k));
  assert.equal(c.peek(1), '1');
  assert.equal(c.has(1), true);
  c.set(4, '4');
  assert.deepEqual([...c.keys()], [2, 3, 4], 'peeked 1 still went first');
  c.get(2);
  c.set(5, '5');
  assert.deepEqual([...c.keys()], [4, 2, 5]);
  assert.equal(c.size, 3);
  c.clear();
  assert.equal(c.size, 0);
  assert.equal(c.bytes, 0);
});
