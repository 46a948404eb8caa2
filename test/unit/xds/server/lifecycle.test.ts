// Stream lifecycle: one close path that releases everything, hooks on a later tick, the status
// view, metrics, shutdown, and the grpc-js server options.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import { Registry } from 'prom-client';
import { createAdsHandlers } from '../../../../src/xds/server/ads.js';
import type { XdsHooks } from '../../../../src/xds/server/hooks.js';
import { grpcServerOptions } from '../../../../src/xds/server/options.js';
import { silentLogger } from '../../../../src/log.js';
import { TYPES, type DeltaClient, type SotwClient, type SotwResponse } from '../../../support/ads-client.js';
import { cluster, FakeWatcher, simpleMesh, snapshotOf } from '../../../support/fake-watcher.js';
import { waitFor } from '../../../support/ports.js';
import { startHarness } from './harness.js';
import { MockCall, tick } from './mock-call.js';

const { cds, eds, lds, rds } = TYPES;

describe('one close path', () => {
  it('streams dropped at every point of their life leave no watch, timer or stream behind', async () => {
    let opened = 0;
    const h = await startHarness(simpleMesh(['a', 'b']), {
      limits: { retainRemovedMs: 60_000 },
      hooks: { onStreamOpen: () => void opened++ },
    });
    try {
      const clients: Array<SotwClient | DeltaClient> = [];
      // Drop points: 0 before any request, 1 after the first request, 2 after a response,
      // 3 mid-churn with responses unanswered (and clusters retained), 4 after a NACK.
      for (let i = 0; i < 40; i++) {
        const seen = opened;
        const c = i % 2 === 0 ? h.sotw() : h.delta();
        clients.push(c);
        const dropAt = i % 5;
        if (dropAt === 0) {
          await waitFor('the stream to open', () => opened > seen, 5000, 1);
          c.close();
          continue;
        }
        if (i % 2 === 0) (c as SotwClient).send({ typeUrl: cds, node: { id: `node-${i}` } });
        else (c as DeltaClient).send({ typeUrl: cds, node: { id: `node-${i}` } });
        if (dropAt === 1) {
          c.close();
          continue;
        }
        const r = await c.nextAny();
        if (dropAt === 2) {
          c.close();
          continue;
        }
        if (dropAt === 4) {
          if (i % 2 === 0) (c as SotwClient).nack(r as SotwResponse, 'no');
          else (c as DeltaClient).nack(r as never, 'no');
        }
        if (i % 2 === 0) (c as SotwClient).send({ typeUrl: rds, names: ['r'] });
        else (c as DeltaClient).send({ typeUrl: rds, subscribe: ['r'] });
      }
      for (let v = 0; v < 5; v++) {
        h.watcher.set(v % 2 ? simpleMesh(['a', 'b'], { timeoutS: v }) : simpleMesh(['b', 'c'], { timeoutS: v }));
        // Each change reaches the open streams before the next (churn with responses unanswered).
        await new Promise((r) => setImmediate(r));
      }
      for (const c of clients) c.close();
      await waitFor('all streams closed', () => h.server.streamCount() === 0 && h.watcher.open === 0, 5000, 20);
      assert.equal(h.watcher.open, 0);
      assert.equal(h.watcher.nodes.length > 0, true, 'watches were opened');
    } finally {
      await h.stop();
    }
  });

  it('a client half-close ends the stream with OK and releases its watch', async () => {
    const h = await startHarness(simpleMesh(['a']));
    try {
      const c = h.sotw();
      c.send({ typeUrl: cds });
      await c.next(cds);
      c.halfClose();
      const end = await c.ended;
      assert.equal(end.code, grpcStatus.OK);
      await waitFor('watch released', () => h.watcher.open === 0, 2000, 10);
    } finally {
      await h.stop();
    }
  });

  it('stop() ends every stream with UNAVAILABLE so clients reconnect elsewhere', async () => {
    const h = await startHarness(simpleMesh(['a']));
    const s = h.sotw();
    const d = h.delta();
    s.send({ typeUrl: cds });
    d.send({ typeUrl: cds });
    await s.next(cds);
    await d.next(cds);
    await h.server.stop(2000);
    for (const end of [await s.ended, await d.ended]) {
      assert.equal(end.code, grpcStatus.UNAVAILABLE);
      assert.match(end.details, /PXDS_ERR_XDS_SHUTDOWN/);
    }
    assert.equal(h.watcher.open, 0);
    await h.stop();
  });
});

describe('hooks', () => {
  it('are called on a later tick with what happened, and a throwing hook changes nothing', async () => {
    const seen: string[] = [];
    const args: Record<string, any> = {};
    const record =
      (name: string, fail = false) =>
      (info: unknown) => {
        seen.push(name);
        args[name] = info;
        if (fail) throw new Error(`${name} hook failed`);
      };
    const hooks: XdsHooks = {
      onStreamOpen: record('open', true),
      onRequest: record('request', true),
      onResponse: record('response', true),
      onAck: record('ack'),
      onNack: record('nack'),
      onStreamClosed: record('closed'),
    };
    const watcher = new FakeWatcher(simpleMesh(['a', 'b']));
    const ads = createAdsHandlers({ watcher, hooks, logger: silentLogger() });
    const call = new MockCall<SotwResponse>('sotw');
    ads.sotw(call);
    call.sotw({ typeUrl: cds });
    assert.deepEqual(seen, [], 'nothing is called synchronously');
    await tick();
    assert.deepEqual(seen, ['open', 'request', 'response']);
    assert.equal(args.request.nodeId, 'mock-node');
    assert.deepEqual(args.response.resources, ['a', 'b']);
    assert.equal(args.response.bytes, call.responses[0]!.raw.length);
    const r = call.responses[0]!;
    call.sotw({ typeUrl: cds, version: r.version, nonce: r.nonce });
    call.sotw({ typeUrl: eds, names: ['a'] });
    await tick();
    const e = call.responses[1]!;
    call.sotw({ typeUrl: eds, names: ['a'], nonce: e.nonce, error: { code: 3, message: 'bad endpoints' } });
    await tick();
    assert.deepEqual(args.ack.version, r.version);
    assert.equal(args.nack.message, 'bad endpoints');
    assert.equal(args.nack.version, e.version);
    call.cancel();
    await tick();
    assert.equal(args.closed.code, grpcStatus.CANCELLED);
    assert.equal(ads.streamCount(), 0);
    assert.deepEqual(call.violations, []);
  });
});

describe('status view', () => {
  it('lists each stream with node, mode and, per type, sent/ACKed versions and the last NACK', async () => {
    const watcher = new FakeWatcher(simpleMesh(['a']));
    const ads = createAdsHandlers({ watcher });
    const call = new MockCall<SotwResponse>('sotw');
    ads.sotw(call);
    call.sotw({ typeUrl: cds, node: { id: 'zz-node', cluster: 'shop' } });
    call.sotw({ typeUrl: lds });
    await tick();
    const [c, l] = call.responses;
    call.sotw({ typeUrl: cds, version: c!.version, nonce: c!.nonce });
    call.sotw({ typeUrl: lds, nonce: l!.nonce, error: { message: 'listener rejected' } });
    const other = new MockCall('delta');
    ads.delta(other);
    other.delta({ typeUrl: cds, node: { id: 'aa-node' } });
    await tick();
    const rows = ads.status();
    assert.deepEqual(
      rows.map((r) => [r.nodeId, r.mode]),
      [
        ['aa-node', 'delta'],
        ['zz-node', 'sotw'],
      ],
    );
    const row = rows[1]!;
    assert.equal(row.cluster, 'shop');
    assert.equal(row.peer, 'mock:0');
    assert.equal(Number.isNaN(Date.parse(row.connectedSince)), false);
    assert.deepEqual(Object.keys(row.types), [cds, lds]);
    assert.equal(row.types[cds]!.sentVersion, c!.version);
    assert.equal(row.types[cds]!.contentVersion, c!.version, 'SotW sends the content version itself');
    assert.equal(row.types[cds]!.ackedVersion, c!.version);
    assert.equal(row.types[cds]!.wildcard, true);
    assert.equal(row.types[cds]!.resources, 1);
    assert.equal(row.types[lds]!.lastNack?.message, 'listener rejected');
    assert.equal(row.types[lds]!.lastNack?.version, l!.version);
    assert.equal(row.counters.acks, 1);
    assert.equal(row.counters.nacks, 1);
    assert.equal(row.counters.bytesSent, c!.raw.length + l!.raw.length);
    JSON.stringify(rows);
  });
});

describe('metrics', () => {
  it('counts streams, pushes, bytes, NACKs, expired nonces and ACK latency', async () => {
    const registry = new Registry();
    const watcher = new FakeWatcher(simpleMesh(['a']));
    const ads = createAdsHandlers({ watcher, registry });
    const call = new MockCall<SotwResponse>('sotw');
    ads.sotw(call);
    call.sotw({ typeUrl: cds });
    await tick();
    const r1 = call.responses[0]!;
    watcher.set(snapshotOf({ clusters: [cluster('a', { timeoutS: 3 })] }));
    await tick();
    await tick();
    const r2 = call.responses[1]!;
    call.sotw({ typeUrl: cds, nonce: r1.nonce, version: r1.version });
    call.sotw({ typeUrl: cds, nonce: r2.nonce, error: { message: 'no' } });
    await tick();
    const value = async (name: string, labels: Record<string, string>) => {
      const m = (await registry.getSingleMetric(name)!.get()).values.find((v) =>
        Object.entries(labels).every(([k, x]) => v.labels[k] === x),
      );
      return m?.value;
    };
    assert.equal(await value('polaris_xds_connected_streams', { mode: 'sotw' }), 1);
    assert.equal(await value('polaris_xds_pushes_total', { type: 'cds', mode: 'sotw' }), 2);
    assert.equal(
      await value('polaris_xds_response_bytes_total', { type: 'cds', mode: 'sotw' }),
      r1.raw.length + r2.raw.length,
    );
    assert.equal(await value('polaris_xds_nacks_total', { type: 'cds', mode: 'sotw' }), 1);
    assert.equal(await value('polaris_xds_expired_nonces_total', { mode: 'sotw' }), 1);
    assert.equal(await value('polaris_xds_ack_latency_seconds', { type: 'cds', le: '+Inf' }), 1);
    assert.equal(await value('polaris_xds_requests_total', { type: 'cds', mode: 'sotw' }), 3);
    // A second server on the same registry reuses the metrics instead of failing.
    createAdsHandlers({ watcher, registry });
    call.cancel();
    assert.equal(await value('polaris_xds_connected_streams', { mode: 'sotw' }), 0);
  });
});

describe('grpcServerOptions', () => {
  it('maps keepalive and connection age; zero leaves them out; channelz is off', () => {
    assert.deepEqual(
      grpcServerOptions({
        keepaliveTimeMs: 30_000,
        keepaliveTimeoutMs: 10_000,
        maxConnectionAgeMs: 1_800_000,
        maxConnectionAgeGraceMs: 60_000,
        maxReceiveMessageBytes: 8 << 20,
      }),
      {
        'grpc.keepalive_time_ms': 30_000,
        'grpc.keepalive_timeout_ms': 10_000,
        'grpc.max_connection_age_ms': 1_800_000,
        'grpc.max_connection_age_grace_ms': 60_000,
        'grpc.max_receive_message_length': 8 << 20,
        'grpc.enable_channelz': 0,
      },
    );
    assert.deepEqual(
      grpcServerOptions({ keepaliveTimeMs: 0, maxConnectionAgeMs: 0, maxConnectionAgeGraceMs: 60_000 }),
      { 'grpc.enable_channelz': 0 },
    );
  });

  it('a server started with them serves ADS', async () => {
    const h = await startHarness(simpleMesh(['a']), {
      config: {
        keepaliveTimeMs: 1000,
        keepaliveTimeoutMs: 500,
        maxConnectionAgeMs: 60_000,
        maxConnectionAgeGraceMs: 1000,
      },
    });
    try {
      const c = h.sotw();
      c.send({ typeUrl: eds, names: ['a'] });
      assert.deepEqual((await c.next(eds)).names, ['a']);
    } finally {
      await h.stop();
    }
  });
});
