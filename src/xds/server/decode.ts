// Request decoding, owned by one server. Before anything a client sent is decoded into strings or
// kept, the request's name lists are counted by walking tags and lengths: a request over the
// name-count limit is refused without decoding its names (grpc-js has already refused one over
// the message-size limit). Envoy's SotW EDS requests name every cluster it knows, and every ACK
// repeats the list: thousands of names per request, the same on every sidecar of a group. So a
// large names section that passed every limit is decoded once per distinct content and handed
// out as one SharedNames: an ACK costs a byte comparison (or a digest), and a stream tells an
// unchanged list by that object. Kept lists are bounded by bytes and held by the streams that use
// them; a list no open stream holds is dropped when its last holder closes. Field numbers:
// envoy/service/discovery/v3/discovery.proto.
import { createHash } from 'node:crypto';
import { xdsError } from '../../errors.js';
import { DeltaDiscoveryRequest, DiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';
import { ByteBoundedCache } from '../byte-bounded-cache.js';
import { longest } from './protocol.js';

// DiscoveryRequest: resource_names 3, resource_locators 7.
const SOTW_NAMES = 3;
const SOTW_LISTS = [3, 7] as const;
// DeltaDiscoveryRequest: resource_names_subscribe 3, _unsubscribe 4, initial_resource_versions 5,
// resource_locators_subscribe 8, _unsubscribe 9.
const DELTA_LISTS = [3, 4, 5, 8, 9] as const;
// Below this many bytes decoding is cheaper than counting first or digesting, and a request this
// small cannot carry enough names to matter.
const MIN_CHECKED_BYTES = 2048;
// What a kept list costs besides its bytes: a string header and an array slot per name.
const PER_NAME_BYTES = 32;

/** DecodeLimits are the limits a request must pass before its names are decoded or kept. */
export interface DecodeLimits {
  readonly maxResourceNames: number;
  readonly maxNameLength: number;
  /** Most bytes of decoded name lists kept for reuse. */
  readonly maxNameListCacheBytes: number;
}

/**
 * SharedNames is a SotW names list that passed every limit, decoded once and shared by every
 * request that carried the same bytes, with its longest name measured once. Streams hold it while
 * it is their latest list of a type (RequestDecoder.hold / release); it is never modified.
 */
export class SharedNames {
  /** Ids of the open streams whose latest request of some type carried this list. */
  readonly holders = new Set<number>();

  constructor(
    readonly key: string,
    /** A copy of the names section, for the byte comparison that stands in for a digest. */
    readonly bytes: Buffer,
    readonly names: readonly string[],
    readonly longest: number,
  ) {}
}

/** SotwRequest is a decoded DiscoveryRequest and, when its names list is kept, that list as SharedNames. */
export interface SotwRequest {
  readonly request: DiscoveryRequest;
  readonly shared?: SharedNames;
}

/** RequestDecoder decodes one server's requests and owns its cache of shared name lists. */
export class RequestDecoder {
  private readonly lists: ByteBoundedCache<string, SharedNames>;
  // The latest kept list of each byte length: in an ACK storm most requests repeat one of them.
  private readonly byLength = new Map<number, SharedNames>();
  // The list the last large request carried: in an ACK storm, the next request most likely repeats it.
  private last: SharedNames | undefined;

  constructor(private readonly limits: DecodeLimits) {
    this.lists = new ByteBoundedCache<string, SharedNames>({
      maxBytes: limits.maxNameListCacheBytes,
      sizeOf: (l) => 2 * l.bytes.length + PER_NAME_BYTES * l.names.length,
      onRemove: (l) => {
        if (this.byLength.get(l.bytes.length) === l) this.byLength.delete(l.bytes.length);
        if (this.last === l) this.last = undefined;
      },
    });
  }

  /** cachedBytes is what the kept name lists stand for, by the cache's measure. */
  get cachedBytes(): number {
    return this.lists.bytes;
  }

  /** cachedLists is how many name lists are kept. */
  get cachedLists(): number {
    return this.lists.size;
  }

  /**
   * sotw decodes a DiscoveryRequest, with its names list shared when it is large and passed every
   * limit; it throws PXDS_ERR_XDS_TOO_MANY_NAMES before decoding a list over the limit.
   */
  sotw(b: Buffer): SotwRequest {
    if (b.length < MIN_CHECKED_BYTES) return { request: DiscoveryRequest.decode(b) };
    const repeated = this.repeatOfLast(b);
    if (repeated) return repeated;
    const s = scan(b, SOTW_NAMES);
    if (!s) return { request: DiscoveryRequest.decode(b) }; // not well-formed: the generated decoder says why
    this.checkCounts(s, SOTW_LISTS);
    if (s.split || s.runEnd - s.runStart < MIN_CHECKED_BYTES) return { request: DiscoveryRequest.decode(b) };
    const section = b.subarray(s.runStart, s.runEnd);
    const rest = this.rest(b, s.runStart, s.runEnd);
    const list = this.lookup(section);
    if (list) {
      this.last = list;
      return withShared(rest, list);
    }
    const names = DiscoveryRequest.decode(section).resourceNames;
    rest.resourceNames = names;
    const max = longest(names);
    // Only a list that passed every limit is kept.
    if (max > this.limits.maxNameLength) return { request: rest };
    const kept = new SharedNames(digest(section), Buffer.from(section), Object.freeze(names), max);
    if (!this.lists.set(kept.key, kept)) return { request: rest };
    this.byLength.set(kept.bytes.length, kept);
    this.last = kept;
    return withShared(rest, kept);
  }

  /**
   * delta decodes a DeltaDiscoveryRequest; it throws PXDS_ERR_XDS_TOO_MANY_NAMES before decoding a list over the limit.
   */
  delta(b: Buffer): DeltaDiscoveryRequest {
    if (b.length >= MIN_CHECKED_BYTES) {
      const s = scan(b, 0);
      if (s) this.checkCounts(s, DELTA_LISTS);
    }
    return DeltaDiscoveryRequest.decode(b);
  }

  /** hold records that stream `holder` uses `list`. */
  hold(list: SharedNames, holder: number): void {
    list.holders.add(holder);
  }

  /** release drops stream `holder`'s use of `list`; a kept list no stream holds any more is dropped. */
  release(list: SharedNames, holder: number): void {
    list.holders.delete(holder);
    if (list.holders.size === 0) this.lists.delete(list.key);
  }

  private checkCounts(s: Scan, fields: readonly number[]): void {
    let most = 0;
    for (const f of fields) most = Math.max(most, s.counts[f]!);
    if (most > this.limits.maxResourceNames)
      throw xdsError('PXDS_ERR_XDS_TOO_MANY_NAMES', most, this.limits.maxResourceNames);
  }

  private lookup(section: Buffer): SharedNames | undefined {
    const same = this.byLength.get(section.length);
    if (same?.bytes.equals(section)) return this.lists.get(same.key);
    return this.lists.get(digest(section));
  }

  /** repeatOfLast decodes `b` when its names are exactly the bytes of the last kept list, else undefined. */
  private repeatOfLast(b: Buffer): SotwRequest | undefined {
    const last = this.last;
    if (!last) return undefined;
    const start = firstField(b, SOTW_NAMES);
    const end = start + last.bytes.length;
    if (start < 0 || end > b.length || b.compare(last.bytes, 0, last.bytes.length, start, end) !== 0) return undefined;
    const after = scan(b.subarray(end), SOTW_NAMES);
    if (after?.counts[SOTW_NAMES] !== 0) return undefined;
    return withShared(this.rest(b, start, end), last);
  }

  private rest(b: Buffer, start: number, end: number): DiscoveryRequest {
    return DiscoveryRequest.decode(Buffer.concat([b.subarray(0, start), b.subarray(end)]));
  }
}

/** withShared puts a shared list into a request decoded without its names. */
function withShared(rest: DiscoveryRequest, shared: SharedNames): SotwRequest {
  rest.resourceNames = shared.names as string[];
  return { request: rest, shared };
}

function digest(section: Buffer): string {
  return createHash('sha1').update(section).digest('base64');
}

/** Scan is what walking a message's tags and lengths tells, without decoding a field. */
interface Scan {
  /** Occurrences of fields 0–15 (repeated fields count once per element). */
  readonly counts: Uint32Array;
  /**
   * Where the first occurrence of the run field starts and its last one ends, and whether other fields come between.
   */
  readonly runStart: number;
  readonly runEnd: number;
  readonly split: boolean;
}

/** varintEnd is the offset after the varint at `pos`, or -1 when it runs past the end or past 10 bytes. */
function varintEnd(b: Buffer, pos: number): number {
  for (let i = 0; i < 10 && pos < b.length; i++) if ((b[pos++]! & 0x80) === 0) return pos;
  return -1;
}

/** varintAt reads a varint known to end at `end` (below 2^53, else Infinity so a bounds check fails). */
function varintAt(b: Buffer, pos: number, end: number): number {
  let n = 0;
  let scale = 1;
  for (; pos < end; pos++, scale *= 128) n += (b[pos]! & 0x7f) * scale;
  return n <= Number.MAX_SAFE_INTEGER ? n : Infinity;
}

/**
 * walk steps over the fields of `b` from `pos`, calling `visit(field, start, end)` for each, and
 * stops when visit returns false. It returns false when the bytes are not well-formed.
 */
function walk(b: Buffer, visit: (field: number, start: number, end: number) => boolean): boolean {
  let pos = 0;
  while (pos < b.length) {
    const start = pos;
    const tagEnd = varintEnd(b, pos);
    if (tagEnd < 0) return false;
    const tag = varintAt(b, pos, tagEnd);
    pos = tagEnd;
    switch (tag % 8) {
      case 0:
        pos = varintEnd(b, pos);
        if (pos < 0) return false;
        break;
      case 1:
        pos += 8;
        break;
      case 2: {
        const lenEnd = varintEnd(b, pos);
        if (lenEnd < 0) return false;
        pos = lenEnd + varintAt(b, pos, lenEnd);
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return false; // groups: not in these messages
    }
    if (pos > b.length) return false;
    if (!visit(Math.floor(tag / 8), start, pos)) return true;
  }
  return true;
}

/** scan counts the fields of `b` and finds the run of field `runField`, or undefined when `b` is not well-formed. */
function scan(b: Buffer, runField: number): Scan | undefined {
  const counts = new Uint32Array(16);
  let runStart = -1;
  let runEnd = -1;
  let split = false;
  const ok = walk(b, (field, start, end) => {
    if (field < 16) counts[field]!++;
    if (field === runField) {
      if (runStart < 0) runStart = start;
      else if (runEnd !== start) split = true;
      runEnd = end;
    }
    return true;
  });
  return ok ? { counts, runStart, runEnd, split } : undefined;
}

/** firstField is the offset where the first occurrence of `field` starts, or -1. */
function firstField(b: Buffer, field: number): number {
  let at = -1;
  const ok = walk(b, (f, start) => {
    if (f !== field) return true;
    at = start;
    return false;
  });
  return ok ? at : -1;
}
