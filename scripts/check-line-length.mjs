// Fails when a line of src/ (generated code aside) is over 120 characters: Biome's formatter wraps
// code at that width but leaves long strings and comments as they are.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const MAX = 120;
const long = [];
function walk(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (path !== join('src', 'gen')) walk(path);
    } else if (entry.name.endsWith('.ts')) {
      readFileSync(path, 'utf8')
        .split('\n')
        .forEach((line, i) => {
          if (line.length > MAX) long.push(`${path}:${i + 1}: ${line.length} characters (at most ${MAX})`);
        });
    }
  }
}
walk('src');
if (long.length > 0) {
  console.error(long.join('\n'));
  process.exit(1);
}
