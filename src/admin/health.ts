// The standard gRPC health service (grpc.health.v1.Health, from the grpc-health-check package) on
// the xDS port, so load balancers and Kubernetes gRPC probes see what the xDS server itself sees:
// NOT_SERVING until the mesh source is ready, SERVING while it is, NOT_SERVING once draining.
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { ADS_SERVICE } from '../xds/server/ads.js';

/** HEALTH_SERVICES are the names the health service answers for: '' (the whole server) and ADS. */
export const HEALTH_SERVICES: readonly string[] = ['', ADS_SERVICE];

/** GrpcHealth is the serving status of every name in HEALTH_SERVICES. */
export interface GrpcHealth {
  /** set changes the status; watchers are told only when it changes. */
  set(serving: boolean): void;
  serving(): boolean;
}

/** addHealthService registers the health service on `server`, NOT_SERVING to start with. */
export function addHealthService(server: Server): GrpcHealth {
  const impl = new HealthImplementation(Object.fromEntries(HEALTH_SERVICES.map((s) => [s, 'NOT_SERVING'])));
  // grpc-health-check types its server parameter structurally against its own grpc-js copy.
  impl.addToServer(server as unknown as Parameters<HealthImplementation['addToServer']>[0]);
  let current = false;
  return {
    set: (serving) => {
      if (serving === current) return;
      current = serving;
      for (const s of HEALTH_SERVICES) impl.setStatus(s, serving ? 'SERVING' : 'NOT_SERVING');
    },
    serving: () => current,
  };
}
