// /debug/syncz rows joined with who each node is: the server's status view knows streams and node
// ids, the snapshot cache knows each node's parsed identity (service, namespace, run type).
import type { NodeInfo } from '../xds/node.js';
import type { NodeStatus } from '../xds/server/status.js';

/** SnapshotRefusal says the node's newest snapshot was refused as inconsistent; it is served the last good one. */
export interface SnapshotRefusal {
  readonly at: string;
  readonly errors: readonly string[];
}

/** SynczRow is one stream's status plus the identity of its node, and a refused snapshot if there is one. */
export type SynczRow = NodeStatus & {
  readonly service: string;
  readonly namespace: string;
  readonly runType: string;
  readonly snapshotRefused?: SnapshotRefusal;
};

/** SynczNode is what the snapshot cache knows of a node. */
export interface SynczNode {
  readonly node: NodeInfo;
  readonly refused?: { readonly at: number; readonly errors: readonly string[] };
}

/** withIdentity adds service, namespace and run type to each row; rows of unknown nodes get empty strings. */
export function withIdentity(rows: readonly NodeStatus[], nodes: Iterable<SynczNode>): SynczRow[] {
  const byId = new Map<string, SynczNode>();
  for (const n of nodes) byId.set(n.node.id, n);
  return rows.map((r) => {
    const known = byId.get(r.nodeId);
    const n = known?.node;
    const why = known?.refused;
    const refused = why && { snapshotRefused: { at: new Date(why.at).toISOString(), errors: why.errors } };
    return { ...r, service: n?.service ?? '', namespace: n?.namespace ?? '', runType: n?.runType ?? '', ...refused };
  });
}
