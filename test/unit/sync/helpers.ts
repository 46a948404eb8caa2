// Shared helpers for the sync unit tests.
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { MeshState } from '../../../src/model/mesh.js';
import {
  createPolarisSource,
  type PolarisSource,
  type PolarisSourceOptions,
} from '../../../src/sync/polaris-source.js';
import type { MeshSource } from '../../../src/sync/source.js';
import { waitFor } from '../../support/ports.js';

/** LogLine is one parsed pino line. */
export type LogLine = Record<string, unknown> & { msg: string; level: number };

/** captureLogger returns a debug-level logger whose lines land in `lines`. */
export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

/** fastSource is a Polaris source with test-friendly timings; stop it in a finally/after. */
export function fastSource(
  addresses: string[],
  extra: Partial<PolarisSourceOptions> = {},
): PolarisSource & { registry: Registry } {
  const registry = new Registry();
  const src = createPolarisSource({
    addresses,
    namespaces: ['ns1'],
    pollIntervalMs: 100,
    pollJitterMs: 50,
    requestTimeoutMs: 600,
    startupWaitMs: 300,
    publishDelayMs: 10,
    backoff: { initialMs: 50, maxMs: 200 },
    logger: captureLogger().logger,
    registry,
    ...extra,
  });
  return Object.assign(src, { registry });
}

/** untilState waits for the source's current state to satisfy `check`. */
export function untilState(
  src: MeshSource,
  what: string,
  check: (s: MeshState) => boolean,
  timeoutMs = 5000,
): Promise<MeshState> {
  return waitFor(
    what,
    () => {
      const s = src.current();
      return s !== undefined && check(s) ? s : undefined;
    },
    timeoutMs,
    20,
  );
}

export { tempDir } from '../../support/temp.js';
