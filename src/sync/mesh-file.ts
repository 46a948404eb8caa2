// Turns a validated mesh file into a MeshState with the same model RouteRules the Polaris syncer
// produces: a rule's caller is its first source, its callee its first destination, and each
// service gets the rules for which it is callee (inbounds, only its own destinations) or caller
// (outbounds), wildcards included, as the Polaris server does.
import { createHash } from 'node:crypto';
import {
  compareKeys,
  type CircuitBreakerRule,
  type FaultDetectRule,
  type RateLimitRule,
  meshState,
  type Instance,
  type MatchString,
  type MeshState,
  type RouteDestination,
  type RouteRule,
  type RouteSource,
  type Routing,
  type Service,
} from '../model/mesh.js';
import { polarisInstanceId } from './convert.js';
import { fileCircuitBreaker, fileFaultDetector, fileRateLimit, ruleSet } from './mesh-file-governance.js';
import type { MeshFile, MeshFileRule, MeshFileService } from './mesh-file-schema.js';
import { argumentKey } from './route-keys.js';

interface FileMatch {
  readonly type: MatchString['type'];
  readonly value: string;
  readonly value_type: MatchString['valueType'];
}

function match(m: FileMatch): MatchString {
  return { type: m.type, value: m.value, valueType: m.value_type };
}

function sortedMatches(entries: Iterable<[string, FileMatch]>): Record<string, MatchString> {
  const out: Record<string, MatchString> = {};
  for (const [k, m] of [...entries].sort(([a], [b]) => compareKeys(a, b))) out[k] = match(m);
  return out;
}

function revisionOf(data: unknown): string {
  return createHash('sha1').update(JSON.stringify(data)).digest('hex');
}

interface ResolvedRule {
  readonly namespace: string;
  readonly rule: MeshFileRule;
  readonly sources: readonly RouteSource[];
  readonly destinations: readonly RouteDestination[];
}

function resolveRule(namespace: string, rule: MeshFileRule): ResolvedRule {
  const sources = rule.sources.map((s) => ({
    service: s.service,
    namespace: s.namespace ?? (s.service === '*' ? '*' : namespace),
    match: sortedMatches(s.arguments.map((a) => [argumentKey(a.type, a.key), a.value] as [string, FileMatch])),
  }));
  const destinations = rule.destinations.map((d) => ({
    service: d.service,
    namespace: d.namespace ?? namespace,
    labels: sortedMatches(Object.entries(d.labels)),
    priority: d.priority,
    weight: d.weight,
    isolate: d.isolate,
    name: d.name,
  }));
  return { namespace, rule, sources, destinations };
}

/** covers mirrors Polaris's service match: exact, `*` service in the namespace, or `*` everywhere. */
function covers(ns: string, svc: string, namespace: string, name: string): boolean {
  if (ns === namespace && (svc === name || svc === '*')) return true;
  return ns === '*' && svc === '*';
}

function routeRule(r: ResolvedRule, destinations: readonly RouteDestination[]): RouteRule {
  return {
    id: `${r.namespace}/${r.rule.name}`,
    name: r.rule.name,
    priority: r.rule.priority,
    sources: r.sources,
    destinations,
  };
}

// The outbound copy of a rule is the same for every caller it covers: one object and one digest per rule.
const outboundCopies = new WeakMap<ResolvedRule, RouteRule>();
const digests = new WeakMap<RouteRule, string>();

function outboundRule(r: ResolvedRule): RouteRule {
  let rule = outboundCopies.get(r);
  if (!rule) outboundCopies.set(r, (rule = routeRule(r, r.destinations)));
  return rule;
}

function digestOf(rule: RouteRule): string {
  let d = digests.get(rule);
  if (d === undefined) digests.set(rule, (d = revisionOf(rule)));
  return d;
}

function byPriority(a: RouteRule, b: RouteRule): number {
  return a.priority - b.priority || compareKeys(a.id, b.id);
}

/**
 * RuleIndex files rules under the (namespace, service) their callee and caller name, so a service looks only at its
 * own.
 */
interface RuleIndex {
  readonly byCallee: ReadonlyMap<string, readonly ResolvedRule[]>;
  readonly byCaller: ReadonlyMap<string, readonly ResolvedRule[]>;
}

function indexRules(rules: readonly ResolvedRule[]): RuleIndex {
  const byCallee = new Map<string, ResolvedRule[]>();
  const byCaller = new Map<string, ResolvedRule[]>();
  const file = (m: Map<string, ResolvedRule[]>, ns: string, svc: string, r: ResolvedRule): void => {
    const k = `${ns}/${svc}`;
    const list = m.get(k);
    if (list) list.push(r);
    else m.set(k, [r]);
  };
  for (const r of rules) {
    const callee = r.destinations[0]!;
    file(byCallee, callee.namespace, callee.service, r);
    const caller = r.sources[0];
    if (caller !== undefined) file(byCaller, caller.namespace, caller.service, r);
  }
  return { byCallee, byCaller };
}

/** candidates are the rules filed under the keys `covers` can match for a service, in file order. */
function candidates(
  m: ReadonlyMap<string, readonly ResolvedRule[]>,
  order: ReadonlyMap<ResolvedRule, number>,
  namespace: string,
  name: string,
): ResolvedRule[] {
  const found = [
    ...(m.get(`${namespace}/${name}`) ?? []),
    ...(name === '*' ? [] : (m.get(`${namespace}/*`) ?? [])),
    ...(namespace === '*' ? [] : (m.get('*/*') ?? [])),
  ];
  return found.sort((a, b) => order.get(a)! - order.get(b)!);
}

/** Outbounds are the rules a service is the caller of, in priority order, and their digest ('' when none). */
interface Outbounds {
  readonly rules: readonly RouteRule[];
  readonly digest: string;
}

/**
 * outboundsFor lists the rules whose caller covers a service. A service no rule names as its caller gets only its
 * namespace's wildcard rules: one list and one digest per namespace, shared by all such services (a rule open to
 * every caller would otherwise be copied and hashed once per service).
 */
function outboundsFor(
  namespace: string,
  name: string,
  index: RuleIndex,
  order: ReadonlyMap<ResolvedRule, number>,
  byNamespace: Map<string, Outbounds>,
): Outbounds {
  const shared = name !== '*' && !index.byCaller.has(`${namespace}/${name}`);
  const hit = shared ? byNamespace.get(namespace) : undefined;
  if (hit) return hit;
  const rules: RouteRule[] = [];
  for (const r of candidates(index.byCaller, order, namespace, name)) {
    const caller = r.sources[0];
    if (caller !== undefined && covers(caller.namespace, caller.service, namespace, name)) rules.push(outboundRule(r));
  }
  rules.sort(byPriority);
  const out = { rules, digest: rules.length === 0 ? '' : revisionOf(rules.map(digestOf)) };
  if (shared) byNamespace.set(namespace, out);
  return out;
}

function routingFor(
  namespace: string,
  name: string,
  index: RuleIndex,
  order: ReadonlyMap<ResolvedRule, number>,
  outbounds: Outbounds,
): Routing {
  const inbounds: RouteRule[] = [];
  for (const r of candidates(index.byCallee, order, namespace, name)) {
    const callee = r.destinations[0]!;
    if (covers(callee.namespace, callee.service, namespace, name)) {
      const own = r.destinations
        .filter((d) => covers(d.namespace, d.service, namespace, name))
        .map((d) => ({ ...d, service: name, namespace }));
      inbounds.push(routeRule(r, own));
    }
  }
  inbounds.sort(byPriority);
  if (inbounds.length + outbounds.rules.length === 0) return { inbounds, outbounds: outbounds.rules, revision: '' };
  return { inbounds, outbounds: outbounds.rules, revision: revisionOf([revisionOf(inbounds), outbounds.digest]) };
}

/**
 * discoverLabels adds the labels the Polaris server adds to instance metadata before serving it
 * (version, protocol, and the location fields when a location is set), so that rules select the
 * same instances from the file as from Polaris.
 */
function discoverLabels(i: MeshFileService['instances'][number]): Record<string, string> {
  const metadata: Record<string, string> = { ...i.metadata };
  if (i.version !== '') metadata.version = i.version;
  if (i.protocol !== '') metadata.protocol = i.protocol;
  if (i.locality !== undefined)
    Object.assign(metadata, { region: i.locality.region, zone: i.locality.zone, campus: i.locality.campus });
  return metadata;
}

function instancesOf(namespace: string, svc: MeshFileService): Instance[] {
  return svc.instances
    .map((i) => ({
      id: i.id ?? polarisInstanceId(namespace, svc.name, i.host, i.port),
      host: i.host,
      port: i.port,
      protocol: i.protocol,
      version: i.version,
      weight: i.weight,
      priority: i.priority,
      healthy: i.healthy,
      isolate: i.isolate,
      locality: { region: i.locality?.region ?? '', zone: i.locality?.zone ?? '', campus: i.locality?.campus ?? '' },
      metadata: discoverLabels(i),
      revision: '',
    }))
    .sort((a, b) => compareKeys(a.id, b.id));
}

/** Governance is every governance rule of a file, as model rules. */
interface Governance {
  readonly circuitBreakers: readonly CircuitBreakerRule[];
  readonly faultDetectors: readonly FaultDetectRule[];
  readonly rateLimits: readonly RateLimitRule[];
}

function governanceOf(file: MeshFile): Governance {
  return {
    circuitBreakers: file.namespaces.flatMap((ns) => ns.circuitbreakers.map((r) => fileCircuitBreaker(ns.name, r))),
    faultDetectors: file.namespaces.flatMap((ns) => ns.faultdetectors.map((r) => fileFaultDetector(ns.name, r))),
    rateLimits: file.namespaces.flatMap((ns) => ns.ratelimits.map((r) => fileRateLimit(ns.name, r))),
  };
}

/**
 * governanceFor files a service's governance rules as Polaris serves them: circuit breakers whose
 * destination covers it, fault detectors whose target covers it, rate limits that name it.
 */
function governanceFor(
  g: Governance,
  namespace: string,
  name: string,
): Pick<Service, 'circuitBreakers' | 'faultDetectors' | 'rateLimits'> {
  return {
    circuitBreakers: ruleSet(
      g.circuitBreakers.filter((r) => covers(r.destination.namespace, r.destination.service, namespace, name)),
    ),
    faultDetectors: ruleSet(
      g.faultDetectors.filter((r) => covers(r.target.namespace, r.target.service, namespace, name)),
    ),
    rateLimits: ruleSet(
      g.rateLimits.filter((r) => r.namespace === namespace && r.service === name),
      (a, b) => a.priority - b.priority || compareKeys(a.id, b.id),
    ),
  };
}

/**
 * meshFromFile builds the MeshState (origin `file`) of a validated mesh file. Disabled routing rules are left out;
 * governance rules carry their switch.
 */
export function meshFromFile(file: MeshFile): MeshState {
  const governance = governanceOf(file);
  const rules = file.namespaces.flatMap((ns) => ns.rules.filter((r) => r.enable).map((r) => resolveRule(ns.name, r)));
  const index = indexRules(rules);
  const order = new Map(rules.map((r, i) => [r, i]));
  const own = new Map<string, Instance[]>();
  for (const ns of file.namespaces)
    for (const svc of ns.services) own.set(`${ns.name}/${svc.name}`, instancesOf(ns.name, svc));
  const services: Service[] = [];
  const outbounds = new Map<string, Outbounds>();
  for (const ns of file.namespaces) {
    for (const svc of ns.services) {
      const target =
        svc.aliasFor === undefined
          ? undefined
          : { namespace: svc.aliasFor.namespace ?? ns.name, name: svc.aliasFor.name };
      const instances = own.get(`${target?.namespace ?? ns.name}/${target?.name ?? svc.name}`) ?? [];
      services.push({
        namespace: ns.name,
        name: svc.name,
        metadata: { ...svc.metadata },
        instances,
        revision: revisionOf(instances),
        routing: routingFor(ns.name, svc.name, index, order, outboundsFor(ns.name, svc.name, index, order, outbounds)),
        ...governanceFor(governance, ns.name, svc.name),
        ...(target ? { aliasFor: target } : {}),
      });
    }
  }
  return meshState(services, 'file');
}
