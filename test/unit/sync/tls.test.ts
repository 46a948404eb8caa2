import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { errorCode } from '../../../src/errors.js';
import { channelCredentials } from '../../../src/sync/serverconnector/credentials.js';
import { FakePolaris } from '../../support/fake-polaris.js';
import { waitFor } from '../../support/ports.js';
import { fastSource, untilState } from './helpers.js';

// Test-only certificates: a CA, a server certificate for 127.0.0.1 and a client certificate.
const dir = fileURLToPath(new URL('./fixtures/tls/', import.meta.url));
const pem = (name: string): string => join(dir, name);

describe('polaris source over TLS', () => {
  it('verifies the server with the configured CA', async () => {
    const fake = await FakePolaris.start(0, { cert: pem('server.pem'), key: pem('server.key') });
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 80 }] });
    const src = fastSource([fake.address], { tls: { ca: pem('ca.pem') } });
    try {
      await src.start();
      await untilState(src, 'sync over TLS', (s) => s.services.size === 1);
    } finally {
      await src.stop();
      await fake.stop();
    }
  });

  it('presents a client certificate when the server requires one', async () => {
    const fake = await FakePolaris.start(0, {
      cert: pem('server.pem'),
      key: pem('server.key'),
      clientCa: pem('ca.pem'),
    });
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 80 }] });
    const without = fastSource([fake.address], { tls: { ca: pem('ca.pem') } });
    const withCert = fastSource([fake.address], {
      tls: { ca: pem('ca.pem'), cert: pem('client.pem'), key: pem('client.key') },
    });
    try {
      await without.start();
      await withCert.start();
      await untilState(withCert, 'mTLS sync', (s) => s.services.size === 1);
      await waitFor(
        'refused without a client certificate',
        () => /unreachable/.test(without.status().reason),
        3000,
        20,
      );
      assert.equal(without.current(), undefined);
    } finally {
      await without.stop();
      await withCert.stop();
      await fake.stop();
    }
  });

  it('rejects unreadable files and a cert without its key at start-up', () => {
    assert.throws(
      () => channelCredentials({ ca: pem('missing.pem') }),
      (e: Error) => errorCode(e) === 'PXDS_ERR_CONFIG_INVALID' && /polaris\.tls\.ca: cannot read/.test(e.message),
    );
    assert.throws(() => channelCredentials({ cert: pem('client.pem') }), /cert and key must be given together/);
  });

  it('refuses a server whose certificate the CA did not sign', async () => {
    const fake = await FakePolaris.start(0, { cert: pem('client.pem'), key: pem('client.key') });
    const src = fastSource([fake.address], { tls: { ca: pem('ca.pem') } });
    try {
      await src.start();
      await waitFor('refused', () => /unreachable/.test(src.status().reason), 3000, 20);
      assert.equal(src.status().ready, false);
    } finally {
      await src.stop();
      await fake.stop();
    }
  });
});
