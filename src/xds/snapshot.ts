// Snapshot: the immutable set of resources one group of nodes is served, with content-hash
// versions and bytes encoded once (invariants 1–3). Built by the translator side, read by the
// server side, never mutated after makeSnapshot returns.
import { createHash } from 'node:crypto';
import { compareKeys } from '../model/mesh.js';
import { PUSH_ORDER, type TypeUrl, ENDPOINT_TYPE, ROUTE_TYPE } from './resource.js';
import { encodeAny, encodeDeltaResource } from './wire.js';

/**
 * EncodedResource is one resource, encoded once. `any` is a google.protobuf.Any; `delta` is an
 * envoy.service.discovery.v3.Resource wrapping it. Both are shared by every stream.
 */
export interface EncodedResource {
  readonly typeUrl: TypeUrl;
  readonly name: string;
  /** Content hash of the encoded message: equal bytes give equal versions on every replica. */
  readonly version: string;
  readonly any: Buffer;
  readonly delta: Buffer;
  /** The decoded form, for /debug/config_dump. */
  readonly message: unknown;
}

/** contentVersion hashes bytes into a short, stable version string. */
export function contentVersion(...chunks: Array<Uint8Array | string>): string {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return h.digest('hex').slice(0, 16);
}

/** encodeResource builds an EncodedResource from a message's encoded bytes. */
export function encodeResource(typeUrl: TypeUrl, name: string, bytes: Uint8Array, message: unknown): EncodedResource {
  const version = contentVersion(bytes);
  const any = encodeAny(typeUrl, bytes);
  return { typeUrl, name, version, any, delta: encodeDeltaResource(name, version, any), message };
}

/** TypeResources is one type's resources in a snapshot, by name, iterating in name order. */
export interface TypeResources {
  /** Hash of every (name, version) pair: the SotW version of the whole set. */
  readonly version: string;
  readonly items: ReadonlyMap<string, EncodedResource>;
}

/** Snapshot holds every type's resources for one node group. */
export interface Snapshot {
  readonly resources: Readonly<Record<TypeUrl, TypeResources>>;
}

function typeResources(list: readonly EncodedResource[], typeUrl: TypeUrl): TypeResources {
  const sorted = [...list].sort((a, b) => compareKeys(a.name, b.name));
  const items = new Map<string, EncodedResource>();
  for (const r of sorted) {
    if (r.typeUrl !== typeUrl) throw new TypeError(`snapshot: resource ${r.name} has type ${r.typeUrl}, expected ${typeUrl}`);
    if (items.has(r.name)) throw new TypeError(`snapshot: duplicate ${typeUrl} resource ${r.name}`);
    items.set(r.name, r);
  }
  return { version: contentVersion(sorted.map((r) => `${r.name}\0${r.version}\n`).join('')), items };
}

/** makeSnapshot sorts, checks and freezes per-type resources into a Snapshot. */
export function makeSnapshot(byType: Partial<Record<TypeUrl, readonly EncodedResource[]>>): Snapshot {
  const resources = {} as Record<TypeUrl, TypeResources>;
  for (const t of PUSH_ORDER) resources[t] = typeResources(byType[t] ?? [], t);
  return Object.freeze({ resources: Object.freeze(resources) });
}

/**
 * consistent lists references that do not resolve: EDS names no cluster asks for, and route
 * configurations no listener names, as in go-control-plane's Snapshot.Consistent. Clusters and
 * listeners are roots, so they are not checked. `refs` gives, per root resource, the names it
 * points at (cluster → EDS service name, listener → route config names).
 */
export function consistent(snapshot: Snapshot, refs: { edsNames: ReadonlySet<string>; routeNames: ReadonlySet<string> }): string[] {
  const errors: string[] = [];
  for (const name of snapshot.resources[ENDPOINT_TYPE].items.keys()) {
    if (!refs.edsNames.has(name)) errors.push(`endpoints ${name}: no cluster references it`);
  }
  for (const name of snapshot.resources[ROUTE_TYPE].items.keys()) {
    if (!refs.routeNames.has(name)) errors.push(`route ${name}: no listener references it`);
  }
  return errors;
}
