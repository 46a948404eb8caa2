// The bench's own description of a mesh: small, plain and immutable, from which the mesh file,
// the fake Polaris's services and the real Polaris's API calls are all derived, so every source
// serves the same mesh.
import { Rng } from './rng.js';

export interface BenchInstance {
  readonly host: string;
  readonly port: number;
  readonly protocol: string;
  readonly version: string;
  readonly weight: number;
  readonly healthy: boolean;
  readonly region: string;
  readonly zone: string;
}

/** instanceFields are the fields every form of an instance (fake Polaris, mesh file, OpenAPI) spells the same way. */
export function instanceFields(
  i: BenchInstance,
): Pick<BenchInstance, 'host' | 'port' | 'protocol' | 'version' | 'weight' | 'healthy'> {
  return { host: i.host, port: i.port, protocol: i.protocol, version: i.version, weight: i.weight, healthy: i.healthy };
}

export interface BenchService {
  readonly name: string;
  readonly instances: readonly BenchInstance[];
}

/**
 * BenchRule is a canary pair on one service: requests with header `x-canary: <headerValue>` go to
 * its v2 instances (priority 0), everything else to v1 (priority 1).
 */
export interface BenchRule {
  readonly service: string;
  readonly headerValue: string;
}

export interface BenchMesh {
  readonly namespace: string;
  readonly services: readonly BenchService[];
  readonly rules: readonly BenchRule[];
}

export interface MeshSpec {
  readonly services: number;
  readonly instancesPerService: number;
  readonly seed: number;
  /** Share of services with a canary rule pair (default 0.1). */
  readonly ruleShare?: number;
  readonly namespace?: string;
}

export const CANARY_HEADER = 'x-canary';
export const SERVICE_PORT = 8080;

/** serviceName gives the i-th service its name (`svc-00042`). */
export function serviceName(i: number): string {
  return `svc-${String(i).padStart(5, '0')}`;
}

/** hostOf gives instance j of service slot i a unique 10.x.y.z address (i < 65536, j < 254). */
export function hostOf(i: number, j: number): string {
  return `10.${(i >> 8) & 255}.${i & 255}.${j + 1}`;
}

/** makeInstance draws one instance of service slot i. */
export function makeInstance(rng: Rng, i: number, j: number, version?: string): BenchInstance {
  return {
    host: hostOf(i, j),
    port: SERVICE_PORT,
    protocol: rng.chance(0.1) ? 'grpc' : 'http',
    version: version ?? (rng.chance(0.2) ? 'v2' : 'v1'),
    weight: 100,
    healthy: !rng.chance(0.02),
    region: 'region-1',
    zone: `zone-${rng.int(3)}`,
  };
}

/** makeService draws a service of `n` instances in slot i; a canary service gets both versions. */
export function makeService(rng: Rng, i: number, n: number, canary: boolean): BenchService {
  const instances: BenchInstance[] = [];
  for (let j = 0; j < n; j++)
    instances.push(makeInstance(rng, i, j, canary && j === 0 ? 'v2' : canary && j === 1 ? 'v1' : undefined));
  return { name: serviceName(i), instances };
}

/** generateMesh builds the seeded mesh of a spec. */
export function generateMesh(spec: MeshSpec): BenchMesh {
  const rng = new Rng(spec.seed);
  const share = spec.ruleShare ?? 0.1;
  const services: BenchService[] = [];
  const rules: BenchRule[] = [];
  for (let i = 0; i < spec.services; i++) {
    const canary = rng.chance(share);
    const s = makeService(rng, i, spec.instancesPerService, canary);
    services.push(s);
    if (canary) rules.push({ service: s.name, headerValue: 'true' });
  }
  return { namespace: spec.namespace ?? 'bench', services, rules };
}

/** instanceCount is the number of instances in a mesh. */
export function instanceCount(mesh: BenchMesh): number {
  return mesh.services.reduce((n, s) => n + s.instances.length, 0);
}
