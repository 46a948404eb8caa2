// Watches one file for changes: fs.watch on its folder (editors replace files by rename, which a
// watch on the file itself would lose) plus a stat poll for file systems where fs.watch is silent.
import { statSync, watch, type FSWatcher, type Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';

export interface WatchOptions {
  /** Stat poll period (default 2000 ms). */
  readonly pollMs?: number;
  /** Changes closer together than this are reported once (default 100 ms). */
  readonly debounceMs?: number;
  /** Use fs.watch besides the poll (default true); false leaves only the poll. */
  readonly fsWatch?: boolean;
}

const signatureOf = (s: Stats | undefined): string => (s ? `${s.ino}:${s.size}:${s.mtimeMs}` : 'missing');

async function signature(path: string): Promise<string> {
  return signatureOf(await stat(path).catch(() => undefined));
}

/**
 * watchFile calls `onChange` (debounced) whenever `path` may have changed; it returns a function that stops watching.
 */
export function watchFile(path: string, onChange: () => void, opts: WatchOptions = {}): () => void {
  let debounce: NodeJS.Timeout | undefined;
  // The state the file is in when watching starts: a change made right after is a change.
  let last = signatureOf(statSync(path, { throwIfNoEntry: false }));
  let stopped = false;
  const fire = (): void => {
    if (stopped || debounce !== undefined) return;
    debounce = setTimeout(() => {
      debounce = undefined;
      if (!stopped) onChange();
    }, opts.debounceMs ?? 100);
    debounce.unref();
  };
  let watcher: FSWatcher | undefined;
  if (opts.fsWatch !== false) {
    try {
      const name = basename(path);
      watcher = watch(dirname(path), { persistent: false }, (_event, file) => {
        if (file === null || file === name) fire();
      });
      watcher.on('error', () => undefined);
    } catch {
      watcher = undefined; // the poll below still sees changes
    }
  }
  let polling = false;
  const poll = setInterval(() => {
    if (polling) return;
    polling = true;
    void signature(path)
      .then((s) => {
        if (s !== last) fire();
        last = s;
      })
      .finally(() => (polling = false));
  }, opts.pollMs ?? 2000);
  poll.unref();
  return () => {
    stopped = true;
    watcher?.close();
    clearInterval(poll);
    if (debounce !== undefined) clearTimeout(debounce);
  };
}
