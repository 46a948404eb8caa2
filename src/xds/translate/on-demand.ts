// On-demand sidecars (node metadata `sidecar.polarismesh.cn/openOnDemand: "true"`, Delta only):
// the sidecar holds only what it calls. Its outbound route configuration has no virtual hosts and
// takes them from VHDS; the `on_demand` HTTP filter asks for a host's virtual host when a request
// finds none, and for a route's cluster (ODCDS, over ADS) when the cluster is not there yet, and
// holds the request until they arrive. So the snapshot of such a group serves:
// - CDS: its own clusters to the wildcard; every outbound cluster to a client that names it;
// - EDS: every outbound assignment, to a client that names it (as for every sidecar);
// - VHDS: one virtual host per name `polaris-outbound-router/<host>` a client asks for, resolved
//   lazily against the caller's OutboundSet (see VirtualHostIndex).
// Facts: https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/vhds and
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_filters/on_demand_updates_filter
import { ApiVersion } from '../../gen/envoy/config/core/v3/config_source.js';
import { RouteConfiguration } from '../../gen/envoy/config/route/v3/route.js';
import { VirtualHost } from '../../gen/envoy/config/route/v3/route_components.js';
import { OnDemand } from '../../gen/envoy/extensions/filters/http/on_demand/v3/on_demand.js';
// biome-ignore format: the generated module path is long on its own
import type {
  HttpFilter,
} from '../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { ByteBoundedCache } from '../byte-bounded-cache.js';
import { virtualHostRefs } from '../refs.js';
import { VHOST_TYPE } from '../resource.js';
import type { ResourceMap } from '../resource-map.js';
import { contentVersion, encodeResource, type EncodedResource, type TypeResources } from '../snapshot.js';
import { encodeRouteConfig, seconds, typedAny, type EncodedVirtualHost } from './encode.js';
import { OUTBOUND_ROUTE_CONFIG } from './names.js';
import type { OutboundSet } from './outbound.js';
import { passthroughVirtualHost, type Claims } from './rds.js';

export const ON_DEMAND_FILTER = 'envoy.filters.http.on_demand';
const ON_DEMAND_TYPE = 'type.googleapis.com/envoy.extensions.filters.http.on_demand.v3.OnDemand';

/** How long Envoy holds a request for a cluster it asked for (Envoy's own default is 5 s). */
const ODCDS_TIMEOUT_S = 5;

const ADS = { configSourceSpecifier: { $case: 'ads' as const, value: {} }, resourceApiVersion: ApiVersion.V3 };

/**
 * onDemandFilter is the HTTP filter that asks for virtual hosts (VHDS, whenever the route
 * configuration has `vhds`) and for clusters (ODCDS over ADS) a request needs. It goes before the
 * router.
 */
export function onDemandFilter(): HttpFilter {
  const config = OnDemand.fromPartial({ odcds: { source: ADS, timeout: seconds(ODCDS_TIMEOUT_S) } });
  return {
    name: ON_DEMAND_FILTER,
    configType: { $case: 'typedConfig', value: typedAny(ON_DEMAND_TYPE, OnDemand, config) },
    isOptional: false,
    disabled: false,
  };
}

/** onDemandRouteConfig is the outbound route configuration of an on-demand sidecar: no virtual hosts, VHDS over ADS. */
function onDemandRouteConfig(): EncodedResource {
  return encodeRouteConfig(
    RouteConfiguration.fromPartial({ name: OUTBOUND_ROUTE_CONFIG, vhds: { configSource: ADS } }),
  );
}

/** VHOST_PREFIX starts every VHDS name: `<route configuration name>/`. */
export const VHOST_PREFIX = `${OUTBOUND_ROUTE_CONFIG}/`;

// A host Envoy can hold as a virtual host domain: a name or an IP literal, with an optional port.
const USABLE_HOST = /^(?:[a-z0-9_](?:[a-z0-9_.-]*)|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?$/;

// What answers a name that resolves to nothing: a virtual host that matches no request. Envoy
// 1.40 rejects a VHDS Resource without a body (its empty Any has the wrong type URL), and it
// resumes a request held for a name only when that name comes back among the resources; with no
// virtual host for its host, the request then gets a 404.
const NOT_FOUND_DOMAIN = 'not-found.polaris-xds.invalid';

const NO_ITEMS: ReadonlyMap<string, EncodedResource> = new Map();
/** Resolved VHDS names remembered per type set (one per mesh change of a caller's virtual hosts). */
const MAX_RESOLVED = 1 << 14;
const EMPTY_SUM: Readonly<Uint32Array> = new Uint32Array(4);

/**
 * OnDemandCaches makes and keeps what on-demand sidecars are served besides the shared sets: VHDS
 * answers, once per (virtual host, name) — a name's virtual host holds exactly the asked-for host
 * as its one domain, so two names of one service (`svc` and `svc.ns:8080`) are independent
 * resources that never share a domain (Envoy rejects a route configuration in which two virtual
 * hosts do) — and the per-OutboundSet type sets. Entries hang off the encoded virtual hosts, claims
 * and sets they were made from (WeakMap), or are bounded by count (names of hosts no service owns).
 * Owned by TranslatorCaches.
 */
export class OnDemandCaches {
  private readonly byVhost = new WeakMap<EncodedVirtualHost, Map<string, EncodedResource>>();
  private readonly passthrough = new ByteBoundedCache<string, EncodedResource>({ maxEntries: 1 << 14 });
  private readonly notFound = new ByteBoundedCache<string, EncodedResource>({ maxEntries: 1 << 12 });
  private readonly domainIndex = new WeakMap<Claims, Map<string, string>>();
  private readonly versions = new WeakMap<readonly EncodedVirtualHost[], string>();
  private readonly vhostSets = new WeakMap<OutboundSet, TypeResources>();
  private readonly byHosts = new WeakMap<
    readonly EncodedVirtualHost[],
    { readonly claims: Claims; readonly set: TypeResources }
  >();
  private readonly clusterSets = new WeakMap<
    TypeResources,
    { readonly all: TypeResources; readonly set: TypeResources }
  >();
  private readonly breakerLists = new WeakMap<OutboundSet, readonly EncodedResource[]>();
  private routeConfig?: EncodedResource;
  // The full-state `allow_any` virtual host, whose routes a passthrough answer takes.
  private allowAny?: VirtualHost;

  /** outboundRouteConfig is the on-demand outbound route configuration, made once. */
  outboundRouteConfig(): EncodedResource {
    return (this.routeConfig ??= onDemandRouteConfig());
  }

  /** virtualHosts is the VHDS type set of an on-demand sidecar with this OutboundSet, one per set. */
  virtualHosts(set: OutboundSet): TypeResources {
    let vs = this.vhostSets.get(set);
    // A set patched from one with the same virtual hosts and claims answers every name as that one
    // does (both read the shares map the newer set took over): it keeps that one's type set, so
    // its streams see no VHDS change.
    const same = vs ? undefined : this.byHosts.get(set.hosts);
    if (same?.claims === set.claims) this.vhostSets.set(set, (vs = same.set));
    if (!vs) {
      // Answers are made when asked for: the consistency check sees none of them (the route
      // configuration names none either; its `vhds` is a config source, not a name).
      vs = {
        version: this.versionOf(set.hosts),
        items: NO_ITEMS,
        sum: EMPTY_SUM,
        bytes: 0,
        named: new VirtualHostIndex(set, this),
      };
      this.vhostSets.set(set, vs);
      this.byHosts.set(set.hosts, { claims: set.claims, set: vs });
    }
    return vs;
  }

  /**
   * clusters is the CDS type set of an on-demand sidecar: `own` to the wildcard, and every cluster
   * of `all` to a client that names it (ODCDS). Its version covers both, so a change to a cluster a
   * client holds reaches it; the streams then send only what they hold that changed.
   */
  clusters(own: TypeResources, all: TypeResources): TypeResources {
    const hit = this.clusterSets.get(own);
    if (hit?.all === all) return hit.set;
    // What a client may hold points at what it names too: the consistency check reads `named` as well.
    const set: TypeResources = {
      version: contentVersion(own.version, '\0', all.version),
      items: own.items,
      sum: own.sum,
      bytes: own.bytes,
      named: all.items,
    };
    this.clusterSets.set(own, { all, set });
    return set;
  }

  /**
   * breakerClusters lists the clusters of services whose SERVICE- or METHOD-level circuit breakers
   * put internal listeners in the set. An internal listener's routes name the service's clusters
   * from a listener without the on_demand filter, so nothing would ever fetch them: they go to
   * every on-demand sidecar with the wildcard, like the listeners themselves.
   */
  breakerClusters(set: OutboundSet): readonly EncodedResource[] {
    if (set.listeners.items.size === 0) return [];
    let list = this.breakerLists.get(set);
    if (!list) {
      const out: EncodedResource[] = [];
      for (const share of set.shares.values())
        if (share.listeners.length > 0) for (const c of share.clusters) if (!out.includes(c)) out.push(c);
      this.breakerLists.set(set, (list = out));
    }
    return list;
  }

  /** serviceOf is the key of the service that owns `host` for callers with these claims. */
  serviceOf(claims: Claims, host: string): string | undefined {
    let index = this.domainIndex.get(claims);
    if (!index) {
      index = new Map();
      for (const [key, domains] of claims.names) for (const d of domains) index.set(d, key);
      this.domainIndex.set(claims, index);
    }
    return index.get(host);
  }

  /** build is the resource for VHDS name `name` (host `host`, lower case) from virtual host `vh`. */
  build(name: string, host: string, vh: EncodedVirtualHost): EncodedResource {
    let byName = this.byVhost.get(vh);
    if (!byName) this.byVhost.set(vh, (byName = new Map()));
    let r = byName.get(name);
    if (!r) byName.set(name, (r = encodeVhost(VirtualHost.fromPartial({ ...vh.message, name, domains: [host] }))));
    return r;
  }

  /**
   * passthroughFor is the resource for a host no service owns: straight to the original destination, as the full-state
   * `allow_any` host does.
   */
  passthroughFor(name: string, host: string): EncodedResource {
    let r = this.passthrough.get(name);
    if (!r)
      this.passthrough.set(
        name,
        (r = encodeVhost(
          VirtualHost.fromPartial({ ...(this.allowAny ??= passthroughVirtualHost()), name, domains: [host] }),
        )),
      );
    return r;
  }

  /** absent is the answer to a name that is not a host: a virtual host that matches no request. */
  absent(name: string): EncodedResource {
    let r = this.notFound.get(name);
    if (!r)
      this.notFound.set(
        name,
        (r = encodeVhost(VirtualHost.fromPartial({ name, domains: [`${contentVersion(name)}.${NOT_FOUND_DOMAIN}`] }))),
      );
    return r;
  }

  /** versionOf is a version of everything a set's virtual hosts resolve to: equal hosts, equal version. */
  private versionOf(hosts: readonly EncodedVirtualHost[]): string {
    let v = this.versions.get(hosts);
    if (v === undefined) this.versions.set(hosts, (v = contentVersion(...hosts.map((h) => h.bytes))));
    return v;
  }
}

function encodeVhost(msg: VirtualHost): EncodedResource {
  return encodeResource(VHOST_TYPE, msg.name, VirtualHost.encode(msg).finish(), msg, () => virtualHostRefs(msg));
}

/**
 * VirtualHostIndex resolves VHDS names for one OutboundSet, lazily: `polaris-outbound-router/<host>`
 * is the virtual host of the service that owns `<host>` for this caller (its routes: the caller's
 * rules, then the default route), a passthrough host when no service owns it, and "not found"
 * (OnDemandCaches.absent) for any other name. It is never iterated: a client gets only what it names.
 */
class VirtualHostIndex implements ResourceMap<EncodedResource> {
  readonly size = 0;
  // Answers already resolved: every stream that asks for a name, and every stream told of a new
  // snapshot that checks what it holds, asks again. Bounded: names come from clients.
  private readonly resolved = new Map<string, EncodedResource>();
  constructor(
    private readonly set: OutboundSet,
    private readonly caches: OnDemandCaches,
  ) {}

  get(name: string): EncodedResource {
    let r = this.resolved.get(name);
    if (!r) {
      r = this.resolve(name);
      if (this.resolved.size < MAX_RESOLVED) this.resolved.set(name, r);
    }
    return r;
  }

  private resolve(name: string): EncodedResource {
    if (!name.startsWith(VHOST_PREFIX)) return this.caches.absent(name);
    const host = name.slice(VHOST_PREFIX.length).toLowerCase();
    if (!USABLE_HOST.test(host)) return this.caches.absent(name);
    const key = this.caches.serviceOf(this.set.claims, host);
    // Shares belong to the newest set of this caller: a stream a snapshot behind may see newer content, never older.
    const vh = key === undefined ? undefined : this.set.shares.get(key)?.vhost;
    return vh ? this.caches.build(name, host, vh) : this.caches.passthroughFor(name, host);
  }

  has(name: string): boolean {
    return name !== '';
  }

  *[Symbol.iterator](): Iterator<[string, EncodedResource]> {}
  *keys(): Iterable<string> {}
  *values(): Iterable<EncodedResource> {}
}
