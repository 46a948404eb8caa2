// The proxyless builder: a gRPC client is served its OutboundSet (shares.ts) as it is — an API
// listener and route configuration per service it may dial, with their clusters and assignments.
import type { MeshState } from '../../model/mesh.js';
import { CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE } from '../resource.js';
import type { Translation, TranslatorCaches } from './caches.js';
import type { ShareBuilder } from './shares.js';
import type { NodeView } from './view.js';

/** ProxylessBuilder translates proxyless gRPC views. */
export class ProxylessBuilder {
  constructor(
    private readonly c: TranslatorCaches,
    private readonly shares: ShareBuilder,
  ) {}

  translate(mesh: MeshState, view: NodeView): Translation {
    const set = this.shares.outboundFor(mesh, view, 'grpc');
    return this.c.translation(view, set.skipped, {
      [CLUSTER_TYPE]: set.clusters,
      [ENDPOINT_TYPE]: set.endpoints,
      [LISTENER_TYPE]: set.listeners,
      [ROUTE_TYPE]: set.routes,
    });
  }
}
