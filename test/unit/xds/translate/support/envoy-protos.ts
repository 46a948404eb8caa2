// Decodes what the translator encodes with protobufjs (through @grpc/proto-loader's loader), an
// implementation independent of the ts-proto code the translator uses, so encoding mistakes show.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Root, Type } from 'protobufjs';
import { repoRoot } from '../../../../support/components.js';
import type { EncodedResource, Snapshot } from '../../../../../src/xds/snapshot.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  ROUTE_TYPE,
  type TypeUrl,
} from '../../../../../src/xds/resource.js';

const require = createRequire(import.meta.url);
const loader = require('@grpc/proto-loader/build/src/util.js') as {
  addCommonProtos(): void;
  loadProtosWithOptionsSync(files: string[], options: { includeDirs: string[] }): Root;
};

const FILES = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/on_demand/v3/on_demand.proto',
  'envoy/extensions/filters/listener/original_dst/v3/original_dst.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/http/ratelimit/v3/rate_limit.proto',
  'envoy/extensions/http/early_header_mutation/header_mutation/v3/header_mutation.proto',
];

let root: Root | undefined;

/** envoyRoot loads the Envoy API protos vendored by `npm run gen`. */
export function envoyRoot(): Root {
  if (!root) {
    loader.addCommonProtos();
    const vendor = join(repoRoot, 'proto/envoy/vendor');
    root = loader.loadProtosWithOptionsSync(FILES, {
      includeDirs: ['envoy-api', 'xds', 'googleapis', 'pgv'].map((d) => join(vendor, d)),
    });
  }
  return root;
}

/** typeOf looks a message type up by its type URL or full name. */
export function typeOf(typeUrlOrName: string): Type {
  return envoyRoot().lookupType(typeUrlOrName.slice(typeUrlOrName.lastIndexOf('/') + 1));
}

// Any fields are expanded to {"@type": …, fields} (protobufjs does this when converting with json: true).
const TO_OBJECT = { json: true, enums: String, longs: String, defaults: false, oneofs: false } as const;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/** anyParts splits encoded google.protobuf.Any bytes into its type URL and value. */
export function anyParts(any: Uint8Array): { typeUrl: string; value: Buffer } {
  const AnyType = envoyRoot().lookupType('google.protobuf.Any');
  // protobufjs's built-in Any keeps the proto field names (type_url).
  const a = AnyType.decode(any) as unknown as { type_url?: string; typeUrl?: string; value: Uint8Array };
  return { typeUrl: a.type_url ?? a.typeUrl ?? '', value: Buffer.from(a.value) };
}

/** decodeAny decodes the Any bytes of an EncodedResource into a plain object (field names in lowerCamelCase). */
export function decodeAny(any: Uint8Array): Json {
  const { typeUrl, value } = anyParts(any);
  const T = typeOf(typeUrl);
  return { typeUrl, message: T.toObject(T.decode(value), TO_OBJECT) };
}

/** decodeResource decodes a resource from its encoded Any, checking the type URL. */
export function decodeResource(r: EncodedResource): Json {
  const d = decodeAny(r.any);
  if (d.typeUrl !== r.typeUrl) throw new Error(`resource ${r.name}: Any says ${d.typeUrl}, expected ${r.typeUrl}`);
  return d.message;
}

const SHORT: Record<string, TypeUrl> = { cds: CLUSTER_TYPE, eds: ENDPOINT_TYPE, lds: LISTENER_TYPE, rds: ROUTE_TYPE };

/** decoded returns the decoded resources of one type of a snapshot, by name. */
export function decoded(snapshot: Snapshot, type: 'cds' | 'eds' | 'lds' | 'rds'): Map<string, Json> {
  const out = new Map<string, Json>();
  for (const [name, r] of snapshot.resources[SHORT[type]!].items) out.set(name, decodeResource(r));
  return out;
}

/** resource returns one decoded resource, failing when it is absent. */
export function resource(snapshot: Snapshot, type: 'cds' | 'eds' | 'lds' | 'rds', name: string): Json {
  const r = snapshot.resources[SHORT[type]!].items.get(name);
  if (!r)
    throw new Error(
      `${type} resource ${name} not in snapshot; have: ${[...snapshot.resources[SHORT[type]!].items.keys()].join(', ')}`,
    );
  return decodeResource(r);
}

/** vhostOf returns the decoded virtual host named `name` in a route configuration. */
export function vhostOf(snapshot: Snapshot, routeConfig: string, name: string): Json {
  const rc = resource(snapshot, 'rds', routeConfig);
  const vh = (rc.virtualHosts ?? []).find((v: Json) => v.name === name);
  if (!vh) throw new Error(`virtual host ${name} not in ${routeConfig}`);
  return vh;
}

/** wrapped reads a protobuf wrapper (UInt32Value…) as protobufjs renders it. */
export function wrapped(v: Json): unknown {
  return v === undefined ? undefined : typeof v === 'object' && v !== null && 'value' in v ? v.value : v;
}

/** structOf turns a decoded google.protobuf.Struct into a plain string map. */
export function structOf(s: Json): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries((s?.fields ?? {}) as Record<string, Json>))
    out[k] = v.stringValue ?? v.numberValue ?? v.boolValue ?? v;
  return out;
}
