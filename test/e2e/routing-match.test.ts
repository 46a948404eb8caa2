// Routing rules through a real Envoy: each request goes where Polaris's rule router would send
// it. Rules come from a mesh file; upstreams answer with their own name. Covers every request
// condition (header, query, path, cookie; EXACT, IN, NOT_IN, NOT_EQUALS, REGEX, RANGE), the
// caller service (two sidecars, and a gateway's own rules), weight 0, isolated destinations, and
// rules that cannot be translated (skipped with a reason, never broadened, while the others still
// route).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startBridge, type BridgeProcess } from '../support/bridge.js';
import {
  meshFile,
  startSidecar,
  waitForOnly,
  type MeshArgument,
  type MeshDoc,
  type MeshFile,
  type MeshMatch,
  type MeshRule,
  type Sidecar,
} from '../support/mesh.js';
import { waitFor } from '../support/ports.js';
import { startUpstream, type Upstream } from '../support/upstream.js';

const NS = 'rt';
const HOST = `echo.${NS}`;

function to(version: string, extra: Partial<MeshRule['destinations'][number]> = {}): MeshRule['destinations'][number] {
  return { service: 'echo', labels: { version }, name: version, ...extra };
}

function header(key: string, value: MeshMatch): { arguments: MeshArgument[] } {
  return { arguments: [{ type: 'HEADER', key, value }] };
}

const RULES: MeshRule[] = [
  // Priority 0: rules that cannot be translated. Were they approximated, every request would go to v2.
  {
    name: 'unsupported-caller-ip',
    priority: 0,
    sources: [{ arguments: [{ type: 'CALLER_IP', value: '127.0.0.1' }] }],
    destinations: [to('v2')],
  },
  {
    name: 'unsupported-custom',
    priority: 0,
    sources: [{ arguments: [{ type: 'CUSTOM', key: 'uid', value: '1' }] }],
    destinations: [to('v2')],
  },
  {
    name: 'unsupported-path-not-in',
    priority: 0,
    sources: [{ arguments: [{ type: 'PATH', value: { type: 'NOT_IN', value: '/x,/y' } }] }],
    destinations: [to('v2')],
  },
  {
    name: 'by-header',
    priority: 1,
    sources: [{ arguments: [{ type: 'HEADER', key: 'x-version', value: 'v2' }] }],
    destinations: [to('v2')],
  },
  {
    name: 'by-query',
    priority: 1,
    sources: [{ arguments: [{ type: 'QUERY', key: 'canary', value: 'yes' }] }],
    destinations: [to('v2')],
  },
  {
    name: 'by-path',
    priority: 1,
    sources: [{ arguments: [{ type: 'PATH', value: '/beta' }] }],
    destinations: [to('v2')],
  },
  {
    name: 'by-path-regex',
    priority: 1,
    sources: [{ arguments: [{ type: 'PATH', value: { type: 'REGEX', value: '^/api/v3/' } }] }],
    destinations: [to('v3')],
  },
  {
    name: 'by-cookie',
    priority: 1,
    sources: [{ arguments: [{ type: 'COOKIE', key: 'session', value: 'gold' }] }],
    destinations: [to('v2')],
  },
  // Header names are case-insensitive: the rule's key is written in capitals.
  {
    name: 'by-in',
    priority: 1,
    sources: [header('X-User', { type: 'IN', value: 'alice,bob' })],
    destinations: [to('v2')],
  },
  {
    name: 'by-not-in',
    priority: 1,
    sources: [header('x-team', { type: 'NOT_IN', value: 'red,blue' })],
    destinations: [to('v3')],
  },
  {
    name: 'by-regex',
    priority: 1,
    sources: [header('x-agent', { type: 'REGEX', value: 'mobile-[0-9]+' })],
    destinations: [to('v3')],
  },
  {
    name: 'by-range',
    priority: 1,
    sources: [header('x-uid', { type: 'RANGE', value: '100~199' })],
    destinations: [to('v3')],
  },
  {
    name: 'by-not-equals',
    priority: 1,
    sources: [header('x-env', { type: 'NOT_EQUALS', value: 'prod' })],
    destinations: [to('v2')],
  },
  // Only for callers of service `frontend`.
  {
    name: 'by-caller',
    priority: 1,
    sources: [{ service: 'frontend', namespace: NS, ...header('x-caller', 'yes') }],
    destinations: [to('v3')],
  },
  // v2 is isolated: its group gets nothing, v3 (same priority) everything, v1 (next priority) nothing.
  {
    name: 'isolated',
    priority: 1,
    sources: [header('x-iso', '1')],
    destinations: [to('v2', { weight: 100, isolate: true }), to('v3', { weight: 50 }), to('v1', { priority: 1 })],
  },
  // Weight 0 means no traffic: a rule whose groups all weigh 0 is skipped (never an invalid route),
  // and a 0-weight group next to others gets nothing.
  {
    name: 'zero-weights',
    priority: 1,
    sources: [header('x-zero', 'all')],
    destinations: [to('v2', { weight: 0 }), to('v3', { weight: 0 })],
  },
  {
    name: 'zero-weight-group',
    priority: 1,
    sources: [header('x-zero', 'some')],
    destinations: [to('v2', { weight: 0 }), to('v3', { weight: 1 })],
  },
  // A gateway's own rule: it routes any host by path.
  {
    name: 'edge-orders',
    priority: 1,
    sources: [{ service: 'edge', namespace: NS, arguments: [{ type: 'PATH', value: '/orders' }] }],
    destinations: [to('v3')],
  },
  { name: 'default', priority: 9, destinations: [to('v1')] },
];

function mesh(upstreams: Record<string, Upstream>, extraServices: string[] = []): MeshDoc {
  return {
    namespaces: [
      {
        name: NS,
        services: [
          {
            name: 'echo',
            instances: ['v1', 'v2', 'v3'].map((v) => ({
              host: '127.0.0.1',
              port: upstreams[`echo-${v}`]!.port,
              protocol: 'http',
              version: v,
            })),
          },
          { name: 'frontend' },
          { name: 'backend' },
          { name: 'edge' },
          ...extraServices.map((name) => ({
            name,
            instances: [{ host: '127.0.0.1', port: upstreams['echo-v1']!.port }],
          })),
        ],
        rules: RULES,
      },
    ],
  };
}

describe('routing rules through a real Envoy (file source)', () => {
  const upstreams: Record<string, Upstream> = {};
  let file: MeshFile;
  let bridge: BridgeProcess;
  let frontend: Sidecar;
  let backend: Sidecar;
  let edge: Sidecar;

  before(async () => {
    for (const v of ['v1', 'v2', 'v3']) upstreams[`echo-${v}`] = await startUpstream(`echo-${v}`);
    file = meshFile(mesh(upstreams));
    bridge = await startBridge(['--file', file.path], { ready: true });
    [frontend, backend, edge] = await Promise.all([
      startSidecar(bridge, { namespace: NS, service: 'frontend' }),
      startSidecar(bridge, { namespace: NS, service: 'backend' }),
      startSidecar(bridge, { namespace: NS, service: 'edge', gateway: true }),
    ]);
    await Promise.all(
      [frontend, backend, edge].map((s) => waitForOnly(s, 'echo-v2', HOST, { 'x-version': 'v2' }, 20_000)),
    );
  });

  after(async () => {
    await Promise.all([frontend?.stop(), backend?.stop(), edge?.stop()]);
    await bridge?.stop();
    file?.remove();
    await Promise.all(Object.values(upstreams).map((u) => u.close()));
  });

  it('Envoy accepts every resource', async () => {
    const dump = await frontend.envoy.configDump();
    for (const r of [...dump.clusters, ...dump.listeners, ...dump.routes, ...dump.endpoints]) {
      assert.equal(r.errorState, undefined, `${r.name} rejected: ${JSON.stringify(r.errorState)}`);
    }
  });

  it('a header rule sends matching requests to v2 and the rest to v1', async () => {
    await frontend.only('echo-v2', 20, HOST, '/', { 'x-version': 'v2' });
    await frontend.only('echo-v1', 20, HOST, '/', { 'x-version': 'V2' });
    await frontend.only('echo-v1', 20, HOST, '/');
  });

  it('query and path rules', async () => {
    const cases: Array<[string, string]> = [
      ['/?canary=yes', 'echo-v2'],
      ['/?canary=no', 'echo-v1'],
      ['/?canary=yess', 'echo-v1'],
      ['/beta', 'echo-v2'],
      ['/beta?canary=no', 'echo-v2'],
      ['/beta/x', 'echo-v1'],
      ['/api/v3/items', 'echo-v3'],
      ['/x/api/v3/items', 'echo-v1'],
    ];
    for (const [path, want] of cases) await frontend.only(want, 5, HOST, path);
  });

  it('a cookie rule matches the exact cookie value', async () => {
    await frontend.only('echo-v2', 5, HOST, '/', { cookie: 'a=1; session=gold' });
    await frontend.only('echo-v2', 5, HOST, '/', { cookie: 'session=gold' });
    await frontend.only('echo-v1', 5, HOST, '/', { cookie: 'session=golden; b=2' });
    await frontend.only('echo-v1', 5, HOST, '/', { cookie: 'xsession=gold' });
  });

  it('IN and NOT_IN', async () => {
    for (const [user, want] of [
      ['alice', 'echo-v2'],
      ['bob', 'echo-v2'],
      ['carol', 'echo-v1'],
      ['alice,bob', 'echo-v1'],
    ] as const) {
      await frontend.only(want, 5, HOST, '/', { 'x-user': user });
    }
    for (const [team, want] of [
      ['green', 'echo-v3'],
      ['red', 'echo-v1'],
      ['blue', 'echo-v1'],
    ] as const) {
      await frontend.only(want, 5, HOST, '/', { 'x-team': team });
    }
    // A missing header never matches, NOT_IN included (as in Polaris's SDKs).
    await frontend.only('echo-v1', 5, HOST, '/');
  });

  it('NOT_EQUALS needs the header present', async () => {
    await frontend.only('echo-v2', 5, HOST, '/', { 'x-env': 'test' });
    await frontend.only('echo-v1', 5, HOST, '/', { 'x-env': 'prod' });
  });

  it('REGEX is a search, as in Polaris', async () => {
    for (const [agent, want] of [
      ['Mozilla mobile-42 (x)', 'echo-v3'],
      ['mobile-7', 'echo-v3'],
      ['mobile-', 'echo-v1'],
      ['desktop', 'echo-v1'],
    ] as const) {
      await frontend.only(want, 5, HOST, '/', { 'x-agent': agent });
    }
  });

  it('RANGE on a numeric header includes both ends', async () => {
    for (const [uid, want] of [
      ['100', 'echo-v3'],
      ['150', 'echo-v3'],
      ['199', 'echo-v3'],
      ['99', 'echo-v1'],
      ['200', 'echo-v1'],
      ['abc', 'echo-v1'],
      ['-150', 'echo-v1'],
    ] as const) {
      await frontend.only(want, 5, HOST, '/', { 'x-uid': uid });
    }
  });

  it("a rule for caller frontend applies to frontend's sidecar and not to backend's", async () => {
    await frontend.only('echo-v3', 20, HOST, '/', { 'x-caller': 'yes' });
    await backend.only('echo-v1', 20, HOST, '/', { 'x-caller': 'yes' });
    // Rules open to any caller apply to both.
    await backend.only('echo-v2', 5, HOST, '/', { 'x-version': 'v2' });
  });

  it("a gateway routes any host by its own rules only; rules for any caller stay on their service's host", async () => {
    await edge.only('echo-v3', 10, 'shop.example.com', '/orders');
    assert.equal((await edge.send('shop.example.com', '/beta')).status, 404);
    assert.equal((await edge.send('shop.example.com', '/')).status, 404);
    await edge.only('echo-v2', 10, HOST, '/beta');
    await edge.only('echo-v1', 10, HOST, '/');
    await edge.only('echo-v3', 10, HOST, '/orders');
    // A sidecar of another service is not the rule's caller.
    await frontend.only('echo-v1', 10, HOST, '/orders');
  });

  it('weight 0 gets no traffic; a rule whose weights are all 0 is skipped', async () => {
    const v2 = upstreams['echo-v2']!.hits;
    await frontend.only('echo-v1', 20, HOST, '/', { 'x-zero': 'all' });
    await frontend.only('echo-v3', 20, HOST, '/', { 'x-zero': 'some' });
    assert.equal(upstreams['echo-v2']!.hits, v2);
  });

  it('an isolated destination gets 0 requests', async () => {
    const v1 = upstreams['echo-v1']!.hits;
    const v2 = upstreams['echo-v2']!.hits;
    await frontend.only('echo-v3', 100, HOST, '/', { 'x-iso': '1' });
    assert.equal(upstreams['echo-v2']!.hits, v2);
    assert.equal(upstreams['echo-v1']!.hits, v1);
  });

  it('skips untranslatable rules with their reason, in /debug/skipped, the metric and the log (once)', async () => {
    const skipped = await bridge.adminJson<Array<{ kind: string; path: string; reason: string }>>('/debug/skipped');
    const rules = skipped.filter((s) => s.kind === 'rule');
    const find = (rule: string) => rules.find((s) => s.path.includes(`[${NS}/${rule}]`));
    assert.match(find('unsupported-caller-ip')?.reason ?? '', /caller_ip/i);
    assert.match(find('unsupported-caller-ip')!.path, /\.sources\[0\]\.match\["\$caller_ip"\]$/);
    assert.match(find('unsupported-custom')?.reason ?? '', /custom/i);
    assert.match(find('unsupported-path-not-in')?.reason ?? '', /NOT_IN on \$path/);
    assert.match(find('zero-weights')?.reason ?? '', /no destination can take traffic/);
    assert.equal(rules.length, 4, JSON.stringify(rules));

    const metric = async () =>
      /^polaris_xds_rules_skipped\{kind="rule"\} (\d+)$/m.exec((await bridge.admin('/metrics')).body)?.[1];
    assert.equal(await metric(), '4');

    // A mesh change rebuilds every snapshot: the same skips are not logged again.
    file.write(mesh(upstreams, ['extra']));
    await waitFor(
      'the new service to route',
      async () => (await frontend.send(`extra.${NS}`)).body === 'echo-v1',
      10_000,
    );
    const lines = bridge
      .logs()
      .split('\n')
      .filter((l) => l.includes('unsupported-caller-ip'));
    assert.equal(lines.length, 1, lines.join('\n'));
    assert.match(lines[0]!, /caller_ip/);
    assert.equal(await metric(), '4');
  });
});
