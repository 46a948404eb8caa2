// Destination groups through a real Envoy: weights split traffic within a priority, a group with
// no healthy instance drops out, and the next priority takes traffic only when no group of the
// better one has a healthy instance (unhealthy or removed), and gives it back when they return.
// The mesh file is rewritten to change instance health; the file source picks it up.
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

const NS = 'rw';
const HOST = `echo.${NS}`;
const SPLIT = { 'x-split': '1' };
const FAILOVER = { 'x-failover': '1' };

/** Instance name → version label. a1/a2 are v1, b is v2, c is v3. */
const VERSIONS: Record<string, string> = { a1: 'v1', a2: 'v1', b: 'v2', c: 'v3' };

interface State {
  unhealthy?: string[];
  removed?: string[];
}

function mesh(upstreams: Record<string, Upstream>, state: State = {}): MeshDoc {
  const instances: MeshInstance[] = Object.entries(VERSIONS)
    .filter(([name]) => !state.removed?.includes(name))
    .map(([name, version]) => ({
      host: '127.0.0.1',
      port: upstreams[name]!.port,
      version,
      healthy: !state.unhealthy?.includes(name),
    }));
  return {
    namespaces: [
      {
        name: NS,
        services: [{ name: 'echo', instances }, { name: 'client' }],
        rules: [
          {
            name: 'split',
            sources: [{ arguments: [{ type: 'HEADER', key: 'x-split', value: '1' }] }],
            destinations: [
              { service: 'echo', labels: { version: 'v1' }, weight: 80, name: 'v1' },
              { service: 'echo', labels: { version: 'v2' }, weight: 20, name: 'v2' },
            ],
          },
          {
            name: 'failover',
            sources: [{ arguments: [{ type: 'HEADER', key: 'x-failover', value: '1' }] }],
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

function share(counts: Map<string, number>, names: string[]): number {
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  return (100 * names.reduce((s, n) => s + (counts.get(n) ?? 0), 0)) / total;
}

describe('destination weights and priority failover through a real Envoy', () => {
  const upstreams: Record<string, Upstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  let sidecar: Sidecar;

  /** change rewrites the mesh and waits (at most 5 s) until the failover rule's traffic passes `ok`; returns the ms it took. */
  async function change(state: State, ok: (c: Map<string, number>) => boolean): Promise<number> {
    const started = Date.now();
    file.write(mesh(upstreams, state));
    await waitForCounts(sidecar, FAILOVER, ok, 5_000);
    return Date.now() - started;
  }

  before(async () => {
    for (const name of Object.keys(VERSIONS)) upstreams[name] = await startUpstream(name);
    file = meshFile(mesh(upstreams));
    bridge = await startBridge(['--file', file.path], { ready: true });
    sidecar = await startSidecar(bridge, { namespace: NS, service: 'client' });
    await waitForCounts(sidecar, FAILOVER, (c) => c.size > 0, 20_000);
  });

  after(async () => {
    await sidecar?.stop();
    await bridge?.stop();
    file?.remove();
    await Promise.all(Object.values(upstreams).map((u) => u.close()));
  });

  it('80/20 weights: 1,000 requests land within ±5 points', async () => {
    const counts = await sidecar.tally(1000, HOST, '/', SPLIT, 20);
    const v1 = share(counts, ['a1', 'a2']);
    const v2 = share(counts, ['b']);
    console.log(
      `80/20 split measured: v1 ${v1.toFixed(1)} % (a1 ${counts.get('a1')}, a2 ${counts.get('a2')}), v2 ${v2.toFixed(1)} % (${counts.get('b')}) of 1000`,
    );
    assert.equal(v1 + v2, 100, JSON.stringify(Object.fromEntries(counts)));
    assert.ok(Math.abs(v1 - 80) <= 5, `v1 got ${v1} %`);
    assert.ok(Math.abs(v2 - 20) <= 5, `v2 got ${v2} %`);
  });

  it('a group without a healthy instance drops out: its share goes to the others', async () => {
    file.write(mesh(upstreams, { unhealthy: ['b'] }));
    await waitForCounts(sidecar, SPLIT, (c) => !c.has('b'));
    const counts = await sidecar.tally(200, HOST, '/', SPLIT);
    assert.deepEqual([...counts.keys()].sort(), ['a1', 'a2']);
    file.write(mesh(upstreams));
    await waitForCounts(sidecar, SPLIT, (c) => c.has('b'));
  });

  it('priority 1 gets nothing while priority 0 has one healthy instance', async () => {
    await waitForCounts(sidecar, FAILOVER, bothPrimaries);
    file.write(mesh(upstreams, { unhealthy: ['a1'] }));
    await waitForCounts(sidecar, FAILOVER, (c) => !c.has('a1'));
    await sidecar.only('a2', 200, HOST, '/', FAILOVER);
  });

  it('every priority-0 instance unhealthy → priority 1 within 5 s, and back', async () => {
    const away = await change({ unhealthy: ['a1', 'a2'] }, onlyBackup);
    await sidecar.only('c', 100, HOST, '/', FAILOVER);
    const back = await change({}, bothPrimaries);
    console.log(`failover (unhealthy): to priority 1 in ${away} ms, back in ${back} ms`);
  });

  it('every priority-0 instance removed → priority 1 within 5 s, and back', async () => {
    const away = await change({ removed: ['a1', 'a2'] }, onlyBackup);
    await sidecar.only('c', 100, HOST, '/', FAILOVER);
    const back = await change({}, bothPrimaries);
    console.log(`failover (removed): to priority 1 in ${away} ms, back in ${back} ms`);
  });
});

/** waitForCounts waits until 20 requests with `headers` give counts that pass `ok` (all succeeding). */
async function waitForCounts(
  sidecar: Sidecar,
  headers: Record<string, string>,
  ok: (c: Map<string, number>) => boolean,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = new Map<string, number>();
  while (Date.now() < deadline) {
    last = await sidecar.tally(20, HOST, '/', headers, 5);
    if ([...last.keys()].every((k) => k in VERSIONS) && ok(last)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out; last counts ${JSON.stringify(Object.fromEntries(last))}`);
}

function onlyBackup(c: Map<string, number>): boolean {
  return c.size === 1 && c.has('c');
}

function bothPrimaries(c: Map<string, number>): boolean {
  return c.size === 2 && c.has('a1') && c.has('a2');
}
