// Proxyless gRPC against polaris-xds: @grpc/grpc-js-xds channels to `xds:///<svc>.<ns>`,
// bootstrapped by `polaris-xds bootstrap --grpc`, reach real gRPC servers registered in the mesh
// (from a mesh file, and from a real Polaris server). The client's own status (CSDS, gRFC A40)
// shows every resource it holds ACKED, and the bridge's /debug/syncz shows no NACK.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { register as registerXds } from '@grpc/grpc-js-xds';
import { runCli, startBridge, type BridgeProcess } from '../support/bridge.js';
import { repoRoot } from '../support/components.js';
import { meshFile, type MeshDoc, type MeshFile } from '../support/mesh.js';
import { startPolaris, type PolarisServer } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';

registerXds();

const BOOTSTRAP_OPTION = 'grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config';
const XDS_DEPS = join(repoRoot, 'node_modules/@grpc/grpc-js-xds/deps');

type Json = Record<string, any>;
type EchoClient = grpc.Client & {
  Say(
    req: { text: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, res?: { text: string; server: string }) => void,
  ): void;
};

const echoProto = grpc.loadPackageDefinition(
  protoLoader.loadSync(join(repoRoot, 'test/support/proto/echo.proto'), { keepCase: true }),
) as Json;
const Echo = echoProto.polarisxds.test.Echo as grpc.ServiceClientConstructor;

/** EchoServer is a gRPC upstream answering with its name. */
interface EchoServer {
  readonly name: string;
  readonly port: number;
  calls: number;
  stop(): Promise<void>;
}

async function startEchoServer(name: string): Promise<EchoServer> {
  const server = new grpc.Server();
  const s = { name, port: 0, calls: 0 } as EchoServer & { port: number };
  server.addService(Echo.service, {
    Say: (
      call: grpc.ServerUnaryCall<{ text: string }, unknown>,
      cb: grpc.sendUnaryData<{ text: string; server: string }>,
    ) => {
      s.calls++;
      cb(null, { text: call.request.text, server: name });
    },
  });
  s.port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    ),
  );
  s.stop = () => new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  return s;
}

/** grpcBootstrap asks `polaris-xds bootstrap --grpc` for the JSON a proxyless client needs. */
async function grpcBootstrap(xdsAddress: string, namespace: string): Promise<{ json: string; nodeId: string }> {
  const bs = await runCli([
    'bootstrap',
    '--grpc',
    '--xds-address',
    xdsAddress,
    '--namespace',
    namespace,
    '--service',
    'caller',
  ]);
  assert.equal(bs.code, 0, bs.stderr);
  const parsed = JSON.parse(bs.stdout) as Json;
  assert.ok(parsed.node.locality, 'the bootstrap carries a node locality (grpc-js requires it)');
  return { json: bs.stdout, nodeId: parsed.node.id };
}

/** say makes one call through a channel and returns the name of the server that answered. */
function say(client: EchoClient, text = 'hi'): Promise<string> {
  return new Promise((resolve, reject) => {
    client.Say({ text }, { deadline: Date.now() + 5000 }, (err, res) => (err ? reject(err) : resolve(res!.server)));
  });
}

/** tally makes `n` calls one after another and counts answers by server. */
async function tally(client: EchoClient, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const who = await say(client);
    counts.set(who, (counts.get(who) ?? 0) + 1);
  }
  return counts;
}

const csdsProto = grpc.loadPackageDefinition(
  protoLoader.loadSync('envoy/service/status/v3/csds.proto', {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
    includeDirs: ['envoy-api', 'xds', 'protoc-gen-validate', 'googleapis'].map((d) => join(XDS_DEPS, d)),
  }),
) as Json;

/**
 * Csds serves this process's CSDS (grpc-js-xds registers it as an admin service) and asks it for
 * the status of every xDS client in the process.
 */
class Csds {
  private constructor(
    private readonly server: grpc.Server,
    private readonly client: Json,
  ) {}

  static async start(): Promise<Csds> {
    const server = new grpc.Server();
    grpc.addAdminServicesToServer(server);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(err) : resolve(p),
      ),
    );
    const Service = csdsProto.envoy.service.status.v3.ClientStatusDiscoveryService as grpc.ServiceClientConstructor;
    return new Csds(server, new Service(`127.0.0.1:${port}`, grpc.credentials.createInsecure()));
  }

  /** configsOf lists the generic_xds_configs of the client whose node id is `nodeId`. */
  async configsOf(nodeId: string): Promise<Json[]> {
    const res = await new Promise<Json>((resolve, reject) =>
      this.client.FetchClientStatus({}, (err: Error | null, r: Json) => (err ? reject(err) : resolve(r))),
    );
    return (res.config as Json[]).filter((c) => c.node?.id === nodeId).flatMap((c) => c.generic_xds_configs as Json[]);
  }

  stop(): void {
    this.client.close();
    this.server.forceShutdown();
  }
}

const short = (t: string) => String(t).split('.').pop();

/** assertAllAcked checks a client's CSDS view: listener, route, cluster and endpoints present, every one ACKED. */
async function assertAllAcked(csds: Csds, nodeId: string, listener: string): Promise<Json[]> {
  const configs = await csds.configsOf(nodeId);
  const types = new Set(configs.map((c) => short(c.type_url)));
  assert.deepEqual(
    [...types].sort(),
    ['Cluster', 'ClusterLoadAssignment', 'Listener', 'RouteConfiguration'],
    'all four types held',
  );
  assert.ok(
    configs.some((c) => c.name === listener),
    `listener ${listener} held`,
  );
  for (const c of configs)
    assert.equal(
      c.client_status,
      'ACKED',
      `${short(c.type_url)} ${c.name}: ${c.client_status} ${JSON.stringify(c.error_state)}`,
    );
  return configs;
}

/** assertNoNack checks the bridge's /debug/syncz row of a node: every type ACKed at the version sent, no NACK. */
async function assertNoNack(bridge: BridgeProcess, nodeId: string): Promise<void> {
  const rows =
    await bridge.adminJson<
      Array<{
        nodeId: string;
        types: Record<string, { sentVersion?: string; ackedVersion?: string; lastNack?: unknown }>;
      }>
    >('/debug/syncz');
  const row = rows.find((r) => r.nodeId === nodeId);
  assert.ok(row, `node ${nodeId} in /debug/syncz`);
  assert.equal(Object.keys(row!.types).length, 4);
  for (const [t, s] of Object.entries(row!.types)) {
    assert.equal(s.lastNack, undefined, `${short(t)} NACKed: ${JSON.stringify(s.lastNack)}`);
    assert.equal(s.ackedVersion, s.sentVersion, `${short(t)} ACKed at the version sent`);
  }
}

let csds: Csds;
before(async () => {
  csds = await Csds.start();
});
after(() => csds?.stop());

describe('grpc-js-xds against polaris-xds on a mesh file', () => {
  const NS = 'xg';
  const servers: EchoServer[] = [];
  let file: MeshFile;
  let bridge: BridgeProcess;
  let client: EchoClient;
  let nodeId = '';

  const mesh = (live: EchoServer[]): MeshDoc => ({
    namespaces: [
      {
        name: NS,
        services: [
          { name: 'echo', instances: live.map((s) => ({ host: '127.0.0.1', port: s.port, protocol: 'grpc' })) },
        ],
      },
    ],
  });

  before(async () => {
    for (const n of ['g1', 'g2', 'g3']) servers.push(await startEchoServer(n));
    file = meshFile(mesh(servers.slice(0, 2)));
    bridge = await startBridge(['--file', file.path], { ready: true });
    const bs = await grpcBootstrap(bridge.xdsAddress, NS);
    nodeId = bs.nodeId;
    client = new Echo(`xds:///echo.${NS}`, grpc.credentials.createInsecure(), {
      [BOOTSTRAP_OPTION]: bs.json,
    }) as unknown as EchoClient;
  });

  after(async () => {
    client?.close();
    await bridge?.stop();
    file?.remove();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('calls through xds:///echo.xg reach every registered server', async () => {
    await waitFor(
      'both servers answer',
      async () => (await tally(client, 10).catch(() => new Map())).size === 2,
      20_000,
      100,
    );
    const counts = await tally(client, 30);
    assert.deepEqual([...counts.keys()].sort(), ['g1', 'g2']);
    console.log(`file source: 30 calls → ${JSON.stringify(Object.fromEntries(counts))}`);
  });

  it('the client holds every resource ACKED (CSDS), and the bridge saw no NACK', async () => {
    const configs = await assertAllAcked(csds, nodeId, `echo.${NS}`);
    console.log(`CSDS: ${configs.map((c) => `${short(c.type_url)} ${c.name} ${c.client_status}`).join('; ')}`);
    await assertNoNack(bridge, nodeId);
  });

  it('a caller in the same namespace may dial the short name xds:///echo', async () => {
    const bs = await grpcBootstrap(bridge.xdsAddress, NS);
    const short = new Echo('xds:///echo', grpc.credentials.createInsecure(), {
      [BOOTSTRAP_OPTION]: bs.json,
    }) as unknown as EchoClient;
    try {
      await waitFor(
        'short name answers',
        async () => (await tally(short, 6).catch(() => new Map())).size === 2,
        20_000,
        100,
      );
      await assertAllAcked(csds, bs.nodeId, 'echo');
    } finally {
      short.close();
    }
  });

  it('follows the mesh: an added server takes calls, a removed one gets none', async () => {
    file.write(mesh(servers));
    await waitFor('g3 answers', async () => (await tally(client, 9)).has('g3'), 10_000, 50);
    file.write(mesh(servers.slice(1)));
    await waitFor('g1 left', async () => !(await tally(client, 9)).has('g1'), 10_000, 50);
    const before = servers[0]!.calls;
    const counts = await tally(client, 30);
    assert.deepEqual([...counts.keys()].sort(), ['g2', 'g3']);
    assert.equal(servers[0]!.calls, before);
    await assertAllAcked(csds, nodeId, `echo.${NS}`);
    await assertNoNack(bridge, nodeId);
  });
});

describe('grpc-js-xds against polaris-xds on a real Polaris', () => {
  const NS = 'xgp';
  const servers: EchoServer[] = [];
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let client: EchoClient;
  let nodeId = '';

  before(async () => {
    polaris = await startPolaris();
    for (const n of ['p1', 'p2']) servers.push(await startEchoServer(n));
    await polaris.api.createNamespaces([NS]);
    await polaris.api.registerInstances(
      servers.map((s) => ({
        namespace: NS,
        service: 'echo',
        host: '127.0.0.1',
        port: s.port,
        protocol: 'grpc',
        weight: 100,
        healthy: true,
      })),
    );
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS], { ready: true });
    const bs = await grpcBootstrap(bridge.xdsAddress, NS);
    nodeId = bs.nodeId;
    client = new Echo(`xds:///echo.${NS}`, grpc.credentials.createInsecure(), {
      [BOOTSTRAP_OPTION]: bs.json,
    }) as unknown as EchoClient;
  });

  after(async () => {
    client?.close();
    await bridge?.stop();
    await polaris?.stop();
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('calls reach both servers registered in Polaris; every resource ACKED; no NACK', async () => {
    await waitFor(
      'both servers answer',
      async () => (await tally(client, 10).catch(() => new Map())).size === 2,
      30_000,
      200,
    );
    const counts = await tally(client, 30);
    assert.deepEqual([...counts.keys()].sort(), ['p1', 'p2']);
    console.log(`Polaris source: 30 calls → ${JSON.stringify(Object.fromEntries(counts))}`);
    await assertAllAcked(csds, nodeId, `echo.${NS}`);
    await assertNoNack(bridge, nodeId);
  });

  it('a server deregistered in Polaris stops getting calls', async () => {
    const gone = servers[0]!;
    await polaris.api.deleteInstances([{ namespace: NS, service: 'echo', host: '127.0.0.1', port: gone.port }]);
    await waitFor('p1 left', async () => !(await tally(client, 8)).has('p1'), 15_000, 100);
    const before = gone.calls;
    assert.deepEqual([...(await tally(client, 20)).keys()], ['p2']);
    assert.equal(gone.calls, before);
    await assertAllAcked(csds, nodeId, `echo.${NS}`);
  });
});
