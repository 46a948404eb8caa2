// One bidi Discover stream to one Polaris address. The server answers every request exactly once
// and in order, so answers are matched to requests first-in first-out; that also covers error
// answers that carry no type or service. Silence while requests are pending fails the stream.
import type { ClientDuplexStream } from '@grpc/grpc-js';
import type { DiscoverRequest, DiscoverResponse } from '../../gen/v1/discover.js';

/** StreamFailure rejects the requests of a failed stream; `reason` is for logs and /readyz. */
export class StreamFailure extends Error {
  constructor(
    readonly address: string,
    readonly reason: string,
  ) {
    super(`polaris ${address}: ${reason}`);
    this.name = 'StreamFailure';
  }
}

interface Pending {
  readonly request: DiscoverRequest;
  readonly resolve: (r: DiscoverResponse) => void;
  readonly reject: (e: Error) => void;
}

export interface StreamEvents {
  /** Called once, on the first answer: the address is known to work. */
  onFirstAnswer(): void;
  /** Called once when the stream fails (error, end, silence, protocol mismatch); not called after close(). */
  onFail(reason: string): void;
}

const SUCCESS = new Set([200000, 200001]);

/** mismatch says why a success answer cannot belong to the request it was matched with, or undefined if it can. */
export function mismatch(req: DiscoverRequest, resp: DiscoverResponse): string | undefined {
  if (!SUCCESS.has(resp.code ?? 0)) return undefined;
  if (resp.type !== 0 && (resp.type as number) !== (req.type as number))
    return `answer of type ${resp.type} to a request of type ${req.type}`;
  const ns = resp.service?.namespace;
  const name = resp.service?.name;
  if (ns !== undefined && ns !== (req.service?.namespace ?? ''))
    return (
      `answer for namespace ${JSON.stringify(ns)} to a request for ` + `${JSON.stringify(req.service?.namespace ?? '')}`
    );
  if (name !== undefined && name !== (req.service?.name ?? ''))
    return `answer for service ${JSON.stringify(name)} to a request for ${JSON.stringify(req.service?.name ?? '')}`;
  return undefined;
}

/** DiscoverStream multiplexes requests over one call and fails as a whole. */
export class DiscoverStream {
  private readonly pending: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private answered = false;

  constructor(
    private readonly address: string,
    private readonly call: ClientDuplexStream<DiscoverRequest, DiscoverResponse>,
    private readonly timeoutMs: number,
    private readonly events: StreamEvents,
  ) {
    call.on('data', (resp: DiscoverResponse) => this.onAnswer(resp));
    call.on('error', (err: Error) => this.fail(err.message || 'stream error'));
    call.on('end', () => this.fail('stream ended by server'));
  }

  /** inFlight is the number of requests waiting for an answer. */
  get inFlight(): number {
    return this.pending.length;
  }

  /** send writes a request; the promise settles with its answer or a StreamFailure. */
  send(request: DiscoverRequest): Promise<DiscoverResponse> {
    if (this.closed) return Promise.reject(new StreamFailure(this.address, 'stream closed'));
    return new Promise((resolve, reject) => {
      this.pending.push({ request, resolve, reject });
      if (this.pending.length === 1) this.arm();
      this.call.write(request);
    });
  }

  /** close ends the stream without reporting a failure; pending requests are rejected. */
  close(): void {
    this.end('stream closed');
  }

  private onAnswer(resp: DiscoverResponse): void {
    if (this.closed) return;
    const p = this.pending.shift();
    if (p === undefined) {
      this.fail('answer without a pending request');
      return;
    }
    const wrong = mismatch(p.request, resp);
    if (wrong !== undefined) {
      this.pending.unshift(p);
      this.fail(`out of order: ${wrong}`);
      return;
    }
    if (!this.answered) {
      this.answered = true;
      this.events.onFirstAnswer();
    }
    if (this.pending.length > 0) this.arm();
    else this.disarm();
    p.resolve(resp);
  }

  private arm(): void {
    this.disarm();
    this.timer = setTimeout(() => this.fail(`no answer within ${this.timeoutMs} ms`), this.timeoutMs);
    this.timer.unref();
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private fail(reason: string): void {
    if (this.end(reason)) this.events.onFail(reason);
  }

  private end(reason: string): boolean {
    if (this.closed) return false;
    this.closed = true;
    this.disarm();
    this.call.cancel();
    const failure = new StreamFailure(this.address, reason);
    for (const p of this.pending.splice(0)) p.reject(failure);
    return true;
  }
}
