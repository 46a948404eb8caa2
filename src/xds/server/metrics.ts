// Prometheus metrics of the xDS server, registered on the registry it is given. A metric already
// on that registry (a second server in the same process) is reused, not registered twice.
// The figures of every request, push and ACK are tallied in plain arrays (counts here, histogram
// observations in HeldObservations) and handed to prom-client when it collects (on each scrape): a
// push to thousands of streams then costs array writes, not a label hash per metric per stream
// (about 3 of the ~20 µs a stream's push and ACK cost the bridge).
import { Counter, Gauge, Histogram, Registry, type Metric } from 'prom-client';
import { HeldObservations } from '../../metrics.js';
import { PUSH_ORDER, SHORT_NAMES, type TypeUrl } from '../resource.js';
import type { StreamMode } from './protocol.js';

function reuse<M extends Metric>(registry: Registry, name: string, make: () => M): M {
  return (registry.getSingleMetric(name) as M | undefined) ?? make();
}

const MODES: readonly StreamMode[] = ['sotw', 'delta'];
// Slot of a (type, mode) pair in the tallies, with the label sets its counters and histograms use.
const SLOTS = PUSH_ORDER.flatMap((type) =>
  MODES.map((mode) => ({ labels: { type: SHORT_NAMES[type], mode }, typeLabels: { type: SHORT_NAMES[type] } })),
);
const slotOf = (type: TypeUrl, mode: StreamMode): number =>
  PUSH_ORDER.indexOf(type) * MODES.length + (mode === 'delta' ? 1 : 0);
const TYPE_LABELS = SLOTS.map((s) => s.typeLabels);

// The tallies of every XdsMetrics on a registry, flushed by whichever of their metrics is collected first.
const talliesOf = new WeakMap<Registry, Set<XdsMetrics>>();
function flushAll(registry: Registry): void {
  for (const m of talliesOf.get(registry) ?? []) m.flush();
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
  private readonly exhausted: Counter<'limit'>;
  private readonly pending: Gauge;
  private readonly ackSeconds: Histogram<'type'>;
  private readonly pushSeconds: Histogram<'type'>;
  private readonly responseSize: Histogram<'type'>;

  // Tallies since the last flush: counts by slot, and histogram observations by slot.
  private readonly requestCounts = new Float64Array(SLOTS.length);
  private readonly pushCounts = new Float64Array(SLOTS.length);
  private readonly pushBytes = new Float64Array(SLOTS.length);
  private readonly heldSizes: HeldObservations<'type'>;
  private readonly heldPushSeconds: HeldObservations<'type'>;
  private readonly heldAckSeconds: HeldObservations<'type'>;

  constructor(private readonly registry: Registry = new Registry()) {
    const registers = [registry];
    let mine = talliesOf.get(registry);
    if (!mine) talliesOf.set(registry, (mine = new Set()));
    mine.add(this);
    const collect = () => flushAll(registry);
    this.streams = reuse(
      registry,
      'polaris_xds_connected_streams',
      () =>
        new Gauge({
          name: 'polaris_xds_connected_streams',
          help: 'Open ADS streams by protocol variant.',
          labelNames: ['mode'],
          registers,
        }),
    );
    this.requests = reuse(
      registry,
      'polaris_xds_requests_total',
      () =>
        new Counter({
          name: 'polaris_xds_requests_total',
          help: 'Well-formed xDS requests received, by type.',
          labelNames: ['type', 'mode'],
          registers,
          collect,
        }),
    );
    this.pushes = reuse(
      registry,
      'polaris_xds_pushes_total',
      () =>
        new Counter({
          name: 'polaris_xds_pushes_total',
          help: 'xDS responses written, by type.',
          labelNames: ['type', 'mode'],
          registers,
          collect,
        }),
    );
    this.bytes = reuse(
      registry,
      'polaris_xds_response_bytes_total',
      () =>
        new Counter({
          name: 'polaris_xds_response_bytes_total',
          help: 'Bytes of xDS responses written, by type.',
          labelNames: ['type', 'mode'],
          registers,
          collect,
        }),
    );
    this.nacks = reuse(
      registry,
      'polaris_xds_nacks_total',
      () =>
        new Counter({
          name: 'polaris_xds_nacks_total',
          help: 'Responses rejected by clients (error_detail set), by type.',
          labelNames: ['type', 'mode'],
          registers,
        }),
    );
    this.suppressed = reuse(
      registry,
      'polaris_xds_nack_resends_suppressed_total',
      () =>
        new Counter({
          name: 'polaris_xds_nack_resends_suppressed_total',
          help: 'Responses not sent because the client rejected that version before.',
          labelNames: ['type', 'mode'],
          registers,
        }),
    );
    this.expired = reuse(
      registry,
      'polaris_xds_expired_nonces_total',
      () =>
        new Counter({
          name: 'polaris_xds_expired_nonces_total',
          help: 'Requests carrying a nonce no longer current (SotW: ignored).',
          labelNames: ['mode'],
          registers,
        }),
    );
    this.streamErrors = reuse(
      registry,
      'polaris_xds_stream_errors_total',
      () =>
        new Counter({
          name: 'polaris_xds_stream_errors_total',
          help: 'Streams the server ended with an error status, by catalogue code.',
          labelNames: ['code'],
          registers,
        }),
    );
    this.exhausted = reuse(
      registry,
      'polaris_xds_streams_exhausted_total',
      () =>
        new Counter({
          name: 'polaris_xds_streams_exhausted_total',
          help:
            'Streams ended with RESOURCE_EXHAUSTED because their client did not read: over the per-stream or the ' +
            'total budget of unflushed response bytes, or stalled for xds.maxStallMs.',
          labelNames: ['limit'],
          registers,
        }),
    );
    this.pending = reuse(
      registry,
      'polaris_xds_unflushed_response_bytes',
      () =>
        new Gauge({
          name: 'polaris_xds_unflushed_response_bytes',
          help: 'Response bytes written to streams and not yet flushed to their clients.',
          registers,
        }),
    );
    this.ackSeconds = reuse(
      registry,
      'polaris_xds_ack_latency_seconds',
      () =>
        new Histogram({
          name: 'polaris_xds_ack_latency_seconds',
          help: 'Time from writing a response to its ACK or NACK.',
          labelNames: ['type'],
          buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 15],
          registers,
          collect,
        }),
    );
    // Buckets follow Istio's config-size ones: 4 MiB is gRPC's default receive limit (grpc-js clients too).
    this.responseSize = reuse(
      registry,
      'polaris_xds_response_size_bytes',
      () =>
        new Histogram({
          name: 'polaris_xds_response_size_bytes',
          help: 'Size of each xDS response written, by type.',
          labelNames: ['type'],
          buckets: [1_000, 10_000, 100_000, 1_000_000, 4_194_304, 10_000_000, 40_000_000],
          registers,
          collect,
        }),
    );
    this.pushSeconds = reuse(
      registry,
      'polaris_xds_push_seconds',
      () =>
        new Histogram({
          name: 'polaris_xds_push_seconds',
          help: 'Time from a response becoming due (request or snapshot) to its write, queueing included.',
          labelNames: ['type'],
          buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
          registers,
          collect,
        }),
    );
    this.heldSizes = new HeldObservations(this.responseSize, TYPE_LABELS);
    this.heldPushSeconds = new HeldObservations(this.pushSeconds, TYPE_LABELS);
    this.heldAckSeconds = new HeldObservations(this.ackSeconds, TYPE_LABELS);
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

  streamExhausted(limit: 'stream' | 'total' | 'stalled'): void {
    this.exhausted.inc({ limit });
  }

  unflushedBytes(bytes: number): void {
    this.pending.set(bytes);
  }

  request(type: TypeUrl, mode: StreamMode): void {
    this.requestCounts[slotOf(type, mode)]!++;
  }

  pushed(type: TypeUrl, mode: StreamMode, bytes: number, seconds: number): void {
    const slot = slotOf(type, mode);
    this.pushCounts[slot]!++;
    this.pushBytes[slot]! += bytes;
    this.heldSizes.observe(slot, bytes);
    this.heldPushSeconds.observe(slot, seconds);
  }

  answered(type: TypeUrl, mode: StreamMode, nack: boolean, seconds: number): void {
    this.heldAckSeconds.observe(slotOf(type, mode), seconds);
    if (nack) this.nacks.inc({ type: SHORT_NAMES[type], mode });
  }

  /** flush hands the tallies to prom-client; its metrics call it when they are collected. */
  flush(): void {
    for (let slot = 0; slot < SLOTS.length; slot++) {
      const { labels } = SLOTS[slot]!;
      if (this.requestCounts[slot]) this.requests.inc(labels, this.requestCounts[slot]);
      if (this.pushCounts[slot]) this.pushes.inc(labels, this.pushCounts[slot]);
      if (this.pushBytes[slot]) this.bytes.inc(labels, this.pushBytes[slot]);
    }
    this.requestCounts.fill(0);
    this.pushCounts.fill(0);
    this.pushBytes.fill(0);
    this.heldSizes.flush();
    this.heldPushSeconds.flush();
    this.heldAckSeconds.flush();
  }

  /** release hands over what is held and stops being flushed with the registry's metrics (the server stopped). */
  release(): void {
    this.flush();
    talliesOf.get(this.registry)?.delete(this);
  }

  resendSuppressed(type: TypeUrl, mode: StreamMode): void {
    this.suppressed.inc({ type: SHORT_NAMES[type], mode });
  }

  expiredNonce(mode: StreamMode): void {
    this.expired.inc({ mode });
  }
}
