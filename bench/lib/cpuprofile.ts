// Summarises a V8 .cpuprofile (node --cpu-prof): self and inclusive time per function, so a run
// can say what dominated.
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  readonly fn: string;
  readonly where: string;
  readonly selfMs: number;
  readonly selfPct: number;
  readonly totalMs: number;
  readonly totalPct: number;
}

function label(n: ProfileNode, root: string): { fn: string; where: string } {
  const url = n.callFrame.url.replace(/^file:\/\//, '');
  // Line numbers are left out: under tsx they are positions in the transformed code.
  const where = url
    ? url.startsWith(root)
      ? relative(root, url)
      : url.replace(/.*node_modules\//, 'node_modules/')
    : '(native)';
  return { fn: n.callFrame.functionName || '(anonymous)', where };
}

/**
 * hotSpots lists the top `limit` functions by self time (idle and GC excluded from the total). Samples taken while an
 * in-process profile was being stopped and serialised (under node:inspector's `post`) are the profiler's, not the
 * program's: they are left out.
 */
export function hotSpots(
  file: string,
  root: string,
  limit = 15,
): { sampledMs: number; busyMs: number; gcMs: number; top: HotSpot[] } {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const samples = p.samples ?? [];
  const deltas = p.timeDeltas ?? [];
  const selfUs = new Map<number, number>();
  for (let i = 0; i < samples.length; i++) selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i] ?? 0));
  const sampledMs = (p.endTime - p.startTime) / 1000;
  let idleMs = 0;
  let gcMs = 0;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let profilerMs = 0;
  const profilerOwn = (id: number): boolean => {
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur))
      if (byId.get(cur)!.callFrame.url.startsWith('node:inspector')) return true;
    return false;
  };
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    if (profilerOwn(id)) {
      profilerMs += us / 1000;
      continue;
    }
    const name = n.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') idleMs += us / 1000;
    if (name === '(garbage collector)') gcMs += us / 1000;
    const { fn, where } = label(n, root);
    const key = `${fn}\t${where}`;
    self.set(key, (self.get(key) ?? 0) + us / 1000);
    // Inclusive time: once per distinct function on the stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!, root);
      const k = `${l.fn}\t${l.where}`;
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + us / 1000);
    }
  }
  const busyMs = Math.max(1, sampledMs - idleMs - profilerMs);
  const top = [...self.entries()]
    .filter(([k]) => !k.startsWith('(idle)') && !k.startsWith('(program)'))
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([k, ms]) => {
      const [fn, where] = k.split('\t') as [string, string];
      const t = total.get(k) ?? ms;
      return { fn, where, selfMs: ms, selfPct: (100 * ms) / busyMs, totalMs: t, totalPct: (100 * t) / busyMs };
    });
  return { sampledMs, busyMs, gcMs, top };
}
