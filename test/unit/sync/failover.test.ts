import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakePolaris } from '../../support/fake-polaris.js';
import { freePort, waitFor } from '../../support/ports.js';
import { captureLogger, fastSource, untilState } from './helpers.js';

/** streamFailures reads the source's count of failed Discover streams (each retry that failed). */
async function streamFailures(src: ReturnType<typeof fastSource>): Promise<number> {
  return Number(/polaris_xds_sync_errors_total\{kind="stream"\} (\d+)/.exec(await src.registry.metrics())?.[1] ?? 0);
}

function seed(fake: FakePolaris, hosts: string[]): void {
  fake.setService({ namespace: 'ns1', name: 'svc', instances: hosts.map((host) => ({ host, port: 80 })) });
}

describe('polaris source failover and recovery', () => {
  it('fails over to the next address when the current one dies, keeping the state', async () => {
    const a = await FakePolaris.start();
    const b = await FakePolaris.start();
    seed(a, ['10.0.0.1']);
    seed(b, ['10.0.0.1']);
    const { logger, lines } = captureLogger();
    const src = fastSource([a.address, b.address], { logger });
    try {
      await src.start();
      const first = await untilState(src, 'sync from a', (s) => s.services.size === 1);
      assert.equal(src.debugState().connection.address, a.address);
      await a.stop();
      await waitFor(
        'switch to b',
        () => src.debugState().connection.connected && src.debugState().connection.address === b.address,
        5000,
        20,
      );
      assert.equal(src.current(), first, 'the state survives the switch');
      seed(b, ['10.0.0.1', '10.0.0.2']);
      await untilState(src, 'change from b', (s) => s.services.get('ns1/svc')!.instances.length === 2);
      assert.equal(lines.filter((l) => l.msg.startsWith(`disconnected from polaris ${a.address}`)).length, 1);
      assert.ok(lines.some((l) => l.msg === `connected to polaris ${b.address}`));
    } finally {
      await src.stop();
      await a.stop();
      await b.stop();
    }
  });

  it('fails over when an address accepts requests but never answers', async () => {
    const a = await FakePolaris.start();
    const b = await FakePolaris.start();
    seed(a, ['10.0.0.1']);
    seed(b, ['10.0.0.9']);
    a.faults = { silent: true };
    const src = fastSource([a.address, b.address], { requestTimeoutMs: 300 });
    try {
      await src.start();
      const s = await untilState(src, 'sync from b', (x) => x.services.size === 1, 5000);
      assert.equal(s.services.get('ns1/svc')!.instances[0]!.host, '10.0.0.9');
      assert.ok(a.requests.length > 0, 'a was tried first');
    } finally {
      await src.stop();
      await a.stop();
      await b.stop();
    }
  });

  it('keeps serving while Polaris is down, logs once, and picks up changes after a restart', async () => {
    const fake = await FakePolaris.start();
    seed(fake, ['10.0.0.1']);
    const { logger, lines } = captureLogger();
    const src = fastSource([fake.address], { logger });
    try {
      await src.start();
      const first = await untilState(src, 'sync', (s) => s.services.size === 1);
      await fake.stop();
      await waitFor('noticed', () => !src.debugState().connection.connected, 3000, 20);
      await waitFor('several retries', async () => (await streamFailures(src)) >= 3, 5000, 20);
      assert.equal(src.current(), first, 'nothing removed while down');
      const st = src.status();
      assert.equal(st.ready, true);
      assert.equal(st.origin, 'polaris');
      assert.match(st.reason, new RegExp(`polaris ${fake.address} unreachable: `));
      const warns = lines.filter((l) => l.level === 40 && String(l.msg).includes(fake.address));
      assert.equal(
        warns.length,
        1,
        `one warning while down, not one per retry: ${warns.map((w) => w.msg).join(' | ')}`,
      );
      const failures = await streamFailures(src);
      assert.ok(failures >= 2, `stream failures are counted: ${failures}`);
      assert.match(await src.registry.metrics(), /polaris_xds_sync_connected 0/);
      seed(fake, ['10.0.0.1', '10.0.0.2']);
      await fake.restart();
      await untilState(src, 'change after restart', (s) => s.services.get('ns1/svc')!.instances.length === 2, 5000);
      assert.match(src.status().reason, /synced from polaris/);
      assert.equal(lines.filter((l) => l.msg === `connected to polaris ${fake.address}`).length, 2);
    } finally {
      await src.stop();
      await fake.stop();
    }
  });

  it('reconnects after the server resets the stream', async () => {
    const fake = await FakePolaris.start();
    seed(fake, ['10.0.0.1']);
    const src = fastSource([fake.address]);
    try {
      await src.start();
      await untilState(src, 'sync', (s) => s.services.size === 1);
      fake.resetStreams();
      seed(fake, ['10.0.0.3']);
      await untilState(src, 'after reset', (s) => s.services.get('ns1/svc')!.instances[0]!.host === '10.0.0.3');
    } finally {
      await src.stop();
      await fake.stop();
    }
  });

  it('is not ready, and says why, when no address answers and there is no disk cache', async () => {
    const port = await freePort();
    const src = fastSource([`127.0.0.1:${port}`]);
    try {
      await src.start();
      await waitFor('unreachable reason', () => /unreachable/.test(src.status().reason), 3000, 20);
      await waitFor('several retries', async () => (await streamFailures(src)) >= 3, 5000, 20);
      const st = src.status();
      assert.equal(st.ready, false);
      assert.equal(st.origin, 'none');
      assert.match(st.reason, new RegExp(`^polaris 127\\.0\\.0\\.1:${port} unreachable: `));
      assert.equal(src.current(), undefined);
    } finally {
      await src.stop();
    }
  });
});
