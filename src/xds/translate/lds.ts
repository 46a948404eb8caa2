// LDS: listeners. Sidecars get an outbound and an inbound listener (the ports Polaris's injected
// iptables rules redirect to), gateways one listener, proxyless gRPC clients API listeners.
// Every HTTP connection manager takes its routes over ADS (RDS) and ends with the router filter.
import { ApiVersion } from '../../gen/envoy/config/core/v3/config_source.js';
import { Listener, type DeepPartial } from '../../gen/envoy/config/listener/v3/listener.js';
import type { FilterChain } from '../../gen/envoy/config/listener/v3/listener_components.js';
import type { Any } from '../../gen/google/protobuf/any.js';
import type { TypedExtensionConfig } from '../../gen/envoy/config/core/v3/extension.js';
import {
  type HttpFilter,
  type LocalReplyConfig,
  HttpConnectionManager,
  HttpConnectionManager_CodecType,
} from '../../gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.js';
import { TcpProxy } from '../../gen/envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.js';
import { emptyAny, seconds, typedAny, TYPED } from './encode.js';
import { PASSTHROUGH_CLUSTER } from './names.js';

const ROUTER_FILTER = 'envoy.filters.http.router';
const HCM_FILTER = 'envoy.filters.network.http_connection_manager';

/**
 * HcmExtras is what an HTTP connection manager may carry besides routes: filters ahead of the router, local reply
 * mappers.
 */
export interface HcmExtras {
  readonly filters?: readonly HttpFilter[];
  readonly localReply?: LocalReplyConfig;
  /** Header mutations before any route is chosen (caller.ts: the caller's identity and address). */
  readonly early?: readonly TypedExtensionConfig[];
}

/** hcm is an HTTP connection manager whose routes come from RDS over ADS, with the router filter last. */
export function hcm(statPrefix: string, routeConfigName: string, extra: HcmExtras = {}): Any {
  return typedAny(
    TYPED.hcm,
    HttpConnectionManager,
    HttpConnectionManager.fromPartial({
      codecType: HttpConnectionManager_CodecType.AUTO,
      statPrefix,
      routeSpecifier: {
        $case: 'rds',
        value: {
          configSource: { configSourceSpecifier: { $case: 'ads', value: {} }, resourceApiVersion: ApiVersion.V3 },
          routeConfigName,
        },
      },
      httpFilters: [
        ...(extra.filters ?? []),
        { name: ROUTER_FILTER, configType: { $case: 'typedConfig', value: emptyAny(TYPED.router) } },
      ],
      ...(extra.localReply ? { localReplyConfig: extra.localReply } : {}),
      ...(extra.early ? { earlyHeaderMutationExtensions: [...extra.early] } : {}),
    }),
  );
}

/** hcmChain is a filter chain of one HTTP connection manager with routes over RDS. */
export function hcmChain(
  name: string,
  statPrefix: string,
  routeConfigName: string,
  match?: DeepPartial<FilterChain>['filterChainMatch'],
  extra?: HcmExtras,
): DeepPartial<FilterChain> {
  return {
    name,
    filterChainMatch: match,
    filters: [
      { name: HCM_FILTER, configType: { $case: 'typedConfig', value: hcm(statPrefix, routeConfigName, extra) } },
    ],
  };
}

function socket(port: number): DeepPartial<Listener>['address'] {
  return {
    address: {
      $case: 'socketAddress',
      value: { address: '0.0.0.0', portSpecifier: { $case: 'portValue', value: port } },
    },
  };
}

const ORIGINAL_DST = {
  name: 'envoy.filters.listener.original_dst',
  configType: { $case: 'typedConfig' as const, value: emptyAny(TYPED.originalDst) },
};
const HTTP_INSPECTOR = {
  name: 'envoy.filters.listener.http_inspector',
  configType: { $case: 'typedConfig' as const, value: emptyAny(TYPED.httpInspector) },
};
const HTTP_ALPN = ['http/1.0', 'http/1.1', 'h2c'];

/**
 * outboundListener receives the application's outbound traffic, intercepted (original
 * destination restored) or sent straight to it. Three filter chains, by Envoy's match order:
 * - connections addressed to the listener's own port (no interception) go to the HTTP router,
 *   which routes by Host; so the listener works without iptables, at 127.0.0.1:<port>;
 * - intercepted HTTP (detected by the HTTP inspector) goes to the same router;
 * - anything else is TCP, proxied to its original destination. (Polaris sends all traffic
 *   through the HTTP router, which breaks non-HTTP protocols.)
 * Server-first protocols wait for the inspector's timeout (1 s) before being proxied.
 */
export function outboundListener(name: string, port: number, routeConfigName: string, extra?: HcmExtras): Listener {
  const tcp = typedAny(
    TYPED.tcpProxy,
    TcpProxy,
    TcpProxy.fromPartial({
      statPrefix: PASSTHROUGH_CLUSTER,
      clusterSpecifier: { $case: 'cluster', value: PASSTHROUGH_CLUSTER },
    }),
  );
  return Listener.fromPartial({
    name,
    address: socket(port),
    listenerFilters: [ORIGINAL_DST, HTTP_INSPECTOR],
    listenerFiltersTimeout: seconds(1),
    continueOnListenerFiltersTimeout: true,
    filterChains: [
      hcmChain('OUTBOUND_DIRECT', 'OUTBOUND_HTTP', routeConfigName, { destinationPort: port }, extra),
      hcmChain('OUTBOUND_HTTP', 'OUTBOUND_HTTP', routeConfigName, { applicationProtocols: HTTP_ALPN }, extra),
    ],
    defaultFilterChain: {
      name: 'PassthroughFilterChain',
      filters: [{ name: 'envoy.filters.network.tcp_proxy', configType: { $case: 'typedConfig', value: tcp } }],
    },
  });
}

/** InboundChain is one inbound filter chain: traffic to `port` (or any port) goes to `routeConfigName`. */
export interface InboundChain {
  readonly port?: number;
  readonly routeConfigName: string;
}

/**
 * inboundListener receives intercepted traffic for the node's own service. With several service
 * ports, each port has its own chain (by original destination port) and route configuration, so
 * a request reaches the application on the port it was sent to; the chain without a port
 * catches the rest.
 */
export function inboundListener(
  name: string,
  port: number,
  chains: readonly InboundChain[],
  extra?: HcmExtras,
): Listener {
  return Listener.fromPartial({
    name,
    address: socket(port),
    listenerFilters: [ORIGINAL_DST],
    filterChains: chains.map((c) =>
      hcmChain(
        c.port === undefined ? 'INBOUND_HTTP' : `INBOUND_HTTP_${c.port}`,
        'INBOUND_HTTP',
        c.routeConfigName,
        c.port === undefined ? undefined : { destinationPort: c.port },
        extra,
      ),
    ),
  });
}

/** gatewayListener is a gateway's single HTTP listener. */
export function gatewayListener(name: string, port: number, routeConfigName: string, extra?: HcmExtras): Listener {
  return Listener.fromPartial({
    name,
    address: socket(port),
    filterChains: [hcmChain('GATEWAY_HTTP', 'GATEWAY_HTTP', routeConfigName, undefined, extra)],
  });
}

/** internalHttpListener is an Envoy internal listener (no address; clusters reach it by name) of one HTTP chain. */
export function internalHttpListener(
  name: string,
  statPrefix: string,
  routeConfigName: string,
  extra?: HcmExtras,
): Listener {
  return Listener.fromPartial({
    name,
    listenerSpecifier: { $case: 'internalListener', value: {} },
    filterChains: [hcmChain(name, statPrefix, routeConfigName, undefined, extra)],
  });
}

/**
 * apiListener is what a proxyless gRPC client asks for when dialling `xds:///<name>`: no address,
 * no listener filters (grpc-js rejects them), an HCM with only the router filter.
 */
export function apiListener(name: string, routeConfigName: string): Listener {
  return Listener.fromPartial({ name, apiListener: { apiListener: hcm('PROXYLESS', routeConfigName) } });
}
