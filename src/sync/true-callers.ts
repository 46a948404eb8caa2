// Polaris (v1.18.1) writes the asking service into a `*` caller of the outbound copy of a routing
// rule it serves, which would make a rule for any caller look like one that names that service;
// the callee's inbound copy keeps the `*`. This repair runs where Polaris's answers become model,
// so the MeshState never carries the rewritten caller: an outbound rule takes the sources of the
// same rule as its callee holds it. Rules are matched by name (`<rule>.<subrule>`).
import { serviceKey, type RouteRule, type RouteSource, type Service } from '../model/mesh.js';

/** TrueCallers keeps one source's services with outbound rules repaired, patched per changed service. */
export class TrueCallers {
  /** By service key: the service as built from the answers, and as published. */
  private readonly services = new Map<string, { readonly raw: Service; readonly out: Service }>();
  /** Callee key → keys of the services whose outbound rules name it. */
  private readonly callers = new Map<string, Set<string>>();
  /** Callee keys each service's outbound rules name, to unlink them when it changes. */
  private readonly callees = new Map<string, readonly string[]>();
  /** An outbound rule with the callee's sources, kept while those sources are the same array. */
  private readonly repaired = new WeakMap<
    RouteRule,
    { readonly sources: readonly RouteSource[]; readonly rule: RouteRule }
  >();

  /**
   * update takes the services built from the answers (by key) and the keys whose object changed
   * (or went away), and returns the services to publish. A service keeps its published object
   * while neither it nor the inbound rules of a callee it names changed.
   */
  update(built: ReadonlyMap<string, Service>, changed: Iterable<string>): Iterable<Service> {
    const affected = new Set<string>();
    for (const k of changed) {
      affected.add(k);
      const before = this.services.get(k)?.raw;
      if (before?.routing.inbounds !== built.get(k)?.routing.inbounds) {
        for (const c of this.callers.get(k) ?? []) affected.add(c);
      }
    }
    for (const k of affected) {
      const raw = built.get(k);
      this.unlink(k);
      if (!raw) {
        this.services.delete(k);
        continue;
      }
      const prev = this.services.get(k);
      const out = this.repair(raw, built, prev?.raw === raw ? prev.out : undefined);
      this.services.set(k, { raw, out });
    }
    return [...this.services.values()].map((e) => e.out);
  }

  private unlink(k: string): void {
    for (const callee of this.callees.get(k) ?? []) {
      const set = this.callers.get(callee);
      set?.delete(k);
      if (set?.size === 0) this.callers.delete(callee);
    }
    this.callees.delete(k);
  }

  /** repair is `raw` with its outbound rules repaired, or `prev` when that gives the same rules. */
  private repair(raw: Service, built: ReadonlyMap<string, Service>, prev: Service | undefined): Service {
    const key = serviceKey(raw.namespace, raw.name);
    const named = new Set<string>();
    let differs = false;
    const rules = raw.routing.outbounds.map((rule) => {
      const dest = rule.destinations.find((d) => d.service !== '' && d.service !== '*');
      if (!dest) return rule;
      const calleeKey = serviceKey(dest.namespace || raw.namespace, dest.service);
      named.add(calleeKey);
      const twin =
        rule.name !== '' ? built.get(calleeKey)?.routing.inbounds.find((r) => r.name === rule.name) : undefined;
      const out = !twin || twin.sources === rule.sources ? rule : this.withSources(rule, twin.sources);
      if (out !== rule) differs = true;
      return out;
    });
    this.callees.set(key, [...named]);
    for (const callee of named) {
      let set = this.callers.get(callee);
      if (!set) this.callers.set(callee, (set = new Set()));
      set.add(key);
    }
    if (!differs) return raw;
    if (
      prev &&
      prev.routing.outbounds.length === rules.length &&
      prev.routing.outbounds.every((r, i) => r === rules[i])
    ) {
      return prev;
    }
    return { ...raw, routing: { ...raw.routing, outbounds: rules } };
  }

  private withSources(rule: RouteRule, sources: readonly RouteSource[]): RouteRule {
    const hit = this.repaired.get(rule);
    if (hit?.sources === sources) return hit.rule;
    const out = { ...rule, sources };
    this.repaired.set(rule, { sources, rule: out });
    return out;
  }
}
