// Server-wide settings: stream limits and the grpc-js server options for keepalive and connection
// age (so long-lived ADS streams rebalance across replicas).
import type { ChannelOptions } from '@grpc/grpc-js';

/** XdsLimits bound what one stream may ask for and hold. */
export interface XdsLimits {
  /** Longest name list one request may carry, and most names one type may be subscribed to. */
  readonly maxResourceNames: number;
  /** Longest resource name (and Delta initial version) accepted, in characters. */
  readonly maxNameLength: number;
  /** Responses written but not yet flushed before a stream stops writing and coalesces. */
  readonly maxInFlightResponses: number;
  /**
   * Longest time make-before-break holds anything back: clusters dropped from a snapshot stay
   * with a client whose listeners and routes have not been ACKed, and listeners and routes wait
   * for the endpoints of new clusters, at most this long.
   */
  readonly retainRemovedMs: number;
  /**
   * Response bytes one stream may have written but not yet flushed to its client; a stream that
   * would go over ends with RESOURCE_EXHAUSTED. A stream with nothing unflushed may always write
   * one response, however large.
   */
  readonly maxPendingBytesPerStream: number;
  /**
   * Unflushed response bytes of all streams together. A write that would go over ends the streams that have
   * flushed nothing for 5 s (oldest first, as many as needed), else waits for flushes (pending-budget.ts).
   */
  readonly maxPendingBytes: number;
  /** Bytes of decoded SotW resource-name lists kept for reuse (lists no open stream holds are dropped). */
  readonly maxNameListCacheBytes: number;
  /** A stream whose oldest unflushed response has waited this long (its client reads nothing) ends; 0 never. */
  readonly maxStallMs: number;
}

const MiB = 1024 * 1024;

/**
 * DEFAULT_LIMITS are the limits of a server given none, and the defaults of the `xds.*` keys of
 * the same names (src/config/schema.ts). Sized for the Helm chart's pod (512 MiB, of which 384 MiB
 * V8 heap): unflushed responses live outside the heap, in the rest. 100,000 names: Envoy's SotW
 * EDS subscription names every cluster it has, more than 10,000 in a 10,000-service mesh with
 * routing rules, while a request carrying them is still bounded by xds.maxReceiveMessageBytes
 * (docs/security.md).
 */
export const DEFAULT_LIMITS: XdsLimits = Object.freeze({
  maxResourceNames: 100_000,
  maxNameLength: 4096,
  maxInFlightResponses: 8,
  retainRemovedMs: 30_000,
  maxPendingBytesPerStream: 32 * MiB,
  maxPendingBytes: 96 * MiB,
  maxNameListCacheBytes: 32 * MiB,
  maxStallMs: 60_000,
});

/** GrpcServerConfig is the part of the `xds` configuration that becomes grpc-js server options. */
export interface GrpcServerConfig {
  /** Server HTTP/2 keepalive ping interval; 0 or absent leaves grpc-js's default (off). */
  readonly keepaliveTimeMs?: number;
  readonly keepaliveTimeoutMs?: number;
  /** Close connections after this age so clients reconnect elsewhere; 0 or absent disables. */
  readonly maxConnectionAgeMs?: number;
  readonly maxConnectionAgeGraceMs?: number;
  /** Largest request accepted; grpc-js defaults to 4 MiB. */
  readonly maxReceiveMessageBytes?: number;
  /** HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS: streams one connection may open; absent leaves it unlimited. */
  readonly maxConcurrentStreamsPerConnection?: number;
  /** Close connections with no open stream for this long; 0 or absent disables. */
  readonly maxConnectionIdleMs?: number;
}

/**
 * grpcServerOptions maps GrpcServerConfig to grpc-js server options, channelz off. grpc-js itself spreads
 * `grpc.max_connection_age_ms` by ±10% jitter, so replicas do not reconnect their clients in step.
 */
export function grpcServerOptions(cfg: GrpcServerConfig): ChannelOptions {
  // No channelz service is served, so its bookkeeping (a registry entry per connection, counters
  // and a clock read per message) is only cost: about 5 % of the server's CPU in an ACK storm.
  const opts: ChannelOptions = { 'grpc.enable_channelz': 0 };
  if (cfg.keepaliveTimeMs) opts['grpc.keepalive_time_ms'] = cfg.keepaliveTimeMs;
  if (cfg.keepaliveTimeoutMs) opts['grpc.keepalive_timeout_ms'] = cfg.keepaliveTimeoutMs;
  if (cfg.maxConnectionAgeMs) {
    opts['grpc.max_connection_age_ms'] = cfg.maxConnectionAgeMs;
    if (cfg.maxConnectionAgeGraceMs) opts['grpc.max_connection_age_grace_ms'] = cfg.maxConnectionAgeGraceMs;
  }
  if (cfg.maxReceiveMessageBytes) opts['grpc.max_receive_message_length'] = cfg.maxReceiveMessageBytes;
  if (cfg.maxConcurrentStreamsPerConnection)
    opts['grpc.max_concurrent_streams'] = cfg.maxConcurrentStreamsPerConnection;
  if (cfg.maxConnectionIdleMs) opts['grpc.max_connection_idle_ms'] = cfg.maxConnectionIdleMs;
  return opts;
}
