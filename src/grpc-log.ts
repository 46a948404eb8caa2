// grpc-js's own log lines (which it writes to stderr by default) go through the process logger.
// A module of its own so that commands other than `serve` do not load grpc-js.
import { setLogger as setGrpcLogger } from '@grpc/grpc-js';
import { format } from 'node:util';
import type { Logger } from './log.js';

/**
 * routeGrpcLogs sends grpc-js's log lines through `logger`: errors as warnings (the caller reports
 * the failure itself, with its code, e.g. "No address added out of total 1 resolved" before a
 * bind error), the rest at info and debug. grpc-js keeps one logger per process, so this is called
 * once, by the command.
 */
export function routeGrpcLogs(logger: Logger): void {
  setGrpcLogger({
    error: (...args: unknown[]) => logger.warn(format(...args)),
    info: (...args: unknown[]) => logger.info(format(...args)),
    debug: (...args: unknown[]) => logger.debug(format(...args)),
  });
}
