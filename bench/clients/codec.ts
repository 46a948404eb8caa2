// Encoding and decoding for the simulated clients, with protobufjs from the vendored Envoy protos
// (independent of the ts-proto code the bridge encodes with). Envelopes are decoded in full;
// resources are read through slim views (the same field numbers, fewer fields) so that thousands of
// streams can be decoded by a few processes, and in full only where a client needs their content
// (listeners → route names) or when a stream is a sentinel that checks every byte.
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { repoRoot } from '../../test/support/components.js';

export const TYPE_URLS = {
  cds: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  eds: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  lds: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  rds: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  vhds: 'type.googleapis.com/envoy.config.route.v3.VirtualHost',
} as const;
export type TypeShort = keyof typeof TYPE_URLS;
export const SHORT_OF: Readonly<Partial<Record<string, TypeShort>>> = Object.fromEntries(
  Object.entries(TYPE_URLS).map(([k, v]) => [v, k as TypeShort]),
);

const HCM_TYPE =
  'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const EDS_DISCOVERY_TYPE = 3; // envoy.config.cluster.v3.Cluster.DiscoveryType.EDS

const FILES = [
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
];

/** AnyMsg is a google.protobuf.Any as protobufjs decodes it (value is a view, not a copy). */
export interface AnyMsg {
  type_url: string;
  value: Buffer;
}

export interface SotwResponse {
  version_info: string;
  resources: AnyMsg[];
  type_url: string;
  nonce: string;
}

export interface DeltaResponse {
  system_version_info: string;
  resources: Array<{ name: string; version: string; resource?: AnyMsg }>;
  type_url: string;
  removed_resources: string[];
  nonce: string;
}

export interface SotwRequest {
  version_info?: string;
  node?: unknown;
  resource_names?: readonly string[];
  type_url: string;
  response_nonce?: string;
}

export interface DeltaRequest {
  node?: unknown;
  type_url: string;
  resource_names_subscribe?: string[];
  resource_names_unsubscribe?: string[];
  response_nonce?: string;
}

/** ClusterView is what a client needs of a cluster: its name and, for EDS clusters, the assignment name. */
export interface ClusterView {
  readonly name: string;
  readonly edsName?: string;
}

/** Codec holds the loaded types; build one per process with loadCodec(). */
export interface Codec {
  encodeSotw(req: SotwRequest): Buffer;
  encodeDelta(req: DeltaRequest): Buffer;
  decodeSotw(buf: Buffer): SotwResponse;
  /** encodeSotwResponse / encodeDeltaResponse are for the raw fan-out server. */
  encodeSotwResponse(res: SotwResponse): Buffer;
  encodeDeltaResponse(res: DeltaResponse): Buffer;
  decodeDelta(buf: Buffer): DeltaResponse;
  /** node builds an envoy.config.core.v3.Node message with string metadata. */
  node(id: string, cluster: string, metadata: Readonly<Record<string, string>>): unknown;
  /** resourceName reads field 1 (every served type names itself there). */
  resourceName(value: Buffer): string;
  clusterView(value: Buffer): ClusterView;
  /** routeNames decodes a listener in full and lists the route configurations its HCMs name. */
  routeNames(value: Buffer): string[];
  /** decodeFull decodes a resource with its full type and throws on malformed bytes. */
  decodeFull(type: TypeShort, value: Buffer): unknown;
}

function slimType(name: string, fields: ReadonlyArray<[string, number, string]>): protobuf.Type {
  const t = new protobuf.Type(name);
  for (const [fname, id, type] of fields) t.add(new protobuf.Field(fname, id, type));
  return t;
}

/** loadCodec loads the vendored protos (run `npm run gen` first) and checks the slim views against them. */
export function loadCodec(): Codec {
  const vendor = join(repoRoot, 'proto/envoy/vendor');
  // protobufjs ships google/protobuf/descriptor.proto, which the validate annotations import.
  const includes = [
    ...['envoy-api', 'xds', 'googleapis', 'pgv'].map((d) => join(vendor, d)),
    join(repoRoot, 'node_modules/protobufjs'),
  ];
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => {
    for (const dir of includes) {
      const p = join(dir, target);
      if (protobuf.util.fs?.existsSync?.(p)) return p;
    }
    return target;
  };
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  const sotwReq = root.lookupType('envoy.service.discovery.v3.DiscoveryRequest');
  const sotwRes = root.lookupType('envoy.service.discovery.v3.DiscoveryResponse');
  const deltaReq = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryRequest');
  const deltaRes = root.lookupType('envoy.service.discovery.v3.DeltaDiscoveryResponse');
  const nodeType = root.lookupType('envoy.config.core.v3.Node');
  const cluster = root.lookupType('envoy.config.cluster.v3.Cluster');
  const full: Record<TypeShort, protobuf.Type> = {
    cds: cluster,
    eds: root.lookupType('envoy.config.endpoint.v3.ClusterLoadAssignment'),
    lds: root.lookupType('envoy.config.listener.v3.Listener'),
    rds: root.lookupType('envoy.config.route.v3.RouteConfiguration'),
    vhds: root.lookupType('envoy.config.route.v3.VirtualHost'),
  };
  const hcm = root.lookupType('envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');

  // Struct comes from protobufjs's built-in (camelCase) definition, hence `stringValue` above.
  // Slim views take their field numbers from the full types, so a wrong number cannot slip in.
  const id = (t: protobuf.Type, f: string): number => {
    const field = t.fields[f];
    if (!field) throw new Error(`codec: ${t.fullName} has no field ${f}`);
    return field.id;
  };
  const slim = new protobuf.Namespace('bench_slim');
  root.add(slim);
  const edsCfg = cluster.lookupType('EdsClusterConfig');
  slim.add(slimType('EdsConfig', [['service_name', id(edsCfg, 'service_name'), 'string']]));
  slim.add(
    slimType('Cluster', [
      ['name', id(cluster, 'name'), 'string'],
      ['type', id(cluster, 'type'), 'int32'],
      ['eds_cluster_config', id(cluster, 'eds_cluster_config'), 'EdsConfig'],
    ]),
  );
  for (const t of Object.values(full)) {
    const nameField = t === full.eds ? 'cluster_name' : 'name';
    if (id(t, nameField) !== 1) throw new Error(`codec: ${t.fullName}.${nameField} is not field 1`);
  }
  slim.add(slimType('Named', [['name', 1, 'string']]));
  root.resolveAll();
  const slimCluster = slim.lookupType('Cluster');
  const named = slim.lookupType('Named');

  const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

  // A stream repeats its node in every request and its EDS names in every ACK. Envoy re-encodes
  // them in C++ on a core of its own; here thousands of simulated streams share two cores, so the
  // encoded node and name list are kept per object and spliced (field order does not matter on
  // the wire), or the clients would limit the figures rather than the server.
  const encodedParts = new WeakMap<object, Buffer>();
  const part = (key: object, encode: () => Uint8Array): Buffer => {
    let b = encodedParts.get(key);
    if (!b) encodedParts.set(key, (b = Buffer.from(encode())));
    return b;
  };
  // Without a node, streams ACKing the same list, version and nonce send the very same bytes:
  // they are encoded once (a few per list are kept).
  const wholeRequests = new WeakMap<object, Map<string, Buffer>>();
  const encodeSotw = (req: SotwRequest): Buffer => {
    const { node, resource_names: names, ...rest } = req;
    if (!node && names && names.length > 0) {
      let byHead = wholeRequests.get(names);
      if (!byHead) wholeRequests.set(names, (byHead = new Map()));
      const key = JSON.stringify(rest);
      let whole = byHead.get(key);
      if (!whole) {
        if (byHead.size >= 16) byHead.clear();
        byHead.set(
          key,
          (whole = Buffer.concat([
            toBuffer(sotwReq.encode(rest).finish()),
            part(names, () => sotwReq.encode({ resource_names: names }).finish()),
          ])),
        );
      }
      return whole;
    }
    const chunks = [toBuffer(sotwReq.encode(rest).finish())];
    if (node && typeof node === 'object') chunks.push(part(node, () => sotwReq.encode({ node }).finish()));
    if (names && names.length > 0) chunks.push(part(names, () => sotwReq.encode({ resource_names: names }).finish()));
    return Buffer.concat(chunks);
  };

  const encodeDelta = (req: DeltaRequest): Buffer => {
    const { node, ...rest } = req;
    const head = toBuffer(deltaReq.encode(rest).finish());
    return node && typeof node === 'object'
      ? Buffer.concat([head, part(node, () => deltaReq.encode({ node }).finish())])
      : head;
  };

  return {
    encodeSotw,
    encodeDelta,
    decodeSotw: (buf) => sotwRes.decode(buf) as unknown as SotwResponse,
    encodeSotwResponse: (res) => toBuffer(sotwRes.encode(sotwRes.fromObject(res)).finish()),
    encodeDeltaResponse: (res) => toBuffer(deltaRes.encode(deltaRes.fromObject(res)).finish()),
    decodeDelta: (buf) => deltaRes.decode(buf) as unknown as DeltaResponse,
    node: (nodeId, clusterName, metadata) =>
      nodeType.fromObject({
        id: nodeId,
        cluster: clusterName,
        user_agent_name: 'envoy',
        metadata: { fields: Object.fromEntries(Object.entries(metadata).map(([k, v]) => [k, { stringValue: v }])) },
      }),
    resourceName: (value) => (named.decode(value) as unknown as { name: string }).name,
    clusterView: (value) => {
      const c = slimCluster.decode(value) as unknown as {
        name: string;
        type?: number;
        eds_cluster_config?: { service_name?: string };
      };
      if (c.type !== EDS_DISCOVERY_TYPE) return { name: c.name };
      return { name: c.name, edsName: c.eds_cluster_config?.service_name || c.name };
    },
    routeNames: (value) => {
      const l = full.lds.decode(value) as unknown as {
        filter_chains?: Array<{ filters?: Array<{ typed_config?: AnyMsg }> }>;
        default_filter_chain?: { filters?: Array<{ typed_config?: AnyMsg }> };
        api_listener?: { api_listener?: AnyMsg };
      };
      const anys: AnyMsg[] = [];
      for (const chain of [...(l.filter_chains ?? []), ...(l.default_filter_chain ? [l.default_filter_chain] : [])]) {
        for (const f of chain.filters ?? []) if (f.typed_config) anys.push(f.typed_config);
      }
      if (l.api_listener?.api_listener) anys.push(l.api_listener.api_listener);
      const names = new Set<string>();
      for (const a of anys) {
        if (a.type_url !== HCM_TYPE) continue;
        const h = hcm.decode(a.value) as unknown as { rds?: { route_config_name?: string } };
        if (h.rds?.route_config_name) names.add(h.rds.route_config_name);
      }
      return [...names].sort();
    },
    decodeFull: (type, value) => full[type].decode(value),
  };
}
