// The README's first steps, run as written: the opening has exactly two commands (install and run
// the embedded default; run every test), and the block after it works on this machine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { envoyBinary, repoRoot } from '../support/components.js';
import { demoPorts } from '../support/demo.js';

const README = readFileSync(join(repoRoot, 'README.md'), 'utf8');
const SH_BLOCKS = [...README.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);

/** commands strips comments and blank lines. */
function commands(block: string): string[] {
  return block
    .split('\n')
    .map((l) => l.replace(/\s+#.*$/, '').trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

test('the README opens with exactly two commands: install and run the embedded default, and run every test', () => {
  assert.ok(README.startsWith('# polaris-xds\n\n```sh\n'), 'the first thing after the title is the command block');
  assert.deepEqual(commands(SH_BLOCKS[0]!), ['npm install && npm start', 'npm test']);
});

test("the README's next block runs as written: exit 0, no stack trace", async () => {
  const block = SH_BLOCKS[1]!;
  assert.deepEqual(commands(block), ['bash examples/envoy/demo.sh']);
  // The demo's own ports (including the echo instances') are moved to free ones, so the suite can
  // run beside another copy of itself; the commands are the README's.
  const env = {
    ...process.env,
    ENVOY_BIN: envoyBinary(),
    ...(await demoPorts()),
  };
  const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(
      'bash',
      ['-euo', 'pipefail', '-c', block],
      { cwd: repoRoot, env, timeout: 120_000 },
      (err, stdout, stderr) =>
        resolve({
          code: err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0,
          stdout,
          stderr,
        }),
    ),
  );
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  assert.equal(r.stdout.trim().split('\n').at(-1), 'demo passed');
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
});
