// Builders for translator tests: mesh model objects with sensible defaults, and node views.
import {
  EMPTY_ROUTING,
  EMPTY_RULES,
  meshState,
  type CircuitBreakerRule,
  type FaultDetectRule,
  type RateLimitRule,
  type Instance,
  type MatchString,
  type MatchType,
  type MeshState,
  type RouteDestination,
  type RouteRule,
  type RouteSource,
  type Service,
  type ValueType,
} from '../../../../../src/model/mesh.js';
import { parseNode } from '../../../../../src/xds/node.js';
import { nodeView, type NodeView } from '../../../../../src/xds/translate/view.js';

export function instance(id: string, host: string, o: Partial<Instance> = {}): Instance {
  return {
    id,
    host,
    port: 8080,
    protocol: 'http',
    version: '',
    weight: 100,
    priority: 0,
    healthy: true,
    isolate: false,
    locality: { region: '', zone: '', campus: '' },
    metadata: {},
    revision: '',
    ...o,
  };
}

export interface ServiceOptions {
  metadata?: Record<string, string>;
  inbounds?: RouteRule[];
  outbounds?: RouteRule[];
  aliasFor?: { namespace: string; name: string };
  circuitBreakers?: CircuitBreakerRule[];
  faultDetectors?: FaultDetectRule[];
  rateLimits?: RateLimitRule[];
}

export function service(namespace: string, name: string, instances: Instance[], o: ServiceOptions = {}): Service {
  return {
    namespace,
    name,
    metadata: o.metadata ?? {},
    instances: [...instances].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)),
    revision: 'r1',
    routing:
      o.inbounds || o.outbounds
        ? { inbounds: o.inbounds ?? [], outbounds: o.outbounds ?? [], revision: 'x' }
        : EMPTY_ROUTING,
    rateLimits: o.rateLimits ? { rules: o.rateLimits, revision: 'x' } : EMPTY_RULES,
    circuitBreakers: o.circuitBreakers ? { rules: o.circuitBreakers, revision: 'x' } : EMPTY_RULES,
    faultDetectors: o.faultDetectors ? { rules: o.faultDetectors, revision: 'x' } : EMPTY_RULES,
    ...(o.aliasFor ? { aliasFor: o.aliasFor } : {}),
  };
}

export function ms(type: MatchType, value: string, valueType: ValueType = 'TEXT'): MatchString {
  return { type, value, valueType };
}

export function source(
  match: Record<string, MatchString>,
  caller: { service?: string; namespace?: string } = {},
): RouteSource {
  return { service: caller.service ?? '*', namespace: caller.namespace ?? '*', match };
}

export function dest(labels: Record<string, MatchString>, o: Partial<RouteDestination> = {}): RouteDestination {
  return { service: '*', namespace: '*', labels, priority: 0, weight: 100, isolate: false, name: '', ...o };
}

export function rule(id: string, sources: RouteSource[], destinations: RouteDestination[], priority = 0): RouteRule {
  return { id, name: id, priority, sources, destinations };
}

export function mesh(...services: Service[]): MeshState {
  return meshState(services, 'test');
}

interface ViewOptions {
  service?: string;
  metadata?: Record<string, string>;
  locality?: { region?: string; zone?: string; subZone?: string };
  ip?: string;
}

/** sidecar builds the view of a sidecar in `namespace`, fronting `service` (Polaris-style node id). */
export function sidecar(namespace: string, o: ViewOptions = {}): NodeView {
  const metadata: Record<string, string> = {
    ...(o.service ? { 'sidecar.polarismesh.cn/serviceName': o.service } : {}),
    ...o.metadata,
  };
  return nodeView(
    parseNode({
      id: `${namespace}/uuid-${Math.random().toString(16).slice(2)}~${o.ip ?? '10.9.9.9'}`,
      metadata,
      locality: o.locality as never,
      userAgentName: 'envoy',
      clientFeatures: [],
    }),
  );
}

/** gateway builds the view of a gateway node of `namespace/service`. */
export function gateway(namespace: string, service: string, metadata: Record<string, string> = {}): NodeView {
  return nodeView(
    parseNode({
      id: `gateway~${namespace}/uuid~10.8.8.8`,
      metadata: {
        'gateway.polarismesh.cn/serviceNamespace': namespace,
        'gateway.polarismesh.cn/serviceName': service,
        ...metadata,
      },
      userAgentName: 'envoy',
      clientFeatures: [],
    }),
  );
}

/** proxyless builds the view of a grpc-js client in `namespace`, optionally naming its own service. */
export function proxyless(namespace: string, o: ViewOptions = {}): NodeView {
  const metadata: Record<string, string> = {
    ...(o.service ? { 'sidecar.polarismesh.cn/serviceName': o.service } : {}),
    ...o.metadata,
  };
  return nodeView(
    parseNode({
      id: `${namespace}/grpc-client~10.7.7.7`,
      metadata,
      locality: o.locality as never,
      userAgentName: 'gRPC Node Pure-JS',
      clientFeatures: ['envoy.lb.does_not_support_overprovisioning'],
    }),
  );
}
