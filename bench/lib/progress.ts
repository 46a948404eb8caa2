// Progress lines on stderr, so stdout carries only the result table.
import { nowMs } from './clock.js';

const started = nowMs();

/** progress prints one timestamped line to stderr. */
export function progress(message: string): void {
  const s = ((nowMs() - started) / 1000).toFixed(1).padStart(6);
  process.stderr.write(`[bench ${s}s] ${message}\n`);
}
