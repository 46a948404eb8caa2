// The Polaris MeshSource: polls Polaris over one Discover stream (serverconnector), keeps the last
// good answer of every key (cache), publishes coalesced MeshStates, persists them to disk, and at
// start-up serves the disk copy when Polaris does not answer in time. Failures never remove data.
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { DiscoverResponse } from '../gen/v1/discover.js';
import { PolarisXdsError } from '../errors.js';
import { compareKeys, type MeshState, type ServiceRef } from '../model/mesh.js';
import { MeshCache, type ApplyResult } from './cache.js';
import type { SkippedItem } from './convert.js';
import { discoverRequest, keyId, serviceKeys, servicesKeys, type DiscoverKey, type KeyType } from './keys.js';
import { SyncMetrics } from './metrics.js';
import { DiskCache, type LoadedCache } from './persist.js';
import { Poller, type PollOutcome } from './poller.js';
import { Publisher } from './publisher.js';
import type { BackoffOptions } from './serverconnector/backoff.js';
import { DiscoverConnector, StreamFailure, type ConnectionStatus } from './serverconnector/connector.js';
import type { PolarisTls } from './serverconnector/credentials.js';
import type { MeshSource, SourceStatus } from './source.js';

export interface PolarisSourceOptions {
  /** `host:port` of Polaris service-grpc listeners (default port 8091), tried in order. */
  readonly addresses: readonly string[];
  /** Namespaces to sync; empty means all. */
  readonly namespaces: readonly string[];
  /** Sent as gRPC metadata `x-polaris-token`; never logged. */
  readonly token?: string;
  readonly tls?: PolarisTls;
  /** Where the last state is persisted; no persistence without it. */
  readonly cacheDir?: string;
  /** Re-poll interval per key after an answer (default 1000). */
  readonly pollIntervalMs?: number;
  /** Random extra per re-poll, up to this (default: pollIntervalMs). */
  readonly pollJitterMs?: number;
  /** A stream with requests pending and no answer for this long is dropped (default 3000). */
  readonly requestTimeoutMs?: number;
  /** How long start-up waits for a first full sync before serving the disk cache (default 1000). */
  readonly startupWaitMs?: number;
  /** Bound on requests in flight on the stream (default 1024). */
  readonly maxInFlight?: number;
  /** grpc max receive message size (default 64 MiB). */
  readonly maxReceiveMessageBytes?: number;
  /** Changes within this window are published as one state (default 50). */
  readonly publishDelayMs?: number;
  readonly backoff?: Partial<BackoffOptions>;
  readonly logger: Logger;
  readonly registry?: Registry;
  /** Wall clock in epoch milliseconds (default Date.now): answer times and the once-a-minute error warnings. */
  readonly now?: () => number;
}

/** KeyDebug is one polled key as /debug/sync shows it. */
export interface KeyDebug {
  readonly type: KeyType;
  readonly namespace: string;
  readonly service: string;
  readonly revision: string;
  readonly inFlight: boolean;
  /** True once the key has had a good answer (200000, 200001, or 400202 for INSTANCE). */
  readonly answered: boolean;
  readonly lastCode?: number;
  readonly lastError?: string;
  readonly lastAnswerAt?: string;
}

/** SyncDebugState is the syncer's internals for the admin `/debug/sync` endpoint. */
export interface SyncDebugState {
  readonly status: SourceStatus;
  readonly connection: ConnectionStatus;
  /** True once a first full sync from Polaris has completed. */
  readonly synced: boolean;
  /** Start-up still waits for a first full sync before it serves the disk cache instead. */
  readonly diskFallbackArmed: boolean;
  readonly keys: readonly KeyDebug[];
  readonly skipped: readonly SkippedItem[];
}

/** PolarisSource is a MeshSource with a debug view. */
export interface PolarisSource extends MeshSource {
  debugState(): SyncDebugState;
}

interface KeyStat {
  readonly key: DiscoverKey;
  answered: boolean;
  lastCode?: number;
  lastError?: string;
  lastAnswerAt?: number;
}

const ERROR_LOG_EVERY_MS = 60_000;

function refOf(key: DiscoverKey): ServiceRef {
  return { namespace: key.namespace, name: key.service };
}

/** createPolarisSource builds the Polaris syncer. start() does not wait for Polaris; status() says when it is ready. */
export function createPolarisSource(opts: PolarisSourceOptions): PolarisSource {
  const logger = opts.logger;
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  const metrics = new SyncMetrics(opts.registry);
  const cache = new MeshCache();
  const publisher = new Publisher(logger);
  const disk = opts.cacheDir === undefined ? undefined : new DiskCache(opts.cacheDir, logger);
  const rootKeys = servicesKeys(opts.namespaces);
  const stats = new Map<string, KeyStat>();
  const errorLoggedAt = new Map<string, number>();
  let connector: DiscoverConnector | undefined;
  let synced = false;
  let fromDisk: LoadedCache | undefined;
  let servingDisk = false;
  let lastSuccess: Date | undefined;
  const clock = opts.now ?? Date.now;
  let publishTimer: NodeJS.Timeout | undefined;
  let startupTimer: NodeJS.Timeout | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  let lastProgress = '';
  let stopped = false;

  const poller = new Poller({
    intervalMs: pollIntervalMs,
    jitterMs: opts.pollJitterMs ?? pollIntervalMs,
    maxInFlight: opts.maxInFlight ?? 1024,
    poll: (key) => poll(key),
  });

  function track(key: DiscoverKey): void {
    const id = keyId(key);
    if (!stats.has(id)) stats.set(id, { key, answered: false });
    poller.add(key);
  }

  function untrack(key: DiscoverKey): void {
    const id = keyId(key);
    stats.delete(id);
    poller.remove(id);
  }

  function address(): string {
    return connector?.status().address ?? opts.addresses[0] ?? '';
  }

  function reportSkips(skips: readonly SkippedItem[]): void {
    for (const s of skips) {
      metrics.skipped.inc({ kind: s.kind });
      const e =
        s.kind === 'instance'
          ? new PolarisXdsError('PXDS_ERR_POLARIS_MALFORMED', [`instance ${s.id} of ${s.service}`, s.reason])
          : new PolarisXdsError('PXDS_ERR_RULE_SKIPPED', [
              `${s.kind === 'rule' ? 'routing' : s.kind} rule ${s.service} ${s.id}`,
              s.reason,
            ]);
      logger.warn({ code: e.code, service: s.service, id: s.id }, e.message);
    }
  }

  /** authRejection is the 401xxx code Polaris answers while it rejects the token; undefined once it accepts it. */
  let authRejection: number | undefined;

  /** noteAuth follows whether Polaris accepts the token, and logs each change of that state once. */
  function noteAuth(code: number): void {
    const rejected = Math.floor(code / 1000) === 401 ? code : undefined;
    if (rejected === authRejection) return;
    const was = authRejection;
    authRejection = rejected;
    if (rejected !== undefined) {
      const e = new PolarisXdsError('PXDS_ERR_POLARIS_AUTH', [rejected]);
      logger.warn({ code: e.code, polarisCode: rejected, address: address() }, e.message);
    } else if (was !== undefined) {
      logger.info({ address: address() }, `polaris ${address()} accepts the token again`);
    }
  }

  function logAnswerError(key: DiscoverKey, code: number, info: string): void {
    const e = new PolarisXdsError('PXDS_ERR_POLARIS_RESPONSE', [code, keyId(key), info || 'no detail']);
    const now = clock();
    const tag = String(code);
    // One warning per code per minute: an auth or rate-limit error hits every key at once.
    if (now - (errorLoggedAt.get(tag) ?? -Infinity) >= ERROR_LOG_EVERY_MS) {
      errorLoggedAt.set(tag, now);
      logger.warn({ code: e.code, polarisCode: code, key: keyId(key) }, e.message);
    } else {
      logger.debug({ code: e.code, polarisCode: code, key: keyId(key) }, e.message);
    }
  }

  function apply(key: DiscoverKey, resp: DiscoverResponse): ApplyResult {
    return key.type === 'SERVICES' ? cache.applyServices(key, resp) : cache.apply(key.type, refOf(key), resp);
  }

  async function poll(key: DiscoverKey): Promise<PollOutcome> {
    const stat = stats.get(keyId(key));
    let resp: DiscoverResponse;
    try {
      resp = await connector!.discover(discoverRequest(key, cache.revision(key)));
    } catch (err) {
      if (stat) stat.lastError = err instanceof StreamFailure ? err.reason : (err as Error).message;
      return 'unreachable';
    }
    const code = resp.code ?? 0;
    metrics.requests.inc({ type: key.type, code: String(code) });
    if (stat === undefined || stats.get(keyId(key)) !== stat) return 'answered'; // the key was dropped meanwhile
    stat.lastCode = code;
    const gone = code === 400202 && key.type === 'INSTANCE';
    noteAuth(code);
    if (code !== 200000 && code !== 200001 && !gone) {
      metrics.errors.inc({ kind: 'answer' });
      stat.lastError = `code ${code}: ${resp.info ?? ''}`;
      // A token rejection is told once per change of state (noteAuth), not per code per minute.
      if (authRejection === undefined) logAnswerError(key, code, resp.info ?? '');
      return 'failed';
    }
    try {
      if (gone) cache.markGone(refOf(key));
      else if (code === 200000) {
        const result = apply(key, resp);
        reportSkips(result.newSkips);
        for (const r of result.added) for (const k of serviceKeys(r.namespace, r.name)) track(k);
        for (const r of result.removed) for (const k of serviceKeys(r.namespace, r.name)) untrack(k);
      }
    } catch (err) {
      metrics.errors.inc({ kind: 'malformed' });
      const e = new PolarisXdsError('PXDS_ERR_POLARIS_MALFORMED', [keyId(key), (err as Error).message]);
      stat.lastError = e.message;
      logger.warn({ code: e.code, key: keyId(key) }, e.message);
      return 'failed';
    }
    stat.answered = true;
    stat.lastError = undefined;
    stat.lastAnswerAt = clock();
    lastSuccess = new Date(stat.lastAnswerAt);
    metrics.lastSuccess.setToCurrentTime();
    schedulePublish();
    return 'answered';
  }

  function schedulePublish(): void {
    if (publishTimer !== undefined || stopped) return;
    publishTimer = setTimeout(() => {
      publishTimer = undefined;
      publishNow();
    }, opts.publishDelayMs ?? 50);
  }

  function publishNow(): void {
    if (!synced) {
      if (!cache.complete(rootKeys)) return;
      synced = true;
      // Once synced, the disk cache is never served: the start-up wait is over.
      clearTimeout(startupTimer);
      startupTimer = undefined;
      servingDisk = false;
    }
    const wasDisk = publisher.current()?.origin !== 'polaris';
    const state = cache.build('polaris');
    if (state === publisher.current()) return;
    if (wasDisk) {
      let instances = 0;
      for (const s of state.services.values()) instances += s.instances.length;
      logger.info(
        { address: address(), services: state.services.size, instances },
        `first full sync from polaris ${address()}: ${state.services.size} services, ${instances} instances`,
      );
    }
    publish(state);
    disk?.save(state);
  }

  function publish(state: MeshState): void {
    let instances = 0;
    for (const s of state.services.values()) instances += s.instances.length;
    metrics.services.set(state.services.size);
    metrics.instances.set(instances);
    publisher.publish(state);
  }

  function serveDiskIfStillWaiting(): void {
    startupTimer = undefined;
    if (synced || fromDisk === undefined || stopped) return;
    servingDisk = true;
    publish(fromDisk.state);
    logger.warn(
      { file: disk?.file, writtenAt: fromDisk.writtenAt.toISOString(), services: fromDisk.state.services.size },
      `serving from disk cache written ${fromDisk.writtenAt.toISOString()}: no full sync from polaris ${address()} ` +
        `within ${opts.startupWaitMs ?? 1000} ms`,
    );
  }

  function status(): SourceStatus {
    const conn = connector?.status() ?? { connected: false, address: address() };
    const unreachable =
      conn.lastError !== undefined && !conn.connected
        ? `polaris ${conn.address} unreachable: ${conn.lastError}`
        : undefined;
    const trouble =
      unreachable ??
      (authRejection === undefined ? undefined : new PolarisXdsError('PXDS_ERR_POLARIS_AUTH', [authRejection]).message);
    const base = lastSuccess === undefined ? {} : { lastSuccess };
    if (synced) {
      return {
        ready: true,
        origin: 'polaris',
        reason: trouble ? `serving the last state synced; ${trouble}` : `synced from polaris ${conn.address}`,
        ...base,
      };
    }
    if (servingDisk && fromDisk !== undefined) {
      const why =
        trouble ??
        (conn.connected
          ? `first full sync from polaris ${conn.address} in progress`
          : `polaris ${conn.address} unreachable`);
      return {
        ready: true,
        origin: 'disk-cache',
        reason: `serving from disk cache (written ${fromDisk.writtenAt.toISOString()}), ${why}`,
        ...base,
      };
    }
    // A disk cache that could have stood in for Polaris but was refused: say both, not only the outage.
    const rejected = disk?.rejected;
    if (trouble)
      return {
        ready: false,
        origin: 'none',
        reason: rejected !== undefined ? `disk cache rejected: ${rejected}; ${trouble}` : trouble,
        ...base,
      };
    if (conn.connected) {
      const pendingRoots = rootKeys.filter((k) => !cache.servicesAnswered(k)).length;
      const pending = cache.pending().length;
      const failing = [...stats.values()].find((st) => !st.answered && st.lastError !== undefined);
      const last = failing ? ` (last error: ${failing.lastError})` : '';
      return {
        ready: false,
        origin: 'none',
        reason:
          `first full sync from polaris ${conn.address} in progress: ${pendingRoots} service lists and ` +
          `${pending} services pending${last}`,
        ...base,
      };
    }
    return { ready: false, origin: 'none', reason: `connecting to polaris ${conn.address}`, ...base };
  }

  return {
    async start(): Promise<void> {
      if (connector !== undefined) return;
      if (opts.addresses.length === 0)
        throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', ['polaris.addresses: at least one host:port is needed']);
      connector = new DiscoverConnector({
        addresses: opts.addresses,
        token: opts.token,
        tls: opts.tls,
        requestTimeoutMs: opts.requestTimeoutMs ?? 3000,
        maxReceiveMessageBytes: opts.maxReceiveMessageBytes,
        logger,
        backoff: opts.backoff,
        onStreamFailure: () => metrics.errors.inc({ kind: 'stream' }),
      });
      connector.onChange((s) => metrics.connected.set(s.connected ? 1 : 0));
      if (disk !== undefined) fromDisk = await disk.load();
      for (const k of rootKeys) track(k);
      poller.start();
      logger.info(
        { addresses: opts.addresses, namespaces: opts.namespaces.length ? opts.namespaces : 'all' },
        `syncing from polaris ${opts.addresses.join(',')}`,
      );
      startupTimer = setTimeout(serveDiskIfStillWaiting, opts.startupWaitMs ?? 1000);
      startupTimer.unref();
      // A first sync of a large registry takes a while: say how far it got, once a second.
      progressTimer = setInterval(() => {
        if (synced || stopped) {
          clearInterval(progressTimer);
          progressTimer = undefined;
          return;
        }
        const s = status();
        if (s.reason !== lastProgress) logger.info({ progress: true }, s.reason);
        lastProgress = s.reason;
      }, 1000);
      progressTimer.unref();
    },

    async stop(): Promise<void> {
      stopped = true;
      poller.stop();
      if (publishTimer !== undefined) clearTimeout(publishTimer);
      if (startupTimer !== undefined) clearTimeout(startupTimer);
      if (progressTimer !== undefined) clearInterval(progressTimer);
      progressTimer = undefined;
      publishTimer = startupTimer = undefined;
      connector?.close();
      await disk?.flush();
    },

    current: () => publisher.current(),
    subscribe: (listener) => publisher.subscribe(listener),
    status,

    debugState(): SyncDebugState {
      const keys: KeyDebug[] = [...stats.entries()]
        .sort(([a], [b]) => compareKeys(a, b))
        .map(([id, s]) => ({
          type: s.key.type,
          namespace: s.key.namespace,
          service: s.key.service,
          revision: cache.revision(s.key),
          inFlight: poller.isInFlight(id),
          answered: s.answered,
          ...(s.lastCode === undefined ? {} : { lastCode: s.lastCode }),
          ...(s.lastError === undefined ? {} : { lastError: s.lastError }),
          ...(s.lastAnswerAt === undefined ? {} : { lastAnswerAt: new Date(s.lastAnswerAt).toISOString() }),
        }));
      const connection = connector?.status() ?? { connected: false, address: address() };
      const diskFallbackArmed = startupTimer !== undefined;
      return { status: status(), connection, synced, diskFallbackArmed, keys, skipped: cache.skipped() };
    },
  };
}
