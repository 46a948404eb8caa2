// The command line as a user meets it: usage errors, configuration errors, and a Polaris that
// cannot be reached.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runCli, startBridge } from '../support/bridge.js';
import { freePort } from '../support/ports.js';
import { scratchDir } from '../support/temp.js';

const scratch = scratchDir('pxds-cli-');

describe('polaris-xds command line', () => {
  it('exits 2 naming an unknown flag and listing the allowed ones', async () => {
    const r = await runCli(['serve', '--xds-adress', '1.2.3.4:5']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--xds-adress/);
    assert.match(r.stderr, /allowed flags: .*--xds-address/);
    assert.match(r.stderr, /PXDS_ERR_CLI_USAGE/);
  });

  it('exits 2 naming a bad config key and what is allowed', async () => {
    const f = scratch.file('c.yaml', 'xds:\n  address: nowhere\n');
    const r = await runCli(['serve', '--config', f]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /xds\.address: expected host:port/);
  });

  it('exits 2 for an unknown command', async () => {
    const r = await runCli(['srve']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown command "srve"/);
  });

  it('prints the effective configuration with the token redacted', async () => {
    const r = await runCli(['serve', '--print-config', '--polaris', '127.0.0.1:1'], {
      POLARIS_XDS_POLARIS_TOKEN: 'hunter2',
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /127\.0\.0\.1:1/);
    assert.doesNotMatch(r.stdout, /hunter2/);
    assert.match(r.stdout, /\[redacted\]/);
  });

  it('with no Polaris reachable: starts, warns once naming the address, stays unready with the reason', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const bridge = await startBridge(['--polaris', dead]);
    try {
      const r = await bridge.admin('/readyz');
      assert.equal(r.status, 503);
      assert.match(JSON.parse(r.body).reason, new RegExp(dead.replace(/\./g, '\\.')));
      // Let it retry for a while: the warning must not repeat per retry.
      await new Promise((res) => setTimeout(res, 3000));
      const warnings = bridge
        .logs()
        .split('\n')
        .filter((l) => l.includes(dead) && /"level":40/.test(l));
      assert.ok(warnings.length >= 1, `expected a warning naming ${dead}:\n${bridge.logs()}`);
      assert.ok(warnings.length <= 2, `warned ${warnings.length} times:\n${warnings.join('\n')}`);
      assert.equal((await bridge.admin('/healthz')).status, 200);
    } finally {
      assert.equal(await bridge.stop(), 0);
    }
  });

  it('bootstrap rejects a bad port with exit 2', async () => {
    const r = await runCli(['bootstrap', '--outbound-port', '99999']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--outbound-port/);
  });

  it('dump names the admin address it cannot reach', async () => {
    const addr = `127.0.0.1:${await freePort()}`;
    const r = await runCli(['dump', '--node', 'x', '--admin-address', addr]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(addr.replace(/\./g, '\\.')));
  });
});
