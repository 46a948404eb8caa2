// Config dump: a snapshot's resources as JSON for /debug/config_dump and `polaris-xds dump`, with
// every nested Any decoded and shown as `{"@type": …, …fields}` like Envoy's own config dump.
import { Cluster } from '../../gen/envoy/config/cluster/v3/cluster.js';
import { ClusterLoadAssignment } from '../../gen/envoy/config/endpoint/v3/endpoint.js';
import { Listener } from '../../gen/envoy/config/listener/v3/listener.js';
import { RouteConfiguration } from '../../gen/envoy/config/route/v3/route.js';
import { Router } from '../../gen/envoy/extensions/filters/http/router/v3/router.js';
import { OriginalDst } from '../../gen/envoy/extensions/filters/listener/original_dst/v3/original_dst.js';
// biome-ignore format: the generated module path is long on its own
import {
  HttpConnectionManager,
} from '../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '../../gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { HttpProtocolOptions } from '../../gen/envoy/extensions/upstreams/http/v3/http_protocol_options.js';
import { LocalRateLimit } from '../../gen/envoy/extensions/filters/http/local_ratelimit/v3/local_rate_limit.js';
import { RateLimit as RateLimitFilter } from '../../gen/envoy/extensions/filters/http/ratelimit/v3/rate_limit.js';
import { RateLimitConfig } from '../../gen/ratelimit/config/ratelimit/v3/rls_conf.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  PUSH_ORDER,
  RATELIMIT_CONFIG_TYPE,
  ROUTE_TYPE,
  SHORT_NAMES,
} from '../resource.js';
import type { EncodedResource, Snapshot } from '../snapshot.js';
import { TYPED } from './encode.js';

interface Codec {
  decode(bytes: Uint8Array): unknown;
  toJSON(message: never): unknown;
}

const EMPTY: Codec = { decode: () => ({}), toJSON: () => ({}) };

const CODECS: Readonly<Record<string, Codec>> = {
  [CLUSTER_TYPE]: Cluster,
  [ENDPOINT_TYPE]: ClusterLoadAssignment,
  [LISTENER_TYPE]: Listener,
  [ROUTE_TYPE]: RouteConfiguration,
  [TYPED.hcm]: HttpConnectionManager,
  [TYPED.router]: Router,
  [TYPED.tcpProxy]: TcpProxy,
  [TYPED.originalDst]: OriginalDst,
  [TYPED.httpInspector]: EMPTY,
  [TYPED.httpProtocolOptions]: HttpProtocolOptions,
  [RATELIMIT_CONFIG_TYPE]: RateLimitConfig,
  'type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit': RateLimitFilter,
  'type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit': LocalRateLimit,
};

function isAnyJson(v: Record<string, unknown>): v is { typeUrl: string; value?: string } {
  const keys = Object.keys(v);
  return (
    typeof v.typeUrl === 'string' &&
    keys.every((k) => k === 'typeUrl' || k === 'value') &&
    (v.value === undefined || typeof v.value === 'string')
  );
}

function expand(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(expand);
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if (isAnyJson(o)) {
    const codec = CODECS[o.typeUrl];
    if (!codec) return { '@type': o.typeUrl, value: o.value ?? '' };
    const inner = codec.toJSON(codec.decode(Buffer.from(o.value ?? '', 'base64')) as never) as Record<string, unknown>;
    return { '@type': o.typeUrl, ...(expand(inner) as Record<string, unknown>) };
  }
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(o)) out[k] = expand(x);
  return out;
}

/** resourceJson renders one resource as JSON, nested Anys decoded. */
export function resourceJson(r: EncodedResource): unknown {
  const codec = CODECS[r.typeUrl]!;
  return { '@type': r.typeUrl, ...(expand(codec.toJSON(r.message as never)) as Record<string, unknown>) };
}

/** ConfigDump is a snapshot as JSON: per type (cds, eds, lds, rds), its version and resources. */
export type ConfigDump = Record<
  string,
  { version: string; resources: Array<{ name: string; version: string; resource: unknown }> }
>;

/**
 * configDump renders a snapshot for humans; it decodes on demand, so call it only for debugging. The rate-limit
 * service's type (rls) is shown only where it has resources.
 */
export function configDump(snapshot: Snapshot): ConfigDump {
  const out: ConfigDump = {};
  for (const t of PUSH_ORDER) {
    const tr = snapshot.resources[t];
    if (t === RATELIMIT_CONFIG_TYPE && tr.items.size === 0) continue;
    out[SHORT_NAMES[t]] = {
      version: tr.version,
      resources: [...tr.items.values()].map((r) => ({ name: r.name, version: r.version, resource: resourceJson(r) })),
    };
  }
  return out;
}
