// Loads a BenchMesh into a real Polaris server through its HTTP OpenAPI (test/support/polaris.ts).
import type { ApiInstance, ApiRoutingRule, PolarisApi } from '../../test/support/polaris.js';
import { CANARY_HEADER, instanceFields, type BenchInstance, type BenchMesh, type BenchRule } from './mesh.js';

/** apiInstance is one instance as the OpenAPI registers it. */
export function apiInstance(namespace: string, service: string, i: BenchInstance): ApiInstance {
  return {
    namespace,
    service,
    ...instanceFields(i),
    location: { region: i.region, zone: i.zone, campus: '' },
  };
}

function apiRules(namespace: string, r: BenchRule): ApiRoutingRule[] {
  const text = (value: string) => ({ type: 'EXACT', value, value_type: 'TEXT' });
  return [
    {
      name: `canary-${r.service}`,
      namespace,
      priority: 0,
      rules: [
        {
          name: 'r0',
          sources: [
            {
              service: '*',
              namespace: '*',
              arguments: [{ type: 'HEADER', key: CANARY_HEADER, value: text(r.headerValue) }],
            },
          ],
          destinations: [
            { service: r.service, namespace, labels: { version: text('v2') }, weight: 100, priority: 0, name: 'v2' },
          ],
        },
      ],
    },
    {
      name: `default-${r.service}`,
      namespace,
      priority: 1,
      rules: [
        {
          name: 'r0',
          sources: [{ service: '*', namespace: '*' }],
          destinations: [
            { service: r.service, namespace, labels: { version: text('v1') }, weight: 100, priority: 0, name: 'v1' },
          ],
        },
      ],
    },
  ];
}

/** loadPolaris creates the namespace, services, instances and rules of a mesh; `onProgress` gets a count now and then. */
export async function loadPolaris(
  api: PolarisApi,
  mesh: BenchMesh,
  onProgress?: (done: number, total: number) => void,
): Promise<void> {
  const ns = mesh.namespace;
  await api.createNamespaces([ns]);
  await api.createServices(mesh.services.map((s) => ({ namespace: ns, name: s.name })));
  const all = mesh.services.flatMap((s) => s.instances.map((i) => apiInstance(ns, s.name, i)));
  const chunk = 1000;
  for (let i = 0; i < all.length; i += chunk) {
    await api.registerInstances(all.slice(i, i + chunk));
    onProgress?.(Math.min(all.length, i + chunk), all.length);
  }
  if (mesh.rules.length > 0) await api.createRoutingRules(mesh.rules.flatMap((r) => apiRules(ns, r)));
}
