// The wire writer splices pre-encoded bytes into messages; what it writes decodes, with the
// generated decoders, to the fields it was given (varint lengths of one to three bytes included).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resource } from '../../../src/gen/envoy/service/discovery/v3/discovery.js';
import { Any } from '../../../src/gen/google/protobuf/any.js';
import { bytesField, encodeAny, encodeDeltaResource, message, str } from '../../../src/xds/wire.js';

test('encodeAny and encodeDeltaResource decode to their fields, for payloads of every length class', () => {
  for (const size of [0, 1, 127, 128, 16_383, 16_384, 200_000]) {
    const value = Buffer.alloc(size, 7);
    const any = Any.decode(encodeAny('type.googleapis.com/x.Y', value));
    assert.equal(any.typeUrl, 'type.googleapis.com/x.Y');
    assert.equal(Buffer.from(any.value).equals(value), true, `${size} bytes`);
    const r = Resource.decode(encodeDeltaResource('name-é', 'v1', encodeAny('t', value)));
    assert.deepEqual([r.name, r.version, r.resource?.typeUrl, r.resource?.value.length], ['name-é', 'v1', 't', size]);
  }
});

test('empty strings are left out, as proto3 does, and fields keep their order', () => {
  assert.equal(str(1, ''), undefined);
  assert.deepEqual(
    [...message([str(1, ''), str(2, 'a'), bytesField(3, Buffer.from([1]))])],
    [0x12, 1, 0x61, 0x1a, 1, 1],
  );
});
