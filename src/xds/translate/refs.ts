// Refs: the names a snapshot's root resources point at, read back from the resources themselves
// (clusters → EDS service names, listeners → route configuration names), for `consistent()`.
import type { Cluster } from '../../gen/envoy/config/cluster/v3/cluster.js';
import { Cluster_DiscoveryType } from '../../gen/envoy/config/cluster/v3/cluster.js';
import type { Listener } from '../../gen/envoy/config/listener/v3/listener.js';
import { HttpConnectionManager } from '../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import type { Any } from '../../gen/google/protobuf/any.js';
import { CLUSTER_TYPE, LISTENER_TYPE } from '../resource.js';
import type { Snapshot } from '../snapshot.js';
import { TYPED } from './encode.js';

/** Refs are what a snapshot's root resources point at. */
export interface Refs {
  /** EDS service names of the snapshot's EDS clusters. */
  readonly edsNames: ReadonlySet<string>;
  /** Route configuration names of the snapshot's HTTP connection managers. */
  readonly routeNames: ReadonlySet<string>;
}

function rdsName(config: Any | undefined): string | undefined {
  if (config?.typeUrl !== TYPED.hcm) return undefined;
  const hcm = HttpConnectionManager.decode(config.value);
  return hcm.routeSpecifier?.$case === 'rds' ? hcm.routeSpecifier.value.routeConfigName : undefined;
}

/** refsOf reads a snapshot's references from its decoded clusters and listeners. */
export function refsOf(snapshot: Snapshot): Refs {
  const edsNames = new Set<string>();
  for (const r of snapshot.resources[CLUSTER_TYPE].items.values()) {
    const c = r.message as Cluster;
    if (c.clusterDiscoveryType?.$case === 'type' && c.clusterDiscoveryType.value === Cluster_DiscoveryType.EDS) edsNames.add(c.edsClusterConfig?.serviceName || c.name);
  }
  const routeNames = new Set<string>();
  for (const r of snapshot.resources[LISTENER_TYPE].items.values()) {
    const l = r.message as Listener;
    const configs = [l.apiListener?.apiListener, ...[...l.filterChains, ...(l.defaultFilterChain ? [l.defaultFilterChain] : [])].flatMap((fc) => fc.filters.map((f) => (f.configType?.$case === 'typedConfig' ? f.configType.value : undefined)))];
    for (const cfg of configs) {
      const n = rdsName(cfg);
      if (n !== undefined) routeNames.add(n);
    }
  }
  return { edsNames, routeNames };
}
