import { hotSpots } from './lib/cpuprofile.js';
import { readdirSync } from 'node:fs';
const dir = process.argv[2]!;
const h = hotSpots(dir + '/' + readdirSync(dir)[0]!, '/work/main', 30);
console.log(h.sampledMs, h.gcMs);
for (const t of h.top) console.log(t.selfPct.toFixed(1), t.totalPct.toFixed(1), t.fn, t.where);
