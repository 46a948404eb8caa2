// A SERVICE-level circuit breaker in Envoy (docs/governance.md). polaris-go counts the errors of
// all calls from a caller to a service, and once a trigger holds answers every call at once with
// the rule's fallback for the sleep window. Envoy's outlier detection does that for one host, so
// the service is made one host: an internal listener that routes to the service as usual. The
// caller's routes go to an aggregate cluster of
//   - `BREAKER|ns|svc|upstream`: that one host, with the rule's outlier detection and no panic
//     routing, so the service's errors together eject it for the sleep window;
//   - `BREAKER|ns|svc|fallback`: an internal listener that answers with the fallback response;
// (a METHOD-level breaker is the same, scoped `method:<rule id>`, for the routes of its method);
// the aggregate sends everything to the first while it is healthy and to the second while it is
// ejected, so the service sees no call while the circuit is open. A rule without a fallback
// answer uses the first cluster alone: Envoy answers 503 (no healthy upstream) while it is open.
// Internal listeners need Envoy's `envoy.bootstrap.internal_listener` extension (the bootstrap
// `polaris-xds bootstrap` prints loads it and says so in the node metadata). Pure.
import { Cluster, Cluster_LbPolicy, type DeepPartial } from '../../gen/envoy/config/cluster/v3/cluster.js';
import type { Listener } from '../../gen/envoy/config/listener/v3/listener.js';
import type { Route } from '../../gen/envoy/config/route/v3/route_components.js';
import { ClusterConfig } from '../../gen/envoy/extensions/clusters/aggregate/v3/cluster.js';
import type { ServiceBreaker } from './breakers.js';
import { CONNECT_TIMEOUT_SECONDS, internalCluster } from './cds.js';
import { seconds, typedAny, TYPED } from './encode.js';
import { internalHttpListener } from './lds.js';
import { breakerCluster, breakerListener } from './names.js';
import { virtualHost } from './rds.js';
import type { VirtualHost } from '../../gen/envoy/config/route/v3/route_components.js';

/** BreakerParts are the resources of one service-level breaker, and the cluster routes go to. */
export interface BreakerParts {
  readonly entryCluster: string;
  readonly clusters: readonly Cluster[];
  readonly listeners: readonly Listener[];
  /** Route configurations of the internal listeners, each one virtual host matching any authority. */
  readonly routes: ReadonlyArray<{ readonly name: string; readonly vhost: VirtualHost }>;
}

function internalListener(name: string): Listener {
  return internalHttpListener(name, 'BREAKER_HTTP', name);
}

/**
 * breakerParts builds a service's breaker. `routes` are the service's routes as the caller's
 * virtual host would have them; the internal listener serves them, so routing rules still apply.
 */
export function breakerParts(
  namespace: string,
  service: string,
  scope: string,
  breaker: ServiceBreaker,
  http2: boolean,
  routes: ReadonlyArray<DeepPartial<Route>>,
): BreakerParts {
  const entry = breakerCluster(namespace, service, scope);
  const serviceListener = breakerListener(namespace, service, scope, 'upstream');
  // No panic routing: with its one host ejected the cluster has none, rather than all.
  const guarded: DeepPartial<Cluster> = {
    outlierDetection: breaker.outlier,
    commonLbConfig: { healthyPanicThreshold: { value: 0 } },
  };
  const listeners = [internalListener(serviceListener)];
  const vhosts = [{ name: serviceListener, vhost: virtualHost(serviceListener, ['*'], routes) }];
  if (breaker.fallback === undefined) {
    return {
      entryCluster: entry,
      clusters: [internalCluster(entry, serviceListener, http2, guarded)],
      listeners,
      routes: vhosts,
    };
  }
  const fallbackListener = breakerListener(namespace, service, scope, 'fallback');
  const f = breaker.fallback;
  listeners.push(internalListener(fallbackListener));
  vhosts.push({
    name: fallbackListener,
    vhost: virtualHost(
      fallbackListener,
      ['*'],
      [
        {
          name: 'fallback',
          match: { pathSpecifier: { $case: 'prefix', value: '' } },
          action: {
            $case: 'directResponse',
            value: { status: f.code, body: { specifier: { $case: 'inlineString', value: f.body } } },
          },
          responseHeadersToAdd: f.headers.map((h) => ({ header: { key: h.key, value: h.value } })),
        },
      ],
    ),
  });
  const aggregate = Cluster.fromPartial({
    name: entry,
    clusterDiscoveryType: {
      $case: 'clusterType',
      value: {
        name: 'envoy.clusters.aggregate',
        typedConfig: typedAny(
          TYPED.aggregateCluster,
          ClusterConfig,
          ClusterConfig.fromPartial({
            clusters: [
              breakerCluster(namespace, service, scope, 'upstream'),
              breakerCluster(namespace, service, scope, 'fallback'),
            ],
          }),
        ),
      },
    },
    connectTimeout: seconds(CONNECT_TIMEOUT_SECONDS),
    lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
  });
  return {
    entryCluster: entry,
    clusters: [
      aggregate,
      internalCluster(breakerCluster(namespace, service, scope, 'upstream'), serviceListener, http2, guarded),
      internalCluster(breakerCluster(namespace, service, scope, 'fallback'), fallbackListener, http2, {}),
    ],
    listeners,
    routes: vhosts,
  };
}
