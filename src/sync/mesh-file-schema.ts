// The YAML mesh file: its schema (zod) and the checks zod cannot express. Every problem is
// reported with the path of the key, e.g. `namespaces[0].services[2].instances[0].port: expected
// number, received string`. The shape is documented in docs/mesh-file.md.
import { z } from 'zod';
import { circuitBreakerRule, faultDetectRule, rateLimitRule } from './mesh-file-governance.js';
import { count, matchString, nonEmpty, text } from './mesh-file-values.js';
import { ARGUMENT_TYPES, argumentNeedsKey, type ArgumentType } from './route-keys.js';

const argument = z
  .object({
    type: z.enum(ARGUMENT_TYPES as [ArgumentType, ...ArgumentType[]]),
    key: z.string().default(''),
    value: matchString,
  })
  .strict()
  .superRefine((a, ctx) => {
    if (argumentNeedsKey(a.type) && a.key === '')
      ctx.addIssue({ code: 'custom', path: ['key'], message: `required for type ${a.type}` });
  });

const source = z
  .object({
    service: nonEmpty.default('*'),
    /** Defaults to `*` for any service, else to the rule's namespace. */
    namespace: nonEmpty.optional(),
    arguments: z.array(argument).default([]),
  })
  .strict();

const destination = z
  .object({
    service: nonEmpty,
    namespace: nonEmpty.optional(),
    labels: z.record(z.string(), matchString).default({}),
    priority: count.default(0),
    weight: count.default(100),
    isolate: z.boolean().default(false),
    name: z.string().default(''),
  })
  .strict();

const rule = z
  .object({
    name: nonEmpty,
    enable: z.boolean().default(true),
    priority: count.default(0),
    sources: z.array(source).default([{ service: '*', arguments: [] }]),
    destinations: z.array(destination).min(1, 'at least one destination is needed'),
  })
  .strict();

const instance = z
  .object({
    id: nonEmpty.optional(),
    host: nonEmpty,
    port: z.number().int().min(1).max(65535),
    protocol: z.string().default(''),
    version: text.default(''),
    weight: count.default(100),
    priority: count.default(0),
    healthy: z.boolean().default(true),
    isolate: z.boolean().default(false),
    locality: z
      .object({ region: z.string().default(''), zone: z.string().default(''), campus: z.string().default('') })
      .strict()
      .optional(),
    metadata: z.record(z.string(), text).default({}),
  })
  .strict();

const service = z
  .object({
    name: nonEmpty,
    metadata: z.record(z.string(), text).default({}),
    /** This service is another name for `namespace/name` and serves its instances. */
    aliasFor: z.object({ namespace: nonEmpty.optional(), name: nonEmpty }).strict().optional(),
    instances: z.array(instance).default([]),
  })
  .strict();

const namespace = z
  .object({
    name: nonEmpty,
    services: z.array(service).default([]),
    rules: z.array(rule).default([]),
    circuitbreakers: z.array(circuitBreakerRule).default([]),
    faultdetectors: z.array(faultDetectRule).default([]),
    ratelimits: z.array(rateLimitRule).default([]),
  })
  .strict();

export const MeshFileSchema = z.object({ namespaces: z.array(namespace) }).strict();

export type MeshFile = z.infer<typeof MeshFileSchema>;
export type MeshFileRule = z.infer<typeof rule>;
export type MeshFileService = z.infer<typeof service>;

function pathText(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][\w-]*$/.test(String(p))) out += out === '' ? String(p) : `.${String(p)}`;
    else out += `[${JSON.stringify(String(p))}]`;
  }
  return out || '(top level)';
}

function issueText(issue: z.core.$ZodIssue): string {
  return `${pathText(issue.path)}: ${issue.message.replace(/^Invalid input: /, '')}`;
}

function duplicates<T>(items: readonly T[], keyOf: (t: T) => string): Array<[number, string]> {
  const seen = new Set<string>();
  const out: Array<[number, string]> = [];
  items.forEach((t, i) => {
    const k = keyOf(t);
    if (seen.has(k)) out.push([i, k]);
    seen.add(k);
  });
  return out;
}

/** crossCheck finds what the schema cannot: duplicates and dangling alias targets. */
function crossCheck(file: MeshFile): string[] {
  const problems: string[] = [];
  const names = new Set(file.namespaces.flatMap((ns) => ns.services.map((s) => `${ns.name}/${s.name}`)));
  const aliases = new Set(
    file.namespaces.flatMap((ns) =>
      ns.services.filter((s) => s.aliasFor !== undefined).map((s) => `${ns.name}/${s.name}`),
    ),
  );
  for (const [i, k] of duplicates(file.namespaces, (ns) => ns.name))
    problems.push(`namespaces[${i}].name: duplicate namespace ${k}`);
  file.namespaces.forEach((ns, n) => {
    for (const [i, k] of duplicates(ns.services, (s) => s.name))
      problems.push(`namespaces[${n}].services[${i}].name: duplicate service ${k}`);
    for (const list of ['rules', 'circuitbreakers', 'faultdetectors', 'ratelimits'] as const) {
      for (const [i, k] of duplicates<{ name: string }>(ns[list], (r) => r.name))
        problems.push(`namespaces[${n}].${list}[${i}].name: duplicate rule ${k}`);
    }
    ns.services.forEach((svc, s) => {
      const at = `namespaces[${n}].services[${s}]`;
      for (const [i, k] of duplicates(svc.instances, (x) => `${x.host}:${x.port}`))
        problems.push(`${at}.instances[${i}]: duplicate instance ${k}`);
      for (const [i, k] of duplicates(
        svc.instances.filter((x) => x.id !== undefined),
        (x) => x.id!,
      ))
        problems.push(`${at}.instances[${i}].id: duplicate id ${k}`);
      if (svc.aliasFor !== undefined) {
        const target = `${svc.aliasFor.namespace ?? ns.name}/${svc.aliasFor.name}`;
        if (!names.has(target)) problems.push(`${at}.aliasFor: no service ${target} in this file`);
        else if (target === `${ns.name}/${svc.name}`)
          problems.push(`${at}.aliasFor: a service cannot be an alias of itself`);
        else if (aliases.has(target))
          problems.push(`${at}.aliasFor: ${target} is itself an alias; name the real service`);
        if (svc.instances.length > 0)
          problems.push(`${at}.instances: an alias has no instances of its own (it serves ${target}'s)`);
      }
    });
  });
  return problems;
}

/** validateMeshFile checks parsed YAML; it returns the typed file or every problem found, each naming its path. */
export function validateMeshFile(raw: unknown): { ok: true; file: MeshFile } | { ok: false; problems: string[] } {
  const parsed = MeshFileSchema.safeParse(raw);
  if (!parsed.success) return { ok: false, problems: parsed.error.issues.map(issueText) };
  const problems = crossCheck(parsed.data);
  return problems.length > 0 ? { ok: false, problems } : { ok: true, file: parsed.data };
}
