// /debug/config_dump?node=ID in the shape of Envoy's own /config_dump, so the two can be read side
// by side: one `configs` entry per type with the admin dump's @type, dynamic resources inside.
import type { ConfigDump } from '../xds/translate/dump.js';

const ADMIN = 'type.googleapis.com/envoy.admin.v3.';

type Entry = { name: string; version: string; resource: unknown };
const none = { version: '', resources: [] as Entry[] };

/**
 * envoyConfigDump wraps what a node is served as Envoy's config_dump does. `version_info` of each
 * type is the SotW type version; each resource carries its own content-hash version (Envoy shows
 * the response version there instead). `extra` (node, streams) is merged in at the top level.
 */
export function envoyConfigDump(dump: ConfigDump, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cds = dump.cds ?? none;
  const eds = dump.eds ?? none;
  const lds = dump.lds ?? none;
  const rds = dump.rds ?? none;
  return {
    ...extra,
    configs: [
      {
        '@type': `${ADMIN}ClustersConfigDump`,
        version_info: cds.version,
        dynamic_active_clusters: cds.resources.map((r) => ({ version_info: r.version, cluster: r.resource })),
      },
      {
        '@type': `${ADMIN}EndpointsConfigDump`,
        version_info: eds.version,
        dynamic_endpoint_configs: eds.resources.map((r) => ({ version_info: r.version, endpoint_config: r.resource })),
      },
      {
        '@type': `${ADMIN}ListenersConfigDump`,
        version_info: lds.version,
        dynamic_listeners: lds.resources.map((r) => ({
          name: r.name,
          active_state: { version_info: r.version, listener: r.resource },
        })),
      },
      {
        '@type': `${ADMIN}RoutesConfigDump`,
        version_info: rds.version,
        dynamic_route_configs: rds.resources.map((r) => ({ version_info: r.version, route_config: r.resource })),
      },
    ],
  };
}
