// Upstream protocols through a real Envoy: instances declaring `grpc`, `http2` or `h2c` are spoken
// to in HTTP/2 (cleartext, prior knowledge), the rest in HTTP/1.1, for service clusters and rule
// clusters alike. Each upstream answers with its name and the HTTP version it saw.
import assert from 'node:assert/strict';
import { createServer as createHttp1Server, type Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { meshFile, startSidecar, waitForOnly, type MeshFile, type Sidecar } from '../support/mesh.js';

const NS = 'rp';

interface VersionUpstream {
  readonly name: string;
  readonly port: number;
  close(): Promise<void>;
}

/** startVersionUpstream answers `<name> <HTTP version>`, over h2c (prior knowledge) or HTTP/1.1. */
async function startVersionUpstream(name: string, http2: boolean): Promise<VersionUpstream> {
  const server: Server | Http2Server = http2
    ? createHttp2Server((req, res) => res.end(`${name} ${req.httpVersion}`))
    : createHttp1Server((req, res) => res.end(`${name} ${req.httpVersion}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as { port: number }).port;
  return {
    name,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('HTTP/2 upstreams for grpc, http2 and h2c instances', () => {
  const ups: Record<string, VersionUpstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  let sidecar: Sidecar;

  before(async () => {
    for (const name of ['grpc-v1', 'grpc-v2', 'http2', 'h2c']) ups[name] = await startVersionUpstream(name, true);
    ups.http = await startVersionUpstream('http', false);
    const one = (name: string, protocol: string, version = '') => ({
      host: '127.0.0.1',
      port: ups[name]!.port,
      protocol,
      version,
    });
    file = meshFile({
      namespaces: [
        {
          name: NS,
          services: [
            { name: 'grpc-echo', instances: [one('grpc-v1', 'grpc', 'v1'), one('grpc-v2', 'grpc', 'v2')] },
            { name: 'http2-echo', instances: [one('http2', 'http2')] },
            { name: 'h2c-echo', instances: [one('h2c', 'h2c')] },
            { name: 'web', instances: [one('http', 'http')] },
            { name: 'client' },
          ],
          // A rule cluster (a subset of grpc-echo) must speak HTTP/2 too.
          rules: [
            {
              name: 'grpc-v2',
              sources: [{ arguments: [{ type: 'HEADER', key: 'x-version', value: 'v2' }] }],
              destinations: [{ service: 'grpc-echo', labels: { version: 'v2' } }],
            },
          ],
        },
      ],
    });
    bridge = await startBridge(['--file', file.path], { ready: true });
    sidecar = await startSidecar(bridge, { namespace: NS, service: 'client' });
    await waitForOnly(sidecar, 'h2c 2.0', `h2c-echo.${NS}`, {}, 20_000);
  });

  after(async () => {
    await sidecar?.stop();
    await bridge?.stop();
    file?.remove();
    await Promise.all(Object.values(ups).map((u) => u.close()));
  });

  it('speaks h2c to grpc, http2 and h2c instances and HTTP/1.1 to http ones', async () => {
    await sidecar.only('http2 2.0', 10, `http2-echo.${NS}`);
    await sidecar.only('h2c 2.0', 10, `h2c-echo.${NS}`);
    await sidecar.only('http 1.1', 10, `web.${NS}`);
    const grpc = await sidecar.tally(20, `grpc-echo.${NS}`);
    assert.deepEqual(Object.fromEntries(grpc), { 'grpc-v1 2.0': 10, 'grpc-v2 2.0': 10 });
  });

  it('a rule cluster of an HTTP/2 service speaks h2c too', async () => {
    await sidecar.only('grpc-v2 2.0', 20, `grpc-echo.${NS}`, '/', { 'x-version': 'v2' });
  });
});
