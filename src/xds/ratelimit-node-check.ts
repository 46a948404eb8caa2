// The rate-limit service is served its limits only when its node id says what it is
// (RATELIMIT_NODE_PREFIX). A limiter started with another id would be served an empty
// configuration and count nothing: this hook says so, once per node id, in the log.
import type { Logger } from '../log.js';
import { RATELIMIT_NODE_PREFIX } from './node.js';
import { RATELIMIT_CONFIG_TYPE } from './resource.js';
import type { XdsHooks } from './server/hooks.js';

// Node ids remembered as warned about; beyond this, warnings may repeat (memory stays bounded).
const MAX_REMEMBERED = 1024;

/**
 * limiterNodeCheck returns an onRequest hook that warns about rate-limit configuration requests from nodes not named
 * `ratelimit~…`.
 */
export function limiterNodeCheck(logger: Logger): Required<Pick<XdsHooks, 'onRequest'>> {
  const warned = new Set<string>();
  return {
    onRequest: ({ nodeId, typeUrl }) => {
      if (
        typeUrl !== RATELIMIT_CONFIG_TYPE ||
        nodeId === undefined ||
        nodeId.startsWith(RATELIMIT_NODE_PREFIX) ||
        warned.has(nodeId)
      )
        return;
      if (warned.size >= MAX_REMEMBERED) warned.clear();
      warned.add(nodeId);
      logger.warn(
        { node: nodeId },
        `node ${JSON.stringify(nodeId)} asks for rate-limit configuration but is served none: give the ` +
          `rate-limit service a node id starting with ${RATELIMIT_NODE_PREFIX} ` +
          `(CONFIG_GRPC_XDS_NODE_ID=${RATELIMIT_NODE_PREFIX}<name>)`,
      );
    },
  };
}
