// Request decoding. Envoy's SotW EDS requests name every cluster it knows, and every ACK repeats
// the list: thousands of names per request, the same on every sidecar of a group. The names
// section is decoded once per distinct content and the decoded list shared (frozen), so an ACK
// costs a byte comparison (or a digest) instead of thousands of strings, and a stream can tell an
// unchanged list by identity. Field numbers: envoy/service/discovery/v3/discovery.proto.
import { createHash } from 'node:crypto';
import { DiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';
import { BoundedMap } from '../bounded-map.js';

const RESOURCE_NAMES = 3;
// Below this many bytes decoding is cheaper than digesting.
const MIN_SHARED_BYTES = 2048;
const MAX_LISTS = 256;
// Lists recently seen, by byte length: in an ACK storm most requests repeat one of them, and
// comparing bytes is several times cheaper than digesting them. Each keeps a copy of its bytes.
const MAX_RECENT = 16;

interface SharedList {
  readonly bytes: Buffer;
  readonly names: readonly string[];
}

const lists = new BoundedMap<string, readonly string[]>(MAX_LISTS);
const recent = new BoundedMap<number, SharedList>(MAX_RECENT);

/** sharedNames is the decoded, frozen list for a names section, made once per distinct content. */
function sharedNames(section: Buffer): readonly string[] {
  const seen = recent.get(section.length);
  if (seen && seen.bytes.equals(section)) return seen.names;
  const key = createHash('sha1').update(section).digest('base64');
  const names = lists.get(key) ?? Object.freeze(DiscoveryRequest.decode(section).resourceNames);
  // Set again on a hit too: the most recently used list goes last, so the oldest is dropped first.
  lists.set(key, names);
  recent.set(section.length, { bytes: Buffer.from(section), names });
  return names;
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
 * namesSection finds the one contiguous run of resource_names fields, or undefined when there is
 * none, it is split, or the bytes are not well-formed (the generated decoder then reports why).
 * It only walks tags and lengths: an ACK naming thousands of clusters allocates nothing here.
 */
function namesSection(b: Buffer): { start: number; end: number } | undefined {
  let start = -1;
  let end = -1;
  let pos = 0;
  while (pos < b.length) {
    const at = pos;
    const tagEnd = varintEnd(b, pos);
    if (tagEnd < 0) return undefined;
    const tag = varintAt(b, pos, tagEnd);
    pos = tagEnd;
    switch (tag % 8) {
      case 0: {
        pos = varintEnd(b, pos);
        if (pos < 0) return undefined;
        break;
      }
      case 1:
        pos += 8;
        break;
      case 2: {
        const lenEnd = varintEnd(b, pos);
        if (lenEnd < 0) return undefined;
        pos = lenEnd + varintAt(b, pos, lenEnd);
        break;
      }
      case 5:
        pos += 4;
        break;
      default:
        return undefined; // groups: not in this message
    }
    if (pos > b.length) return undefined;
    if (Math.floor(tag / 8) !== RESOURCE_NAMES) continue;
    if (start === -1) start = at;
    else if (end !== at) return undefined;
    end = pos;
  }
  return start === -1 ? undefined : { start, end };
}

/** decodeDiscoveryRequest decodes a SotW request; a large resource_names list is shared with earlier requests that sent the same bytes. */
export function decodeDiscoveryRequest(b: Buffer): DiscoveryRequest {
  const section = b.length >= MIN_SHARED_BYTES ? namesSection(b) : undefined;
  if (!section || section.end - section.start < MIN_SHARED_BYTES) return DiscoveryRequest.decode(b);
  const rest = DiscoveryRequest.decode(Buffer.concat([b.subarray(0, section.start), b.subarray(section.end)]));
  rest.resourceNames = sharedNames(b.subarray(section.start, section.end)) as string[];
  return rest;
}
