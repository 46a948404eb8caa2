// What a proxyless gRPC client (@grpc/grpc-js-xds, through its public API only) makes of a
// snapshot: the snapshot is served by a real polaris-xds ADS server on loopback, a grpc-js channel
// to `xds:///<listener>` is opened for each listener name, and the library fetches the listener,
// its route configuration, the clusters the routes name and their assignments, decoding each with
// its own validators (the code that NACKs). The server's status view then says, per type, whether
// the client ACKed or NACKed what it was sent.
import * as grpc from '@grpc/grpc-js';
import { register as registerXds } from '@grpc/grpc-js-xds';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, SHORT_NAMES } from '../../src/xds/resource.js';
import { createXdsServer } from '../../src/xds/server/ads.js';
import type { NackStatus, TypeStatus } from '../../src/xds/server/status.js';
import type { Snapshot } from '../../src/xds/snapshot.js';
import { FakeWatcher } from './fake-watcher.js';
import { waitFor } from './ports.js';

registerXds();

// grpc-js-xds takes a bootstrap per channel from this option (its tests use it too).
const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';

/** GrpcVerdict is what the client did with each type: held names and its last NACK, if any. */
export interface GrpcVerdict {
  /** Names the client asked for, by short type name (cds, eds, lds, rds). */
  readonly asked: Readonly<Record<string, readonly string[]>>;
  /** NACKs by short type name. */
  readonly nacks: Readonly<Record<string, NackStatus>>;
}

function settled(t: TypeStatus | undefined): boolean {
  return t !== undefined && t.responses > 0 && (t.ackedNonce === t.sentNonce || t.lastNack?.nonce === t.sentNonce);
}

/**
 * grpcVerdict serves `snapshot` and opens a grpc-js-xds channel per listener; it resolves once
 * the clients asked for every resource of the snapshot (as a real client would, following
 * listener → route → cluster → assignment; the status view lists up to 100 names per type) and
 * answered every response.
 */
export async function grpcVerdict(snapshot: Snapshot, nodeId = 'proxyless-check'): Promise<GrpcVerdict> {
  const server = await createXdsServer({ host: '127.0.0.1', port: 0, watcher: new FakeWatcher(snapshot) });
  const bootstrap = JSON.stringify({
    xds_servers: [
      { server_uri: `127.0.0.1:${server.port}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] },
    ],
    node: { id: nodeId, locality: { region: 'r', zone: 'z' } },
  });
  const listeners = [...snapshot.resources[LISTENER_TYPE].items.keys()];
  const channels = listeners.map(
    (l) =>
      new grpc.Client(`xds:///${l}`, grpc.credentials.createInsecure(), {
        [BOOTSTRAP_OPTION]: bootstrap,
        'grpc.use_local_subchannel_pool': 1,
      }),
  );
  try {
    for (const c of channels) c.getChannel().getConnectivityState(true);
    const types = [LISTENER_TYPE, ROUTE_TYPE, CLUSTER_TYPE, ENDPOINT_TYPE] as const;
    // Each channel has its own xDS client and stream: the verdict is every stream's together.
    const rows = await waitFor(
      'the gRPC clients to fetch and answer every resource',
      () => {
        const mine = server.status().filter((s) => s.nodeId === nodeId);
        if (mine.length < channels.length) return undefined;
        for (const type of types) {
          if (!mine.every((r) => settled(r.types[type]))) return undefined;
          const names = new Set(mine.flatMap((r) => r.types[type]!.names));
          if (names.size < snapshot.resources[type].items.size) return undefined;
        }
        return mine;
      },
      60_000,
      20,
    );
    const asked: Record<string, readonly string[]> = {};
    const nacks: Record<string, NackStatus> = {};
    for (const type of types) {
      asked[SHORT_NAMES[type]] = [...new Set(rows.flatMap((r) => r.types[type]!.names))].sort();
      const nack = rows.map((r) => r.types[type]!.lastNack).find((n) => n !== undefined);
      if (nack) nacks[SHORT_NAMES[type]] = nack;
    }
    // A channel closed while the library still applies a route update fails later, outside the
    // test (a cluster subscription on a torn-down client): close them once each has picked.
    const done = new Set([grpc.connectivityState.READY, grpc.connectivityState.TRANSIENT_FAILURE]);
    await waitFor(
      'every channel to settle on READY or TRANSIENT_FAILURE',
      () => channels.every((c) => done.has(c.getChannel().getConnectivityState(false))),
      20_000,
      20,
    );
    return { asked, nacks };
  } finally {
    await server.stop(0);
    for (const c of channels) c.close();
  }
}
