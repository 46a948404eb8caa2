// Which ClusterLoadAssignment an updated cluster waits for. Envoy finishes warming an updated
// cluster only when a ClusterLoadAssignment arrives after it, even an unchanged one
// (xds_protocol "Resource warming"), so the server sends it again.
import type { EncodedResource } from '../snapshot.js';

/**
 * edsNameOf is the EDS resource name of a cluster: its `eds_cluster_config.service_name` when set,
 * else the cluster name (as Envoy resolves it). Reads the decoded message the snapshot keeps.
 */
export function edsNameOf(cluster: EncodedResource): string {
  const m = cluster.message as { edsClusterConfig?: { serviceName?: unknown } } | null | undefined;
  const service = m?.edsClusterConfig?.serviceName;
  return typeof service === 'string' && service !== '' ? service : cluster.name;
}
