// gRPC wiring of envoy.service.discovery.v3.AggregatedDiscoveryService: a hand-written service
// definition (requests decoded with ts-proto, responses passed through as the bytes the streams
// spliced) and the server that hosts it. No protocol logic lives here.
import { readFileSync } from 'node:fs';
import { constants as http2 } from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import { xdsError } from '../../errors.js';
import { DeltaDiscoveryRequest, DiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';
import { silentLogger, type Logger } from '../../log.js';
import { RequestDecoder, type SotwRequest } from './decode.js';
import { delta } from './delta.js';
import { HookRunner, type XdsHooks } from './hooks.js';
import { SharedResponses } from './shared-responses.js';
import { XdsMetrics } from './metrics.js';
import { DEFAULT_LIMITS, grpcServerOptions, type GrpcServerConfig, type XdsLimits } from './options.js';
import { decodeOrFailure, type DecodeFailure, type Protocol } from './protocol.js';
import { PendingBudget } from './pending-budget.js';
import { encodeControlPlane, ResourceSections } from './response.js';
import { sotw } from './sotw.js';
import { TypeSetViews } from './stream-state.js';
import { sortStatuses, type NodeStatus } from './status.js';
import { WakeIndex } from './wake-index.js';
import { AdsStream, type AdsCall, type StreamContext } from './stream.js';
import type { ConfigWatcher } from './watcher.js';

export const ADS_SERVICE = 'envoy.service.discovery.v3.AggregatedDiscoveryService';

const passThrough = (bytes: Buffer): Buffer => bytes;

/**
 * adsServiceDefinition is the ADS service for grpc.Server#addService, decoding requests with one
 * server's decoder. Request deserializers return a DecodeFailure instead of throwing; the response
 * serializer passes the Buffer a stream wrote straight through (responses are spliced from bytes
 * encoded once, invariant 3).
 */
export const adsServiceDefinition = (decoder: RequestDecoder) =>
  ({
    StreamAggregatedResources: {
      path: `/${ADS_SERVICE}/StreamAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (req: DiscoveryRequest): Buffer => Buffer.from(DiscoveryRequest.encode(req).finish()),
      requestDeserialize: decodeOrFailure((b) => decoder.sotw(b)),
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
      originalName: 'streamAggregatedResources',
    },
    DeltaAggregatedResources: {
      path: `/${ADS_SERVICE}/DeltaAggregatedResources`,
      requestStream: true,
      responseStream: true,
      requestSerialize: (req: DeltaDiscoveryRequest): Buffer => Buffer.from(DeltaDiscoveryRequest.encode(req).finish()),
      requestDeserialize: decodeOrFailure((b) => decoder.delta(b)),
      responseSerialize: passThrough,
      responseDeserialize: passThrough,
      originalName: 'deltaAggregatedResources',
    },
  }) satisfies grpc.ServiceDefinition;

/** AdsOptions configure the ADS service. Only `watcher` is required. */
export interface AdsOptions {
  /** Where snapshots come from; the server knows nothing else about the mesh. */
  readonly watcher: ConfigWatcher;
  readonly logger?: Logger;
  /** prom-client registry for `polaris_xds_*` metrics; a private one when absent. */
  readonly registry?: Registry;
  readonly hooks?: XdsHooks;
  readonly limits?: Partial<XdsLimits>;
  /** Sent as `control_plane.identifier` in every response (Envoy shows it as a stat). */
  readonly controlPlaneId?: string;
}

/** AdsService is the running service: a read-only status view and stream control. */
export interface AdsService {
  /** status lists every open stream (one row per stream, sorted by node id) for /debug/syncz. */
  status(): NodeStatus[];
  /** streamCount is the number of open streams. */
  streamCount(): number;
  /** closeAll ends every open stream with UNAVAILABLE (PXDS_ERR_XDS_SHUTDOWN) so clients reconnect. */
  closeAll(reason: string): void;
  /** release hands the last metric tallies to the registry and detaches from it; for a service that is done. */
  release(): void;
}

/** AdsHandlers are the stream handlers behind the service, usable with any AdsCall (tests). */
export interface AdsHandlers extends AdsService {
  sotw(call: AdsCall): void;
  delta(call: AdsCall): void;
  /** The service definition whose deserializers use this server's decoder. */
  readonly definition: ReturnType<typeof adsServiceDefinition>;
  /** The request decoder, which owns the cache of shared name lists. */
  readonly decoder: RequestDecoder;
}

/** createAdsHandlers builds the per-server context and the two stream handlers. */
export function createAdsHandlers(opts: AdsOptions): AdsHandlers {
  const logger = opts.logger ?? silentLogger();
  const streams = new Map<number, AdsStream<unknown>>();
  const limits: XdsLimits = Object.freeze({ ...DEFAULT_LIMITS, ...definedOnly(opts.limits ?? {}) });
  const metrics = new XdsMetrics(opts.registry);
  const decoder = new RequestDecoder(limits);
  let lastStreamId = 0;
  const views = new TypeSetViews();
  const ctx: StreamContext = {
    watcher: opts.watcher,
    logger,
    metrics,
    hooks: new HookRunner(opts.hooks, logger),
    limits,
    controlPlane: opts.controlPlaneId ? encodeControlPlane(opts.controlPlaneId) : undefined,
    responses: new SharedResponses(),
    sections: new ResourceSections(),
    nameLists: decoder,
    views,
    wakes: new WakeIndex(views),
    budget: new PendingBudget(limits.maxPendingBytesPerStream, limits.maxPendingBytes, (bytes) =>
      metrics.unflushedBytes(bytes),
    ),
    nextStreamId: () => ++lastStreamId,
    now: Date.now,
    onClosed: (s) => void streams.delete(s.id),
  };
  const open = <Req>(call: AdsCall, protocol: Protocol<Req>): void => {
    const stream = new AdsStream<Req>(call, protocol, ctx);
    streams.set(stream.id, stream as AdsStream<unknown>);
    stream.start();
  };
  return {
    definition: adsServiceDefinition(decoder),
    decoder,
    sotw: (call) => open(call, sotw),
    delta: (call) => open(call, delta),
    status: () => sortStatuses([...streams.values()].map((s) => s.status())),
    streamCount: () => streams.size,
    closeAll: (reason) => {
      const err = xdsError('PXDS_ERR_XDS_SHUTDOWN', reason);
      for (const s of [...streams.values()]) s.close({ code: err.grpcStatus, details: `${err.code}: ${err.message}` });
    },
    release: () => ctx.metrics.release(),
  };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** registerAds adds the ADS service (SotW and Delta) to an existing grpc-js server. */
export function registerAds(server: grpc.Server, opts: AdsOptions): AdsService {
  const h = createAdsHandlers(opts);
  server.addService(h.definition, {
    StreamAggregatedResources: (call: grpc.ServerDuplexStream<SotwRequest | DecodeFailure, Buffer>) =>
      h.sotw(abortable(call)),
    DeltaAggregatedResources: (call: grpc.ServerDuplexStream<DeltaDiscoveryRequest | DecodeFailure, Buffer>) =>
      h.delta(abortable(call)),
  });
  return { status: h.status, streamCount: h.streamCount, closeAll: h.closeAll, release: h.release };
}

/**
 * abortable gives a grpc-js call the `abort` a stream uses to end a client that does not read:
 * the call's HTTP/2 stream is reset with ENHANCE_YOUR_CALM, which gRPC clients (Envoy, grpc-js)
 * report as RESOURCE_EXHAUSTED, and its unflushed writes are dropped. grpc-js offers no public way
 * to end a call without flushing first, so this reaches its HTTP/2 stream (a unit test against the
 * pinned grpc-js checks it); without one the status is sent the ordinary way.
 */
function abortable<T extends AdsCall>(call: T): T & Required<Pick<AdsCall, 'abort'>> {
  const h2 = (call as { call?: { stream?: { close?: (code: number) => void; destroyed?: boolean } } }).call?.stream;
  const abort = (details: string): void => {
    if (h2 && typeof h2.close === 'function') {
      if (!h2.destroyed) h2.close(http2.NGHTTP2_ENHANCE_YOUR_CALM);
    } else {
      call.emit('error', { code: grpc.status.RESOURCE_EXHAUSTED, details });
    }
  };
  return Object.assign(call, { abort });
}

/** XdsServerConfig is the `xds` configuration section as far as the server reads it. */
export interface XdsServerConfig extends GrpcServerConfig {
  readonly maxResourceNames?: number;
  readonly maxNameLength?: number;
  readonly maxPendingBytesPerStream?: number;
  readonly maxPendingBytes?: number;
  readonly maxNameListCacheBytes?: number;
  readonly maxStallMs?: number;
  /** PEM file paths; with clientCa, clients must present a certificate it signed (mTLS). */
  readonly tls?: { readonly cert: string; readonly key: string; readonly clientCa?: string };
}

/** XdsServerOptions are AdsOptions plus where to listen. */
export interface XdsServerOptions extends AdsOptions {
  /** Default 0.0.0.0. */
  readonly host?: string;
  /** Default 15010; 0 picks a free port. */
  readonly port?: number;
  readonly config?: XdsServerConfig;
  /** Overrides config.tls; default insecure. */
  readonly credentials?: grpc.ServerCredentials;
  /** Adds other services (e.g. gRPC health) before the port opens, so no call finds them missing. */
  readonly services?: (server: grpc.Server) => void;
}

/** XdsServer is a bound gRPC server serving ADS. */
export interface XdsServer extends AdsService {
  readonly port: number;
  readonly server: grpc.Server;
  /** stop ends every stream (clients reconnect elsewhere), then shuts down, forcing after `drainMs`. */
  stop(drainMs?: number): Promise<void>;
}

function credentialsFor(cfg: XdsServerConfig | undefined): grpc.ServerCredentials {
  const tls = cfg?.tls;
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const ca = tls.clientCa ? readFileSync(tls.clientCa) : null;
  return grpc.ServerCredentials.createSsl(
    ca,
    [{ cert_chain: readFileSync(tls.cert), private_key: readFileSync(tls.key) }],
    ca !== null,
  );
}

/** createXdsServer starts a gRPC server with ADS on host:port and resolves once it is bound. */
export async function createXdsServer(opts: XdsServerOptions): Promise<XdsServer> {
  const cfg = opts.config ?? {};
  const server = new grpc.Server(grpcServerOptions(cfg));
  const fromConfig: Partial<XdsLimits> = {
    maxResourceNames: cfg.maxResourceNames,
    maxNameLength: cfg.maxNameLength,
    maxPendingBytesPerStream: cfg.maxPendingBytesPerStream,
    maxPendingBytes: cfg.maxPendingBytes,
    maxNameListCacheBytes: cfg.maxNameListCacheBytes,
    maxStallMs: cfg.maxStallMs,
  };
  const limits = { ...definedOnly(fromConfig), ...opts.limits };
  const ads = registerAds(server, { ...opts, limits });
  opts.services?.(server);
  const host = opts.host ?? '0.0.0.0';
  const address = `${host.includes(':') ? `[${host}]` : host}:${opts.port ?? 15010}`;
  const credentials = opts.credentials ?? credentialsFor(cfg);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, credentials, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  return {
    ...ads,
    port,
    server,
    stop: async (drainMs = 5000) => {
      // Stop accepting first, then end the streams so their clients reconnect elsewhere.
      const drained = new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, drainMs);
        timer.unref();
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
      ads.closeAll('stopping');
      await drained;
      ads.release();
    },
  };
}
