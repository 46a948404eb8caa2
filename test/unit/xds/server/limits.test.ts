// What a client can make the server hold, one limit per test: names per request, name length and
// message size are checked before a name list is decoded or kept; kept lists are bounded by bytes
// and let go when the streams that sent them close; unflushed response bytes are bounded per
// stream and in total, and a client that reads nothing is ended after xds.maxStallMs.
import assert from 'node:assert/strict';
import { constants as h2 } from 'node:http2';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createAdsHandlers, type AdsHandlers } from '../../../../src/xds/server/ads.js';
import { RequestDecoder } from '../../../../src/xds/server/decode.js';
import { DEFAULT_LIMITS, type XdsLimits } from '../../../../src/xds/server/options.js';
import { NOT_READING_MS } from '../../../../src/xds/server/pending-budget.js';
import { TYPES, type SotwResponse } from '../../../support/ads-client.js';
import { FakeWatcher, simpleMesh } from '../../../support/fake-watcher.js';
import { waitFor } from '../../../support/ports.js';
import { ADS_PATHS, connect, deltaRequest, nameList, rawCall, sotwRequest } from '../../../support/raw-xds.js';
import { startHarness } from './harness.js';
import { MockCall, tick } from './mock-call.js';

const { cds, eds } = TYPES;
const GRPC = { INVALID_ARGUMENT: 3, RESOURCE_EXHAUSTED: 8 };
const limits = (l: Partial<XdsLimits>): XdsLimits => ({ ...DEFAULT_LIMITS, ...l });
const names =
  (_n: number, tag = '') =>
  (i: number) =>
    `OUTBOUND|ns|svc-${i}${tag}`;

async function metric(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getSingleMetric(name)!.get()).values.find((v) =>
    Object.entries(labels).every(([k, x]) => v.labels[k] === x),
  );
  return m?.value ?? 0;
}

describe('request limits are checked before names are decoded or kept', () => {
  it('a SotW or Delta request naming more than maxResourceNames is refused unread, and nothing is kept', () => {
    const d = new RequestDecoder(limits({ maxResourceNames: 1000 }));
    const over = nameList(3, 1001, names(0));
    assert.throws(() => d.sotw(sotwRequest(eds, over, 'a~1')), {
      code: 'PXDS_ERR_XDS_TOO_MANY_NAMES',
      message: /1001 resources; at most 1000/,
    });
    assert.throws(() => d.delta(deltaRequest(eds, over, 'a~1')), { code: 'PXDS_ERR_XDS_TOO_MANY_NAMES' });
    assert.equal(d.cachedLists, 0);
    // At the limit, the list is decoded and kept.
    assert.equal(d.sotw(sotwRequest(eds, nameList(3, 1000, names(0)), 'a~1')).request.resourceNames.length, 1000);
    assert.equal(d.cachedLists, 1);
  });

  it('a list with a name over maxNameLength is decoded for the stream to refuse, but not kept', async () => {
    const watcher = new FakeWatcher(simpleMesh(['a']));
    const ads = createAdsHandlers({ watcher, limits: { maxNameLength: 100 } });
    const list = nameList(3, 200, (i) => (i === 150 ? `x${'y'.repeat(100)}` : names(0)(i)));
    assert.equal(ads.decoder.sotw(sotwRequest(eds, list, 'a~1')).shared, undefined);
    assert.equal(ads.decoder.cachedLists, 0);
    const call = new MockCall<SotwResponse>('sotw', ads.decoder);
    ads.sotw(call);
    call.raw(sotwRequest(eds, list, 'a~1'));
    await tick();
    assert.equal(call.status?.code, GRPC.INVALID_ARGUMENT);
    assert.match(call.status!.details, /101 characters; at most 100/);
    assert.equal(ads.decoder.cachedLists, 0);
  });

  it('kept lists are bounded by bytes, not by count', () => {
    const d = new RequestDecoder(limits({ maxNameListCacheBytes: 64 * 1024 }));
    for (let k = 0; k < 40; k++) d.sotw(sotwRequest(eds, nameList(3, 200, names(0, `-${k}`)), 'a~1'));
    assert.ok(d.cachedBytes <= 64 * 1024, `${d.cachedBytes} bytes kept`);
    assert.ok(d.cachedLists > 1 && d.cachedLists < 40, `${d.cachedLists} lists kept`);
    const none = new RequestDecoder(limits({ maxNameListCacheBytes: 0 }));
    none.sotw(sotwRequest(eds, nameList(3, 200, names(0)), 'a~1'));
    assert.equal(none.cachedLists, 0);
  });

  it('a kept list is let go when the last stream holding it closes, or moves to another list', async () => {
    const watcher = new FakeWatcher(simpleMesh(['a']));
    const ads = createAdsHandlers({ watcher });
    const open = () => {
      const call = new MockCall<SotwResponse>('sotw', ads.decoder);
      ads.sotw(call);
      return call;
    };
    const [one, two] = [open(), open()];
    const list = nameList(3, 300, names(0));
    one.raw(sotwRequest(eds, list, 'a~1'));
    two.raw(sotwRequest(eds, list, 'a~2'));
    await tick();
    assert.equal(ads.decoder.cachedLists, 1, 'one list shared by both streams');
    one.cancel();
    assert.equal(ads.decoder.cachedLists, 1, 'still held by the other stream');
    two.raw(sotwRequest(eds, nameList(3, 300, names(0, 'b'))));
    await tick();
    assert.equal(ads.decoder.cachedLists, 1, 'the stream moved to a new list; the old one is gone');
    two.cancel();
    assert.equal(ads.decoder.cachedLists, 0);
    assert.equal(ads.streamCount(), 0);
  });

  it('a request over maxReceiveMessageBytes ends its stream with RESOURCE_EXHAUSTED before it is decoded', async () => {
    const h = await startHarness(simpleMesh(['a']), { config: { maxReceiveMessageBytes: 64 * 1024 } });
    const session = connect(h.address);
    try {
      const call = rawCall(session, ADS_PATHS.sotw, [sotwRequest(eds, nameList(3, 4000, names(0)), 'a~1')]);
      const end = await call.ended;
      assert.equal(end.grpcStatus, GRPC.RESOURCE_EXHAUSTED, JSON.stringify(end));
      // The server is unharmed: a request within the limit is served.
      const ok = rawCall(session, ADS_PATHS.sotw, [sotwRequest(cds, Buffer.alloc(0), 'a~1')]);
      await ok.firstData;
      ok.close();
    } finally {
      session.destroy();
      await h.stop();
    }
  });
});

/** subscribedStream opens a SotW stream on `ads` that holds CDS (wildcard) and EDS of a and b, all ACKed. */
async function subscribedStream(ads: AdsHandlers): Promise<MockCall<SotwResponse>> {
  const call = new MockCall<SotwResponse>('sotw', ads.decoder);
  ads.sotw(call);
  call.sotw({ typeUrl: cds });
  call.sotw({ typeUrl: eds, names: ['a', 'b'] });
  await tick();
  for (const r of call.responses)
    call.sotw({ typeUrl: r.typeUrl, names: r.typeUrl === eds ? ['a', 'b'] : [], version: r.version, nonce: r.nonce });
  await tick();
  return call;
}

describe('unflushed response bytes are budgeted', () => {
  const mesh = (v: number) => simpleMesh(['a', 'b'], { timeoutS: v });

  it('a stream over maxPendingBytesPerStream ends at once with RESOURCE_EXHAUSTED; others go on', async () => {
    const watcher = new FakeWatcher(mesh(1));
    const registry = new Registry();
    // A push writes two responses (CDS, EDS) at once; a stream holding a third unflushed one is over.
    const sizes: number[] = [];
    await subscribedStream(
      createAdsHandlers({ watcher: new FakeWatcher(mesh(1)), hooks: { onResponse: (e) => void sizes.push(e.bytes) } }),
    );
    const budget = Math.floor(2.5 * Math.max(...sizes));
    const ads = createAdsHandlers({ watcher, registry, limits: { maxPendingBytesPerStream: budget } });
    const stalled = await subscribedStream(ads);
    const healthy = await subscribedStream(ads);
    stalled.autoFlush = false;
    watcher.set(mesh(2));
    await tick();
    await tick();
    assert.equal(stalled.status?.code, undefined, 'two unflushed responses are within the budget');
    watcher.set(mesh(3));
    await tick();
    await tick();
    assert.equal(stalled.aborted, true, 'ended without waiting for its writes to flush');
    assert.equal(stalled.status?.code, GRPC.RESOURCE_EXHAUSTED);
    assert.match(
      stalled.status!.details,
      new RegExp(
        `^PXDS_ERR_XDS_PENDING_BUDGET: client is not reading: \\d+ response bytes unflushed, over the per-stream budget of ${budget}$`,
      ),
    );
    assert.equal(await metric(registry, 'polaris_xds_streams_exhausted_total', { limit: 'stream' }), 1);
    assert.equal(await metric(registry, 'polaris_xds_unflushed_response_bytes'), 0, 'the ended stream holds nothing');
    assert.equal(healthy.status, undefined);
    assert.equal(healthy.responses.at(-2)!.resources.find((r) => r.name === 'a')!.value.connect_timeout.seconds, '3');
    assert.equal(ads.streamCount(), 1);
    assert.equal(watcher.open, 1, 'the ended stream closed its watch');
  });

  it('over maxPendingBytes, a writer waits while the others read, and a stream that has not read for a while is ended', async (t) => {
    // Measure one push's responses first, then allow three of them unflushed in total.
    const sizes: number[] = [];
    const measure = createAdsHandlers({
      watcher: new FakeWatcher(mesh(1)),
      hooks: { onResponse: (e) => void sizes.push(e.bytes) },
    });
    await subscribedStream(measure);
    const largest = Math.max(...sizes);

    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const watcher = new FakeWatcher(mesh(1));
    const registry = new Registry();
    const ads = createAdsHandlers({ watcher, registry, limits: { maxPendingBytes: 3 * largest } });
    const first = await subscribedStream(ads);
    const second = await subscribedStream(ads);
    const reader = await subscribedStream(ads);
    first.autoFlush = false;
    second.autoFlush = false;
    // The two slow streams hold what fits; the reader's push waits for them instead of ending them.
    watcher.set(mesh(2));
    await tick();
    await tick();
    watcher.set(mesh(3));
    await tick();
    await tick();
    for (const c of [first, second, reader]) assert.equal(c.status, undefined, 'nobody is ended for being behind');
    // What the stream was last sent of cluster a.
    const timeoutOf = (c: MockCall<SotwResponse>) =>
      [...c.responses]
        .reverse()
        .find((r) => r.typeUrl === cds)
        ?.resources.find((r) => r.name === 'a')?.value.connect_timeout.seconds;
    assert.notEqual(timeoutOf(reader), '3', 'the reader waits');
    assert.ok((await metric(registry, 'polaris_xds_unflushed_response_bytes')) <= 3 * largest);
    // One slow stream reads again: its flushes let it and then the reader write.
    second.autoFlush = true;
    second.flush();
    for (let i = 0; i < 6; i++) await tick();
    assert.equal(timeoutOf(reader), '3', 'written once there was room');
    assert.equal(await metric(registry, 'polaris_xds_streams_exhausted_total', { limit: 'total' }), 0);
    // The other has read nothing for NOT_READING_MS when the next push needs its room: it is ended.
    t.mock.timers.tick(NOT_READING_MS);
    watcher.set(mesh(4));
    for (let i = 0; i < 4; i++) await tick();
    assert.equal(first.status?.code, GRPC.RESOURCE_EXHAUSTED, 'the stream that stopped reading');
    assert.match(first.status!.details, /over the total budget/);
    for (const c of [second, reader]) {
      assert.equal(c.status, undefined);
      assert.equal(timeoutOf(c), '4');
    }
    assert.equal(await metric(registry, 'polaris_xds_streams_exhausted_total', { limit: 'total' }), 1);
    assert.ok((await metric(registry, 'polaris_xds_unflushed_response_bytes')) <= 3 * largest);
  });

  it('a client that reads nothing for maxStallMs is ended; one that reads is not', async (t) => {
    t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
    const watcher = new FakeWatcher(mesh(1));
    const registry = new Registry();
    const ads = createAdsHandlers({ watcher, registry, limits: { maxStallMs: 60_000 } });
    const stalled = await subscribedStream(ads);
    const reader = await subscribedStream(ads);
    stalled.autoFlush = false;
    watcher.set(mesh(2));
    await tick();
    await tick();
    t.mock.timers.tick(59_000);
    assert.equal(stalled.status?.code, undefined, 'not before maxStallMs');
    t.mock.timers.tick(1_000);
    assert.equal(stalled.aborted, true);
    assert.equal(stalled.status?.code, GRPC.RESOURCE_EXHAUSTED);
    assert.match(
      stalled.status!.details,
      /^PXDS_ERR_XDS_CLIENT_STALLED: client has read nothing for 60000 ms; \d+ response bytes unflushed$/,
    );
    assert.equal(reader.status, undefined);
    assert.equal(await metric(registry, 'polaris_xds_streams_exhausted_total', { limit: 'stalled' }), 1);
  });

  it('over a real grpc-js server, a client granting no flow-control window is reset with ENHANCE_YOUR_CALM (RESOURCE_EXHAUSTED to gRPC clients)', async () => {
    const h = await startHarness(mesh(1), { limits: { maxPendingBytesPerStream: 1 } });
    const session = connect(h.address, { stalled: true });
    try {
      // The first response may always be written; the next one, after the change, is over the budget.
      const call = rawCall(session, ADS_PATHS.sotw, [sotwRequest(cds, Buffer.alloc(0), 'ns/stalled~10.0.0.1')]);
      await waitFor('the first response to be written', () => h.server.status()[0]?.counters.responses === 1, 3000, 5);
      h.watcher.set(mesh(2));
      const end = await call.ended;
      assert.equal(end.rstCode, h2.NGHTTP2_ENHANCE_YOUR_CALM, JSON.stringify(end));
      assert.equal(end.dataBytes, 0, 'the client read nothing');
      await waitFor('the stream to be gone', () => h.server.streamCount() === 0, 3000, 5);
      assert.equal(await metric(h.registry, 'polaris_xds_streams_exhausted_total', { limit: 'stream' }), 1);
    } finally {
      session.destroy();
      await h.stop();
    }
  });
});
