// The last published Polaris state on disk, so a restart while Polaris is down still serves the
// mesh. One JSON file with a format version, replaced atomically (temp file, fsync, rename, 0600).
// A file that cannot be read is reported and ignored; it is never fatal.
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { z } from 'zod';
import { PolarisXdsError } from '../errors.js';
import type { CircuitBreakerRule } from '../model/circuitbreaker.js';
import type { FaultDetectRule } from '../model/faultdetect.js';
import { meshState, type MatchString, type MeshState, type Service } from '../model/mesh.js';
import type { RateLimitRule } from '../model/ratelimit.js';

export const CACHE_FILE = 'mesh-state.json';
const FORMAT = 'polaris-xds/mesh-state';
const VERSION = 1;

const matchString: z.ZodType<MatchString> = z.object({
  type: z.enum(['EXACT', 'REGEX', 'NOT_EQUALS', 'IN', 'NOT_IN', 'RANGE']),
  value: z.string(),
  valueType: z.enum(['TEXT', 'PARAMETER', 'VARIABLE']),
});
const ref = z.object({ namespace: z.string(), name: z.string() });
const rule = z.object({
  id: z.string(),
  name: z.string(),
  priority: z.number(),
  sources: z.array(z.object({ service: z.string(), namespace: z.string(), match: z.record(z.string(), matchString) })),
  destinations: z.array(
    z.object({
      service: z.string(),
      namespace: z.string(),
      labels: z.record(z.string(), matchString),
      priority: z.number(),
      weight: z.number(),
      isolate: z.boolean(),
      name: z.string(),
    }),
  ),
});
// Governance rules, as the model has them (src/model). Typed against the model so the compiler
// keeps the two in step; files written before these kinds existed load with empty rule sets.
const header = z.object({ key: z.string(), value: z.string() });
const circuitBreakerRule: z.ZodType<CircuitBreakerRule> = z.object({
  id: z.string(),
  name: z.string(),
  namespace: z.string(),
  enable: z.boolean(),
  revision: z.string(),
  ctime: z.string(),
  mtime: z.string(),
  etime: z.string(),
  description: z.string(),
  level: z.enum(['UNKNOWN', 'SERVICE', 'METHOD', 'GROUP', 'INSTANCE']),
  source: z.object({ service: z.string(), namespace: z.string() }),
  destination: z.object({ service: z.string(), namespace: z.string(), method: matchString.optional() }),
  errorConditions: z.array(z.object({ inputType: z.enum(['UNKNOWN', 'RET_CODE', 'DELAY']), condition: matchString })),
  triggerConditions: z.array(
    z.object({
      triggerType: z.enum(['UNKNOWN', 'ERROR_RATE', 'CONSECUTIVE_ERROR']),
      errorCount: z.number(),
      errorPercent: z.number(),
      intervalSeconds: z.number(),
      minimumRequest: z.number(),
    }),
  ),
  maxEjectionPercent: z.number(),
  recover: z.object({ sleepWindowSeconds: z.number(), consecutiveSuccess: z.number() }),
  faultDetectEnabled: z.boolean(),
  fallback: z.object({ enable: z.boolean(), code: z.number(), headers: z.array(header), body: z.string() }),
});
const payload = z.object({ send: z.string(), receive: z.array(z.string()) });
const faultDetectRule: z.ZodType<FaultDetectRule> = z.object({
  id: z.string(),
  name: z.string(),
  namespace: z.string(),
  revision: z.string(),
  ctime: z.string(),
  mtime: z.string(),
  description: z.string(),
  target: z.object({ service: z.string(), namespace: z.string(), method: matchString.optional() }),
  intervalSeconds: z.number(),
  timeoutMs: z.number(),
  port: z.number(),
  protocol: z.enum(['UNKNOWN', 'HTTP', 'TCP', 'UDP']),
  http: z.object({ method: z.string(), url: z.string(), headers: z.array(header), body: z.string() }),
  tcp: payload,
  udp: payload,
});
const duration = z.object({ seconds: z.number(), nanos: z.number() });
const rateLimitRule: z.ZodType<RateLimitRule> = z.object({
  id: z.string(),
  name: z.string(),
  service: z.string(),
  namespace: z.string(),
  priority: z.number(),
  resource: z.enum(['QPS', 'CONCURRENCY']),
  type: z.enum(['GLOBAL', 'LOCAL']),
  subset: z.record(z.string(), matchString),
  labels: z.record(z.string(), matchString),
  amounts: z.array(
    z.object({
      maxAmount: z.number(),
      validDuration: duration,
      precision: z.number(),
      startAmount: z.number(),
      minAmount: z.number(),
    }),
  ),
  action: z.string(),
  disable: z.boolean(),
  report: z.object({ interval: duration, amountPercent: z.number() }),
  ctime: z.string(),
  mtime: z.string(),
  etime: z.string(),
  revision: z.string(),
  climbEnabled: z.boolean(),
  regexCombine: z.boolean(),
  amountMode: z.enum(['GLOBAL_TOTAL', 'SHARE_EQUALLY']),
  failover: z.enum(['FAILOVER_LOCAL', 'FAILOVER_PASS']),
  cluster: z.object({ service: z.string(), namespace: z.string() }),
  method: matchString.optional(),
  arguments: z.array(
    z.object({
      type: z.enum(['CUSTOM', 'METHOD', 'HEADER', 'QUERY', 'CALLER_SERVICE', 'CALLER_IP', 'CALLER_METADATA']),
      key: z.string(),
      value: matchString,
    }),
  ),
  maxQueueDelaySeconds: z.number(),
  concurrencyMaxAmount: z.number(),
  customResponseBody: z.string(),
  metadata: z.record(z.string(), z.string()),
});
const ruleSet = <T>(r: z.ZodType<T>) =>
  z.object({ rules: z.array(r), revision: z.string() }).default({ rules: [], revision: '' });

const service = z.object({
  namespace: z.string(),
  name: z.string(),
  metadata: z.record(z.string(), z.string()),
  instances: z.array(
    z.object({
      id: z.string(),
      host: z.string(),
      port: z.number().int(),
      protocol: z.string(),
      version: z.string(),
      weight: z.number(),
      priority: z.number(),
      healthy: z.boolean(),
      isolate: z.boolean(),
      locality: z.object({ region: z.string(), zone: z.string(), campus: z.string() }),
      metadata: z.record(z.string(), z.string()),
      revision: z.string(),
    }),
  ),
  revision: z.string(),
  routing: z.object({ inbounds: z.array(rule), outbounds: z.array(rule), revision: z.string() }),
  rateLimits: ruleSet(rateLimitRule),
  circuitBreakers: ruleSet(circuitBreakerRule),
  faultDetectors: ruleSet(faultDetectRule),
  aliasFor: ref.optional(),
});
const fileSchema = z.object({
  format: z.literal(FORMAT),
  version: z.literal(VERSION),
  writtenAt: z.string(),
  services: z.array(service),
});

/** LoadedCache is a state read back from disk and when it was written. */
export interface LoadedCache {
  readonly state: MeshState;
  readonly writtenAt: Date;
}

/**
 * syncDir makes a rename in `dir` durable: the rename is an entry of the directory, which a power
 * loss can lose unless the directory itself is synced. Filesystems that cannot sync a directory
 * (EINVAL, EISDIR, EPERM) are left as they are.
 */
async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } catch (err) {
    if (!['EINVAL', 'EISDIR', 'EPERM', 'ENOTSUP'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await fh.close();
  }
}

/** DiskCache reads and writes the persisted state of one cache directory. */
export class DiskCache {
  readonly file: string;
  private writing: Promise<void> | undefined;
  private queued: MeshState | undefined;
  private lastWriteError = '';
  private rejectedReason: string | undefined;

  /** `minIntervalMs` spaces writes out: a busy mesh is written at most this often (latest state wins). */
  constructor(
    readonly dir: string,
    private readonly logger: Logger,
    private readonly minIntervalMs = 1000,
  ) {
    this.file = join(dir, CACHE_FILE);
  }

  /**
   * load returns the persisted state with origin `disk-cache`, or undefined when there is none or it is unreadable
   * (reported).
   */
  async load(): Promise<LoadedCache | undefined> {
    this.rejectedReason = undefined;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      this.corrupt((err as Error).message);
      return undefined;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      this.corrupt(`not JSON: ${(err as Error).message}`);
      return undefined;
    }
    const parsed = fileSchema.safeParse(json);
    if (!parsed.success) {
      const first = parsed.error.issues[0]!;
      this.corrupt(`${first.path.map(String).join('.') || '(top level)'}: ${first.message}`);
      return undefined;
    }
    const writtenAt = new Date(parsed.data.writtenAt);
    return {
      state: meshState(parsed.data.services as Service[], 'disk-cache'),
      writtenAt: Number.isNaN(writtenAt.getTime()) ? new Date(0) : writtenAt,
    };
  }

  /** save writes `state` in the background; saves that arrive during a write are coalesced to the latest. */
  save(state: MeshState): void {
    this.queued = state;
    if (this.writing === undefined) this.writing = this.drain();
  }

  /** flush resolves once every queued save is on disk (or has failed and been logged). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queued !== undefined) {
        const state = this.queued;
        this.queued = undefined;
        const started = Date.now();
        await this.write(state);
        const rest = this.minIntervalMs - (Date.now() - started);
        if (this.queued !== undefined && rest > 0) await new Promise((r) => setTimeout(r, rest));
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async write(state: MeshState): Promise<void> {
    const body = JSON.stringify({
      format: FORMAT,
      version: VERSION,
      writtenAt: new Date().toISOString(),
      services: [...state.services.values()],
    });
    const tmp = `${this.file}.tmp`;
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(body, 'utf8');
        await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, this.file);
      await syncDir(this.dir);
      this.lastWriteError = '';
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      const msg = (err as Error).message;
      // Logged once per distinct error, not on every change.
      if (msg !== this.lastWriteError) {
        const e = new PolarisXdsError('PXDS_ERR_CACHE_WRITE', [this.file, msg]);
        this.logger.warn({ code: e.code, file: this.file }, e.message);
        this.lastWriteError = msg;
      }
    }
  }

  /** rejected is why the last load refused the file, or undefined when it was read (or absent). */
  get rejected(): string | undefined {
    return this.rejectedReason;
  }

  private corrupt(reason: string): void {
    this.rejectedReason = reason;
    const e = new PolarisXdsError('PXDS_ERR_CACHE_CORRUPT', [this.file, reason]);
    this.logger.warn({ code: e.code, file: this.file }, e.message);
  }
}
