// SotW request decoding: a large resource_names list is decoded once per distinct content and
// shared, and the result is always what the generated decoder gives.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Node } from '../../../../src/gen/envoy/config/core/v3/base.js';
import { DiscoveryRequest } from '../../../../src/gen/envoy/service/discovery/v3/discovery.js';
import { RequestDecoder } from '../../../../src/xds/server/decode.js';
import { DEFAULT_LIMITS } from '../../../../src/xds/server/options.js';
import { adsServiceDefinition } from '../../../../src/xds/server/ads.js';
import { DecodeFailure } from '../../../../src/xds/server/protocol.js';
import { Rand } from '../../../support/random.js';

const EDS = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
const decoder = new RequestDecoder(DEFAULT_LIMITS);
const decodeDiscoveryRequest = (b: Buffer): DiscoveryRequest => decoder.sotw(b).request;
const names = (n: number, tag = '') => Array.from({ length: n }, (_, i) => `OUTBOUND|ns|svc-${i}${tag}`);

function request(resourceNames: string[], nonce: string, extra: Partial<DiscoveryRequest> = {}): Buffer {
  return Buffer.from(
    DiscoveryRequest.encode(
      DiscoveryRequest.fromPartial({
        versionInfo: 'v1',
        node: Node.fromPartial({ id: 'ns/a~10.0.0.1', cluster: 'c' }),
        resourceNames,
        typeUrl: EDS,
        responseNonce: nonce,
        ...extra,
      }),
    ).finish(),
  );
}

test('a large names list decodes to what the generated decoder gives, and the same bytes share one frozen list', () => {
  const list = names(500);
  const a = decodeDiscoveryRequest(request(list, '1'));
  const b = decodeDiscoveryRequest(request(list, '2', { errorDetail: { code: 3, message: 'bad', details: [] } }));
  assert.deepEqual(a, DiscoveryRequest.decode(request(list, '1')));
  assert.deepEqual(
    b,
    DiscoveryRequest.decode(request(list, '2', { errorDetail: { code: 3, message: 'bad', details: [] } })),
  );
  assert.equal(a.resourceNames, b.resourceNames, 'shared list');
  const shared = decoder.sotw(request(list, '3')).shared;
  assert.ok(shared, 'the list is handed out as SharedNames');
  assert.equal(decoder.sotw(request(list, '4')).shared, shared, 'the same SharedNames for the same bytes');
  assert.equal(shared.names, a.resourceNames);
  assert.ok(Object.isFrozen(shared.names));
  const c = decodeDiscoveryRequest(request(names(500, 'x'), '3'));
  assert.notEqual(c.resourceNames, a.resourceNames);
  assert.deepEqual(c.resourceNames, names(500, 'x'));
  // Lists of the same byte length that differ in one name, in turn: each decodes to its own names.
  const d = names(500, 'y');
  const e = [...d.slice(0, 250), 'OUTBOUND|ns|svc-250z', ...d.slice(251)];
  for (let i = 0; i < 4; i++) {
    assert.deepEqual(decodeDiscoveryRequest(request(d, `d${i}`)).resourceNames, d);
    assert.deepEqual(decodeDiscoveryRequest(request(e, `e${i}`)).resourceNames, e);
  }
});

test('small lists, and names split around other fields, decode in full', () => {
  const small = decodeDiscoveryRequest(request(names(3), '1'));
  assert.deepEqual(small.resourceNames, names(3));
  // resource_names, then type_url, then more resource_names: not one run of bytes.
  const head = Buffer.from(
    DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ resourceNames: names(300) })).finish(),
  );
  const mid = Buffer.from(DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ typeUrl: EDS })).finish());
  const tail = Buffer.from(
    DiscoveryRequest.encode(DiscoveryRequest.fromPartial({ resourceNames: names(300, 'y') })).finish(),
  );
  const split = decodeDiscoveryRequest(Buffer.concat([head, mid, tail]));
  assert.deepEqual(split.resourceNames, [...names(300), ...names(300, 'y')]);
  assert.equal(split.typeUrl, EDS);
});

test('undecodable bytes are a DecodeFailure, not an exception', () => {
  const good = request(names(500), '1');
  const deserialize = adsServiceDefinition(new RequestDecoder(DEFAULT_LIMITS)).StreamAggregatedResources
    .requestDeserialize;
  for (const bad of [
    good.subarray(0, good.length - 7),
    Buffer.concat([good, Buffer.from([0x1a, 0xff, 0xff, 0xff, 0x0f])]),
    Buffer.from([0xff, 0xff, 0xff]),
  ]) {
    assert.ok(deserialize(bad) instanceof DecodeFailure);
  }
});

/** outcome is what a decoder gives for some bytes: the message, or that it threw. */
function outcome(decode: (b: Buffer) => DiscoveryRequest, b: Buffer): unknown {
  try {
    return { ok: decode(b) };
  } catch {
    return 'threw';
  }
}

/** unknownField encodes a field the message does not define, of any wire type, with a tag of one to three bytes. */
function unknownField(r: Rand): Buffer {
  const field = r.pick([8, 15, 16, 99, 2047, 2048, 100_000]);
  const wire = r.pick([0, 1, 2, 5]);
  const tag: number[] = [];
  for (let n = field * 8 + wire; ; n = Math.floor(n / 128)) {
    if (n < 128) {
      tag.push(n);
      break;
    }
    tag.push((n % 128) | 0x80);
  }
  const body =
    wire === 0 ? [0xff, 0xff, 0x01] : wire === 1 ? new Array(8).fill(7) : wire === 5 ? [1, 2, 3, 4] : [3, 9, 9, 9];
  return Buffer.from([...tag, ...body]);
}

test('any bytes, well-formed or not, decode to what the generated decoder gives, or fail where it fails; well-formed ones share their list', () => {
  const r = new Rand(77);
  // One name longer than 127 bytes: its length takes two bytes.
  const list = [...names(400), `OUTBOUND|ns|${'long'.repeat(40)}`];
  for (let i = 0; i < 400; i++) {
    // The list, the list with more names after it (the last list is a prefix), or other lists.
    const pick = r.int(4);
    const chosen = pick === 0 ? list : pick === 1 ? [...list, 'OUTBOUND|ns|extra'] : names(400, `${r.int(3)}`);
    const parts = [request(chosen, `${i}`)];
    if (r.chance(0.5)) parts.splice(r.int(2), 0, unknownField(r));
    let b = Buffer.concat(parts);
    const damage = r.int(4);
    if (damage === 1) b = b.subarray(0, r.int(b.length)); // truncated
    if (damage === 2) {
      b = Buffer.from(b);
      for (let k = 0; k < 3; k++) b[r.int(b.length)] = r.int(256); // flipped bytes
    }
    if (damage === 3) b = Buffer.concat([b, Buffer.from(Array.from({ length: 1 + r.int(6) }, () => r.int(256)))]); // trailing junk
    assert.deepEqual(
      outcome(decodeDiscoveryRequest, b),
      outcome((x) => DiscoveryRequest.decode(x), b),
      `case ${i} (damage ${damage})`,
    );
    // Unknown fields around the names do not stop the sharing.
    if (damage === 0) assert.ok(decoder.sotw(b).shared, `case ${i}: shared list`);
  }
});
