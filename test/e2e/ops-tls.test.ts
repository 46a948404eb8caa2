// TLS and mTLS on the xDS port with a real Envoy. A throwaway CA, a server certificate for
// 127.0.0.1/localhost and a client certificate are made with openssl for this run only.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { waitFor } from '../support/ports.js';

interface Pki {
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

/** makePki writes a CA, a server pair (SAN 127.0.0.1, localhost) and a client pair into `dir`. */
function makePki(dir: string): Pki {
  const f = (name: string) => join(dir, name);
  const openssl = (...args: string[]) => execFileSync('openssl', args, { stdio: 'pipe' });
  openssl(
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    f('ca.key'),
    '-out',
    f('ca.pem'),
    '-days',
    '1',
    '-subj',
    '/CN=polaris-xds test CA',
  );
  const leaf = (name: string, cn: string, ext: string) => {
    writeFileSync(f(`${name}.ext`), ext);
    openssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      f(`${name}.key`),
      '-out',
      f(`${name}.csr`),
      '-subj',
      `/CN=${cn}`,
    );
    openssl(
      'x509',
      '-req',
      '-in',
      f(`${name}.csr`),
      '-CA',
      f('ca.pem'),
      '-CAkey',
      f('ca.key'),
      '-CAcreateserial',
      '-out',
      f(`${name}.pem`),
      '-days',
      '1',
      '-extfile',
      f(`${name}.ext`),
    );
  };
  leaf('server', 'localhost', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'envoy-client', 'extendedKeyUsage=clientAuth\n');
  return {
    ca: f('ca.pem'),
    serverCert: f('server.pem'),
    serverKey: f('server.key'),
    clientCert: f('client.pem'),
    clientKey: f('client.key'),
  };
}

async function connectedState(envoy: EnvoyProcess): Promise<number> {
  const m = /control_plane\.connected_state: (\d+)/.exec(
    await envoy.admin('/stats?filter=^control_plane\\.connected_state$'),
  );
  return m ? Number(m[1]) : -1;
}

async function sidecar(bridge: BridgeProcess, tlsFlags: string[]): Promise<EnvoyProcess> {
  return (await startSidecarEnvoy(bridge.xdsAddress, { namespace: 'default', service: 'web', extra: tlsFlags })).envoy;
}

async function servedClusters(envoy: EnvoyProcess): Promise<string[]> {
  return (await envoy.configDump()).clusters.map((c) => c.name);
}

describe('xDS over TLS and mTLS with a real Envoy', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-tls-'));
  let pki: Pki;
  const started: Array<{ stop(): Promise<unknown> }> = [];

  before(() => {
    pki = makePki(dir);
  });

  after(async () => {
    for (const p of started.reverse()) await p.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function bridgeWith(tls: string, name: string): Promise<BridgeProcess> {
    const cfg = join(dir, `${name}.yaml`);
    writeFileSync(cfg, `xds:\n  tls:\n${tls}`);
    const bridge = await startBridge(['--config', cfg], { ready: true });
    started.push(bridge);
    return bridge;
  }

  it('TLS: an Envoy that trusts the CA gets its config', async () => {
    const bridge = await bridgeWith(`    cert: ${pki.serverCert}\n    key: ${pki.serverKey}\n`, 'tls');
    const envoy = await sidecar(bridge, ['--tls-ca', pki.ca]);
    started.push(envoy);
    await waitFor('envoy to connect over TLS', async () => (await connectedState(envoy)) === 1, 20_000);
    await waitFor(
      'clusters over TLS',
      async () => (await servedClusters(envoy)).includes('OUTBOUND|default|echo'),
      10_000,
    );
  });

  it('mTLS: an Envoy with a client certificate gets its config; one without gets nothing', async () => {
    const bridge = await bridgeWith(
      `    cert: ${pki.serverCert}\n    key: ${pki.serverKey}\n    clientCa: ${pki.ca}\n`,
      'mtls',
    );
    const withCert = await sidecar(bridge, [
      '--tls-ca',
      pki.ca,
      '--tls-cert',
      pki.clientCert,
      '--tls-key',
      pki.clientKey,
      '--tls-sni',
      'localhost',
    ]);
    started.push(withCert);
    const withoutCert = await sidecar(bridge, ['--tls-ca', pki.ca]);
    started.push(withoutCert);
    await waitFor(
      'envoy with a client certificate to connect',
      async () => (await connectedState(withCert)) === 1,
      20_000,
    );
    await waitFor(
      'clusters over mTLS',
      async () => (await servedClusters(withCert)).includes('OUTBOUND|default|echo'),
      10_000,
    );

    // Give the other Envoy time for several connection attempts; it must stay disconnected.
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await connectedState(withoutCert), 0);
    assert.deepEqual(await servedClusters(withoutCert), []);
    const rows = await bridge.adminJson<Array<{ nodeId: string }>>('/debug/syncz');
    assert.equal(rows.length, 1, 'only the Envoy with a client certificate has a stream');
  });
});
