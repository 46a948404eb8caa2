// A scripted ADS client (SotW and Delta) for tests. It decodes responses with @grpc/proto-loader
// (protobufjs), independently of the ts-proto code the server encodes with, and checks protocol
// invariants on every response it receives (nonce increases, version set, every resource of the
// response's type, no duplicate names). Violations are collected in `violations`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from './components.js';

export const ADS = 'envoy.service.discovery.v3.AggregatedDiscoveryService';
export const TYPES = {
  cds: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  eds: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  lds: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  rds: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  vhds: 'type.googleapis.com/envoy.config.route.v3.VirtualHost',
} as const;
const SERVED = new Set<string>(Object.values(TYPES));

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;
type Codec = { serialize: (o: Json) => Buffer; raw: (b: Buffer) => Json; json: (b: Buffer) => Json };

let codecs: { sotw: Codec; delta: Codec } | undefined;

/** adsCodecs loads the vendored Envoy protos once, with proto-loader, for both variants. */
export function adsCodecs(): { sotw: Codec; delta: Codec } {
  if (codecs) return codecs;
  const vendor = join(repoRoot, 'proto/envoy/vendor');
  const files = readFileSync(join(repoRoot, 'proto/envoy/roots.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const base = {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: false,
    arrays: true,
    oneofs: true,
    includeDirs: ['envoy-api', 'xds', 'googleapis', 'pgv'].map((d) => join(vendor, d)),
  };
  // Without `json`, Any stays { type_url, value } (to check type URLs); with it, Any is expanded.
  const raw = protoLoader.loadSync(files, base)[ADS] as grpc.ServiceDefinition;
  const json = protoLoader.loadSync(files, { ...base, json: true })[ADS] as grpc.ServiceDefinition;
  const codec = (m: string): Codec => ({
    serialize: raw[m]!.requestSerialize as Codec['serialize'],
    raw: raw[m]!.responseDeserialize as Codec['raw'],
    json: json[m]!.responseDeserialize as Codec['json'],
  });
  codecs = { sotw: codec('StreamAggregatedResources'), delta: codec('DeltaAggregatedResources') };
  return codecs;
}

/** DecodedResource is one resource of a response, decoded to a plain object (snake_case fields). */
export interface DecodedResource {
  readonly name: string;
  /** The Any's type_url as sent. */
  readonly typeUrl: string;
  /** Delta only: the Resource version. */
  readonly version?: string;
  readonly value: Json;
}

export interface SotwResponse {
  readonly version: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly DecodedResource[];
  readonly names: readonly string[];
  readonly controlPlane?: string;
  readonly raw: Buffer;
}

export interface DeltaResponse {
  readonly systemVersion: string;
  readonly typeUrl: string;
  readonly nonce: string;
  readonly resources: readonly DecodedResource[];
  readonly names: readonly string[];
  readonly removed: readonly string[];
  readonly controlPlane?: string;
  readonly raw: Buffer;
}

/** resourceName reads the name of a decoded SotW resource (CLAs are named by cluster_name). */
export function resourceName(typeUrl: string, value: Json): string {
  return String((typeUrl === TYPES.eds ? value.cluster_name : value.name) ?? '');
}

/** decodeSotw decodes DiscoveryResponse bytes and lists invariant violations. */
export function decodeSotw(buf: Buffer): { response: SotwResponse; violations: string[] } {
  const c = adsCodecs().sotw;
  const raw = c.raw(buf);
  const json = c.json(buf);
  const typeUrl = String(raw.type_url ?? '');
  const violations: string[] = [];
  const resources = (json.resources as Json[]).map((v, i) => {
    const anyTypeUrl = String((raw.resources as Json[])[i]!.type_url ?? '');
    if (anyTypeUrl !== typeUrl) violations.push(`resource ${i} has type ${anyTypeUrl}, response has ${typeUrl}`);
    return { name: resourceName(typeUrl, v), typeUrl: anyTypeUrl, value: v };
  });
  if (!raw.version_info) violations.push('version_info is empty');
  const names = resources.map((r) => r.name);
  if (new Set(names).size !== names.length) violations.push(`duplicate names: ${names.join(',')}`);
  return {
    response: {
      version: String(raw.version_info ?? ''),
      typeUrl,
      nonce: String(raw.nonce ?? ''),
      resources,
      names,
      controlPlane: raw.control_plane?.identifier,
      raw: buf,
    },
    violations,
  };
}

/** decodeDelta decodes DeltaDiscoveryResponse bytes and lists invariant violations. */
export function decodeDelta(buf: Buffer): { response: DeltaResponse; violations: string[] } {
  const c = adsCodecs().delta;
  const raw = c.raw(buf);
  const json = c.json(buf);
  const typeUrl = String(raw.type_url ?? '');
  const violations: string[] = [];
  const resources = (json.resources as Json[]).map((r, i) => {
    const rawRes = (raw.resources as Json[])[i]!;
    const anyTypeUrl = String(rawRes.resource?.type_url ?? '');
    if (anyTypeUrl !== typeUrl) violations.push(`resource ${i} has type ${anyTypeUrl}, response has ${typeUrl}`);
    if (!r.version) violations.push(`resource ${String(r.name)} has no version`);
    const value = (r.resource ?? {}) as Json;
    if (resourceName(typeUrl, value) !== r.name)
      violations.push(`resource ${String(r.name)} wraps ${resourceName(typeUrl, value)}`);
    return { name: String(r.name ?? ''), typeUrl: anyTypeUrl, version: String(r.version ?? ''), value };
  });
  const removed = (raw.removed_resources as string[]).map(String);
  const names = resources.map((r) => r.name);
  if (new Set(names).size !== names.length) violations.push(`duplicate names: ${names.join(',')}`);
  for (const n of removed) if (names.includes(n)) violations.push(`${n} both sent and removed`);
  return {
    response: {
      systemVersion: String(raw.system_version_info ?? ''),
      typeUrl,
      nonce: String(raw.nonce ?? ''),
      resources,
      names,
      removed,
      controlPlane: raw.control_plane?.identifier,
      raw: buf,
    },
    violations,
  };
}

/**
 * ResponseChecker decodes each response of one stream and records every invariant it breaks: the
 * nonce is set and never repeats on the stream for its type, the type is served, plus the
 * per-response checks of decode*.
 */
export class ResponseChecker<R extends { typeUrl: string; nonce: string }> {
  private readonly nonces = new Map<string, Set<string>>();
  constructor(
    private readonly decode: (b: Buffer) => { response: R; violations: string[] },
    readonly violations: string[] = [],
  ) {}

  /** check decodes `b`; undefined (and a violation) when it cannot be decoded. */
  check(b: Buffer): R | undefined {
    let decoded: { response: R; violations: string[] };
    try {
      decoded = this.decode(b);
    } catch (err) {
      this.violations.push(`undecodable response: ${String(err)}`);
      return undefined;
    }
    const r = decoded.response;
    this.violations.push(...decoded.violations.map((v) => `${r.typeUrl} nonce ${r.nonce}: ${v}`));
    if (!SERVED.has(r.typeUrl)) this.violations.push(`unexpected type_url ${r.typeUrl}`);
    let seen = this.nonces.get(r.typeUrl);
    if (!seen) this.nonces.set(r.typeUrl, (seen = new Set()));
    if (r.nonce === '') this.violations.push(`${r.typeUrl}: empty nonce`);
    else if (seen.has(r.nonce)) this.violations.push(`${r.typeUrl}: nonce ${r.nonce} repeats on this stream`);
    seen.add(r.nonce);
    return r;
  }
}

/** NodeInit is the node sent on a stream's first request. */
export interface NodeInit {
  readonly id: string;
  readonly cluster?: string;
  readonly metadata?: Json;
  /** Default `ads-client`; a `gRPC …` user agent makes the server treat the node as proxyless. */
  readonly userAgent?: string;
}

const DEFAULT_NODE: NodeInit = { id: 'test-node', cluster: 'test' };

type Waiter<R> = {
  match: (r: R) => boolean;
  resolve: (r: R) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
};

/** StreamEnd is the status a stream ended with. */
export interface StreamEnd {
  readonly code: number;
  readonly details: string;
}

const rawMethod = (path: string) => ({
  path,
  requestStream: true,
  responseStream: true,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
});
const RawAds = grpc.makeGenericClientConstructor(
  { Sotw: rawMethod(`/${ADS}/StreamAggregatedResources`), Delta: rawMethod(`/${ADS}/DeltaAggregatedResources`) },
  'RawAds',
);

abstract class ScriptedStream<R extends { typeUrl: string; nonce: string }> {
  /** Every response received, in order. */
  readonly received: R[] = [];
  /** Protocol invariant violations seen; tests assert this stays empty. */
  readonly violations: string[] = [];
  /** Resolves with the stream's status when it ends. */
  readonly ended: Promise<StreamEnd>;
  private readonly inbox: R[] = [];
  private waiters: Array<Waiter<R>> = [];
  private finished?: StreamEnd;
  private readonly checker: ResponseChecker<R>;
  protected readonly client: grpc.Client;
  protected readonly call: grpc.ClientDuplexStream<Buffer, Buffer>;
  protected nodeSent = false;
  private readonly defaultNode: NodeInit;

  constructor(
    address: string,
    method: 'Sotw' | 'Delta',
    credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    node?: NodeInit,
  ) {
    this.checker = new ResponseChecker<R>(
      (method === 'Sotw' ? decodeSotw : decodeDelta) as unknown as (b: Buffer) => { response: R; violations: string[] },
      this.violations,
    );
    this.defaultNode = node ?? DEFAULT_NODE;
    this.client = new RawAds(address, credentials, { 'grpc.use_local_subchannel_pool': 1 });
    this.call = (this.client as unknown as Record<string, () => grpc.ClientDuplexStream<Buffer, Buffer>>)[method]!();
    this.call.on('data', (b: Buffer) => this.onData(b));
    this.call.on('error', () => undefined);
    this.ended = new Promise((resolve) => {
      this.call.on('status', (s: grpc.StatusObject) => {
        this.finished = { code: s.code, details: s.details };
        for (const w of this.waiters) {
          clearTimeout(w.timer);
          w.reject(new Error(`stream ended (${s.code} ${s.details}) while waiting`));
        }
        this.waiters = [];
        resolve(this.finished);
      });
    });
  }

  private onData(b: Buffer): void {
    const r = this.checker.check(b);
    if (!r) return;
    this.received.push(r);
    const i = this.waiters.findIndex((w) => w.match(r));
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w!.timer);
      w!.resolve(r);
    } else {
      this.inbox.push(r);
    }
  }

  private take(match: (r: R) => boolean, what: string, timeoutMs: number): Promise<R> {
    const i = this.inbox.findIndex(match);
    if (i >= 0) return Promise.resolve(this.inbox.splice(i, 1)[0]!);
    if (this.finished)
      return Promise.reject(new Error(`stream ended (${this.finished.code} ${this.finished.details}) before ${what}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(
          new Error(
            `no ${what} within ${timeoutMs} ms; received so far: ${this.received.map((r) => `${r.typeUrl.split('.').pop()}#${r.nonce}`).join(' ')}`,
          ),
        );
      }, timeoutMs);
      this.waiters.push({ match, resolve, reject, timer });
    });
  }

  /** next resolves with the next unread response of `typeUrl`. */
  next(typeUrl: string, timeoutMs = 3000): Promise<R> {
    return this.take((r) => r.typeUrl === typeUrl, `response of ${typeUrl}`, timeoutMs);
  }

  /** nextAny resolves with the next unread response of any type, in arrival order. */
  nextAny(timeoutMs = 3000): Promise<R> {
    return this.take(() => true, 'response', timeoutMs);
  }

  /** expectNone waits `ms` and fails if an unread response (of `typeUrl`, or any) arrived. */
  async expectNone(typeUrl?: string, ms = 150): Promise<void> {
    await new Promise((r) => setTimeout(r, ms));
    const extra = this.inbox.filter((r) => typeUrl === undefined || r.typeUrl === typeUrl);
    if (extra.length > 0)
      throw new Error(`unexpected responses: ${extra.map((r) => `${r.typeUrl}#${r.nonce}`).join(', ')}`);
  }

  /** unread lists responses received but not yet taken. */
  unread(): readonly R[] {
    return [...this.inbox];
  }

  /** writeRaw sends arbitrary bytes as one request message. */
  writeRaw(bytes: Buffer): void {
    this.call.write(bytes);
  }

  protected nodeFor(node: NodeInit | null | undefined): NodeInit | undefined {
    if (node === null) return undefined;
    if (node !== undefined) return node;
    if (this.nodeSent) return undefined;
    this.nodeSent = true;
    return this.defaultNode;
  }

  /** halfClose ends the client's side of the stream. */
  halfClose(): void {
    this.call.end();
  }

  /** close cancels the stream and closes the channel. */
  close(): void {
    this.call.cancel();
    this.client.close();
  }
}

/** SotwRequestInit is a DiscoveryRequest in test terms. `node: null` leaves the node out. */
export interface SotwRequestInit {
  readonly typeUrl: string;
  readonly names?: readonly string[];
  readonly version?: string;
  readonly nonce?: string;
  readonly error?: { readonly code?: number; readonly message: string };
  readonly node?: NodeInit | null;
}

/** SotwClient speaks StreamAggregatedResources. */
export class SotwClient extends ScriptedStream<SotwResponse> {
  private readonly names = new Map<string, readonly string[]>();
  private readonly applied = new Map<string, string>();

  /** `node` is sent on the first request unless a request names its own; `credentials` default to insecure. */
  constructor(address: string, opts: { credentials?: grpc.ChannelCredentials; node?: NodeInit } = {}) {
    super(address, 'Sotw', opts.credentials, opts.node);
  }

  /** send writes a DiscoveryRequest; the first one carries the default node unless `node` says otherwise. */
  send(req: SotwRequestInit): void {
    const names = req.names ?? this.names.get(req.typeUrl) ?? [];
    this.names.set(req.typeUrl, names);
    this.call.write(encodeSotwRequest({ ...req, names, node: this.nodeFor(req.node) ?? null }));
  }

  /** ack accepts `r`, repeating the type's last names unless `names` are given. */
  ack(r: SotwResponse, names?: readonly string[]): void {
    this.applied.set(r.typeUrl, r.version);
    this.send({ typeUrl: r.typeUrl, names, version: r.version, nonce: r.nonce });
  }

  /** nack rejects `r` with error_detail; version_info stays the last applied one. */
  nack(r: SotwResponse, message: string, names?: readonly string[]): void {
    this.send({
      typeUrl: r.typeUrl,
      names,
      version: this.applied.get(r.typeUrl) ?? '',
      nonce: r.nonce,
      error: { message },
    });
  }
}

/** DeltaRequestInit is a DeltaDiscoveryRequest in test terms. */
export interface DeltaRequestInit {
  readonly typeUrl: string;
  readonly subscribe?: readonly string[];
  readonly unsubscribe?: readonly string[];
  readonly initialVersions?: Readonly<Record<string, string>>;
  readonly nonce?: string;
  readonly error?: { readonly code?: number; readonly message: string };
  readonly node?: NodeInit | null;
}

/** DeltaClient speaks DeltaAggregatedResources. */
export class DeltaClient extends ScriptedStream<DeltaResponse> {
  /** `node` is sent on the first request unless a request names its own; `credentials` default to insecure. */
  constructor(address: string, opts: { credentials?: grpc.ChannelCredentials; node?: NodeInit } = {}) {
    super(address, 'Delta', opts.credentials, opts.node);
  }

  send(req: DeltaRequestInit): void {
    this.call.write(encodeDeltaRequest({ ...req, node: this.nodeFor(req.node) ?? null }));
  }

  ack(r: DeltaResponse): void {
    this.send({ typeUrl: r.typeUrl, nonce: r.nonce });
  }

  nack(r: DeltaResponse, message: string): void {
    this.send({ typeUrl: r.typeUrl, nonce: r.nonce, error: { message } });
  }
}

function nodeJson(node: NodeInit): Json {
  return {
    id: node.id,
    cluster: node.cluster ?? '',
    metadata: node.metadata ? toStruct(node.metadata) : undefined,
    user_agent_name: node.userAgent ?? 'ads-client',
  };
}

/** encodeSotwRequest encodes a DiscoveryRequest with proto-loader; `node` is sent only when given. */
export function encodeSotwRequest(req: SotwRequestInit): Buffer {
  const msg: Json = {
    type_url: req.typeUrl,
    resource_names: [...(req.names ?? [])],
    version_info: req.version ?? '',
    response_nonce: req.nonce ?? '',
  };
  if (req.node) msg.node = nodeJson(req.node);
  if (req.error) msg.error_detail = { code: req.error.code ?? 3, message: req.error.message };
  return adsCodecs().sotw.serialize(msg);
}

/** encodeDeltaRequest encodes a DeltaDiscoveryRequest with proto-loader; `node` is sent only when given. */
export function encodeDeltaRequest(req: DeltaRequestInit): Buffer {
  const msg: Json = {
    type_url: req.typeUrl,
    resource_names_subscribe: [...(req.subscribe ?? [])],
    resource_names_unsubscribe: [...(req.unsubscribe ?? [])],
    initial_resource_versions: { ...(req.initialVersions ?? {}) },
    response_nonce: req.nonce ?? '',
  };
  if (req.node) msg.node = nodeJson(req.node);
  if (req.error) msg.error_detail = { code: req.error.code ?? 3, message: req.error.message };
  return adsCodecs().delta.serialize(msg);
}

// protobufjs bundles google/protobuf/struct.proto with camelCase field names, which keepCase keeps.
function toStruct(o: Json): Json {
  const fields: Json = {};
  for (const [k, v] of Object.entries(o))
    fields[k] =
      typeof v === 'number'
        ? { numberValue: v }
        : typeof v === 'boolean'
          ? { boolValue: v }
          : { stringValue: String(v) };
  return { fields };
}
