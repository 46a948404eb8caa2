// Nearby routing: prefer instances close to the caller. A service opts in with the metadata key
// `polaris-xds.io/nearby`; the caller's locality comes from its xDS node. The preference becomes
// EDS priorities, so Envoy (and grpc-js) fall back to farther instances only as nearer ones fail.
import type { Locality, Service } from '../../../model/mesh.js';

/** NEARBY_KEY is the service metadata key that turns nearby routing on. */
export const NEARBY_KEY = 'polaris-xds.io/nearby';

/** NearbyLevel is the finest locality level preferred: `zone` (also `true`), `region` or `campus`. */
export type NearbyLevel = 'region' | 'zone' | 'campus';

const DEPTH: Readonly<Record<NearbyLevel, number>> = { region: 1, zone: 2, campus: 3 };

/** nearbyLevel reads a service's nearby setting; undefined means off (also for unknown values). */
export function nearbyLevel(service: Service): NearbyLevel | undefined {
  const v = (service.metadata[NEARBY_KEY] ?? '').trim().toLowerCase();
  if (v === 'true' || v === 'zone') return 'zone';
  if (v === 'region' || v === 'campus') return v;
  return undefined;
}

function parts(l: Locality): readonly string[] {
  return [l.region, l.zone, l.campus];
}

/**
 * nearbyPriority ranks an instance for a caller: 0 when it shares the caller's locality down to
 * `level`, 1 when it shares one level less, and so on. Only levels the caller has set count.
 */
export function nearbyPriority(level: NearbyLevel, caller: Locality, instance: Locality): number {
  const depth = DEPTH[level];
  const c = parts(caller);
  const i = parts(instance);
  let shared = 0;
  while (shared < depth && c[shared] !== '' && c[shared] === i[shared]) shared++;
  return depth - shared;
}

/** nearbyKey is the part of a caller's locality a level looks at, for memoising per caller. */
export function nearbyKey(level: NearbyLevel, caller: Locality): string {
  return JSON.stringify([level, ...parts(caller).slice(0, DEPTH[level])]);
}
