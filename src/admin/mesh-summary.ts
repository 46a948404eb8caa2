// /debug/mesh: the MeshState being served, in a compact form people and tests can compare with
// Polaris's own view.
import type { MeshState } from '../model/mesh.js';

export interface MeshSummary {
  readonly origin: string;
  readonly services: ReadonlyArray<{
    readonly namespace: string;
    readonly name: string;
    readonly revision: string;
    readonly aliasFor?: string;
    readonly instances: ReadonlyArray<{
      host: string;
      port: number;
      weight: number;
      healthy: boolean;
      isolate: boolean;
      protocol: string;
      metadata: Readonly<Record<string, string>>;
    }>;
    readonly rules: { readonly inbounds: number; readonly outbounds: number };
  }>;
}

/** meshSummary lists services in key order with their instances; undefined mesh = nothing yet. */
export function meshSummary(mesh: MeshState | undefined): MeshSummary {
  if (!mesh) return { origin: 'none', services: [] };
  return {
    origin: mesh.origin,
    services: [...mesh.services.values()].map((s) => ({
      namespace: s.namespace,
      name: s.name,
      revision: s.revision,
      ...(s.aliasFor ? { aliasFor: `${s.aliasFor.namespace}/${s.aliasFor.name}` } : {}),
      instances: s.instances.map((i) => ({
        host: i.host,
        port: i.port,
        weight: i.weight,
        healthy: i.healthy,
        isolate: i.isolate,
        protocol: i.protocol,
        metadata: i.metadata,
      })),
      rules: { inbounds: s.routing.inbounds.length, outbounds: s.routing.outbounds.length },
    })),
  };
}
