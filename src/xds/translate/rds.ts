// RDS: virtual hosts and route configurations. One virtual host per service, reachable by its
// host names (names.ts hostNames); its routes are the service's routing rules that apply to the
// caller (routing/rules.ts), then a default route to the whole service.
import { HeaderValueOption_HeaderAppendAction } from '../../gen/envoy/config/core/v3/base.js';
import { VirtualHost, type DeepPartial, type Route } from '../../gen/envoy/config/route/v3/route_components.js';
import { compareKeys, type MeshState, type Service } from '../../model/mesh.js';
import { CALLER_HEADERS } from './caller.js';
import { seconds } from './encode.js';
import { hostNames, PASSTHROUGH_CLUSTER } from './names.js';
import type { PlannedRoute } from './routing/rules.js';
import { skip, type SkipReason } from './skip.js';

/**
 * PASSTHROUGH_GUARD marks requests the passthrough route forwarded. A request sent straight to
 * the outbound listener (no iptables) has no original destination but the listener itself; when
 * its Host is unknown, passthrough would send it back to the listener forever. The second time
 * round it carries this header, matches no route, and gets a 404.
 */
export const PASSTHROUGH_GUARD = 'x-polaris-xds-passthrough';

/** DEFAULT_ROUTE_NAME names the last route of a service's virtual host. */
export const DEFAULT_ROUTE_NAME = 'default';

/** clusterRoute is a route to one cluster. */
export function clusterRoute(name: string, match: DeepPartial<Route>['match'], cluster: string): DeepPartial<Route> {
  // No route timeout: the proxy is transparent, long calls and streams are the application's business.
  return {
    name,
    match,
    action: { $case: 'route', value: { clusterSpecifier: { $case: 'cluster', value: cluster }, timeout: seconds(0) } },
  };
}

/** serviceRoutes lists a service's routes: rule routes in order, then the default route. */
export function serviceRoutes(
  planned: readonly PlannedRoute[],
  defaultCluster: string | undefined,
): Array<DeepPartial<Route>> {
  const routes = planned.map((p) => clusterRoute(p.name, p.match, p.cluster));
  if (defaultCluster !== undefined)
    routes.push(clusterRoute(DEFAULT_ROUTE_NAME, { pathSpecifier: { $case: 'prefix', value: '/' } }, defaultCluster));
  return routes;
}

/** virtualHost builds a VirtualHost message. */
export function virtualHost(
  name: string,
  domains: readonly string[],
  routes: ReadonlyArray<DeepPartial<Route>>,
): VirtualHost {
  return VirtualHost.fromPartial({ name, domains: [...domains], routes: [...routes] });
}

/**
 * passthroughVirtualHost sends requests for unknown hosts to their original destination (sidecars), without the caller
 * headers the sidecar wrote for mesh services.
 */
export function passthroughVirtualHost(): VirtualHost {
  return VirtualHost.fromPartial({
    name: 'allow_any',
    domains: ['*'],
    requestHeadersToRemove: [...CALLER_HEADERS],
    routes: [
      {
        ...clusterRoute(
          'allow_any',
          {
            pathSpecifier: { $case: 'prefix', value: '/' },
            headers: [
              {
                name: PASSTHROUGH_GUARD,
                headerMatchSpecifier: { $case: 'presentMatch', value: true },
                invertMatch: true,
              },
            ],
          },
          PASSTHROUGH_CLUSTER,
        ),
        requestHeadersToAdd: [
          {
            header: { key: PASSTHROUGH_GUARD, value: '1' },
            appendAction: HeaderValueOption_HeaderAppendAction.OVERWRITE_IF_EXISTS_OR_ADD,
          },
        ],
      },
    ],
  });
}

/** Claims gives each service the host names it owns for one caller namespace. */
export interface Claims {
  /** By service key (`<ns>/<svc>`), in the order hostNames lists them; absent when none. */
  readonly names: ReadonlyMap<string, readonly string[]>;
  readonly skipped: readonly SkipReason[];
}

const HOST_CHARS = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
/**
 * servicePorts lists the distinct ports of a service's instances, ascending. A pure function of the
 * Service; the translator keeps one result per Service object (TranslatorCaches.ports).
 */
export function servicePorts(s: Service): readonly number[] {
  const valid = s.instances.map((i) => i.port).filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
  return [...new Set(valid)].sort((a, b) => a - b);
}

/**
 * claimNames assigns host names to services for callers in `namespace`. Envoy rejects a route
 * configuration in which two virtual hosts share a domain, and names can clash (service `a.b` in
 * namespace `c` and service `a` in namespace `b.c` are both `a.b.c`). A clash goes to the
 * namespaced form over the short one, then to the lower service key; the loser is told why.
 * With `lowercase` names are domains (Host matching ignores case); without, listener names.
 */
export function claimNames(
  mesh: MeshState,
  namespace: string,
  lowercase: boolean,
  portsOf: (s: Service) => readonly number[] = servicePorts,
): Claims {
  const skipped: SkipReason[] = [];
  const candidates: Array<{ key: string; names: Array<{ name: string; rank: number }> }> = [];
  for (const [key, s] of mesh.services) {
    if (!HOST_CHARS.test(s.name) || !HOST_CHARS.test(s.namespace)) {
      skipped.push(
        skip(
          'domain',
          key,
          `service or namespace name is not usable as a host name; the service gets no ` +
            `${lowercase ? 'virtual host' : 'listener'}`,
        ),
      );
      continue;
    }
    const names = hostNames(s.namespace, s.name, portsOf(s), s.namespace === namespace).map((h) => ({
      name: lowercase ? h.name.toLowerCase() : h.name,
      rank: h.rank,
    }));
    candidates.push({ key, names });
  }
  const owner = new Map<string, { rank: number; key: string }>();
  for (const c of candidates) {
    for (const n of c.names) {
      const cur = owner.get(n.name);
      if (!cur || n.rank < cur.rank || (n.rank === cur.rank && compareKeys(c.key, cur.key) < 0))
        owner.set(n.name, { rank: n.rank, key: c.key });
    }
  }
  const names = new Map<string, string[]>();
  for (const c of candidates) {
    const won: string[] = [];
    const lost = new Map<string, string[]>();
    for (const n of c.names) {
      const o = owner.get(n.name)!;
      if (o.key === c.key) {
        if (!won.includes(n.name)) won.push(n.name);
      } else {
        lost.set(o.key, [...(lost.get(o.key) ?? []), n.name]);
      }
    }
    for (const [other, list] of lost)
      skipped.push(
        skip(
          'domain',
          c.key,
          `${list.join(', ')} also name${list.length === 1 ? 's' : ''} ${other}, which takes precedence`,
        ),
      );
    if (won.length > 0) names.set(c.key, won);
  }
  return { names, skipped };
}
