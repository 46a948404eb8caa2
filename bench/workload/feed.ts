// Where the bridge gets the mesh from in a run, and how a change is put there: a mesh file that is
// rewritten, or the in-process fake Polaris whose services are replaced. The fake also reports
// when it first answered the bridge with the changed data ("Polaris's answer").
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakePolaris, type SeenRequest } from '../../test/support/fake-polaris.js';
import { nowMs } from '../lib/clock.js';
import type { Change } from './changes.js';
import { applyFake, loadFake } from './fake-polaris.js';
import { writeMeshFile } from './mesh-file.js';
import type { BenchMesh } from './mesh.js';

export type FeedKind = 'file' | 'fake-polaris';

/** Feed is a mesh source the driver controls. */
export interface Feed {
  readonly kind: FeedKind;
  /** What to pass to the bridge: a file path or a Polaris address. */
  readonly bridge: { file?: string; polaris?: string };
  /** apply puts a change in place and returns the time it was complete. */
  apply(change: Change): number;
  /** answeredAt is when the fake first answered with the change (fake Polaris only). */
  answeredAt(): number | undefined;
  close(): Promise<void>;
}

/** fileFeed writes the mesh to a file in a fresh temp folder. */
export function fileFeed(mesh: BenchMesh): Feed {
  const dir = mkdtempSync(join(tmpdir(), 'pxds-bench-mesh-'));
  const file = join(dir, 'mesh.yaml');
  writeMeshFile(file, mesh);
  return {
    kind: 'file',
    bridge: { file },
    apply(change) {
      writeMeshFile(file, change.after);
      return nowMs();
    },
    answeredAt: () => undefined,
    close: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** fakePolarisFeed starts the fake Polaris with the mesh loaded. */
export async function fakePolarisFeed(mesh: BenchMesh): Promise<Feed> {
  const fake = await FakePolaris.start();
  loadFake(fake, mesh);
  let watch: { type: string; name: string; since: number } | undefined;
  let answered: number | undefined;
  const answer = fake.answer.bind(fake);
  fake.answer = (req: SeenRequest) => {
    const out = answer(req);
    const code = (out.code as { value?: number } | undefined)?.value;
    if (
      watch &&
      answered === undefined &&
      code === 200000 &&
      req.type === watch.type &&
      (watch.type === 'SERVICES' || req.name === watch.name)
    )
      answered = nowMs();
    return out;
  };
  return {
    kind: 'fake-polaris',
    bridge: { polaris: fake.address },
    apply(change) {
      answered = undefined;
      const type = change.kind === 'service-add' ? 'SERVICES' : change.kind === 'rule-change' ? 'ROUTING' : 'INSTANCE';
      watch = { type, name: change.service, since: nowMs() };
      applyFake(fake, change.after, change.service);
      return nowMs();
    },
    answeredAt: () => answered,
    close: () => fake.stop(),
  };
}
