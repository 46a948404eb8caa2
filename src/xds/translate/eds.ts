// EDS: ClusterLoadAssignments. Which instances can take traffic, how they are grouped into
// localities and priorities, and what each endpoint carries.
//
// - isolated and weight-0 instances are left out (no traffic); unhealthy ones are sent UNHEALTHY
//   and get no traffic while another endpoint of the assignment is healthy (clusters have no panic
//   threshold, cds.ts); when none is healthy, every endpoint is sent UNKNOWN, so traffic goes to
//   all of them, as polaris-go does ("recover all");
// - an address must be an IP literal: Envoy's EDS does not resolve names and grpc-js rejects the
//   whole assignment when it meets one, so host names are left out with a reason;
// - an address appears once per assignment (grpc-js rejects duplicates): the first instance by id wins;
// - every locality group carries a locality and a weight (grpc-js ignores groups without a weight);
// - `envoy.lb` metadata is the instance metadata without Polaris's `internal-*` keys.
import { isIP } from 'node:net';
import type { LocalityLbEndpoints, LbEndpoint } from '../../gen/envoy/config/endpoint/v3/endpoint_components.js';
import { ClusterLoadAssignment, type DeepPartial } from '../../gen/envoy/config/endpoint/v3/endpoint.js';
import { HealthStatus } from '../../gen/envoy/config/core/v3/health_check.js';
import { compareKeys, type Instance, type Locality, type Service } from '../../model/mesh.js';
import { skip, type SkipReason } from './skip.js';
import { nearbyPriority, type NearbyLevel } from './routing/nearby.js';

const UINT32_MAX = 0xffffffff;

/**
 * STRICT_OVERPROVISIONING makes a priority (and a locality) count as fully available while it has
 * at least one healthy endpoint, so traffic moves to the next priority only when the higher one
 * has none. Envoy's default (140) would start spilling below 72 % healthy.
 */
export const STRICT_OVERPROVISIONING = 100_000_000;

/** Routable is the part of a service's instances that may receive traffic. */
export interface Routable {
  readonly instances: readonly Instance[];
  readonly skipped: readonly SkipReason[];
}

function serviceKeyOf(s: Service): string {
  return `${s.namespace}/${s.name}`;
}

/**
 * routable filters a service's instances down to those that can be endpoints. A pure function of
 * the Service; the translator keeps one result per Service object (TranslatorCaches.routable).
 */
export function routable(service: Service): Routable {
  const instances: Instance[] = [];
  const skipped: SkipReason[] = [];
  const seen = new Map<string, string>();
  for (const inst of service.instances) {
    if (inst.isolate || !(inst.weight > 0)) continue;
    const path = `${serviceKeyOf(service)}.instances[${inst.id}]`;
    if (isIP(inst.host) === 0) {
      skipped.push(
        skip(
          'endpoint',
          path,
          `host ${JSON.stringify(inst.host)} is not an IP address; EDS endpoints must be IP literals`,
        ),
      );
      continue;
    }
    if (!Number.isInteger(inst.port) || inst.port < 1 || inst.port > 65535) {
      skipped.push(skip('endpoint', path, `port ${inst.port} is not a valid TCP port`));
      continue;
    }
    if (inst.weight > UINT32_MAX || !Number.isInteger(inst.weight)) {
      skipped.push(skip('endpoint', path, `weight ${inst.weight} is not an integer below 2^32`));
      continue;
    }
    const addr = `${inst.host}:${inst.port}`;
    const first = seen.get(addr);
    if (first !== undefined) {
      skipped.push(skip('endpoint', path, `address ${addr} is already used by instance ${first}`));
      continue;
    }
    seen.set(addr, inst.id);
    instances.push(inst);
  }
  return { instances, skipped };
}

/** exportedMetadata is the instance metadata Envoy may see: everything but Polaris's `internal-*` keys, keys sorted. */
export function exportedMetadata(md: Readonly<Record<string, string>>): Record<string, string> | undefined {
  const keys = Object.keys(md)
    .filter((k) => !k.startsWith('internal-'))
    .sort(compareKeys);
  if (keys.length === 0) return undefined;
  const out: Record<string, string> = {};
  for (const k of keys) out[k] = md[k]!;
  return out;
}

/**
 * endpointHealth is what an endpoint is sent as. `recoverAll` is set when no endpoint of the
 * assignment is healthy: Envoy (panic threshold 0) and grpc-js would then send nothing, where
 * polaris-go sends to every instance; UNKNOWN counts as usable for both.
 */
export function endpointHealth(inst: Instance, recoverAll: boolean): HealthStatus {
  if (recoverAll) return HealthStatus.UNKNOWN;
  return inst.healthy ? HealthStatus.HEALTHY : HealthStatus.UNHEALTHY;
}

function lbEndpoint(inst: Instance, recoverAll: boolean): DeepPartial<LbEndpoint> {
  const md = exportedMetadata(inst.metadata);
  return {
    hostIdentifier: {
      $case: 'endpoint',
      value: {
        address: {
          address: {
            $case: 'socketAddress',
            value: { address: inst.host, portSpecifier: { $case: 'portValue', value: inst.port } },
          },
        },
      },
    },
    healthStatus: endpointHealth(inst, recoverAll),
    metadata: md ? { filterMetadata: { 'envoy.lb': md } } : undefined,
    loadBalancingWeight: inst.weight,
  };
}

function byAddress(a: Instance, b: Instance): number {
  return compareKeys(a.host, b.host) || a.port - b.port;
}

/** LocalityGroup is one LocalityLbEndpoints before encoding. */
interface LocalityGroup {
  readonly priority: number;
  readonly locality: Locality;
  readonly weight?: number;
  readonly instances: Instance[];
}

function localityEndpoints(g: LocalityGroup, recoverAll: boolean): DeepPartial<LocalityLbEndpoints> {
  const instances = [...g.instances].sort(byAddress);
  const sum = instances.reduce((s, i) => s + i.weight, 0);
  return {
    // Always set, even when empty: grpc-js rejects a group without a locality.
    locality: { region: g.locality.region, zone: g.locality.zone, subZone: g.locality.campus },
    lbEndpoints: instances.map((i) => lbEndpoint(i, recoverAll)),
    loadBalancingWeight: g.weight ?? Math.min(Math.max(sum, 1), UINT32_MAX),
    priority: g.priority,
  };
}

function compareLocality(a: Locality, b: Locality): number {
  return compareKeys(a.region, b.region) || compareKeys(a.zone, b.zone) || compareKeys(a.campus, b.campus);
}

/** compact renumbers priorities 0..n-1 in order, so no priority is skipped (grpc-js rejects gaps). */
function compact(groups: LocalityGroup[]): LocalityGroup[] {
  const used = [...new Set(groups.map((g) => g.priority))].sort((a, b) => a - b);
  const index = new Map(used.map((p, i) => [p, i]));
  return groups.map((g) => ({ ...g, priority: index.get(g.priority)! }));
}

/** Nearby is the caller-relative preference a service's assignment is built with. */
export interface Nearby {
  readonly level: NearbyLevel;
  readonly caller: Locality;
}

/**
 * serviceLoadAssignment groups a service's routable instances by locality; with `nearby`, each
 * locality also gets a priority by its distance from the caller (same zone first, then region…).
 */
export function serviceLoadAssignment(
  clusterName: string,
  instances: readonly Instance[],
  nearby?: Nearby,
): ClusterLoadAssignment {
  const groups = new Map<string, LocalityGroup>();
  for (const inst of instances) {
    const priority = nearby ? nearbyPriority(nearby.level, nearby.caller, inst.locality) : 0;
    const key = JSON.stringify([priority, inst.locality.region, inst.locality.zone, inst.locality.campus]);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { priority, locality: inst.locality, instances: [] }));
    g.instances.push(inst);
  }
  const sorted = compact([...groups.values()]).sort(
    (a, b) => a.priority - b.priority || compareLocality(a.locality, b.locality),
  );
  const recoverAll = !instances.some((i) => i.healthy);
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints: sorted.map((g) => localityEndpoints(g, recoverAll)),
  });
}

/** WeightedGroup is one destination group of a rule: its label, weight and instances. */
export interface WeightedGroup {
  /** Becomes the locality's sub_zone, so each group is its own locality. */
  readonly label: string;
  readonly weight: number;
  readonly instances: readonly Instance[];
}

/**
 * groupedLoadAssignment builds the assignment of a rule cluster: levels are priorities (best
 * first), each group is a locality weighted by the group's weight. With locality-weighted load
 * balancing and strict overprovisioning this splits traffic by group weight among the groups of
 * the best level that have a healthy endpoint, and moves to the next level only when none has.
 */
export function groupedLoadAssignment(
  clusterName: string,
  levels: ReadonlyArray<readonly WeightedGroup[]>,
): ClusterLoadAssignment {
  const endpoints: Array<DeepPartial<LocalityLbEndpoints>> = [];
  const recoverAll = !levels.some((groups) => groups.some((g) => g.instances.some((i) => i.healthy)));
  levels.forEach((groups, priority) => {
    for (const g of groups) {
      endpoints.push(
        localityEndpoints(
          {
            priority,
            locality: { region: '', zone: '', campus: g.label },
            weight: g.weight,
            instances: [...g.instances],
          },
          recoverAll,
        ),
      );
    }
  });
  return ClusterLoadAssignment.fromPartial({
    clusterName,
    endpoints,
    policy: { overprovisioningFactor: STRICT_OVERPROVISIONING },
  });
}
