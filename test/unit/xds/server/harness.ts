// Shared set-up for xDS server tests: a server on a free port fed by a FakeWatcher, and clients
// that are closed (and checked for protocol violations) when the test ends.
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createXdsServer, type XdsServer, type XdsServerOptions } from '../../../../src/xds/server/ads.js';
import type { Snapshot } from '../../../../src/xds/snapshot.js';
import { DeltaClient, SotwClient } from '../../../support/ads-client.js';
import { FakeWatcher } from '../../../support/fake-watcher.js';
import { waitFor } from '../../../support/ports.js';

export interface Harness {
  readonly server: XdsServer;
  readonly watcher: FakeWatcher;
  readonly registry: Registry;
  readonly address: string;
  sotw(): SotwClient;
  delta(): DeltaClient;
  /** answered waits until the server has recorded the client's ACK or NACK of the response with `nonce`. */
  answered(typeUrl: string, nonce: string): Promise<void>;
  /** stop closes clients, asserts none saw a protocol violation, and stops the server. */
  stop(): Promise<void>;
}

/** startHarness starts a server on 127.0.0.1:0 serving `initial` (if any). */
export async function startHarness(initial?: Snapshot, opts: Partial<XdsServerOptions> = {}): Promise<Harness> {
  const watcher = new FakeWatcher(initial);
  const registry = new Registry();
  const server = await createXdsServer({
    host: '127.0.0.1',
    port: 0,
    watcher,
    registry,
    controlPlaneId: 'test-cp',
    ...opts,
  });
  const address = `127.0.0.1:${server.port}`;
  const clients: Array<SotwClient | DeltaClient> = [];
  return {
    server,
    watcher,
    registry,
    address,
    sotw: () => {
      const c = new SotwClient(address);
      clients.push(c);
      return c;
    },
    delta: () => {
      const c = new DeltaClient(address);
      clients.push(c);
      return c;
    },
    answered: async (typeUrl, nonce) => {
      await waitFor(
        `answer to ${typeUrl} nonce ${nonce}`,
        () =>
          server
            .status()
            .some((s) => s.types[typeUrl]?.ackedNonce === nonce || s.types[typeUrl]?.lastNack?.nonce === nonce),
        3000,
        5,
      );
    },
    stop: async () => {
      for (const c of clients) c.close();
      await server.stop(1000);
      for (const c of clients) assert.deepEqual(c.violations, [], 'protocol invariants');
    },
  };
}
