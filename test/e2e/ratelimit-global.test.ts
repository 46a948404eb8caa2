// GLOBAL rate-limit rules created in a real Polaris server (v1.18.1) through its HTTP API are counted
// across the service's instances by a real envoyproxy/ratelimit on a real Redis, which takes its
// limits over xDS from polaris-xds; two real Envoys (two instances of one service) ask it about
// every request of the rule. GLOBAL_TOTAL holds the total, SHARE_EQUALLY the share × instances (even
// through one instance); a header's or a caller address's values are counted apart; with the limiter gone, FAILOVER_PASS lets everything through and
// FAILOVER_LOCAL limits each instance to its share; a GLOBAL rule and a LOCAL rule after it on the
// same requests both hold, the limiter asked first; an edit and a disable in Polaris reach the
// limiter and Envoy within 3 s.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, type SidecarEnvoy } from '../support/envoy.js';
import { startPolaris, type PolarisServer } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';
import { startRateLimitService, type RateLimitService } from '../support/ratelimit.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'rlg';
const WITHIN_MS = 3000;
const DOMAIN = `polaris|${NS}|echo`;
/** The mixed pair: GLOBAL over both instances, LOCAL per instance (requests a second). */
const MIXED_GLOBAL = 10;
const MIXED_LOCAL = 3;

/** A GLOBAL QPS rule of echo as the console writes it (proto field names, as the HTTP API takes them). */
function global(name: string, path: string, o: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    namespace: NS,
    service: 'echo',
    type: 'GLOBAL',
    resource: 'QPS',
    action: 'REJECT',
    disable: false,
    priority: 0,
    method: { type: 'EXACT', value: path },
    ...o,
  };
}

const RULES = [
  global('total', '/total', {
    amounts: [{ maxAmount: 20, validDuration: '1s' }],
    amount_mode: 'GLOBAL_TOTAL',
    failover: 'FAILOVER_PASS',
  }),
  global('share', '/share', {
    amounts: [{ maxAmount: 10, validDuration: '1s' }],
    amount_mode: 'SHARE_EQUALLY',
    failover: 'FAILOVER_LOCAL',
  }),
  global('fallback', '/fallback', {
    amounts: [{ maxAmount: 20, validDuration: '1s' }],
    amount_mode: 'GLOBAL_TOTAL',
    failover: 'FAILOVER_LOCAL',
  }),
  global('edited', '/edited', { amounts: [{ maxAmount: 5, validDuration: '1s' }] }),
  global('two', '/two', {
    amounts: [
      { maxAmount: 3, validDuration: '1s' },
      { maxAmount: 5, validDuration: '60s' },
    ],
  }),
  // Any value of x-user, without regex_combine: each user has a 2/s of their own.
  global('per-user', '/user', {
    amounts: [{ maxAmount: 2, validDuration: '1s' }],
    failover: 'FAILOVER_PASS',
    arguments: [{ type: 'HEADER', key: 'x-user', value: { type: 'EXACT', value: '*' } }],
  }),
  // Any caller address, without regex_combine: each caller has a 2/s of its own.
  global('per-caller', '/caller', {
    amounts: [{ maxAmount: 2, validDuration: '1s' }],
    failover: 'FAILOVER_PASS',
    arguments: [{ type: 'CALLER_IP', key: '', value: { type: 'EXACT', value: '*' } }],
  }),
  // A GLOBAL rule and a LOCAL rule on the same requests, the GLOBAL one first in polaris-go's order: both apply.
  global('mixed', '/mixed', {
    amounts: [{ maxAmount: MIXED_GLOBAL, validDuration: '1s' }],
    failover: 'FAILOVER_PASS',
  }),
  global('mixed-local', '/mixed', {
    type: 'LOCAL',
    priority: 1,
    amounts: [{ maxAmount: MIXED_LOCAL, validDuration: '1s' }],
  }),
];

const get = (port: number, path: string) => sendThrough(port, 'echo', path);
const accepted = (statuses: readonly number[]) => statuses.filter((s) => s === 200).length;

/**
 * inWindows sends `perSecond` requests a second to each port for `seconds` whole seconds, spread
 * over the first 800 ms of each: the limiter counts in windows aligned to the second, so the run
 * covers exactly `seconds` windows. Returns every status.
 */
async function inWindows(
  ports: readonly number[],
  perSecond: number,
  seconds: number,
  path: string,
): Promise<number[]> {
  const start = Math.ceil(Date.now() / 1000) * 1000 + 30;
  const pending: Array<Promise<number>> = [];
  for (let s = 0; s < seconds; s++) {
    for (let i = 0; i < perSecond; i++) {
      const due = start + s * 1000 + (i * 800) / perSecond;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      for (const port of ports) pending.push(get(port, path).then((a) => a.status));
    }
  }
  return Promise.all(pending);
}

/** ruleDescriptors are the rules an Envoy config dump sends the limiter descriptors for. */
function ruleDescriptors(dump: string): Set<string> {
  return new Set(
    [...dump.matchAll(/"descriptor_value": "([^"]+)",\s*"descriptor_key": "polaris_rule"/g)].map((m) => m[1]!),
  );
}

function tally(statuses: readonly number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}

describe('GLOBAL rate-limit rules from a real Polaris server, counted by envoyproxy/ratelimit across two Envoys', {
  timeout: 120_000,
}, () => {
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let limiter: RateLimitService;
  let envoys: SidecarEnvoy[];
  let upstreams: Upstream[];
  let ids: string[];

  before(async () => {
    polaris = await startPolaris();
    upstreams = await Promise.all([startUpstream('echo'), startUpstream('echo')]);
    await polaris.api.createNamespaces([NS]);
    await polaris.api.createServices([{ namespace: NS, name: 'echo' }]);
    await polaris.api.registerInstances(
      upstreams.map((u) => ({
        namespace: NS,
        service: 'echo',
        host: '127.0.0.1',
        port: u.port,
        protocol: 'http',
        healthy: true,
      })),
    );
    ids = await polaris.api.createRateLimits(RULES);
    assert.equal(ids.filter((id) => id !== '').length, RULES.length, 'Polaris took every rule');
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS], { ready: true });
    limiter = await startRateLimitService(bridge.xdsAddress);
    envoys = await Promise.all(
      [0, 1].map(() =>
        startSidecarEnvoy(bridge.xdsAddress, {
          namespace: NS,
          service: 'echo',
          extra: ['--ratelimit-address', limiter.grpcAddress],
        }),
      ),
    );
    // In force once the limiter holds the eight GLOBAL rules' nine limits and both Envoys send their descriptors.
    await waitFor(
      'limits in the limiter',
      async () =>
        ((await limiter.limits()).match(new RegExp(`^${DOMAIN.replace(/\|/g, '\\|')}\\.`, 'gm')) ?? []).length === 9,
      20_000,
      100,
    );
    await waitFor(
      'descriptors in both Envoys',
      async () => {
        const dumps = await Promise.all(envoys.map((e) => e.envoy.admin('/config_dump')));
        return dumps.every((d) => ruleDescriptors(d).size === 8 && d.includes('"stat_prefix": "polaris_ratelimit_'));
      },
      20_000,
      100,
    );
  });

  after(async () => {
    await Promise.all((envoys ?? []).map((e) => e.envoy.stop()));
    await limiter?.stop();
    await bridge?.stop();
    await polaris?.stop();
    await Promise.all((upstreams ?? []).map((u) => u.close()));
  });

  it('GLOBAL_TOTAL holds 20/s across both Envoys; SHARE_EQUALLY 10/s per instance is 20/s even through one', async () => {
    const [total, share] = await Promise.all([
      inWindows(
        envoys.map((e) => e.inbound),
        25,
        5,
        '/total',
      ),
      inWindows([envoys[0]!.inbound], 50, 5, '/share'),
    ]);
    const t = accepted(total);
    const s = accepted(share);
    process.stdout.write(`# GLOBAL_TOTAL 20/s, two Envoys at 25/s each for 5 s: ${t} of ${total.length} accepted\n`);
    process.stdout.write(
      `# SHARE_EQUALLY 10/s × 2 instances, one Envoy at 50/s for 5 s: ${s} of ${share.length} accepted\n`,
    );
    assert.ok(t >= 90 && t <= 110, `total: ${t} accepted, ${JSON.stringify(tally(total))}`);
    assert.ok(s >= 90 && s <= 110, `share: ${s} accepted, ${JSON.stringify(tally(share))}`);
    assert.deepEqual(Object.keys(tally([...total, ...share])).sort(), ['200', '429']);
  });

  it('two amounts both hold: 3/s, and 5/min over two seconds; a request refused by one does not count toward the other', async () => {
    // Both bursts within one minute window (the limiter's windows start at whole minutes).
    if (Date.now() % 60_000 > 56_000) await waitFor('a fresh minute', () => Date.now() % 60_000 < 1000, 5000, 50);
    // One request after another: the limiter reads the counters, then increments those it keeps
    // (STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT), which concurrent requests could interleave.
    const burst = async () => {
      await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 30));
      const statuses: number[] = [];
      for (let i = 0; i < 10; i++) statuses.push((await get(envoys[i % 2]!.inbound, '/two')).status);
      return statuses;
    };
    const first = await burst();
    const second = await burst();
    process.stdout.write(
      `# two amounts (3/s, 5/min), bursts of 10 in two seconds: ${accepted(first)} then ${accepted(second)} accepted\n`,
    );
    assert.equal(accepted(first), 3, JSON.stringify(tally(first)));
    assert.equal(accepted(second), 2, JSON.stringify(tally(second)));
  });

  it('counts each value of a header apart when the rule does not combine them: 2/s for alice and 2/s for bob', async () => {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 30));
    const statuses: Record<string, number[]> = { alice: [], bob: [] };
    for (let i = 0; i < 10; i++) {
      const user = i % 2 ? 'bob' : 'alice';
      statuses[user]!.push((await sendThrough(envoys[i % 2]!.inbound, 'echo', '/user', { 'x-user': user })).status);
    }
    process.stdout.write(
      `# per-user 2/s, five requests each in one second: alice ${accepted(statuses.alice!)}, bob ${accepted(statuses.bob!)} accepted\n`,
    );
    assert.deepEqual([accepted(statuses.alice!), accepted(statuses.bob!)], [2, 2], JSON.stringify(statuses));
  });

  it('counts each caller address apart: 2/s for 127.0.0.2 and 2/s for 127.0.0.3, across both Envoys', async () => {
    await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 30));
    const statuses: Record<string, number[]> = { '127.0.0.2': [], '127.0.0.3': [] };
    for (let i = 0; i < 10; i++) {
      const from = i % 2 ? '127.0.0.3' : '127.0.0.2';
      statuses[from]!.push((await sendThrough(envoys[i % 2]!.inbound, 'echo', '/caller', {}, from)).status);
    }
    const [a, b] = [accepted(statuses['127.0.0.2']!), accepted(statuses['127.0.0.3']!)];
    process.stdout.write(`# per-caller 2/s, five requests from each address in one second: ${a} and ${b} accepted\n`);
    assert.deepEqual([a, b], [2, 2], JSON.stringify(statuses));
  });

  it('a GLOBAL rule and a LOCAL rule after it on the same requests both hold, the limiter asked first', async () => {
    const localId = ids[RULES.length - 1];
    // One Envoy at 20/s for two whole seconds: the limiter lets 10 a second by, and of those the instance's bucket
    // (3 and 3 a second) lets by what it holds.
    const start = Math.ceil(Date.now() / 1000) * 1000 + 30;
    const pending: Array<Promise<{ status: number; headers: Record<string, unknown> }>> = [];
    for (let i = 0; i < 40; i++) {
      const wait = start + Math.floor(i / 20) * 1000 + ((i % 20) * 800) / 20 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      pending.push(get(envoys[0]!.inbound, '/mixed'));
    }
    const answers = await Promise.all(pending);
    const ok = answers.filter((a) => a.status === 200).length;
    const byLocal = answers.filter((a) => a.status === 429 && a.headers['x-polaris-xds-ratelimit-rule'] === localId);
    const byLimiter = answers.filter(
      (a) => a.status === 429 && a.headers['x-polaris-xds-ratelimit-rule'] === undefined,
    );
    process.stdout.write(
      `# GLOBAL ${MIXED_GLOBAL}/s then LOCAL ${MIXED_LOCAL}/s on /mixed, one Envoy at 20/s for 2 s: ${ok} accepted, ` +
        `${byLimiter.length} refused by the limiter, ${byLocal.length} by the local bucket\n`,
    );
    const all = JSON.stringify(answers.map((a) => [a.status, a.headers['x-polaris-xds-ratelimit-rule'] ?? '-']));
    // The local bucket: full (3) and 3 a second for under 2 s.
    assert.ok(ok >= MIXED_LOCAL && ok <= MIXED_LOCAL * 3, all);
    assert.equal(ok + byLocal.length + byLimiter.length, 40, all);
    assert.ok(byLocal.length > 0 && byLimiter.length > 0, all);
    // Only what the limiter let by reached the bucket: at most its 10 a second.
    assert.ok(ok + byLocal.length <= MIXED_GLOBAL * 2, all);
  });

  it('an edit and a disable in Polaris reach the limiter and Envoy within 3 s', async () => {
    const id = ids[3]!;
    const edited = /polaris_rule_[^.]+\.amount_0: unit=SECOND requests_per_unit=7\b/;
    let since = Date.now();
    await polaris.api.updateRateLimits([{ ...RULES[3], id, amounts: [{ maxAmount: 7, validDuration: '1s' }] }]);
    await waitFor('the new amount in the limiter', async () => edited.test(await limiter.limits()), WITHIN_MS, 50);
    const editMs = Date.now() - since;
    since = Date.now();
    await polaris.api.enableRateLimits([id], false);
    await waitFor(
      'the rule gone from the limiter and from both Envoys',
      async () => {
        if (edited.test(await limiter.limits())) return false;
        const dumps = await Promise.all(envoys.map((e) => e.envoy.admin('/config_dump')));
        return dumps.every((d) => ruleDescriptors(d).size === 7 && !ruleDescriptors(d).has(id));
      },
      WITHIN_MS,
      50,
    );
    const disableMs = Date.now() - since;
    process.stdout.write(
      `# GLOBAL rule edit reached the limiter in ${editMs} ms, disable reached the limiter and Envoy in ${disableMs} ms\n`,
    );
    // Disabled: a burst over the old amounts is not limited.
    assert.deepEqual(
      tally(
        await Promise.all(Array.from({ length: 15 }, () => get(envoys[0]!.inbound, '/edited').then((a) => a.status))),
      ),
      { 200: 15 },
    );
  });

  it('with the limiter gone: FAILOVER_PASS lets every request through, FAILOVER_LOCAL limits each Envoy to its share', async () => {
    await limiter.stopLimiter();
    const burst = (port: number, path: string, n: number) =>
      Promise.all(Array.from({ length: n }, () => get(port, path).then((a) => a.status)));
    const [pass0, pass1] = await Promise.all(envoys.map((e) => burst(e.inbound, '/total', 40)));
    assert.deepEqual(tally([...pass0!, ...pass1!]), { 200: 80 });
    // 20/s in total over 2 instances is 10 each; SHARE_EQUALLY's share is its amount, 10.
    const [fallback0, fallback1, share0] = await Promise.all([
      burst(envoys[0]!.inbound, '/fallback', 20),
      burst(envoys[1]!.inbound, '/fallback', 20),
      burst(envoys[0]!.inbound, '/share', 20),
    ]);
    process.stdout.write(
      `# limiter stopped, bursts of 20: /fallback ${accepted(fallback0!)} and ${accepted(fallback1!)} accepted, /share ${accepted(share0!)}\n`,
    );
    for (const [name, statuses] of [
      ['fallback via Envoy 0', fallback0!],
      ['fallback via Envoy 1', fallback1!],
      ['share via Envoy 0', share0!],
    ] as const) {
      const a = accepted(statuses);
      // A full bucket of 10, plus what refills (10/s) while the burst is under way.
      assert.ok(a >= 10 && a <= 12, `${name}: ${a} accepted, ${JSON.stringify(tally(statuses))}`);
      assert.deepEqual(Object.keys(tally(statuses)).sort(), ['200', '429']);
    }
  });
});
