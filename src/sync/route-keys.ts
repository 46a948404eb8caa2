// Polaris's vocabulary for routing conditions, shared by the syncer (which reads the server's v1
// view) and the file source (which reads a v2-like YAML shape): enum names and the v1 key encoding
// of v2 source arguments.
import type { MatchType, ValueType } from '../model/mesh.js';

/** MATCH_TYPES lists MatchStringType names by their proto number. */
export const MATCH_TYPES: readonly MatchType[] = ['EXACT', 'REGEX', 'NOT_EQUALS', 'IN', 'NOT_IN', 'RANGE'];

/** VALUE_TYPES lists MatchString.ValueType names by their proto number. */
export const VALUE_TYPES: readonly ValueType[] = ['TEXT', 'PARAMETER', 'VARIABLE'];

/** ArgumentType is a v2 SourceMatch type that Polaris carries into its v1 view (CALLER_METADATA is dropped there). */
export type ArgumentType = 'CUSTOM' | 'METHOD' | 'HEADER' | 'QUERY' | 'CALLER_IP' | 'PATH' | 'COOKIE';

export const ARGUMENT_TYPES: readonly ArgumentType[] = [
  'CUSTOM',
  'METHOD',
  'HEADER',
  'QUERY',
  'CALLER_IP',
  'PATH',
  'COOKIE',
];

/** argumentKey encodes a v2 source argument as the v1 Source.metadata key, exactly as the Polaris server does. */
export function argumentKey(type: ArgumentType, key: string): string {
  switch (type) {
    case 'CUSTOM':
      return key;
    case 'METHOD':
      return '$method';
    case 'HEADER':
      return `$header.${key}`;
    case 'QUERY':
      return `$query.${key}`;
    case 'CALLER_IP':
      return '$caller_ip';
    case 'PATH':
      return '$path';
    case 'COOKIE':
      return `$cookie.${key}`;
  }
}

/** argumentNeedsKey says whether a v2 argument type is incomplete without a key. */
export function argumentNeedsKey(type: ArgumentType): boolean {
  return type === 'CUSTOM' || type === 'HEADER' || type === 'QUERY' || type === 'COOKIE';
}
