// Raw xDS requests for limit and attack tests: protobuf bytes written directly (a request of a
// million names is built in milliseconds, not decoded and re-encoded), sent over plain HTTP/2
// streams whose flow control the test controls. Field numbers: envoy/service/discovery/v3/discovery.proto.
import * as http2 from 'node:http2';

export const ADS_PATHS = {
  sotw: '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
  delta: '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
} as const;

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n % 128) | 0x80);
  out.push(n);
  return out;
}

/** field encodes one length-delimited field. */
function field(num: number, value: Buffer | string): Buffer {
  const v = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  return Buffer.concat([Buffer.from([...varint(num * 8 + 2), ...varint(v.length)]), v]);
}

/** nameList encodes `count` string fields `num` whose values are `name(i)` (ASCII, shorter than 128). */
export function nameList(num: number, count: number, name: (i: number) => string): Buffer {
  const names = Array.from({ length: count }, (_, i) => name(i));
  let size = 0;
  for (const n of names) size += 2 + n.length;
  const b = Buffer.allocUnsafe(size);
  let pos = 0;
  for (const n of names) {
    b[pos++] = num * 8 + 2;
    b[pos++] = n.length;
    pos += b.write(n, pos, 'latin1');
  }
  return b;
}

/**
 * tinyNameList encodes `count` one-letter names as fields `num`, three bytes each: the densest
 * list that fits a message size. `variant` makes lists of the same count differ (it sets the
 * first names), so no two variants share a digest.
 */
export function tinyNameList(num: number, count: number, variant: number): Buffer {
  const b = Buffer.allocUnsafe(3 * count);
  const tag = num * 8 + 2;
  for (let i = 0, pos = 0; i < count; i++, pos += 3) {
    b[pos] = tag;
    b[pos + 1] = 1;
    b[pos + 2] = 97 + (i % 26);
  }
  for (let k = 0, v = variant; k < 4; k++, v = Math.floor(v / 26)) b[3 * k + 2] = 65 + (v % 26);
  return b;
}

function node(id: string): Buffer {
  return Buffer.concat([field(1, id), field(2, 'attack')]);
}

/** sotwRequest is a DiscoveryRequest: node 2, resource_names 3 (the encoded list), type_url 4. */
export function sotwRequest(typeUrl: string, names: Buffer, nodeId?: string): Buffer {
  return Buffer.concat([nodeId ? field(2, node(nodeId)) : Buffer.alloc(0), names, field(4, typeUrl)]);
}

/** deltaRequest is a DeltaDiscoveryRequest: node 1, type_url 2, resource_names_subscribe 3 (the encoded list). */
export function deltaRequest(typeUrl: string, subscribe: Buffer, nodeId?: string): Buffer {
  return Buffer.concat([nodeId ? field(1, node(nodeId)) : Buffer.alloc(0), field(2, typeUrl), subscribe]);
}

/** grpcFrame prefixes a message with gRPC's 5-byte length header (uncompressed). */
export function grpcFrame(message: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(message.length, 1);
  return Buffer.concat([head, message]);
}

/** RawEnd is how a raw call ended: its grpc-status (if any), the RST_STREAM code, and the response bytes read. */
export interface RawEnd {
  readonly grpcStatus?: number;
  readonly grpcMessage?: string;
  readonly rstCode: number;
  readonly dataBytes: number;
}

/** RawCall is one ADS call on a raw HTTP/2 session. */
export interface RawCall {
  readonly stream: http2.ClientHttp2Stream;
  /** firstData resolves once response bytes arrive, or the call ends. */
  readonly firstData: Promise<void>;
  readonly ended: Promise<RawEnd>;
  close(): void;
}

/** rawCall opens an ADS call on `session` and sends `messages` (each framed), leaving the call open. */
export function rawCall(session: http2.ClientHttp2Session, path: string, messages: readonly Buffer[]): RawCall {
  const stream = session.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
  });
  let grpcStatus: number | undefined;
  let grpcMessage: string | undefined;
  let dataBytes = 0;
  let gotData!: () => void;
  const firstData = new Promise<void>((r) => (gotData = r));
  let finish!: (end: RawEnd) => void;
  const ended = new Promise<RawEnd>((r) => (finish = r));
  const done = () => {
    gotData();
    finish({ grpcStatus, grpcMessage, rstCode: stream.rstCode ?? 0, dataBytes });
  };
  // The call is over once the status arrives (the client's own side may still be open), or the stream closes.
  const headers = (h: http2.IncomingHttpHeaders) => {
    if (h['grpc-status'] === undefined) return;
    grpcStatus = Number(h['grpc-status']);
    grpcMessage = decodeURIComponent(String(h['grpc-message'] ?? ''));
    done();
  };
  stream.on('response', headers);
  stream.on('trailers', headers);
  stream.on('data', (chunk: Buffer) => {
    dataBytes += chunk.length;
    gotData();
  });
  stream.on('error', () => undefined);
  stream.on('close', done);
  for (const m of messages) stream.write(grpcFrame(m));
  return { stream, firstData, ended, close: () => stream.close(http2.constants.NGHTTP2_CANCEL) };
}

/**
 * connect opens an HTTP/2 session to `address`. With `stalled`, the client grants the server no
 * flow-control window: the server can send headers but no response bytes, as with a client that
 * never reads.
 */
export function connect(address: string, opts: { stalled?: boolean } = {}): http2.ClientHttp2Session {
  const session = http2.connect(`http://${address}`, opts.stalled ? { settings: { initialWindowSize: 0 } } : {});
  session.on('error', () => undefined);
  return session;
}
