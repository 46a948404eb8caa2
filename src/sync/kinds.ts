// The per-service kinds the syncer keeps, as one table: how an answer's revision is read, how its
// payload becomes model (convert*.ts), and how a new value is merged with the held one so that an
// answer that changed nothing but its revision yields the same object (and so no push). Adding a
// kind is one entry here, one field of Service, and one converter.
import type { DiscoverResponse } from '../gen/v1/discover.js';
import type {
  CircuitBreakerRule,
  FaultDetectRule,
  Instance,
  RateLimitRule,
  Routing,
  RuleSet,
  ServiceRef,
} from '../model/mesh.js';
import { aliasTarget, convertInstances, convertRouting, type SkippedItem } from './convert.js';
import { convertCircuitBreakers, convertFaultDetectors, convertRateLimits } from './convert-governance.js';
import { sameData } from './equal.js';
import type { ServiceKind } from './keys.js';

/** InstancePart is what an INSTANCE answer holds: the instances, their revision, and the alias target. */
export interface InstancePart {
  readonly list: readonly Instance[];
  readonly revision: string;
  readonly aliasFor?: ServiceRef;
}

/** KindValues maps each kind to the model value its answers become. */
export interface KindValues {
  INSTANCE: InstancePart;
  ROUTING: Routing;
  RATE_LIMIT: RuleSet<RateLimitRule>;
  CIRCUIT_BREAKER: RuleSet<CircuitBreakerRule>;
  FAULT_DETECTOR: RuleSet<FaultDetectRule>;
}

/** KindSpec is one kind's entry of the table. */
export interface KindSpec<K extends ServiceKind> {
  /** revision is the revision to send next time, from a 200000 answer. */
  revision(resp: DiscoverResponse): string;
  /** convert turns a 200000 answer into model, leaving out (and listing) what it cannot read. */
  convert(ref: ServiceRef, resp: DiscoverResponse, revision: string): { value: KindValues[K]; skipped: SkippedItem[] };
  /**
   * merge returns `prev` when `next` holds the same data, else the value to keep (it may share unchanged parts of
   * `prev`).
   */
  merge(prev: KindValues[K] | undefined, next: KindValues[K]): KindValues[K];
}

function ruleSetMerge<T>(prev: RuleSet<T> | undefined, next: RuleSet<T>): RuleSet<T> {
  return prev !== undefined && sameData(prev.rules, next.rules) ? prev : next;
}

/** KINDS is the table of per-service kinds. */
export const KINDS: { readonly [K in ServiceKind]: KindSpec<K> } = {
  INSTANCE: {
    revision: (resp) => resp.service?.revision ?? '',
    convert(ref, resp, revision) {
      const { instances, skipped } = convertInstances(ref.namespace, ref.name, resp.instances);
      return {
        value: { list: instances, revision, aliasFor: aliasTarget(ref.namespace, ref.name, resp.aliasFor) },
        skipped,
      };
    },
    merge: (prev, next) =>
      prev !== undefined && sameData(prev.list, next.list) && sameData(prev.aliasFor, next.aliasFor) ? prev : next,
  },
  ROUTING: {
    revision: (resp) => resp.service?.revision ?? resp.routing?.revision ?? '',
    convert: (ref, resp, revision) => {
      const { routing, skipped } = convertRouting(ref.namespace, ref.name, resp.routing, revision);
      return { value: routing, skipped };
    },
    merge(prev, next) {
      if (prev === undefined) return next;
      const sameIn = sameData(prev.inbounds, next.inbounds);
      if (sameIn && sameData(prev.outbounds, next.outbounds)) return prev;
      // Unchanged inbound rules stay the same object: the translator then leaves the service alone
      // when only its outbound copies changed (a rule for any caller is in every service's outbounds).
      return sameIn ? { ...next, inbounds: prev.inbounds } : next;
    },
  },
  RATE_LIMIT: {
    // No rules: 200000 without payload or revision.
    revision: (resp) => resp.service?.revision || resp.rateLimit?.revision || '',
    convert: (ref, resp, revision) => convertRateLimits(ref.namespace, ref.name, resp.rateLimit, revision),
    merge: ruleSetMerge,
  },
  CIRCUIT_BREAKER: {
    revision: (resp) => resp.service?.revision || resp.circuitBreaker?.revision || '',
    convert: (ref, resp, revision) => convertCircuitBreakers(ref.namespace, ref.name, resp.circuitBreaker, revision),
    merge: ruleSetMerge,
  },
  FAULT_DETECTOR: {
    revision: (resp) => resp.service?.revision || resp.faultDetector?.revision || '',
    convert: (ref, resp, revision) => convertFaultDetectors(ref.namespace, ref.name, resp.faultDetector, revision),
    merge: ruleSetMerge,
  },
};
