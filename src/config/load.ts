// Loads the configuration: defaults < file < POLARIS_XDS_* environment < flags. Every error names
// the key and what is allowed; the result is deep-frozen.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { PolarisXdsError } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';

type Json = Record<string, unknown>;

/** ENV maps each environment variable to its key path and how to read it. */
export const ENV: Readonly<Record<string, { path: string[]; kind: 'string' | 'list' | 'int' }>> = {
  POLARIS_XDS_POLARIS_ADDRESSES: { path: ['polaris', 'addresses'], kind: 'list' },
  POLARIS_XDS_POLARIS_NAMESPACES: { path: ['polaris', 'namespaces'], kind: 'list' },
  POLARIS_XDS_POLARIS_TOKEN: { path: ['polaris', 'token'], kind: 'string' },
  POLARIS_XDS_POLARIS_TOKEN_FILE: { path: ['polaris', 'tokenFile'], kind: 'string' },
  POLARIS_XDS_POLARIS_POLL_INTERVAL_MS: { path: ['polaris', 'pollIntervalMs'], kind: 'int' },
  POLARIS_XDS_FILE: { path: ['file'], kind: 'string' },
  POLARIS_XDS_CACHE_DIR: { path: ['cacheDir'], kind: 'string' },
  POLARIS_XDS_XDS_ADDRESS: { path: ['xds', 'address'], kind: 'string' },
  POLARIS_XDS_XDS_MAX_CONNECTION_AGE_MS: { path: ['xds', 'maxConnectionAgeMs'], kind: 'int' },
  POLARIS_XDS_XDS_DRAIN_MS: { path: ['xds', 'drainMs'], kind: 'int' },
  POLARIS_XDS_XDS_KEEPALIVE_TIME_MS: { path: ['xds', 'keepaliveTimeMs'], kind: 'int' },
  POLARIS_XDS_XDS_MAX_RESOURCE_NAMES: { path: ['xds', 'maxResourceNames'], kind: 'int' },
  POLARIS_XDS_XDS_MAX_RECEIVE_MESSAGE_BYTES: { path: ['xds', 'maxReceiveMessageBytes'], kind: 'int' },
  POLARIS_XDS_XDS_MAX_CONCURRENT_STREAMS_PER_CONNECTION: {
    path: ['xds', 'maxConcurrentStreamsPerConnection'],
    kind: 'int',
  },
  POLARIS_XDS_XDS_MAX_PENDING_BYTES_PER_STREAM: { path: ['xds', 'maxPendingBytesPerStream'], kind: 'int' },
  POLARIS_XDS_XDS_MAX_PENDING_BYTES: { path: ['xds', 'maxPendingBytes'], kind: 'int' },
  POLARIS_XDS_XDS_MAX_STALL_MS: { path: ['xds', 'maxStallMs'], kind: 'int' },
  POLARIS_XDS_ADMIN_ADDRESS: { path: ['admin', 'address'], kind: 'string' },
  POLARIS_XDS_LOG_LEVEL: { path: ['log', 'level'], kind: 'string' },
  POLARIS_XDS_LOG_FORMAT: { path: ['log', 'format'], kind: 'string' },
};

function setPath(obj: Json, path: readonly string[], value: unknown): void {
  let cur = obj;
  for (const key of path.slice(0, -1)) {
    const next = cur[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) cur[key] = {};
    cur = cur[key] as Json;
  }
  cur[path[path.length - 1]!] = value;
}

function readValue(kind: 'string' | 'list' | 'int', raw: string, name: string): unknown {
  if (kind === 'list')
    return raw
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  if (kind === 'int') {
    const n = Number(raw);
    if (!Number.isInteger(n))
      throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', [`${name}=${JSON.stringify(raw)}: expected a whole number`]);
    return n;
  }
  return raw;
}

/** Overrides are key paths set from flags, applied last; `flag` names the flag in messages. */
export type Overrides = ReadonlyArray<{ path: readonly string[]; value: unknown; flag?: string }>;

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object') {
    for (const k of Object.keys(v)) deepFreeze((v as Json)[k]);
    Object.freeze(v);
  }
  return v;
}

function describeIssue(issue: z.core.$ZodIssue, source: string, overrides: Overrides = []): string {
  const key = issue.path.map(String).join('.') || '(top level)';
  // A value that came from a flag is named by its flag.
  const flag = overrides.find((o) => o.flag !== undefined && o.path.every((p, i) => issue.path[i] === p))?.flag;
  if (flag !== undefined && issue.code !== 'unrecognized_keys') return `${flag}: ${issue.message}`;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (key === '(top level)' ? k : `${key}.${k}`)).join(', ');
    return `${source}: unknown key ${keys}; see docs/configuration.md for the allowed keys`;
  }
  return `${source}: ${key}: ${issue.message}`;
}

/**
 * loadConfig merges defaults, the YAML file at `file` (if any), the environment and flag
 * overrides, and validates the result. It throws PolarisXdsError(PXDS_ERR_CONFIG_INVALID /
 * PXDS_ERR_CONFIG_FILE) with one line per problem.
 */
export function loadConfig(opts: { file?: string; env?: NodeJS.ProcessEnv; overrides?: Overrides }): Config {
  let raw: Json = {};
  if (opts.file) {
    let text: string;
    try {
      text = readFileSync(opts.file, 'utf8');
    } catch (err) {
      throw new PolarisXdsError('PXDS_ERR_CONFIG_FILE', [opts.file, (err as Error).message], { cause: err });
    }
    let parsed: unknown;
    try {
      parsed = parseYaml(text);
    } catch (err) {
      throw new PolarisXdsError('PXDS_ERR_CONFIG_FILE', [opts.file, `not valid YAML: ${(err as Error).message}`], {
        cause: err,
      });
    }
    if (parsed !== null && parsed !== undefined) {
      if (typeof parsed !== 'object' || Array.isArray(parsed)) {
        throw new PolarisXdsError('PXDS_ERR_CONFIG_FILE', [opts.file, 'expected a mapping of keys at the top level']);
      }
      raw = parsed as Json;
    }
    const fileCheck = ConfigSchema.safeParse(raw);
    if (!fileCheck.success) {
      throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', [
        fileCheck.error.issues.map((i) => describeIssue(i, opts.file!)).join('; '),
      ]);
    }
  }
  const env = opts.env ?? process.env;
  for (const [name, spec] of Object.entries(ENV)) {
    const v = env[name];
    if (v !== undefined && v !== '') setPath(raw, spec.path, readValue(spec.kind, v, name));
  }
  // Kubernetes injects <SERVICE>_SERVICE_HOST / _PORT* variables for a Service named polaris-xds.
  const serviceLink = /^POLARIS_XDS_(SERVICE_HOST|SERVICE_PORT(_.*)?|PORT(_.*)?)$/;
  for (const unknown of Object.keys(env).filter(
    (k) => k.startsWith('POLARIS_XDS_') && !(k in ENV) && !serviceLink.test(k),
  )) {
    throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', [
      `unknown environment variable ${unknown}; allowed: ${Object.keys(ENV).join(', ')}`,
    ]);
  }
  for (const o of opts.overrides ?? []) setPath(raw, o.path, o.value);
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', [
      result.error.issues.map((i) => describeIssue(i, 'config', opts.overrides)).join('; '),
    ]);
  }
  const cfg = result.data;
  if (cfg.polaris.tokenFile && !cfg.polaris.token) {
    const name = opts.overrides?.some((o) => o.flag === '--token-file') ? '--token-file' : 'polaris.tokenFile';
    try {
      cfg.polaris.token = readFileSync(cfg.polaris.tokenFile, 'utf8').trim();
    } catch (err) {
      const why =
        (err as NodeJS.ErrnoException).code === 'ENOENT'
          ? 'no such file'
          : (err as NodeJS.ErrnoException).code === 'EISDIR'
            ? 'is a directory'
            : (err as Error).message;
      throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', [`${name}: cannot read ${cfg.polaris.tokenFile}: ${why}`]);
    }
    // An empty file is a mistake (a secret not mounted yet), not "no token": Polaris would reject every request.
    if (cfg.polaris.token === '')
      throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', [
        `${name}: ${cfg.polaris.tokenFile} is empty; put the Polaris token in it, or leave it out when Polaris's ` +
          `client auth is off`,
      ]);
  }
  if (cfg.polaris.addresses.length > 0 && cfg.file) {
    throw new PolarisXdsError('PXDS_ERR_CONFIG_INVALID', [
      'polaris.addresses and file are both set; choose one source (--polaris or --file)',
    ]);
  }
  return deepFreeze(cfg);
}

/** redacted returns a copy of the configuration that is safe to print. */
export function redacted(cfg: Config): unknown {
  const copy = JSON.parse(JSON.stringify(cfg)) as Config;
  if (copy.polaris.token) copy.polaris.token = '[redacted]';
  return copy;
}
