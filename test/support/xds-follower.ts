// A scripted ADS client that behaves like Envoy (or a gRPC client) towards a real polaris-xds: it
// ACKs every response and follows references — clusters → their ClusterLoadAssignments, listeners
// → their RouteConfigurations, and (proxyless) route configurations → their clusters — updating
// its subscriptions as a real client would. It logs every response, so a test can count what one
// mesh change made the server send.
import {
  DeltaClient,
  SotwClient,
  TYPES,
  type DeltaResponse,
  type Json,
  type NodeInit,
  type SotwResponse,
} from './ads-client.js';

/** Logged is one response as the follower saw it. */
export interface Logged {
  readonly typeUrl: string;
  /** Names of the resources it carried. */
  readonly names: readonly string[];
  /** Delta removed_resources. */
  readonly removed: readonly string[];
  /** Encoded size of the whole response. */
  readonly bytes: number;
  /** SotW version_info, or Delta system_version_info. */
  readonly version: string;
  /** Delta: name → resource version. */
  readonly versions: Readonly<Record<string, string>>;
}

export interface FollowerOptions {
  /** Listener names to subscribe to; '*' (default) is wildcard, as Envoy does. */
  readonly listeners?: readonly string[] | '*';
  /** Clusters: '*' (Envoy) or 'from-routes' (gRPC: the clusters its route configurations name). */
  readonly clusters?: '*' | 'from-routes';
  readonly node: NodeInit;
  /** Delta only: the versions the client already holds, sent in its first request of each type. */
  readonly initialVersions?: Readonly<Record<string, Readonly<Record<string, string>>>>;
}

const sortedEqual = (a: Iterable<string>, b: Iterable<string>): boolean =>
  JSON.stringify([...a].sort()) === JSON.stringify([...b].sort());

/** edsNames lists the ClusterLoadAssignments EDS clusters need. */
function edsNames(clusters: Iterable<Json>): string[] {
  const out = new Set<string>();
  for (const c of clusters) if (c.type === 'EDS') out.add(c.eds_cluster_config?.service_name || c.name);
  return [...out];
}

/** hcmsOf lists the HTTP connection managers of a decoded listener (API listener or filter chains). */
function hcmsOf(l: Json): Json[] {
  const out: Json[] = [];
  if (l.api_listener?.api_listener) out.push(l.api_listener.api_listener);
  for (const chain of l.filter_chains ?? [])
    for (const f of chain.filters ?? []) if (f.typed_config) out.push(f.typed_config);
  return out.filter((h) => String(h['@type'] ?? '').endsWith('HttpConnectionManager'));
}

function rdsNames(listeners: Iterable<Json>): string[] {
  const out = new Set<string>();
  for (const l of listeners) for (const h of hcmsOf(l)) if (h.rds?.route_config_name) out.add(h.rds.route_config_name);
  return [...out];
}

function routeClusters(routes: Iterable<Json>): string[] {
  const out = new Set<string>();
  for (const rc of routes) {
    for (const vh of rc.virtual_hosts ?? []) {
      for (const r of vh.routes ?? []) {
        const a = r.route;
        if (!a) continue;
        if (a.cluster) out.add(a.cluster);
        for (const w of a.weighted_clusters?.clusters ?? []) out.add(w.name);
      }
    }
  }
  return [...out];
}

/** Follower is a client that follows references like a real data plane and logs what it gets. */
export abstract class Follower {
  readonly log: Logged[] = [];
  /** The resources held, by type and name (decoded). */
  readonly held = new Map<string, Map<string, Json>>(Object.values(TYPES).map((t) => [t, new Map()]));
  /** Delta: the version of each held resource, by type and name. */
  readonly versions = new Map<string, Map<string, string>>(Object.values(TYPES).map((t) => [t, new Map()]));
  protected readonly subscribed = new Map<string, Set<string>>();
  private running = true;
  /** Set by subclasses when the stream has ended; the follower then stops. */
  protected streamEnded = false;
  private loop?: Promise<void>;
  private lastAt = Date.now();

  constructor(protected readonly opts: FollowerOptions) {}

  /** start subscribes to CDS and LDS and follows every response until close(). */
  start(): this {
    const cds = this.opts.clusters ?? '*';
    if (cds === '*') this.subscribe(TYPES.cds, ['*']);
    const lds = this.opts.listeners ?? '*';
    this.subscribe(TYPES.lds, lds === '*' ? ['*'] : [...lds]);
    this.loop = this.run();
    return this;
  }

  /** mark is the position in the log now; since(mark) lists what arrived after it. */
  mark(): number {
    return this.log.length;
  }

  since(mark: number): Logged[] {
    return this.log.slice(mark);
  }

  /** quiet resolves once no response arrived for `ms`, after at least `minMs`. */
  async quiet(ms = 500, minMs = 0, timeoutMs = 15_000): Promise<void> {
    const started = Date.now();
    for (;;) {
      const now = Date.now();
      if (now - started >= minMs && now - this.lastAt >= ms) return;
      if (now - started > timeoutMs) throw new Error('responses never stopped');
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** names lists the held resource names of a type, sorted. */
  names(typeUrl: string): string[] {
    return [...this.held.get(typeUrl)!.keys()].sort();
  }

  async close(): Promise<void> {
    this.running = false;
    this.closeStream();
    await this.loop;
  }

  abstract get violations(): readonly string[];
  protected abstract subscribe(typeUrl: string, names: readonly string[]): void;
  protected abstract closeStream(): void;
  protected abstract next(): Promise<SotwResponse | DeltaResponse | undefined>;
  protected abstract apply(r: SotwResponse | DeltaResponse): void;

  private async run(): Promise<void> {
    while (this.running) {
      const r = await this.next();
      if (!r) {
        if (this.streamEnded) return;
        continue;
      }
      this.lastAt = Date.now();
      const removed = 'removed' in r ? r.removed : [];
      this.log.push({
        typeUrl: r.typeUrl,
        names: r.names,
        removed,
        bytes: r.raw.length,
        version: 'version' in r ? r.version : r.systemVersion,
        versions: Object.fromEntries(r.resources.map((x) => [x.name, x.version ?? ''])),
      });
      this.apply(r);
      this.follow();
    }
  }

  /** follow updates the EDS, RDS and (proxyless) CDS subscriptions from what is held. */
  private follow(): void {
    const want = (t: string, names: string[]) => {
      const cur = this.subscribed.get(t);
      if (cur && sortedEqual(cur, names)) return;
      if (!cur && names.length === 0) return;
      this.subscribe(t, names);
    };
    if (this.opts.clusters === 'from-routes') want(TYPES.cds, routeClusters(this.held.get(TYPES.rds)!.values()));
    want(TYPES.eds, edsNames(this.held.get(TYPES.cds)!.values()));
    want(TYPES.rds, rdsNames(this.held.get(TYPES.lds)!.values()));
  }
}

/** SotwFollower follows over StreamAggregatedResources. */
export class SotwFollower extends Follower {
  readonly client: SotwClient;
  private readonly last = new Map<string, { version: string; nonce: string }>();

  constructor(address: string, opts: FollowerOptions) {
    super(opts);
    this.client = new SotwClient(address, { node: opts.node });
    void this.client.ended.then(() => (this.streamEnded = true));
  }

  get violations(): readonly string[] {
    return this.client.violations;
  }

  protected subscribe(typeUrl: string, names: readonly string[]): void {
    this.subscribed.set(typeUrl, new Set(names));
    const l = this.last.get(typeUrl);
    this.client.send({ typeUrl, names, version: l?.version, nonce: l?.nonce });
  }

  protected closeStream(): void {
    this.client.close();
  }

  protected next(): Promise<SotwResponse | undefined> {
    return this.client.nextAny(200).catch(() => undefined);
  }

  protected apply(r: SotwResponse): void {
    const held = this.held.get(r.typeUrl)!;
    // LDS and CDS carry the full set; RDS and EDS only what changed.
    if (r.typeUrl === TYPES.lds || r.typeUrl === TYPES.cds) held.clear();
    for (const x of r.resources) held.set(x.name, x.value);
    this.last.set(r.typeUrl, { version: r.version, nonce: r.nonce });
    this.client.ack(r);
  }
}

/** DeltaFollower follows over DeltaAggregatedResources. */
export class DeltaFollower extends Follower {
  readonly client: DeltaClient;
  private readonly started = new Set<string>();

  constructor(address: string, opts: FollowerOptions) {
    super(opts);
    this.client = new DeltaClient(address, { node: opts.node });
    void this.client.ended.then(() => (this.streamEnded = true));
  }

  get violations(): readonly string[] {
    return this.client.violations;
  }

  protected subscribe(typeUrl: string, names: readonly string[]): void {
    const cur = this.subscribed.get(typeUrl) ?? new Set<string>();
    const next = new Set(names);
    const first = !this.started.has(typeUrl);
    this.started.add(typeUrl);
    this.subscribed.set(typeUrl, next);
    this.client.send({
      typeUrl,
      subscribe: [...next].filter((n) => !cur.has(n)),
      unsubscribe: [...cur].filter((n) => !next.has(n)),
      initialVersions: first ? this.opts.initialVersions?.[typeUrl] : undefined,
    });
  }

  protected closeStream(): void {
    this.client.close();
  }

  protected next(): Promise<DeltaResponse | undefined> {
    return this.client.nextAny(200).catch(() => undefined);
  }

  protected apply(r: DeltaResponse): void {
    const held = this.held.get(r.typeUrl)!;
    const versions = this.versions.get(r.typeUrl)!;
    for (const n of r.removed) {
      held.delete(n);
      versions.delete(n);
    }
    for (const x of r.resources) {
      held.set(x.name, x.value);
      versions.set(x.name, x.version ?? '');
    }
    this.client.ack(r);
  }
}
