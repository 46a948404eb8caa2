// Incremental pushes, counted on the wire against a real polaris-xds process: scripted clients
// that follow references like Envoy (SotW and Delta sidecars) and like a gRPC client (SotW,
// proxyless) see that one instance added sends only that service's ClusterLoadAssignment, and
// that one routing rule changed sends only the RouteConfiguration that carries it (plus the rule's
// own new cluster and its assignment), never the rest of the mesh.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { TYPES } from '../support/ads-client.js';
import { meshFile, type MeshDoc, type MeshFile, type MeshRule } from '../support/mesh.js';
import { waitFor } from '../support/ports.js';
import { DeltaFollower, SotwFollower, type Follower, type Logged } from '../support/xds-follower.js';

const NS = 'xi';
const A = `OUTBOUND|${NS}|a`;
const SIDECAR_META = { 'sidecar.polarismesh.cn/serviceNamespace': NS, 'sidecar.polarismesh.cn/serviceName': 'client' };
const inst = (port: number, version = 'v1', host = '127.0.0.1') => ({ host, port, protocol: 'http', version });

const V2_RULE: MeshRule = {
  name: 'b-v2-by-header',
  sources: [{ service: '*', namespace: '*', arguments: [{ type: 'HEADER', key: 'x-v', value: 'v2' }] }],
  destinations: [{ service: 'b', namespace: NS, labels: { version: 'v2' } }],
};

/** mesh: service `a` has one instance per host in `aHosts`, all on one port (a new port would add domains to the routes). */
function mesh(aHosts: string[], rules: MeshRule[] = []): MeshDoc {
  return {
    namespaces: [
      {
        name: NS,
        services: [
          { name: 'a', instances: aHosts.map((h) => inst(20001, 'v1', h)) },
          { name: 'b', instances: [inst(21001, 'v1'), inst(21002, 'v2')] },
          { name: 'c', instances: [inst(22001)] },
          { name: 'client', instances: [inst(23001)] },
        ],
        rules,
      },
    ],
  };
}

const short = (t: string) => t.split('.').pop()!;
const describeLog = (log: readonly Logged[]) =>
  log
    .map((l) => `${short(l.typeUrl)}[${l.names.join(',')}]${l.removed.length ? `-[${l.removed.join(',')}]` : ''}`)
    .join(' ');
const ofType = (log: readonly Logged[], t: string) => log.filter((l) => l.typeUrl === t);

describe('incremental pushes from a real polaris-xds', () => {
  let file: MeshFile;
  let bridge: BridgeProcess;
  let sotw: Follower;
  let delta: Follower;
  let grpc: Follower;
  let all: Follower[];

  /** change rewrites the mesh, waits until every follower has the change and went quiet, and returns each one's new responses. */
  async function change(doc: MeshDoc, arrived: (f: Follower) => boolean): Promise<Logged[][]> {
    const marks = all.map((f) => f.mark());
    file.write(doc);
    await waitFor('every client to get the change', () => all.every(arrived), 10_000, 20);
    // The debounce window (100 ms quiet, 1 s at most) is well inside this quiet period.
    await Promise.all(all.map((f) => f.quiet(700)));
    return all.map((f, i) => f.since(marks[i]!));
  }

  before(async () => {
    file = meshFile(mesh(['127.0.0.1', '127.0.0.2']));
    bridge = await startBridge(['--file', file.path], { ready: true });
    const sidecar = (id: string) => ({ id: `${NS}/${id}~127.0.0.1`, metadata: SIDECAR_META });
    sotw = new SotwFollower(bridge.xdsAddress, { node: sidecar('sotw-sidecar') }).start();
    delta = new DeltaFollower(bridge.xdsAddress, { node: sidecar('delta-sidecar') }).start();
    grpc = new SotwFollower(bridge.xdsAddress, {
      node: { id: `${NS}/grpc-client~127.0.0.1`, metadata: SIDECAR_META, userAgent: 'gRPC Node ads-client' },
      listeners: [`a.${NS}`, `b.${NS}`],
      clusters: 'from-routes',
    }).start();
    all = [sotw, delta, grpc];
    await waitFor(
      'initial state',
      () => all.every((f) => f.names(TYPES.eds).includes(A) && f.names(TYPES.rds).length > 0),
      10_000,
      20,
    );
    await Promise.all(all.map((f) => f.quiet(500)));
  });

  after(async () => {
    await Promise.all((all ?? []).map((f) => f.close()));
    await bridge?.stop();
    file?.remove();
    for (const f of all ?? []) assert.deepEqual(f.violations, [], 'protocol invariants');
  });

  it('starts from the expected state', () => {
    for (const f of [sotw, delta]) {
      assert.deepEqual(f.names(TYPES.rds), [`polaris-inbound-cluster|client.${NS}`, 'polaris-outbound-router']);
      assert.deepEqual(f.names(TYPES.eds), [A, `OUTBOUND|${NS}|b`, `OUTBOUND|${NS}|c`, `OUTBOUND|${NS}|client`]);
    }
    assert.deepEqual(grpc.names(TYPES.lds), [`a.${NS}`, `b.${NS}`]);
    assert.deepEqual(grpc.names(TYPES.rds), [`polaris-outbound-router/a.${NS}`, `polaris-outbound-router/b.${NS}`]);
    assert.deepEqual(grpc.names(TYPES.cds), [A, `OUTBOUND|${NS}|b`]);
  });

  it('one instance added: only that ClusterLoadAssignment is sent, on every variant', async () => {
    const got = await change(
      mesh(['127.0.0.1', '127.0.0.2', '127.0.0.3']),
      (f) => (f.held.get(TYPES.eds)!.get(A)?.endpoints?.[0]?.lb_endpoints?.length ?? 0) === 3,
    );
    for (const [i, log] of got.entries()) {
      const who = ['SotW sidecar', 'Delta sidecar', 'SotW gRPC'][i]!;
      assert.equal(log.length, 1, `${who}: ${describeLog(log)}`);
      assert.equal(log[0]!.typeUrl, TYPES.eds, who);
      assert.deepEqual(log[0]!.names, [A], who);
      assert.deepEqual(log[0]!.removed, [], who);
      console.log(`one instance added → ${who}: 1 response, 1 ClusterLoadAssignment, ${log[0]!.bytes} bytes`);
    }
  });

  it('one routing rule added: only the RouteConfiguration that carries it, plus the rule cluster', async () => {
    const ruleCluster = (n: string) => n.startsWith(`OUTBOUND|${NS}|b|`);
    const expectRoute = [['polaris-outbound-router'], ['polaris-outbound-router'], [`polaris-outbound-router/b.${NS}`]];
    const hasRule = (f: Follower) =>
      JSON.stringify(f.held.get(TYPES.rds)!.get(expectRoute[all.indexOf(f)]![0]!) ?? '').includes('x-v');
    const got = await change(
      mesh(['127.0.0.1', '127.0.0.2', '127.0.0.3'], [V2_RULE]),
      (f) => f.names(TYPES.eds).some(ruleCluster) && hasRule(f),
    );
    for (const [i, log] of got.entries()) {
      const who = ['SotW sidecar', 'Delta sidecar', 'SotW gRPC'][i]!;
      const rds = ofType(log, TYPES.rds);
      assert.equal(rds.length, 1, `${who}: ${describeLog(log)}`);
      assert.deepEqual(rds[0]!.names, expectRoute[i], `${who}: ${describeLog(log)}`);
      const eds = ofType(log, TYPES.eds).flatMap((l) => l.names);
      assert.ok(eds.length > 0 && eds.every(ruleCluster), `${who}: only the rule's assignment: ${describeLog(log)}`);
      assert.deepEqual(ofType(log, TYPES.lds), [], `${who}: no listener pushed: ${describeLog(log)}`);
      const cds = ofType(log, TYPES.cds);
      if (i === 1)
        assert.ok(
          cds.flatMap((l) => l.names).every(ruleCluster),
          `${who}: Delta sends only the new cluster: ${describeLog(log)}`,
        );
      console.log(
        `rule added → ${who}: ${describeLog(log)}; ${log.reduce((n, l) => n + l.bytes, 0)} bytes (RDS ${rds[0]!.bytes})`,
      );
    }
  });

  it('a route configuration not touched by the rule was never re-sent', () => {
    for (const f of [sotw, delta]) {
      const inbound = f.log.filter(
        (l) => l.typeUrl === TYPES.rds && l.names.includes(`polaris-inbound-cluster|client.${NS}`),
      );
      assert.equal(inbound.length, 1, describeLog(f.log));
    }
    const aRoutes = grpc.log.filter(
      (l) => l.typeUrl === TYPES.rds && l.names.includes(`polaris-outbound-router/a.${NS}`),
    );
    assert.equal(aRoutes.length, 1, describeLog(grpc.log));
  });
});
