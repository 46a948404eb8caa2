// Errors a user can act on, as the command prints them: one line naming the flag, key or file, with
// its PXDS_ERR_* code, exit code 2, no stack trace (a stack only at --log-level debug).
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli, startBridge } from '../support/bridge.js';
import { FakePolaris } from '../support/fake-polaris.js';
import { ADMIN_TOKEN, startPolaris } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'pxds-cli-errors-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

/** oneLineError asserts the shape every bad-input error has, and returns the line. */
function oneLineError(r: { code: number; stdout: string; stderr: string }, code: string): string {
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.split('\n').filter(Boolean);
  assert.equal(lines.length, 1, `one line on stderr:\n${r.stderr}`);
  assert.match(lines[0]!, new RegExp(`^polaris-xds: .* \\[${code}\\]$`));
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  // stdout has only JSON log lines, if any.
  for (const l of r.stdout.split('\n').filter(Boolean)) assert.doesNotThrow(() => JSON.parse(l), l);
  return lines[0]!;
}

// serve binds its ports before it reads the mesh file: any free ones.
const PORTS = ['--xds-address', '127.0.0.1:0', '--admin-address', '127.0.0.1:0'];

describe('serve --file', () => {
  it('that does not exist', async () => {
    const line = oneLineError(
      await runCli(['serve', ...PORTS, '--file', join(dir, 'nope.yaml')]),
      'PXDS_ERR_FILE_SOURCE',
    );
    assert.match(line, /nope\.yaml: no such file/);
  });

  it('that is a directory', async () => {
    const d = join(dir, 'a-dir');
    mkdirSync(d, { recursive: true });
    assert.match(
      oneLineError(await runCli(['serve', ...PORTS, '--file', d]), 'PXDS_ERR_FILE_SOURCE'),
      /a-dir: is a directory/,
    );
  });

  it('that is empty', async () => {
    assert.match(
      oneLineError(await runCli(['serve', ...PORTS, '--file', file('empty.yaml', '\n')]), 'PXDS_ERR_FILE_SOURCE'),
      /empty\.yaml: the file is empty; a mesh file starts with `namespaces:`/,
    );
  });

  it('with a YAML syntax error: line and column', async () => {
    const f = file('syntax.yaml', 'namespaces:\n  - name: a\n    services: [\n');
    assert.match(
      oneLineError(await runCli(['serve', ...PORTS, '--file', f]), 'PXDS_ERR_FILE_SOURCE'),
      /syntax\.yaml: YAML syntax error at line 4, column 1: /,
    );
  });

  it('with a wrong type: the path of the field', async () => {
    const f = file(
      'type.yaml',
      'namespaces:\n  - name: a\n    services:\n      - name: s\n        instances:\n          - { host: 10.0.0.1, port: abc }\n',
    );
    assert.match(
      oneLineError(await runCli(['serve', ...PORTS, '--file', f]), 'PXDS_ERR_FILE_SOURCE'),
      /type\.yaml: namespaces\[0\]\.services\[0\]\.instances\[0\]\.port: expected number/,
    );
  });

  it('prints the stack only at --log-level debug', async () => {
    const r = await runCli(['serve', ...PORTS, '--log-level', 'debug', '--file', join(dir, 'nope.yaml')]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^polaris-xds: .*\[PXDS_ERR_FILE_SOURCE\]\n/);
    assert.match(r.stderr, /\n\s+at /);
  });
});

describe('bootstrap flags', () => {
  for (const [args, pattern] of [
    [['--xds-address', 'nohost'], /--xds-address: expected host:port, e\.g\. 127\.0\.0\.1:15010 \(got "nohost"\)/],
    [['--xds-address', '127.0.0.1:0'], /--xds-address: port "0" is not 1–65535/],
    [['--grpc', '--xds-address', ':15010'], /--xds-address: the host is missing/],
    [['--admin-address', 'x'], /--admin-address: expected host:port/],
    [['--inbound-port', 'many'], /--inbound-port: "many" is not a port/],
    [['--on-demand', '--gateway'], /--on-demand is for Envoy sidecars; drop it with --gateway/],
  ] as const) {
    it(`${args.join(' ')}`, async () => {
      assert.match(oneLineError(await runCli(['bootstrap', ...args]), 'PXDS_ERR_CLI_USAGE'), pattern);
    });
  }
});

describe('addresses are checked once, with one message', () => {
  it('--polaris 127.0.0.1:0 is rejected at start-up', async () => {
    const line = oneLineError(await runCli(['serve', '--polaris', '127.0.0.1:0']), 'PXDS_ERR_CONFIG_INVALID');
    assert.match(line, /--polaris: port "0" is not 1–65535 \(got "127\.0\.0\.1:0"\)/);
  });

  it('--polaris not-an-address: one clause', async () => {
    const line = oneLineError(await runCli(['serve', '--polaris', 'not-an-address']), 'PXDS_ERR_CONFIG_INVALID');
    assert.match(line, /--polaris: expected host:port, e\.g\. 127\.0\.0\.1:8091 \(got "not-an-address"\) \[/);
    assert.doesNotMatch(line, /;/);
  });

  it('a bad host and a port out of range, in the config file', async () => {
    const f = file('cfg.yaml', 'polaris:\n  addresses: ["bad host:8091"]\nxds:\n  address: 0.0.0.0:70000\n');
    const line = oneLineError(await runCli(['serve', '--config', f]), 'PXDS_ERR_CONFIG_INVALID');
    assert.match(line, /polaris\.addresses\.0: "bad host" is not a host name or IP address/);
    assert.match(line, /xds\.address: port "70000" is not 0–65535/);
  });
});

describe('Polaris authentication', () => {
  it('an empty token file is a start-up error', async () => {
    const line = oneLineError(
      await runCli(['serve', '--polaris', '127.0.0.1:8091', '--token-file', file('token', ' \n')]),
      'PXDS_ERR_CONFIG_INVALID',
    );
    assert.match(line, /--token-file: .*token is empty/);
  });

  it('401001 shows in /readyz and in the log once per change of state, until Polaris accepts the token', async () => {
    const fake = await FakePolaris.start();
    fake.setService({ namespace: 'ns', name: 'svc', instances: [] });
    fake.faults.errorCode = { code: 401001, bare: true };
    const bridge = await startBridge(['--polaris', fake.address]);
    const wanted = 'Polaris rejected the token (401001): set --token-file or POLARIS_XDS_POLARIS_TOKEN';
    try {
      await waitFor('/readyz to name the token', async () => {
        const r = await bridge.admin('/readyz');
        return r.status === 503 && (JSON.parse(r.body) as { reason: string }).reason === wanted;
      });
      // More rejected requests (one key, polled every 1–2 s): still one log line.
      const seen = fake.requests.length;
      await waitFor('more rejected requests', () => fake.requests.length >= seen + 3, 15_000);
      const told = () =>
        bridge
          .logs()
          .split('\n')
          .filter((l) => l.includes('PXDS_ERR_POLARIS_AUTH'));
      assert.equal(told().length, 1, told().join('\n'));
      assert.ok(told()[0]!.includes(wanted));
      assert.doesNotMatch(bridge.logs(), /PXDS_ERR_POLARIS_RESPONSE/);
      // Accepted again: ready, told once.
      fake.faults.errorCode = undefined;
      await waitFor('ready', async () => (await bridge.admin('/readyz')).status === 200);
      assert.equal(
        bridge
          .logs()
          .split('\n')
          .filter((l) => l.includes('accepts the token again')).length,
        1,
      );
      assert.equal(told().length, 1);
    } finally {
      await bridge.stop();
      await fake.stop();
    }
  });

  it('a real Polaris with client auth on: 401001 in /readyz without a token; ready with --token-file', async () => {
    const polaris = await startPolaris({ clientAuth: true });
    try {
      const bridge = await startBridge(['--polaris', polaris.grpcAddress]);
      try {
        await waitFor(
          '/readyz to name the token',
          async () => {
            const r = await bridge.admin('/readyz');
            return (
              r.status === 503 &&
              (JSON.parse(r.body) as { reason: string }).reason ===
                'Polaris rejected the token (401001): set --token-file or POLARIS_XDS_POLARIS_TOKEN'
            );
          },
          15_000,
        );
      } finally {
        await bridge.stop();
      }
      const ok = await startBridge(
        ['--polaris', polaris.grpcAddress, '--token-file', file('admin-token', `${ADMIN_TOKEN}\n`)],
        { ready: true },
      );
      await ok.stop();
    } finally {
      await polaris.stop();
    }
  });
});
