// Incremental (Delta) ADS: how a DeltaDiscoveryRequest changes a type's state, and which
// DeltaDiscoveryResponse is due. Protocol:
// https://www.envoyproxy.io/docs/envoy/latest/api-docs/xds_protocol#incremental-xds
import type { DeltaDiscoveryRequest } from '../../gen/envoy/service/discovery/v3/discovery.js';
import { compareKeys } from '../../model/mesh.js';
import { namesOf, type EncodedResource, type TypeResources } from '../snapshot.js';
import { longest, type Plan, type Protocol, type RequestHead, type RequestOutcome } from './protocol.js';
import { encodeDeltaResponse } from './response.js';
import { openVhds } from './vhds.js';
import { byName, MISSING, WILDCARD, type SentHolds, type TypeState } from './stream-state.js';

// system_version_info is for debugging only: the nonce, which names the content (shared-responses.ts).
const systemVersionInfo = (nonce: string): string => nonce;

// initial_resource_versions may carry an empty version; it still means "held", at no known version.
const HELD_UNKNOWN = '?';

function head(req: DeltaDiscoveryRequest): RequestHead {
  return {
    typeUrl: req.typeUrl,
    node: req.node,
    longestList: Math.max(
      req.resourceNamesSubscribe.length,
      req.resourceNamesUnsubscribe.length,
      req.resourceLocatorsSubscribe.length,
      req.resourceLocatorsUnsubscribe.length,
      Object.keys(req.initialResourceVersions).length,
    ),
    longestName: longest(
      req.resourceNamesSubscribe,
      req.resourceNamesUnsubscribe,
      Object.keys(req.initialResourceVersions),
      Object.values(req.initialResourceVersions),
    ),
  };
}

/**
 * onRequest applies one Delta request.
 * - The nonce only pairs an ACK/NACK with a response; subscription changes are honoured even with
 *   a stale nonce (xds_protocol "Incremental xDS", envoyproxy/envoy PR #16659).
 * - The first request of a type may carry initial_resource_versions (reconnect): the client holds
 *   those, so nothing it holds at the current version is sent again.
 * - Names in resource_names_subscribe are (re)sent even if the client seems to hold them, since it
 *   may have dropped them (xds_protocol "Subscribing to Resources") — except those named in
 *   initial_resource_versions of the same first request.
 * - Unsubscribing a name the wildcard still covers is answered with the resource or its removal
 *   (xds_protocol "Unsubscribing from Resources"); other unsubscribes need no answer.
 */
function onRequest(t: TypeState, req: DeltaDiscoveryRequest, now: number): RequestOutcome {
  const first = t.noteRequest();
  const nonce = req.responseNonce;
  const answer = nonce !== '' ? t.ack.answer(nonce, req.errorDetail, undefined, now) : undefined;
  const stale = nonce !== '' && !answer && t.ack.last !== undefined && nonce !== t.ack.last.nonce;
  const initial = req.initialResourceVersions;
  if (first) for (const [n, v] of Object.entries(initial)) t.holdsInitially(n, v === '' ? HELD_UNKNOWN : v);
  const change = t.applyDelta(req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, first);
  for (const n of req.resourceNamesSubscribe) {
    if (n !== WILDCARD && !(first && Object.hasOwn(initial, n))) t.force(n);
  }
  let due = first || req.resourceNamesSubscribe.length > 0;
  const wildcard = t.wildcardCovers;
  for (const n of change.removed) {
    if (n !== WILDCARD && wildcard) {
      t.force(n);
      due = true;
    }
  }
  if (first || change.removed.length > 0) t.prune();
  if (first) openVhds(t);
  return { answer, stale, due };
}

/**
 * plan: each resource stands alone. Sent: subscribed resources the client does not hold at the
 * current version (or was asked to get again), unless that version was NACKed on this stream.
 * removed_resources: names the client holds that are gone, and explicitly subscribed names that do
 * not exist — told at once, so the client need not wait for a timeout. The first response of a type
 * is sent even when empty, so a client's initial fetch completes.
 */
function plan(t: TypeState, resources: TypeResources): Plan | 'parked' | undefined {
  if (heldUnchanged(t, resources)) return undefined;
  const want = t.desired(resources);
  // The client holds an earlier set of exactly the names it wants: send what changed between them.
  const heldSet = t.heldSet;
  if (want === resources.items && heldSet && t.ack.parkedCount === 0 && allIn(t.forcedNames, resources)) {
    return planFromHeld(t, heldSet, resources);
  }
  const forced = t.forcedNames;
  const sent: EncodedResource[] = [];
  const removed = new Set<string>();
  const updated: string[] = [];
  const added: EncodedResource[] = [];
  let parked = false;
  for (const [n, r] of want) {
    const held = t.heldVersion(n);
    if (r) {
      if (held === r.version && !forced.has(n)) continue;
      if (t.ack.parkedVersionOf(n) === r.version) {
        parked = true;
        continue;
      }
      sent.push(r);
      if (held === undefined || held === MISSING) added.push(r);
      else if (held !== r.version) updated.push(n);
    } else if (held !== MISSING || forced.has(n)) {
      removed.add(n);
    }
  }
  for (const [n, held] of t.heldVersions()) if (held !== MISSING && !want.has(n)) removed.add(n);
  for (const n of forced) if (!want.has(n)) removed.add(n);
  if (sent.length === 0 && removed.size === 0 && !t.firstResponseDue) {
    t.parked();
    return parked ? 'parked' : undefined;
  }
  sent.sort(byName);
  const gone = [...removed].sort(compareKeys);
  return deltaPlan(t, resources, sent, gone, updated, added, {
    resources: sent,
    missing: gone.filter((n) => want.has(n)),
    gone: gone.filter((n) => !want.has(n)),
    // Nothing held back: the client now holds exactly the shared set, kept by reference.
    thenSet: want === resources.items && !parked ? resources : undefined,
  });
}

/**
 * heldUnchanged says nothing is due because the client holds a set, subscribes to exactly its names,
 * and none of them changed or went away in `resources`: the snapshot only grew by names not
 * subscribed yet (a new cluster's assignment, before Envoy asks for it). The held set stays, so
 * the subscription that follows is answered from it without a per-name walk.
 */
function heldUnchanged(t: TypeState, resources: TypeResources): boolean {
  const held = t.heldSet;
  if (!held || held === resources || t.wildcard || t.subscribedNames !== namesOf(held)) return false;
  if (t.forcedNames.size > 0 || t.retainedCount > 0 || t.firstResponseDue || t.ack.parkedCount > 0) return false;
  const d = t.views.diff(held, resources);
  return d.changed.length === 0 && d.removed.length === 0;
}

function allIn(names: ReadonlySet<string>, resources: TypeResources): boolean {
  for (const n of names) if (!resources.items.has(n)) return false;
  return true;
}

/** planFromHeld is plan for a client known to hold `held` and to want exactly `resources`. */
function planFromHeld(t: TypeState, held: TypeResources, resources: TypeResources): Plan | undefined {
  const { changed: updated, added, removed: gone } = t.views.diff(held, resources);
  // Names (re)subscribed since are sent even if held (the client may have dropped them).
  const again = [...t.forcedNames].filter((n) => held.items.get(n)?.version === resources.items.get(n)!.version);
  if (updated.length === 0 && added.length === 0 && gone.length === 0 && again.length === 0 && !t.firstResponseDue) {
    return undefined;
  }
  const sent = [...updated, ...again]
    .map((n) => resources.items.get(n)!)
    .concat(added)
    .sort(byName);
  return deltaPlan(t, resources, sent, gone, updated, added, { set: resources });
}

/** deltaPlan wraps a computed response; `holds` is what the client holds once it is written. */
function deltaPlan(
  t: TypeState,
  resources: TypeResources,
  sent: readonly EncodedResource[],
  gone: readonly string[],
  updated: readonly string[],
  added: readonly EncodedResource[],
  holds: SentHolds,
): Plan {
  const version = resources.version;
  return {
    typeUrl: t.typeUrl,
    version,
    resources: sent,
    removed: gone,
    updated,
    added,
    commit(nonce, now) {
      t.sent({ nonce, version, wireVersion: systemVersionInfo(nonce), at: now, resources: sent }, holds);
    },
  };
}

/** delta is the incremental variant. */
export const delta: Protocol<DeltaDiscoveryRequest> = {
  message: (req) => req,
  mode: 'delta',
  head,
  onRequest,
  plan,
  encode: (p, nonce, controlPlane) => {
    const response = {
      typeUrl: p.typeUrl,
      version: systemVersionInfo(nonce),
      resources: p.resources,
      removed: p.removed,
    };
    return encodeDeltaResponse(response, nonce, controlPlane);
  },
};
