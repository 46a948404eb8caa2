// Rate-limit rules created in a real Polaris server (v1.18.1) through its HTTP API
// (`/naming/v1/ratelimits`) are enforced by the callee's real Envoy on its inbound listener:
// a LOCAL rule on a path and a header limits exactly its requests to its bucket and answers 429;
// two amounts both hold; two rules on the same requests (alice on /api, the whole service) both
// hold, the first in polaris-go's order refusing first; a CALLER_SERVICE rule limits what comes through the named caller's sidecar
// and nothing else (another caller's application cannot pass for it); a CALLER_IP rule limits one
// caller address and not another; a rule on a gateway's own service is enforced by the gateway's
// Envoy; an edit or a disable reaches Envoy within 3 s; unsupported rules are skipped with their
// reason while the others apply. Polaris v1.18.1 cannot store a rule's custom
// response or concurrency amount (its API has no such fields), so those two come from a mesh file:
// the rule's body on rejection, a CONCURRENCY rule letting 2 requests in flight reach the instance, and
// one narrowed to a path (its own inbound cluster) limiting that path only;
// CALLER_METADATA (unknown to v1.18.1) is shown skipped there too.
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import { startSidecarEnvoy, waitListenerActive, type SidecarEnvoy } from '../support/envoy.js';
import { meshFile, type MeshFile } from '../support/mesh.js';
import { startPolaris, type PolarisServer } from '../support/polaris.js';
import { waitFor } from '../support/ports.js';
import { NO_LIMITER } from '../../src/xds/translate/ratelimit-global.js';
import { sendThrough, startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'rlp';
const WITHIN_MS = 3000;
/** Envoy's own body for a local rate-limit rejection (rules from Polaris v1.18.1 have no custom body). */
const ENVOY_BODY = 'local_rate_limited';
const CUSTOM_BODY = 'rate limited: alice on /api';
/** pair's two overlapping rules: alice on /api, and the whole service (requests a second). */
const PAIR_ALICE = 5;
const PAIR_ALL = 20;

function exact(value: string) {
  return { type: 'EXACT', value };
}

/** A LOCAL QPS rule of `service` as the console writes it. */
function local(name: string, service: string, o: Record<string, unknown>): Record<string, unknown> {
  return {
    name,
    namespace: NS,
    service,
    type: 'LOCAL',
    resource: 'QPS',
    action: 'REJECT',
    disable: false,
    priority: 0,
    ...o,
  };
}

const RULES = [
  local('alice-api', 'echo', {
    method: exact('/api'),
    arguments: [{ type: 'HEADER', key: 'x-user', value: exact('alice') }],
    amounts: [{ maxAmount: 10, validDuration: '1s' }],
  }),
  local('two-amounts', 'echo', {
    method: exact('/two'),
    amounts: [
      { maxAmount: 4, validDuration: '1s' },
      { maxAmount: 6, validDuration: '10s' },
    ],
  }),
  local('queued', 'echo', {
    priority: 5,
    action: 'UNIRATE',
    method: exact('/queued'),
    amounts: [{ maxAmount: 1, validDuration: '1s' }],
  }),
  local('by-caller-service', 'echo', {
    priority: 6,
    method: exact('/meta'),
    arguments: [{ type: 'CALLER_SERVICE', key: NS, value: exact('web') }],
    amounts: [{ maxAmount: 1, validDuration: '1s' }],
  }),
  local('by-caller-ip', 'echo', {
    priority: 8,
    method: exact('/ip'),
    arguments: [{ type: 'CALLER_IP', key: '', value: exact('127.0.0.2') }],
    amounts: [{ maxAmount: 1, validDuration: '1s' }],
  }),
  // The gateway's own service: 3/s on /api, whatever host the request is for.
  local('gateway-api', 'gw', {
    method: exact('/api'),
    amounts: [{ maxAmount: 3, validDuration: '1s' }],
  }),
  local('mesh-wide', 'echo', {
    priority: 7,
    type: 'GLOBAL',
    method: exact('/global'),
    amounts: [{ maxAmount: 1, validDuration: '1s' }],
  }),
  // Two rules of pair on the same requests, both enforced: alice on /api first (priority 0), then the whole service.
  local('pair-alice', 'pair', {
    method: exact('/api'),
    arguments: [{ type: 'HEADER', key: 'x-user', value: exact('alice') }],
    amounts: [{ maxAmount: PAIR_ALICE, validDuration: '1s' }],
  }),
  local('pair-all', 'pair', {
    priority: 1,
    amounts: [{ maxAmount: PAIR_ALL, validDuration: '1s' }],
  }),
];

/** withoutNamespace is a rule as the mesh file takes it: under its namespace, without the key. */
function withoutNamespace(rule: Record<string, unknown>): Record<string, unknown> {
  const { namespace: _namespace, ...rest } = rule;
  return rest;
}

interface Answer {
  readonly status: number;
  readonly body: string;
  /** The rule whose bucket refused the request (the header a LOCAL rule's buckets add), if any. */
  readonly rule?: string;
}

/** get sends one request to echo (unless `headers` name another host), from `localAddress` when given. */
async function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  localAddress?: string,
): Promise<Answer> {
  const { host = 'echo', ...rest } = headers;
  const res = await sendThrough(port, host, path, rest, localAddress, 10_000);
  const rule = res.headers['x-polaris-xds-ratelimit-rule'];
  return { status: res.status, body: res.body, ...(typeof rule === 'string' ? { rule } : {}) };
}

/** paced sends `rate` requests a second for `seconds` (each on its own connection) and returns every answer. */
async function paced(
  port: number,
  rate: number,
  seconds: number,
  path: string,
  headers: Record<string, string> = {},
): Promise<Answer[]> {
  const started = Date.now();
  const pending: Array<Promise<Answer>> = [];
  for (let i = 0; i < rate * seconds; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    pending.push(get(port, path, headers));
  }
  return Promise.all(pending);
}

/** rejectedBody sends a burst of 15 of `user`'s requests to /api and returns the body of a 429 among them, if any. */
async function rejectedBody(port: number, user: string): Promise<string | undefined> {
  const answers = await Promise.all(Array.from({ length: 15 }, () => get(port, '/api', { 'x-user': user })));
  return answers.find((a) => a.status === 429)?.body;
}

/** burst sends 10 requests at once and returns every answer. */
function burst(port: number, path: string, headers: Record<string, string> = {}, localAddress?: string) {
  return Promise.all(Array.from({ length: 10 }, () => get(port, path, headers, localAddress)));
}

function count(answers: readonly Answer[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of answers) out[`${a.status} ${a.body}`] = (out[`${a.status} ${a.body}`] ?? 0) + 1;
  return out;
}

/** A slow upstream: it holds every request until released, counting arrivals. */
interface Holding {
  readonly port: number;
  arrived: number;
  /** The paths of the requests that arrived, in order. */
  readonly paths: string[];
  release(): void;
  close(): Promise<void>;
}

async function startHolding(): Promise<Holding> {
  const held: ServerResponse[] = [];
  const h = { port: 0, arrived: 0, paths: [] as string[] } as Holding & { server: Server };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    h.arrived++;
    h.paths.push(req.url ?? '');
    req.resume();
    held.push(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  (h as { port: number }).port = typeof addr === 'object' && addr ? addr.port : 0;
  h.release = () => {
    for (const res of held.splice(0)) res.end('slow');
  };
  h.close = () =>
    new Promise<void>((r) => {
      h.release();
      server.closeAllConnections();
      server.close(() => r());
    });
  return h;
}

describe('rate-limit rules from a real Polaris server through a real Envoy', { timeout: 120_000 }, () => {
  let polaris: PolarisServer;
  let bridge: BridgeProcess;
  let echo: SidecarEnvoy;
  // Callers of echo with sidecars (web is the one the CALLER_SERVICE rule names), and a gateway of its own service.
  let web: SidecarEnvoy;
  let batch: SidecarEnvoy;
  let gw: SidecarEnvoy;
  let pair: SidecarEnvoy;
  let upstream: Upstream;
  let ids: string[];

  before(async () => {
    polaris = await startPolaris();
    upstream = await startUpstream('echo');
    await polaris.api.createNamespaces([NS]);
    // Callers reach echo's sidecar through `echo-in`, whose instance is that sidecar's inbound listener: what a
    // pod's interception does to calls to echo's own instance (here echo-in stands for it; the rules are echo's).
    await polaris.api.createServices(
      ['echo', 'echo-in', 'web', 'batch', 'gw', 'pair'].map((name) => ({ namespace: NS, name })),
    );
    const at = (service: string, port: number) => ({
      namespace: NS,
      service,
      host: '127.0.0.1',
      port,
      protocol: 'http',
      healthy: true,
    });
    await polaris.api.registerInstances([at('echo', upstream.port), at('pair', upstream.port)]);
    ids = await polaris.api.createRateLimits(RULES);
    assert.equal(ids.filter((id) => id !== '').length, RULES.length, 'Polaris took every rule');
    bridge = await startBridge(['--polaris', polaris.grpcAddress, '--namespace', NS], { ready: true });
    [echo, web, batch, gw, pair] = await Promise.all([
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'echo' }),
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'web' }),
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'batch' }),
      // A gateway's listener is on its outbound port.
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'gw', extra: ['--gateway'] }),
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'pair' }),
    ]);
    await polaris.api.registerInstances([at('echo-in', echo.inbound)]);
    // The rules are in force once the Envoys hold the rules' buckets and routes (no request drew on the buckets yet).
    await waitFor(
      'rules in Envoy',
      async () => {
        const [dump, gwDump, pairDump] = await Promise.all([echo, gw, pair].map((e) => e.envoy.admin('/config_dump')));
        return (
          (dump!.match(/"stat_prefix": "polaris_ratelimit_/g) ?? []).length === 5 &&
          (dump!.match(/"name": "ratelimit\|/g) ?? []).length === 4 &&
          (gwDump!.match(/"stat_prefix": "polaris_ratelimit_/g) ?? []).length === 1 &&
          // pair: a bucket per rule; routes for both rules, alice's alone and the whole service's alone.
          (pairDump!.match(/"stat_prefix": "polaris_ratelimit_/g) ?? []).length === 2 &&
          (pairDump!.match(/"name": "ratelimit\|/g) ?? []).length === 3
        );
      },
      20_000,
      100,
    );
    // And the callers' sidecars route to echo's (a path no rule counts).
    for (const caller of [web, batch])
      await waitFor(
        'a route to echo-in',
        async () => (await get(caller.outbound, '/', { host: 'echo-in' }).catch(() => undefined))?.status === 200,
        20_000,
        100,
      );
    await waitListenerActive(gw.envoy, 'polaris-gateway-inner');
  });

  after(async () => {
    await Promise.all([echo, web, batch, gw, pair].map((e) => e?.envoy.stop()));
    await bridge?.stop();
    await polaris?.stop();
    await upstream?.close();
  });

  it('limits alice on /api to the bucket (429), never bob or /other; two amounts both hold', async () => {
    const two = async (): Promise<{ burst: Answer[]; later: Answer[] }> => {
      const burst = await Promise.all(Array.from({ length: 10 }, () => get(echo.inbound, '/two')));
      return { burst, later: await paced(echo.inbound, 5, 3, '/two') };
    };
    const [alice, bob, other, twoAmounts] = await Promise.all([
      paced(echo.inbound, 50, 3, '/api', { 'x-user': 'alice' }),
      paced(echo.inbound, 10, 3, '/api', { 'x-user': 'bob' }),
      paced(echo.inbound, 10, 3, '/other', { 'x-user': 'alice' }),
      two(),
    ]);
    const accepted = alice.filter((a) => a.status === 200).length;
    process.stdout.write(`# alice at 50/s for 3 s against 10/s: ${accepted} of ${alice.length} accepted\n`);
    // A full bucket (10) plus 10 a second for the 3 s: 40, give or take one bucket.
    assert.ok(
      accepted >= 30 && accepted <= 50,
      `alice accepted ${accepted} of ${alice.length}: ${JSON.stringify(count(alice))}`,
    );
    assert.deepEqual(Object.keys(count(alice)).sort(), ['200 echo', `429 ${ENVOY_BODY}`]);
    assert.deepEqual(count(bob), { '200 echo': 30 });
    assert.deepEqual(count(other), { '200 echo': 30 });
    // 4 a second binds the burst; 6 per 10 s (refilled at 0.6 a second) binds the next 3 s, where
    // the 1 s bucket alone would let 4 + 12 through.
    assert.equal(twoAmounts.burst.filter((a) => a.status === 200).length, 4, JSON.stringify(count(twoAmounts.burst)));
    const twoTotal = 4 + twoAmounts.later.filter((a) => a.status === 200).length;
    process.stdout.write(`# two amounts (4/1 s, 6/10 s), 10 at once then 5/s for 3 s: ${twoTotal} accepted\n`);
    assert.ok(twoTotal >= 6 && twoTotal <= 9, `two-amounts accepted ${twoTotal} in about 3 s`);
    assert.ok([...twoAmounts.burst, ...twoAmounts.later].every((a) => a.status === 200 || a.status === 429));
  });

  it('enforces every matching rule, in polaris-go order: alice at her rule, and her requests in the whole service', async () => {
    const [aliceId, allId] = ids.slice(-2);
    const to = { host: 'pair' };
    const refusedBy = (answers: Answer[]) => count(answers.map((a) => ({ status: a.status, body: a.rule ?? '-' })));
    // alice alone, 30/s for 2 s: her rule binds (a full bucket and 5 a second), the whole service (20/s) does not.
    const alone = await paced(pair.inbound, 30, 2, '/api', { ...to, 'x-user': 'alice' });
    const aloneOk = alone.filter((a) => a.status === 200).length;
    assert.ok(aloneOk >= PAIR_ALICE && aloneOk <= PAIR_ALICE * 3, JSON.stringify(refusedBy(alone)));
    // Her rule is first in polaris-go's order (priority 0): it refuses, and its response answers.
    assert.deepEqual(Object.keys(refusedBy(alone)).sort(), ['200 -', `429 ${aliceId}`]);
    // alice and bob, 30/s each for 3 s: the whole service's bucket hands out at most a full bucket and 3 s of refill
    // to both together; alice's requests her rule lets by draw on it too, and it refuses some of them.
    const [alice, bob] = await Promise.all([
      paced(pair.inbound, 30, 3, '/api', { ...to, 'x-user': 'alice' }),
      paced(pair.inbound, 30, 3, '/api', { ...to, 'x-user': 'bob' }),
    ]);
    const aliceOk = alice.filter((a) => a.status === 200).length;
    const total = aliceOk + bob.filter((a) => a.status === 200).length;
    process.stdout.write(
      `# pair: alice ${PAIR_ALICE}/s on /api, the whole service ${PAIR_ALL}/s; alice alone at 30/s for 2 s: ` +
        `${aloneOk} accepted; alice and bob at 30/s each for 3 s: alice ${aliceOk}, ${total} in all; alice refused ` +
        `by ${JSON.stringify(refusedBy(alice))}\n`,
    );
    const both = `alice ${JSON.stringify(refusedBy(alice))} bob ${JSON.stringify(refusedBy(bob))}`;
    assert.ok(total >= PAIR_ALL * 2 && total <= PAIR_ALL * 4, both);
    assert.ok(
      alice.some((a) => a.status === 429 && a.rule === allId),
      both,
    );
    assert.ok(
      alice.some((a) => a.status === 429 && a.rule === aliceId),
      both,
    );
    assert.deepEqual(Object.keys(refusedBy(bob)).sort(), ['200 -', `429 ${allId}`]);
    // Rules from Polaris v1.18.1 carry no custom body: Envoy's own answers.
    assert.ok(
      [...alone, ...alice, ...bob].every((a) => a.status === 200 || (a.status === 429 && a.body === ENVOY_BODY)),
      both,
    );
  });

  it("limits what comes through the caller's sidecar a CALLER_SERVICE rule names, and no other caller", async () => {
    const SPOOF = { 'x-polaris-xds-caller-namespace': NS, 'x-polaris-xds-caller-service': 'web' };
    const [viaWeb, viaBatch, spoofed, direct] = await Promise.all([
      burst(web.outbound, '/meta', { host: 'echo-in' }),
      burst(batch.outbound, '/meta', { host: 'echo-in' }),
      // batch's application claims to be web: its sidecar writes its own service over the claim.
      burst(batch.outbound, '/meta', { host: 'echo-in', ...SPOOF }),
      // A caller without a sidecar is named by nobody: no caller condition matches it.
      burst(echo.inbound, '/meta'),
    ]);
    const webAccepted = viaWeb.filter((a) => a.status === 200).length;
    process.stdout.write(
      `# CALLER_SERVICE web 1/s, 10 at once: web ${webAccepted} accepted; batch, spoofed, direct 10\n`,
    );
    // The bucket (1), and at most one refill while the burst is under way.
    assert.ok(webAccepted >= 1 && webAccepted <= 2, JSON.stringify(count(viaWeb)));
    assert.deepEqual(Object.keys(count(viaWeb)).sort(), ['200 echo', `429 ${ENVOY_BODY}`]);
    for (const answers of [viaBatch, spoofed, direct]) assert.deepEqual(count(answers), { '200 echo': 10 });
  });

  it('limits the caller address a CALLER_IP rule names, and no other, whatever the request claims', async () => {
    const [from2, from3, claims2] = await Promise.all([
      burst(echo.inbound, '/ip', {}, '127.0.0.2'),
      burst(echo.inbound, '/ip', {}, '127.0.0.3'),
      burst(
        echo.inbound,
        '/ip',
        { 'x-polaris-xds-caller-ip': '127.0.0.2', 'x-forwarded-for': '127.0.0.2' },
        '127.0.0.3',
      ),
    ]);
    const accepted = from2.filter((a) => a.status === 200).length;
    process.stdout.write(`# CALLER_IP 127.0.0.2 1/s, 10 at once: 127.0.0.2 ${accepted} accepted; 127.0.0.3 10\n`);
    assert.ok(accepted >= 1 && accepted <= 2, JSON.stringify(count(from2)));
    assert.deepEqual(Object.keys(count(from2)).sort(), ['200 echo', `429 ${ENVOY_BODY}`]);
    assert.deepEqual(count(from3), { '200 echo': 10 });
    assert.deepEqual(count(claims2), { '200 echo': 10 });
  });

  it("a gateway enforces its own service's rule on what it takes in, and routes the rest as before", async () => {
    const [api, other] = await Promise.all([burst(gw.outbound, '/api'), burst(gw.outbound, '/other')]);
    const accepted = api.filter((a) => a.status === 200).length;
    process.stdout.write(`# gateway rule 3/s on /api, 10 at once through the gateway: ${accepted} accepted\n`);
    assert.ok(accepted >= 3 && accepted <= 4, JSON.stringify(count(api)));
    assert.deepEqual(Object.keys(count(api)).sort(), ['200 echo', `429 ${ENVOY_BODY}`]);
    assert.deepEqual(count(other), { '200 echo': 10 });
  });

  it('skips the unsupported rules with their reasons while the others apply', async () => {
    const skipped = await bridge.adminJson<Array<{ path: string; reason: string }>>('/debug/skipped');
    const reasons = Object.fromEntries(
      skipped.filter((s) => s.path.startsWith(`${NS}/echo.rateLimits`)).map((s) => [s.path, s.reason]),
    );
    assert.match(reasons[`${NS}/echo.rateLimits[queued]`] ?? '', /UNIRATE/);
    assert.equal(reasons[`${NS}/echo.rateLimits[by-caller-service]`], undefined);
    // This Envoy was bootstrapped without the rate-limit service (ratelimit-global.test.ts has one).
    assert.equal(reasons[`${NS}/echo.rateLimits[mesh-wide]`], NO_LIMITER);
    const metrics = (await bridge.admin('/metrics')).body;
    assert.match(metrics, /polaris_xds_rules_skipped\{[^}]*\} [1-9]/);
    // Their paths are not limited (a rule is enforced exactly or not at all).
    for (const path of ['/queued', '/global']) {
      const answers = await Promise.all(
        Array.from({ length: 5 }, () => get(echo.inbound, path, { 'x-user': 'alice' })),
      );
      assert.deepEqual(count(answers), { '200 echo': 5 }, path);
    }
  });

  it('an edit and a disable in Polaris reach Envoy within 3 s', async () => {
    const aliceId = ids[0]!;
    let since = Date.now();
    await polaris.api.updateRateLimits([
      { ...RULES[0], id: aliceId, arguments: [{ type: 'HEADER', key: 'x-user', value: exact('carol') }] },
    ]);
    await waitFor(
      'carol limited instead of alice',
      async () =>
        (await rejectedBody(echo.inbound, 'carol')) !== undefined &&
        (await rejectedBody(echo.inbound, 'alice')) === undefined,
      WITHIN_MS,
      50,
    );
    const editMs = Date.now() - since;
    since = Date.now();
    await polaris.api.enableRateLimits([aliceId], false);
    await waitFor(
      'carol no longer limited',
      async () => (await rejectedBody(echo.inbound, 'carol')) === undefined,
      WITHIN_MS,
      50,
    );
    const disableMs = Date.now() - since;
    process.stdout.write(`# rate-limit edit reached Envoy in ${editMs} ms, disable in ${disableMs} ms\n`);
  });
});

describe('rate-limit rules from a mesh file: custom body and CONCURRENCY', { timeout: 60_000 }, () => {
  let mesh: MeshFile;
  let bridge: BridgeProcess;
  let echo: SidecarEnvoy;
  let slow: SidecarEnvoy;
  let slowPath: SidecarEnvoy;
  let upstream: Upstream;
  let holding: Holding;
  let pathHolding: Holding;

  before(async () => {
    upstream = await startUpstream('echo');
    [holding, pathHolding] = await Promise.all([startHolding(), startHolding()]);
    mesh = meshFile({
      namespaces: [
        {
          name: NS,
          services: [
            { name: 'echo', instances: [{ host: '127.0.0.1', port: upstream.port, protocol: 'http' }] },
            { name: 'slow', instances: [{ host: '127.0.0.1', port: holding.port, protocol: 'http' }] },
            { name: 'slow-path', instances: [{ host: '127.0.0.1', port: pathHolding.port, protocol: 'http' }] },
          ],
          ratelimits: [
            { ...withoutNamespace(RULES[0]!), customResponse: { body: CUSTOM_BODY } },
            {
              name: 'two-in-flight',
              service: 'slow',
              type: 'LOCAL',
              resource: 'CONCURRENCY',
              concurrencyAmount: { maxAmount: 2 },
              customResponse: { body: 'busy' },
            },
            {
              name: 'two-on-slow',
              service: 'slow-path',
              type: 'LOCAL',
              resource: 'CONCURRENCY',
              method: exact('/slow'),
              concurrencyAmount: { maxAmount: 2 },
              customResponse: { body: 'slow busy' },
            },
            {
              // Later in polaris-go's order, on the same requests: skipped (one route, one cluster).
              name: 'one-on-slow',
              service: 'slow-path',
              type: 'LOCAL',
              priority: 1,
              resource: 'CONCURRENCY',
              method: exact('/slow'),
              concurrencyAmount: { maxAmount: 1 },
            },
            {
              name: 'by-caller-metadata',
              service: 'echo',
              type: 'LOCAL',
              priority: 9,
              method: exact('/meta'),
              arguments: [{ type: 'CALLER_METADATA', key: 'env', value: exact('prod') }],
              amounts: [{ maxAmount: 1, validDuration: '1s' }],
            },
          ],
        },
      ],
    });
    bridge = await startBridge(['--file', mesh.path], { ready: true });
    [echo, slow, slowPath] = await Promise.all([
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'echo' }),
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'slow' }),
      startSidecarEnvoy(bridge.xdsAddress, { namespace: NS, service: 'slow-path' }),
    ]);
    await Promise.all(
      [slow, slowPath].map((s) => waitListenerActive(s.envoy, `slow${s === slowPath ? '-path' : ''}.${NS}_INBOUND`)),
    );
    await waitFor('alice limited', async () => (await rejectedBody(echo.inbound, 'alice')) !== undefined, 20_000, 200);
  });

  after(async () => {
    await Promise.all([echo?.envoy.stop(), slow?.envoy.stop(), slowPath?.envoy.stop()]);
    await bridge?.stop();
    await Promise.all([upstream?.close(), holding?.close(), pathHolding?.close()]);
    mesh?.remove();
  });

  it("answers a rejected request with the rule's custom body; skips a CALLER_METADATA rule", async () => {
    assert.equal(await rejectedBody(echo.inbound, 'alice'), CUSTOM_BODY);
    const skipped = await bridge.adminJson<Array<{ path: string; reason: string }>>('/debug/skipped');
    assert.match(
      skipped.find((s) => s.path === `${NS}/echo.rateLimits[by-caller-metadata]`)?.reason ?? '',
      /CALLER_METADATA/,
    );
    const answers = await Promise.all(Array.from({ length: 5 }, () => get(echo.inbound, '/meta')));
    assert.deepEqual(count(answers), { '200 echo': 5 });
  });

  it('CONCURRENCY 2: of 5 slow requests in flight, 2 reach the instance and 3 get 429 with the body', async () => {
    const inFlight = Array.from({ length: 5 }, () => get(slow.inbound, '/work'));
    const answered: Answer[] = [];
    for (const p of inFlight) void p.then((a) => answered.push(a));
    await waitFor('2 arrive and 3 are turned away', () => holding.arrived === 2 && answered.length === 3, 10_000, 20);
    assert.deepEqual(count(answered), { '429 busy': 3 });
    holding.release();
    assert.deepEqual(count(await Promise.all(inFlight)), { '200 slow': 2, '429 busy': 3 });
    assert.equal(holding.arrived, 2);
  });

  it('CONCURRENCY 2 on /slow: of 5 slow requests in flight there, 2 reach the instance; /other is not limited', async () => {
    const onSlow = Array.from({ length: 5 }, () => get(slowPath.inbound, '/slow'));
    const elsewhere = Array.from({ length: 5 }, () => get(slowPath.inbound, '/other'));
    const answered: Answer[] = [];
    for (const p of [...onSlow, ...elsewhere]) void p.then((a) => answered.push(a));
    await waitFor(
      '2 on /slow and 5 on /other arrive, 3 are turned away',
      () => pathHolding.arrived === 7 && answered.length === 3,
      10_000,
      20,
    );
    assert.deepEqual(count(answered), { '429 slow busy': 3 });
    assert.deepEqual([...pathHolding.paths].sort(), [
      '/other',
      '/other',
      '/other',
      '/other',
      '/other',
      '/slow',
      '/slow',
    ]);
    pathHolding.release();
    assert.deepEqual(count(await Promise.all(onSlow)), { '200 slow': 2, '429 slow busy': 3 });
    assert.deepEqual(count(await Promise.all(elsewhere)), { '200 slow': 5 });
    assert.equal(pathHolding.arrived, 7);
    const skipped = await bridge.adminJson<Array<{ path: string; reason: string }>>('/debug/skipped');
    assert.match(
      skipped.find((s) => s.path === `${NS}/slow-path.rateLimits[one-on-slow]`)?.reason ?? '',
      /^CONCURRENCY rule two-on-slow comes first and shares requests with it/,
    );
  });
});
