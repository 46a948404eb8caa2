// Facts about the machine and the tree a run was made on, recorded with every result.
import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { imageMallocEnv } from './image-env.js';

/** MachineInfo identifies where and on what a run happened. */
export interface MachineInfo {
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryMB: number;
  readonly node: string;
  readonly platform: string;
  readonly gitCommit: string;
  /** True when the working tree had uncommitted changes. */
  readonly gitDirty: boolean;
  /** The malloc settings the bridge and the raw server ran with (the image's, see image-env.ts). */
  readonly serverEnv: Readonly<Record<string, string>>;
}

function git(args: string[], cwd: string): string {
  try {
    return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

/** machineInfo gathers the machine's cores, Node version and the repository's commit. */
export function machineInfo(repo: string): MachineInfo {
  const list = cpus();
  return {
    cores: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryMB: Math.round(totalmem() / 2 ** 20),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    gitCommit: git(['rev-parse', 'HEAD'], repo) || 'unknown',
    gitDirty: git(['status', '--porcelain', '--untracked-files=no'], repo) !== '',
    serverEnv: imageMallocEnv(),
  };
}
