// The TLS path of createXdsServer (`config.tls`): with a certificate and key it serves ADS over
// TLS; with a client CA too it requires client certificates signed by it (mTLS). Throwaway
// certificates are made with openssl at test time; the clients are grpc-js.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { createXdsServer, type XdsServer } from '../../../../src/xds/server/ads.js';
import { SotwClient, TYPES } from '../../../support/ads-client.js';
import { FakeWatcher, simpleMesh } from '../../../support/fake-watcher.js';
import { waitFor } from '../../../support/ports.js';

interface Pki {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A second CA, to make a client certificate the server does not trust. */
  readonly otherClientCert: string;
  readonly otherClientKey: string;
}

function openssl(dir: string, ...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** makePki issues a CA, a server certificate for 127.0.0.1/localhost and client certificates, with openssl. */
function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-tls-'));
  const ca = (name: string) => {
    openssl(
      dir,
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-subj',
      `/CN=${name}`,
    );
  };
  const leaf = (name: string, signer: string, ext: string) => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(
      dir,
      'req',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    openssl(
      dir,
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${signer}.pem`,
      '-CAkey',
      `${signer}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '1',
      '-extfile',
      `${name}.ext`,
    );
  };
  ca('ca');
  ca('other-ca');
  leaf('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  leaf('other-client', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const p = (f: string) => join(dir, f);
  return {
    dir,
    ca: p('ca.pem'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    otherClientCert: p('other-client.pem'),
    otherClientKey: p('other-client.key'),
  };
}

/** fetchClusters opens a SotW stream with `credentials` and resolves with the CDS names, or rejects with the stream's status. */
async function fetchClusters(port: number, credentials: grpc.ChannelCredentials): Promise<readonly string[]> {
  // By name: TLS server names cannot be IP addresses (RFC 6066); the certificate covers localhost.
  const c = new SotwClient(`localhost:${port}`, { credentials });
  try {
    c.send({ typeUrl: TYPES.cds });
    const r = await c.next(TYPES.cds, 5000);
    assert.deepEqual(c.violations, []);
    return r.names;
  } finally {
    c.close();
  }
}

describe('xDS over TLS', () => {
  let pki: Pki;
  const servers: XdsServer[] = [];
  const read = (f: string) => readFileSync(f);

  before(() => {
    pki = makePki();
  });

  after(async () => {
    await Promise.all(servers.map((s) => s.stop(500)));
    rmSync(pki.dir, { recursive: true, force: true });
  });

  async function serve(tls: { cert: string; key: string; clientCa?: string }): Promise<XdsServer> {
    const s = await createXdsServer({
      host: '127.0.0.1',
      port: 0,
      watcher: new FakeWatcher(simpleMesh(['a', 'b'])),
      config: { tls },
    });
    servers.push(s);
    return s;
  }

  it('serves ADS to a client that trusts the server certificate', async () => {
    const s = await serve({ cert: pki.serverCert, key: pki.serverKey });
    assert.deepEqual(await fetchClusters(s.port, grpc.credentials.createSsl(read(pki.ca))), ['a', 'b']);
  });

  it('refuses a plaintext client', async () => {
    const s = await serve({ cert: pki.serverCert, key: pki.serverKey });
    await assert.rejects(fetchClusters(s.port, grpc.credentials.createInsecure()), /UNAVAILABLE|ended|14/);
  });

  it('a client that does not trust the server fails the handshake', async () => {
    const s = await serve({ cert: pki.serverCert, key: pki.serverKey });
    const otherCa = join(pki.dir, 'other-ca.pem');
    await assert.rejects(fetchClusters(s.port, grpc.credentials.createSsl(read(otherCa))), /ended|14/);
  });

  it('with a client CA (mTLS): a client certificate it signed is accepted', async () => {
    const s = await serve({ cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca });
    const creds = grpc.credentials.createSsl(read(pki.ca), read(pki.clientKey), read(pki.clientCert));
    assert.deepEqual(await fetchClusters(s.port, creds), ['a', 'b']);
    await waitFor('the stream to close with the client', () => s.status().length === 0, 3000, 10);
  });

  it('with a client CA (mTLS): no client certificate, or one from another CA, is refused', async () => {
    const s = await serve({ cert: pki.serverCert, key: pki.serverKey, clientCa: pki.ca });
    await assert.rejects(fetchClusters(s.port, grpc.credentials.createSsl(read(pki.ca))), /ended|14/);
    await assert.rejects(
      fetchClusters(
        s.port,
        grpc.credentials.createSsl(read(pki.ca), read(pki.otherClientKey), read(pki.otherClientCert)),
      ),
      /ended|14/,
    );
    // The server kept serving through the failed handshakes.
    assert.deepEqual(
      await fetchClusters(s.port, grpc.credentials.createSsl(read(pki.ca), read(pki.clientKey), read(pki.clientCert))),
      ['a', 'b'],
    );
  });
});
