// Prometheus metrics of the Polaris syncer, all named polaris_xds_sync_*.
import { Counter, Gauge, Registry } from 'prom-client';

/** SyncMetrics are registered on the given registry (a private one when none is given). */
export class SyncMetrics {
  readonly requests: Counter<'type' | 'code'>;
  readonly errors: Counter<'kind'>;
  readonly lastSuccess: Gauge;
  readonly services: Gauge;
  readonly instances: Gauge;
  readonly skipped: Counter<'kind'>;
  readonly connected: Gauge;

  constructor(registry: Registry = new Registry()) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'polaris_xds_sync_requests_total',
      help: 'Discover answers from Polaris, by request type and Polaris code',
      labelNames: ['type', 'code'],
      registers,
    });
    this.errors = new Counter({
      name: 'polaris_xds_sync_errors_total',
      help: 'Sync failures by kind: stream (dropped, silent or unreachable), answer (error code), malformed',
      labelNames: ['kind'],
      registers,
    });
    this.lastSuccess = new Gauge({
      name: 'polaris_xds_sync_last_success_timestamp_seconds',
      help: 'Unix time of the last successful Discover answer',
      registers,
    });
    this.services = new Gauge({
      name: 'polaris_xds_sync_services',
      help: 'Services in the published mesh state',
      registers,
    });
    this.instances = new Gauge({
      name: 'polaris_xds_sync_instances',
      help: 'Instances in the published mesh state',
      registers,
    });
    this.skipped = new Counter({
      name: 'polaris_xds_sync_skipped_rules_total',
      help:
        'Malformed entries left out of the mesh state, by kind (instance, rule, circuit-breaker, fault-detector, ' +
        'rate-limit)',
      labelNames: ['kind'],
      registers,
    });
    this.connected = new Gauge({
      name: 'polaris_xds_sync_connected',
      help: '1 while a Discover stream to Polaris is answering',
      registers,
    });
  }
}
