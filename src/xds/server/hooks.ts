// Lifecycle hooks: a small typed set, called on a later tick so a throwing hook can never break
// a stream (the error is logged and dropped).
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';
import type { Logger } from '../../log.js';
import type { TypeUrl } from '../resource.js';
import type { StreamMode } from './protocol.js';

/** StreamInfo identifies a stream in every hook. `nodeId` is undefined before the first request. */
export interface StreamInfo {
  readonly streamId: number;
  readonly mode: StreamMode;
  readonly peer: string;
  readonly nodeId: string | undefined;
}

/** XdsHooks are optional observers of the server; none of them can change what it does. */
export interface XdsHooks {
  onStreamOpen?(info: StreamInfo): void;
  /** Called once per stream, whatever ended it; `code` is the gRPC status (1 = CANCELLED by the client). */
  onStreamClosed?(info: StreamInfo & { readonly code: number; readonly details: string }): void;
  /** Called for each well-formed request, before it is acted on. */
  onRequest?(
    info: StreamInfo & { readonly typeUrl: TypeUrl; readonly request: DiscoveryRequest | DeltaDiscoveryRequest },
  ): void;
  onResponse?(
    info: StreamInfo & {
      readonly typeUrl: TypeUrl;
      readonly nonce: string;
      readonly version: string;
      readonly resources: readonly string[];
      readonly removed: readonly string[];
      readonly bytes: number;
    },
  ): void;
  onAck?(
    info: StreamInfo & {
      readonly typeUrl: TypeUrl;
      readonly nonce: string;
      readonly version: string;
      readonly latencyMs: number;
    },
  ): void;
  onNack?(
    info: StreamInfo & {
      readonly typeUrl: TypeUrl;
      readonly nonce: string;
      readonly version: string;
      readonly code: number;
      readonly message: string;
    },
  ): void;
}

type HookArg<K extends keyof XdsHooks> = Parameters<NonNullable<XdsHooks[K]>>[0];

/** HookRunner calls hooks on a later tick and contains their errors. */
export class HookRunner {
  // Calls due on the next tick, as (name, arg) pairs: an ACK storm across thousands of streams
  // schedules one tick, not a closure and a tick per hook call.
  private readonly queue: unknown[] = [];

  constructor(
    private readonly hooks: XdsHooks | undefined,
    private readonly logger: Logger,
  ) {}

  /** has says whether a hook is set, so callers can skip building its argument. */
  has(name: keyof XdsHooks): boolean {
    return typeof this.hooks?.[name] === 'function';
  }

  /** fire schedules hook `name` with `arg` on a later tick; hooks run in the order they were fired. */
  fire<K extends keyof XdsHooks>(name: K, arg: HookArg<K>): void {
    if (!this.has(name)) return;
    if (this.queue.push(name, arg) === 2) process.nextTick(this.run);
  }

  private readonly run = (): void => {
    const hooks = this.hooks!;
    const queue = this.queue;
    // A hook that fires another (through the server) lands behind this batch, in the same loop.
    for (let i = 0; i < queue.length; i += 2) {
      const name = queue[i] as keyof XdsHooks;
      try {
        (hooks[name] as (a: unknown) => void).call(hooks, queue[i + 1]);
      } catch (err) {
        this.logger.warn({ err, hook: name }, 'xDS hook threw; ignored');
      }
    }
    queue.length = 0;
  };
}
