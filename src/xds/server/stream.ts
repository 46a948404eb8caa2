// One ADS stream, either variant: latches the node and watches its snapshot, checks every request,
// writes due responses in make-before-break order with backpressure, and has one close path.
import type { Node } from '../../gen/envoy/config/core/v3/base.js';
import { ERRORS, errorCode, xdsError, type PolarisXdsError } from '../../errors.js';
import type { Logger } from '../../log.js';
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  isTypeUrl,
  LISTENER_TYPE,
  PUSH_ORDER,
  ROUTE_TYPE,
  VHOST_TYPE,
  type TypeUrl,
} from '../resource.js';
import { lookup, type Snapshot } from '../snapshot.js';
import type { AckOutcome } from './ack.js';
import type { HookRunner, StreamInfo } from './hooks.js';
import { contentKey, type SharedResponses } from './shared-responses.js';
import type { PendingBudget, PendingHolder } from './pending-budget.js';
import type { ResourceSections } from './response.js';
import type { XdsMetrics } from './metrics.js';
import type { XdsLimits } from './options.js';
import { DecodeFailure, type Plan, type Protocol, type StreamMode } from './protocol.js';
import { isoTime, typeStatus, type NodeStatus, type OnDemandStatus } from './status.js';
import type { SharedNames } from './decode.js';
import { TypeState, type TypeSetViews } from './stream-state.js';
import type { Wakeable, WakeIndex } from './wake-index.js';
import { RemovalGuard } from './retain.js';
import { edsNameOf, WarmingGate } from './warming.js';
import type { ConfigWatcher, NodeWatch } from './watcher.js';

const GRPC_OK = 0;
const GRPC_CANCELLED = 1;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_INTERNAL = 13;
// One pump clears at most 4 pending types, one release and 2 more types; this is a safe bound.
const MAX_PUMP_STEPS = 16;
// Type URLs in requests are clipped to this length before they reach a log line or a status.
const MAX_ECHO_CHARS = 200;

/**
 * AdsCall is the part of a grpc-js ServerDuplexStream a stream uses. `emit('error', status)` ends
 * the call with that status once queued writes are flushed; `end()` ends it with OK.
 */
export interface AdsCall {
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's listener type (grpc-js, test doubles)
  on(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's listener type (grpc-js, test doubles)
  once(event: string, listener: (...args: any[]) => void): unknown;
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's listener type (grpc-js, test doubles)
  removeListener(event: string, listener: (...args: any[]) => void): unknown;
  emit(event: string, ...args: unknown[]): boolean;
  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean;
  end(): unknown;
  getPeer?(): string;
  /**
   * abort ends the call at once with RESOURCE_EXHAUSTED, dropping writes not yet flushed (a status
   * sent the ordinary way waits behind them, for ever when the client does not read).
   */
  abort?(details: string): void;
}

/** NameLists is the part of the server's request decoder a stream uses: who holds which shared list. */
export interface NameLists {
  hold(list: SharedNames, holder: number): void;
  release(list: SharedNames, holder: number): void;
}

/** StreamContext is what every stream of a server shares. */
export interface StreamContext {
  readonly watcher: ConfigWatcher;
  readonly logger: Logger;
  readonly metrics: XdsMetrics;
  readonly hooks: HookRunner;
  readonly limits: XdsLimits;
  /** Encoded ControlPlane message added to every response, if an identifier is configured. */
  readonly controlPlane: Buffer | undefined;
  /** Responses encoded once for every stream that is sent the same content. */
  readonly responses: SharedResponses;
  /** Spliced resource sections of shared lists. */
  readonly sections: ResourceSections;
  /** Shared name lists decoded from requests, held by the streams that sent them. */
  readonly nameLists: NameLists;
  /** Views of snapshot type sets shared by every stream (whole lists, diffs). */
  readonly views: TypeSetViews;
  /** Which streams a group's new snapshot concerns. */
  readonly wakes: WakeIndex;
  /** The budget of response bytes written but not yet flushed. */
  readonly budget: PendingBudget;
  /** nextStreamId numbers the server's streams. */
  readonly nextStreamId: () => number;
  readonly now: () => number;
  /** Called once, from the stream's close path. */
  readonly onClosed: (stream: { readonly id: number }) => void;
}

/**
 * How a stream ended: a status the server sends (with `abort`, at once, dropping unflushed
 * writes), the client's cancel, or the client's half-close.
 */
export type StreamEnd =
  | { readonly code: number; readonly details: string; readonly errorCode?: string; readonly abort?: boolean }
  | 'cancelled'
  | 'half-close';

/** AdsStream serves one ADS call; it is driven by call events and snapshot changes only. */
export class AdsStream<Req> implements PendingHolder, Wakeable {
  readonly id: number;
  readonly mode: StreamMode;
  readonly openedAt: number;
  readonly peer: string;
  private node?: Node;
  private watch?: NodeWatch;
  private snapshot?: Snapshot;
  private readonly types = new Map<TypeUrl, TypeState>();
  private nonce = 0;
  private inFlight = 0;
  // Sizes and times of the writes not yet flushed, oldest first (grpc-js flushes them in order).
  private readonly unflushed: Array<{ readonly bytes: number; readonly at: number }> = [];
  private unflushedBytes = 0;
  // Fires when the oldest unflushed write has waited maxStallMs: the client has stopped reading.
  private stallTimer?: NodeJS.Timeout;
  // The shared name list this stream's latest request of each type carried.
  private readonly heldLists = new Map<string, SharedNames>();
  private awaitingDrain = false;
  // Over the server's pending-bytes total: waiting for other streams' flushes (PendingBudget.waitFor).
  private awaitingBudget = false;
  private closed = false;
  private readonly guard: RemovalGuard;
  private readonly gate: WarmingGate;
  private log: Logger;
  private readonly counters = {
    requests: 0,
    responses: 0,
    bytesSent: 0,
    acks: 0,
    nacks: 0,
    expiredNonces: 0,
    resendsSuppressed: 0,
    writesBlocked: 0,
  };
  // biome-ignore lint/suspicious/noExplicitAny: EventEmitter's listener type (grpc-js, test doubles)
  private readonly listeners: ReadonlyArray<readonly [string, (...args: any[]) => void]>;

  constructor(
    private readonly call: AdsCall,
    private readonly protocol: Protocol<Req>,
    private readonly ctx: StreamContext,
  ) {
    this.id = ctx.nextStreamId();
    this.mode = protocol.mode;
    this.openedAt = ctx.now();
    this.peer = safePeer(call);
    this.log = ctx.logger.child({ stream: this.id, mode: this.mode });
    this.guard = new RemovalGuard(this.types, ctx.limits.retainRemovedMs, () => {
      this.log.info('listeners/routes not ACKed in time; removed clusters are released anyway');
      this.pump();
    });
    this.gate = new WarmingGate(this.types, ctx.limits.retainRemovedMs, () => {
      this.log.info('endpoints of new clusters not asked for in time; listeners and routes are sent anyway');
      this.pump();
    });
    this.listeners = [
      ['data', (msg: Req | DecodeFailure) => this.onData(msg)],
      ['end', () => this.close('half-close')],
      ['cancelled', () => this.close('cancelled')],
      ['close', () => this.close('cancelled')],
      [
        'error',
        (err: unknown) =>
          this.close({ code: GRPC_INTERNAL, details: `stream error: ${String((err as Error)?.message ?? err)}` }),
      ],
    ];
  }

  /** start attaches the stream to its call. */
  start(): void {
    for (const [event, fn] of this.listeners) this.call.on(event, fn);
    this.ctx.metrics.streamOpened(this.mode);
    this.ctx.hooks.fire('onStreamOpen', this.info());
    this.log.debug({ peer: this.peer }, 'ADS stream opened');
  }

  /** isClosed is true once the stream went through close(). */
  get isClosed(): boolean {
    return this.closed;
  }

  /** pendingBytes is what this stream has written and its client not yet read. */
  get pendingBytes(): number {
    return this.unflushedBytes;
  }

  get oldestPendingAt(): number {
    return this.unflushed[0]?.at ?? Infinity;
  }

  /** nodeId is the latched node's id, or undefined before the first request. */
  get nodeId(): string | undefined {
    return this.node?.id;
  }

  /**
   * close is the one way a stream ends: it detaches from the call, closes the watch, stops the
   * removal guard's timer, ends the call (unless the client cancelled it) and fires
   * onStreamClosed. Idempotent.
   */
  close(end: StreamEnd): void {
    if (this.closed) return;
    this.closed = true;
    for (const [event, fn] of this.listeners) this.call.removeListener(event, fn);
    this.call.removeListener('drain', this.onDrain);
    this.ctx.wakes.drop(this);
    this.guard.close();
    this.gate.close();
    try {
      this.watch?.close();
    } catch (err) {
      this.log.warn({ err }, 'closing the node watch failed');
    }
    this.watch = undefined;
    clearTimeout(this.stallTimer);
    this.ctx.budget.forget(this, this.unflushedBytes);
    for (const names of this.heldLists.values()) this.ctx.nameLists.release(names, this.id);
    this.heldLists.clear();
    this.ctx.metrics.streamClosed(this.mode);
    this.ctx.onClosed(this);
    let code = GRPC_OK;
    let details = 'OK';
    if (end === 'cancelled') {
      code = GRPC_CANCELLED;
      details = 'cancelled by the client';
    } else if (end === 'half-close') {
      details = 'client closed its side';
      this.call.end();
    } else {
      code = end.code;
      details = end.details;
      if (end.errorCode) this.ctx.metrics.streamError(end.errorCode);
      // grpc-js turns an 'error' event carrying { code, details } into the call's status.
      if (code === GRPC_OK) this.call.end();
      else if (end.abort && this.call.abort) this.call.abort(details);
      else this.call.emit('error', { code, details });
    }
    this.log.debug({ code, details }, 'ADS stream closed');
    this.ctx.hooks.fire('onStreamClosed', { ...this.info(), code, details });
  }

  /** status describes the stream for /debug/syncz. */
  status(): NodeStatus {
    const types: Record<string, ReturnType<typeof typeStatus>> = {};
    for (const type of PUSH_ORDER) {
      const t = this.types.get(type);
      if (t) types[type] = typeStatus(t);
    }
    return {
      streamId: this.id,
      nodeId: this.node?.id ?? '',
      cluster: this.node?.cluster ?? '',
      mode: this.mode,
      peer: this.peer,
      connectedSince: isoTime(this.openedAt)!,
      blocked: this.isBlocked(),
      types,
      counters: { ...this.counters },
      ...this.onDemandStatus(),
    };
  }

  private onDemandStatus(): { onDemand?: OnDemandStatus } {
    const vhosts = this.types.get(VHOST_TYPE);
    if (!vhosts || vhosts.requests === 0) return {};
    return { onDemand: { virtualHosts: vhosts.heldCount(), clusters: this.types.get(CLUSTER_TYPE)?.heldCount() ?? 0 } };
  }

  private info(): StreamInfo {
    return { streamId: this.id, mode: this.mode, peer: this.peer, nodeId: this.node?.id };
  }

  private onData(msg: Req | DecodeFailure): void {
    if (this.closed) return;
    try {
      this.handle(msg);
    } catch (err) {
      this.fail(err);
    }
  }

  /** fail ends the stream with the status of a catalogue error, or INTERNAL for anything else. */
  private fail(err: unknown): void {
    const code = errorCode(err);
    const status = code ? ERRORS[code].grpcStatus : 0;
    if (code && status) {
      this.log.warn({ code, err: (err as Error).message }, 'ending ADS stream');
      this.close({ code: status, details: `${code}: ${(err as Error).message}`, errorCode: code });
      return;
    }
    this.log.error({ err }, 'ADS stream failed');
    const internal = xdsError('PXDS_ERR_XDS_INTERNAL', err instanceof Error ? err.message : String(err));
    this.close({ code: GRPC_INTERNAL, details: `${internal.code}: ${internal.message}`, errorCode: internal.code });
  }

  private handle(msg: Req | DecodeFailure): void {
    if (msg instanceof DecodeFailure) throw msg.error ?? xdsError('PXDS_ERR_XDS_BAD_REQUEST', msg.reason);
    const limit = this.ctx.limits.maxResourceNames;
    const head = this.protocol.head(msg);
    if (head.shared) this.holdList(head.typeUrl.slice(0, MAX_ECHO_CHARS), head.shared);
    // Every ADS request names its type; go-control-plane answers InvalidArgument too.
    if (head.typeUrl === '') throw xdsError('PXDS_ERR_XDS_NO_TYPE_URL');
    if (!isTypeUrl(head.typeUrl)) throw xdsError('PXDS_ERR_XDS_UNKNOWN_TYPE', head.typeUrl.slice(0, MAX_ECHO_CHARS));
    if (head.longestList > limit) throw xdsError('PXDS_ERR_XDS_TOO_MANY_NAMES', head.longestList, limit);
    if (head.longestName > this.ctx.limits.maxNameLength) {
      throw xdsError(
        'PXDS_ERR_XDS_BAD_REQUEST',
        `a resource name has ${head.longestName} characters; at most ${this.ctx.limits.maxNameLength} are allowed`,
      );
    }
    // Only the first request is sure to carry the node; it is latched for the stream's life
    // (xds_protocol "Basic Protocol Overview").
    if (!this.node) this.latch(head.node);
    const now = this.ctx.now();
    let t = this.types.get(head.typeUrl);
    if (!t) {
      t = new TypeState(head.typeUrl, this.ctx.views);
      this.types.set(head.typeUrl, t);
    }
    this.counters.requests++;
    this.ctx.metrics.request(t.typeUrl, this.mode);
    if (this.ctx.hooks.has('onRequest')) {
      this.ctx.hooks.fire('onRequest', { ...this.info(), typeUrl: t.typeUrl, request: this.protocol.message(msg) });
    }
    const outcome = this.protocol.onRequest(t, msg, now);
    if (t.subscribedNames.size > limit) throw xdsError('PXDS_ERR_XDS_TOO_MANY_NAMES', t.subscribedNames.size, limit);
    this.ctx.wakes.follow(this, t.typeUrl, t.wildcardCovers, t.subscribedNames);
    if (outcome.stale) {
      this.counters.expiredNonces++;
      this.ctx.metrics.expiredNonce(this.mode);
    }
    if (outcome.answer) this.noteAnswer(t, outcome.answer);
    if (outcome.due) t.markPending(now);
    this.pump();
  }

  /** holdList records that this stream uses `list` for `typeUrl`, and lets go of the list it used before. */
  private holdList(typeUrl: string, list: SharedNames): void {
    const prev = this.heldLists.get(typeUrl);
    if (prev === list) return;
    this.ctx.nameLists.hold(list, this.id);
    this.heldLists.set(typeUrl, list);
    if (prev) this.ctx.nameLists.release(prev, this.id);
  }

  private latch(node: Node | undefined): void {
    if (!node) throw xdsError('PXDS_ERR_XDS_NO_NODE');
    this.node = node;
    this.log = this.log.child({ node: node.id });
    const watch = this.ctx.watcher.watch(node, { incremental: this.mode === 'delta' });
    this.watch = watch;
    this.snapshot = watch.current();
    this.ctx.wakes.track(this, watch.feed, this.mode !== 'delta');
  }

  private noteAnswer(t: TypeState, a: AckOutcome): void {
    if (a.kind === 'ack') {
      this.counters.acks++;
      this.ctx.metrics.answered(t.typeUrl, this.mode, false, a.latencyMs / 1000);
      if (this.ctx.hooks.has('onAck'))
        this.ctx.hooks.fire('onAck', {
          ...this.info(),
          typeUrl: t.typeUrl,
          nonce: a.nonce,
          version: a.version,
          latencyMs: a.latencyMs,
        });
      return;
    }
    const n = a.nack;
    this.counters.nacks++;
    this.ctx.metrics.answered(t.typeUrl, this.mode, true, a.latencyMs / 1000);
    this.log.warn(
      { typeUrl: t.typeUrl, version: n.version, nonce: n.nonce, code: n.code, errorDetail: n.message },
      'client rejected a response (NACK); that version is parked',
    );
    if (this.ctx.hooks.has('onNack'))
      this.ctx.hooks.fire('onNack', {
        ...this.info(),
        typeUrl: t.typeUrl,
        nonce: n.nonce,
        version: n.version,
        code: n.code,
        message: n.message,
      });
  }

  /** wake is the index's call: the group's snapshot changed in a way that may concern this stream. */
  wake(): void {
    if (this.closed) return;
    try {
      this.pump();
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * catchUp moves the stream to its group's current snapshot, if it has not seen it yet (the index
   * wakes a stream only for changes that concern it; any other reason to act comes here first).
   * Types whose version changed and, for a Delta client that names a few resources, that touch one
   * of them are marked pending, after the removal guard has seen the move.
   */
  private catchUp(): void {
    const next = this.watch?.current();
    const prev = this.snapshot;
    if (!next || next === prev) return;
    this.snapshot = next;
    let touched: TypeState[] | undefined;
    for (const t of this.types.values()) if (this.touches(t, prev, next)) (touched ??= []).push(t);
    if (!touched) return;
    if (prev) this.guard.hold(prev, next);
    const now = this.ctx.now();
    for (const t of touched) t.markPending(now);
  }

  /** touches says whether moving from `prev` to `next` may make a response of type `t` due. */
  private touches(t: TypeState, prev: Snapshot | undefined, next: Snapshot): boolean {
    if (t.requests === 0) return false;
    const before = prev?.resources[t.typeUrl];
    const after = next.resources[t.typeUrl];
    if (!before) return true;
    if (before.version === after.version) return false;
    return this.mode !== 'delta' || t.touchedBy(before, after);
  }

  private isBlocked(): boolean {
    return this.awaitingDrain || this.awaitingBudget || this.inFlight >= this.ctx.limits.maxInFlightResponses;
  }

  /**
   * pump writes due responses in PUSH_ORDER (CDS → EDS → LDS → RDS), computing each from the latest
   * snapshot at the moment it can be written: a slow stream gets the latest state once, not every
   * intermediate one (invariant 8), and holds at most a pending flag per type.
   */
  private pump(): void {
    if (this.closed) return;
    this.catchUp();
    if (!this.snapshot) return;
    for (let step = 0; step < MAX_PUMP_STEPS; step++) {
      if (this.isBlocked()) return;
      const t = this.nextPending();
      if (!t) {
        if (this.guard.releaseIfSettled(this.ctx.now())) continue;
        return;
      }
      t.takePending();
      const plan = this.protocol.plan(t, this.snapshot.resources[t.typeUrl]);
      if (plan === 'parked') {
        this.counters.resendsSuppressed++;
        this.ctx.metrics.resendSuppressed(t.typeUrl, this.mode);
      } else if (plan) {
        this.send(t, plan);
      }
    }
    setImmediate(() => this.pump());
  }

  /** nextPending is the first pending type in PUSH_ORDER; listeners and routes only once the warming gate is open. */
  private nextPending(): TypeState | undefined {
    for (const type of PUSH_ORDER) {
      const t = this.types.get(type);
      if (!t?.pending) continue;
      if ((type === LISTENER_TYPE || type === ROUTE_TYPE) && !this.gate.open(this.snapshot!)) return undefined;
      return t;
    }
    return undefined;
  }

  private send(t: TypeState, plan: Plan): void {
    const cp = this.ctx.controlPlane;
    const sections = this.ctx.sections;
    const shared = this.ctx.responses.get(
      contentKey(this.mode, plan),
      (n) => this.protocol.encode(plan, n, cp, sections),
      plan.removed.length > 0,
    );
    const now = this.ctx.now();
    // Checked before the content is claimed, so a write that waits is sent the shared bytes later.
    const admitted = this.admit(shared.bytes.length, now);
    if (admitted === 'wait') {
      t.keepPending();
      this.awaitingBudget = true;
      this.ctx.budget.waitFor(this, this.onBudget);
      return;
    }
    if (admitted === 'ended') return;
    let nonce: string;
    let bytes: Buffer;
    if (t.claimContent(shared.id)) {
      nonce = shared.nonce;
      bytes = shared.bytes;
    } else {
      // This stream was sent this content (or a later one) before: a nonce of its own keeps nonces new.
      nonce = `s${++this.nonce}`;
      bytes = this.protocol.encode(plan, nonce, cp, sections);
    }
    plan.commit(nonce, now);
    t.countResponse(plan.resources.length, plan.removed.length);
    this.counters.responses++;
    this.counters.bytesSent += bytes.length;
    this.ctx.metrics.pushed(t.typeUrl, this.mode, bytes.length, Math.max(0, now - t.pendingSince) / 1000);
    if (t.typeUrl === CLUSTER_TYPE) {
      if (plan.updated.length > 0) this.refreshEndpoints(plan, now);
      this.gate.clustersSent(plan.added);
    }
    if (this.ctx.hooks.has('onResponse')) {
      this.ctx.hooks.fire('onResponse', {
        ...this.info(),
        typeUrl: t.typeUrl,
        nonce,
        version: plan.version,
        resources: plan.resources.map((r) => r.name),
        removed: plan.removed,
        bytes: bytes.length,
      });
    }
    this.inFlight++;
    this.unflushed.push({ bytes: bytes.length, at: now });
    if (!this.stallTimer) this.armStallTimer(now);
    this.unflushedBytes += bytes.length;
    this.ctx.budget.add(this, bytes.length);
    if (!this.call.write(bytes, this.onWritten)) {
      this.awaitingDrain = true;
      this.counters.writesBlocked++;
      this.call.once('drain', this.onDrain);
    }
  }

  /** refreshEndpoints queues the endpoints of updated clusters again, so their warming completes. */
  private refreshEndpoints(plan: Plan, now: number): void {
    const e = this.types.get(ENDPOINT_TYPE);
    if (!e || !this.snapshot) return;
    const clusters = this.snapshot.resources[CLUSTER_TYPE];
    for (const name of plan.updated) {
      const cluster = lookup(clusters, name);
      if (!cluster) continue;
      const eds = edsNameOf(cluster);
      if (eds !== undefined && e.holds(eds) && e.inScope(eds)) {
        e.force(eds);
        e.markPending(now);
      }
    }
  }

  /**
   * admit checks the pending-bytes budget before `bytes` more are written: the streams it names
   * (this one when over its own share, else those that have not read for a while) end with
   * RESOURCE_EXHAUSTED. It says whether this stream may write, must wait for flushes, or ended.
   */
  private admit(bytes: number, now: number): 'write' | 'wait' | 'ended' {
    const verdict = this.ctx.budget.overBudget(this, bytes, now);
    for (const { holder, limit } of verdict.end) {
      const stream = holder as AdsStream<unknown>;
      const budget = limit === 'stream' ? this.ctx.budget.maxPerStream : this.ctx.budget.maxTotal;
      stream.exhaust(
        limit,
        xdsError(
          'PXDS_ERR_XDS_PENDING_BUDGET',
          stream.unflushedBytes,
          limit === 'stream' ? 'per-stream' : 'total',
          budget,
        ),
        now,
      );
    }
    if (this.closed) return 'ended';
    return verdict.wait ? 'wait' : 'write';
  }

  /**
   * exhaust ends a stream whose client is not reading: at once, dropping its unflushed writes; counted and logged once.
   */
  private exhaust(limit: 'stream' | 'total' | 'stalled', err: PolarisXdsError, now: number): void {
    if (this.closed) return;
    this.ctx.metrics.streamExhausted(limit);
    this.log.warn(
      { code: err.code, unflushedBytes: this.unflushedBytes, oldestUnflushedMs: now - this.oldestPendingAt, limit },
      'client is not reading its responses; ending the stream',
    );
    this.close({
      code: GRPC_RESOURCE_EXHAUSTED,
      details: `${err.code}: ${err.message}`,
      errorCode: err.code,
      abort: true,
    });
  }

  /**
   * armStallTimer starts the timer for the oldest unflushed write, if stalls are limited. Flushes
   * leave it running (a timer per write would cost more than the writes): when it fires, it ends
   * the stream or waits on for whichever write is oldest then.
   */
  private armStallTimer(now: number): void {
    const stallMs = this.ctx.limits.maxStallMs;
    const oldest = this.unflushed[0];
    if (!oldest || stallMs <= 0 || this.closed) return;
    this.stallTimer = setTimeout(
      () => {
        this.stallTimer = undefined;
        const at = this.ctx.now();
        const waited = at - this.oldestPendingAt;
        if (waited >= stallMs)
          this.exhaust('stalled', xdsError('PXDS_ERR_XDS_CLIENT_STALLED', waited, this.unflushedBytes), at);
        else this.armStallTimer(at);
      },
      Math.max(0, oldest.at + stallMs - now),
    );
    this.stallTimer.unref?.();
  }

  private readonly onWritten = (): void => {
    this.inFlight--;
    if (this.closed) return;
    const w = this.unflushed.shift();
    if (w) {
      this.unflushedBytes -= w.bytes;
      this.ctx.budget.flushed(this, w.bytes);
    }
    this.pump();
  };

  private readonly onBudget = (): void => {
    this.awaitingBudget = false;
    if (!this.closed) this.pump();
  };

  private readonly onDrain = (): void => {
    this.awaitingDrain = false;
    if (!this.closed) this.pump();
  };
}

function safePeer(call: AdsCall): string {
  try {
    return call.getPeer?.() ?? 'unknown';
  } catch {
    return 'unknown';
  }
}
