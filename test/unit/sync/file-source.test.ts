import assert from 'node:assert/strict';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { errorCode } from '../../../src/errors.js';
import { createFileSource, EXAMPLE_MESH_FILE, parseMeshText } from '../../../src/sync/file-source.js';
import { CircuitBreaker, Level } from '../../../src/gen/v1/circuitbreaker.js';
import { FaultDetector } from '../../../src/gen/v1/fault_detector.js';
import { convertCircuitBreakers, convertFaultDetectors } from '../../../src/sync/convert-governance.js';
import { repoRoot } from '../../support/components.js';
import { waitFor } from '../../support/ports.js';
import { captureLogger, tempDir, untilState } from './helpers.js';

const GOOD = `
namespaces:
  - name: shop
    services:
      - name: cart
        metadata: { tier: 2 }
        instances:
          - { host: 10.0.0.1, port: 8080, version: v1, metadata: { version: v1 }, locality: { region: r1, zone: z1 } }
          - { host: 10.0.0.2, port: 8080, weight: 0, healthy: false, isolate: true, protocol: grpc, metadata: { version: 2 } }
      - name: pay
        instances:
          - { id: pay-1, host: 10.0.1.1, port: 9090 }
      - name: basket
        aliasFor: { name: cart }
    rules:
      - name: by-everything
        priority: 3
        sources:
          - service: pay
            arguments:
              - { type: HEADER, key: x-user, value: { type: REGEX, value: "^u[0-9]+$" } }
              - { type: QUERY, key: q, value: v }
              - { type: COOKIE, key: c, value: { type: IN, value: "a,b" } }
              - { type: METHOD, value: GET }
              - { type: PATH, value: { type: NOT_EQUALS, value: /admin } }
              - { type: CALLER_IP, value: { type: RANGE, value: "10.0.0.0-10.0.0.9" } }
              - { type: CUSTOM, key: env, value: { value: prod, value_type: PARAMETER } }
        destinations:
          - { service: cart, namespace: shop, labels: { version: v2 }, priority: 0, weight: 80, name: g2 }
          - { service: cart, labels: { version: { type: EXACT, value: v1 } }, priority: 1, weight: 20, isolate: true, name: g1 }
          - { service: pay, name: other }
      - name: first
        priority: 1
        destinations:
          - { service: cart }
      - name: off
        enable: false
        destinations:
          - { service: cart }
`;

describe('mesh file parsing', () => {
  it('builds the model: instances, defaults, aliases', () => {
    const s = parseMeshText(GOOD, 'test');
    assert.equal(s.origin, 'file');
    assert.deepEqual([...s.services.keys()], ['shop/basket', 'shop/cart', 'shop/pay']);
    const cart = s.services.get('shop/cart')!;
    assert.deepEqual(cart.metadata, { tier: '2' });
    const [a, b] = cart.instances.slice().sort((x, y) => x.host.localeCompare(y.host));
    assert.deepEqual(a, {
      ...a!,
      host: '10.0.0.1',
      port: 8080,
      weight: 100,
      healthy: true,
      isolate: false,
      protocol: '',
      version: 'v1',
      locality: { region: 'r1', zone: 'z1', campus: '' },
    });
    // As Polaris serves them: version, protocol and the location are also labels.
    assert.deepEqual(a!.metadata, { version: 'v1', region: 'r1', zone: 'z1', campus: '' });
    assert.match(a!.id, /^[0-9a-f]{40}$/);
    assert.deepEqual(
      [b!.weight, b!.healthy, b!.isolate, b!.protocol, b!.metadata.version, b!.metadata.protocol],
      [0, false, true, 'grpc', '2', 'grpc'],
    );
    assert.equal(b!.metadata.region, undefined, 'no location, no location labels');
    assert.equal(s.services.get('shop/pay')!.instances[0]!.id, 'pay-1');
    const basket = s.services.get('shop/basket')!;
    assert.deepEqual(basket.aliasFor, { namespace: 'shop', name: 'cart' });
    assert.deepEqual(basket.instances, cart.instances);
  });

  it('encodes rules like the Polaris server: keys, callee and caller sides, order', () => {
    const s = parseMeshText(GOOD, 'test');
    const cart = s.services.get('shop/cart')!;
    assert.deepEqual(
      cart.routing.inbounds.map((r) => [r.id, r.priority]),
      [
        ['shop/first', 1],
        ['shop/by-everything', 3],
      ],
    );
    const rule = cart.routing.inbounds[1]!;
    assert.deepEqual(Object.keys(rule.sources[0]!.match), [
      '$caller_ip',
      '$cookie.c',
      '$header.x-user',
      '$method',
      '$path',
      '$query.q',
      'env',
    ]);
    assert.deepEqual(rule.sources[0]!.match['$header.x-user'], {
      type: 'REGEX',
      value: '^u[0-9]+$',
      valueType: 'TEXT',
    });
    assert.deepEqual(rule.sources[0]!.match['$query.q'], { type: 'EXACT', value: 'v', valueType: 'TEXT' });
    assert.deepEqual(rule.sources[0]!.match.env, { type: 'EXACT', value: 'prod', valueType: 'PARAMETER' });
    assert.deepEqual(rule.sources[0]!.match.$caller_ip!.type, 'RANGE');
    assert.equal(rule.sources[0]!.service, 'pay');
    assert.equal(rule.sources[0]!.namespace, 'shop', 'a named caller defaults to the rule namespace');
    // Inbound: only the callee's own groups.
    assert.deepEqual(
      rule.destinations.map((d) => [d.name, d.service, d.priority, d.weight, d.isolate]),
      [
        ['g2', 'cart', 0, 80, false],
        ['g1', 'cart', 1, 20, true],
      ],
    );
    assert.deepEqual(rule.destinations[0]!.labels, { version: { type: 'EXACT', value: 'v2', valueType: 'TEXT' } });
    // Outbound of the caller: every group. The wildcard-caller rule is everyone's outbound.
    const pay = s.services.get('shop/pay')!;
    assert.deepEqual(
      pay.routing.outbounds.map((r) => r.id),
      ['shop/first', 'shop/by-everything'],
    );
    assert.equal(pay.routing.outbounds[1]!.destinations.length, 3);
    assert.deepEqual(pay.routing.inbounds, []);
    assert.deepEqual(
      s.services.get('shop/basket')!.routing.outbounds.map((r) => r.id),
      ['shop/first'],
    );
    assert.ok(!cart.routing.inbounds.some((r) => r.id === 'shop/off'), 'disabled rules are left out');
  });

  it('changes the routing revision of exactly the callers an edited rule covers', () => {
    const before = parseMeshText(GOOD, 'test');
    const revisions = (text: string) => {
      const s = parseMeshText(text, 'test');
      return ['shop/basket', 'shop/cart', 'shop/pay'].map(
        (k) => s.services.get(k)!.routing.revision !== before.services.get(k)!.routing.revision,
      );
    };
    // `first` has no source: every service of the namespace is its caller (and cart its callee).
    assert.deepEqual(revisions(GOOD.replace('priority: 1\n', 'priority: 2\n')), [true, true, true]);
    // `by-everything` names pay as its caller (and cart, pay as callees): basket's list is untouched.
    assert.deepEqual(revisions(GOOD.replace('value: prod', 'value: test')), [false, true, true]);
    const edited = parseMeshText(GOOD.replace('value: prod', 'value: test'), 'test');
    assert.deepEqual(
      edited.services.get('shop/basket')!.routing.outbounds,
      before.services.get('shop/basket')!.routing.outbounds,
    );
  });

  it('names the path of every problem', () => {
    const bad = `
namespaces:
  - name: ns
    services:
      - name: a
        instances:
          - { host: h, port: 1 }
      - name: b
        prot: x
        instances:
          - { host: h, port: "80" }
          - { host: "", port: 70000 }
    rules:
      - name: r
        sources:
          - arguments:
              - { type: HEADER, value: x }
              - { type: CALLER_METADATA, key: k, value: x }
        destinations: []
`;
    assert.throws(
      () => parseMeshText(bad, 'bad.yaml'),
      (err: Error) => {
        assert.equal(errorCode(err), 'PXDS_ERR_FILE_SOURCE');
        assert.match(err.message, /^mesh file bad\.yaml: /);
        for (const want of [
          'namespaces[0].services[1]: Unrecognized key: "prot"',
          'namespaces[0].services[1].instances[0].port: expected number, received string',
          'namespaces[0].services[1].instances[1].host: must not be empty',
          'namespaces[0].services[1].instances[1].port: Too big',
          'namespaces[0].rules[0].sources[0].arguments[0].key: required for type HEADER',
          'namespaces[0].rules[0].sources[0].arguments[1].type: Invalid option',
          'namespaces[0].rules[0].destinations: at least one destination is needed',
        ]) {
          assert.ok(err.message.includes(want), `missing "${want}" in: ${err.message}`);
        }
        return true;
      },
    );
  });

  it("takes governance rules in the shape of Polaris's HTTP API, to the same model the syncer builds, filed as Polaris serves them", () => {
    const state = parseMeshText(
      `
namespaces:
  - name: ns
    services:
      - { name: echo, instances: [{ host: 10.0.0.1, port: 80 }] }
      - { name: other }
    circuitbreakers:
      - name: cb-5xx
        level: INSTANCE
        rule_matcher:
          source: { service: "*", namespace: "*" }
          destination: { service: echo, namespace: ns, method: { type: REGEX, value: "/api/.*" } }
        error_conditions: [{ input_type: RET_CODE, condition: { type: RANGE, value: "500~599" } }]
        trigger_condition: [{ trigger_type: CONSECUTIVE_ERROR, error_count: 5 }, { trigger_type: ERROR_RATE, error_percent: 50, interval: 10, minimum_request: 10 }]
        max_ejection_percent: 100
        recoverCondition: { sleep_window: 60, consecutiveSuccess: 1 }
        fallbackConfig: { enable: true, response: { code: 503, headers: [{ key: x-cb, value: open }], body: sorry } }
      - name: cb-any
        enable: false
        level: SERVICE
        rule_matcher: { destination: { service: "*" } }
    faultdetectors:
      - name: echo-http
        target_service: { service: echo }
        interval: 1
        timeout: 500
        protocol: HTTP
        http_config: { method: GET, url: /healthz, headers: [{ key: h, value: 1 }] }
    ratelimits:
      - name: api-5qps
        service: echo
        type: LOCAL
        method: { type: EXACT, value: /api }
        arguments: [{ type: HEADER, key: x-user, value: alice }]
        amounts: [{ maxAmount: 3, validDuration: 1s }, { maxAmount: 5, validDuration: 0.5s }]
        action: REJECT
`,
      'gov.yaml',
    );
    const echo = state.services.get('ns/echo')!;
    const other = state.services.get('ns/other')!;
    assert.deepEqual(
      echo.circuitBreakers.rules.map((r) => r.id),
      ['ns/cb-5xx', 'ns/cb-any'],
    );
    assert.deepEqual(
      other.circuitBreakers.rules.map((r) => r.id),
      ['ns/cb-any'],
      'a rule for any service of the namespace reaches every one',
    );
    assert.deepEqual(other.faultDetectors.rules, []);
    assert.deepEqual(
      echo.rateLimits.rules[0]!.amounts.map((a) => a.validDuration),
      [
        { seconds: 1, nanos: 0 },
        { seconds: 0, nanos: 500_000_000 },
      ],
    );
    assert.notEqual(echo.circuitBreakers.revision, '');
    // The syncer's converter, given the same rule as Polaris would serve it, builds the same model.
    const synced = convertCircuitBreakers(
      'ns',
      'echo',
      CircuitBreaker.fromPartial({
        rules: [
          {
            id: 'ns/cb-5xx',
            name: 'cb-5xx',
            namespace: 'ns',
            enable: true,
            level: Level.INSTANCE,
            revision: echo.circuitBreakers.rules[0]!.revision,
            ruleMatcher: {
              source: { service: '*', namespace: '*' },
              destination: { service: 'echo', namespace: 'ns', method: { type: 1, value: '/api/.*' } },
            },
            errorConditions: [{ inputType: 1, condition: { type: 5, value: '500~599' } }],
            triggerCondition: [
              { triggerType: 2, errorCount: 5 },
              { triggerType: 1, errorPercent: 50, interval: 10, minimumRequest: 10 },
            ],
            maxEjectionPercent: 100,
            recoverCondition: { sleepWindow: 60, consecutiveSuccess: 1 },
            faultDetectConfig: { enable: false },
            fallbackConfig: {
              enable: true,
              response: { code: 503, headers: [{ key: 'x-cb', value: 'open' }], body: 'sorry' },
            },
          },
        ],
      }),
      'x',
    );
    assert.deepEqual(echo.circuitBreakers.rules[0], synced.value.rules[0]);
    const fd = convertFaultDetectors(
      'ns',
      'echo',
      FaultDetector.fromPartial({
        rules: [
          {
            id: 'ns/echo-http',
            name: 'echo-http',
            namespace: 'ns',
            revision: echo.faultDetectors.rules[0]!.revision,
            targetService: { service: 'echo', namespace: 'ns' },
            interval: 1,
            timeout: 500,
            protocol: 1,
            httpConfig: { method: 'GET', url: '/healthz', headers: [{ key: 'h', value: '1' }] },
          },
        ],
      }),
      'x',
    );
    assert.deepEqual(echo.faultDetectors.rules[0], fd.value.rules[0]);
  });

  it('reports duplicates and dangling aliases', () => {
    const bad = `
namespaces:
  - name: ns
    services:
      - { name: a, instances: [{ host: h, port: 1 }, { host: h, port: 1 }] }
      - { name: a }
      - { name: al, aliasFor: { name: nothing } }
      - { name: al2, aliasFor: { name: a }, instances: [{ host: h, port: 2 }] }
`;
    assert.throws(
      () => parseMeshText(bad, 'dup.yaml'),
      (err: Error) => {
        assert.match(err.message, /namespaces\[0\]\.services\[1\]\.name: duplicate service a/);
        assert.match(err.message, /namespaces\[0\]\.services\[0\]\.instances\[1\]: duplicate instance h:1/);
        assert.match(err.message, /namespaces\[0\]\.services\[2\]\.aliasFor: no service ns\/nothing in this file/);
        assert.match(err.message, /namespaces\[0\]\.services\[3\]\.instances: an alias has no instances of its own/);
        return true;
      },
    );
  });

  it('reports YAML syntax errors', () => {
    assert.throws(
      () => parseMeshText('namespaces: [\n', 'x.yaml'),
      /^PolarisXdsError: mesh file x\.yaml: YAML syntax error at line 2, column 1: [^\n]+$/,
    );
    assert.throws(
      () => parseMeshText('{"namespaces": [\n', 'x.json'),
      /mesh file x\.json: YAML syntax error at line \d+, column \d+: /,
    );
    assert.throws(() => parseMeshText(' \n', 'x.yaml'), /mesh file x\.yaml: the file is empty/);
  });

  it('reads a JSON file, and YAML flow style that looks like it, to the same model as block YAML', () => {
    const fromYaml = parseMeshText(GOOD, 'x.yaml');
    const json = JSON.stringify(parseYaml(GOOD));
    assert.deepEqual(parseMeshText(json, 'x.json'), fromYaml);
    assert.deepEqual(parseMeshText(`\n  ${json}`, 'x.json'), fromYaml);
    // Flow style with bare keys is YAML, not JSON.
    const flow = parseMeshText(
      '{ namespaces: [ { name: shop, services: [ { name: pay, instances: [ { host: 10.0.1.1, port: 9090 } ] } ] } ] }',
      'f.yaml',
    );
    assert.deepEqual(
      [...flow.services.values()].map((s) => [s.namespace, s.name, s.instances.map((i) => `${i.host}:${i.port}`)]),
      [['shop', 'pay', ['10.0.1.1:9090']]],
    );
  });
});

describe('file source', () => {
  it('serves the embedded example mesh when no path is given', async () => {
    assert.equal(EXAMPLE_MESH_FILE, join(repoRoot, 'examples/envoy/mesh.yaml'));
    const src = createFileSource({ logger: captureLogger().logger, watch: false });
    await src.start();
    try {
      const s = src.current()!;
      assert.ok(s.services.has('default/echo'));
      assert.equal(s.services.get('default/grpc-echo')!.instances[0]!.protocol, 'grpc');
      const versions = new Set(s.services.get('default/echo')!.instances.map((i) => i.metadata.version));
      assert.deepEqual([...versions].sort(), ['v1', 'v2']);
      const rule = s.services.get('default/echo')!.routing.inbounds[0]!;
      assert.deepEqual(rule.sources[0]!.match['$header.x-version'], { type: 'EXACT', value: 'v2', valueType: 'TEXT' });
      assert.deepEqual(rule.destinations[0]!.labels.version, { type: 'EXACT', value: 'v2', valueType: 'TEXT' });
      const st = src.status();
      assert.equal(st.ready, true);
      assert.equal(st.origin, 'file');
      assert.match(st.reason, /embedded example/);
    } finally {
      await src.stop();
    }
  });

  it('fails start-up on a missing or invalid file', async () => {
    const tmp = tempDir('pxds-mesh-');
    try {
      const missing = createFileSource({
        path: join(tmp.dir, 'nope.yaml'),
        logger: captureLogger().logger,
        watch: false,
      });
      await assert.rejects(
        missing.start(),
        (e: Error) => errorCode(e) === 'PXDS_ERR_FILE_SOURCE' && /nope\.yaml: no such file/.test(e.message),
      );
      const file = join(tmp.dir, 'mesh.yaml');
      writeFileSync(
        file,
        'namespaces:\n  - name: ns\n    services:\n      - name: a\n        instances:\n          - { host: h, port: x }\n',
      );
      const invalid = createFileSource({ path: file, logger: captureLogger().logger, watch: false });
      await assert.rejects(
        invalid.start(),
        /namespaces\[0\]\.services\[0\]\.instances\[0\]\.port: expected number, received string/,
      );
      assert.equal(invalid.status().ready, false);
    } finally {
      tmp.remove();
    }
  });

  it('follows edits, keeps the last good state on a bad edit, and shares unchanged services', async () => {
    const tmp = tempDir('pxds-mesh-');
    const file = join(tmp.dir, 'mesh.yaml');
    const mesh = (hosts: string[]) =>
      `namespaces:\n  - name: ns\n    services:\n      - name: a\n        instances:\n${hosts.map((h) => `          - { host: ${h}, port: 80 }\n`).join('')}      - name: b\n        instances:\n          - { host: 10.9.9.9, port: 80 }\n`;
    writeFileSync(file, mesh(['10.0.0.1']));
    const { logger, lines } = captureLogger();
    const src = createFileSource({ path: file, logger, watch: { pollMs: 200, debounceMs: 30 } });
    await src.start();
    try {
      const first = src.current()!;
      writeFileSync(file, mesh(['10.0.0.1', '10.0.0.2']));
      const second = await untilState(
        src,
        'edit picked up',
        (s) => s.services.get('ns/a')!.instances.length === 2,
        3000,
      );
      assert.equal(second.services.get('ns/b'), first.services.get('ns/b'), 'unchanged service keeps its object');

      writeFileSync(file, mesh(['10.0.0.1', '10.0.0.2']).replace('port: 80 }', 'port: eighty }'));
      await waitFor(
        'the bad edit is read and refused',
        () => /last re-read failed/.test(src.status().reason),
        3000,
        10,
      );
      assert.equal(src.current(), second, 'a bad edit keeps the last good state');
      assert.equal(src.status().ready, true);
      assert.match(src.status().reason, /last re-read failed, keeping the last good state: .*instances\[0\]\.port/);
      const errors = lines.filter((l) => l.code === 'PXDS_ERR_FILE_SOURCE');
      assert.equal(errors.length, 1);

      // Editors save by writing a new file and renaming it over the old one.
      writeFileSync(join(tmp.dir, 'mesh.yaml.new'), mesh(['10.0.0.3']));
      renameSync(join(tmp.dir, 'mesh.yaml.new'), file);
      await untilState(src, 'rename picked up', (s) => s.services.get('ns/a')!.instances[0]!.host === '10.0.0.3', 3000);
      assert.doesNotMatch(src.status().reason, /failed/);
      assert.equal(await src.reload(), false, 'an unchanged file publishes nothing');
    } finally {
      await src.stop();
      tmp.remove();
    }
  });
});

describe('reloading sees governance edits', () => {
  it('an edited rate limit, circuit breaker or fault detector is a change of its service', async () => {
    const tmp = tempDir('pxds-mesh-');
    const file = join(tmp.dir, 'mesh.yaml');
    const mesh = (qps: number, cb: string, fd: number) =>
      [
        'namespaces:',
        '  - name: ns',
        '    services: [{ name: a, instances: [{ host: 10.0.0.1, port: 80 }] }]',
        `    ratelimits: [{ name: rl, service: a, type: LOCAL, amounts: [{ maxAmount: ${qps}, validDuration: 1s }] }]`,
        `    circuitbreakers: [{ name: cb, level: INSTANCE, rule_matcher: { destination: { service: a } }, error_conditions: [{ input_type: RET_CODE, condition: { type: RANGE, value: "${cb}" } }], trigger_condition: [{ trigger_type: CONSECUTIVE_ERROR, error_count: 5 }] }]`,
        `    faultdetectors: [{ name: fd, target_service: { service: a }, interval: ${fd}, protocol: HTTP, http_config: { method: GET, url: /healthz } }]`,
        '',
      ].join('\n');
    writeFileSync(file, mesh(5, '500~599', 1));
    const { logger } = captureLogger();
    const src = createFileSource({ path: file, logger });
    await src.start();
    try {
      const a = () => src.current()!.services.get('ns/a')!;
      assert.equal(a().rateLimits.rules[0]!.amounts[0]!.maxAmount, 5);
      writeFileSync(file, mesh(7, '500~599', 1));
      assert.equal(await src.reload(), true);
      assert.equal(a().rateLimits.rules[0]!.amounts[0]!.maxAmount, 7);
      writeFileSync(file, mesh(7, '502~504', 1));
      assert.equal(await src.reload(), true);
      assert.equal(a().circuitBreakers.rules[0]!.errorConditions[0]!.condition.value, '502~504');
      writeFileSync(file, mesh(7, '502~504', 3));
      assert.equal(await src.reload(), true);
      assert.equal(a().faultDetectors.rules[0]!.intervalSeconds, 3);
      assert.equal(await src.reload(), false, 'an unchanged file publishes nothing');
    } finally {
      await src.stop();
      tmp.remove();
    }
  });
});

describe('file watching without fs.watch', () => {
  it('still sees changes through the stat poll', async () => {
    const tmp = tempDir('pxds-mesh-');
    const file = join(tmp.dir, 'mesh.yaml');
    writeFileSync(file, 'namespaces:\n  - name: ns\n    services:\n      - name: a\n');
    const src = createFileSource({
      path: file,
      logger: captureLogger().logger,
      watch: { fsWatch: false, pollMs: 100, debounceMs: 10 },
    });
    await src.start();
    try {
      // The watch took the file's state when it started: an edit right after is seen.
      writeFileSync(file, 'namespaces:\n  - name: ns\n    services:\n      - name: a\n      - name: b\n');
      await untilState(src, 'poll picked up the edit', (s) => s.services.size === 2, 3000);
    } finally {
      await src.stop();
      tmp.remove();
    }
  });
});

describe('reloading keeps what did not change', () => {
  it('a changed rule for any caller leaves the other services their instances and inbound rules objects', async () => {
    const tmp = tempDir('pxds-mesh-');
    const file = join(tmp.dir, 'mesh.yaml');
    const mesh = (header: string) => `
namespaces:
  - name: ns
    services:
      - name: a
        instances: [{ host: 10.0.0.1, port: 80, version: v1 }, { host: 10.0.0.2, port: 80, version: v2 }]
      - name: b
        instances: [{ host: 10.0.1.1, port: 80 }]
      - name: c
        instances: [{ host: 10.0.2.1, port: 80 }]
    rules:
      - name: canary
        sources:
          - service: "*"
            namespace: "*"
            arguments: [{ type: HEADER, key: x-canary, value: "${header}" }]
        destinations: [{ service: a, labels: { version: v2 } }]
`;
    writeFileSync(file, mesh('1'));
    const src = createFileSource({
      path: file,
      logger: captureLogger().logger,
      watch: { fsWatch: false, pollMs: 60_000, debounceMs: 10 },
    });
    await src.start();
    try {
      const before = src.current()!;
      writeFileSync(file, mesh('2'));
      assert.equal(await src.reload(), true);
      const after = src.current()!;
      for (const k of ['ns/b', 'ns/c']) {
        const [x, y] = [before.services.get(k)!, after.services.get(k)!];
        // The rule sits in every service's outbounds (any caller), so the service itself is new …
        assert.notEqual(x, y, k);
        assert.notDeepEqual(x.routing.outbounds, y.routing.outbounds, k);
        // … but the parts the translator reads are the same objects.
        assert.equal(y.routing.inbounds, x.routing.inbounds, `${k} inbounds`);
        assert.equal(y.instances, x.instances, `${k} instances`);
        assert.equal(y.metadata, x.metadata, `${k} metadata`);
        assert.equal(y.rateLimits, x.rateLimits, `${k} rate limits`);
        assert.equal(y.circuitBreakers, x.circuitBreakers, `${k} circuit breakers`);
        assert.equal(y.faultDetectors, x.faultDetectors, `${k} fault detectors`);
      }
      const [a0, a1] = [before.services.get('ns/a')!, after.services.get('ns/a')!];
      assert.notEqual(a1.routing.inbounds, a0.routing.inbounds, 'the callee has the new rule');
      assert.equal(a1.instances, a0.instances);
    } finally {
      await src.stop();
      tmp.remove();
    }
  });
});
