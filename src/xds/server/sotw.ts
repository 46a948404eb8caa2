// State-of-the-World ADS: how a DiscoveryRequest changes a type's state, and which
// DiscoveryResponse is due. Protocol: https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol
import { requiresFullStateInSotw } from '../resource.js';
import type { EncodedResource, TypeResources } from '../snapshot.js';
import type { SotwRequest } from './decode.js';
import { longest, type Plan, type Protocol, type RequestHead, type RequestOutcome } from './protocol.js';
import { encodeSotwResponse, setVersion } from './response.js';
import { byName, WILDCARD, type TypeState } from './stream-state.js';

function head({ request: req, shared }: SotwRequest): RequestHead {
  return {
    typeUrl: req.typeUrl,
    node: req.node,
    longestList: Math.max(req.resourceNames.length, req.resourceLocators.length),
    // A shared list was measured when it was decoded: an ACK repeating it costs nothing.
    longestName: shared?.longest ?? longest(req.resourceNames),
    shared,
  };
}

/**
 * onRequest applies one SotW request.
 * - Stale nonce: a nonce other than the latest sent for this type makes the whole request ignored
 *   (xds_protocol "Resource updates"; envoyproxy/envoy#10363 debates the race this accepts, and
 *   go-control-plane and Istio do the same). A nonce on a type this stream never answered comes
 *   from an earlier stream (envoyproxy/envoy#15767): that is an initial request, not a stale one.
 * - ACK vs NACK: only error_detail tells them apart, never version_info (envoyproxy/envoy#14841).
 * - The first request of a type is always answered, even if its version_info equals ours: after a
 *   reconnect Envoy may be warming and waiting for EDS/RDS (Istio answers these too).
 * - Newly subscribed names are sent even if the client got them before unasked.
 */
function onRequest(t: TypeState, { request: req, shared }: SotwRequest, now: number): RequestOutcome {
  const first = t.noteRequest();
  const nonce = req.responseNonce;
  if (nonce !== '' && t.ack.last !== undefined && nonce !== t.ack.last.nonce) return { stale: true, due: false };
  const answer = nonce !== '' ? t.ack.answer(nonce, req.errorDetail, req.versionInfo, now) : undefined;
  const change = t.applySotw(req.resourceNames, shared);
  if (change.removed.length > 0) t.prune();
  for (const n of change.added) if (n !== WILDCARD) t.force(n);
  return { answer, stale: false, due: first || change.added.length > 0 };
}

/**
 * plan: LDS and CDS responses carry every subscribed resource (omission means deletion), so one
 * is due whenever the set the client holds would change — its version is a content hash of the
 * set, so comparing versions is enough. RDS and EDS responses carry only what changed or was newly
 * asked for; as they cannot delete, one is due only when something is sent — never an empty,
 * meaningless response, and never an identical resend (no ACK loop).
 */
function plan(t: TypeState, resources: TypeResources): Plan | 'parked' | undefined {
  const want = t.desired(resources);
  // A wildcard-only subscription shares the snapshot's map, already in name order.
  const shared = want === resources.items;
  let present: readonly EncodedResource[];
  if (shared) {
    present = t.views.wholeList(resources);
  } else {
    const list: EncodedResource[] = [];
    for (const r of want.values()) if (r) list.push(r);
    present = list.sort(byName);
  }
  const version = shared ? resources.version : setVersion(present);
  const full = requiresFullStateInSotw(t.typeUrl);
  const heldSet = t.heldSet;
  let sent: readonly EncodedResource[];
  let due: boolean;
  if (full) {
    let forced = false;
    for (const n of t.forcedNames) if (want.get(n)) forced = true;
    due = t.firstResponseDue || forced || version !== t.ack.last?.version;
    sent = present;
  } else if (shared && heldSet && t.forcedNames.size === 0) {
    // The client holds an earlier set of exactly these names: send what changed between the two.
    const d = t.views.diff(heldSet, resources);
    sent = [...d.changed.map((n) => resources.items.get(n)!), ...d.added].sort(byName);
    due = sent.length > 0;
  } else {
    sent = present.filter((r) => t.heldVersion(r.name) !== r.version || t.forcedNames.has(r.name));
    due = sent.length > 0;
  }
  if (!due) {
    t.nothingDue();
    return undefined;
  }
  if (version === t.ack.parkedVersion) {
    t.parked();
    return 'parked';
  }
  let updated: readonly string[];
  let added: readonly EncodedResource[];
  // Read again: the per-name reads above give up a held set.
  const stillHeld = t.heldSet;
  if (stillHeld && shared) {
    const d = t.views.diff(stillHeld, resources);
    updated = d.changed;
    added = d.added;
  } else {
    const changed: string[] = [];
    const fresh: EncodedResource[] = [];
    for (const r of sent) {
      const held = t.heldVersion(r.name);
      if (held === undefined) fresh.push(r);
      else if (held !== r.version) changed.push(r.name);
    }
    updated = changed;
    added = fresh;
  }
  return {
    typeUrl: t.typeUrl,
    version,
    resources: sent,
    // Only the snapshot's whole list is the same array on every stream; a diff is per stream.
    shared: sent === present && shared,
    removed: [],
    updated,
    added,
    commit(nonce, now) {
      // After this response the client holds exactly the shared set, whatever the type.
      t.sent(
        { nonce, version, wireVersion: version, at: now },
        shared ? { set: resources } : { full, resources: sent },
      );
    },
  };
}

/** sotw is the State-of-the-World variant. */
export const sotw: Protocol<SotwRequest> = {
  message: (req) => req.request,
  mode: 'sotw',
  head,
  onRequest,
  plan,
  encode: (p, nonce, controlPlane, sections) => encodeSotwResponse(p, nonce, controlPlane, sections),
};
