// Polaris's own conventions: the catalogue in src/xds/conventions.ts and docs/compatibility.md list
// the same keys, and each entry's behaviour has a test (honoured, no effect, or logged once per node).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it, test } from 'node:test';
import type { Logger } from '../../src/log.js';
import { captureLogger } from './sync/helpers.js';
import type { Instance, Service } from '../../src/model/mesh.js';
import {
  CONVENTIONS,
  loggingUnsupportedKeys,
  unsupportedNodeKeys,
  UnsupportedKeyLog,
  type Convention,
} from '../../src/xds/conventions.js';
import { parseNode } from '../../src/xds/node.js';
import type { ConfigWatcher } from '../../src/xds/server/watcher.js';
import { createTranslator } from '../../src/xds/translate/index.js';
import { outboundCluster } from '../../src/xds/translate/names.js';
import { repoRoot } from '../support/components.js';
import { decoded, resource, type Json } from './xds/translate/support/envoy-protos.js';
import { instance, mesh, service, sidecar } from './xds/translate/support/fixtures.js';

const DOC = readFileSync(join(repoRoot, 'docs/compatibility.md'), 'utf8');

test('docs/compatibility.md lists every convention of the catalogue with its status, and no other key', () => {
  const rows = new Set<string>();
  let scope = '';
  for (const line of DOC.split('\n')) {
    const h = /^## (Service|Instance|Node) metadata/.exec(line);
    if (h) scope = `${h[1]!.toLowerCase()} metadata`;
    else if (line.startsWith('## ')) scope = '';
    const m = /^\| `([^`]+)`(?: \(every key\))? \| (honoured|not applicable|not yet) \|/.exec(line);
    if (m && scope) rows.add(`${scope}|${m[1]}|${m[2]}`);
  }
  assert.deepEqual([...rows].sort(), CONVENTIONS.map((c) => `${c.scope}|${c.key}|${c.status}`).sort());
});

/** cla is the decoded assignment of `svc` for a sidecar (with a locality) in its namespace. */
function cla(svc: Service): Json {
  const t = createTranslator().translate(mesh(svc), sidecar('ns', { locality: { region: 'r1', zone: 'z1' } }));
  return resource(t.snapshot, 'eds', outboundCluster('ns', 'svc'));
}

function clusters(svc: Service): Json[] {
  return [...decoded(createTranslator().translate(mesh(svc), sidecar('ns')).snapshot, 'cds').values()];
}

const PLACED: Instance[] = [
  instance('a', '10.0.0.1', { locality: { region: 'r1', zone: 'z1', campus: '' } }),
  instance('b', '10.0.0.2', { locality: { region: 'r1', zone: 'z2', campus: '' }, metadata: { canary: 'true' } }),
  instance('c', '10.0.0.3', { locality: { region: 'r2', zone: 'z3', campus: '' }, healthy: false }),
];

/** noEffect asserts that a service key changes nothing in what the service's callers are served. */
function serviceKeyHasNoEffect(key: string, value: string): void {
  assert.deepEqual(
    cla(service('ns', 'svc', PLACED, { metadata: { [key]: value } })),
    cla(service('ns', 'svc', PLACED)),
  );
}

/** instanceKeyHasNoEffect asserts that an instance key changes nothing Envoy sees (and is not exported). */
function instanceKeyHasNoEffect(key: string, value: string): void {
  const tagged = PLACED.map((i) => ({ ...i, metadata: { ...i.metadata, [key]: value } }));
  assert.deepEqual(cla(service('ns', 'svc', tagged)), cla(service('ns', 'svc', PLACED)));
}

function logCapture(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const { logger, lines } = captureLogger();
  return { logger, lines: () => lines as unknown as Array<Record<string, unknown>> };
}

/** nodeKeyIsLoggedOnce asserts that a node setting `key` is warned about once, naming the key, and served as usual. */
function nodeKeyIsLoggedOnce(key: string, value: string): void {
  const { logger, lines } = logCapture();
  const log = new UnsupportedKeyLog(logger);
  const node = (id: string) =>
    parseNode({
      id,
      metadata: { 'sidecar.polarismesh.cn/serviceName': 'svc', [key]: value },
      userAgentName: 'envoy',
      clientFeatures: [],
    });
  log.seen(node('ns/1~10.0.0.9'));
  log.seen(node('ns/1~10.0.0.9'));
  assert.equal(lines().length, 1);
  const [first] = lines();
  assert.equal(first!.level, 40);
  assert.match(
    String(first!.msg),
    new RegExp(
      `node ns/1~10\\.0\\.0\\.9: not supported yet, see docs/compatibility\\.md: ${key.replace(/\./g, '\\.')}=`,
    ),
  );
  assert.deepEqual(first!.keys, [key]);
  // Another node is told about too.
  log.seen(node('ns/2~10.0.0.8'));
  assert.equal(lines().length, 2);
  // Served plaintext, the whole namespace: no TLS anywhere in the clusters.
  for (const c of clusters(service('ns', 'svc', PLACED)))
    assert.equal(c.transportSocket ?? c.transportSocketMatches, undefined);
}

const CHECKS: Record<string, () => void> = {
  'service metadata|internal-enable-nearby': () => {
    const priorities = (md: Record<string, string>) => [
      ...new Set((cla(service('ns', 'svc', PLACED, { metadata: md })).endpoints as Json[]).map((e) => e.priority ?? 0)),
    ];
    assert.deepEqual(priorities({ 'internal-enable-nearby': 'true' }), [0, 1, 2]);
    assert.deepEqual(priorities({}), [0]);
  },
  'service metadata|internal-canary': () => {
    serviceKeyHasNoEffect('internal-canary', 'true');
    // The canary instance is served like the others.
    const hosts = (
      cla(service('ns', 'svc', PLACED, { metadata: { 'internal-canary': 'true' } })).endpoints as Json[]
    ).flatMap((e) => (e.lbEndpoints as Json[]).map((l) => l.endpoint.address.socketAddress.address));
    assert.ok(hosts.includes('10.0.0.2'));
  },
  'service metadata|internal-service-protectthreshold': () =>
    serviceKeyHasNoEffect('internal-service-protectthreshold', '0.5'),
  'instance metadata|internal-*': () => {
    const withKeys = PLACED.map((i) => ({
      ...i,
      metadata: { ...i.metadata, 'internal-anything': 'x', version: 'v1' },
    }));
    for (const e of cla(service('ns', 'svc', withKeys)).endpoints as Json[]) {
      for (const l of e.lbEndpoints as Json[]) {
        const lb = Object.keys(l.metadata?.filterMetadata?.['envoy.lb']?.fields ?? {});
        assert.ok(lb.includes('version'), JSON.stringify(lb));
        assert.ok(!lb.some((k) => k.startsWith('internal-')), JSON.stringify(lb));
      }
    }
  },
  'instance metadata|internal-lastheartbeat': () => instanceKeyHasNoEffect('internal-lastheartbeat', '1700000000'),
  'instance metadata|internal-enable-set': () => instanceKeyHasNoEffect('internal-enable-set', 'Y'),
  'instance metadata|internal-set-name': () => instanceKeyHasNoEffect('internal-set-name', 'app.sz.1'),
  'instance metadata|internal-register-from': () => instanceKeyHasNoEffect('internal-register-from', 'xdsv3'),
  'instance metadata|internal-healthcheck_path': () => instanceKeyHasNoEffect('internal-healthcheck_path', '/health'),
  'instance metadata|internal-trace_sampling': () => instanceKeyHasNoEffect('internal-trace_sampling', '1'),
  'instance metadata|polarismesh.cn/tls-mode': () => {
    const strict = PLACED.map((i) => ({ ...i, metadata: { ...i.metadata, 'polarismesh.cn/tls-mode': 'strict' } }));
    for (const c of clusters(service('ns', 'svc', strict)))
      assert.equal(c.transportSocket ?? c.transportSocketMatches, undefined, c.name);
  },
  'node metadata|sidecar.polarismesh.cn/serviceName': () => {
    assert.equal(
      parseNode({
        id: 'ns/1~10.0.0.9',
        metadata: { 'sidecar.polarismesh.cn/serviceName': 'cart' },
        userAgentName: 'envoy',
        clientFeatures: [],
      }).service,
      'cart',
    );
  },
  'node metadata|sidecar.polarismesh.cn/serviceNamespace': () => {
    assert.equal(
      parseNode({
        id: 'ns/1~10.0.0.9',
        metadata: { 'sidecar.polarismesh.cn/serviceNamespace': 'shop' },
        userAgentName: 'envoy',
        clientFeatures: [],
      }).namespace,
      'shop',
    );
  },
  'node metadata|sidecar.polarismesh.cn/bindPorts': () => {
    assert.deepEqual(
      parseNode({
        id: 'ns/1~10.0.0.9',
        metadata: { 'sidecar.polarismesh.cn/bindPorts': '8080,9090' },
        userAgentName: 'envoy',
        clientFeatures: [],
      }).bindPorts,
      [8080, 9090],
    );
  },
  'node metadata|gateway.polarismesh.cn/serviceName': () => {
    assert.equal(
      parseNode({
        id: 'gateway~ns/1~10.0.0.9',
        metadata: { 'gateway.polarismesh.cn/serviceName': 'edge' },
        userAgentName: 'envoy',
        clientFeatures: [],
      }).service,
      'edge',
    );
  },
  'node metadata|gateway.polarismesh.cn/serviceNamespace': () => {
    assert.equal(
      parseNode({
        id: 'gateway~ns/1~10.0.0.9',
        metadata: { 'gateway.polarismesh.cn/serviceNamespace': 'web' },
        userAgentName: 'envoy',
        clientFeatures: [],
      }).namespace,
      'web',
    );
  },
  'node metadata|polarismesh.cn/tls-mode': () => {
    nodeKeyIsLoggedOnce('polarismesh.cn/tls-mode', 'strict');
    // `none` is what is served anyway: nothing to tell.
    assert.deepEqual(unsupportedNodeKeys({ metadata: { 'polarismesh.cn/tls-mode': 'none' } }), []);
  },
  'node metadata|sidecar.polarismesh.cn/tlsMode': () => nodeKeyIsLoggedOnce('sidecar.polarismesh.cn/tlsMode', 'strict'),
  'node metadata|sidecar.polarismesh.cn/registerServices': () =>
    nodeKeyIsLoggedOnce('sidecar.polarismesh.cn/registerServices', '[{"name":"svc","ports":{"HTTP":[8080]}}]'),
  'node metadata|sidecar.polarismesh.cn/openOnDemand': () => {
    const node = (value: string) => ({
      id: 'ns/1~10.0.0.9',
      metadata: { 'sidecar.polarismesh.cn/serviceName': 'svc', 'sidecar.polarismesh.cn/openOnDemand': value },
      userAgentName: 'envoy',
      clientFeatures: [],
    });
    assert.equal(parseNode(node('true')).onDemand, true);
    assert.equal(parseNode(node('false')).onDemand, false);
    // Served on demand over Delta (test/e2e/on-demand-envoy.test.ts); over SotW (no VHDS) the full state, said once per node.
    const { logger, lines } = logCapture();
    const inner: ConfigWatcher = {
      watch: () => ({
        current: () => undefined,
        onChange: () => {},
        close: () => {},
        feed: { current: () => undefined, subscribe: () => () => {} },
      }),
    };
    const w = loggingUnsupportedKeys(inner, new UnsupportedKeyLog(logger));
    w.watch(node('true') as never, { incremental: true });
    assert.equal(lines().length, 0);
    w.watch(node('true') as never, { incremental: false });
    w.watch(node('true') as never, { incremental: false });
    assert.equal(lines().length, 1);
    assert.match(String(lines()[0]!.msg), /openOnDemand needs Delta xDS/);
  },
  // On-demand resources come over the ADS stream itself: there is no separate server to name.
  'node metadata|sidecar.polarismesh.cn/demandServer': () =>
    assert.deepEqual(
      unsupportedNodeKeys({ metadata: { 'sidecar.polarismesh.cn/demandServer': '10.0.0.1:15010' } }),
      [],
    ),
};

describe('each convention', () => {
  const id = (c: Convention) => `${c.scope}|${c.key}`;
  it('has a check', () => assert.deepEqual(Object.keys(CHECKS).sort(), CONVENTIONS.map(id).sort()));
  for (const c of CONVENTIONS) it(`${c.scope} ${c.key}: ${c.status}`, () => CHECKS[id(c)]!());
});

test('the watcher wrapper looks at every node that opens a watch and still opens it', () => {
  const { logger, lines } = logCapture();
  let opened = 0;
  const inner: ConfigWatcher = {
    watch: () => {
      opened++;
      return {
        current: () => undefined,
        onChange: () => {},
        close: () => {},
        feed: { current: () => undefined, subscribe: () => () => {} },
      };
    },
  };
  const w = loggingUnsupportedKeys(inner, new UnsupportedKeyLog(logger));
  const node = {
    id: 'ns/1~10.0.0.9',
    metadata: { 'sidecar.polarismesh.cn/registerServices': '[]' },
    userAgentName: 'envoy',
    clientFeatures: [],
  };
  w.watch(node as never);
  w.watch(node as never);
  assert.equal(opened, 2);
  assert.equal(lines().length, 1);
});
