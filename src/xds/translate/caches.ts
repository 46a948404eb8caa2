// TranslatorCaches: every cache of one translator, in one place, each with its bound. Two kinds:
// - Memo / WeakMap entries hang off the model objects (Service, MeshState, RuleSet) or the encoded
//   lists they were built from, and are dropped with them: bounded by the live mesh.
// - String-keyed maps (ByteBoundedCache, sized by count, least recently used out first) outlive
//   the objects their keys name; each has a count bound.
//   Per-group entries (keyed by NodeView.key) belong to groups that may have disconnected: they are
//   bounded by MAX_GROUPS, oldest first, so a churn of node groups cannot grow them for ever.
import type { MeshState, Service } from '../../model/mesh.js';
import { PUSH_ORDER, RATELIMIT_CONFIG_TYPE, VHOST_TYPE, type TypeUrl } from '../resource.js';
import {
  emptyTypeSet,
  layerTypeSet,
  makeSnapshot,
  typeSet,
  type EncodedResource,
  type Snapshot,
  type TypeResources,
} from '../snapshot.js';
import { ByteBoundedCache } from '../byte-bounded-cache.js';
import { encodeRouteConfigParts, type EncodedVirtualHost } from './encode.js';
import { routable, type Routable } from './eds.js';
import { GuardCache } from './guard.js';
import { Memo, sameItems } from './memo.js';
import { OutboundCaches, type OutboundSet } from './outbound.js';
import { servicePorts, type Claims } from './rds.js';
import type { RulePlan } from './routing/rules.js';
import { NO_LIMITER_CONFIGS, RateLimitPlans } from './ratelimit-service.js';
import type { SkipReason } from './skip.js';
import type { NodeView } from './view.js';
import { OnDemandCaches } from './on-demand.js';

/** Translation is one node view's snapshot and what was left out of it. */
export interface Translation {
  readonly snapshot: Snapshot;
  readonly skipped: readonly SkipReason[];
}

/** RuleResources are a rule cluster and its assignment, with what the cluster's guard left out. */
export interface RuleResources {
  readonly cluster: EncodedResource;
  readonly cla: EncodedResource;
  readonly skipped: readonly SkipReason[];
}

/** BreakerShare is a service-level breaker's part of a service's share, encoded. */
export interface BreakerShare {
  readonly clusters: readonly EncodedResource[];
  readonly listeners: readonly EncodedResource[];
  readonly routes: readonly EncodedResource[];
  readonly vhost: EncodedVirtualHost;
}

/** Own is what a node group is served besides its OutboundSet. */
export interface Own {
  readonly clusters: EncodedResource[];
  readonly listeners: EncodedResource[];
  readonly routes: EncodedResource[];
  /** What the node's own service's rules left out (rate limits). */
  readonly skipped: SkipReason[];
}

/** MAX_GROUPS bounds every per-group cache (keyed by NodeView.key): the groups remembered, connected or not. */
export const MAX_GROUPS = 1 << 16;
/** MAX_RESOURCES bounds the string-keyed caches of encoded resources shared by groups. */
export const MAX_RESOURCES = 1 << 17;
/** MAX_CALLERS bounds the OutboundSets kept, one per caller identity (flavor, namespace, caller, locality). */
export const MAX_CALLERS = 64;
/** MAX_CLAIM_KEYS bounds the host-name claims carried from one mesh to the next (one per namespace and case). */
export const MAX_CLAIM_KEYS = 1024;
/** MAX_ROUTE_CONFIGS bounds the spliced gateway route configurations kept (one per gateway group). */
export const MAX_ROUTE_CONFIGS = 4096;

/** EnvoySets are the four Envoy types' sets every builder gives (VHDS only on-demand sidecars). */
type EnvoySets = Omit<Record<TypeUrl, TypeResources>, typeof RATELIMIT_CONFIG_TYPE | typeof VHOST_TYPE>;

type SkipJoin = { readonly base: readonly SkipReason[]; readonly all: readonly SkipReason[] };

/** TranslatorCaches is owned by one translator; nothing else reads or writes it. */
export class TranslatorCaches {
  // Clusters depend only on their name, whether they speak HTTP/2 and their guard: keyed by those,
  // an instance change does not re-encode them.
  readonly clusters = new ByteBoundedCache<string, EncodedResource>({ maxEntries: MAX_RESOURCES });
  readonly serviceCLAs = new Memo<EncodedResource>();
  readonly plans = new Memo<RulePlan>();
  readonly ruleResources = new Memo<RuleResources>();
  readonly vhosts = new Memo<EncodedVirtualHost>();
  // A service without inbound rules has a virtual host that depends only on its name and domains.
  readonly plainVhosts = new ByteBoundedCache<string, EncodedVirtualHost>({ maxEntries: MAX_RESOURCES });
  readonly plainVhostByDomains = new WeakMap<
    readonly string[],
    { readonly name: string; readonly vh: EncodedVirtualHost }
  >();
  readonly serviceClusters = new Memo<EncodedResource>();
  readonly breakerShares = new Memo<BreakerShare>();
  readonly guards = new GuardCache();
  readonly outbound = new OutboundCaches();
  readonly claims = new Memo<Claims>();
  /** The claims of the newest mesh seen per (namespace, case), to carry over while names and ports hold. */
  readonly lastClaims = new ByteBoundedCache<string, { readonly mesh: MeshState; readonly claims: Claims }>({
    maxEntries: MAX_CLAIM_KEYS,
  });
  /** The newest OutboundSet per caller identity, patched by the next mesh. */
  readonly outboundSets = new ByteBoundedCache<string, OutboundSet>({ maxEntries: MAX_CALLERS });
  /** One outbound route configuration per virtual host list (the list object is kept while unchanged). */
  readonly outboundRoutes = new WeakMap<readonly EncodedVirtualHost[], EncodedResource>();
  /** What on-demand sidecars get besides the shared sets (VHDS answers, their type sets); bounds in on-demand.ts. */
  readonly onDemand = new OnDemandCaches();
  readonly gatewayHosts = new WeakMap<RulePlan, EncodedVirtualHost>();
  /** Rate-limit plans per rule set and context (WeakMap inside, at most a few contexts each). */
  readonly rateLimitPlans = new RateLimitPlans();
  readonly proxylessRoutes = new Memo<EncodedResource>();
  readonly apiListeners = new ByteBoundedCache<string, EncodedResource>({ maxEntries: MAX_RESOURCES });
  /** Per group: its own resources, reused while its view, own service and route configuration hold. */
  readonly sidecarOwns = new ByteBoundedCache<
    string,
    { readonly view: NodeView; readonly self: Service | undefined; readonly rc: EncodedResource; readonly own: Own }
  >({ maxEntries: MAX_GROUPS });
  // What a Service object's instances give, once per object (pure functions of it, eds.ts and rds.ts).
  private readonly routables = new WeakMap<Service, Routable>();
  private readonly portLists = new WeakMap<Service, readonly number[]>();
  // Domain lists are made once per mesh and shared by every node group: each is stringified once.
  private readonly domainKeys = new WeakMap<readonly string[], string>();
  private readonly skipJoins = new WeakMap<object, SkipJoin>();
  private readonly small = new ByteBoundedCache<string, EncodedResource>({ maxEntries: MAX_GROUPS });
  private readonly routeConfigs = new ByteBoundedCache<
    string,
    { parts: readonly EncodedVirtualHost[]; res: EncodedResource }
  >({ maxEntries: MAX_ROUTE_CONFIGS });
  // Up to four type sets per group.
  private readonly groupSets = new ByteBoundedCache<
    string,
    { readonly base: TypeResources | undefined; readonly list: readonly EncodedResource[]; readonly set: TypeResources }
  >({ maxEntries: 2 * MAX_GROUPS });
  private readonly lastTranslations = new ByteBoundedCache<string, Translation>({ maxEntries: MAX_GROUPS });

  /** routable is a service's instances that may be endpoints, with what was left out, once per Service object. */
  routable(s: Service): Routable {
    let r = this.routables.get(s);
    if (!r) this.routables.set(s, (r = routable(s)));
    return r;
  }

  /** ports are a service's distinct instance ports, ascending, once per Service object. */
  ports(s: Service): readonly number[] {
    let p = this.portLists.get(s);
    if (!p) this.portLists.set(s, (p = servicePorts(s)));
    return p;
  }

  /** domainsKey is a domain list as a cache key, made once per list object. */
  domainsKey(domains: readonly string[]): string {
    let k = this.domainKeys.get(domains);
    if (k === undefined) this.domainKeys.set(domains, (k = JSON.stringify(domains)));
    return k;
  }

  /** cached is a small resource (a group's listener, inbound cluster…) built once per key. */
  cached(key: string, build: () => EncodedResource): EncodedResource {
    let r = this.small.get(key);
    if (!r) this.small.set(key, (r = build()));
    return r;
  }

  /**
   * withSkips appends the skip reasons of `from` (a rule plan, a group's own resources) to a set's,
   * as the same array while neither changed.
   */
  withSkips(base: readonly SkipReason[], from: { readonly skipped: readonly SkipReason[] }): readonly SkipReason[] {
    if (from.skipped.length === 0) return base;
    const hit = this.skipJoins.get(from);
    if (hit?.base === base) return hit.all;
    const all = [...base, ...from.skipped];
    this.skipJoins.set(from, { base, all });
    return all;
  }

  /** routeConfig splices virtual hosts into a route configuration, reusing the last one when no part changed. */
  routeConfig(cacheKey: string, name: string, parts: readonly EncodedVirtualHost[]): EncodedResource {
    const last = this.routeConfigs.get(cacheKey);
    if (last && sameItems(last.parts, parts)) return last.res;
    const res = encodeRouteConfigParts(name, parts);
    this.routeConfigs.set(cacheKey, { parts, res });
    return res;
  }

  /** ownSet is a small per-group type set, reused while its resources are the same objects. */
  ownSet(
    cacheKey: string,
    typeUrl: TypeUrl,
    base: TypeResources | undefined,
    list: readonly EncodedResource[],
  ): TypeResources {
    const last = this.groupSets.get(cacheKey);
    if (last && last.base === base && sameItems(last.list, list)) return last.set;
    const set = base ? layerTypeSet(base, typeUrl, list) : typeSet(typeUrl, list);
    this.groupSets.set(cacheKey, { base, list, set });
    return set;
  }

  /**
   * translation wraps type sets into a Translation, reusing the group's last one when every set is
   * the same object. Only the rate-limit service's view gives the rate-limit configuration, and
   * only on-demand sidecars their virtual hosts (VHDS); the others get the empty sets.
   */
  translation(
    view: NodeView,
    skipped: readonly SkipReason[],
    given: EnvoySets & Partial<Record<TypeUrl, TypeResources>>,
  ): Translation {
    const sets = {
      [RATELIMIT_CONFIG_TYPE]: NO_LIMITER_CONFIGS,
      [VHOST_TYPE]: emptyTypeSet(VHOST_TYPE),
      ...given,
    } as Record<TypeUrl, TypeResources>;
    const last = this.lastTranslations.get(view.key);
    if (last && last.skipped === skipped && PUSH_ORDER.every((t) => last.snapshot.resources[t] === sets[t]))
      return last;
    const snapshot = makeSnapshot(sets);
    const t: Translation = { snapshot, skipped };
    this.lastTranslations.set(view.key, t);
    return t;
  }
}
