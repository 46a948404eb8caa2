// What a rate-limit rule adds to a request's latency through a real Envoy: one sidecar, fed by
// polaris-xds from a mesh file and bootstrapped with the rate-limit service (real
// envoyproxy/ratelimit on Redis, its limits served by the same bridge over xDS), receives requests
// one at a time on its inbound listener, in turn on a path without a rule (the limit: Envoy alone),
// a path a LOCAL rule applies to and a path a GLOBAL rule applies to (amounts too large ever to
// reject, so every request goes through the filters and on), plus the upstream directly (no Envoy),
// all interleaved in the same run so that each sees the same machine load.
import { Agent } from 'node:http';
import { startBridge } from '../../test/support/bridge.js';
import { startSidecarEnvoy } from '../../test/support/envoy.js';
import { meshFile } from '../../test/support/mesh.js';
import { waitFor } from '../../test/support/ports.js';
import { startRateLimitService } from '../../test/support/ratelimit.js';
import { startUpstream } from '../../test/support/upstream.js';
import { progress } from '../lib/progress.js';
import { timedGet } from '../lib/http.js';
import { summarize, type Summary } from '../lib/stats.js';

/** The paths timed: the upstream directly, and through Envoy without a rule, with a LOCAL and with a GLOBAL rule. */
export type LatencyPath = 'direct' | 'noRule' | 'local' | 'global';
const PATHS: readonly LatencyPath[] = ['direct', 'noRule', 'local', 'global'];

export interface RateLimitResult {
  readonly requestsPerPath: number;
  readonly latencyMs: Readonly<Record<LatencyPath, Summary>>;
  /** p99 with the rule minus p99 without (ms), and p99 with ÷ p99 without: Envoy's added latency against the run's own limit. */
  readonly addedP99Ms: { readonly local: number; readonly global: number };
  readonly p99Ratio: { readonly local: number; readonly global: number };
  readonly error?: string;
}

const BIG = 1_000_000_000;

/** runRateLimit times `requests` requests per path. */
export async function runRateLimit(requests: number): Promise<RateLimitResult> {
  const empty = summarize([]);
  const failed = (error: string): RateLimitResult => ({
    requestsPerPath: requests,
    latencyMs: { direct: empty, noRule: empty, local: empty, global: empty },
    addedP99Ms: { local: NaN, global: NaN },
    p99Ratio: { local: NaN, global: NaN },
    error,
  });
  const upstream = await startUpstream('echo');
  const mesh = meshFile({
    namespaces: [
      {
        name: 'bench',
        services: [{ name: 'echo', instances: [{ host: '127.0.0.1', port: upstream.port, protocol: 'http' }] }],
        ratelimits: [
          {
            name: 'local',
            service: 'echo',
            type: 'LOCAL',
            method: { type: 'EXACT', value: '/local' },
            amounts: [{ maxAmount: BIG, validDuration: '1s' }],
          },
          {
            name: 'global',
            service: 'echo',
            type: 'GLOBAL',
            failover: 'FAILOVER_PASS',
            method: { type: 'EXACT', value: '/global' },
            amounts: [{ maxAmount: BIG, validDuration: '1s' }],
          },
        ],
      },
    ],
  });
  const stops: Array<() => Promise<unknown>> = [async () => mesh.remove(), () => upstream.close()];
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const bridge = await startBridge(['--file', mesh.path], { ready: true });
    stops.unshift(() => bridge.stop());
    const limiter = await startRateLimitService(bridge.xdsAddress);
    stops.unshift(() => limiter.stop());
    const sidecar = await startSidecarEnvoy(bridge.xdsAddress, {
      namespace: 'bench',
      service: 'echo',
      extra: ['--ratelimit-address', limiter.grpcAddress],
    });
    stops.unshift(() => sidecar.envoy.stop());
    await waitFor(
      'the GLOBAL rule in the limiter',
      async () => (await limiter.limits()).includes('polaris|bench|echo.'),
      30_000,
      100,
    );
    await waitFor(
      'both rules in Envoy',
      async () => {
        const dump = await sidecar.envoy.admin('/config_dump');
        return dump.includes('"descriptor_key": "polaris_rule"') && dump.includes('polaris_ratelimit_');
      },
      30_000,
      100,
    );
    const target = (p: LatencyPath): [number, string] =>
      p === 'direct' ? [upstream.port, '/free'] : [sidecar.inbound, p === 'noRule' ? '/free' : `/${p}`];
    const samples: Record<LatencyPath, number[]> = { direct: [], noRule: [], local: [], global: [] };
    progress(`ratelimit: ${requests} requests per path, ${PATHS.join(', ')}`);
    for (let i = 0; i < requests + 200; i++) {
      // Rotate the order so that no path always follows the same one.
      for (let k = 0; k < PATHS.length; k++) {
        const p = PATHS[(i + k) % PATHS.length]!;
        const [port, path] = target(p);
        const r = await timedGet(port, { host: 'echo', path, agent });
        if (r.status !== 200) throw new Error(`${p} (${path}): status ${r.status}`);
        // The first 200 rounds warm connections, Envoy and the limiter up.
        if (i >= 200) samples[p].push(r.ms);
      }
    }
    const latencyMs = {
      direct: summarize(samples.direct),
      noRule: summarize(samples.noRule),
      local: summarize(samples.local),
      global: summarize(samples.global),
    };
    const base = latencyMs.noRule.p99;
    return {
      requestsPerPath: requests,
      latencyMs,
      addedP99Ms: { local: latencyMs.local.p99 - base, global: latencyMs.global.p99 - base },
      p99Ratio: { local: latencyMs.local.p99 / base, global: latencyMs.global.p99 / base },
    };
  } catch (err) {
    return failed(err instanceof Error ? err.message : String(err));
  } finally {
    agent.destroy();
    for (const stop of stops) await stop().catch(() => undefined);
  }
}
