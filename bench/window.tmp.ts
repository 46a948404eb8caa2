// usage: node --import tsx bench/window.tmp.ts PROFILE [fromSec toSec]
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]));
let t = p.startTime; const times: number[] = [];
for (const d of p.timeDeltas) { t += d; times.push(t); }
const rel = (x: number) => (x - p.startTime) / 1e6;
if (process.argv.length < 5) {
  // busy per second
  const buckets = new Map<number, number>();
  p.samples.forEach((id: number, i: number) => { const n = byId.get(id); if (n.callFrame.functionName === '(idle)') return; const b = Math.floor(rel(times[i]!)); buckets.set(b, (buckets.get(b) ?? 0) + 1); });
  console.log([...buckets].map(([b, c]) => `${b}:${c}`).join(' '));
} else {
  const from = Number(process.argv[3]), to = Number(process.argv[4]);
  const self = new Map<string, number>(); let total = 0;
  p.samples.forEach((id: number, i: number) => { const r = rel(times[i]!); if (r < from || r > to) return; const n = byId.get(id); const f = n.callFrame; if (f.functionName === '(idle)') return; const k = `${f.functionName} ${f.url.replace(/.*\/(node_modules|src)\//, '$1/')}:${f.lineNumber}`; self.set(k, (self.get(k) ?? 0) + 1); total++; });
  console.log('samples', total);
  for (const [k, c] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((100 * c / total).toFixed(1).padStart(5), k);
}
