// VHDS (on-demand virtual hosts) as Envoy speaks it: the rules of the exchange that are not those
// of any other type. Names are `<route configuration name>/<host>`; a client names them one by one
// as requests need them (src/xds/translate/on-demand.ts resolves them).
// https://www.envoyproxy.io/docs/envoy/latest/configuration/http/http_conn_man/vhds
import { VHOST_TYPE } from '../resource.js';
import type { TypeState } from './stream-state.js';

/**
 * VHDS_OPENING is the name whose removal answers a client's first VHDS request. Envoy opens its
 * VHDS subscription with a request that names nothing, and its route configuration (so the
 * listener) stays unready until an update reaches that subscription: an empty response does not
 * (Envoy accepts it and hands it to nobody), a removal of a name under the route configuration's
 * prefix does, and changes nothing it holds.
 */
export const VHDS_OPENING = 'polaris-outbound-router/';

/** HELD_ELSEWHERE marks a name the client is taken to hold at no known version, so the plan removes it. */
const HELD_ELSEWHERE = '?';

/** openVhds prepares a stream's first VHDS response: it will carry the removal of VHDS_OPENING. */
export function openVhds(t: TypeState): void {
  if (t.typeUrl === VHOST_TYPE && !t.holds(VHDS_OPENING)) t.holdsInitially(VHDS_OPENING, HELD_ELSEWHERE);
}
