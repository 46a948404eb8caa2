// Destination label conditions, evaluated here against instance metadata. Because each rule
// destination gets its own endpoint list (see destinations.ts), every match type can be applied
// exactly at translation time; Envoy never sees the labels.
import type { MatchString } from '../../../model/mesh.js';
import { parseRange } from './match.js';

/** LabelSelector decides whether an instance belongs to a destination group. */
export interface LabelSelector {
  readonly matches: (metadata: Readonly<Record<string, string>>) => boolean;
  /** True when the selector accepts every instance. */
  readonly all: boolean;
  /** A stable text form, for naming the cluster the group ends up in. */
  readonly canonical: string;
}

export type LabelResult =
  | { readonly ok: true; readonly selector: LabelSelector }
  | { readonly ok: false; readonly key: string; readonly reason: string };

/** Test says whether a value meets a condition. */
export type Test = (value: string) => boolean;

/**
 * matchTest compiles a condition on a value (`key` is the label it is for; `*` accepts anything),
 * with Polaris's meaning for every match type; an undefined test accepts any value.
 */
export function matchTest(
  key: string,
  m: MatchString,
): { ok: true; test: Test | undefined } | { ok: false; reason: string } {
  if (m.valueType !== 'TEXT') {
    return {
      ok: false,
      reason:
        `value type ${m.valueType} takes the label value from the request or the caller's environment, which ` +
        `cannot be resolved ahead of the request`,
    };
  }
  // `*` and `` accept any instance, as in Polaris.
  if (key === '*' || m.value === '*' || m.value === '') return { ok: true, test: undefined };
  const v = m.value;
  switch (m.type) {
    case 'EXACT':
      return { ok: true, test: (x) => x === v };
    case 'NOT_EQUALS':
      return { ok: true, test: (x) => x !== v };
    case 'IN': {
      const set = new Set(v.split(','));
      return { ok: true, test: (x) => set.has(x) };
    }
    case 'NOT_IN': {
      const set = new Set(v.split(','));
      return { ok: true, test: (x) => !set.has(x) };
    }
    case 'REGEX': {
      let re: RegExp;
      try {
        re = new RegExp(v);
      } catch (err) {
        return { ok: false, reason: `regex ${JSON.stringify(v)} does not compile: ${(err as Error).message}` };
      }
      // A search, and an empty match does not count (as Polaris SDKs do).
      return { ok: true, test: (x) => (re.exec(x)?.[0] ?? '') !== '' };
    }
    case 'RANGE': {
      const r = parseRange(v);
      if (!r) return { ok: false, reason: `RANGE value ${JSON.stringify(v)} is not "lo~hi" with 64-bit integers` };
      return { ok: true, test: (x) => /^[+-]?\d+$/.test(x) && BigInt(x) >= r.start && BigInt(x) < r.end };
    }
  }
}

/**
 * labelSelector compiles the label conditions of a destination. A condition needs the label to be
 * present (whatever the match type), except `*` values and `*` keys, which accept anything.
 */
export function labelSelector(labels: Readonly<Record<string, MatchString>>): LabelResult {
  const tests: Array<[string, Test]> = [];
  const canonical: unknown[] = [];
  for (const key of Object.keys(labels).sort()) {
    const m = labels[key]!;
    const t = matchTest(key, m);
    if (!t.ok) return { ok: false, key, reason: t.reason };
    if (!t.test) continue;
    tests.push([key, t.test]);
    canonical.push([key, m.type, m.value]);
  }
  return {
    ok: true,
    selector: {
      all: tests.length === 0,
      canonical: JSON.stringify(canonical),
      matches: (md) =>
        tests.every(([key, t]) => {
          const value = md[key];
          return value !== undefined && t(value);
        }),
    },
  };
}
