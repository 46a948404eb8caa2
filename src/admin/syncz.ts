// /debug/syncz rows joined with who each node is: the server's status view knows streams and node
// ids, the snapshot cache knows each node's parsed identity (service, namespace, run type).
import type { NodeInfo } from '../xds/node.js';
import type { NodeStatus } from '../xds/server/status.js';

/** SynczRow is one stream's status plus the identity of its node. */
export type SynczRow = NodeStatus & { readonly service: string; readonly namespace: string; readonly runType: string };

/** withIdentity adds service, namespace and run type to each row; rows of unknown nodes get empty strings. */
export function withIdentity(rows: readonly NodeStatus[], nodes: Iterable<{ readonly node: NodeInfo }>): SynczRow[] {
  const byId = new Map<string, NodeInfo>();
  for (const { node } of nodes) byId.set(node.id, node);
  return rows.map((r) => {
    const n = byId.get(r.nodeId);
    return { ...r, service: n?.service ?? '', namespace: n?.namespace ?? '', runType: n?.runType ?? '' };
  });
}
