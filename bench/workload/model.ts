// BenchMesh → MeshState (src/model), shaped as the Polaris source produces it: instance labels
// as the server adds them, and each canary pair as inbound rules of its service. Used by the
// translator micro-bench, so its figures do not include any source's parsing.
import { createHash } from 'node:crypto';
import {
  EMPTY_RULES,
  meshState,
  type Instance,
  type MeshState,
  type RouteRule,
  type Service,
} from '../../src/model/mesh.js';
import { polarisInstanceId } from '../../src/sync/convert.js';
import { CANARY_HEADER, type BenchMesh, type BenchRule, type BenchService } from './mesh.js';

function sha1(data: unknown): string {
  return createHash('sha1').update(JSON.stringify(data)).digest('hex');
}

function inbounds(namespace: string, rule: BenchRule | undefined): RouteRule[] {
  if (!rule) return [];
  const text = (value: string) => ({ type: 'EXACT' as const, value, valueType: 'TEXT' as const });
  const dest = (version: string) => ({
    service: rule.service,
    namespace,
    labels: { version: text(version) },
    priority: 0,
    weight: 100,
    isolate: false,
    name: version,
  });
  return [
    {
      id: `canary-${rule.service}#0`,
      name: `canary-${rule.service}.r0`,
      priority: 0,
      sources: [{ service: '*', namespace: '*', match: { [`$header.${CANARY_HEADER}`]: text(rule.headerValue) } }],
      destinations: [dest('v2')],
    },
    {
      id: `default-${rule.service}#0`,
      name: `default-${rule.service}.r0`,
      priority: 1,
      sources: [{ service: '*', namespace: '*', match: {} }],
      destinations: [dest('v1')],
    },
  ];
}

/** modelService converts one service. */
export function modelService(mesh: BenchMesh, s: BenchService): Service {
  const ns = mesh.namespace;
  const instances: Instance[] = s.instances
    .map((i) => ({
      id: polarisInstanceId(ns, s.name, i.host, i.port),
      host: i.host,
      port: i.port,
      protocol: i.protocol,
      version: i.version,
      weight: i.weight,
      priority: 0,
      healthy: i.healthy,
      isolate: false,
      locality: { region: i.region, zone: i.zone, campus: '' },
      metadata: { campus: '', protocol: i.protocol, region: i.region, version: i.version, zone: i.zone },
      revision: sha1(i),
    }))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rules = inbounds(
    ns,
    mesh.rules.find((r) => r.service === s.name),
  );
  return {
    namespace: ns,
    name: s.name,
    metadata: {},
    instances,
    revision: sha1(instances.map((i) => i.revision)),
    routing: { inbounds: rules, outbounds: [], revision: rules.length ? sha1(rules) : '' },
    rateLimits: EMPTY_RULES,
    circuitBreakers: EMPTY_RULES,
    faultDetectors: EMPTY_RULES,
  };
}

/** modelMesh converts a whole BenchMesh. */
export function modelMesh(mesh: BenchMesh): MeshState {
  return meshState(
    mesh.services.map((s) => modelService(mesh, s)),
    'bench',
  );
}
