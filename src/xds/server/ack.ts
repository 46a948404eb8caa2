// ACK/NACK bookkeeping for one type on one stream: what was sent under which nonce, what the
// client ACKed, its last NACK, and which versions are parked (never re-sent to this stream).
// ACK vs NACK is decided by error_detail alone
// (https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#ack-and-nack-semantics-summary).
import { ByteBoundedCache } from '../byte-bounded-cache.js';

/** NackRecord is the client's last rejection of one type. */
export interface NackRecord {
  readonly version: string;
  readonly nonce: string;
  readonly code: number;
  readonly message: string;
  readonly at: number;
}

/** SentRecord is one response still waiting for its ACK or NACK. */
export interface SentRecord {
  readonly nonce: string;
  /** The content version of the type set the response was built from (what hooks and parking use). */
  readonly version: string;
  /** What the response carried as version_info (SotW: `version`) or system_version_info (Delta: the nonce). */
  readonly wireVersion: string;
  readonly at: number;
  /** Delta: the resources the response carried, for NACK parking (dropped once answered). */
  readonly resources?: ReadonlyArray<{ readonly name: string; readonly version: string }>;
}

/** AckOutcome is what one request told the server about an earlier response. */
export type AckOutcome =
  | { readonly kind: 'ack'; readonly nonce: string; readonly version: string; readonly latencyMs: number }
  | { readonly kind: 'nack'; readonly nack: NackRecord; readonly latencyMs: number };

// Delta may have several responses in flight; the oldest are forgotten past this many.
const MAX_OUTSTANDING = 32;
// Parked resource versions kept per type (Delta); older entries are dropped first.
const MAX_PARKED = 10_000;
// A client's version_info is kept for /debug/syncz only, clipped to this length.
const MAX_VERSION_CHARS = 256;
/** MAX_ERROR_CHARS bounds the stored error_detail message. */
export const MAX_ERROR_CHARS = 1024;

/** AckState is owned by one TypeState; only its stream mutates it. */
export class AckState {
  /** The latest response sent. */
  last?: SentRecord;
  ackedNonce?: string;
  /** The content version of the ACKed response; SotW: the version_info the client ACKed with. */
  ackedVersion?: string;
  /** What the ACKed response carried: SotW the version_info the client ACKed with, Delta its system_version_info. */
  ackedWireVersion?: string;
  ackedAt?: number;
  lastNack?: NackRecord;
  /** SotW: the type version the client rejected; a response with this version is not sent again. */
  parkedVersion?: string;
  // Delta: name → resource version the client rejected; that version is not sent again.
  private readonly parked = new ByteBoundedCache<string, string>({ maxEntries: MAX_PARKED });
  // Responses not answered yet, oldest first.
  private readonly outstanding = new ByteBoundedCache<string, SentRecord>({ maxEntries: MAX_OUTSTANDING });

  /** recordSent notes a response just written. */
  recordSent(rec: SentRecord): void {
    this.last = rec;
    this.outstanding.set(rec.nonce, rec);
  }

  /** parkedVersionOf is the version of `name` the client rejected (Delta), if any. */
  parkedVersionOf(name: string): string | undefined {
    return this.parked.peek(name);
  }

  /** parkedCount is how many resources have a rejected version parked (Delta). */
  get parkedCount(): number {
    return this.parked.size;
  }

  /** pruneParked forgets parked versions of names `keep` rejects. */
  pruneParked(keep: (name: string) => boolean): void {
    for (const n of [...this.parked.keys()]) if (!keep(n)) this.parked.delete(n);
  }

  /** isOutstanding says whether `nonce` names a response of this type still waiting for an answer. */
  isOutstanding(nonce: string): boolean {
    return this.outstanding.has(nonce);
  }

  /**
   * answer records an ACK (no error_detail) or NACK (error_detail present) of the response sent
   * with `nonce`, and forgets it and every older one. Returns undefined for a nonce not in flight.
   * `ackVersion` is the version the client says it applied (SotW `version_info`).
   */
  answer(
    nonce: string,
    errorDetail: { code: number; message: string } | undefined,
    ackVersion: string | undefined,
    now: number,
  ): AckOutcome | undefined {
    const rec = this.outstanding.peek(nonce);
    if (!rec) return undefined;
    for (const k of [...this.outstanding.keys()]) {
      this.outstanding.delete(k);
      if (k === nonce) break;
    }
    const latencyMs = Math.max(0, now - rec.at);
    // Answered: the resource list is not needed any more (it is a stream's whole EDS set at first).
    if (this.last === rec && rec.resources)
      this.last = { nonce: rec.nonce, version: rec.version, wireVersion: rec.wireVersion, at: rec.at };
    if (errorDetail) {
      const nack: NackRecord = {
        version: rec.version,
        nonce,
        code: errorDetail.code,
        message: errorDetail.message.slice(0, MAX_ERROR_CHARS),
        at: now,
      };
      this.lastNack = nack;
      this.parkedVersion = rec.version;
      // The newest rejections are kept; the oldest go first beyond MAX_PARKED.
      for (const { name, version } of rec.resources ?? []) this.parked.set(name, version);
      return { kind: 'nack', nack, latencyMs };
    }
    this.ackedNonce = nonce;
    const told = ackVersion?.slice(0, MAX_VERSION_CHARS);
    this.ackedVersion = told ?? rec.version;
    this.ackedWireVersion = told ?? rec.wireVersion;
    this.ackedAt = now;
    return { kind: 'ack', nonce, version: this.ackedVersion, latencyMs };
  }

  /** settled is true when nothing was sent or the latest response was ACKed. */
  settled(): boolean {
    return this.last === undefined || this.ackedNonce === this.last.nonce;
  }
}
