// The syncer's memory: the last good answer of every key and the revision to send next, and the
// MeshState built from them. Only a successful answer changes anything here (invariant 5): error
// answers never reach this file. A build shares unchanged Service objects with the previous one.
import type { DiscoverResponse } from '../gen/v1/discover.js';
import { meshState, serviceKey, type MeshState, type Service, type ServiceRef } from '../model/mesh.js';
import { convertServiceList, type ServiceEntry, type SkippedItem } from './convert.js';
import { sameData } from './equal.js';
import { keyId, SERVICE_KINDS, type DiscoverKey, type ServiceKind } from './keys.js';
import { KINDS, type KindValues } from './kinds.js';
import { TrueCallers } from './true-callers.js';

interface ServiceSlot {
  entry: ServiceEntry;
  /** The last good answer of each kind, as model; a kind is absent until its first answer. */
  parts: { [K in ServiceKind]?: KindValues[K] };
  /** INSTANCE answered 400202: the service is gone though a SERVICES list may still name it. */
  gone: boolean;
  skips: { [K in ServiceKind]?: readonly SkippedItem[] };
}

/** ApplyResult says what an answer changed: services to start or stop polling, and skips not seen before. */
export interface ApplyResult {
  readonly added: readonly ServiceRef[];
  readonly removed: readonly ServiceRef[];
  readonly newSkips: readonly SkippedItem[];
}

const NOTHING: ApplyResult = { added: [], removed: [], newSkips: [] };

function freshSkips(before: readonly SkippedItem[], after: readonly SkippedItem[]): SkippedItem[] {
  const seen = new Set(before.map((s) => `${s.id}\n${s.reason}`));
  return after.filter((s) => !seen.has(`${s.id}\n${s.reason}`));
}

/** MeshCache holds per-key state and builds MeshStates from it. */
export class MeshCache {
  private readonly revisions = new Map<string, string>();
  /** SERVICES key id → the services its last good answer listed. */
  private readonly lists = new Map<string, Map<string, ServiceEntry>>();
  private readonly slots = new Map<string, ServiceSlot>();
  private readonly built = new Map<string, Service>();
  private readonly dirty = new Set<string>();
  private readonly trueCallers = new TrueCallers();
  private last: MeshState | undefined;

  /** revision is what to send for a key: the revision of its last good answer, or empty. */
  revision(key: DiscoverKey): string {
    return this.revisions.get(keyId(key)) ?? '';
  }

  /** listed says whether a service is named by some SERVICES answer (answers for unlisted ones are stale). */
  listed(ref: ServiceRef): boolean {
    return this.slots.has(serviceKey(ref.namespace, ref.name));
  }

  /** servicesAnswered says whether a SERVICES key has had a good answer. */
  servicesAnswered(key: DiscoverKey): boolean {
    return this.lists.has(keyId(key));
  }

  /**
   * applyServices takes a 200000 SERVICES answer. An empty list is authoritative (an unknown
   * namespace answers so, echoing our own revision), so it is stored with an empty revision.
   */
  applyServices(key: DiscoverKey, resp: DiscoverResponse): ApplyResult {
    const id = keyId(key);
    const entries = convertServiceList(resp.services);
    const next = new Map(
      entries
        .filter((e) => key.namespace === '' || e.namespace === key.namespace)
        .map((e) => [serviceKey(e.namespace, e.name), e]),
    );
    this.revisions.set(id, next.size === 0 ? '' : (resp.service?.revision ?? ''));
    const prev = this.lists.get(id) ?? new Map<string, ServiceEntry>();
    this.lists.set(id, next);
    const added: ServiceRef[] = [];
    const removed: ServiceRef[] = [];
    for (const [k, e] of next) {
      const slot = this.slots.get(k);
      if (slot === undefined) {
        this.slots.set(k, { entry: e, parts: {}, gone: false, skips: {} });
        added.push({ namespace: e.namespace, name: e.name });
      } else if (!sameData(slot.entry.metadata, e.metadata)) {
        slot.entry = e;
        this.dirty.add(k);
      }
    }
    for (const [k, e] of prev) {
      if (next.has(k) || this.listedElsewhere(k, id)) continue;
      this.slots.delete(k);
      for (const type of SERVICE_KINDS) this.revisions.delete(keyId({ type, namespace: e.namespace, service: e.name }));
      this.dirty.add(k);
      removed.push({ namespace: e.namespace, name: e.name });
    }
    return { added, removed, newSkips: [] };
  }

  private listedElsewhere(k: string, exceptId: string): boolean {
    for (const [id, list] of this.lists) if (id !== exceptId && list.has(k)) return true;
    return false;
  }

  /** apply takes a 200000 answer of one service's kind. */
  apply<K extends ServiceKind>(type: K, ref: ServiceRef, resp: DiscoverResponse): ApplyResult {
    const k = serviceKey(ref.namespace, ref.name);
    const slot = this.slots.get(k);
    if (slot === undefined) return NOTHING;
    const spec = KINDS[type];
    const revision = spec.revision(resp);
    this.revisions.set(keyId({ type, namespace: ref.namespace, service: ref.name }), revision);
    const { value, skipped } = spec.convert(ref, resp, revision);
    const newSkips = freshSkips(slot.skips[type] ?? [], skipped);
    slot.skips[type] = skipped;
    const prev = slot.parts[type] as KindValues[K] | undefined;
    // A service back from gone takes the answer as it is (its held part is the empty stand-in).
    const back = type === 'INSTANCE' && slot.gone;
    const kept = back ? value : spec.merge(prev, value);
    if (kept !== prev) {
      (slot.parts as Record<K, KindValues[K]>)[type] = kept;
      this.dirty.add(k);
    }
    if (back) slot.gone = false;
    return { added: [], removed: [], newSkips };
  }

  /** markGone takes a 400202 INSTANCE answer: the service no longer exists. */
  markGone(ref: ServiceRef): void {
    const k = serviceKey(ref.namespace, ref.name);
    const slot = this.slots.get(k);
    if (slot === undefined) return;
    this.revisions.delete(keyId({ type: 'INSTANCE', namespace: ref.namespace, service: ref.name }));
    if (!slot.gone) this.dirty.add(k);
    slot.gone = true;
    slot.parts.INSTANCE = { list: [], revision: '' };
  }

  /** pending lists the services still missing a first answer of some kind. */
  pending(): ServiceRef[] {
    const out: ServiceRef[] = [];
    for (const slot of this.slots.values())
      if (!answered(slot)) out.push({ namespace: slot.entry.namespace, name: slot.entry.name });
    return out;
  }

  /** complete says whether every given SERVICES key and every listed service has answered once. */
  complete(servicesKeys: readonly DiscoverKey[]): boolean {
    if (!servicesKeys.every((k) => this.lists.has(keyId(k)))) return false;
    for (const slot of this.slots.values()) if (!answered(slot)) return false;
    return true;
  }

  /** skipped lists every entry the current answers left out. */
  skipped(): SkippedItem[] {
    const out: SkippedItem[] = [];
    for (const slot of this.slots.values()) for (const type of SERVICE_KINDS) out.push(...(slot.skips[type] ?? []));
    return out;
  }

  /** changed says whether build() would return a new state. */
  get changed(): boolean {
    return this.dirty.size > 0 || this.last === undefined;
  }

  /**
   * build returns a new MeshState when something changed since the last build (else the last
   * one). A service is in it once every kind has answered, and not while gone; unchanged services
   * keep their objects. Outbound rules carry their callee's callers (true-callers.ts).
   */
  build(origin: string): MeshState {
    if (this.last !== undefined && this.dirty.size === 0 && this.last.origin === origin) return this.last;
    for (const k of this.dirty) {
      const slot = this.slots.get(k);
      const p = slot?.parts;
      if (slot === undefined || slot.gone || p === undefined || !answered(slot)) {
        this.built.delete(k);
        continue;
      }
      const instances = p.INSTANCE!;
      const svc: Service = {
        namespace: slot.entry.namespace,
        name: slot.entry.name,
        metadata: slot.entry.metadata,
        instances: instances.list,
        revision: instances.revision,
        routing: p.ROUTING!,
        rateLimits: p.RATE_LIMIT!,
        circuitBreakers: p.CIRCUIT_BREAKER!,
        faultDetectors: p.FAULT_DETECTOR!,
        ...(instances.aliasFor ? { aliasFor: instances.aliasFor } : {}),
      };
      this.built.set(k, svc);
    }
    const services = this.trueCallers.update(this.built, this.dirty);
    this.dirty.clear();
    // Services still waiting for a kind were skipped above; they are dirty again when it arrives.
    this.last = meshState(services, origin);
    return this.last;
  }
}

/** answered says whether every kind of a service has had a good answer. */
function answered(slot: ServiceSlot): boolean {
  return SERVICE_KINDS.every((type) => slot.parts[type] !== undefined);
}
