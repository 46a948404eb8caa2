// Pure conversion of Polaris Discover payloads into the mesh model. Nothing here does I/O or
// logs: a malformed entry is left out and reported as a SkippedItem whose reason starts with the
// path of the offending field, and the caller logs and counts it.
import { createHash } from 'node:crypto';
import type { MatchString as PMatchString } from '../gen/v1/model.js';
import type {
  Destination as PDestination,
  Route as PRoute,
  Routing as PRouting,
  Source as PSource,
} from '../gen/v1/routing.js';
import type { Instance as PInstance, Service as PService } from '../gen/v1/service.js';
import {
  compareKeys,
  serviceKey,
  type Instance,
  type MatchString,
  type RouteDestination,
  type RouteRule,
  type RouteSource,
  type Routing,
  type ServiceRef,
} from '../model/mesh.js';
import { MATCH_TYPES, VALUE_TYPES } from './route-keys.js';

/** SkippedKind says what a SkippedItem is: an instance, a routing rule, or a governance rule of the named kind. */
export type SkippedKind = 'instance' | 'rule' | 'rate-limit' | 'circuit-breaker' | 'fault-detector';

/** SkippedItem is one entry left out of the model, with why. `service` is a serviceKey. */
export interface SkippedItem {
  readonly service: string;
  readonly kind: SkippedKind;
  readonly id: string;
  readonly reason: string;
}

/** ServiceEntry is one element of a SERVICES answer. */
export interface ServiceEntry {
  readonly namespace: string;
  readonly name: string;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The extendInfo keys newer Polaris servers put on each v1 Route built from a v2 rule. */
export const V2_ID_KEY = '__routing_v2_id__';
export const V2_PRIORITY_KEY = '__routing_v2_priority__';

/** Malformed is thrown by converters for an entry to leave out; its message starts with the field path. */
export class Malformed extends Error {}

/** polarisInstanceId computes the id Polaris gives an instance registered without one. */
export function polarisInstanceId(namespace: string, service: string, host: string, port: number): string {
  return createHash('sha1').update(`${namespace}##${service}##${host}##${port}`).digest('hex');
}

/** convertServiceList turns a SERVICES payload into entries sorted by key; nameless entries are dropped. */
export function convertServiceList(services: readonly PService[]): ServiceEntry[] {
  const out = new Map<string, ServiceEntry>();
  for (const s of services) {
    const name = s.name ?? '';
    const namespace = s.namespace ?? '';
    if (name === '' || namespace === '') continue;
    out.set(serviceKey(namespace, name), { namespace, name, metadata: { ...s.metadata } });
  }
  return [...out.entries()].sort(([a], [b]) => compareKeys(a, b)).map(([, e]) => e);
}

/**
 * convertInstances turns an INSTANCE payload into model instances sorted by id. Absent wrappers
 * take Polaris's defaults (weight 100, healthy true, isolate false); an instance without host or
 * port is skipped.
 */
export function convertInstances(
  namespace: string,
  service: string,
  instances: readonly PInstance[],
): { instances: Instance[]; skipped: SkippedItem[] } {
  const key = serviceKey(namespace, service);
  const skipped: SkippedItem[] = [];
  const byId = new Map<string, Instance>();
  instances.forEach((p, i) => {
    const host = p.host ?? '';
    const port = p.port ?? 0;
    const id = p.id || (host && port ? polarisInstanceId(namespace, service, host, port) : `instances[${i}]`);
    if (host === '') {
      skipped.push({ service: key, kind: 'instance', id, reason: `instances[${i}].host: missing` });
      return;
    }
    if (!(port > 0 && port < 65536)) {
      skipped.push({ service: key, kind: 'instance', id, reason: `instances[${i}].port: ${port} is not a valid port` });
      return;
    }
    byId.set(id, {
      id,
      host,
      port,
      protocol: p.protocol ?? '',
      version: p.version ?? '',
      weight: p.weight ?? 100,
      priority: p.priority ?? 0,
      healthy: p.healthy ?? true,
      isolate: p.isolate ?? false,
      locality: { region: p.location?.region ?? '', zone: p.location?.zone ?? '', campus: p.location?.campus ?? '' },
      metadata: { ...p.metadata },
      revision: p.revision ?? '',
    });
  });
  const sorted = [...byId.values()].sort((a, b) => compareKeys(a.id, b.id));
  return { instances: sorted, skipped };
}

/** aliasTarget returns the service an INSTANCE answer says `namespace/name` is an alias of, if any. */
export function aliasTarget(namespace: string, name: string, aliasFor: PService | undefined): ServiceRef | undefined {
  const tName = aliasFor?.name ?? '';
  const tNamespace = aliasFor?.namespace ?? '';
  // The server fills aliasFor with the service itself when it is not an alias.
  if (tName === '' || tNamespace === '' || (tName === name && tNamespace === namespace)) return undefined;
  return { namespace: tNamespace, name: tName };
}

/** matchString converts a Polaris MatchString, or throws Malformed naming `path`. */
export function matchString(m: PMatchString | undefined, path: string): MatchString {
  if (m === undefined) throw new Malformed(`${path}: missing`);
  const type = MATCH_TYPES[m.type];
  if (type === undefined) throw new Malformed(`${path}.type: unknown match type ${m.type}`);
  const valueType = VALUE_TYPES[m.valueType];
  if (valueType === undefined) throw new Malformed(`${path}.value_type: unknown value type ${m.valueType}`);
  return { type, value: m.value ?? '', valueType };
}

/** matchMap converts a map of MatchStrings, keys sorted. */
export function matchMap(map: Readonly<Record<string, PMatchString>>, path: string): Record<string, MatchString> {
  const out: Record<string, MatchString> = {};
  for (const k of Object.keys(map).sort(compareKeys)) out[k] = matchString(map[k], `${path}[${JSON.stringify(k)}]`);
  return out;
}

function source(s: PSource, path: string): RouteSource {
  return { service: s.service || '*', namespace: s.namespace || '*', match: matchMap(s.metadata, `${path}.metadata`) };
}

function destination(d: PDestination, path: string, ownerNamespace: string): RouteDestination {
  if (!d.service) throw new Malformed(`${path}.service: missing`);
  return {
    service: d.service,
    namespace: d.namespace || ownerNamespace,
    labels: matchMap(d.metadata, `${path}.metadata`),
    priority: d.priority ?? 0,
    // An absent weight means "not set", as for instances; 0 is kept as sent.
    weight: d.weight ?? 100,
    isolate: d.isolate ?? false,
    name: d.name ?? '',
  };
}

/** ruleNameOf recovers `<rule>.<subrule>` from the server's destination name `<rule>.<subrule>.<group>`. */
function ruleNameOf(route: PRoute): string {
  const dest = route.destinations.find((d) => d.name)?.name ?? '';
  const dot = dest.lastIndexOf('.');
  return dot > 0 ? dest.slice(0, dot) : dest;
}

interface Keyed {
  readonly rule: RouteRule;
  readonly v2id: string;
}

function convertRoutes(
  routes: readonly PRoute[],
  dir: 'inbounds' | 'outbounds',
  owner: string,
  ownerNamespace: string,
  skipped: SkippedItem[],
): RouteRule[] {
  const subIndex = new Map<string, number>();
  const keyed: Keyed[] = [];
  routes.forEach((route, i) => {
    const path = `${dir}[${i}]`;
    const v2id = route.extendInfo[V2_ID_KEY] ?? '';
    const name = ruleNameOf(route);
    let id: string;
    if (v2id) {
      const n = subIndex.get(v2id) ?? 0;
      subIndex.set(v2id, n + 1);
      id = `${v2id}#${n}`;
    } else {
      id = `${name || dir}#${i}`;
    }
    try {
      const rawPriority = route.extendInfo[V2_PRIORITY_KEY];
      let priority = 0;
      if (rawPriority !== undefined) {
        if (!/^\d+$/.test(rawPriority))
          throw new Malformed(`${path}.extendInfo.${V2_PRIORITY_KEY}: ${JSON.stringify(rawPriority)} is not a number`);
        priority = Number(rawPriority);
      }
      const sources = route.sources.map((s, j) => source(s, `${path}.sources[${j}]`));
      const destinations = route.destinations.map((d, j) =>
        destination(d, `${path}.destinations[${j}]`, ownerNamespace),
      );
      if (destinations.length === 0) throw new Malformed(`${path}.destinations: empty`);
      keyed.push({ rule: { id, name, priority, sources, destinations }, v2id });
    } catch (err) {
      if (!(err instanceof Malformed)) throw err;
      skipped.push({ service: owner, kind: 'rule', id, reason: err.message });
    }
  });
  // Newer servers do not keep outbound order; (priority, rule id) is the order Polaris applies.
  // Old servers send neither key, and their list order (already by priority, then id) is kept.
  return keyed
    .map((k, i) => ({ ...k, i }))
    .sort((a, b) => a.rule.priority - b.rule.priority || compareKeys(a.v2id, b.v2id) || a.i - b.i)
    .map((k) => k.rule);
}

/** convertRouting turns a ROUTING payload (the server's v1 view of v2 rules) into model Routing. */
export function convertRouting(
  namespace: string,
  service: string,
  routing: PRouting | undefined,
  revision: string,
): { routing: Routing; skipped: SkippedItem[] } {
  const owner = serviceKey(namespace, service);
  const skipped: SkippedItem[] = [];
  const inbounds = convertRoutes(routing?.inbounds ?? [], 'inbounds', owner, namespace, skipped);
  const outbounds = convertRoutes(routing?.outbounds ?? [], 'outbounds', owner, namespace, skipped);
  return { routing: { inbounds, outbounds, revision }, skipped };
}
