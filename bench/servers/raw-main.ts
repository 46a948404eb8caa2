// The raw limit: a plain grpc-js server hosting the ADS methods that, on request, writes one
// pre-encoded response (300 bytes unless told otherwise) to every open stream, or to every k-th one. No snapshot, no bookkeeping: what is left is
// the cost of grpc-js, HTTP/2 and the kernel for the same fan-out the bridge does. Started by
// servers/raw.ts.
import * as grpc from '@grpc/grpc-js';
import { loadCodec, TYPE_URLS } from '../clients/codec.js';
import { nowMs } from '../lib/clock.js';

/** The response size; the limit uses 300 bytes, a larger one shows the cost of big pushes. */
const RAW_MESSAGE_BYTES = Number(process.argv[2] ?? 300);

const codec = loadCodec();
const passThrough = (b: Buffer): Buffer => b;
type Call = grpc.ServerDuplexStream<Buffer, Buffer>;

/** padded builds the response with a cluster name long enough to make it `RAW_MESSAGE_BYTES` long. */
function padded(build: (name: string) => Buffer): Buffer {
  // The largest name that keeps the message within the size (binary search; lengths are monotonic).
  let lo = 1;
  let hi = Math.max(1, RAW_MESSAGE_BYTES);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (build('r'.repeat(mid)).length <= RAW_MESSAGE_BYTES) lo = mid;
    else hi = mid - 1;
  }
  return build('r'.repeat(lo));
}

/** claBytes encodes a ClusterLoadAssignment holding only cluster_name (field 1). */
const claBytes = (name: string): Buffer => {
  const len: number[] = [];
  for (let n = name.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  return Buffer.concat([Buffer.from([0x0a, ...len]), Buffer.from(name)]);
};
const sotwMessage = padded((name) =>
  codec.encodeSotwResponse({
    version_info: 'raw-1',
    resources: [{ type_url: TYPE_URLS.eds, value: claBytes(name) }],
    type_url: TYPE_URLS.eds,
    nonce: 'raw-1',
  }),
);
const deltaMessage = padded((name) =>
  codec.encodeDeltaResponse({
    system_version_info: 'raw-1',
    resources: [{ name, version: 'raw-1', resource: { type_url: TYPE_URLS.eds, value: claBytes(name) } }],
    type_url: TYPE_URLS.eds,
    removed_resources: [],
    nonce: 'raw-1',
  }),
);

const calls = new Map<Call, Buffer>();
const method = (name: string) => ({
  path: `/envoy.service.discovery.v3.AggregatedDiscoveryService/${name}`,
  requestStream: true,
  responseStream: true,
  requestSerialize: passThrough,
  requestDeserialize: passThrough,
  responseSerialize: passThrough,
  responseDeserialize: passThrough,
});
// The bridge's grpc-js server options (channelz off, src/xds/server/options.ts), so the limit
// measures the same library path.
const server = new grpc.Server({ 'grpc.enable_channelz': 0 });
const serve = (message: Buffer) => (call: Call) => {
  calls.set(call, message);
  const drop = () => calls.delete(call);
  call.on('data', () => undefined);
  call.on('end', () => {
    drop();
    call.end();
  });
  call.on('cancelled', drop);
  call.on('error', drop);
};
server.addService(
  {
    StreamAggregatedResources: method('StreamAggregatedResources'),
    DeltaAggregatedResources: method('DeltaAggregatedResources'),
  },
  { StreamAggregatedResources: serve(sotwMessage), DeltaAggregatedResources: serve(deltaMessage) },
);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);

process.on('message', (raw) => {
  const m = raw as { op: string; gc?: boolean; every?: number };
  if (m.op === 'count') process.send?.({ op: 'count', streams: calls.size });
  else if (m.op === 'fanout') {
    // Every `every`-th stream in the order they opened (1: all), as a change that concerns a tenth of the sidecars.
    const every = Math.max(1, m.every ?? 1);
    let i = 0;
    let written = 0;
    const t0 = nowMs();
    for (const [call, message] of calls) {
      if (i++ % every !== 0) continue;
      call.write(message);
      written++;
    }
    process.send?.({ op: 'fanout', t0, writeMs: nowMs() - t0, streams: written });
  } else if (m.op === 'memory') {
    if (m.gc) (globalThis as { gc?: () => void }).gc?.();
    process.send?.({ op: 'memory', ...process.memoryUsage() });
  } else if (m.op === 'stop') {
    server.forceShutdown();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
process.send?.({ op: 'ready', port, sotwBytes: sotwMessage.length, deltaBytes: deltaMessage.length });
