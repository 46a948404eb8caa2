// Watching one file: an edit made right after watching starts is seen, through the stat poll alone
// when fs.watch is off; edits close together are reported once; a file that appears is a change.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { watchFile } from '../../../src/sync/file-watch.js';
import { waitFor } from '../../support/ports.js';
import { tempDir } from './helpers.js';

test('the stat poll sees an edit made right after watching starts, and edits close together are reported once', async (t) => {
  const tmp = tempDir('pxds-watch-');
  t.after(() => tmp.remove());
  const file = join(tmp.dir, 'mesh.yaml');
  writeFileSync(file, 'a');
  let changes = 0;
  const stop = watchFile(file, () => changes++, { fsWatch: false, pollMs: 20, debounceMs: 200 });
  t.after(stop);
  writeFileSync(file, 'ab');
  writeFileSync(file, 'abc');
  await waitFor('the edits to be reported', () => changes > 0, 3000, 5);
  assert.equal(changes, 1, 'two edits within the debounce: one report');
  writeFileSync(file, 'abcd');
  await waitFor('a later edit to be reported', () => changes === 2, 3000, 5);
});

test('a file that appears is a change', async (t) => {
  const tmp = tempDir('pxds-watch-');
  t.after(() => tmp.remove());
  const file = join(tmp.dir, 'later.yaml');
  let changes = 0;
  t.after(watchFile(file, () => changes++, { fsWatch: false, pollMs: 20, debounceMs: 10 }));
  writeFileSync(file, 'x');
  await waitFor('the new file to be reported', () => changes === 1, 3000, 5);
});
