// An in-process fake of Polaris's v1.PolarisGRPC Discover service, for unit tests of the syncer.
// It encodes with protobufjs (@grpc/proto-loader) from our .proto files, independently of the
// ts-proto code the syncer decodes with, and mirrors the real server's answers (revisions,
// 200001, 400202, the empty-namespace quirk). Faults can be switched on at any time.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { repoRoot } from './components.js';

export interface FakeMatch {
  type?: number | string;
  value?: string;
  value_type?: number | string;
}

export interface FakeInstance {
  id?: string;
  host: string;
  port: number;
  protocol?: string;
  version?: string;
  weight?: number;
  priority?: number;
  healthy?: boolean;
  isolate?: boolean;
  location?: { region?: string; zone?: string; campus?: string };
  metadata?: Record<string, string>;
}

export interface FakeRoute {
  sources: Array<{ service?: string; namespace?: string; metadata?: Record<string, FakeMatch> }>;
  destinations: Array<{
    service?: string;
    namespace?: string;
    metadata?: Record<string, FakeMatch>;
    priority?: number;
    weight?: number;
    isolate?: boolean;
    name?: string;
  }>;
  extendInfo?: Record<string, string>;
}

export interface FakeService {
  namespace: string;
  name: string;
  metadata?: Record<string, string>;
  instances?: FakeInstance[];
  inbounds?: FakeRoute[];
  outbounds?: FakeRoute[];
  /** Makes this service an alias: INSTANCE answers carry the target's instances and `aliasFor`. */
  aliasFor?: { namespace: string; name: string };
  /** Governance rules in protobufjs shape (keepCase field names, enums by name): v1.Rule, v1.CircuitBreakerRule, v1.FaultDetectRule. */
  rateLimits?: Array<Record<string, unknown>>;
  circuitBreakers?: Array<Record<string, unknown>>;
  faultDetectors?: Array<Record<string, unknown>>;
}

/** A request as the fake saw it. */
export interface SeenRequest {
  type: string;
  namespace: string;
  name: string;
  revision: string;
  token: string | undefined;
}

export interface Faults {
  /** Delay before each answer (order is kept). */
  delayMs?: number;
  /** Read requests but never answer. */
  silent?: boolean;
  /** Answer every request (of the given types, default all) with this code; `bare` omits type and service, as auth and rate-limit errors do. */
  errorCode?: { code: number; types?: string[]; bare?: boolean };
  /** Replace the answer to a request: return a raw protobufjs-shaped DiscoverResponse, or undefined for the normal one. */
  override?: (req: SeenRequest) => Record<string, unknown> | undefined;
}

/** FakeTls names PEM files; with `clientCa`, clients must present a certificate it signed. */
export interface FakeTls {
  cert: string;
  key: string;
  clientCa?: string;
}

const EMPTY_SHA1 = 'da39a3ee5e6b4b0d3255bfef95601890afd80709';

const sv = (v: string | undefined): { value: string } | undefined => (v === undefined ? undefined : { value: v });
const u32 = (v: number | undefined): { value: number } | undefined => (v === undefined ? undefined : { value: v });
const bv = (v: boolean | undefined): { value: boolean } | undefined => (v === undefined ? undefined : { value: v });

function sha1(data: unknown): string {
  return createHash('sha1').update(JSON.stringify(data)).digest('hex');
}

function wireMatch(m: Record<string, FakeMatch> | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(m ?? {}))
    out[k] = { type: v.type ?? 0, value: sv(v.value), value_type: v.value_type ?? 0 };
  return out;
}

function wireRoute(r: FakeRoute): Record<string, unknown> {
  return {
    sources: r.sources.map((s) => ({
      service: sv(s.service),
      namespace: sv(s.namespace),
      metadata: wireMatch(s.metadata),
    })),
    destinations: r.destinations.map((d) => ({
      service: sv(d.service),
      namespace: sv(d.namespace),
      metadata: wireMatch(d.metadata),
      priority: u32(d.priority),
      weight: u32(d.weight),
      isolate: bv(d.isolate),
      name: sv(d.name),
    })),
    extendInfo: r.extendInfo ?? {},
  };
}

function wireInstance(ns: string, svc: string, i: FakeInstance): Record<string, unknown> {
  return {
    id: sv(i.id ?? createHash('sha1').update(`${ns}##${svc}##${i.host}##${i.port}`).digest('hex')),
    service: sv(svc),
    namespace: sv(ns),
    host: sv(i.host),
    port: u32(i.port),
    protocol: sv(i.protocol),
    version: sv(i.version),
    priority: u32(i.priority),
    weight: u32(i.weight),
    healthy: bv(i.healthy),
    isolate: bv(i.isolate),
    location: i.location
      ? { region: sv(i.location.region), zone: sv(i.location.zone), campus: sv(i.location.campus) }
      : undefined,
    metadata: i.metadata ?? {},
    revision: sv(sha1(i)),
  };
}

type DiscoverCall = grpc.ServerDuplexStream<Record<string, unknown>, Record<string, unknown>>;

let serviceDef: grpc.ServiceDefinition | undefined;
function discoverService(): grpc.ServiceDefinition {
  if (serviceDef === undefined) {
    const def = protoLoader.loadSync('v1/discover.proto', {
      includeDirs: [join(repoRoot, 'proto/polaris')],
      keepCase: true,
      longs: String,
      enums: String,
      defaults: false,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      v1: { PolarisGRPC: { service: grpc.ServiceDefinition } };
    };
    serviceDef = pkg.v1.PolarisGRPC.service;
  }
  return serviceDef;
}

/** FakePolaris is a programmable Discover server on 127.0.0.1. */
export class FakePolaris {
  readonly services = new Map<string, FakeService>();
  readonly requests: SeenRequest[] = [];
  /** Requests received and not answered yet, by `type namespace/name`; and the most one key ever had. */
  readonly unanswered = new Map<string, number>();
  mostUnansweredOfOneKey = 0;

  /** openCalls is the number of Discover streams open now. */
  get openCalls(): number {
    return this.calls.size;
  }
  faults: Faults = {};
  private server: grpc.Server | undefined;
  private readonly calls = new Set<DiscoverCall>();
  private constructor(
    public port: number,
    private readonly tls?: FakeTls,
  ) {}

  /** start listens on `port` (0 = a free one), with TLS when `tls` is given. */
  static async start(port = 0, tls?: FakeTls): Promise<FakePolaris> {
    const fake = new FakePolaris(port, tls);
    await fake.listen();
    return fake;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** setService adds or replaces a service. */
  setService(s: FakeService): void {
    this.services.set(`${s.namespace}/${s.name}`, s);
  }

  removeService(namespace: string, name: string): void {
    this.services.delete(`${namespace}/${name}`);
  }

  /** requestsOf lists the requests of one type seen so far. */
  requestsOf(type: string): SeenRequest[] {
    return this.requests.filter((r) => r.type === type);
  }

  /** resetStreams ends every open Discover stream with UNAVAILABLE. */
  resetStreams(): void {
    for (const call of this.calls)
      call.destroy(Object.assign(new Error('reset by fake'), { code: grpc.status.UNAVAILABLE }));
    this.calls.clear();
  }

  /** stop shuts the server down at once (like a crash). */
  async stop(): Promise<void> {
    this.resetStreams();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  /** restart stops and listens again on the same port, keeping the state. */
  async restart(): Promise<void> {
    await this.stop();
    await this.listen();
  }

  private async listen(): Promise<void> {
    const server = new grpc.Server();
    server.addService(discoverService(), {
      Discover: (call: DiscoverCall) => this.onCall(call),
      ReportClient: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { code: { value: 200000 } }),
      RegisterInstance: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { code: { value: 200000 } }),
      DeregisterInstance: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { code: { value: 200000 } }),
      Heartbeat: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { code: { value: 200000 } }),
    });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${this.port}`, this.credentials(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
    this.server = server;
  }

  private credentials(): grpc.ServerCredentials {
    if (this.tls === undefined) return grpc.ServerCredentials.createInsecure();
    const ca = this.tls.clientCa === undefined ? null : readFileSync(this.tls.clientCa);
    return grpc.ServerCredentials.createSsl(
      ca,
      [{ cert_chain: readFileSync(this.tls.cert), private_key: readFileSync(this.tls.key) }],
      ca !== null,
    );
  }

  private onCall(call: DiscoverCall): void {
    this.calls.add(call);
    const token = call.metadata.get('x-polaris-token')[0];
    let chain = Promise.resolve();
    call.on('data', (raw: Record<string, unknown>) => {
      const svc = (raw.service ?? {}) as Record<string, { value?: string } | undefined>;
      const req: SeenRequest = {
        type: String(raw.type ?? 'UNKNOWN'),
        namespace: svc.namespace?.value ?? '',
        name: svc.name?.value ?? '',
        revision: svc.revision?.value ?? '',
        token: token === undefined ? undefined : String(token),
      };
      this.requests.push(req);
      const key = `${req.type} ${req.namespace}/${req.name}`;
      const waiting = (this.unanswered.get(key) ?? 0) + 1;
      this.unanswered.set(key, waiting);
      this.mostUnansweredOfOneKey = Math.max(this.mostUnansweredOfOneKey, waiting);
      if (this.faults.silent) return;
      chain = chain.then(async () => {
        const delay = this.faults.delayMs ?? 0;
        if (delay > 0) await new Promise((r) => setTimeout(r, delay));
        if (!this.calls.has(call) || this.faults.silent) return;
        this.unanswered.set(key, (this.unanswered.get(key) ?? 1) - 1);
        call.write(this.answer(req));
      });
    });
    call.on('end', () => {
      this.calls.delete(call);
      call.end();
    });
    call.on('error', () => this.calls.delete(call));
    call.on('cancelled', () => this.calls.delete(call));
  }

  /** answer is what the real server would send (unless a fault says otherwise). */
  answer(req: SeenRequest): Record<string, unknown> {
    const override = this.faults.override?.(req);
    if (override !== undefined) return override;
    const echo = { name: sv(req.name), namespace: sv(req.namespace), revision: sv(req.revision) };
    const err = this.faults.errorCode;
    if (err && (err.types === undefined || err.types.includes(req.type))) {
      return err.bare
        ? { code: u32(err.code), info: sv('injected') }
        : { code: u32(err.code), info: sv('injected'), type: req.type, service: echo };
    }
    switch (req.type) {
      case 'SERVICES':
        return this.servicesAnswer(req, echo);
      case 'INSTANCE':
        return this.instanceAnswer(req, echo);
      case 'ROUTING':
        return this.routingAnswer(req, echo);
      case 'RATE_LIMIT':
      case 'CIRCUIT_BREAKER':
      case 'FAULT_DETECTOR':
        return this.governanceAnswer(req, echo);
      default:
        return { code: u32(400004), info: sv('invalid discover resource'), type: 'ROUTING', service: echo };
    }
  }

  private servicesAnswer(req: SeenRequest, echo: Record<string, unknown>): Record<string, unknown> {
    const list = [...this.services.values()]
      .filter((s) => req.namespace === '' || s.namespace === req.namespace)
      .sort((a, b) => (`${a.namespace}/${a.name}` < `${b.namespace}/${b.name}` ? -1 : 1));
    // The real server's quirk: no services → 200000, nothing listed, our own revision echoed.
    if (list.length === 0) return { code: u32(200000), info: sv('execute success'), type: 'SERVICES', service: echo };
    const revision = sha1(list.map((s) => [s.namespace, s.name, s.metadata ?? {}]));
    if (revision === req.revision)
      return { code: u32(200001), info: sv('data no change'), type: 'SERVICES', service: echo };
    return {
      code: u32(200000),
      info: sv('execute success'),
      type: 'SERVICES',
      service: { name: sv(req.name), namespace: sv(req.namespace), revision: sv(revision) },
      services: list.map((s) => ({ name: sv(s.name), namespace: sv(s.namespace), metadata: s.metadata ?? {} })),
    };
  }

  private instanceAnswer(req: SeenRequest, echo: Record<string, unknown>): Record<string, unknown> {
    const svc = this.services.get(`${req.namespace}/${req.name}`);
    if (svc === undefined)
      return { code: u32(400202), info: sv('not found resource'), type: 'INSTANCE', service: echo };
    const target = svc.aliasFor ? (this.services.get(`${svc.aliasFor.namespace}/${svc.aliasFor.name}`) ?? svc) : svc;
    const instances = target.instances ?? [];
    const revision =
      instances.length === 0 ? EMPTY_SHA1 : sha1([target.namespace, target.name, instances, svc.metadata ?? {}]);
    if (revision === req.revision)
      return { code: u32(200001), info: sv('data no change'), type: 'INSTANCE', service: echo };
    return {
      code: u32(200000),
      info: sv('execute success'),
      type: 'INSTANCE',
      service: {
        name: sv(req.name),
        namespace: sv(req.namespace),
        metadata: svc.metadata ?? {},
        revision: sv(revision),
      },
      instances: instances.map((i) => wireInstance(target.namespace, target.name, i)),
      aliasFor: { name: sv(target.name), namespace: sv(target.namespace), metadata: target.metadata ?? {} },
    };
  }

  /** governanceAnswer mirrors v1.18.1: no rules → 200000 with neither payload nor revision; same revision → 200001. */
  private governanceAnswer(req: SeenRequest, echo: Record<string, unknown>): Record<string, unknown> {
    const svc = this.services.get(`${req.namespace}/${req.name}`);
    const rules =
      (req.type === 'RATE_LIMIT'
        ? svc?.rateLimits
        : req.type === 'CIRCUIT_BREAKER'
          ? svc?.circuitBreakers
          : svc?.faultDetectors) ?? [];
    if (rules.length === 0)
      return {
        code: u32(200000),
        info: sv('execute success'),
        type: req.type,
        service: { name: sv(req.name), namespace: sv(req.namespace) },
      };
    const revision = sha1(rules);
    if (revision === req.revision)
      return { code: u32(200001), info: sv('data no change'), type: req.type, service: echo };
    const payload =
      req.type === 'RATE_LIMIT'
        ? { rateLimit: { rules, revision: sv(revision) } }
        : req.type === 'CIRCUIT_BREAKER'
          ? {
              circuitBreaker: {
                rules,
                revision: sv(revision),
                service: sv(req.name),
                service_namespace: sv(req.namespace),
              },
            }
          : { faultDetector: { rules, revision } };
    return {
      code: u32(200000),
      info: sv('execute success'),
      type: req.type,
      service: { name: sv(req.name), namespace: sv(req.namespace), revision: sv(revision) },
      ...payload,
    };
  }

  private routingAnswer(req: SeenRequest, echo: Record<string, unknown>): Record<string, unknown> {
    const svc = this.services.get(`${req.namespace}/${req.name}`);
    const inbounds = svc?.inbounds ?? [];
    const outbounds = svc?.outbounds ?? [];
    const revision = inbounds.length + outbounds.length === 0 ? EMPTY_SHA1 : sha1([inbounds, outbounds]);
    if (revision === req.revision)
      return { code: u32(200001), info: sv('data no change'), type: 'ROUTING', service: echo };
    return {
      code: u32(200000),
      info: sv('execute success'),
      type: 'ROUTING',
      service: { name: sv(req.name), namespace: sv(req.namespace), revision: sv(revision) },
      routing: {
        service: sv(req.name),
        namespace: sv(req.namespace),
        inbounds: inbounds.map(wireRoute),
        outbounds: outbounds.map(wireRoute),
        revision: sv(revision),
      },
      aliasFor: { name: sv(req.name), namespace: sv(req.namespace) },
    };
  }
}
