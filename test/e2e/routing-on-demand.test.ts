// Routing rules behave the same on an on-demand sidecar (VHDS + on-demand CDS) as on a full-state
// one: the same cases — header match, a rule for one caller, 80/20 weights, priority failover —
// run against both, side by side, on one bridge and one mesh.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import {
  meshFile,
  startSidecar,
  type MeshDoc,
  type MeshFile,
  type MeshInstance,
  type Sidecar,
} from '../support/mesh.js';
import { startUpstream, type Upstream } from '../support/upstream.js';
import { waitListenerActive } from '../support/envoy.js';

const NS = 'rod';
const HOST = `echo.${NS}`;
/** Instance name → version label. */
const VERSIONS: Record<string, string> = { a1: 'v1', a2: 'v1', b: 'v2', c: 'v3' };

function mesh(ups: Record<string, Upstream>, unhealthy: string[] = []): MeshDoc {
  const instances: MeshInstance[] = Object.entries(VERSIONS).map(([name, version]) => ({
    host: '127.0.0.1',
    port: ups[name]!.port,
    version,
    healthy: !unhealthy.includes(name),
  }));
  const header = (key: string) => [{ type: 'HEADER' as const, key, value: '1' }];
  return {
    namespaces: [
      {
        name: NS,
        services: [
          { name: 'echo', instances },
          { name: 'client' },
          ...Array.from({ length: 20 }, (_, i) => ({
            name: `filler-${i}`,
            instances: [{ host: '127.0.0.1', port: 9 }],
          })),
        ],
        rules: [
          {
            name: 'canary',
            sources: [{ arguments: header('x-canary') }],
            destinations: [{ service: 'echo', labels: { version: 'v2' } }],
          },
          {
            name: 'caller',
            sources: [{ service: 'client', namespace: NS, arguments: header('x-caller') }],
            destinations: [{ service: 'echo', labels: { version: 'v3' } }],
          },
          {
            name: 'split',
            sources: [{ arguments: header('x-split') }],
            destinations: [
              { service: 'echo', labels: { version: 'v1' }, weight: 80, name: 'v1' },
              { service: 'echo', labels: { version: 'v2' }, weight: 20, name: 'v2' },
            ],
          },
          {
            name: 'failover',
            sources: [{ arguments: header('x-failover') }],
            destinations: [
              { service: 'echo', labels: { version: 'v1' }, priority: 0, name: 'primary' },
              { service: 'echo', labels: { version: 'v3' }, priority: 1, name: 'backup' },
            ],
          },
        ],
      },
    ],
  };
}

const keys = (c: Map<string, number>) => [...c.keys()].sort();
const share = (c: Map<string, number>, names: string[]) =>
  (100 * names.reduce((s, n) => s + (c.get(n) ?? 0), 0)) / [...c.values()].reduce((a, b) => a + b, 0);

describe('routing rules on an on-demand and a full-state sidecar', () => {
  const ups: Record<string, Upstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  const sidecars: Array<[string, Sidecar]> = [];

  /** untilBoth waits until 20 requests with `headers` through each sidecar pass `ok`. */
  async function untilBoth(
    headers: Record<string, string>,
    ok: (c: Map<string, number>) => boolean,
    timeoutMs = 10_000,
  ): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const [mode, s] of sidecars) {
      let last = new Map<string, number>();
      for (;;) {
        last = await s.tally(20, HOST, '/', headers, 5);
        if (ok(last)) break;
        if (Date.now() > deadline)
          assert.fail(`${mode}: timed out; last counts ${JSON.stringify(Object.fromEntries(last))}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  before(async () => {
    for (const name of Object.keys(VERSIONS)) ups[name] = await startUpstream(name);
    file = meshFile(mesh(ups));
    bridge = await startBridge(['--file', file.path], { ready: true });
    const [full, onDemand] = await Promise.all([
      startSidecar(bridge, { namespace: NS, service: 'client' }),
      startSidecar(bridge, { namespace: NS, service: 'client', onDemand: true }),
    ]);
    sidecars.push(['full-state', full], ['on-demand', onDemand]);
    await waitListenerActive(onDemand.envoy, 'OUTBOUND_');
  });

  after(async () => {
    for (const [, s] of sidecars) await s.stop();
    await bridge?.stop();
    file?.remove();
    await Promise.all(Object.values(ups).map((u) => u.close()));
  });

  it('the first request succeeds on both; the on-demand sidecar holds only echo', async () => {
    for (const [mode, s] of sidecars) {
      // The full-state sidecar may still be taking its first configuration.
      if (mode === 'full-state') await untilBoth({}, (c) => c.size > 0 && keys(c).every((k) => k in VERSIONS));
      const r = await s.send(HOST);
      assert.equal(r.status, 200, `${mode}: ${r.status} ${r.body}`);
    }
    const dump = await sidecars[1]![1].envoy.configDump();
    const outbound = dump.clusters.map((c) => c.name).filter((n) => n.startsWith('OUTBOUND|'));
    assert.ok(outbound.length > 0 && outbound.every((n) => n.startsWith(`OUTBOUND|${NS}|echo`)), outbound.join(', '));
  });

  it('header match: x-canary goes to v2 only, on both', async () => {
    for (const [mode, s] of sidecars)
      assert.deepEqual(keys(await s.tally(100, HOST, '/', { 'x-canary': '1' })), ['b'], mode);
  });

  it('a rule for one caller applies to that caller, on both', async () => {
    for (const [mode, s] of sidecars)
      assert.deepEqual(keys(await s.tally(100, HOST, '/', { 'x-caller': '1' })), ['c'], mode);
  });

  it('80/20 weights land within ±7 points, on both', async () => {
    for (const [mode, s] of sidecars) {
      const counts = await s.tally(400, HOST, '/', { 'x-split': '1' }, 20);
      const v1 = share(counts, ['a1', 'a2']);
      console.log(`${mode}: 80/20 split measured v1 ${v1.toFixed(1)} %`);
      assert.deepEqual(keys(counts), ['a1', 'a2', 'b'], mode);
      assert.ok(Math.abs(v1 - 80) <= 7, `${mode}: v1 got ${v1} %`);
    }
  });

  it('failover: priority 1 only when priority 0 has no healthy instance, and back, on both', async () => {
    const fo = { 'x-failover': '1' };
    await untilBoth(fo, (c) => keys(c).join() === 'a1,a2');
    file.write(mesh(ups, ['a1', 'a2']));
    await untilBoth(fo, (c) => keys(c).join() === 'c');
    file.write(mesh(ups));
    await untilBoth(fo, (c) => keys(c).join() === 'a1,a2');
  });
});
