// One simulated Envoy: an ADS stream on its own HTTP/2 connection that subscribes like Envoy
// (CDS wildcard, then EDS for every EDS cluster, then LDS, then RDS for the route configurations
// the listeners name), ACKs every response with its version and nonce, follows subscription
// changes, and records when each response arrived and was ACKed, and its size.
import * as grpc from '@grpc/grpc-js';
import { nowMs } from '../lib/clock.js';
import { SHORT_OF, TYPE_URLS, type AnyMsg, type DeltaRequest, type SotwRequest, type TypeShort } from './codec.js';
import {
  byType,
  type ByType,
  type ClientMode,
  type Expectation,
  type StreamReport,
  type StreamSpec,
} from './protocol.js';
import type { Views } from './views.js';

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';
const MAX_MESSAGE = 512 * 2 ** 20;
// Envoy's HTTP/2 receive windows default to 256 MiB (initial_stream_window_size and
// initial_connection_window_size); grpc-js's default of 64 KiB would make a server stop and wait
// for a window update every 64 KiB of a large response, which Envoy never asks it to.
const FLOW_CONTROL_WINDOW = 256 * 2 ** 20;
const identity = (b: Buffer): Buffer => b;

interface Expecting {
  readonly e: Expectation;
  readonly needle?: Buffer;
}

/** Resource is one received resource: name (when cheap to know), version (delta), bytes. */
interface Received {
  readonly name: string | undefined;
  readonly value: Buffer;
}

/** SimStream is one simulated Envoy; it is driven by its call's events only. */
export class SimStream {
  private client?: grpc.Client;
  private call?: grpc.ClientDuplexStream<Buffer, Buffer>;
  private readonly got = new Set<TypeShort>();
  private readonly requested = new Set<TypeShort>();
  // SotW: last ACKed version and nonce per type.
  private readonly versions = new Map<TypeShort, string>();
  private readonly nonces = new Map<TypeShort, string>();
  private edsNames: readonly string[] = [];
  private rdsNames: readonly string[] = [];
  // Delta: what the stream holds.
  private readonly clusters = new Map<string, string | undefined>();
  private readonly listeners = new Map<string, string[]>();
  // On-demand: the virtual hosts held, and whether the calls were made.
  private readonly vhosts = new Set<string>();
  private called = false;
  // Shared with the other streams of the process that subscribed to the same names (Views.nameSet).
  private edsSubscribed: ReadonlySet<string> = new Set<string>();
  private rdsSubscribed: ReadonlySet<string> = new Set<string>();
  private node: unknown;
  private nodeSent = false;
  private openedAt = 0;
  private syncedAt: number | null = null;
  private onSynced?: () => void;
  // Since the last report.
  private lastAckAt: number | null = null;
  private firstRecvAt: number | null = null;
  private bytes: ByType = byType();
  private responses: ByType = byType();
  private expecting: Expecting[] = [];
  private metAt: Array<number | null> = [];
  error?: string;
  /** Sentinel streams decode every resource in full; failures land here. */
  readonly decodeErrors: string[] = [];

  constructor(
    readonly spec: StreamSpec,
    private readonly mode: ClientMode,
    private readonly views: Views,
    private readonly sentinel: boolean,
    private readonly nodeEveryRequest: boolean,
    /** The names a raw-sotw stream ACKs with (empty: none). */
    private readonly rawAckNames: string[],
    private readonly onActivity: (recvAt: number, metAll: boolean) => void,
  ) {}

  get synced(): boolean {
    return this.syncedAt !== null;
  }

  get syncMs(): number | null {
    return this.syncedAt === null ? null : this.syncedAt - this.openedAt;
  }

  /** missing lists the types a stream that is not synced still waits for. */
  missing(): TypeShort[] {
    const want: TypeShort[] = ['cds', 'lds'];
    if (this.edsNames.length > 0 || !this.got.has('cds')) want.push('eds');
    if (this.rdsNames.length > 0 || !this.got.has('lds')) want.push('rds');
    if (this.mode === 'on-demand') want.push('vhds');
    return want.filter((t) => !this.got.has(t));
  }

  private get delta(): boolean {
    return this.mode === 'delta' || this.mode === 'raw-delta' || this.mode === 'on-demand';
  }

  /** An on-demand stream's calls, as VHDS names and cluster names. */
  private callNames(): { vhosts: string[]; clusters: string[] } {
    const ns = this.spec.metadata['sidecar.polarismesh.cn/serviceNamespace'] ?? '';
    const calls = this.spec.calls ?? [];
    return {
      vhosts: calls.map((s) => `polaris-outbound-router/${s}.${ns}`),
      clusters: calls.map((s) => `OUTBOUND|${ns}|${s}`),
    };
  }

  get allMet(): boolean {
    return this.metAt.every((m) => m !== null);
  }

  /** open connects and sends the first request; `onSynced` fires once the stream holds every type it subscribed to. */
  open(target: string, onSynced: () => void): void {
    this.onSynced = onSynced;
    this.openedAt = nowMs();
    this.client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': MAX_MESSAGE,
      'grpc.max_send_message_length': MAX_MESSAGE,
      'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW,
    });
    const delta = this.delta;
    const path = `${ADS}/${delta ? 'DeltaAggregatedResources' : 'StreamAggregatedResources'}`;
    const call = this.client.makeBidiStreamRequest(path, identity, identity);
    this.call = call;
    call.on('data', (buf: Buffer) => this.onResponse(buf));
    call.on('error', (err: Error) => (this.error ??= err.message));
    call.on('end', () => (this.error ??= 'server ended the stream'));
    this.node = this.views.codec.node(this.spec.nodeId, this.spec.cluster, this.spec.metadata);
    if (delta) this.sendDelta({ type_url: TYPE_URLS.cds, resource_names_subscribe: [] });
    else this.sendSotw({ type_url: TYPE_URLS.cds, resource_names: [] });
    this.requested.add('cds');
    if (this.mode === 'raw-sotw' || this.mode === 'raw-delta') this.markSynced();
  }

  close(): void {
    this.call?.cancel();
    this.client?.close();
  }

  /** expect arms expectations for what comes next (replacing earlier ones). */
  expect(expectations: readonly Expectation[]): void {
    // An on-demand sidecar expects only what concerns a service it calls.
    if (this.mode === 'on-demand')
      expectations = expectations.filter((e) => e.service === undefined || (this.spec.calls ?? []).includes(e.service));
    else expectations = expectations.filter((e) => e.type !== 'vhds');
    this.expecting = expectations.map((e) => ({
      e,
      needle: e.needle === undefined ? undefined : Buffer.from(e.needle),
    }));
    this.metAt = expectations.map(() => null);
  }

  /** report returns what arrived since the last report and starts a new period. */
  report(): StreamReport {
    const r: StreamReport = {
      index: this.spec.index,
      lastAckAt: this.lastAckAt,
      firstRecvAt: this.firstRecvAt,
      bytes: this.bytes,
      responses: this.responses,
      metAt: this.metAt,
      ...(this.error ? { error: this.error } : {}),
    };
    this.lastAckAt = null;
    this.firstRecvAt = null;
    this.bytes = byType();
    this.responses = byType();
    return r;
  }

  // The node goes in the first request only, as in the bootstrap polaris-xds writes
  // (set_node_on_first_message_only), or in every request, as Envoy does by default: Polaris's
  // own server dereferences it on every request.
  private nodeFor(): unknown {
    if (this.nodeSent && !this.nodeEveryRequest) return undefined;
    this.nodeSent = true;
    return this.node;
  }

  private sendSotw(req: SotwRequest): void {
    this.call?.write(this.views.codec.encodeSotw({ ...req, node: this.nodeFor() }));
  }

  private sendDelta(req: DeltaRequest): void {
    this.call?.write(this.views.codec.encodeDelta({ ...req, node: this.nodeFor() }));
  }

  private markSynced(): void {
    if (this.syncedAt !== null) return;
    this.syncedAt = nowMs();
    this.onSynced?.();
  }

  private checkSynced(): void {
    if (!this.got.has('cds') || !this.got.has('lds')) return;
    if (this.edsNames.length > 0 && !this.got.has('eds')) return;
    if (this.rdsNames.length > 0 && !this.got.has('rds')) return;
    if (this.mode === 'on-demand') {
      const want = this.callNames();
      if (!want.vhosts.every((n) => this.vhosts.has(n)) || !want.clusters.every((n) => this.clusters.has(n))) return;
    }
    this.markSynced();
  }

  private onResponse(buf: Buffer): void {
    const recvAt = nowMs();
    this.firstRecvAt ??= recvAt;
    let type: TypeShort | 'other';
    let received: Received[];
    if (this.delta) {
      const res = this.views.codec.decodeDelta(buf);
      type = SHORT_OF[res.type_url] ?? 'other';
      received = res.resources.map((r) => ({ name: r.name, value: r.resource?.value ?? Buffer.alloc(0) }));
      this.onDelta(type, res.nonce, res.resources, res.removed_resources);
    } else {
      const res = this.views.codec.decodeSotw(buf);
      type = SHORT_OF[res.type_url] ?? 'other';
      received = res.resources.map((a: AnyMsg) => ({ name: undefined, value: a.value }));
      this.onSotw(type, res.version_info, res.nonce, res.resources);
    }
    const ackAt = nowMs();
    this.lastAckAt = ackAt;
    this.bytes[type] += buf.length;
    this.responses[type] += 1;
    if (type !== 'other') {
      this.got.add(type);
      if (this.sentinel) this.decodeAll(type, received);
      this.checkExpectations(type, received, ackAt);
    }
    this.checkSynced();
    this.onActivity(recvAt, this.allMet);
  }

  private onSotw(type: TypeShort | 'other', version: string, nonce: string, resources: AnyMsg[]): void {
    const ack = (names: readonly string[]) =>
      this.sendSotw({
        version_info: version,
        response_nonce: nonce,
        type_url: type === 'other' ? '' : TYPE_URLS[type],
        resource_names: names,
      });
    if (type === 'other') {
      ack([]);
      return;
    }
    if (this.mode === 'raw-sotw') {
      ack(this.rawAckNames);
      return;
    }
    this.versions.set(type, version);
    this.nonces.set(type, nonce);
    const values = resources.map((r) => r.value);
    switch (type) {
      case 'cds': {
        const next = this.views.sotwEdsNames(version, values);
        ack([]);
        if (!sameList(next, this.edsNames) || !this.requested.has('eds')) {
          this.edsNames = next;
          if (next.length > 0 || this.requested.has('eds')) this.resubscribeSotw('eds', next);
        }
        if (next.length === 0) this.requestLds();
        return;
      }
      case 'eds':
        ack(this.edsNames);
        this.requestLds();
        return;
      case 'lds': {
        const next = this.views.sotwRouteNames(version, values);
        ack([]);
        if (!sameList(next, this.rdsNames)) {
          this.rdsNames = next;
          this.resubscribeSotw('rds', next);
        }
        return;
      }
      case 'rds':
        ack(this.rdsNames);
        return;
    }
  }

  private resubscribeSotw(type: 'eds' | 'rds', names: string[]): void {
    this.requested.add(type);
    this.sendSotw({
      version_info: this.versions.get(type) ?? '',
      response_nonce: this.nonces.get(type) ?? '',
      type_url: TYPE_URLS[type],
      resource_names: names,
    });
  }

  private requestLds(): void {
    if (this.requested.has('lds')) return;
    this.requested.add('lds');
    if (this.delta) this.sendDelta({ type_url: TYPE_URLS.lds, resource_names_subscribe: [] });
    else this.sendSotw({ type_url: TYPE_URLS.lds, resource_names: [] });
  }

  private onDelta(
    type: TypeShort | 'other',
    nonce: string,
    resources: Array<{ name: string; version: string; resource?: AnyMsg }>,
    removed: string[],
  ): void {
    this.sendDelta({ type_url: type === 'other' ? '' : TYPE_URLS[type], response_nonce: nonce });
    if (this.mode === 'raw-delta' || type === 'other') return;
    switch (type) {
      case 'cds': {
        for (const r of resources)
          this.clusters.set(
            this.views.intern(r.name),
            r.resource ? this.views.deltaCluster(r.name, r.version, r.resource.value).edsName : undefined,
          );
        for (const n of removed) this.clusters.delete(n);
        const want = new Set<string>();
        for (const eds of this.clusters.values()) if (eds) want.add(eds);
        const names = this.views.nameSet([...want].sort());
        this.edsNames = names.list;
        this.edsSubscribed = this.resubscribeDelta('eds', names.set, this.edsSubscribed);
        if (want.size === 0) this.requestLds();
        return;
      }
      case 'eds':
        this.requestLds();
        return;
      case 'lds': {
        for (const r of resources)
          this.listeners.set(r.name, r.resource ? this.views.deltaRouteNames(r.name, r.version, r.resource.value) : []);
        for (const n of removed) this.listeners.delete(n);
        const want = new Set<string>();
        for (const names of this.listeners.values()) for (const n of names) want.add(n);
        const names = this.views.nameSet([...want].sort());
        this.rdsNames = names.list;
        this.rdsSubscribed = this.resubscribeDelta('rds', names.set, this.rdsSubscribed);
        return;
      }
      case 'rds':
        // An on-demand sidecar's route configuration has VHDS: Envoy opens its subscription.
        if (this.mode === 'on-demand' && !this.requested.has('vhds')) {
          this.requested.add('vhds');
          this.sendDelta({ type_url: TYPE_URLS.vhds, resource_names_subscribe: [] });
        }
        return;
      case 'vhds': {
        for (const r of resources) this.vhosts.add(r.name);
        for (const n of removed) this.vhosts.delete(n);
        // The first answer readies the route configuration: now the application's first requests
        // ask for their virtual hosts and clusters (as the on_demand filter does).
        if (!this.called) {
          this.called = true;
          const { vhosts, clusters } = this.callNames();
          if (vhosts.length > 0) {
            this.sendDelta({ type_url: TYPE_URLS.vhds, resource_names_subscribe: vhosts });
            this.sendDelta({ type_url: TYPE_URLS.cds, resource_names_subscribe: clusters });
          }
        }
        return;
      }
    }
  }

  /** resubscribeDelta asks for what `want` adds to `have` and drops what it lacks; returns what is now subscribed. */
  private resubscribeDelta(
    type: 'eds' | 'rds',
    want: ReadonlySet<string>,
    have: ReadonlySet<string>,
  ): ReadonlySet<string> {
    if (want === have) return have;
    const add = [...want].filter((n) => !have.has(n));
    const drop = [...have].filter((n) => !want.has(n));
    if (add.length === 0 && drop.length === 0) return want;
    this.requested.add(type);
    this.sendDelta({ type_url: TYPE_URLS[type], resource_names_subscribe: add, resource_names_unsubscribe: drop });
    return want;
  }

  private checkExpectations(type: TypeShort, received: readonly Received[], ackAt: number): void {
    for (let i = 0; i < this.expecting.length; i++) {
      if (this.metAt[i] !== null) continue;
      const x = this.expecting[i]!;
      if (x.e.type !== type) continue;
      const hit = received.some((r) => {
        if (x.e.name !== undefined) {
          const name = r.name ?? this.views.codec.resourceName(r.value);
          if (name !== x.e.name) return false;
        }
        return x.needle === undefined || r.value.includes(x.needle);
      });
      if (hit) this.metAt[i] = ackAt;
    }
  }

  private decodeAll(type: TypeShort, received: readonly Received[]): void {
    for (const r of received) {
      try {
        this.views.codec.decodeFull(type, r.value);
      } catch (err) {
        if (this.decodeErrors.length < 20)
          this.decodeErrors.push(`${type} ${r.name ?? '?'}: ${(err as Error).message}`);
      }
    }
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
