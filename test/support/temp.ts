// Temporary folders for tests: one a test removes itself, or one per test file removed when its tests end.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** ScratchDir is one temporary folder; `file` writes a new file in it and returns its path. */
export interface ScratchDir {
  readonly dir: string;
  file(name: string, text: string): string;
}

/** tempDir makes a temporary folder and a function that removes it. */
export function tempDir(prefix: string): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** scratchDir makes a temporary folder that is removed after the calling file's tests. */
export function scratchDir(prefix: string): ScratchDir {
  const { dir, remove } = tempDir(prefix);
  after(remove);
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
