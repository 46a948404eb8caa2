// The translator: MeshState + NodeView → Snapshot. Pure in effect (same inputs, same bytes;
// invariant 1) and incremental: every resource hangs off the Service objects it was built from,
// and what a caller sees of the services (shares.ts, outbound.ts) is shared by every node with
// the same caller identity and patched per changed service, so a new MeshState costs what changed
// (one instance → that service's assignment), not services × node groups. Each runtime has its
// builder (sidecar.ts, gateway.ts, proxyless.ts); the caches they share have one owner (caches.ts).
import type { MeshState } from '../../model/mesh.js';
import type { NodeInfo } from '../node.js';
import { TranslatorCaches, type Translation } from './caches.js';
import { GatewayBuilder } from './gateway.js';
import { ProxylessBuilder } from './proxyless.js';
import { LimiterBuilder } from './ratelimit-service.js';
import { ShareBuilder } from './shares.js';
import { SidecarBuilder } from './sidecar.js';
import { nodeView, type NodeView } from './view.js';

export type { NodeView } from './view.js';
export type { SkipReason, SkipKind } from './skip.js';
export { nodeView } from './view.js';
export { configDump, resourceJson, type ConfigDump } from './dump.js';
export type { Translation } from './caches.js';

/** Translator turns mesh states into snapshots for node views; it keeps memo caches and is otherwise stateless. */
export interface Translator {
  nodeView(node: NodeInfo): NodeView;
  translate(mesh: MeshState, view: NodeView): Translation;
}

/** createTranslator builds a translator with its own caches; the app makes one and hands it to the snapshot cache. */
export function createTranslator(): Translator {
  const caches = new TranslatorCaches();
  const shares = new ShareBuilder(caches);
  const sidecar = new SidecarBuilder(caches, shares);
  const gateway = new GatewayBuilder(caches, shares);
  const proxyless = new ProxylessBuilder(caches, shares);
  const limiter = new LimiterBuilder(caches);
  return {
    nodeView,
    translate(mesh: MeshState, view: NodeView): Translation {
      if (view.runType === 'sidecar') return sidecar.translate(mesh, view);
      if (view.runType === 'gateway') return gateway.translate(mesh, view);
      if (view.runType === 'ratelimit') return limiter.translate(mesh, view);
      return proxyless.translate(mesh, view);
    },
  };
}
