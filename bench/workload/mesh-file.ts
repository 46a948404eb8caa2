// Writes a BenchMesh as a polaris-xds mesh file (docs/mesh-file.md). The text is JSON, which is
// valid YAML and much faster to produce for 100,000 instances. Files are replaced by rename, as
// editors do, so the bridge never reads half a file.
import { renameSync, writeFileSync } from 'node:fs';
import { CANARY_HEADER, instanceFields, type BenchMesh, type BenchRule } from './mesh.js';

function rulesOf(r: BenchRule): unknown[] {
  return [
    {
      name: `canary-${r.service}`,
      priority: 0,
      sources: [
        {
          service: '*',
          namespace: '*',
          arguments: [{ type: 'HEADER', key: CANARY_HEADER, value: { type: 'EXACT', value: r.headerValue } }],
        },
      ],
      destinations: [
        { service: r.service, name: 'v2', labels: { version: { type: 'EXACT', value: 'v2' } }, weight: 100 },
      ],
    },
    {
      name: `default-${r.service}`,
      priority: 1,
      sources: [{ service: '*', namespace: '*' }],
      destinations: [
        { service: r.service, name: 'v1', labels: { version: { type: 'EXACT', value: 'v1' } }, weight: 100 },
      ],
    },
  ];
}

/** meshFileText renders the mesh file of a BenchMesh. */
export function meshFileText(mesh: BenchMesh): string {
  const doc = {
    namespaces: [
      {
        name: mesh.namespace,
        services: mesh.services.map((s) => ({
          name: s.name,
          instances: s.instances.map((i) => ({
            ...instanceFields(i),
            locality: { region: i.region, zone: i.zone, campus: '' },
          })),
        })),
        rules: mesh.rules.flatMap(rulesOf),
      },
    ],
  };
  return JSON.stringify(doc);
}

/** writeMeshFile replaces `path` atomically with the mesh file of `mesh`. */
export function writeMeshFile(path: string, mesh: BenchMesh): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, meshFileText(mesh));
  renameSync(tmp, path);
}
