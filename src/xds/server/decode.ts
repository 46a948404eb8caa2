// Request decoding. Envoy's SotW EDS requests name every cluster it knows, and every ACK repeats
// the list: thousands of names per request, the same on every sidecar of a group. The names
// section is decoded once per distinct content and the decoded list shared (frozen), so an ACK
// costs a digest of its bytes instead of thousands of strings, and a stream can tell an unchanged
// list by identity. Field numbers: envoy/service/discovery/v3/discovery.proto.
import { createHash } from 'node:crypto';
import { DiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';

const RESOURCE_NAMES = 3;
// Below this many bytes decoding is cheaper than digesting.
const MIN_SHARED_BYTES = 2048;
const MAX_LISTS = 256;

const lists = new Map<string, readonly string[]>();

function varint(b: Buffer, pos: number): [value: number, next: number] {
  let value = 0;
  let mul = 1;
  for (;;) {
    if (pos >= b.length) throw new RangeError('truncated varint');
    const byte = b[pos++]!;
    value += (byte & 0x7f) * mul;
    if (byte < 0x80) return [value, pos];
    mul *= 128;
    if (mul > 2 ** 63) throw new RangeError('varint too long');
  }
}

/** namesSection finds the one contiguous run of resource_names fields, or undefined when there is none or it is split. */
function namesSection(b: Buffer): { start: number; end: number } | undefined {
  let pos = 0;
  let start = -1;
  let end = -1;
  while (pos < b.length) {
    const at = pos;
    const [tag, p] = varint(b, pos);
    pos = p;
    const wire = tag & 7;
    if (wire === 0) pos = varint(b, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [len, q] = varint(b, pos);
      pos = q + len;
    } else return undefined; // groups: leave it to the full decoder
    if (pos > b.length) return undefined;
    if (tag >>> 3 === RESOURCE_NAMES) {
      if (start === -1) start = at;
      else if (end !== at) return undefined;
      end = pos;
    }
  }
  return start === -1 ? undefined : { start, end };
}

/** decodeDiscoveryRequest decodes a SotW request; a large resource_names list is shared with earlier requests that sent the same bytes. */
export function decodeDiscoveryRequest(b: Buffer): DiscoveryRequest {
  const section = b.length >= MIN_SHARED_BYTES ? namesSection(b) : undefined;
  if (!section || section.end - section.start < MIN_SHARED_BYTES) return DiscoveryRequest.decode(b);
  const key = createHash('sha1').update(b.subarray(section.start, section.end)).digest('base64');
  const rest = DiscoveryRequest.decode(Buffer.concat([b.subarray(0, section.start), b.subarray(section.end)]));
  let names = lists.get(key);
  if (names) {
    // Most recently used last, so the oldest goes first.
    lists.delete(key);
  } else {
    names = Object.freeze(DiscoveryRequest.decode(b.subarray(section.start, section.end)).resourceNames);
  }
  lists.set(key, names);
  if (lists.size > MAX_LISTS) lists.delete(lists.keys().next().value as string);
  rest.resourceNames = names as string[];
  return rest;
}
