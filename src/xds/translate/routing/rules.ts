// Routing rules → ordered routes. Polaris applies the first rule (by priority, then list order)
// one of whose sources matches the request; so do Envoy and grpc-js with routes in that order.
// A rule's sources are ORed (one route per source, and per IN value), the conditions of a source
// are ANDed. A rule is translated exactly or left out with a reason.
import type { RouteDestination, RouteRule, RouteSource } from '../../../model/mesh.js';
import { skip, type SkipReason } from '../skip.js';
import { ruleTarget, type Resolved, type RuleClusterSpec } from './destinations.js';
import { MAX_ROUTES_PER_RULE, routeMatch, sourceMatch, type Conditions, type Flavor } from './match.js';
import type { RouteMatch } from '../../../gen/envoy/config/route/v3/route_components.js';

/** Caller is who sends the requests: the node's own service. Empty names mean unknown. */
export interface Caller {
  readonly namespace: string;
  readonly service: string;
}

/** PlannedRoute is one route before encoding. */
export interface PlannedRoute {
  readonly name: string;
  readonly match: Partial<RouteMatch>;
  readonly cluster: string;
}

/** RulePlan is the routes of a rule list, the rule clusters they use, and what was left out. */
export interface RulePlan {
  readonly routes: readonly PlannedRoute[];
  readonly clusters: readonly RuleClusterSpec[];
  readonly skipped: readonly SkipReason[];
}

export interface RuleContext {
  /** Locates the rule list for skip reasons, e.g. `ns/svc.routing.inbounds`. */
  readonly path: string;
  readonly caller: Caller;
  readonly flavor: Flavor;
  readonly resolve: (d: RouteDestination) => Resolved;
  /**
   * Only sources that name the caller's service (not `*`) apply, and rules without sources do not.
   * For a gateway's any-host routes: a rule for any caller of a service says how calls *to that
   * service* are routed (its virtual host does that); it does not say that requests for other
   * hosts go there.
   */
  readonly explicitCaller?: boolean;
}

export function isWildcard(s: string): boolean {
  return s === '' || s === '*';
}

/**
 * appliesTo says whether a source names this caller (`*` or empty = any). An unknown caller only
 * matches sources open to any caller, as Polaris SDKs do without a source service.
 */
export function appliesTo(source: Pick<RouteSource, 'service' | 'namespace'>, caller: Caller): boolean {
  const nsOk = isWildcard(source.namespace) || (caller.namespace !== '' && source.namespace === caller.namespace);
  const svcOk = isWildcard(source.service) || (caller.service !== '' && source.service === caller.service);
  return nsOk && svcOk;
}

function sortedRules(rules: readonly RouteRule[]): RouteRule[] {
  // Stable: equal priorities keep list order.
  return rules
    .map((r, i) => ({ r, i }))
    .sort((a, b) => a.r.priority - b.r.priority || a.i - b.i)
    .map(({ r }) => r);
}

/**
 * applicableSources lists the sources of a rule that apply to the caller; a rule without sources has one open source
 * (index -1).
 */
function applicableSources(
  rule: RouteRule,
  ctx: RuleContext,
): Array<{ index: number; source: RouteSource | undefined }> {
  if (rule.sources.length === 0) return ctx.explicitCaller ? [] : [{ index: -1, source: undefined }];
  return rule.sources
    .map((source, index) => ({ index, source }))
    .filter(({ source }) => appliesTo(source, ctx.caller) && !(ctx.explicitCaller && isWildcard(source.service)));
}

/** planRules turns the rules that apply to a caller into routes, in Polaris's order. */
export function planRules(rules: readonly RouteRule[], ctx: RuleContext): RulePlan {
  const routes: PlannedRoute[] = [];
  const clusters = new Map<string, RuleClusterSpec>();
  const skipped: SkipReason[] = [];
  for (const rule of sortedRules(rules)) {
    const path = `${ctx.path}[${rule.id}]`;
    const sources = applicableSources(rule, ctx);
    if (sources.length === 0) continue;

    const alternatives: Conditions[] = [];
    let refused: SkipReason | undefined;
    for (const { index, source } of sources) {
      if (!source) {
        alternatives.push({ headers: [], query: [] });
        continue;
      }
      const m = sourceMatch(source, ctx.flavor);
      if (!m.ok) {
        refused = skip('rule', `${path}.sources[${index}].match[${JSON.stringify(m.key)}]`, m.reason);
        break;
      }
      alternatives.push(...m.alternatives);
    }
    if (!refused && alternatives.length > MAX_ROUTES_PER_RULE) {
      refused = skip(
        'rule',
        `${path}.sources`,
        `sources and IN values would expand into more than ${MAX_ROUTES_PER_RULE} routes`,
      );
    }
    if (refused) {
      skipped.push(refused);
      continue;
    }

    const target = ruleTarget(rule, path, ctx.resolve);
    skipped.push(...target.notes);
    if (target.kind === 'none') {
      skipped.push(target.reason);
      continue;
    }
    if (target.spec) clusters.set(target.spec.name, target.spec);
    alternatives.forEach((c, n) => {
      routes.push({
        name: alternatives.length === 1 ? rule.id : `${rule.id}#${n}`,
        match: routeMatch(c),
        cluster: target.cluster,
      });
    });
  }
  return { routes, clusters: [...clusters.values()], skipped };
}
