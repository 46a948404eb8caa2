// Node identities of the simulated Envoys: Polaris's sidecar form `<ns>/<uuid>~<ip>` with the
// sidecar.polarismesh.cn metadata polaris-controller injects, stream i fronting service i mod S,
// so the bridge sees as many node groups as a real mesh of that size would.
import type { StreamSpec } from './protocol.js';

/** uuidOf is the uuid part of stream i's node id. */
export function uuidOf(i: number): string {
  return `00000000-0000-4000-8000-${i.toString(16).padStart(12, '0')}`;
}

function ipOf(i: number): string {
  return `172.${16 + ((i >> 16) & 15)}.${(i >> 8) & 255}.${i & 255}`;
}

/**
 * OnDemandCalls makes on-demand sidecars: each calls two services picked by its index among `all`,
 * and every tenth also calls `hot` (the service the bench then changes).
 */
export interface OnDemandCalls {
  readonly all: readonly string[];
  readonly hot: string;
}

/** One on-demand sidecar in this many calls the service the changes touch (the raw suite fans out to as many). */
export const ON_DEMAND_CONCERNED_EVERY = 10;

function callsOf(i: number, od: OnDemandCalls): string[] {
  const n = od.all.length;
  const calls = [od.all[(i * 7 + 1) % n]!, od.all[(i * 13 + 2) % n]!].filter((s) => s !== od.hot);
  if (i % ON_DEMAND_CONCERNED_EVERY === 0) calls.push(od.hot);
  return [...new Set(calls)];
}

/** sidecarSpecs builds streams `from`…`to-1` as sidecars of the given services (on-demand ones with `onDemand`). */
export function sidecarSpecs(
  namespace: string,
  services: readonly string[],
  from: number,
  to: number,
  onDemand?: OnDemandCalls,
): StreamSpec[] {
  const out: StreamSpec[] = [];
  for (let i = from; i < to; i++) {
    const service = services[i % services.length]!;
    out.push({
      index: i,
      nodeId: `${namespace}/${uuidOf(i)}~${ipOf(i)}`,
      cluster: service,
      metadata: {
        'sidecar.polarismesh.cn/serviceNamespace': namespace,
        'sidecar.polarismesh.cn/serviceName': service,
        ...(onDemand ? { 'sidecar.polarismesh.cn/openOnDemand': 'true' } : {}),
      },
      ...(onDemand ? { calls: callsOf(i, onDemand) } : {}),
    });
  }
  return out;
}
