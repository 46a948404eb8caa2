import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FakePolaris, type FakeService } from '../../support/fake-polaris.js';
import { waitFor } from '../../support/ports.js';
import { captureLogger, fastSource, untilState } from './helpers.js';

function echoService(): FakeService {
  return {
    namespace: 'ns1',
    name: 'echo',
    metadata: { team: 'a' },
    instances: [
      {
        id: 'b',
        host: '10.0.0.2',
        port: 8080,
        protocol: 'http',
        version: 'v2',
        weight: 50,
        healthy: false,
        metadata: { version: 'v2' },
        location: { region: 'r1', zone: 'z1', campus: 'c1' },
      },
      { id: 'a', host: '10.0.0.1', port: 8080, metadata: { version: 'v1', 'internal-x': 'y' } },
      { id: 'c', host: '10.0.0.3', port: 8081, isolate: true, weight: 0 },
    ],
    inbounds: [
      {
        sources: [
          {
            service: 'caller',
            namespace: 'ns1',
            metadata: { '$header.x-user': { type: 'EXACT', value: 'u1' }, $path: { type: 'REGEX', value: '/a.*' } },
          },
        ],
        destinations: [
          {
            service: 'echo',
            namespace: 'ns1',
            metadata: { version: { type: 'EXACT', value: 'v2' } },
            priority: 0,
            weight: 100,
            name: 'r1.s1.g1',
          },
        ],
        extendInfo: { __routing_v2_id__: 'rule-b', __routing_v2_priority__: '0001' },
      },
      {
        sources: [{ service: '*', namespace: '*', metadata: { '$query.q': { type: 'IN', value: 'a,b' } } }],
        destinations: [{ service: 'echo', namespace: 'ns1', metadata: {}, name: 'r0.s1.g1' }],
        extendInfo: { __routing_v2_id__: 'rule-a', __routing_v2_priority__: '0000' },
      },
    ],
  };
}

/** Governance kinds: without rules, Polaris answers them with no revision. */
const GOVERNANCE = new Set(['RATE_LIMIT', 'CIRCUIT_BREAKER', 'FAULT_DETECTOR']);

describe('polaris source against a fake Polaris', () => {
  let fake: FakePolaris;
  /** answered waits until Polaris got `n` more requests: a key is polled again only once its last answer was taken in. */
  const answered = async (n: number): Promise<void> => {
    const from = fake.requests.length;
    await waitFor(`${n} more requests`, () => fake.requests.length >= from + n, 5000, 10);
  };
  before(async () => {
    fake = await FakePolaris.start();
  });
  after(async () => {
    await fake.stop();
  });

  it('reports not ready, then ready after a full sync with the converted model', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService(echoService());
    fake.setService({ namespace: 'ns1', name: 'empty' });
    fake.setService({ namespace: 'other', name: 'elsewhere', instances: [{ host: '10.9.9.9', port: 1 }] });
    const src = fastSource([fake.address], { token: 'secret-token' });
    assert.equal(src.status().ready, false);
    assert.match(src.status().reason, /connecting to polaris 127\.0\.0\.1:\d+/);
    try {
      await src.start();
      const state = await untilState(src, 'first sync', (s) => s.services.size === 2);
      assert.equal(state.origin, 'polaris');
      assert.deepEqual([...state.services.keys()], ['ns1/echo', 'ns1/empty']);
      const st = src.status();
      assert.equal(st.ready, true);
      assert.equal(st.origin, 'polaris');
      assert.match(st.reason, /synced from polaris/);

      const echo = state.services.get('ns1/echo')!;
      assert.deepEqual(echo.metadata, { team: 'a' });
      assert.deepEqual(
        echo.instances.map((i) => i.id),
        ['a', 'b', 'c'],
      );
      const [a, b, c] = echo.instances;
      assert.equal(a!.weight, 100, 'absent weight defaults to 100');
      assert.equal(a!.healthy, true, 'absent healthy defaults to true');
      assert.equal(a!.isolate, false);
      assert.deepEqual(a!.metadata, { version: 'v1', 'internal-x': 'y' }, 'metadata is copied as is');
      assert.deepEqual(b!.locality, { region: 'r1', zone: 'z1', campus: 'c1' });
      assert.equal(b!.weight, 50);
      assert.equal(b!.healthy, false);
      assert.equal(b!.protocol, 'http');
      assert.equal(b!.version, 'v2');
      assert.equal(c!.isolate, true);
      assert.equal(c!.weight, 0);

      // Inbounds sorted by the v2 priority, ids from the v2 id plus sub-rule index.
      assert.deepEqual(
        echo.routing.inbounds.map((r) => [r.id, r.priority]),
        [
          ['rule-a#0', 0],
          ['rule-b#0', 1],
        ],
      );
      const rb = echo.routing.inbounds[1]!;
      assert.equal(rb.name, 'r1.s1');
      assert.deepEqual(rb.sources[0], {
        service: 'caller',
        namespace: 'ns1',
        match: {
          '$header.x-user': { type: 'EXACT', value: 'u1', valueType: 'TEXT' },
          $path: { type: 'REGEX', value: '/a.*', valueType: 'TEXT' },
        },
      });
      assert.deepEqual(rb.destinations[0], {
        service: 'echo',
        namespace: 'ns1',
        labels: { version: { type: 'EXACT', value: 'v2', valueType: 'TEXT' } },
        priority: 0,
        weight: 100,
        isolate: false,
        name: 'r1.s1.g1',
      });
      assert.equal(echo.routing.inbounds[0]!.sources[0]!.match['$query.q']!.type, 'IN');
      assert.equal(state.services.get('ns1/empty')!.instances.length, 0);

      // The token travels as gRPC metadata.
      assert.ok(fake.requests.length > 0);
      assert.ok(fake.requests.every((r) => r.token === 'secret-token'));
      assert.ok(fake.requestsOf('SERVICES').every((r) => r.namespace === 'ns1'));

      const debug = src.debugState();
      assert.equal(debug.synced, true);
      assert.deepEqual(debug.keys.map((k) => `${k.type} ${k.namespace}/${k.service}`).sort(), [
        'CIRCUIT_BREAKER ns1/echo',
        'CIRCUIT_BREAKER ns1/empty',
        'FAULT_DETECTOR ns1/echo',
        'FAULT_DETECTOR ns1/empty',
        'INSTANCE ns1/echo',
        'INSTANCE ns1/empty',
        'RATE_LIMIT ns1/echo',
        'RATE_LIMIT ns1/empty',
        'ROUTING ns1/echo',
        'ROUTING ns1/empty',
        'SERVICES ns1/',
      ]);
      assert.ok(debug.keys.every((k) => k.answered && k.lastCode !== undefined));
      // Polaris answers a governance kind without rules with no revision at all.
      assert.ok(debug.keys.every((k) => GOVERNANCE.has(k.type) || k.revision !== ''));
      const metrics = await src.registry.metrics();
      assert.match(metrics, /polaris_xds_sync_requests_total\{type="INSTANCE",code="200000"\} \d+/);
      assert.match(metrics, /polaris_xds_sync_services 2/);
      assert.match(metrics, /polaris_xds_sync_instances 3/);
      assert.match(metrics, /polaris_xds_sync_connected 1/);
    } finally {
      await src.stop();
    }
  });

  it('sends the held revision, keeps the same state on 200001 and shares unchanged services', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService(echoService());
    fake.setService({ namespace: 'ns1', name: 'other', instances: [{ host: '10.0.1.1', port: 80 }] });
    const src = fastSource([fake.address]);
    let published = 0;
    src.subscribe(() => published++);
    try {
      await src.start();
      const first = await untilState(src, 'first sync', (s) => s.services.size === 2);
      await waitFor('subscribers told of the first state', () => published > 0, 5000, 10);
      const before = published;
      const seen = fake.requests.length;
      // A key is polled again only once its previous answer was taken in: these answers were applied.
      await waitFor('keys re-polled', () => fake.requests.length > seen + 10, 5000, 10);
      const repolls = fake.requests.slice(seen);
      assert.ok(
        repolls.every((r) => GOVERNANCE.has(r.type) || r.revision !== ''),
        'every re-poll carries the held revision',
      );
      assert.equal(src.current(), first, 'no new state while nothing changes');
      assert.equal(published, before);

      fake.setService({
        namespace: 'ns1',
        name: 'other',
        instances: [
          { host: '10.0.1.1', port: 80 },
          { host: '10.0.1.2', port: 80 },
        ],
      });
      const second = await untilState(src, 'new instance', (s) => s.services.get('ns1/other')!.instances.length === 2);
      assert.notEqual(second, first);
      assert.equal(
        second.services.get('ns1/echo'),
        first.services.get('ns1/echo'),
        'the unchanged service keeps its object',
      );
    } finally {
      await src.stop();
    }
  });

  it('a key is not re-polled while its request is in flight', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService({ namespace: 'ns1', name: 'one', instances: [{ host: '10.0.0.1', port: 1 }] });
    fake.requests.length = 0;
    const src = fastSource([fake.address], { requestTimeoutMs: 5000 });
    try {
      await src.start();
      await untilState(src, 'sync', (s) => s.services.size === 1);
      // Answers now take longer than the poll interval (100 ms): a poller that did not wait for the
      // answer would send the key again while the first request is still unanswered.
      fake.faults = { delayMs: 400 };
      fake.mostUnansweredOfOneKey = 0;
      const start = fake.requests.length;
      const keys = new Set(fake.requests.map((r) => `${r.type} ${r.name}`));
      await waitFor(
        'every key polled twice more under the delay',
        () => {
          const seen = fake.requests.slice(start).map((r) => `${r.type} ${r.name}`);
          return [...keys].every((k) => seen.filter((s) => s === k).length >= 2);
        },
        10_000,
        20,
      );
      assert.equal(fake.mostUnansweredOfOneKey, 1, 'no key was asked again before its answer came');
    } finally {
      fake.faults = {};
      await src.stop();
    }
  });

  it('removes a service on 400202 and when the services list drops it', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService({ namespace: 'ns1', name: 'stay', instances: [{ host: '10.0.0.1', port: 1 }] });
    fake.setService({ namespace: 'ns1', name: 'gone', instances: [{ host: '10.0.0.2', port: 1 }] });
    fake.setService({ namespace: 'ns1', name: 'dropped', instances: [{ host: '10.0.0.3', port: 1 }] });
    const src = fastSource([fake.address]);
    try {
      await src.start();
      await untilState(src, 'sync', (s) => s.services.size === 3);
      // The list still names `gone`, but its INSTANCE answer says it does not exist.
      fake.faults = {
        override: (r) =>
          r.type === 'INSTANCE' && r.name === 'gone'
            ? {
                code: { value: 400202 },
                type: 'INSTANCE',
                service: { name: { value: 'gone' }, namespace: { value: 'ns1' } },
              }
            : undefined,
      };
      await untilState(src, '400202 removal', (s) => !s.services.has('ns1/gone') && s.services.size === 2);
      fake.faults = {};
      await untilState(src, 'back after a good answer', (s) => s.services.has('ns1/gone'));
      fake.removeService('ns1', 'dropped');
      const s = await untilState(src, 'list removal', (x) => !x.services.has('ns1/dropped'));
      assert.deepEqual([...s.services.keys()], ['ns1/gone', 'ns1/stay']);
      await waitFor(
        'the dropped service is no longer polled',
        () => !src.debugState().keys.some((k) => k.service === 'dropped'),
        5000,
        20,
      );
    } finally {
      await src.stop();
    }
  });

  it('error answers, bare error answers and out-of-order answers keep the last good state', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService(echoService());
    const { logger, lines } = captureLogger();
    const src = fastSource([fake.address], { logger });
    try {
      await src.start();
      const good = await untilState(src, 'sync', (s) => s.services.size === 1);
      fake.faults = { errorCode: { code: 500000 } };
      await answered(6);
      assert.equal(src.current(), good);
      assert.ok(src.debugState().keys.some((k) => k.lastCode === 500000 && /500000/.test(k.lastError ?? '')));
      const warned = lines.filter((l) => l.code === 'PXDS_ERR_POLARIS_RESPONSE' && l.level === 40);
      assert.equal(warned.length, 1, `an error code is warned about once: ${JSON.stringify(warned)}`);
      // Auth and rate-limit errors come without type or service; FIFO matching still pairs them.
      fake.faults = { errorCode: { code: 401000, bare: true } };
      await answered(6);
      assert.equal(src.current(), good);
      assert.ok(src.debugState().keys.some((k) => k.lastCode === 401000));
      // An answer for another service than asked: the stream is dropped, nothing is applied.
      fake.faults = {
        override: (r) =>
          r.type === 'INSTANCE'
            ? {
                code: { value: 200000 },
                type: 'INSTANCE',
                service: { name: { value: 'intruder' }, namespace: { value: 'ns1' } },
                instances: [],
              }
            : undefined,
      };
      await waitFor(
        'the intruding answer is refused',
        () => lines.some((l) => /out of order/.test(String(l.reason ?? ''))),
        5000,
        20,
      );
      assert.equal(src.current(), good);
      assert.equal(src.status().ready, true);
      fake.faults = {};
      fake.setService({ ...echoService(), instances: [{ host: '10.1.1.1', port: 9 }] });
      await untilState(src, 'recovery', (s) => s.services.get('ns1/echo')!.instances[0]!.host === '10.1.1.1');
      assert.ok(lines.some((l) => /out of order/.test(String(l.reason ?? ''))));
    } finally {
      fake.faults = {};
      await src.stop();
    }
  });

  it('warns about an error code once a minute by its clock, and dates answers by it', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 1 }] });
    const { logger, lines } = captureLogger();
    let now = Date.UTC(2030, 0, 1);
    const src = fastSource([fake.address], { logger, now: () => now });
    const warnings = () => lines.filter((l) => l.code === 'PXDS_ERR_POLARIS_RESPONSE' && l.level === 40).length;
    try {
      await src.start();
      await untilState(src, 'sync', (s) => s.services.size === 1);
      assert.equal(src.status().lastSuccess?.toISOString(), '2030-01-01T00:00:00.000Z');
      assert.ok(
        src
          .debugState()
          .keys.every((k) => k.lastAnswerAt === undefined || k.lastAnswerAt === '2030-01-01T00:00:00.000Z'),
      );
      fake.faults = { errorCode: { code: 500000 } };
      await answered(6);
      assert.equal(warnings(), 1);
      now += 59_000;
      await answered(6);
      assert.equal(warnings(), 1, 'within the minute: no second warning');
      now += 2_000;
      await answered(6);
      assert.equal(warnings(), 2, 'a minute later the code is warned about again');
    } finally {
      fake.faults = {};
      await src.stop();
    }
  });

  it('treats an empty services list as authoritative (unknown namespace quirk)', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 1 }] });
    const src = fastSource([fake.address], { namespaces: ['ns1', 'nowhere'] });
    try {
      await src.start();
      await untilState(src, 'sync', (s) => s.services.size === 1);
      assert.equal(src.status().ready, true, 'an unknown namespace does not block readiness');
      const nowhere = fake.requestsOf('SERVICES').filter((r) => r.namespace === 'nowhere');
      assert.ok(nowhere.length > 0);
      fake.setService({ namespace: 'nowhere', name: 'new', instances: [{ host: '10.0.0.2', port: 1 }] });
      await untilState(src, 'new namespace content', (s) => s.services.has('nowhere/new'));
      // The namespace empties again: the server answers 200000 with nothing and our own revision.
      fake.removeService('nowhere', 'new');
      fake.removeService('ns1', 'a');
      const s = await untilState(src, 'emptied', (x) => x.services.size === 0);
      assert.equal(s.origin, 'polaris');
      fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 1 }] });
      await untilState(src, 'refilled', (x) => x.services.size === 1);
    } finally {
      await src.stop();
    }
  });

  it('syncs every namespace with one all-namespaces key', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 1 }] });
    fake.setService({ namespace: 'ns2', name: 'b', instances: [{ host: '10.0.0.2', port: 1 }] });
    const src = fastSource([fake.address], { namespaces: [] });
    fake.requests.length = 0;
    try {
      await src.start();
      await untilState(src, 'sync', (s) => s.services.size === 2);
      assert.ok(fake.requestsOf('SERVICES').length > 0);
      assert.ok(fake.requestsOf('SERVICES').every((r) => r.namespace === ''));
    } finally {
      await src.stop();
    }
  });

  it('skips malformed rules and instances with a reason and keeps the rest', async () => {
    fake.services.clear();
    fake.faults = {};
    const svc = echoService();
    svc.instances!.push({ host: '', port: 80, id: 'nohost' });
    svc.outbounds = [
      {
        sources: [{ service: 'echo', namespace: 'ns1', metadata: { $method: { type: 9, value: 'GET' } } }],
        destinations: [{ service: 'x', namespace: 'ns1', name: 'bad.s.g' }],
        extendInfo: { __routing_v2_id__: 'bad' },
      },
      {
        sources: [{ service: 'echo', namespace: 'ns1' }],
        destinations: [{ namespace: 'ns1', name: 'nodest.s.g' }],
        extendInfo: { __routing_v2_id__: 'nodest' },
      },
      {
        sources: [{ service: 'echo', namespace: 'ns1' }],
        destinations: [{ service: 'x', namespace: 'ns1', name: 'ok.s.g' }],
        extendInfo: { __routing_v2_id__: 'ok' },
      },
    ];
    fake.setService(svc);
    const { logger, lines } = captureLogger();
    const src = fastSource([fake.address], { logger });
    try {
      await src.start();
      const s = await untilState(src, 'sync', (x) => x.services.size === 1);
      const echo = s.services.get('ns1/echo')!;
      assert.deepEqual(
        echo.routing.outbounds.map((r) => r.id),
        ['ok#0'],
      );
      assert.equal(echo.routing.inbounds.length, 2);
      assert.equal(echo.instances.length, 3);
      const skipped = src.debugState().skipped;
      assert.deepEqual(skipped.map((k) => [k.kind, k.id]).sort(), [
        ['instance', 'nohost'],
        ['rule', 'bad#0'],
        ['rule', 'nodest#0'],
      ]);
      assert.match(
        skipped.find((k) => k.id === 'bad#0')!.reason,
        /^outbounds\[0\]\.sources\[0\]\.metadata\["\$method"\]\.type: unknown match type 9/,
      );
      assert.match(
        skipped.find((k) => k.id === 'nodest#0')!.reason,
        /^outbounds\[1\]\.destinations\[0\]\.service: missing/,
      );
      assert.equal(lines.filter((l) => l.code === 'PXDS_ERR_RULE_SKIPPED').length, 2);
      await answered(10);
      assert.equal(
        lines.filter((l) => l.code === 'PXDS_ERR_RULE_SKIPPED').length,
        2,
        'skips are logged once, not per poll',
      );
      const metrics = await src.registry.metrics();
      assert.match(metrics, /polaris_xds_sync_skipped_rules_total\{kind="rule"\} 2/);
    } finally {
      await src.stop();
    }
  });

  it('receives answers larger than grpc-js’s 4 MiB default', async () => {
    fake.services.clear();
    fake.faults = {};
    const big = 'x'.repeat(1024);
    const instances = Array.from({ length: 6000 }, (_, i) => ({
      host: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      port: 8080,
      metadata: { blob: big },
    }));
    fake.setService({ namespace: 'ns1', name: 'huge', instances });
    const src = fastSource([fake.address], { requestTimeoutMs: 5000 });
    try {
      await src.start();
      const s = await untilState(src, 'big sync', (x) => x.services.get('ns1/huge')?.instances.length === 6000, 10_000);
      assert.equal(s.services.get('ns1/huge')!.instances[0]!.metadata.blob, big);
    } finally {
      await src.stop();
    }
  });

  it('notifies subscribers on a later tick and stops cleanly', async () => {
    fake.services.clear();
    fake.faults = {};
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 1 }] });
    const src = fastSource([fake.address]);
    const got: number[] = [];
    const unsubscribe = src.subscribe((s) => got.push(s.services.size));
    await src.start();
    await waitFor('publish', () => got.length > 0, 5000, 20);
    unsubscribe();
    fake.setService({ namespace: 'ns1', name: 'b', instances: [{ host: '10.0.0.2', port: 1 }] });
    await untilState(src, 'second', (s) => s.services.size === 2);
    // Subscribers are told on a later tick: let it pass.
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(got, [1]);
    await src.stop();
    const n = fake.requests.length;
    // The Discover stream is closed, so no later request can reach Polaris.
    await waitFor('the stream to end', () => fake.openCalls === 0, 5000, 10);
    assert.equal(fake.requests.length, n, 'no requests after stop');
  });
});

describe('polaris source readiness while Polaris refuses', () => {
  it('says that Polaris rejects the token (401xxx), before and after a first sync, and when it accepts it again', async () => {
    const fake = await FakePolaris.start();
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 1 }] });
    fake.faults = { errorCode: { code: 401001, bare: true } };
    const src = fastSource([fake.address]);
    const rejected = 'Polaris rejected the token (401001): set --token-file or POLARIS_XDS_POLARIS_TOKEN';
    try {
      await src.start();
      await waitFor('reason', () => src.status().reason === rejected, 3000, 20);
      assert.equal(src.status().ready, false);
      fake.faults = {};
      await waitFor('ready', () => src.status().ready, 3000, 20);
      // After a first sync the state stays served, and the reason says why it may be stale.
      fake.faults = { errorCode: { code: 401000, bare: true } };
      await waitFor(
        'reason',
        () =>
          src.status().reason ===
          'serving the last state synced; Polaris rejected the token (401000): set --token-file or POLARIS_XDS_POLARIS_TOKEN',
        3000,
        20,
      );
      assert.equal(src.status().ready, true);
    } finally {
      await src.stop();
      await fake.stop();
    }
  });

  it('says why the first sync does not complete', async () => {
    const fake = await FakePolaris.start();
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 1 }] });
    fake.faults = { errorCode: { code: 500000, bare: true } };
    const src = fastSource([fake.address]);
    try {
      await src.start();
      await waitFor('reason', () => /last error: code 500000/.test(src.status().reason), 3000, 20);
      assert.equal(src.status().ready, false);
      assert.match(
        src.status().reason,
        /^first full sync from polaris 127\.0\.0\.1:\d+ in progress: 1 service lists and 0 services pending/,
      );
      fake.faults = {};
      await waitFor('ready', () => src.status().ready, 3000, 20);
    } finally {
      await src.stop();
      await fake.stop();
    }
  });
});
