// Temporary folders for tests: made once per test file and removed when the file's tests end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** ScratchDir is one temporary folder; `file` writes a new file in it and returns its path. */
export interface ScratchDir {
  readonly dir: string;
  file(name: string, text: string): string;
}

/** scratchDir makes a temporary folder that is removed after the calling file's tests. */
export function scratchDir(prefix: string): ScratchDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  return {
    dir,
    file(name, text) {
      const path = join(dir, `${n++}-${name}`);
      writeFileSync(path, text);
      return path;
    },
  };
}
