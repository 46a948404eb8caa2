// Polaris's own conventions (`internal-*` metadata keys and `sidecar.polarismesh.cn/*` node
// metadata) that polaris-go or Polaris's xds-v3 server act on, and what polaris-xds does with
// each. docs/compatibility.md lists the same keys (a test keeps the two in step). Node metadata
// keys that are not supported yet are logged once per node, never ignored silently.
import type { ConfigWatcher, NodeWatch, WatchOptions } from './server/watcher.js';
import type { Node } from '../gen/envoy/config/core/v3/base.js';
import type { Logger } from '../log.js';
import { ByteBoundedCache } from './byte-bounded-cache.js';
import { parseNode, type NodeInfo } from './node.js';

/** Where a convention's key is set. */
export type ConventionScope = 'service metadata' | 'instance metadata' | 'node metadata';

/** What polaris-xds does with it. */
export type ConventionStatus = 'honoured' | 'not applicable' | 'not yet';

export interface Convention {
  readonly key: string;
  readonly scope: ConventionScope;
  readonly status: ConventionStatus;
}

/** CONVENTIONS is the catalogue; docs/compatibility.md says the why of each entry. */
export const CONVENTIONS: readonly Convention[] = [
  { key: 'internal-enable-nearby', scope: 'service metadata', status: 'honoured' },
  { key: 'internal-canary', scope: 'service metadata', status: 'not applicable' },
  { key: 'internal-service-protectthreshold', scope: 'service metadata', status: 'not applicable' },
  { key: 'internal-*', scope: 'instance metadata', status: 'honoured' },
  { key: 'internal-lastheartbeat', scope: 'instance metadata', status: 'not applicable' },
  { key: 'internal-enable-set', scope: 'instance metadata', status: 'not applicable' },
  { key: 'internal-set-name', scope: 'instance metadata', status: 'not applicable' },
  { key: 'internal-register-from', scope: 'instance metadata', status: 'not applicable' },
  { key: 'internal-healthcheck_path', scope: 'instance metadata', status: 'not applicable' },
  { key: 'internal-trace_sampling', scope: 'instance metadata', status: 'not applicable' },
  { key: 'polarismesh.cn/tls-mode', scope: 'instance metadata', status: 'not yet' },
  { key: 'sidecar.polarismesh.cn/serviceName', scope: 'node metadata', status: 'honoured' },
  { key: 'sidecar.polarismesh.cn/serviceNamespace', scope: 'node metadata', status: 'honoured' },
  { key: 'sidecar.polarismesh.cn/bindPorts', scope: 'node metadata', status: 'honoured' },
  { key: 'gateway.polarismesh.cn/serviceName', scope: 'node metadata', status: 'honoured' },
  { key: 'gateway.polarismesh.cn/serviceNamespace', scope: 'node metadata', status: 'honoured' },
  { key: 'polarismesh.cn/tls-mode', scope: 'node metadata', status: 'not yet' },
  { key: 'sidecar.polarismesh.cn/tlsMode', scope: 'node metadata', status: 'not yet' },
  { key: 'sidecar.polarismesh.cn/registerServices', scope: 'node metadata', status: 'not yet' },
  { key: 'sidecar.polarismesh.cn/openOnDemand', scope: 'node metadata', status: 'honoured' },
  { key: 'sidecar.polarismesh.cn/demandServer', scope: 'node metadata', status: 'not applicable' },
];

const SOTW_ON_DEMAND = 'sidecar.polarismesh.cn/openOnDemand (SotW)';

/** What is served instead, for each node metadata key that is not supported yet. */
const NOT_YET: Readonly<Record<string, { applies(value: string): boolean; instead: string }>> = {
  'sidecar.polarismesh.cn/tlsMode': { applies: () => true, instead: 'traffic stays plaintext' },
  'polarismesh.cn/tls-mode': {
    applies: (v) => v === 'strict' || v === 'permissive',
    instead: 'traffic stays plaintext',
  },
  'sidecar.polarismesh.cn/registerServices': {
    applies: () => true,
    instead: 'nothing is registered in Polaris (no HDS self-registration)',
  },
  // Not a node key: stands for openOnDemand on a SotW stream, where VHDS cannot be served.
  [SOTW_ON_DEMAND]: {
    applies: () => true,
    instead:
      'sidecar.polarismesh.cn/openOnDemand needs Delta xDS (ads_config api_type DELTA_GRPC); over SotW the whole ' +
      'namespace is served',
  },
};

/** UnsupportedKey is one node metadata key the node sets that polaris-xds does not act on yet. */
export interface UnsupportedKey {
  readonly key: string;
  readonly instead: string;
}

/** unsupportedNodeKeys lists the node's metadata keys that are not supported yet, in key order. */
export function unsupportedNodeKeys(node: Pick<NodeInfo, 'metadata'>): UnsupportedKey[] {
  return Object.keys(NOT_YET)
    .sort()
    .filter((k) => node.metadata[k] !== undefined && NOT_YET[k]!.applies(node.metadata[k]!))
    .map((k) => ({ key: k, instead: NOT_YET[k]!.instead }));
}

/** NODES_REMEMBERED bounds the memory of nodes already told about (an evicted node may be told again). */
const NODES_REMEMBERED = 10_000;

/**
 * UnsupportedKeyLog logs, once per node id, the node metadata keys that are not supported yet:
 * a node that reconnects (to this replica) is not logged again.
 */
export class UnsupportedKeyLog {
  private readonly told = new ByteBoundedCache<string, true>({ maxEntries: NODES_REMEMBERED });
  constructor(private readonly logger: Logger) {}

  /** seen looks at a node; it logs a warning the first time a node sets unsupported keys. */
  seen(node: Pick<NodeInfo, 'id' | 'metadata'>): void {
    if (this.told.get(node.id)) return;
    const keys = unsupportedNodeKeys(node);
    if (keys.length === 0) return;
    this.told.set(node.id, true);
    const what = keys.map((k) => `${k.key}=${JSON.stringify(node.metadata[k.key])} (${k.instead})`).join('; ');
    this.logger.warn(
      { node: node.id, keys: keys.map((k) => k.key) },
      `node ${node.id}: not supported yet, see docs/compatibility.md: ${what}`,
    );
  }
}

/** loggingUnsupportedKeys wraps a ConfigWatcher so that every node opening a watch is looked at. */
export function loggingUnsupportedKeys(watcher: ConfigWatcher, log: UnsupportedKeyLog): ConfigWatcher {
  return {
    watch(node: Node, opts?: WatchOptions): NodeWatch {
      const w = watcher.watch(node, opts);
      const info = parseNode(node);
      log.seen(
        info.onDemand && opts?.incremental === false
          ? { id: info.id, metadata: { ...info.metadata, [SOTW_ON_DEMAND]: 'true' } }
          : info,
      );
      return w;
    },
  };
}
