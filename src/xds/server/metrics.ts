// Prometheus metrics of the xDS server, registered on the registry it is given. A metric already
// on that registry (a second server in the same process) is reused, not registered twice.
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { SHORT_NAMES, type TypeUrl } from '../resource.js';
import type { StreamMode } from './protocol.js';

function reuse<M extends Metric>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

/** XdsMetrics owns the `polaris_xds_*` metrics of the server. */
export class XdsMetrics {
  private readonly streams: Gauge<'mode'>;
  private readonly requests: Counter<'type' | 'mode'>;
  private readonly pushes: Counter<'type' | 'mode'>;
  private readonly bytes: Counter<'type' | 'mode'>;
  private readonly nacks: Counter<'type' | 'mode'>;
  private readonly suppressed: Counter<'type' | 'mode'>;
  private readonly expired: Counter<'mode'>;
  private readonly streamErrors: Counter<'code'>;
  private readonly ackSeconds: Histogram<'type'>;
  private readonly pushSeconds: Histogram<'type'>;
  private readonly responseSize: Histogram<'type'>;

  constructor(registry: Registry = new Registry()) {
    const registers = [registry];
    this.streams = reuse(registry, 'polaris_xds_connected_streams', () => new Gauge({ name: 'polaris_xds_connected_streams', help: 'Open ADS streams by protocol variant.', labelNames: ['mode'], registers }));
    this.requests = reuse(registry, 'polaris_xds_requests_total', () => new Counter({ name: 'polaris_xds_requests_total', help: 'Well-formed xDS requests received, by type.', labelNames: ['type', 'mode'], registers }));
    this.pushes = reuse(registry, 'polaris_xds_pushes_total', () => new Counter({ name: 'polaris_xds_pushes_total', help: 'xDS responses written, by type.', labelNames: ['type', 'mode'], registers }));
    this.bytes = reuse(registry, 'polaris_xds_response_bytes_total', () => new Counter({ name: 'polaris_xds_response_bytes_total', help: 'Bytes of xDS responses written, by type.', labelNames: ['type', 'mode'], registers }));
    this.nacks = reuse(registry, 'polaris_xds_nacks_total', () => new Counter({ name: 'polaris_xds_nacks_total', help: 'Responses rejected by clients (error_detail set), by type.', labelNames: ['type', 'mode'], registers }));
    this.suppressed = reuse(registry, 'polaris_xds_nack_resends_suppressed_total', () => new Counter({ name: 'polaris_xds_nack_resends_suppressed_total', help: 'Responses not sent because the client rejected that version before.', labelNames: ['type', 'mode'], registers }));
    this.expired = reuse(registry, 'polaris_xds_expired_nonces_total', () => new Counter({ name: 'polaris_xds_expired_nonces_total', help: 'Requests carrying a nonce no longer current (SotW: ignored).', labelNames: ['mode'], registers }));
    this.streamErrors = reuse(registry, 'polaris_xds_stream_errors_total', () => new Counter({ name: 'polaris_xds_stream_errors_total', help: 'Streams the server ended with an error status, by catalogue code.', labelNames: ['code'], registers }));
    this.ackSeconds = reuse(registry, 'polaris_xds_ack_latency_seconds', () => new Histogram({ name: 'polaris_xds_ack_latency_seconds', help: 'Time from writing a response to its ACK or NACK.', labelNames: ['type'], buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15], registers }));
    // Buckets follow Istio's config-size ones: 4 MiB is gRPC's default receive limit (grpc-js clients too).
    this.responseSize = reuse(registry, 'polaris_xds_response_size_bytes', () => new Histogram({ name: 'polaris_xds_response_size_bytes', help: 'Size of each xDS response written, by type.', labelNames: ['type'], buckets: [1_000, 10_000, 100_000, 1_000_000, 4_194_304, 10_000_000, 40_000_000], registers }));
    this.pushSeconds = reuse(registry, 'polaris_xds_push_seconds', () => new Histogram({ name: 'polaris_xds_push_seconds', help: 'Time from a response becoming due (request or snapshot) to its write, queueing included.', labelNames: ['type'], buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers }));
  }

  streamOpened(mode: StreamMode): void {
    this.streams.inc({ mode });
  }

  streamClosed(mode: StreamMode): void {
    this.streams.dec({ mode });
  }

  streamError(code: string): void {
    this.streamErrors.inc({ code });
  }

  request(type: TypeUrl, mode: StreamMode): void {
    this.requests.inc({ type: SHORT_NAMES[type], mode });
  }

  pushed(type: TypeUrl, mode: StreamMode, bytes: number, seconds: number): void {
    const t = SHORT_NAMES[type];
    this.pushes.inc({ type: t, mode });
    this.bytes.inc({ type: t, mode }, bytes);
    this.responseSize.observe({ type: t }, bytes);
    this.pushSeconds.observe({ type: t }, seconds);
  }

  answered(type: TypeUrl, mode: StreamMode, nack: boolean, seconds: number): void {
    const t = SHORT_NAMES[type];
    this.ackSeconds.observe({ type: t }, seconds);
    if (nack) this.nacks.inc({ type: t, mode });
  }

  resendSuppressed(type: TypeUrl, mode: StreamMode): void {
    this.suppressed.inc({ type: SHORT_NAMES[type], mode });
  }

  expiredNonce(mode: StreamMode): void {
    this.expired.inc({ mode });
  }
}
