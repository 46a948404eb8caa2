// The malloc settings the container image runs polaris-xds with (Dockerfile, runtime stage), so
// the bench measures the bridge as it is deployed. Read from the Dockerfile, not repeated here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DOCKERFILE = fileURLToPath(new URL('../../Dockerfile', import.meta.url));

/** imageMallocEnv lists the MALLOC_* variables the runtime image sets. */
export function imageMallocEnv(): Record<string, string> {
  const text = readFileSync(DOCKERFILE, 'utf8');
  const runtime = text.slice(text.indexOf(' AS runtime'));
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n')) {
    if (!line.startsWith('ENV ')) continue;
    for (const m of line.matchAll(/(MALLOC_[A-Z_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  }
  return env;
}
