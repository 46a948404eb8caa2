// The process's Prometheus registry. Each component registers its own metrics on the registry it
// is given, so tests can use a fresh one.
import { collectDefaultMetrics, Registry, type Histogram, type LabelValues } from 'prom-client';

/** createRegistry returns a registry with Node's default process metrics, prefixed `polaris_xds_`. */
export function createRegistry(): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'polaris_xds_' });
  return registry;
}

// Observations held back at most this many per histogram before they are handed over anyway.
const MAX_HELD = 8192;

/**
 * HeldObservations holds a histogram's observations as (label set, value) pairs and hands them to
 * prom-client in one pass, when it collects or when many are held: a push or an ACK storm across
 * thousands of streams then costs array writes, not a label hash per observation.
 */
export class HeldObservations<L extends string> {
  private readonly held: number[] = [];

  /** `labelSets` are the label sets observations can have, named by their index. */
  constructor(
    private readonly histogram: Histogram<L>,
    private readonly labelSets: ReadonlyArray<LabelValues<L>>,
  ) {}

  observe(labelSet: number, value: number): void {
    if (this.held.push(labelSet, value) >= 2 * MAX_HELD) this.flush();
  }

  flush(): void {
    const held = this.held;
    for (let i = 0; i < held.length; i += 2) this.histogram.observe(this.labelSets[held[i]!]!, held[i + 1]!);
    held.length = 0;
  }
}
