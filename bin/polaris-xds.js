#!/usr/bin/env node
// Entry point of the `polaris-xds` command; the code lives in src/cli.ts (built to dist/).
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    // main reports its own errors; this is the last resort, still one line unless debugging.
    const debug = /^(debug|trace)$/.test(process.env.POLARIS_XDS_LOG_LEVEL ?? '') || process.argv.includes('debug');
    console.error(
      debug
        ? (err?.stack ?? String(err))
        : `polaris-xds: unexpected error: ${String(err?.message ?? err).replace(/\s*\n\s*/g, ' ')}`,
    );
    process.exit(1);
  },
);
