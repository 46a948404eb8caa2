// Request decoding. Envoy's SotW EDS requests name every cluster it knows, and every ACK repeats
// the list: thousands of names per request, the same on every sidecar of a group. The names
// section is decoded once per distinct content and the decoded list shared (frozen), so an ACK
// costs a digest of its bytes instead of thousands of strings, and a stream can tell an unchanged
// list by identity. Field numbers: envoy/service/discovery/v3/discovery.proto.
import { createHash } from 'node:crypto';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import { DiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';
import { BoundedMap } from '../bounded-map.js';

const RESOURCE_NAMES = 3;
// Below this many bytes decoding is cheaper than digesting.
const MIN_SHARED_BYTES = 2048;
const MAX_LISTS = 256;

const lists = new BoundedMap<string, readonly string[]>(MAX_LISTS);

/** namesSection finds the one contiguous run of resource_names fields, or undefined when there is none or it is split. */
function namesSection(b: Buffer): { start: number; end: number } | undefined {
  const reader = new BinaryReader(b);
  let start = -1;
  let end = -1;
  while (reader.pos < reader.len) {
    const at = reader.pos;
    const [field, wire] = reader.tag();
    reader.skip(wire, field);
    if (field !== RESOURCE_NAMES) continue;
    if (start === -1) start = at;
    else if (end !== at) return undefined;
    end = reader.pos;
  }
  return start === -1 ? undefined : { start, end };
}

/** decodeDiscoveryRequest decodes a SotW request; a large resource_names list is shared with earlier requests that sent the same bytes. */
export function decodeDiscoveryRequest(b: Buffer): DiscoveryRequest {
  const section = b.length >= MIN_SHARED_BYTES ? namesSection(b) : undefined;
  if (!section || section.end - section.start < MIN_SHARED_BYTES) return DiscoveryRequest.decode(b);
  const key = createHash('sha1').update(b.subarray(section.start, section.end)).digest('base64');
  const rest = DiscoveryRequest.decode(Buffer.concat([b.subarray(0, section.start), b.subarray(section.end)]));
  const names = lists.get(key) ?? Object.freeze(DiscoveryRequest.decode(b.subarray(section.start, section.end)).resourceNames);
  // Set again on a hit too: the most recently used list goes last, so the oldest is dropped first.
  lists.set(key, names);
  rest.resourceNames = names as string[];
  return rest;
}
