// The real Polaris server for the side-by-side bench: the test harness's, with every process it
// starts tracked so the bench kills it on exit.
import { startPolaris, type PolarisServer } from '../../test/support/polaris.js';
import { track } from '../lib/proc.js';

export type BenchPolaris = PolarisServer;

/** startBenchPolaris runs a fresh Polaris in a temp folder and waits until its APIs and xDS port answer. */
export function startBenchPolaris(): Promise<BenchPolaris> {
  return startPolaris({ onSpawn: (child) => void track(child) });
}
