// The process's Prometheus registry. Each component registers its own metrics on the registry it
// is given, so tests can use a fresh one.
import { collectDefaultMetrics, Registry } from 'prom-client';

/** createRegistry returns a registry with Node's default process metrics, prefixed `polaris_xds_`. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'polaris_xds_' });
  return registry;
}
