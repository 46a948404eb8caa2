// Bad requests end only their own stream, with a gRPC status from the error catalogue
// (invariant 7); every other stream keeps being served.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { status as grpcStatus } from '@grpc/grpc-js';
import { TYPES, type DeltaClient, type SotwClient } from '../../../support/ads-client.js';
import { cluster, simpleMesh, snapshotOf } from '../../../support/fake-watcher.js';
import { startHarness, type Harness } from './harness.js';

const { cds, eds } = TYPES;
const SECRET = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret';
const many = (n: number) => Array.from({ length: n }, (_, i) => `name-${i}`);

describe('malformed requests', () => {
  let h: Harness;
  let healthySotw: SotwClient;
  let healthyDelta: DeltaClient;

  before(async () => {
    h = await startHarness(simpleMesh(['a']), { limits: { maxResourceNames: 10_000 } });
    healthySotw = h.sotw();
    healthySotw.send({ typeUrl: cds });
    healthySotw.ack(await healthySotw.next(cds));
    healthyDelta = h.delta();
    healthyDelta.send({ typeUrl: cds });
    healthyDelta.ack(await healthyDelta.next(cds));
  });

  after(async () => {
    // The streams opened first were never disturbed: a change still reaches both.
    h.watcher.set(snapshotOf({ clusters: [cluster('a'), cluster('z')] }));
    assert.deepEqual((await healthySotw.next(cds)).names, ['a', 'z']);
    assert.deepEqual((await healthyDelta.next(cds)).names, ['z']);
    await h.stop();
  });

  const sotwCases: Array<{ name: string; send: (c: SotwClient) => void; code: number; catalogue: string }> = [
    {
      name: 'no type_url',
      send: (c) => c.send({ typeUrl: '' }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_NO_TYPE_URL',
    },
    {
      name: 'a type polaris-xds does not serve',
      send: (c) => c.send({ typeUrl: SECRET }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_UNKNOWN_TYPE',
    },
    {
      name: 'no node on the first request',
      send: (c) => c.send({ typeUrl: cds, node: null }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_NO_NODE',
    },
    {
      name: '10,001 resource names',
      send: (c) => c.send({ typeUrl: eds, names: many(10_001) }),
      code: grpcStatus.RESOURCE_EXHAUSTED,
      catalogue: 'PXDS_ERR_XDS_TOO_MANY_NAMES',
    },
    {
      name: 'a 5,000-character resource name',
      send: (c) => c.send({ typeUrl: eds, names: ['x'.repeat(5000)] }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_BAD_REQUEST',
    },
    {
      name: 'bytes that are not a DiscoveryRequest',
      send: (c) => c.writeRaw(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f])),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_BAD_REQUEST',
    },
    {
      name: 'a bad request after good ones',
      send: (c) => {
        c.send({ typeUrl: cds });
        c.send({ typeUrl: 'type.googleapis.com/nope' });
      },
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_UNKNOWN_TYPE',
    },
  ];

  for (const tc of sotwCases) {
    it(`SotW: ${tc.name} → ${tc.catalogue}`, async () => {
      const c = h.sotw();
      tc.send(c);
      const end = await c.ended;
      assert.equal(end.code, tc.code);
      assert.match(end.details, new RegExp(tc.catalogue));
    });
  }

  const deltaCases: Array<{ name: string; send: (c: DeltaClient) => void; code: number; catalogue: string }> = [
    {
      name: 'no type_url',
      send: (c) => c.send({ typeUrl: '' }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_NO_TYPE_URL',
    },
    {
      name: 'a type polaris-xds does not serve',
      send: (c) => c.send({ typeUrl: SECRET }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_UNKNOWN_TYPE',
    },
    {
      name: 'no node on the first request',
      send: (c) => c.send({ typeUrl: cds, node: null }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_NO_NODE',
    },
    {
      name: '10,001 names to subscribe',
      send: (c) => c.send({ typeUrl: eds, subscribe: many(10_001) }),
      code: grpcStatus.RESOURCE_EXHAUSTED,
      catalogue: 'PXDS_ERR_XDS_TOO_MANY_NAMES',
    },
    {
      name: '10,001 initial resource versions',
      send: (c) => c.send({ typeUrl: cds, initialVersions: Object.fromEntries(many(10_001).map((n) => [n, 'v'])) }),
      code: grpcStatus.RESOURCE_EXHAUSTED,
      catalogue: 'PXDS_ERR_XDS_TOO_MANY_NAMES',
    },
    {
      name: 'subscriptions piling up past the limit over several requests',
      send: (c) => {
        c.send({ typeUrl: eds, subscribe: many(6000) });
        c.send({ typeUrl: eds, subscribe: many(12_000).slice(6000) });
      },
      code: grpcStatus.RESOURCE_EXHAUSTED,
      catalogue: 'PXDS_ERR_XDS_TOO_MANY_NAMES',
    },
    {
      name: 'a 5,000-character initial version',
      send: (c) => c.send({ typeUrl: cds, initialVersions: { a: 'v'.repeat(5000) } }),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_BAD_REQUEST',
    },
    {
      name: 'bytes that are not a DeltaDiscoveryRequest',
      send: (c) => c.writeRaw(Buffer.from([0x12, 0x05, 0x61])),
      code: grpcStatus.INVALID_ARGUMENT,
      catalogue: 'PXDS_ERR_XDS_BAD_REQUEST',
    },
  ];

  for (const tc of deltaCases) {
    it(`Delta: ${tc.name} → ${tc.catalogue}`, async () => {
      const c = h.delta();
      tc.send(c);
      const end = await c.ended;
      assert.equal(end.code, tc.code);
      assert.match(end.details, new RegExp(tc.catalogue));
    });
  }

  it('a later request may leave the node out', async () => {
    const c = h.sotw();
    c.send({ typeUrl: cds });
    const r = await c.next(cds);
    c.send({ typeUrl: eds, names: ['a'], node: null });
    assert.deepEqual((await c.next(eds)).names, ['a']);
    c.ack(r);
  });

  it('a node the watcher refuses ends that stream with the refusal', async () => {
    const { xdsError } = await import('../../../../src/errors.js');
    h.watcher.refuse = (node) => (node.id === 'refused' ? xdsError('PXDS_ERR_XDS_SHUTDOWN', 'draining') : undefined);
    try {
      const c = h.sotw();
      c.send({ typeUrl: cds, node: { id: 'refused' } });
      const end = await c.ended;
      assert.equal(end.code, grpcStatus.UNAVAILABLE);
      assert.match(end.details, /PXDS_ERR_XDS_SHUTDOWN/);
    } finally {
      h.watcher.refuse = undefined;
    }
  });

  it('every failed stream released its watch', () => {
    assert.equal(h.watcher.open, h.server.streamCount());
  });
});
