// Minimal protobuf wire writer for splicing pre-encoded bytes into xDS responses. Responses are
// assembled from bytes made once per resource version (invariant 3), so only the small envelope is
// written per stream. Field numbers come from envoy/service/discovery/v3/discovery.proto.

/** varintSize is the encoded length of a non-negative integer below 2^53. */
function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, offset: number, n: number): number {
  while (n >= 0x80) {
    buf[offset++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[offset++] = n;
  return offset;
}

/** Part is one length-delimited field: its number and its payload bytes. */
export interface Part {
  readonly field: number;
  readonly bytes: Uint8Array;
}

/** str makes a string field part; empty strings are left out, as proto3 does. */
export function str(field: number, value: string): Part | undefined {
  return value === '' ? undefined : { field, bytes: Buffer.from(value, 'utf8') };
}

/** bytesField makes a length-delimited field part from already encoded bytes (messages, too). */
export function bytesField(field: number, bytes: Uint8Array): Part {
  return { field, bytes };
}

/** message concatenates length-delimited fields into one encoded message. */
export function message(parts: ReadonlyArray<Part | undefined>): Buffer {
  let size = 0;
  for (const p of parts) {
    if (p) size += varintSize((p.field << 3) | 2) + varintSize(p.bytes.length) + p.bytes.length;
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (const p of parts) {
    if (!p) continue;
    off = writeVarint(out, off, (p.field << 3) | 2);
    off = writeVarint(out, off, p.bytes.length);
    out.set(p.bytes, off);
    off += p.bytes.length;
  }
  return out;
}

/** encodeAny wraps an encoded message in google.protobuf.Any (type_url = 1, value = 2). */
export function encodeAny(typeUrl: string, value: Uint8Array): Buffer {
  return message([str(1, typeUrl), bytesField(2, value)]);
}

/** encodeDeltaResource encodes envoy.service.discovery.v3.Resource (version 1, resource 2, name 3). */
export function encodeDeltaResource(name: string, version: string, any: Uint8Array): Buffer {
  return message([str(1, version), bytesField(2, any), str(3, name)]);
}
