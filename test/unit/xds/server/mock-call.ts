// A mock grpc-js server call for driving streams without a network: requests go through the real
// request deserializers, every response is decoded with proto-loader and checked for protocol
// invariants, and the test controls write() results, flushing and 'drain'.
import { EventEmitter } from 'node:events';
import { adsServiceDefinition } from '../../../../src/xds/server/ads.js';
import { RequestDecoder } from '../../../../src/xds/server/decode.js';
import { DEFAULT_LIMITS } from '../../../../src/xds/server/options.js';
import type { AdsCall } from '../../../../src/xds/server/stream.js';
import {
  decodeDelta,
  decodeSotw,
  encodeDeltaRequest,
  encodeSotwRequest,
  ResponseChecker,
  type DeltaRequestInit,
  type DeltaResponse,
  type SotwRequestInit,
  type SotwResponse,
} from '../../../support/ads-client.js';

export const MOCK_NODE = { id: 'mock-node', cluster: 'mock' };

/** MockCall stands in for a ServerDuplexStream. */
export class MockCall<R extends SotwResponse | DeltaResponse = SotwResponse | DeltaResponse>
  extends EventEmitter
  implements AdsCall
{
  /** Responses written, decoded, in order. */
  readonly responses: R[] = [];
  readonly violations: string[] = [];
  /** The status the stream ended with: set by emit('error', status) or end(). */
  status?: { code: number; details: string };
  /** What write() returns; false makes the stream wait for 'drain'. */
  writable = true;
  /** When false, write callbacks wait for flush(): the client is not reading. */
  autoFlush = true;
  private unflushed: Array<() => void> = [];
  private readonly checker: ResponseChecker<R>;
  private nodeSent = false;

  /** aborted is set when the stream ended the call at once (abort), dropping unflushed writes. */
  aborted = false;
  private readonly definition: ReturnType<typeof adsServiceDefinition>;

  /** `decoder` is the server's (createAdsHandlers' `decoder`); a private one with the default limits when absent. */
  constructor(
    readonly mode: 'sotw' | 'delta',
    decoder: RequestDecoder = new RequestDecoder(DEFAULT_LIMITS),
  ) {
    super();
    this.definition = adsServiceDefinition(decoder);
    this.checker = new ResponseChecker<R>(
      (mode === 'sotw' ? decodeSotw : decodeDelta) as (b: Buffer) => { response: R; violations: string[] },
      this.violations,
    );
    // grpc-js's own listener: an 'error' event becomes the call's status.
    this.on('error', (s: { code: number; details: string }) => {
      this.status ??= { code: s.code, details: s.details };
    });
  }

  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean {
    const r = this.checker.check(chunk);
    if (r) this.responses.push(r);
    if (this.autoFlush) setImmediate(() => cb());
    else this.unflushed.push(() => cb());
    return this.writable;
  }

  end(): void {
    this.status ??= { code: 0, details: 'OK' };
  }

  abort(details: string): void {
    this.aborted = true;
    this.unflushed = [];
    this.status ??= { code: 8, details };
  }

  getPeer(): string {
    return 'mock:0';
  }

  /** unflushedCount is how many written responses the "client" has not read. */
  get unflushedCount(): number {
    return this.unflushed.length;
  }

  /** flush completes every pending write. */
  flush(): void {
    const cbs = this.unflushed;
    this.unflushed = [];
    for (const cb of cbs) cb();
  }

  /** drain makes write() succeed again and emits 'drain'. */
  drain(): void {
    this.writable = true;
    this.emit('drain');
  }

  /** raw delivers bytes through the real request deserializer. */
  raw(bytes: Buffer): void {
    const method =
      this.mode === 'sotw' ? this.definition.StreamAggregatedResources : this.definition.DeltaAggregatedResources;
    this.emit('data', method.requestDeserialize(bytes));
  }

  /** sotw sends a DiscoveryRequest; the first carries MOCK_NODE unless `node` is given (null: none). */
  sotw(req: SotwRequestInit): void {
    this.raw(encodeSotwRequest({ ...req, node: this.pickNode(req.node) }));
  }

  /** delta sends a DeltaDiscoveryRequest; the first carries MOCK_NODE unless `node` is given (null: none). */
  delta(req: DeltaRequestInit): void {
    this.raw(encodeDeltaRequest({ ...req, node: this.pickNode(req.node) }));
  }

  /** cancel is the client going away. */
  cancel(): void {
    this.emit('cancelled', 'cancelled');
  }

  private pickNode(node: SotwRequestInit['node']): SotwRequestInit['node'] {
    if (node !== undefined) return node;
    if (this.nodeSent) return null;
    this.nodeSent = true;
    return MOCK_NODE;
  }
}

/** tick waits for queued callbacks (setImmediate) and hooks (nextTick) to run. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));
