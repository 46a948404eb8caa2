// Fault-detect rules (Polaris FAULT_DETECTOR) → Envoy active health checks on a service's clusters.
// polaris-go checks each instance with the rule of the instance's protocol (the first rule per
// protocol in its order); Envoy runs every health check of a cluster on every host, so a service
// gets its check only when that comes to the same thing. Translated exactly or skipped with a
// reason (docs/governance.md). Pure.
import type { DeepPartial } from '../../gen/envoy/config/cluster/v3/cluster.js';
import { RequestMethod } from '../../gen/envoy/config/core/v3/base.js';
import type { HealthCheck } from '../../gen/envoy/config/core/v3/health_check.js';
import type { Duration } from '../../gen/google/protobuf/duration.js';
import type { FaultDetectProtocol, FaultDetectRule } from '../../model/faultdetect.js';
import { compareKeys, type Instance, type Service } from '../../model/mesh.js';
import { wildcardLast } from './breakers.js';
import { routable } from './eds.js';
import type { Flavor } from './routing/match.js';
import { isWildcard } from './routing/rules.js';
import { skip, type SkipReason } from './skip.js';

/** Health is the active health checking of a service's clusters. */
export interface Health {
  readonly healthChecks: ReadonlyArray<DeepPartial<HealthCheck>>;
  readonly skipped: readonly SkipReason[];
}

const NO_HEALTH: Health = Object.freeze({
  healthChecks: Object.freeze([]),
  skipped: Object.freeze([]) as readonly SkipReason[],
});

/** polaris-go's defaults: a check every 10 s when the rule gives no interval; HTTP answers 200-399 are healthy. */
export const DEFAULT_INTERVAL_SECONDS = 10;
/** A check without a timeout waits this long (Envoy needs one). */
export const DEFAULT_TIMEOUT_MS = 1000;
const EXPECTED_STATUSES = [{ start: 200, end: 400 }];

const METHODS: Readonly<Record<string, RequestMethod>> = {
  GET: RequestMethod.GET,
  HEAD: RequestMethod.HEAD,
  POST: RequestMethod.POST,
  PUT: RequestMethod.PUT,
  DELETE: RequestMethod.DELETE,
  OPTIONS: RequestMethod.OPTIONS,
  TRACE: RequestMethod.TRACE,
  PATCH: RequestMethod.PATCH,
};

/** polarisOrder is polaris-go's fault-detector order: specific targets first; ties by id. */
function polarisOrder(a: FaultDetectRule, b: FaultDetectRule): number {
  return (
    wildcardLast(a.target.namespace, b.target.namespace) ||
    wildcardLast(a.target.service, b.target.service) ||
    compareKeys(a.id, b.id)
  );
}

/**
 * instanceProtocol reads an instance's protocol as polaris-go does (`http`, `http/…`, `…/http`; tcp, udp); anything
 * else is UNKNOWN.
 */
export function instanceProtocol(i: Instance): FaultDetectProtocol {
  const p = i.protocol.toLowerCase();
  for (const name of ['http', 'udp', 'tcp'] as const)
    if (p === name || p.startsWith(`${name}/`) || p.endsWith(`/${name}`))
      return name.toUpperCase() as FaultDetectProtocol;
  return 'UNKNOWN';
}

function millis(ms: number): Duration {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

type Checked =
  | { readonly ok: true; readonly check: DeepPartial<HealthCheck> }
  | { readonly ok: false; readonly reason: string };

function healthCheckOf(rule: FaultDetectRule): Checked {
  const interval = { seconds: rule.intervalSeconds > 0 ? rule.intervalSeconds : DEFAULT_INTERVAL_SECONDS, nanos: 0 };
  const base: DeepPartial<HealthCheck> = {
    timeout: millis(rule.timeoutMs > 0 ? rule.timeoutMs : DEFAULT_TIMEOUT_MS),
    interval,
    // Envoy checks a cluster that has had no traffic only every 60 s unless told otherwise.
    noTrafficInterval: interval,
    // polaris-go keeps the last check's result: one failure marks an instance down, one success up.
    unhealthyThreshold: 1,
    healthyThreshold: 1,
    ...(rule.port > 0 ? { altPort: rule.port } : {}),
  };
  if (rule.port > 65535) return { ok: false, reason: `port: ${rule.port} is not a TCP port` };
  switch (rule.protocol) {
    case 'HTTP': {
      const h = rule.http;
      if (!h.url.startsWith('/'))
        return { ok: false, reason: `http_config.url: ${JSON.stringify(h.url)} is not a path starting with /` };
      const name = (h.method || 'GET').toUpperCase();
      const method = METHODS[name];
      if (method === undefined)
        return {
          ok: false,
          reason: `http_config.method: ${JSON.stringify(h.method)} is not a method Envoy health checks can send`,
        };
      if (h.body !== '' && (name === 'GET' || name === 'HEAD'))
        return { ok: false, reason: `http_config.body: Envoy sends no body with ${name}` };
      const bad = h.headers.findIndex((x) => x.key === '' || x.key.startsWith(':'));
      if (bad >= 0)
        return {
          ok: false,
          reason:
            `http_config.headers[${bad}].key: ${JSON.stringify(h.headers[bad]!.key)} is not a header Envoy can ` +
            `add`,
        };
      return {
        ok: true,
        check: {
          ...base,
          healthChecker: {
            $case: 'httpHealthCheck',
            value: {
              path: h.url,
              method,
              requestHeadersToAdd: h.headers.map((x) => ({ header: { key: x.key, value: x.value } })),
              expectedStatuses: EXPECTED_STATUSES,
              ...(h.body !== ''
                ? { send: { payload: { $case: 'text', value: Buffer.from(h.body, 'utf8').toString('hex') } } }
                : {}),
            },
          },
        },
      };
    }
    case 'TCP': {
      const { send, receive } = rule.tcp;
      if (!HEX.test(send)) return { ok: false, reason: 'tcp_config.send: not hex-encoded bytes' };
      const bad = receive.findIndex((r) => !HEX.test(r) || r === '');
      if (bad >= 0) return { ok: false, reason: `tcp_config.receive[${bad}]: not hex-encoded bytes` };
      return {
        ok: true,
        check: {
          ...base,
          healthChecker: {
            $case: 'tcpHealthCheck',
            value: {
              ...(send !== '' ? { send: { payload: { $case: 'text', value: send } } } : {}),
              receive: receive.map((r) => ({ payload: { $case: 'text' as const, value: r } })),
            },
          },
        },
      };
    }
    case 'UDP':
      return { ok: false, reason: 'protocol UDP: Envoy has no UDP health checker' };
    default:
      return { ok: false, reason: `protocol ${rule.protocol}: not a protocol polaris-go checks` };
  }
}

/**
 * healthFor is the active health checking of service `s`'s clusters. Rules that target a method
 * feed only METHOD-level circuit breakers in polaris-go and are not checks of instances.
 */
export function healthFor(s: Service, flavor: Flavor): Health {
  const rules = s.faultDetectors.rules;
  if (rules.length === 0) return NO_HEALTH;
  const path = (r: FaultDetectRule) => `${s.namespace}/${s.name}.faultDetectors[${r.id}]`;
  const covering = rules
    .filter(
      (r) =>
        (isWildcard(r.target.namespace) || r.target.namespace === s.namespace) &&
        (isWildcard(r.target.service) || r.target.service === s.name),
    )
    .filter((r) => r.target.method === undefined || r.target.method.value === '' || r.target.method.value === '*')
    .sort(polarisOrder);
  // The first rule of each protocol is the one polaris-go uses.
  const chosen = new Map<FaultDetectProtocol, FaultDetectRule>();
  for (const r of covering) if (!chosen.has(r.protocol)) chosen.set(r.protocol, r);
  if (chosen.size === 0) return NO_HEALTH;
  const all = [...chosen.values()];
  if (flavor === 'grpc')
    return {
      healthChecks: [],
      skipped: all.map((r) => skip('fault-detector', path(r), 'gRPC clients (grpc-js) run no active health checks')),
    };
  if (all.length > 1) {
    const reason =
      `rules for ${all.map((r) => r.protocol).join(' and ')}: polaris-go checks each instance with the ` +
      `rule of its protocol, Envoy would run every check on every instance`;
    return { healthChecks: [], skipped: all.map((r) => skip('fault-detector', path(r), reason)) };
  }
  const rule = all[0]!;
  const c = healthCheckOf(rule);
  if (!c.ok) return { healthChecks: [], skipped: [skip('fault-detector', path(rule), c.reason)] };
  const other = routable(s).instances.find((i) => {
    const p = instanceProtocol(i);
    return p !== 'UNKNOWN' && p !== rule.protocol;
  });
  if (other) {
    return {
      healthChecks: [],
      skipped: [
        skip(
          'fault-detector',
          path(rule),
          `instance ${other.id} speaks ${other.protocol}: polaris-go would not check it with a ${rule.protocol} ` +
            `rule, Envoy checks every instance of the cluster`,
        ),
      ],
    };
  }
  return { healthChecks: [c.check], skipped: [] };
}
