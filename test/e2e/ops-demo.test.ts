// CI runs examples/envoy/demo.sh as a user would: it must pass end to end on free ports, and fail
// loudly (non-zero, cleaned up) when a step cannot work.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { envoyBinary, repoRoot } from '../support/components.js';
import { demoPorts } from '../support/demo.js';

const DEMO = join(repoRoot, 'examples/envoy/demo.sh');

function runDemo(env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'bash',
      [DEMO],
      { env: { ...process.env, ENVOY_BIN: envoyBinary(), ...env }, timeout: 120_000 },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === 'number'
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function workDirOf(stdout: string): string {
  const m = /mesh copy: (\S+)\/mesh\.yaml/.exec(stdout);
  assert.ok(m, `no work folder in the output:\n${stdout}`);
  return m[1]!;
}

describe('examples/envoy/demo.sh', () => {
  it('shows the header rule, then the edited rule, taking effect through a real Envoy', async () => {
    const r = await runDemo(await demoPorts());
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^ok: x-version: v2 -> echo-v2$/m);
    assert.match(r.stdout, /^ok: no header -> echo-v1-a echo-v1-b$/m);
    assert.match(r.stdout, /^ok: x-version: canary -> echo-v2$/m);
    assert.match(r.stdout, /^ok: x-version: v2 \(no longer matched\) -> echo-v1-a echo-v1-b$/m);
    assert.match(r.stdout, /SYNCED\s+SYNCED\s+SYNCED\s+SYNCED/);
    assert.match(r.stdout, /^demo passed$/m);
    assert.equal(existsSync(workDirOf(r.stdout)), false, 'the work folder is removed');
  });

  it('exits non-zero, says why and cleans up when a step fails', async () => {
    const env = await demoPorts();
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(Number(env.ECHO_V2_PORT), '127.0.0.1', () => r()));
    try {
      const r = await runDemo(env);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /FAILED: the upstreams exited/);
      assert.match(r.stderr, /EADDRINUSE/);
      assert.doesNotMatch(r.stdout, /demo passed/);
      assert.equal(existsSync(workDirOf(r.stdout)), false, 'the work folder is removed');
    } finally {
      await new Promise((r) => holder.close(r));
    }
  });
});
