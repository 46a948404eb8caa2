// The seam between the stream (lifecycle, ordering, writing) and the two protocol variants
// (sotw.ts, delta.ts). Each variant is a set of functions over a TypeState (stream-state.ts); the stream never
// looks inside a request or a response beyond RequestHead.
import { errorCode, type PolarisXdsError } from '../../errors.js';
import type { Node } from '../../gen/envoy/config/core/v3/base.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';
import type { TypeUrl } from '../resource.js';
import type { EncodedResource, TypeResources } from '../snapshot.js';
import type { AckOutcome } from './ack.js';
import type { ResourceSections } from './response.js';
import type { SharedNames } from './decode.js';
import type { TypeState } from './stream-state.js';

/** StreamMode names the protocol variant of a stream. */
export type StreamMode = 'sotw' | 'delta';

/** RequestHead is what the stream checks on every request before the variant sees it. */
export interface RequestHead {
  readonly typeUrl: string;
  readonly node: Node | undefined;
  /** The longest name list in the request (names, locators, initial versions), for the name limit. */
  readonly longestList: number;
  /** The longest name (or Delta initial version) in the request, in characters. */
  readonly longestName: number;
  /** A SotW request's shared names list, which the stream holds while it is its latest of the type. */
  readonly shared?: SharedNames;
}

/** RequestOutcome is what a request did to its type. */
export interface RequestOutcome {
  /** The ACK or NACK the request carried, if its nonce named a response in flight. */
  readonly answer?: AckOutcome;
  /** The request carried a nonce that names no response in flight. */
  readonly stale: boolean;
  /** A response may now be due. */
  readonly due: boolean;
}

/** Plan is one response, computed from the latest snapshot just before it is written. */
export interface Plan {
  readonly typeUrl: TypeUrl;
  /** The type set's content version: SotW's version_info (Delta sends the nonce as system_version_info). */
  readonly version: string;
  readonly resources: readonly EncodedResource[];
  /** `resources` is one array shared by every stream seeing the same type set: its bytes are cached. */
  readonly shared?: boolean;
  /** Delta removed_resources; always empty in SotW. */
  readonly removed: readonly string[];
  /** Resources the client held at another version (clusters whose endpoints must follow). */
  readonly updated: readonly string[];
  /** Resources the client did not hold before this response (new clusters whose endpoints routes wait for). */
  readonly added: readonly EncodedResource[];
  /** commit records in the type state that the client was sent this response under `nonce`. */
  commit(nonce: string, now: number): void;
}

/** Protocol is one variant: how requests change a type's state and which response is due. */
export interface Protocol<Req> {
  readonly mode: StreamMode;
  /** message is the request as decoded, for hooks. */
  message(req: Req): DiscoveryRequest | DeltaDiscoveryRequest;
  /** head summarizes a request. */
  head(req: Req): RequestHead;
  /** onRequest applies one validated request (subscription, ACK/NACK) to its type's state. */
  onRequest(t: TypeState, req: Req, now: number): RequestOutcome;
  /**
   * plan computes the response due for `t` against `resources`: a Plan, undefined when nothing is
   * due, or 'parked' when the only response due is one the client rejected before (not re-sent).
   * It is the one function used both when a request arrives and when a snapshot lands.
   */
  plan(t: TypeState, resources: TypeResources): Plan | 'parked' | undefined;
  /** encode splices the response bytes; `sections` keeps spliced sections of shared lists. */
  encode(plan: Plan, nonce: string, controlPlane: Buffer | undefined, sections?: ResourceSections): Buffer;
}

/** longest is the length of the longest string in `lists`. */
export function longest(...lists: ReadonlyArray<Iterable<string>>): number {
  let max = 0;
  for (const list of lists) for (const s of list) if (s.length > max) max = s.length;
  return max;
}

/**
 * DecodeFailure stands in for a request whose bytes did not decode. The request deserializer
 * returns it instead of throwing, so the stream ends with our own status rather than grpc-js's.
 */
export class DecodeFailure {
  /** `error` is the catalogue error when the decoder refused the request for a limit. */
  constructor(
    readonly reason: string,
    readonly error?: PolarisXdsError,
  ) {}
}

/** decodeOrFailure wraps a decoder so a decoding error becomes a DecodeFailure value. */
export function decodeOrFailure<T>(decode: (bytes: Buffer) => T): (bytes: Buffer) => T | DecodeFailure {
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (err) {
      return new DecodeFailure(
        err instanceof Error ? err.message : String(err),
        errorCode(err) ? (err as PolarisXdsError) : undefined,
      );
    }
  };
}
