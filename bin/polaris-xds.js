#!/usr/bin/env node
// Entry point of the `polaris-xds` command; the code lives in src/cli.ts (built to dist/).
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exit(1);
  },
);
