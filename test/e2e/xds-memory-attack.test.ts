// No client of the xDS port can exhaust the bridge's memory: the bridge runs with the Helm chart's
// heap limit, a real Envoy is connected, and an attacker sends name lists over and within the
// limit, each on its own stream, in both protocol variants. The bridge stays up and ready, the
// Envoy converges on the next change, and after the attacker leaves the used heap (after a full
// collection) is back within 20 MB of where it was.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { repoRoot } from '../support/components.js';
import { startSidecarEnvoy, type EnvoyProcess } from '../support/envoy.js';
import { inspectorUrl, usedHeapAfterGc } from '../support/heap.js';
import { meshFile, type MeshDoc, type MeshFile } from '../support/mesh.js';
import { waitFor } from '../support/ports.js';
import { ADS_PATHS, connect, deltaRequest, nameList, rawCall, sotwRequest, tinyNameList } from '../support/raw-xds.js';

const NS = 'atk';
const CDS = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
const RESOURCE_EXHAUSTED = 8;
const MB = 1_000_000;
// What the chart runs the bridge with.
const CHART_NODE_OPTIONS = (
  parseYaml(readFileSync(join(repoRoot, 'deploy/helm/polaris-xds/values.yaml'), 'utf8')) as { nodeOptions: string }
).nodeOptions;
// 1.35 million one-letter names: 4.05 MB, just within the default 4 MiB message limit, far over the name limit.
const HUGE = 1_350_000;
const ACCEPTED = 50_000;
const ROUNDS = 60;
// Streams in flight at once; each request still has a stream of its own.
const PARALLEL = 4;

function mesh(echoPort: number): MeshDoc {
  return {
    namespaces: [
      {
        name: NS,
        services: [
          { name: 'echo', instances: [{ host: '127.0.0.1', port: echoPort, protocol: 'http' }] },
          { name: 'client', instances: [{ host: '127.0.0.1', port: 31000, protocol: 'http' }] },
        ],
      },
    ],
  };
}

async function endpointPorts(envoy: EnvoyProcess): Promise<number[]> {
  const dump = await envoy.configDump();
  const cla = dump.endpoints.find((e) => e.name === `OUTBOUND|${NS}|echo`)?.raw as
    | {
        endpoints?: Array<{
          lb_endpoints?: Array<{ endpoint: { address: { socket_address: { port_value: number } } } }>;
        }>;
      }
    | undefined;
  return (cla?.endpoints ?? [])
    .flatMap((l) => l.lb_endpoints ?? [])
    .map((e) => e.endpoint.address.socket_address.port_value);
}

async function metric(bridge: BridgeProcess, name: string): Promise<number> {
  const text = (await bridge.admin('/metrics')).body;
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/** inBatches runs `fn(i)` for i in [0, n), PARALLEL at a time. */
async function inBatches(n: number, fn: (i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < n; i += PARALLEL)
    await Promise.all(Array.from({ length: Math.min(PARALLEL, n - i) }, (_, k) => fn(i + k)));
}

describe('an attacker on the xDS port, against the bridge with the chart heap limit', () => {
  let file: MeshFile;
  let bridge: BridgeProcess;
  let envoy: EnvoyProcess;
  let inspector: string;
  let echoPort = 30001;

  before(async () => {
    file = meshFile(mesh(echoPort));
    bridge = await startBridge(['--file', file.path], {
      ready: true,
      env: { NODE_OPTIONS: `${CHART_NODE_OPTIONS} --inspect=127.0.0.1:0` },
    });
    await waitFor('the inspector address', () => inspectorUrl(bridge.logs()) !== undefined, 5000, 20);
    inspector = inspectorUrl(bridge.logs())!;
    ({ envoy } = await startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'client' }));
    await waitFor(
      'envoy has the echo endpoint',
      async () => (await endpointPorts(envoy)).includes(echoPort),
      20_000,
      100,
    );
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    file?.remove();
  });

  for (const mode of ['sotw', 'delta'] as const) {
    const request = (names: Buffer, nodeId: string) =>
      mode === 'sotw' ? sotwRequest(CDS, names, nodeId) : deltaRequest(CDS, names, nodeId);

    it(`${mode}: ${ROUNDS} over-limit lists of ${HUGE} names, then ${ROUNDS} accepted lists of ${ACCEPTED}: up, ready, converging, heap back`, async () => {
      const groupsBefore = await metric(bridge, 'polaris_xds_node_groups');
      const heapBefore = await usedHeapAfterGc(inspector);
      const session = connect(bridge.xdsAddress);
      const started = Date.now();
      try {
        await inBatches(ROUNDS, async (i) => {
          const call = rawCall(session, ADS_PATHS[mode], [
            request(tinyNameList(3, HUGE, i), `${NS}/attacker~10.0.0.1`),
          ]);
          const end = await call.ended;
          // The client's side is still open: closing it frees the connection's stream slot.
          call.close();
          assert.equal(end.grpcStatus, RESOURCE_EXHAUSTED, `over-limit request ${i}: ${JSON.stringify(end)}`);
          assert.match(end.grpcMessage ?? '', /PXDS_ERR_XDS_TOO_MANY_NAMES/);
        });
        await inBatches(ROUNDS, async (i) => {
          const call = rawCall(session, ADS_PATHS[mode], [
            request(
              nameList(3, ACCEPTED, (k) => `OUTBOUND|${NS}|svc-${k}-${mode}-${i}`),
              `${NS}/attacker~10.0.0.1`,
            ),
          ]);
          await call.firstData;
          call.close();
          const end = await call.ended;
          assert.ok(end.dataBytes > 0, `accepted request ${i} was answered: ${JSON.stringify(end)}`);
        });
      } finally {
        session.destroy();
      }
      console.log(`${mode}: ${2 * ROUNDS} attack streams in ${Date.now() - started} ms`);

      assert.equal(bridge.logs().includes('heap limit'), false, 'no heap exhaustion');
      const ready = await bridge.admin('/readyz');
      assert.equal(ready.status, 200, ready.body);
      echoPort++;
      const changed = Date.now();
      file.write(mesh(echoPort));
      await waitFor(
        'envoy converges on the next change',
        async () => (await endpointPorts(envoy)).includes(echoPort),
        10_000,
        50,
      );
      console.log(`${mode}: envoy converged ${Date.now() - changed} ms after the change`);

      await waitFor(
        'the attack streams to be gone',
        async () => (await metric(bridge, 'polaris_xds_node_groups')) === groupsBefore,
        5000,
        50,
      );
      // Connections close on the bridge's next turns: measure until the heap is back, or time runs out.
      let heapAfter = Infinity;
      await waitFor(
        'the used heap back within 20 MB',
        async () => (heapAfter = await usedHeapAfterGc(inspector)) <= heapBefore + 20 * MB,
        5000,
        100,
      ).catch(() => undefined);
      console.log(
        `${mode}: used heap after a full collection ${(heapBefore / MB).toFixed(1)} MB before, ${(heapAfter / MB).toFixed(1)} MB after`,
      );
      assert.ok(heapAfter <= heapBefore + 20 * MB, `heap ${heapBefore} → ${heapAfter}`);
    });
  }
});

describe('clients that never read, while a 1,000-service mesh changes', () => {
  const SERVICES = 1000;
  const STALLED = 50;
  const CHANGES = 20;
  const MiB = 1024 * 1024;
  const BUDGET = { perStream: 8 * MiB, total: 48 * MiB, stallMs: 3000 };
  // The chart's memory limit.
  const CHART_MEMORY = 512 * MiB;
  let file: MeshFile;
  let bridge: BridgeProcess;
  let envoy: EnvoyProcess;

  const bigMesh = (added: number): MeshDoc => ({
    namespaces: [
      {
        name: NS,
        services: [
          ...Array.from({ length: SERVICES + added }, (_, i) => ({
            name: i < SERVICES ? `svc-${i}` : `new-${i - SERVICES}`,
            instances: [{ host: '127.0.0.1', port: 40000 + (i % 20000), protocol: 'http' }],
          })),
          { name: 'client', instances: [{ host: '127.0.0.1', port: 31000, protocol: 'http' }] },
        ],
      },
    ],
  });

  const hasCluster = async (name: string) => (await envoy.configDump()).clusters.some((c) => c.name === name);

  before(async () => {
    file = meshFile(bigMesh(0));
    bridge = await startBridge(['--file', file.path], {
      ready: true,
      env: {
        NODE_OPTIONS: CHART_NODE_OPTIONS,
        POLARIS_XDS_XDS_MAX_PENDING_BYTES_PER_STREAM: String(BUDGET.perStream),
        POLARIS_XDS_XDS_MAX_PENDING_BYTES: String(BUDGET.total),
        POLARIS_XDS_XDS_MAX_STALL_MS: String(BUDGET.stallMs),
      },
    });
    ({ envoy } = await startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'client' }));
    await waitFor('envoy has the mesh', () => hasCluster(`OUTBOUND|${NS}|svc-${SERVICES - 1}`), 30_000, 200);
  });

  after(async () => {
    await envoy?.stop();
    await bridge?.stop();
    file?.remove();
  });

  it(`${STALLED} stalled clients, ${CHANGES} changes: RSS within the pod's limit, unread bytes within the budget, stalled streams ended, Envoy converging`, async () => {
    const node = `${NS}/client~10.0.0.9`;
    const edsNames = nameList(3, SERVICES, (i) => `OUTBOUND|${NS}|svc-${i}`);
    const sessions = Array.from({ length: STALLED }, () => connect(bridge.xdsAddress, { stalled: true }));
    const calls = sessions.map((s) =>
      rawCall(s, ADS_PATHS.sotw, [
        sotwRequest(CDS, Buffer.alloc(0), node),
        sotwRequest('type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment', edsNames),
        sotwRequest('type.googleapis.com/envoy.config.listener.v3.Listener', Buffer.alloc(0)),
      ]),
    );
    let peakRss = 0;
    let peakUnflushed = 0;
    const sample = async () => {
      const text = (await bridge.admin('/metrics')).body;
      const read = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      peakRss = Math.max(peakRss, read('polaris_xds_process_resident_memory_bytes'));
      peakUnflushed = Math.max(peakUnflushed, read('polaris_xds_unflushed_response_bytes'));
    };
    const started = Date.now();
    try {
      for (let k = 0; k < CHANGES; k++) {
        file.write(bigMesh(k + 1));
        await waitFor(
          `envoy converges on change ${k + 1}`,
          async () => {
            await sample();
            return hasCluster(`OUTBOUND|${NS}|new-${k}`);
          },
          15_000,
          100,
        );
      }
      console.log(`${CHANGES} changes converged in ${Date.now() - started} ms`);
      const ends = await Promise.race([
        Promise.all(calls.map((c) => c.ended)),
        new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('stalled streams still open')), 3 * BUDGET.stallMs + 10_000).unref(),
        ),
      ]);
      await sample();
      const byCode = new Map<number, number>();
      for (const e of ends) byCode.set(e.rstCode, (byCode.get(e.rstCode) ?? 0) + 1);
      console.log(
        `stalled streams ended by RST code: ${JSON.stringify([...byCode])}; peak RSS ${(peakRss / MiB).toFixed(0)} MiB; peak unread ${(peakUnflushed / MiB).toFixed(1)} MiB`,
      );
      assert.deepEqual(
        [...byCode],
        [[11, STALLED]],
        'every stalled stream was reset with ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED)',
      );
      for (const e of ends) assert.equal(e.dataBytes, 0);
    } finally {
      for (const s of sessions) s.destroy();
    }
    const text = (await bridge.admin('/metrics')).body;
    const exhausted = [...text.matchAll(/^polaris_xds_streams_exhausted_total\{limit="(\w+)"\} (\d+)$/gm)].reduce(
      (n, m) => n + Number(m[2]),
      0,
    );
    assert.equal(exhausted, STALLED, 'each ended stream counted once');
    assert.ok(peakUnflushed <= BUDGET.total, `unread bytes peaked at ${peakUnflushed}`);
    assert.ok(peakRss < CHART_MEMORY, `RSS peaked at ${peakRss}`);
    assert.equal((await bridge.admin('/readyz')).status, 200);
    // Envoy still converges once the stalled clients are gone.
    file.write(bigMesh(CHANGES + 1));
    await waitFor(
      'envoy converges after the stalled clients',
      () => hasCluster(`OUTBOUND|${NS}|new-${CHANGES}`),
      15_000,
      100,
    );
  });
});
