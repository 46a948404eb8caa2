import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig, redacted } from '../../../src/config/load.js';
import { errorCode } from '../../../src/errors.js';
import { scratchDir } from '../../support/temp.js';

const scratch = scratchDir('pxds-cfg-');

function tmpFile(text: string): string {
  return scratch.file('c.yaml', text);
}

function failure(fn: () => unknown): { code: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    return { code: errorCode(err), message: (err as Error).message };
  }
  assert.fail('expected an error');
}

describe('loadConfig', () => {
  it('applies defaults', () => {
    const c = loadConfig({ env: {} });
    assert.equal(c.xds.address, '0.0.0.0:15010');
    assert.equal(c.admin.address, '127.0.0.1:15014');
    assert.deepEqual(c.polaris.addresses, []);
    assert.ok(Object.isFrozen(c.xds));
  });
  it('layers file < env < flags', () => {
    const f = tmpFile('xds:\n  address: 127.0.0.1:1\nadmin:\n  address: 127.0.0.1:2\nlog:\n  level: debug\n');
    const c = loadConfig({
      file: f,
      env: { POLARIS_XDS_ADMIN_ADDRESS: '127.0.0.1:3', POLARIS_XDS_LOG_LEVEL: 'warn' },
      overrides: [{ path: ['log', 'level'], value: 'error' }],
    });
    assert.equal(c.xds.address, '127.0.0.1:1');
    assert.equal(c.admin.address, '127.0.0.1:3');
    assert.equal(c.log.level, 'error');
  });
  it('names an unknown key and where to look', () => {
    const f = tmpFile('xds:\n  adress: 1.2.3.4:5\n');
    const e = failure(() => loadConfig({ file: f, env: {} }));
    assert.equal(e.code, 'PXDS_ERR_CONFIG_INVALID');
    assert.match(e.message, /unknown key xds\.adress/);
  });
  it('names a bad value and what is allowed', () => {
    const e = failure(() => loadConfig({ env: {}, overrides: [{ path: ['xds', 'address'], value: 'nonsense' }] }));
    assert.match(e.message, /xds\.address: expected host:port/);
    const lvl = failure(() => loadConfig({ env: { POLARIS_XDS_LOG_LEVEL: 'loud' } }));
    assert.match(lvl.message, /log\.level/);
    assert.match(lvl.message, /debug/);
  });
  it('rejects unknown POLARIS_XDS_ variables', () => {
    const e = failure(() => loadConfig({ env: { POLARIS_XDS_XDS_ADRESS: 'x' } }));
    assert.match(e.message, /unknown environment variable POLARIS_XDS_XDS_ADRESS/);
  });
  it('ignores the variables Kubernetes injects for a Service named polaris-xds', () => {
    const c = loadConfig({
      env: {
        POLARIS_XDS_SERVICE_HOST: '10.0.0.1',
        POLARIS_XDS_PORT_15010_TCP: 'tcp://10.0.0.1:15010',
        POLARIS_XDS_SERVICE_PORT_GRPC_XDS: '15010',
      },
    });
    assert.equal(c.xds.address, '0.0.0.0:15010');
  });
  it('refuses two sources at once', () => {
    const e = failure(() =>
      loadConfig({
        env: {},
        overrides: [
          { path: ['polaris', 'addresses'], value: ['a:1'] },
          { path: ['file'], value: 'x.yaml' },
        ],
      }),
    );
    assert.match(e.message, /choose one source/);
  });
  it('reports an unreadable or malformed file', () => {
    assert.equal(failure(() => loadConfig({ file: '/nonexistent/c.yaml', env: {} })).code, 'PXDS_ERR_CONFIG_FILE');
    assert.match(failure(() => loadConfig({ file: tmpFile('a: [1\n'), env: {} })).message, /not valid YAML/);
  });
  it('reads the token from a file and redacts it', () => {
    const tokenFile = tmpFile('s3cret\n');
    const c = loadConfig({ env: { POLARIS_XDS_POLARIS_TOKEN_FILE: tokenFile } });
    assert.equal(c.polaris.token, 's3cret');
    assert.doesNotMatch(JSON.stringify(redacted(c)), /s3cret/);
  });
});
