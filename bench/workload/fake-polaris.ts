// Loads a BenchMesh into the in-process fake Polaris (test/support/fake-polaris.ts) in the v1
// shape the real server answers with, and applies changes to it service by service.
import type { FakeRoute, FakeService } from '../../test/support/fake-polaris.js';
import { CANARY_HEADER, instanceFields, type BenchMesh, type BenchService } from './mesh.js';

const V2_ID = '__routing_v2_id__';
const V2_PRIORITY = '__routing_v2_priority__';

function inboundsOf(mesh: BenchMesh, service: string): FakeRoute[] {
  const rule = mesh.rules.find((r) => r.service === service);
  if (!rule) return [];
  const ns = mesh.namespace;
  return [
    {
      sources: [
        {
          service: '*',
          namespace: '*',
          metadata: { [`$header.${CANARY_HEADER}`]: { type: 'EXACT', value: rule.headerValue } },
        },
      ],
      destinations: [
        {
          service,
          namespace: ns,
          metadata: { version: { type: 'EXACT', value: 'v2' } },
          weight: 100,
          priority: 0,
          name: `canary-${service}.r0.v2`,
        },
      ],
      extendInfo: { [V2_ID]: `canary-${service}`, [V2_PRIORITY]: '0' },
    },
    {
      sources: [{ service: '*', namespace: '*' }],
      destinations: [
        {
          service,
          namespace: ns,
          metadata: { version: { type: 'EXACT', value: 'v1' } },
          weight: 100,
          priority: 0,
          name: `default-${service}.r0.v1`,
        },
      ],
      extendInfo: { [V2_ID]: `default-${service}`, [V2_PRIORITY]: '1' },
    },
  ];
}

/** fakeService is one service of a BenchMesh as the fake Polaris holds it. */
export function fakeService(mesh: BenchMesh, s: BenchService): FakeService {
  return {
    namespace: mesh.namespace,
    name: s.name,
    instances: s.instances.map((i) => ({
      ...instanceFields(i),
      location: { region: i.region, zone: i.zone, campus: '' },
      // The real server adds these labels to what it serves; rules select on them.
      metadata: { version: i.version, protocol: i.protocol, region: i.region, zone: i.zone, campus: '' },
    })),
    inbounds: inboundsOf(mesh, s.name),
  };
}

/** FakeTarget is the part of FakePolaris the loader uses. */
export interface FakeTarget {
  setService(s: FakeService): void;
}

/** loadFake puts every service of a mesh into the fake. */
export function loadFake(fake: FakeTarget, mesh: BenchMesh): void {
  for (const s of mesh.services) fake.setService(fakeService(mesh, s));
}

/** applyFake updates the fake with the one service a change touched. */
export function applyFake(fake: FakeTarget, mesh: BenchMesh, service: string): void {
  const s = mesh.services.find((x) => x.name === service);
  if (!s) throw new Error(`applyFake: no service ${service}`);
  fake.setService(fakeService(mesh, s));
}
