// One clock for every bench process: wall-clock milliseconds with sub-millisecond resolution, so
// timestamps taken in the driver, the bridge and the client workers can be subtracted.

/** nowMs is the current time as epoch milliseconds (fractional). */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

/** sleep waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
