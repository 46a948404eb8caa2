// The four changes the bench applies, as pure steps from one BenchMesh to the next. Each says
// which service it touched and what a client must receive for the change to have arrived.
import { CANARY_HEADER, makeInstance, makeService, type BenchMesh, type BenchService } from './mesh.js';
import { Rng } from './rng.js';

export type ChangeKind = 'health-flip' | 'instance-add' | 'service-add' | 'rule-change';
export const CHANGE_KINDS: readonly ChangeKind[] = ['health-flip', 'instance-add', 'service-add', 'rule-change'];

export type TypeShort = 'cds' | 'eds' | 'lds' | 'rds' | 'vhds';

/**
 * Expectation is one thing a stream must receive: a resource of `type`, named `name` (any name
 * when absent) whose encoded bytes contain `needle` (when present).
 */
export interface Expectation {
  readonly type: TypeShort;
  readonly name?: string;
  readonly needle?: string;
  /** On-demand streams expect it only when they call this service (hold what it concerns). */
  readonly service?: string;
}

export interface Change {
  readonly kind: ChangeKind;
  /** The service whose data changed (for a rule, the service the rule routes to). */
  readonly service: string;
  readonly detail: string;
  readonly before: BenchMesh;
  readonly after: BenchMesh;
  readonly expect: readonly Expectation[];
}

/**
 * onDemandExpectations is what an on-demand sidecar that calls the changed service must receive:
 * the route change as that service's VHDS virtual host, endpoint changes as they are; a new
 * service concerns no one yet (nobody has called it).
 */
export function onDemandExpectations(change: Change, namespace: string): Expectation[] {
  if (change.kind === 'service-add') return [];
  return change.expect.map((e) =>
    e.type === 'rds'
      ? {
          type: 'vhds',
          name: `${OUTBOUND_ROUTES}/${change.service}.${namespace}`,
          needle: e.needle,
          service: change.service,
        }
      : { ...e, service: change.service },
  );
}

/** clusterName is the bridge's (and Polaris's) outbound cluster and assignment name. */
export function clusterName(namespace: string, service: string): string {
  return `OUTBOUND|${namespace}|${service}`;
}

export const OUTBOUND_ROUTES = 'polaris-outbound-router';

function replaceService(mesh: BenchMesh, s: BenchService): BenchMesh {
  return { ...mesh, services: mesh.services.map((x) => (x.name === s.name ? s : x)) };
}

/** ChangeMaker draws changes from a seed; new hosts and services never collide with generated ones. */
export class ChangeMaker {
  private readonly rng: Rng;
  private added = 0;
  private newServices = 0;
  private ruleEdits = 0;

  constructor(seed: number) {
    this.rng = new Rng(seed ^ 0x5eed);
  }

  private pick(mesh: BenchMesh, target?: string): BenchService {
    return (
      (target !== undefined ? mesh.services.find((s) => s.name === target) : undefined) ??
      mesh.services[this.rng.int(mesh.services.length)]!
    );
  }

  /** make draws a change of `kind`; `target` fixes the service it touches (a service with a rule, for rule-change). */
  make(kind: ChangeKind, mesh: BenchMesh, target?: string): Change {
    switch (kind) {
      case 'health-flip':
        return this.healthFlip(mesh, target);
      case 'instance-add':
        return this.instanceAdd(mesh, target);
      case 'service-add':
        return this.serviceAdd(mesh);
      case 'rule-change':
        return this.ruleChange(mesh, target);
    }
  }

  healthFlip(mesh: BenchMesh, target?: string): Change {
    const s = this.pick(mesh, target);
    const [first, ...rest] = s.instances;
    const flipped = { ...first!, healthy: !first!.healthy };
    const after = replaceService(mesh, { ...s, instances: [flipped, ...rest] });
    return {
      kind: 'health-flip',
      service: s.name,
      detail: `${s.name} ${first!.host} healthy=${flipped.healthy}`,
      before: mesh,
      after,
      expect: [{ type: 'eds', name: clusterName(mesh.namespace, s.name) }],
    };
  }

  instanceAdd(mesh: BenchMesh, target?: string): Change {
    const s = this.pick(mesh, target);
    // Slots 60000+ are never generated, so the host is new.
    const slot = 60000 + Math.floor(this.added / 250);
    const inst = { ...makeInstance(this.rng, slot, this.added % 250), healthy: true };
    this.added++;
    const after = replaceService(mesh, { ...s, instances: [...s.instances, inst] });
    return {
      kind: 'instance-add',
      service: s.name,
      detail: `${s.name} +${inst.host}`,
      before: mesh,
      after,
      expect: [{ type: 'eds', name: clusterName(mesh.namespace, s.name), needle: inst.host }],
    };
  }

  serviceAdd(mesh: BenchMesh): Change {
    const slot = 50000 + this.newServices++;
    const generated = makeService(this.rng, slot, mesh.services[0]?.instances.length ?? 10, false);
    const s = { ...generated, name: `new-${generated.name}` };
    const after = { ...mesh, services: [...mesh.services, s] };
    const cluster = clusterName(mesh.namespace, s.name);
    return {
      kind: 'service-add',
      service: s.name,
      detail: s.name,
      before: mesh,
      after,
      expect: [
        { type: 'cds', name: cluster },
        { type: 'eds', name: cluster },
        { type: 'rds', name: OUTBOUND_ROUTES, needle: `${s.name}.${mesh.namespace}` },
      ],
    };
  }

  ruleChange(mesh: BenchMesh, target?: string): Change {
    if (mesh.rules.length === 0) throw new Error('rule-change: the mesh has no rules (raise the rule share)');
    const fixed = target === undefined ? -1 : mesh.rules.findIndex((r) => r.service === target);
    const idx = fixed >= 0 ? fixed : this.rng.int(mesh.rules.length);
    const rule = mesh.rules[idx]!;
    const headerValue = `canary-${++this.ruleEdits}`;
    const after = { ...mesh, rules: mesh.rules.map((r, i) => (i === idx ? { ...r, headerValue } : r)) };
    return {
      kind: 'rule-change',
      service: rule.service,
      detail: `${rule.service} ${CANARY_HEADER}: ${rule.headerValue} → ${headerValue}`,
      before: mesh,
      after,
      expect: [{ type: 'rds', name: OUTBOUND_ROUTES, needle: headerValue }],
    };
  }
}
