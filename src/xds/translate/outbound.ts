// OutboundSet: what a caller is served about every service of the mesh — clusters, assignments,
// virtual hosts (Envoy) or listeners and route configurations (proxyless gRPC). Every node with
// the same caller identity gets the same set (shares.ts decides which nodes those are), so it is
// built once per mesh change, not once per node group, and it is patched: only services whose
// object or host names changed are translated again, and the type sets copy only what changed.
import type { MeshState, Service } from '../../model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE, type TypeUrl } from '../resource.js';
import { patchTypeSet, typeSet, type EncodedResource, type TypeResources } from '../snapshot.js';
import type { EncodedVirtualHost } from './encode.js';
import { sameItems } from './memo.js';
import type { Claims } from './rds.js';
import { nearbyLevel } from './routing/nearby.js';
import { isWildcard } from './routing/rules.js';
import type { SkipReason } from './skip.js';

/** ServiceShare is one service's part of an OutboundSet. */
export interface ServiceShare {
  readonly service: Service;
  /** The host names (Envoy) or listener names (proxyless) the service won; undefined when none. */
  readonly domains: readonly string[] | undefined;
  readonly clusters: readonly EncodedResource[];
  readonly endpoints: readonly EncodedResource[];
  readonly listeners: readonly EncodedResource[];
  readonly routes: readonly EncodedResource[];
  /** Envoy flavor: the service's virtual host, spliced into the node's route configuration. */
  readonly vhost?: EncodedVirtualHost;
  readonly skipped: readonly SkipReason[];
}

/** OutboundSet is every service's share for one caller identity, as type sets. */
export interface OutboundSet {
  readonly mesh: MeshState;
  readonly claims: Claims;
  readonly clusters: TypeResources;
  readonly endpoints: TypeResources;
  readonly listeners: TypeResources;
  readonly routes: TypeResources;
  /** Virtual hosts in mesh order; the same array object while none of them changed. */
  readonly hosts: readonly EncodedVirtualHost[];
  readonly skipped: readonly SkipReason[];
  /** By service key. Owned by the newest set built from it: see assembleOutbound. */
  readonly shares: Map<string, ServiceShare>;
  /** Two services gave a resource the same name (the later won); such a set is never patched. */
  readonly clashing: boolean;
}

type ShareOf = (service: Service, domains: readonly string[] | undefined) => ServiceShare;

/**
 * OutboundCaches is one translator's memory of meshes and sets: which services changed between
 * two meshes, each mesh's CallerTraits, and which sets a newer one took over. Entries hang off the
 * MeshState and OutboundSet objects (WeakMap, WeakSet), plus the newest mesh's trait counts.
 */
export class OutboundCaches {
  private readonly diffs = new WeakMap<MeshState, { readonly next: MeshState; readonly keys: readonly string[] }>();
  private readonly traits = new WeakMap<MeshState, { readonly counts: TraitCounts; readonly traits: CallerTraits }>();
  private lastTraits: { readonly mesh: MeshState; readonly counts: TraitCounts } | undefined;
  // Sets built from shares that a newer set has taken over; patching from one would see its shares moved on.
  private readonly superseded = new WeakSet<OutboundSet>();

  /**
   * changedKeys lists the service keys whose Service object differs between two meshes (added and
   * removed too), once per pair.
   */
  changedKeys(prev: MeshState, next: MeshState): readonly string[] {
    const hit = this.diffs.get(prev);
    if (hit?.next === next) return hit.keys;
    const keys = sameKeyOrder(prev, next) ?? byLookup(prev, next);
    this.diffs.set(prev, { next, keys });
    return keys;
  }

  /** isSuperseded says whether a newer set took `set`'s shares over (so it cannot be patched). */
  isSuperseded(set: OutboundSet): boolean {
    return this.superseded.has(set);
  }

  /** supersede marks `set` taken over by the set being patched from it. */
  supersede(set: OutboundSet): void {
    this.superseded.add(set);
  }

  /** callerTraits computes a mesh's CallerTraits, from the last mesh's and the services that changed when it can. */
  callerTraits(mesh: MeshState): CallerTraits {
    const hit = this.traits.get(mesh);
    if (hit) return hit.traits;
    let counts: TraitCounts;
    const last = this.lastTraits;
    const base = last && this.traits.get(last.mesh);
    if (last && base) {
      const b = base.counts;
      counts = {
        namespaces: new Map(b.namespaces),
        services: new Map(b.services),
        nearby: b.nearby,
        serviceBreakers: b.serviceBreakers,
      };
      for (const k of this.changedKeys(last.mesh, mesh)) {
        const before = last.mesh.services.get(k);
        const after = mesh.services.get(k);
        // A new Service object whose counted parts are the same objects counts the same.
        if (before && after && sameTraitParts(before, after)) continue;
        if (before) count(counts, before, -1);
        if (after) count(counts, after, 1);
      }
    } else {
      counts = { namespaces: new Map(), services: new Map(), nearby: 0, serviceBreakers: 0 };
      for (const s of mesh.services.values()) count(counts, s, 1);
    }
    // Unchanged traits stay the same object, so what callers derive from them stays valid.
    const before = base?.traits;
    const t: CallerTraits =
      before && sameTraits(before, counts)
        ? before
        : {
            callerNamespaces: new Set(counts.namespaces.keys()),
            callerServices: new Set(counts.services.keys()),
            nearby: counts.nearby > 0,
            serviceBreakers: counts.serviceBreakers > 0,
          };
    this.traits.set(mesh, { counts, traits: t });
    this.lastTraits = { mesh, counts };
    return t;
  }
}

/** sameTraits says whether counts give the traits `t` already has. */
function sameTraits(t: CallerTraits, counts: TraitCounts): boolean {
  if (t.nearby !== counts.nearby > 0 || t.serviceBreakers !== counts.serviceBreakers > 0) return false;
  if (t.callerNamespaces.size !== counts.namespaces.size || t.callerServices.size !== counts.services.size)
    return false;
  for (const k of counts.namespaces.keys()) if (!t.callerNamespaces.has(k)) return false;
  for (const k of counts.services.keys()) if (!t.callerServices.has(k)) return false;
  return true;
}

// Meshes list services in key order, so two with the same keys are compared in one walk, without lookups.
function sameKeyOrder(prev: MeshState, next: MeshState): string[] | undefined {
  if (prev.services.size !== next.services.size) return undefined;
  const keys: string[] = [];
  const it = prev.services.entries();
  for (const [k, s] of next.services) {
    const [pk, ps] = it.next().value as [string, Service];
    if (pk !== k) return undefined;
    if (ps !== s) keys.push(k);
  }
  return keys;
}

function byLookup(prev: MeshState, next: MeshState): string[] {
  const keys: string[] = [];
  for (const [k, s] of next.services) if (prev.services.get(k) !== s) keys.push(k);
  for (const k of prev.services.keys()) if (!next.services.has(k)) keys.push(k);
  return keys;
}

/**
 * sameInputs: a share is built from a service's instances, inbound rules, governance rules, metadata and alias.
 * When those are the same objects (sources keep unchanged parts), the service's new object, e.g.
 * with other outbound rules, changes nothing this set holds.
 */
function sameInputs(a: Service, b: Service): boolean {
  if (a === b) return true;
  if (a.instances !== b.instances || a.routing.inbounds !== b.routing.inbounds || a.metadata !== b.metadata)
    return false;
  if (a.circuitBreakers !== b.circuitBreakers || a.faultDetectors !== b.faultDetectors) return false;
  return a.aliasFor?.namespace === b.aliasFor?.namespace && a.aliasFor?.name === b.aliasFor?.name;
}

const SHARE_TYPES = [
  [CLUSTER_TYPE, 'clusters'],
  [ENDPOINT_TYPE, 'endpoints'],
  [LISTENER_TYPE, 'listeners'],
  [ROUTE_TYPE, 'routes'],
] as const satisfies ReadonlyArray<readonly [TypeUrl, keyof ServiceShare & keyof OutboundSet]>;

/**
 * assembleOutbound builds the set for `mesh`, patching `prev` (the newest set for the same caller
 * identity, from any earlier mesh) when there is one. `prev` must not be used afterwards: its
 * shares map is taken over, so a patch costs the change, not the mesh.
 */
export function assembleOutbound(
  caches: OutboundCaches,
  mesh: MeshState,
  claims: Claims,
  prev: OutboundSet | undefined,
  shareOf: ShareOf,
): OutboundSet {
  if (!prev || caches.isSuperseded(prev) || prev.clashing) return fullBuild(mesh, claims, shareOf);
  if (prev.mesh === mesh && prev.claims === claims) return prev;
  caches.supersede(prev);
  const shares = prev.shares;
  // Host names depend on every service's name and ports: when they changed, look at every service.
  const changed = caches.changedKeys(prev.mesh, mesh);
  const keys = prev.claims === claims ? changed : [...new Set([...mesh.services.keys(), ...changed])];
  const upserts = {
    clusters: [] as EncodedResource[],
    endpoints: [] as EncodedResource[],
    listeners: [] as EncodedResource[],
    routes: [] as EncodedResource[],
  };
  const removes = {
    clusters: [] as string[],
    endpoints: [] as string[],
    listeners: [] as string[],
    routes: [] as string[],
  };
  let hostsChanged = false;
  let skippedChanged = prev.claims !== claims;
  for (const key of keys) {
    const s = mesh.services.get(key);
    const old = shares.get(key);
    const domains = s ? claims.names.get(key) : undefined;
    if (s && old && sameInputs(old.service, s) && sameItems(old.domains, domains)) continue;
    const share = s ? shareOf(s, domains) : undefined;
    if (share) shares.set(key, share);
    else shares.delete(key);
    if (!old || !share || old.vhost !== share.vhost) hostsChanged = true;
    if (!old || !share || old.skipped !== share.skipped) skippedChanged = true;
    for (const [, field] of SHARE_TYPES) {
      const now = new Map((share?.[field] ?? []).map((r) => [r.name, r]));
      const had = new Set((old?.[field] ?? []).map((r) => r.name));
      for (const n of had) if (!now.has(n)) removes[field].push(n);
      for (const r of now.values()) {
        // A name new to this service that the set already has belongs (or belonged) to another:
        // patching by name could drop or keep the wrong one, so build from scratch.
        if (!had.has(r.name) && prev[field].items.has(r.name)) return fullBuild(mesh, claims, shareOf);
        upserts[field].push(r);
      }
    }
  }
  const sets = {} as Record<(typeof SHARE_TYPES)[number][1], TypeResources>;
  for (const [t, field] of SHARE_TYPES) sets[field] = patchTypeSet(prev[field], t, upserts[field], removes[field]);
  return {
    mesh,
    claims,
    ...sets,
    hosts: hostsChanged ? hostsOf(mesh, shares) : prev.hosts,
    skipped: skippedChanged ? skippedOf(claims, mesh, shares) : prev.skipped,
    shares,
    clashing: false,
  };
}

function fullBuild(mesh: MeshState, claims: Claims, shareOf: ShareOf): OutboundSet {
  const shares = new Map<string, ServiceShare>();
  // Later duplicates of a name replace earlier ones, as a Map would.
  const lists = {
    clusters: new Map<string, EncodedResource>(),
    endpoints: new Map<string, EncodedResource>(),
    listeners: new Map<string, EncodedResource>(),
    routes: new Map<string, EncodedResource>(),
  };
  let clashing = false;
  for (const [key, s] of mesh.services) {
    const share = shareOf(s, claims.names.get(key));
    shares.set(key, share);
    for (const [, field] of SHARE_TYPES) {
      const mine = new Set<string>();
      for (const r of share[field]) {
        if (!mine.has(r.name) && lists[field].has(r.name)) clashing = true;
        mine.add(r.name);
        lists[field].set(r.name, r);
      }
    }
  }
  const sets = {} as Record<(typeof SHARE_TYPES)[number][1], TypeResources>;
  for (const [t, field] of SHARE_TYPES) sets[field] = typeSet(t, [...lists[field].values()]);
  return {
    mesh,
    claims,
    ...sets,
    hosts: hostsOf(mesh, shares),
    skipped: skippedOf(claims, mesh, shares),
    shares,
    clashing,
  };
}

function hostsOf(mesh: MeshState, shares: ReadonlyMap<string, ServiceShare>): EncodedVirtualHost[] {
  const hosts: EncodedVirtualHost[] = [];
  for (const key of mesh.services.keys()) {
    const vh = shares.get(key)?.vhost;
    if (vh) hosts.push(vh);
  }
  return hosts;
}

function skippedOf(claims: Claims, mesh: MeshState, shares: ReadonlyMap<string, ServiceShare>): SkipReason[] {
  const out = [...claims.skipped];
  for (const key of mesh.services.keys()) for (const r of shares.get(key)?.skipped ?? []) out.push(r);
  return out;
}

/** CallerTraits is what in the mesh makes a caller's identity or locality matter. */
export interface CallerTraits {
  /** Caller namespaces and services named (not `*`) by some service's inbound rule or circuit breaker. */
  readonly callerNamespaces: ReadonlySet<string>;
  readonly callerServices: ReadonlySet<string>;
  /** Some service routes by nearness, so the caller's locality matters. */
  readonly nearby: boolean;
  /**
   * Some service has an enabled SERVICE- or METHOD-level circuit breaker, so whether a node has internal listeners
   * matters.
   */
  readonly serviceBreakers: boolean;
}

interface TraitCounts {
  readonly namespaces: Map<string, number>;
  readonly services: Map<string, number>;
  nearby: number;
  serviceBreakers: number;
}

/** sameTraitParts says whether two Service objects have the same parts `count` reads. */
function sameTraitParts(a: Service, b: Service): boolean {
  return (
    a.routing.inbounds === b.routing.inbounds && a.circuitBreakers === b.circuitBreakers && a.metadata === b.metadata
  );
}

function count(c: TraitCounts, s: Service, sign: 1 | -1): void {
  const bump = (m: Map<string, number>, k: string): void => {
    const n = (m.get(k) ?? 0) + sign;
    if (n === 0) m.delete(k);
    else m.set(k, n);
  };
  const sources = (src: { readonly namespace: string; readonly service: string }): void => {
    if (!isWildcard(src.namespace)) bump(c.namespaces, src.namespace);
    if (!isWildcard(src.service)) bump(c.services, src.service);
  };
  for (const rule of s.routing.inbounds) for (const src of rule.sources) sources(src);
  for (const rule of s.circuitBreakers.rules) sources(rule.source);
  if (nearbyLevel(s)) c.nearby += sign;
  if (s.circuitBreakers.rules.some((r) => r.enable && (r.level === 'SERVICE' || r.level === 'METHOD')))
    c.serviceBreakers += sign;
}
