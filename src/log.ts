// Logging: pino JSON to stdout, or a pretty stream for humans (`--log-format pretty`).
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LogOptions {
  readonly level: string;
  readonly format: 'json' | 'pretty';
}

/** createLogger builds the process logger. Secrets never reach it: tokens are redacted by path. */
export function createLogger(opts: LogOptions): Logger {
  const base = {
    level: opts.level,
    base: { service: 'polaris-xds' },
    redact: { paths: ['token', '*.token', 'polaris.token', 'config.polaris.token'], censor: '[redacted]' },
  };
  if (opts.format === 'pretty') {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { colorize: true, destination: 1 } } });
  }
  return pino(base);
}

/** silentLogger is for tests and library use. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
