import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath } from 'grpc-health-check';
import { addHealthService, HEALTH_SERVICES } from '../../../src/admin/health.js';

type Client = grpc.Client & {
  check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
};

describe('gRPC health service', () => {
  it('answers NOT_SERVING, then SERVING, for the server and the ADS service; unknown names are NOT_FOUND', async () => {
    const server = new grpc.Server();
    const health = addHealthService(server);
    const port = await new Promise<number>((res, rej) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
    );
    const def = protoLoader.loadSync(protoPath, { keepCase: true, enums: String, defaults: true });
    const Health = (
      grpc.loadPackageDefinition(def) as unknown as {
        grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => Client } } };
      }
    ).grpc.health.v1.Health;
    const client = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<string>((res, rej) => client.check({ service }, (e, r) => (e ? rej(e) : res(r!.status))));
    try {
      for (const s of HEALTH_SERVICES) assert.equal(await check(s), 'NOT_SERVING');
      health.set(true);
      assert.equal(health.serving(), true);
      for (const s of HEALTH_SERVICES) assert.equal(await check(s), 'SERVING');
      health.set(false);
      assert.equal(await check(''), 'NOT_SERVING');
      await assert.rejects(check('no.such.Service'), (e: grpc.ServiceError) => e.code === grpc.status.NOT_FOUND);
    } finally {
      client.close();
      server.forceShutdown();
    }
  });
});
