// Logging: pino JSON to stdout, or a pretty stream for humans (`--log-format pretty`).
import { setLogger as setGrpcLogger } from '@grpc/grpc-js';
import { format } from 'node:util';
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

/**
 * routeGrpcLogs sends grpc-js's own log lines (which it writes to stderr by default) through
 * `logger`: errors as warnings (the caller reports the failure itself, with its code), the rest at
 * info and debug. grpc-js keeps one logger per process, so this is called once, by the command.
 */
export function routeGrpcLogs(logger: Logger): void {
  setGrpcLogger({
    error: (...args: unknown[]) => logger.warn(format(...args)),
    info: (...args: unknown[]) => logger.info(format(...args)),
    debug: (...args: unknown[]) => logger.debug(format(...args)),
  });
}
