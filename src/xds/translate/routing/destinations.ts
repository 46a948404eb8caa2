// Rule destinations → the cluster a rule's routes send traffic to.
//
// Mechanism (see docs/routing.md): a rule whose destinations are anything but "all instances of
// one service" gets its own EDS cluster. Its ClusterLoadAssignment has one priority per distinct
// destination priority (best first) and, within a priority, one locality per destination group,
// weighted by the group's weight; the cluster turns on locality-weighted load balancing and the
// assignment sets a huge overprovisioning factor. Envoy then
//   - splits traffic by group weight among the groups of the best priority that still have a
//     healthy endpoint (a group with none drops out and its share goes to the others),
//   - moves to the next priority only when no group of the better one has a healthy endpoint,
// and grpc-js does the same (weighted_target over READY localities, priority failover). Label
// conditions are evaluated here, so every match type is exact and Envoy needs no subset load
// balancer; isolated and weight-0 groups are left out. This replaces weighted_clusters plus
// metadata_match, which can express neither failover nor health-aware weights, and which grpc-js
// ignores (metadata_match), so proxyless clients would be sent to the wrong instances.
import {
  compareKeys,
  type Instance,
  type RouteDestination,
  type RouteRule,
  type Service,
} from '../../../model/mesh.js';
import { contentVersion } from '../../snapshot.js';
import type { WeightedGroup } from '../eds.js';
import { routable } from '../eds.js';
import { outboundCluster, ruleCluster } from '../names.js';
import { skip, type SkipReason } from '../skip.js';
import { labelSelector, type LabelSelector } from './labels.js';

const UINT32_MAX = 0xffffffff;

/** Resolved is a destination's service, or why it cannot be one. */
export type Resolved =
  | { readonly ok: true; readonly service: Service }
  | { readonly ok: false; readonly reason: string };

/** RuleClusterSpec is everything needed to build a rule cluster and its assignment. */
export interface RuleClusterSpec {
  readonly name: string;
  /** Priorities, best first; each a list of weighted groups with their instances. */
  readonly levels: ReadonlyArray<readonly WeightedGroup[]>;
  /** The services the instances came from: the spec is valid while these objects are current. */
  readonly deps: readonly Service[];
}

/** Target is where a rule's routes go, or why the rule yields no route. */
export type Target =
  | {
      readonly kind: 'cluster';
      readonly cluster: string;
      readonly spec?: RuleClusterSpec;
      readonly notes: readonly SkipReason[];
    }
  | { readonly kind: 'none'; readonly reason: SkipReason; readonly notes: readonly SkipReason[] };

interface Group {
  readonly index: number;
  readonly dest: RouteDestination;
  readonly service: Service;
  readonly selector: LabelSelector;
}

function groupLabel(g: Group): string {
  return g.dest.name === '' ? `destination-${g.index}` : `destination-${g.index}:${g.dest.name}`;
}

function address(i: Instance): string {
  return `${i.host}:${i.port}`;
}

/**
 * ruleTarget resolves the destinations of one rule. `path` locates the rule for skip reasons;
 * `resolve` maps a destination to its service (the callee for inbound rules).
 */
export function ruleTarget(rule: RouteRule, path: string, resolve: (d: RouteDestination) => Resolved): Target {
  const notes: SkipReason[] = [];
  const groups: Group[] = [];
  for (const [index, dest] of rule.destinations.entries()) {
    if (dest.isolate || !(dest.weight > 0)) continue;
    const dpath = `${path}.destinations[${index}]`;
    const r = resolve(dest);
    if (!r.ok) {
      notes.push(skip('destination', dpath, r.reason));
      continue;
    }
    const sel = labelSelector(dest.labels);
    if (!sel.ok)
      return { kind: 'none', reason: skip('rule', `${dpath}.labels[${JSON.stringify(sel.key)}]`, sel.reason), notes };
    if (!Number.isInteger(dest.weight) || dest.weight > UINT32_MAX) {
      return {
        kind: 'none',
        reason: skip('rule', `${dpath}.weight`, `weight ${dest.weight} is not an integer below 2^32`),
        notes,
      };
    }
    groups.push({ index, dest, service: r.service, selector: sel.selector });
  }
  if (groups.length === 0) {
    return {
      kind: 'none',
      reason: skip(
        'rule',
        `${path}.destinations`,
        'no destination can take traffic (all isolated, weight 0, or not this service)',
      ),
      notes,
    };
  }
  // One group taking every instance of a service is that service's own cluster.
  if (groups.length === 1 && groups[0]!.selector.all) {
    const s = groups[0]!.service;
    return { kind: 'cluster', cluster: outboundCluster(s.namespace, s.name), notes };
  }

  const priorities = [...new Set(groups.map((g) => g.dest.priority))].sort((a, b) => a - b);
  const name = ruleClusterName(groups, priorities);
  const levels: WeightedGroup[][] = [];
  const taken = new Set<string>();
  for (const priority of priorities) {
    const level: WeightedGroup[] = [];
    const inLevel = new Map<string, number>();
    let weight = 0;
    for (const g of groups.filter((x) => x.dest.priority === priority)) {
      const instances: Instance[] = [];
      for (const inst of routable(g.service).instances) {
        if (!g.selector.matches(inst.metadata)) continue;
        const addr = address(inst);
        // An instance of a better priority is unhealthy whenever this one is used: leave it there.
        if (taken.has(addr)) continue;
        const other = inLevel.get(addr);
        if (other !== undefined) {
          return {
            kind: 'none',
            reason: skip(
              'rule',
              `${path}.destinations`,
              `destinations ${other} and ${g.index} (priority ${priority}) both select instance ${addr}; overlapping ` +
                `groups of one priority cannot be weighted exactly`,
            ),
            notes,
          };
        }
        inLevel.set(addr, g.index);
        instances.push(inst);
      }
      if (instances.length === 0) continue;
      weight += g.dest.weight;
      level.push({ label: groupLabel(g), weight: g.dest.weight, instances });
    }
    for (const addr of inLevel.keys()) taken.add(addr);
    if (weight > UINT32_MAX)
      return {
        kind: 'none',
        reason: skip('rule', `${path}.destinations`, `weights of priority ${priority} add up to more than 2^32`),
        notes,
      };
    if (level.length > 0) levels.push(level);
  }
  if (levels.length === 0) {
    // Polaris SDKs move on to the next rule when no destination group has an instance.
    return {
      kind: 'none',
      reason: skip(
        'rule',
        `${path}.destinations`,
        'no instance matches any destination group; requests fall through to the next rule',
      ),
      notes,
    };
  }
  const deps = [...new Map(groups.map((g) => [`${g.service.namespace}/${g.service.name}`, g.service])).entries()]
    .sort(([a], [b]) => compareKeys(a, b))
    .map(([, s]) => s);
  return { kind: 'cluster', cluster: name, spec: { name, levels, deps }, notes };
}

/**
 * ruleClusterName depends only on the rule's destinations, never on instances, so routes stay put while instances
 * churn.
 */
function ruleClusterName(groups: readonly Group[], priorities: readonly number[]): string {
  const canonical = priorities.map((p) =>
    groups
      .filter((g) => g.dest.priority === p)
      .map((g) => [g.service.namespace, g.service.name, g.selector.canonical, g.dest.weight, groupLabel(g)]),
  );
  const first = groups.find((g) => g.dest.priority === priorities[0])!.service;
  return ruleCluster(first.namespace, first.name, contentVersion(JSON.stringify(canonical)).slice(0, 12));
}
