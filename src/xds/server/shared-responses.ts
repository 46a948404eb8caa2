// Responses with the same content on many streams (a changed assignment pushed to every sidecar, a
// route configuration to every stream of a node group) are encoded once and written as the same
// bytes. The nonce is part of those bytes, so it is named after the content: `c<id>`, ids counting
// up in the order contents are first seen. A nonce only has to be new on its stream and type, so a
// stream takes a content nonce only when its id is above every content id it used for that type;
// otherwise (the same content again, e.g. after a resubscription) the stream gets a nonce of its
// own, `s<n>`, and bytes of its own.
import { createHash } from 'node:crypto';
import { ByteBoundedCache } from '../byte-bounded-cache.js';
import type { EncodedResource } from '../snapshot.js';
import type { Plan, StreamMode } from './protocol.js';

/** SharedResponse is one encoded response and the content nonce inside it. */
export interface SharedResponse {
  readonly id: number;
  readonly nonce: string;
  readonly bytes: Buffer;
}

// Recent responses kept for reuse, by total bytes (least recently used out first). A push writes the same content
// to its streams within one pass, so recent contents are all that is needed.
const DEFAULT_MAX_BYTES = 32 * 1024 * 1024;

// Digests of contents seen once, each standing for about this many bytes.
const SEEN_ENTRY_BYTES = 96;
const SEEN_MAX_BYTES = 512 * 1024;

/**
 * SharedResponses is one server's cache of encoded responses by content. A content that carries
 * names a client chose (Delta removals: a client may subscribe to any names, which are then
 * removed) is kept only once a second stream is sent it, so a response only one client gets is
 * never held after it is written and what clients send cannot fill the cache; such a push to many
 * streams is encoded twice instead of once.
 */
export class SharedResponses {
  private readonly byKey: ByteBoundedCache<string, SharedResponse>;
  private readonly seenOnce: ByteBoundedCache<string, true>;
  private lastId = 0;

  constructor(maxBytes = DEFAULT_MAX_BYTES) {
    // A response larger than a fraction of the budget would push out everything else. Keys count
    // too: they name every resource a response carries.
    this.byKey = new ByteBoundedCache({
      maxBytes,
      maxEntryBytes: maxBytes / 8,
      sizeOf: (r, key) => r.bytes.length + 2 * key.length,
    });
    this.seenOnce = new ByteBoundedCache({ maxBytes: SEEN_MAX_BYTES, sizeOf: () => SEEN_ENTRY_BYTES });
  }

  /**
   * get returns the response for content `key`, encoding it with a new content nonce unless it is
   * kept. With `clientNamed`, the content is kept only when it is asked for a second time.
   */
  get(key: string, encode: (nonce: string) => Buffer, clientNamed = false): SharedResponse {
    const hit = this.byKey.get(key);
    if (hit) return hit;
    const id = ++this.lastId;
    const nonce = `c${id}`;
    const r: SharedResponse = { id, nonce, bytes: encode(nonce) };
    if (!clientNamed) {
      this.byKey.set(key, r);
      return r;
    }
    const digest = createHash('sha1').update(key).digest('base64');
    if (this.seenOnce.get(digest)) {
      this.seenOnce.delete(digest);
      this.byKey.set(key, r);
    } else {
      this.seenOnce.set(digest, true);
    }
    return r;
  }
}

function resourcesKey(resources: readonly EncodedResource[]): string {
  let key = '';
  for (const r of resources) key += `${r.name.length}:${r.name}${r.version}\n`;
  return key;
}

/**
 * contentKey names everything a response carries besides its nonce: the type, the resources (by
 * name and content version), Delta's removals, and SotW's version_info. Names are length-prefixed,
 * so two different contents never share a key. Delta's system_version_info is the nonce itself (it
 * is for debugging only), so equal Delta content is equal bytes across node groups.
 */
export function contentKey(mode: StreamMode, plan: Plan): string {
  // A SotW type set's whole list is named by its version (a hash of the set): no walk, and no key
  // kept per list (a thousand node groups' lists would hold a key of ~75 KB each).
  const resources = plan.shared ? '*' : resourcesKey(plan.resources);
  let key = `${plan.typeUrl}\n${mode === 'sotw' ? plan.version : ''}\n${resources}`;
  // Removed names come from clients: each is length-prefixed, so no name can pose as a list of others.
  for (const n of plan.removed) key += `-${n.length}:${n}`;
  return key;
}
