// The README's examples must keep working: its mesh-file example parses and yields the rule it shows.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseMeshText } from '../../src/sync/file-source.js';
import { repoRoot } from '../support/components.js';

test('the README mesh-file example parses into the rule it describes', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const yaml = /```yaml\n(namespaces:[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(yaml, 'README has a mesh-file example');
  const echo = parseMeshText(yaml, 'README.md').services.get('default/echo');
  assert.ok(echo);
  assert.equal(echo.instances.length, 2);
  const [rule] = echo.routing.inbounds;
  assert.ok(rule);
  assert.deepEqual(
    rule.sources.map((s) => s.service),
    ['frontend'],
  );
  assert.deepEqual(
    rule.destinations.map((d) => d.priority),
    [0, 1],
  );
  assert.equal(rule.sources[0]!.match['$header.x-user']?.type, 'IN');
});
