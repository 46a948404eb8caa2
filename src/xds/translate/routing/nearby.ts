// Nearby routing: prefer instances close to the caller. A service opts in as Polaris users do, with
// the service metadata `internal-enable-nearby: "true"` (the console's switch; polaris-go, -cpp and
// -rust then match the caller's zone and widen up to all), or chooses a level with the project key
// `polaris-xds.io/nearby`, which wins when both are set. The caller's locality comes from its xDS
// node. The preference becomes EDS priorities, so Envoy (and grpc-js) fall back to farther
// instances only as nearer ones lose every healthy endpoint.
import type { Locality, Service } from '../../../model/mesh.js';

/** NEARBY_KEY is the project's service metadata key that turns nearby routing on at a chosen level. */
export const NEARBY_KEY = 'polaris-xds.io/nearby';

/** POLARIS_NEARBY_KEY is Polaris's own switch (service metadata), read as polaris-go reads it. */
export const POLARIS_NEARBY_KEY = 'internal-enable-nearby';

/** SDK_DEFAULT_LEVEL is polaris-go's default match level (`nearbyBasedRouter.matchLevel`); it widens up to all. */
const SDK_DEFAULT_LEVEL: NearbyLevel = 'zone';

// Go's strconv.ParseBool, which polaris-go applies to the switch's value.
const GO_TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);

/** NearbyLevel is the finest locality level preferred: `zone` (also `true`), `region` or `campus`. */
export type NearbyLevel = 'region' | 'zone' | 'campus';

const DEPTH: Readonly<Record<NearbyLevel, number>> = { region: 1, zone: 2, campus: 3 };

/**
 * nearbyLevel reads a service's nearby setting; undefined means off. The project key, when it
 * names a level, wins; otherwise Polaris's switch turns on the SDKs' default level.
 */
export function nearbyLevel(service: Service): NearbyLevel | undefined {
  const v = (service.metadata[NEARBY_KEY] ?? '').trim().toLowerCase();
  if (v === 'true' || v === 'zone') return 'zone';
  if (v === 'region' || v === 'campus') return v;
  if (v === 'false' || v === 'off') return undefined;
  const polaris = service.metadata[POLARIS_NEARBY_KEY];
  return polaris !== undefined && GO_TRUE.has(polaris) ? SDK_DEFAULT_LEVEL : undefined;
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
