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
// The list the last large request carried: in an ACK storm, the next request most likely repeats it.
let last: SharedList | undefined;

/** sharedList is the decoded, frozen list for a names section, made once per distinct content. */
function sharedList(section: Buffer): SharedList {
  const seen = recent.get(section.length);
  if (seen && seen.bytes.equals(section)) return seen;
  const key = createHash('sha1').update(section).digest('base64');
  const names = lists.get(key) ?? Object.freeze(DiscoveryRequest.decode(section).resourceNames);
  // Set again on a hit too: the most recently used list goes last, so the oldest is dropped first.
  lists.set(key, names);
  const shared = { bytes: Buffer.from(section), names };
  recent.set(section.length, shared);
  return shared;
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

// fieldNumber is set by fieldEnd: the number of the field it stepped over.
let fieldNumber = 0;

/** fieldEnd is the offset after the field that starts at `pos` (its number left in fieldNumber), or -1 when it is not well-formed. */
function fieldEnd(b: Buffer, pos: number): number {
  const tagEnd = varintEnd(b, pos);
  if (tagEnd < 0) return -1;
  const tag = varintAt(b, pos, tagEnd);
  fieldNumber = Math.floor(tag / 8);
  pos = tagEnd;
  switch (tag % 8) {
    case 0:
      pos = varintEnd(b, pos);
      break;
    case 1:
      pos += 8;
      break;
    case 2: {
      const lenEnd = varintEnd(b, pos);
      if (lenEnd < 0) return -1;
      pos = lenEnd + varintAt(b, pos, lenEnd);
      break;
    }
    case 5:
      pos += 4;
      break;
    default:
      return -1; // groups: not in this message
  }
  return pos <= b.length ? pos : -1;
}

/** noNamesFrom says whether the fields from `pos` to the end are well-formed and none is a resource name. */
function noNamesFrom(b: Buffer, pos: number): boolean {
  while (pos < b.length) {
    pos = fieldEnd(b, pos);
    if (pos < 0 || fieldNumber === RESOURCE_NAMES) return false;
  }
  return true;
}

/**
 * namesSection finds the one contiguous run of resource_names fields, or undefined when there is
 * none, it is split, or the bytes are not well-formed (the generated decoder then reports why).
 * It walks tags and lengths only, and allocates nothing. When the run starts with the bytes of
 * the list the last request carried, one comparison stands in for walking thousands of names.
 */
function namesSection(b: Buffer): { start: number; end: number; list?: SharedList } | undefined {
  let pos = 0;
  while (pos < b.length) {
    const next = fieldEnd(b, pos);
    if (next < 0) return undefined;
    if (fieldNumber === RESOURCE_NAMES) break;
    pos = next;
  }
  if (pos >= b.length) return undefined;
  const start = pos;
  if (last && start + last.bytes.length <= b.length && b.compare(last.bytes, 0, last.bytes.length, start, start + last.bytes.length) === 0) {
    const end = start + last.bytes.length;
    if (noNamesFrom(b, end)) return { start, end, list: last };
  }
  while (pos < b.length) {
    const next = fieldEnd(b, pos);
    if (next < 0) return undefined;
    if (fieldNumber !== RESOURCE_NAMES) break;
    pos = next;
  }
  return noNamesFrom(b, pos) ? { start, end: pos } : undefined;
}

/** decodeDiscoveryRequest decodes a SotW request; a large resource_names list is shared with earlier requests that sent the same bytes. */
export function decodeDiscoveryRequest(b: Buffer): DiscoveryRequest {
  const section = b.length >= MIN_SHARED_BYTES ? namesSection(b) : undefined;
  if (!section || section.end - section.start < MIN_SHARED_BYTES) return DiscoveryRequest.decode(b);
  const rest = DiscoveryRequest.decode(Buffer.concat([b.subarray(0, section.start), b.subarray(section.end)]));
  last = section.list ?? sharedList(b.subarray(section.start, section.end));
  rest.resourceNames = last.names as string[];
  return rest;
}
