// Config size gauges, computed when /metrics is scraped: the largest set of each type any node
// group is served, in resources and encoded bytes. Each type set carries its own byte total, so a
// scrape costs the number of groups, not the number of resources they hold.
import { Gauge, type Registry } from 'prom-client';
import { PUSH_ORDER, SHORT_NAMES } from '../xds/resource.js';
import type { Snapshot } from '../xds/snapshot.js';

/** configSize gives, per type short name, the largest resource count and byte size among `snapshots`. */
export function configSize(snapshots: Iterable<Snapshot>): Record<string, { resources: number; bytes: number }> {
  const out: Record<string, { resources: number; bytes: number }> = {};
  for (const t of PUSH_ORDER) out[SHORT_NAMES[t]] = { resources: 0, bytes: 0 };
  for (const s of snapshots) {
    for (const t of PUSH_ORDER) {
      const set = s.resources[t];
      const o = out[SHORT_NAMES[t]]!;
      o.resources = Math.max(o.resources, set.items.size);
      o.bytes = Math.max(o.bytes, set.bytes);
    }
  }
  return out;
}

/**
 * registerConfigSize adds polaris_xds_config_bytes and polaris_xds_config_resources, read from `snapshots` at scrape
 * time.
 */
export function registerConfigSize(registry: Registry, snapshots: () => Iterable<Snapshot>): void {
  const gauge = (name: string, help: string, pick: (s: { resources: number; bytes: number }) => number) =>
    new Gauge({
      name,
      help,
      labelNames: ['type'],
      registers: [registry],
      collect() {
        for (const [type, size] of Object.entries(configSize(snapshots()))) this.set({ type }, pick(size));
      },
    });
  gauge(
    'polaris_xds_config_bytes',
    'Encoded size of the largest set of a type served to one node group (sum of its resources), by type.',
    (s) => s.bytes,
  );
  gauge(
    'polaris_xds_config_resources',
    'Resources in the largest set of a type served to one node group, by type.',
    (s) => s.resources,
  );
}
