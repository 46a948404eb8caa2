// The configuration schema: one place that says every key, its default and what is allowed.
// Parsed once at start-up (file, then POLARIS_XDS_* environment, then flags) and frozen. Each
// default is written once, on its key: a missing section is parsed as `{}` (zod prefault), so its
// keys take their own defaults. The xDS stream limits' defaults are the server's (DEFAULT_LIMITS).
import { z } from 'zod';
import { DEFAULT_LIMITS as LIMITS } from '../xds/server/options.js';
import { checkAddress, type AddressUse } from './address.js';

/** address is a host:port string checked once by checkAddress (one message per bad value). */
const address = (use: AddressUse) =>
  z.string().superRefine((value, ctx) => {
    const r = checkAddress(value, use);
    if (!r.ok) ctx.addIssue({ code: 'custom', message: `${r.problem} (got ${JSON.stringify(value)})` });
  });

const duration = z.number().int().nonnegative();
const MiB = 1024 * 1024;

export const ConfigSchema = z
  .object({
    polaris: z
      .object({
        /** Polaris gRPC (service-grpc, default port 8091) addresses, tried in turn. */
        addresses: z.array(address('dial')).default([]),
        /** Namespaces to sync; empty means every namespace. */
        namespaces: z.array(z.string().min(1)).default([]),
        /** Token sent as gRPC metadata `x-polaris-token`. Prefer tokenFile or POLARIS_XDS_POLARIS_TOKEN. */
        token: z.string().optional(),
        tokenFile: z.string().optional(),
        tls: z
          .object({ ca: z.string().optional(), cert: z.string().optional(), key: z.string().optional() })
          .strict()
          .optional(),
        pollIntervalMs: duration.min(100).default(1000),
        requestTimeoutMs: duration.min(100).default(3000),
        /** How long start-up waits for Polaris before serving the disk cache. */
        startupWaitMs: duration.default(1000),
      })
      .strict()
      .prefault({}),
    /** A YAML mesh file (the file source). With neither polaris.addresses nor file, the example mesh is served. */
    file: z.string().optional(),
    cacheDir: z.string().optional(),
    xds: z
      .object({
        address: address('listen').default('0.0.0.0:15010'),
        /** Quiet period before a mesh change is pushed, and the longest a push may wait. */
        debounceMs: duration.default(100),
        debounceMaxMs: duration.default(1000),
        keepaliveTimeMs: duration.default(30_000),
        keepaliveTimeoutMs: duration.default(10_000),
        /** 0 disables; otherwise streams are closed after this age (grpc-js adds ±10% jitter). */
        maxConnectionAgeMs: duration.default(0),
        maxConnectionAgeGraceMs: duration.default(60_000),
        maxResourceNames: z.number().int().positive().default(LIMITS.maxResourceNames),
        /** Longest resource name a request may carry, in characters. */
        maxNameLength: z.number().int().positive().default(LIMITS.maxNameLength),
        /** Largest request message accepted (grpc-js refuses larger ones before decoding). */
        maxReceiveMessageBytes: z
          .number()
          .int()
          .min(1024)
          .default(4 * MiB),
        /** HTTP/2 streams one client connection may open at once (Envoy uses one per connection for ADS). */
        maxConcurrentStreamsPerConnection: z.number().int().positive().default(16),
        /** 0 disables; otherwise connections with no open stream for this long are closed. */
        maxConnectionIdleMs: duration.default(300_000),
        /** Response bytes one stream may have unflushed (its client not reading) before it is ended. */
        maxPendingBytesPerStream: z.number().int().min(MiB).default(LIMITS.maxPendingBytesPerStream),
        /** Unflushed response bytes of all streams together; beyond it, streams not reading end and writers wait. */
        maxPendingBytes: z.number().int().min(MiB).default(LIMITS.maxPendingBytes),
        /** Bytes of decoded SotW resource-name lists kept for reuse across streams. */
        maxNameListCacheBytes: z.number().int().nonnegative().default(LIMITS.maxNameListCacheBytes),
        /** 0 disables; otherwise a stream whose client has read nothing for this long while responses wait is ended. */
        maxStallMs: duration.default(LIMITS.maxStallMs),
        tls: z
          .object({
            cert: z.string(),
            key: z.string(),
            /** When set, clients must present a certificate signed by this CA (mTLS). */
            clientCa: z.string().optional(),
          })
          .strict()
          .optional(),
        /** Grace period for draining streams on SIGTERM. */
        drainMs: duration.default(5000),
      })
      .strict()
      .prefault({}),
    admin: z
      .object({ address: address('listen').default('127.0.0.1:15014') })
      .strict()
      .prefault({}),
    log: z
      .object({
        level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
        format: z.enum(['json', 'pretty']).default('json'),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type Config = z.infer<typeof ConfigSchema>;
