// Reporting what the translator leaves out (invariant 7): each new skip reason is logged once, and
// the current ones are counted by kind in a gauge. This is the translator's I/O edge; the
// translation itself stays pure.
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from '../../log.js';
import type { Translator } from './index.js';
import type { SkipReason } from './skip.js';

/** Above this many remembered reasons the memory is cleared (reasons then may be logged again). */
const MAX_REMEMBERED = 100_000;

export interface SkipReporterOptions {
  readonly logger: Logger;
  readonly registry: Registry;
  /** The skip reasons of every live node group, deduplicated (`SnapshotCache.skipped()`). */
  readonly current: () => readonly unknown[];
}

/**
 * skipReporter registers the gauge `polaris_xds_rules_skipped{kind}` (the current skip reasons by
 * kind, counted at scrape time) and returns a function that logs, once each, the reasons it has
 * not seen before.
 */
export function skipReporter(opts: SkipReporterOptions): (skipped: readonly SkipReason[]) => void {
  new Gauge({
    name: 'polaris_xds_rules_skipped',
    help:
      'What the translator currently leaves out of served configuration (see /debug/skipped), by kind: rule, ' +
      'destination, endpoint, domain, circuit-breaker, fault-detector, rate-limit.',
    labelNames: ['kind'],
    registers: [opts.registry],
    collect() {
      this.reset();
      for (const s of opts.current() as SkipReason[]) this.inc({ kind: s.kind });
    },
  });
  let logged = new Set<string>();
  // A group's list is the same array while its reasons are the same: a rebuild of a thousand
  // groups then checks a thousand arrays, not every reason of each.
  const seen = new WeakSet<readonly SkipReason[]>();
  return (skipped) => {
    if (skipped.length === 0 || seen.has(skipped)) return;
    seen.add(skipped);
    for (const s of skipped) {
      const key = `${s.kind}\0${s.path}\0${s.reason}`;
      if (logged.has(key)) continue;
      if (logged.size >= MAX_REMEMBERED) logged = new Set();
      logged.add(key);
      opts.logger.warn({ kind: s.kind, path: s.path, reason: s.reason }, 'left out of the Envoy configuration');
    }
  };
}

/** reportingTranslator wraps a translator so that every translation's skip reasons go to `report`. */
export function reportingTranslator(inner: Translator, report: (skipped: readonly SkipReason[]) => void): Translator {
  return {
    nodeView: (node) => inner.nodeView(node),
    translate: (mesh, view) => {
      const t = inner.translate(mesh, view);
      report(t.skipped);
      return t;
    },
  };
}
