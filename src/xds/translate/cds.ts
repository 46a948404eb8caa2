// CDS: clusters. Service and rule clusters are EDS over ADS (their endpoints come from eds.ts);
// the sidecar's inbound cluster is static (127.0.0.1); PassthroughCluster forwards to the original
// destination of intercepted traffic.
import {
  Cluster,
  Cluster_DiscoveryType,
  Cluster_LbPolicy,
  type DeepPartial,
} from '../../gen/envoy/config/cluster/v3/cluster.js';
import { ApiVersion } from '../../gen/envoy/config/core/v3/config_source.js';
import { HealthStatus } from '../../gen/envoy/config/core/v3/health_check.js';
import type { LbEndpoint } from '../../gen/envoy/config/endpoint/v3/endpoint_components.js';
import { HttpProtocolOptions } from '../../gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import type { Instance } from '../../model/mesh.js';
import { seconds, typedAny, TYPED } from './encode.js';
import type { Guard } from './guard.js';
import { PASSTHROUGH_CLUSTER } from './names.js';

/** CONNECT_TIMEOUT_SECONDS is the upstream connect timeout of every cluster (Envoy's default, stated). */
export const CONNECT_TIMEOUT_SECONDS = 5;

const H2_PROTOCOLS = new Set(['grpc', 'http2', 'h2c', 'h2']);

/**
 * speaksHttp2 says whether a set of instances needs an HTTP/2 upstream: true when at least one
 * instance declares grpc/http2/h2c/h2 and none declares another protocol (undeclared ones follow).
 */
export function speaksHttp2(instances: Iterable<Instance>): boolean {
  let h2 = false;
  for (const i of instances) {
    const p = i.protocol.trim().toLowerCase();
    if (p === '') continue;
    if (!H2_PROTOCOLS.has(p)) return false;
    h2 = true;
  }
  return h2;
}

const HTTP2_OPTIONS = {
  'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': typedAny(
    TYPED.httpProtocolOptions,
    HttpProtocolOptions,
    HttpProtocolOptions.fromPartial({
      upstreamProtocolOptions: {
        $case: 'explicitHttpConfig',
        value: { protocolConfig: { $case: 'http2ProtocolOptions', value: {} } },
      },
    }),
  ),
};

/**
 * NO_PANIC turns Envoy's panic mode off (its default threshold is 50 %): with 1 healthy instance of
 * 3, Envoy would otherwise spread traffic over all three. polaris-go sends to unhealthy instances
 * only when none is healthy; the assignments (eds.ts) say that case by sending every endpoint as
 * healthy-unknown, which is what Envoy and grpc-js then use.
 */
const NO_PANIC = { healthyPanicThreshold: { value: 0 } } as const;

function edsCluster(name: string, http2: boolean, extra: DeepPartial<Cluster> = {}): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.EDS },
    // service_name is the cluster name: Polaris's sidecars and grpc-js both look the assignment up by it.
    edsClusterConfig: {
      edsConfig: { configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 },
      serviceName: name,
    },
    connectTimeout: seconds(CONNECT_TIMEOUT_SECONDS),
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    typedExtensionProtocolOptions: http2 ? HTTP2_OPTIONS : {},
    ...extra,
    commonLbConfig: { ...NO_PANIC, ...extra.commonLbConfig },
  });
}

/**
 * guarded is what a guard adds to a cluster: outlier detection and active health checks (omitted when it adds nothing).
 */
function guarded(guard: Guard | undefined): DeepPartial<Cluster> {
  if (!guard || guard.key === '') return {};
  return { ...(guard.outlier ? { outlierDetection: guard.outlier } : {}), healthChecks: [...guard.healthChecks] };
}

/** serviceCluster is the EDS cluster of a whole service (`OUTBOUND|<ns>|<svc>`), with its governance rules' guard. */
export function serviceCluster(name: string, http2: boolean, guard?: Guard): Cluster {
  return edsCluster(name, http2, guarded(guard));
}

/**
 * ruleCluster is the EDS cluster a routing rule sends traffic to. Its assignment has one locality
 * per destination group (groupedLoadAssignment), so locality-weighted load balancing is on: the
 * locality weights are the group weights.
 */
export function ruleCluster(name: string, http2: boolean, guard?: Guard): Cluster {
  return edsCluster(name, http2, {
    commonLbConfig: { localityConfigSpecifier: { $case: 'localityWeightedLbConfig', value: {} } },
    ...guarded(guard),
  });
}

/** staticCluster is a cluster whose endpoints it carries itself (one locality), not over EDS. */
export function staticCluster(
  name: string,
  http2: boolean,
  lbEndpoints: Array<DeepPartial<LbEndpoint>>,
  extra: DeepPartial<Cluster> = {},
): Cluster {
  return Cluster.fromPartial({
    name,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.STATIC },
    connectTimeout: seconds(CONNECT_TIMEOUT_SECONDS),
    lbPolicy: Cluster_LbPolicy.ROUND_ROBIN,
    typedExtensionProtocolOptions: http2 ? HTTP2_OPTIONS : {},
    loadAssignment: { clusterName: name, endpoints: [{ locality: {}, lbEndpoints }] },
    ...extra,
  });
}

/** internalCluster is a static cluster whose one host is the internal listener `listener`. */
export function internalCluster(name: string, listener: string, http2: boolean, extra: DeepPartial<Cluster>): Cluster {
  const address = {
    address: {
      $case: 'envoyInternalAddress' as const,
      value: { addressNameSpecifier: { $case: 'serverListenerName' as const, value: listener } },
    },
  };
  return staticCluster(name, http2, [{ hostIdentifier: { $case: 'endpoint', value: { address } } }], extra);
}

/** concurrencyLimit caps the requests in flight through a cluster: a CONCURRENCY rate limit (ratelimit.ts). */
export function concurrencyLimit(maxRequests: number | undefined): DeepPartial<Cluster> {
  return maxRequests !== undefined ? { circuitBreakers: { thresholds: [{ maxRequests }] } } : {};
}

/** inboundCluster is a sidecar's static cluster to its own application on 127.0.0.1. */
export function inboundCluster(name: string, ports: readonly number[], http2: boolean, maxRequests?: number): Cluster {
  return staticCluster(
    name,
    http2,
    ports.map((port) => ({
      hostIdentifier: {
        $case: 'endpoint',
        value: {
          address: {
            address: {
              $case: 'socketAddress',
              value: { address: '127.0.0.1', portSpecifier: { $case: 'portValue', value: port } },
            },
          },
        },
      },
      healthStatus: HealthStatus.HEALTHY,
    })),
    // A CONCURRENCY rate limit: at most this many requests in flight to the application.
    concurrencyLimit(maxRequests),
  );
}

const UNLIMITED = 0xffffffff;

/**
 * passthroughCluster forwards intercepted traffic nobody routes to its original destination.
 * Its limits are lifted, as Polaris does: it carries all of an application's external traffic.
 */
export function passthroughCluster(): Cluster {
  return Cluster.fromPartial({
    name: PASSTHROUGH_CLUSTER,
    clusterDiscoveryType: { $case: 'type', value: Cluster_DiscoveryType.ORIGINAL_DST },
    connectTimeout: seconds(CONNECT_TIMEOUT_SECONDS),
    lbPolicy: Cluster_LbPolicy.CLUSTER_PROVIDED,
    circuitBreakers: {
      thresholds: [
        { maxConnections: UNLIMITED, maxPendingRequests: UNLIMITED, maxRequests: UNLIMITED, maxRetries: UNLIMITED },
      ],
    },
  });
}
