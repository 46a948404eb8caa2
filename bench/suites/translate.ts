// In-process micro-bench of the translator: whole-mesh translate + encode (a fresh translator, so
// every resource is built and encoded), one changed service on a warm translator, and the same
// change across many node groups (what the snapshot cache does per change).
import { meshState, type MeshState, type Service } from '../../src/model/mesh.js';
import { parseMeshText } from '../../src/sync/file-source.js';
import { parseNode } from '../../src/xds/node.js';
import { PUSH_ORDER } from '../../src/xds/resource.js';
import { createTranslator, type NodeView, type Translator } from '../../src/xds/translate/index.js';
import { sidecarSpecs } from '../clients/specs.js';
import { nowMs } from '../lib/clock.js';
import { progress } from '../lib/progress.js';
import { median } from '../lib/stats.js';
import { meshFileText } from '../workload/mesh-file.js';
import { generateMesh, instanceCount, type MeshSpec } from '../workload/mesh.js';
import { modelMesh } from '../workload/model.js';

export interface TranslateResult {
  readonly services: number;
  readonly instances: number;
  readonly rules: number;
  /** Parsing the same mesh as a mesh file (the file source's cost before the cache); null when skipped. */
  readonly fileParseMs: number | null;
  /** Fresh translator, one sidecar view: everything built and encoded. Median of `runs`. */
  readonly wholeMeshMs: number;
  readonly wholeMeshRuns: number[];
  /** Warm translator, one service's instance changed. Median and max of `changes`. */
  readonly oneServiceMs: number;
  readonly oneServiceMaxMs: number;
  /** The same one-service change translated for `groups` node views (one per fronted service). */
  readonly groups: number;
  readonly oneServiceAllGroupsMs: number;
  /** Encoded bytes per type of one sidecar's snapshot. */
  readonly snapshotBytes: Record<string, number>;
  readonly snapshotResources: Record<string, number>;
}

function views(translator: Translator, namespace: string, services: readonly string[], n: number): NodeView[] {
  return sidecarSpecs(namespace, services, 0, n).map((s) =>
    translator.nodeView(parseNode({ id: s.nodeId, metadata: s.metadata, userAgentName: 'envoy', clientFeatures: [] })),
  );
}

/** flipOne returns a state in which one service's first instance changed health; the others are shared. */
function flipOne(mesh: MeshState, key: string): MeshState {
  const services: Service[] = [];
  for (const [k, s] of mesh.services) {
    if (k !== key) {
      services.push(s);
      continue;
    }
    const instances = s.instances.map((i, j) => (j === 0 ? { ...i, healthy: !i.healthy } : i));
    services.push({ ...s, instances, revision: `${s.revision}+` });
  }
  return meshState(services, mesh.origin);
}

/** runTranslate measures one mesh size. */
export function runTranslate(
  spec: MeshSpec,
  opts: { runs: number; changes: number; groups: number; parseFile: boolean },
): TranslateResult {
  const bench = generateMesh(spec);
  const names = bench.services.map((s) => s.name);
  let t = nowMs();
  let fileParseMs: number | null = null;
  if (opts.parseFile) {
    const text = meshFileText(bench);
    t = nowMs();
    parseMeshText(text, 'bench');
    fileParseMs = nowMs() - t;
  }
  let mesh = modelMesh(bench);

  const wholeMeshRuns: number[] = [];
  let snapshotBytes: Record<string, number> = {};
  let snapshotResources: Record<string, number> = {};
  for (let r = 0; r < opts.runs; r++) {
    const fresh = createTranslator();
    const [view] = views(fresh, bench.namespace, names, 1);
    t = nowMs();
    const out = fresh.translate(mesh, view!);
    wholeMeshRuns.push(nowMs() - t);
    snapshotBytes = {};
    snapshotResources = {};
    for (const type of PUSH_ORDER) {
      const items = [...out.snapshot.resources[type].items.values()];
      const short = type.slice(type.lastIndexOf('.') + 1);
      snapshotBytes[short] = items.reduce((n, i) => n + i.any.length, 0);
      snapshotResources[short] = items.length;
    }
  }
  progress(`translate ${spec.services} services: whole mesh ${median(wholeMeshRuns).toFixed(0)} ms`);

  const translator = createTranslator();
  const groupViews = views(translator, bench.namespace, names, Math.min(opts.groups, names.length));
  for (const v of groupViews) translator.translate(mesh, v);
  const keys = [...mesh.services.keys()];
  const one: number[] = [];
  const all: number[] = [];
  for (let c = 0; c < opts.changes; c++) {
    mesh = flipOne(mesh, keys[(c * 7919) % keys.length]!);
    t = nowMs();
    translator.translate(mesh, groupViews[0]!);
    one.push(nowMs() - t);
    t = nowMs();
    for (const v of groupViews.slice(1)) translator.translate(mesh, v);
    all.push(nowMs() - t + one[one.length - 1]!);
  }
  return {
    services: bench.services.length,
    instances: instanceCount(bench),
    rules: bench.rules.length * 2,
    fileParseMs,
    wholeMeshMs: median(wholeMeshRuns),
    wholeMeshRuns,
    oneServiceMs: median(one),
    oneServiceMaxMs: Math.max(...one),
    groups: groupViews.length,
    oneServiceAllGroupsMs: median(all),
    snapshotBytes,
    snapshotResources,
  };
}
