import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { meshState, type Service } from '../../../src/model/mesh.js';
import { CACHE_FILE, DiskCache } from '../../../src/sync/persist.js';
import { circuitBreaker, faultDetector, rateLimit } from '../../support/governance.js';
import { FakePolaris } from '../../support/fake-polaris.js';
import { waitFor } from '../../support/ports.js';
import { captureLogger, fastSource, tempDir, untilState } from './helpers.js';

function svc(name: string, hosts: string[]): Service {
  return {
    namespace: 'ns1',
    name,
    metadata: { k: 'v' },
    instances: hosts.map((host, i) => ({
      id: `${name}-${i}`,
      host,
      port: 80,
      protocol: 'grpc',
      version: 'v1',
      weight: 100,
      priority: 0,
      healthy: true,
      isolate: false,
      locality: { region: 'r', zone: 'z', campus: '' },
      metadata: { version: 'v1' },
      revision: 'rev',
    })),
    revision: 'r1',
    routing: {
      inbounds: [
        {
          id: 'rule#0',
          name: 'rule.s',
          priority: 0,
          sources: [
            { service: '*', namespace: '*', match: { '$header.x': { type: 'EXACT', value: 'y', valueType: 'TEXT' } } },
          ],
          destinations: [
            { service: name, namespace: 'ns1', labels: {}, priority: 0, weight: 100, isolate: false, name: 'g' },
          ],
        },
      ],
      outbounds: [],
      revision: 'rr',
    },
    rateLimits: { rules: [rateLimit('ns1', name)], revision: 'rl' },
    circuitBreakers: {
      rules: [
        circuitBreaker('ns1', name, {
          destination: { service: name, namespace: 'ns1', method: { type: 'REGEX', value: '/a.*', valueType: 'TEXT' } },
        }),
      ],
      revision: 'cb',
    },
    faultDetectors: { rules: [faultDetector('ns1', name)], revision: 'fd' },
    aliasFor: { namespace: 'ns1', name: 'real' },
  };
}

describe('disk cache', () => {
  it('writes atomically with mode 0600 and a format version, and reads back the same state', async () => {
    const tmp = tempDir('pxds-cache-');
    try {
      const dir = join(tmp.dir, 'nested');
      const cache = new DiskCache(dir, captureLogger().logger);
      const state = meshState([svc('b', ['10.0.0.2']), svc('a', ['10.0.0.1'])], 'polaris');
      cache.save(meshState([svc('old', [])], 'polaris'));
      cache.save(state); // coalesced: the last one wins
      await cache.flush();
      const file = join(dir, CACHE_FILE);
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const json = JSON.parse(readFileSync(file, 'utf8')) as { format: string; version: number; services: unknown[] };
      assert.equal(json.format, 'polaris-xds/mesh-state');
      assert.equal(json.version, 1);
      const loaded = await cache.load();
      assert.ok(loaded);
      assert.equal(loaded.state.origin, 'disk-cache');
      assert.deepEqual([...loaded.state.services.keys()], ['ns1/a', 'ns1/b']);
      assert.deepEqual(loaded.state.services.get('ns1/a'), state.services.get('ns1/a'));
      assert.ok(Date.now() - loaded.writtenAt.getTime() < 10_000);
    } finally {
      tmp.remove();
    }
  });

  it('reports a corrupt or foreign file and ignores it; a missing file is silent', async () => {
    const tmp = tempDir('pxds-cache-');
    try {
      const { logger, lines } = captureLogger();
      const cache = new DiskCache(tmp.dir, logger);
      assert.equal(await cache.load(), undefined);
      assert.equal(lines.length, 0);
      writeFileSync(join(tmp.dir, CACHE_FILE), '{"format": "polaris-xds/mesh-state", "vers');
      assert.equal(await cache.load(), undefined);
      writeFileSync(
        join(tmp.dir, CACHE_FILE),
        JSON.stringify({ format: 'polaris-xds/mesh-state', version: 99, writtenAt: '', services: [] }),
      );
      assert.equal(await cache.load(), undefined);
      writeFileSync(
        join(tmp.dir, CACHE_FILE),
        JSON.stringify({ format: 'polaris-xds/mesh-state', version: 1, writtenAt: '', services: [{ name: 3 }] }),
      );
      assert.equal(await cache.load(), undefined);
      const reports = lines.filter((l) => l.code === 'PXDS_ERR_CACHE_CORRUPT');
      assert.equal(reports.length, 3);
      assert.match(reports[0]!.msg, /not JSON/);
      assert.match(reports[1]!.msg, /version/);
    } finally {
      tmp.remove();
    }
  });

  it('reports a failed write once and keeps going', async () => {
    const tmp = tempDir('pxds-cache-');
    try {
      const blocker = join(tmp.dir, 'file');
      writeFileSync(blocker, 'not a folder');
      const { logger, lines } = captureLogger();
      const cache = new DiskCache(join(blocker, 'sub'), logger);
      cache.save(meshState([svc('a', [])], 'polaris'));
      await cache.flush();
      cache.save(meshState([svc('b', [])], 'polaris'));
      await cache.flush();
      assert.equal(lines.filter((l) => l.code === 'PXDS_ERR_CACHE_WRITE').length, 1);
    } finally {
      tmp.remove();
    }
  });
});

describe('polaris source with a disk cache', () => {
  it('persists synced states, serves them when Polaris is down at start-up, then replaces them', async () => {
    const tmp = tempDir('pxds-cache-');
    const fake = await FakePolaris.start();
    fake.setService({
      namespace: 'ns1',
      name: 'a',
      metadata: { m: '1' },
      instances: [{ host: '10.0.0.1', port: 80, metadata: { version: 'v1' } }],
      circuitBreakers: [
        {
          id: 'cb1',
          name: 'cb1',
          namespace: 'ns1',
          enable: true,
          level: 'INSTANCE',
          rule_matcher: { destination: { service: 'a', namespace: 'ns1' } },
          recoverCondition: { sleep_window: 30 },
        },
      ],
      faultDetectors: [
        {
          id: 'fd1',
          name: 'fd1',
          namespace: 'ns1',
          target_service: { service: 'a', namespace: 'ns1' },
          interval: 2,
          protocol: 'TCP',
        },
      ],
      rateLimits: [
        {
          id: { value: 'rl1' },
          service: { value: 'a' },
          namespace: { value: 'ns1' },
          type: 'LOCAL',
          amounts: [{ maxAmount: { value: 5 }, validDuration: { seconds: 1 } }],
        },
      ],
    });
    fake.setService({ namespace: 'ns1', name: 'b', instances: [{ host: '10.0.0.2', port: 80 }] });
    const first = fastSource([fake.address], { cacheDir: tmp.dir });
    let synced: Awaited<ReturnType<typeof untilState>>;
    try {
      await first.start();
      synced = await untilState(first, 'sync', (s) => s.services.size === 2);
    } finally {
      await first.stop(); // flushes the write
    }
    await fake.stop();

    const { logger, lines } = captureLogger();
    const second = fastSource([fake.address], { cacheDir: tmp.dir, logger, startupWaitMs: 200 });
    const origins: string[] = [];
    second.subscribe((s) => origins.push(s.origin));
    try {
      await second.start();
      assert.equal(second.status().ready, false, 'not before the start-up wait');
      const fromDisk = await untilState(second, 'disk state', (s) => s.origin === 'disk-cache', 3000);
      assert.deepEqual([...fromDisk.services.values()], [...synced.services.values()]);
      const a = fromDisk.services.get('ns1/a')!;
      assert.equal(
        a.circuitBreakers.rules[0]!.recover.sleepWindowSeconds,
        30,
        'governance rules are carried across the outage',
      );
      assert.equal(a.faultDetectors.rules[0]!.protocol, 'TCP');
      assert.deepEqual(a.rateLimits.rules[0]!.amounts[0]!.validDuration, { seconds: 1, nanos: 0 });
      const st = second.status();
      assert.equal(st.ready, true);
      assert.equal(st.origin, 'disk-cache');
      assert.match(st.reason, /^serving from disk cache \(written .*\), polaris 127\.0\.0\.1:\d+ unreachable/);
      assert.ok(lines.some((l) => /serving from disk cache/.test(l.msg)));

      fake.setService({ namespace: 'ns1', name: 'b', instances: [{ host: '10.0.0.3', port: 80 }] });
      await fake.restart();
      const live = await untilState(second, 'first live sync', (s) => s.origin === 'polaris', 5000);
      assert.equal(live.services.get('ns1/b')!.instances[0]!.host, '10.0.0.3');
      assert.equal(second.status().origin, 'polaris');
      await waitFor('subscribers told of the live state', () => origins.length === 2, 5000, 10);
      assert.deepEqual(origins, ['disk-cache', 'polaris']);
    } finally {
      await second.stop();
    }
    const onDisk = JSON.parse(readFileSync(join(tmp.dir, CACHE_FILE), 'utf8')) as { services: Service[] };
    assert.equal(
      onDisk.services.find((s) => s.name === 'b')!.instances[0]!.host,
      '10.0.0.3',
      'the live state was written back',
    );
    await fake.stop();
    tmp.remove();
  });

  it('does not publish the disk state when Polaris answers in time', async () => {
    const tmp = tempDir('pxds-cache-');
    const fake = await FakePolaris.start();
    fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 80 }] });
    writeFileSync(
      join(tmp.dir, CACHE_FILE),
      JSON.stringify({
        format: 'polaris-xds/mesh-state',
        version: 1,
        writtenAt: new Date().toISOString(),
        services: [svc('stale', [])],
      }),
    );
    const src = fastSource([fake.address], { cacheDir: tmp.dir, startupWaitMs: 1000 });
    const origins: string[] = [];
    src.subscribe((s) => origins.push(s.origin));
    try {
      await src.start();
      assert.equal(src.debugState().diskFallbackArmed, true, 'start-up waits for Polaris before the disk');
      await untilState(src, 'sync', (s) => s.origin === 'polaris');
      await waitFor('subscribers told', () => origins.length > 0, 5000, 10);
      assert.equal(src.debugState().diskFallbackArmed, false, 'synced in time: the disk cache can no longer be served');
      assert.deepEqual(origins, ['polaris']);
      assert.ok(!src.current()!.services.has('ns1/stale'));
    } finally {
      await src.stop();
      await fake.stop();
      tmp.remove();
    }
  });

  it('ignores a corrupt cache file at start-up without failing', async () => {
    const tmp = tempDir('pxds-cache-');
    const fake = await FakePolaris.start();
    await fake.stop();
    writeFileSync(join(tmp.dir, CACHE_FILE), 'garbage');
    const { logger, lines } = captureLogger();
    const src = fastSource([fake.address], { cacheDir: tmp.dir, logger, startupWaitMs: 100 });
    try {
      await src.start();
      await waitFor(
        'the corrupt cache is reported',
        () => lines.some((l) => l.code === 'PXDS_ERR_CACHE_CORRUPT'),
        3000,
        10,
      );
      assert.equal(src.status().ready, false);
      assert.equal(src.current(), undefined);
      assert.ok(lines.some((l) => l.code === 'PXDS_ERR_CACHE_CORRUPT'));
      // Readiness names both causes, not only the outage.
      await waitFor(
        'a reason naming the rejected cache and the outage',
        () => src.status().reason.startsWith('disk cache rejected:'),
        3000,
        20,
      );
      assert.match(src.status().reason, /^disk cache rejected: not JSON: .*; polaris 127\.0\.0\.1:\d+ unreachable: /);
      await fake.restart();
      fake.setService({ namespace: 'ns1', name: 'a', instances: [{ host: '10.0.0.1', port: 80 }] });
      await waitFor('ready', () => src.status().ready, 5000, 20);
    } finally {
      await src.stop();
      await fake.stop();
      tmp.remove();
    }
  });
});
