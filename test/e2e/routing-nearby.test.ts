// Nearby routing through real Envoys: a service with metadata `polaris-xds.io/nearby: zone` sends
// each caller to instances in its own zone first, then its region, then the rest, as the nearer
// ones become unhealthy or go away. The caller's locality is the Envoy node's (bootstrap flags).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import {
  meshFile,
  startSidecar,
  waitForOnly,
  type MeshDoc,
  type MeshFile,
  type MeshInstance,
  type Sidecar,
} from '../support/mesh.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'rn';
const HOST = `geo.${NS}`;

/** Instance name → locality: za in zone-a, zb in zone-b (same region), rc in another region. */
const PLACES: Record<string, { region: string; zone: string }> = {
  za: { region: 'r1', zone: 'zone-a' },
  zb: { region: 'r1', zone: 'zone-b' },
  rc: { region: 'r2', zone: 'zone-c' },
};

function mesh(upstreams: Record<string, Upstream>, state: { unhealthy?: string[]; removed?: string[] } = {}): MeshDoc {
  const instances: MeshInstance[] = Object.entries(PLACES)
    .filter(([name]) => !state.removed?.includes(name))
    .map(([name, locality]) => ({
      host: '127.0.0.1',
      port: upstreams[name]!.port,
      locality,
      healthy: !state.unhealthy?.includes(name),
    }));
  return {
    namespaces: [
      {
        name: NS,
        services: [{ name: 'geo', metadata: { 'polaris-xds.io/nearby': 'zone' }, instances }, { name: 'client' }],
      },
    ],
  };
}

describe('nearby routing through real Envoys', () => {
  const upstreams: Record<string, Upstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  let inZoneA: Sidecar;
  let inZoneB: Sidecar;
  let nowhere: Sidecar;

  before(async () => {
    for (const name of Object.keys(PLACES)) upstreams[name] = await startUpstream(name);
    file = meshFile(mesh(upstreams));
    bridge = await startBridge(['--file', file.path], { ready: true });
    [inZoneA, inZoneB, nowhere] = await Promise.all([
      startSidecar(bridge, { namespace: NS, service: 'client', region: 'r1', zone: 'zone-a' }),
      startSidecar(bridge, { namespace: NS, service: 'client', region: 'r1', zone: 'zone-b' }),
      startSidecar(bridge, { namespace: NS, service: 'client' }),
    ]);
    await Promise.all([waitForOnly(inZoneA, 'za', HOST, {}, 20_000), waitForOnly(inZoneB, 'zb', HOST, {}, 20_000)]);
  });

  after(async () => {
    await Promise.all([inZoneA?.stop(), inZoneB?.stop(), nowhere?.stop()]);
    await bridge?.stop();
    file?.remove();
    await Promise.all(Object.values(upstreams).map((u) => u.close()));
  });

  it("each caller gets its own zone's instance; a caller without a locality gets all", async () => {
    await inZoneA.only('za', 50, HOST);
    await inZoneB.only('zb', 50, HOST);
    const counts = await nowhere.tally(60, HOST);
    assert.deepEqual([...counts.keys()].sort(), ['rc', 'za', 'zb']);
  });

  it('zone-a gone → same region (zone-b), then the other region, and back', async () => {
    let started = Date.now();
    file.write(mesh(upstreams, { unhealthy: ['za'] }));
    await waitForOnly(inZoneA, 'zb', HOST, {}, 5_000);
    const toRegion = Date.now() - started;
    await inZoneA.only('zb', 50, HOST);
    // zone-b's own caller is unaffected.
    await inZoneB.only('zb', 20, HOST);

    started = Date.now();
    file.write(mesh(upstreams, { unhealthy: ['za'], removed: ['zb'] }));
    await waitForOnly(inZoneA, 'rc', HOST, {}, 5_000);
    const toRest = Date.now() - started;
    await inZoneA.only('rc', 50, HOST);

    started = Date.now();
    file.write(mesh(upstreams));
    await waitForOnly(inZoneA, 'za', HOST, {}, 5_000);
    const back = Date.now() - started;
    await inZoneA.only('za', 50, HOST);
    console.log(
      `nearby: zone-a → zone-b in ${toRegion} ms, → other region in ${toRest} ms, back to zone-a in ${back} ms`,
    );
  });
});
