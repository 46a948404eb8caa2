// Fuzzing the request path: random and mutated DiscoveryRequest / DeltaDiscoveryRequest bytes must
// never crash the process or a healthy stream; a stream ends only with a catalogue status, and
// every response still obeys the protocol invariants. Seeded, so a failure replays.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { status as grpcStatus } from '@grpc/grpc-js';
import { createAdsHandlers } from '../../../../src/xds/server/ads.js';
import { encodeDeltaRequest, encodeSotwRequest, TYPES } from '../../../support/ads-client.js';
import { FakeWatcher, simpleMesh, snapshotOf, cluster } from '../../../support/fake-watcher.js';
import { startHarness } from './harness.js';
import { MockCall, tick } from './mock-call.js';
import { prng } from '../../../support/random.js';

// A full collection before each heap reading, so growth means retained memory, not garbage.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapMb = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

const ALLOWED_ENDINGS = new Set([grpcStatus.OK, grpcStatus.INVALID_ARGUMENT, grpcStatus.RESOURCE_EXHAUSTED]);
const SERVED_TYPES = [TYPES.cds, TYPES.eds, TYPES.lds, TYPES.rds];
const BAD_TYPES = ['', 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret', 'x'];
const NAME_POOL = ['*', 'a', 'b', 'c', 'r', 'l', '', 'zz', 'ünï', 'a'.repeat(300), 'b'.repeat(5000)];

class Gen {
  constructor(readonly rnd: () => number) {}
  int(n: number): number {
    return Math.floor(this.rnd() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  names(max: number): string[] {
    return Array.from({ length: this.int(max) }, () => (this.rnd() < 0.1 ? `n${this.int(1e6)}` : this.pick(NAME_POOL)));
  }
  nonce(): string {
    return this.pick(['', '', '1', '2', '3', '5', String(this.int(50)), '999999999999999999999', 'x']);
  }
  typeUrl(): string {
    return this.rnd() < 0.05 ? this.pick(BAD_TYPES) : this.pick(SERVED_TYPES);
  }
  /** A node, usually; sometimes none (fatal on a stream's first request only). */
  node(): { id: string } | null {
    return this.rnd() < 0.05 ? null : { id: `fuzz-${this.int(5)}` };
  }
  error(): { message: string; code: number } | undefined {
    return this.rnd() < 0.2 ? { message: 'e'.repeat(this.int(3000)), code: this.int(17) } : undefined;
  }
  sotwBytes(): Buffer {
    return encodeSotwRequest({
      typeUrl: this.typeUrl(),
      names: this.names(this.rnd() < 0.05 ? 200 : 6),
      version: this.pick(['', 'v', '123']),
      nonce: this.nonce(),
      error: this.error(),
      node: this.node(),
    });
  }
  deltaBytes(): Buffer {
    const irv = this.rnd() < 0.3 ? Object.fromEntries(this.names(5).map((n) => [n, this.pick(['', 'v1', 'x'])])) : {};
    return encodeDeltaRequest({
      typeUrl: this.typeUrl(),
      subscribe: this.names(this.rnd() < 0.05 ? 200 : 5),
      unsubscribe: this.names(3),
      initialVersions: irv,
      nonce: this.nonce(),
      error: this.error(),
      node: this.node(),
    });
  }
  randomBytes(): Buffer {
    return Buffer.from(Array.from({ length: this.int(200) }, () => this.int(256)));
  }
  mutate(b: Buffer): Buffer {
    let out = Buffer.from(b);
    for (let m = 1 + this.int(4); m > 0; m--) {
      const at = this.int(out.length + 1);
      switch (this.int(5)) {
        case 0:
          if (out.length) out[Math.min(at, out.length - 1)]! ^= 1 << this.int(8);
          break;
        case 1:
          if (out.length) out[Math.min(at, out.length - 1)] = this.int(256);
          break;
        case 2:
          out = out.subarray(0, at);
          break;
        case 3:
          out = Buffer.concat([out.subarray(0, at), this.randomBytes().subarray(0, 8), out.subarray(at)]);
          break;
        default:
          out = Buffer.concat([out, out.subarray(this.int(out.length + 1))]);
      }
    }
    return out;
  }
}

describe('fuzz', () => {
  it('10,000 random and mutated requests: no crash, catalogue statuses only, valid responses, bounded state', async () => {
    const g = new Gen(prng(0x5eed));
    const meshes = [
      simpleMesh(['a', 'b']),
      simpleMesh(['b', 'c'], { timeoutS: 3 }),
      snapshotOf({ clusters: [cluster('a')] }),
      snapshotOf({}),
    ];
    const watcher = new FakeWatcher(meshes[0]);
    const limit = 64;
    const ads = createAdsHandlers({ watcher, limits: { maxResourceNames: limit, retainRemovedMs: 50 } });
    const live: MockCall[] = [];
    const ended: MockCall[] = [];
    const endings = new Map<number, number>();
    // Warm up what the test itself loads once (the proto-loader codecs), then measure.
    new Gen(prng(1)).sotwBytes();
    const heapBefore = heapMb();
    let heapMid = 0;
    const kinds = { sotw: 0, delta: 0, random: 0, mutated: 0, wellFormed: 0 };
    for (let i = 0; i < 10_000; i++) {
      if (i === 5000) heapMid = heapMb();
      const delta = g.rnd() < 0.5;
      kinds[delta ? 'delta' : 'sotw']++;
      let call = live.find((c) => (c.mode === 'delta') === delta && g.rnd() < 0.8);
      if (!call || g.rnd() < 0.15) {
        call = new MockCall(delta ? 'delta' : 'sotw');
        call.autoFlush = g.rnd() < 0.9;
        if (delta) ads.delta(call);
        else ads.sotw(call);
        live.push(call);
      }
      const base = delta ? g.deltaBytes() : g.sotwBytes();
      const kind = g.rnd();
      const bytes = kind < 0.15 ? g.randomBytes() : kind < 0.3 ? g.mutate(base) : base;
      kinds[kind < 0.15 ? 'random' : kind < 0.3 ? 'mutated' : 'wellFormed']++;
      call.raw(bytes);
      if (g.rnd() < 0.02) call.cancel();
      if (g.rnd() < 0.01) watcher.set(g.pick(meshes));
      if (g.rnd() < 0.02) call.flush();
      for (let j = live.length - 1; j >= 0; j--) {
        const c = live[j]!;
        if (c.status !== undefined || c.listenerCount('data') === 0) {
          live.splice(j, 1);
          ended.push(c);
          if (c.status) endings.set(c.status.code, (endings.get(c.status.code) ?? 0) + 1);
        }
      }
      if (i % 100 === 99) await tick();
    }
    for (const c of ended) {
      if (c.status)
        assert.equal(
          ALLOWED_ENDINGS.has(c.status.code),
          true,
          `stream ended with ${c.status.code} ${c.status.details}`,
        );
    }
    for (const row of ads.status()) {
      assert.equal(Object.keys(row.types).length <= 4, true, 'at most four types per stream');
      for (const t of Object.values(row.types)) assert.equal(t.subscribedNames <= limit, true, 'subscriptions bounded');
    }
    for (const c of [...live, ...ended]) assert.deepEqual(c.violations, [], 'responses obey the invariants');
    assert.equal(endings.get(grpcStatus.INVALID_ARGUMENT)! > 100, true, 'malformed input was rejected');
    assert.equal(endings.has(grpcStatus.RESOURCE_EXHAUSTED), true, 'name limit was hit');
    assert.equal(
      [...live, ...ended].some((c) => c.responses.length > 0),
      true,
      'well-formed input was served',
    );
    for (const c of live) c.cancel();
    await tick();
    assert.equal(ads.streamCount(), 0);
    assert.equal(watcher.open, 0);
    const streams = live.length + ended.length;
    // Drop the test's own references (each MockCall keeps every response it got) before measuring.
    live.length = 0;
    ended.length = 0;
    watcher.nodes.length = 0;
    const heapEnd = heapMb();
    console.log(
      `fuzz: ${JSON.stringify(kinds)} over ${streams} streams; heap ${heapBefore.toFixed(1)} → ${heapMid.toFixed(1)} (half-way) → ${heapEnd.toFixed(1)} MiB (all closed)`,
    );
    assert.equal(kinds.sotw > 4000 && kinds.delta > 4000, true, 'both kinds fuzzed');
    assert.equal(kinds.random > 1000 && kinds.mutated > 1000, true, 'random and mutated bytes fuzzed');
    // Retained memory is bounded: 5,000 closed streams leave nothing behind in the server.
    assert.equal(heapEnd - heapBefore < 16, true, `heap grew ${(heapEnd - heapBefore).toFixed(1)} MiB`);
  });

  it('garbage over real gRPC ends those streams only; the server keeps serving', async () => {
    const g = new Gen(prng(42));
    const h = await startHarness(simpleMesh(['a']));
    try {
      const healthy = h.sotw();
      healthy.send({ typeUrl: TYPES.cds });
      healthy.ack(await healthy.next(TYPES.cds));
      for (let i = 0; i < 150; i++) {
        const delta = i % 2 === 1;
        const c = delta ? h.delta() : h.sotw();
        for (let k = 0; k < 3; k++)
          c.writeRaw(g.rnd() < 0.5 ? g.randomBytes() : g.mutate(delta ? g.deltaBytes() : g.sotwBytes()));
        const end = await Promise.race([c.ended, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30))]);
        if (end) assert.equal(ALLOWED_ENDINGS.has(end.code), true, `ended with ${end.code} ${end.details}`);
        c.close();
      }
      h.watcher.set(snapshotOf({ clusters: [cluster('a'), cluster('b')] }));
      assert.deepEqual((await healthy.next(TYPES.cds)).names, ['a', 'b']);
    } finally {
      await h.stop();
    }
  });
});
