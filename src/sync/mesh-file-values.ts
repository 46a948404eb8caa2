// Value schemas shared by the parts of the mesh file (mesh-file-schema.ts, mesh-file-governance.ts).
import { z } from 'zod';
import type { MatchType, ValueType } from '../model/mesh.js';
import { MATCH_TYPES, VALUE_TYPES } from './route-keys.js';

/** YAML turns `v: 2` into a number; labels and metadata are text, so scalars are read as text. */
export const text = z.preprocess((v) => (typeof v === 'number' || typeof v === 'boolean' ? String(v) : v), z.string());
export const nonEmpty = z.preprocess(
  (v) => (typeof v === 'number' ? String(v) : v),
  z.string().min(1, 'must not be empty'),
);
export const count = z.number().int().nonnegative();

/** A condition: `{type, value, value_type}`, or a bare value meaning EXACT text. */
export const matchString = z.preprocess(
  (v) => (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? { value: String(v) } : v),
  z
    .object({
      type: z.enum(MATCH_TYPES as [MatchType, ...MatchType[]]).default('EXACT'),
      value: text,
      value_type: z.enum(VALUE_TYPES as [ValueType, ...ValueType[]]).default('TEXT'),
    })
    .strict(),
);
