// Response assembly by splicing: each resource's bytes were encoded once (EncodedResource.any /
// .delta) and are copied into the response envelope; nothing is re-encoded per stream
// (invariant 3). Field numbers: envoy/service/discovery/v3/discovery.proto.
import type { EncodedResource } from '../snapshot.js';
import { ByteBoundedCache } from '../byte-bounded-cache.js';
import { bytesField, message, str, type Part } from '../wire.js';

/** SotwBody is what one DiscoveryResponse carries besides its nonce. */
export interface SotwBody {
  readonly typeUrl: string;
  readonly version: string;
  readonly resources: readonly EncodedResource[];
  /** `resources` is shared by many streams: its encoded section is built once and reused. */
  readonly shared?: boolean;
}

// Shared resource lists (a snapshot type set's whole list) have their `resources` section spliced
// once and reused by the streams of the group that holds it. Bounded by bytes, least recently used
// out first: with a thousand node groups, keeping every group's route configuration section would
// hold hundreds of megabytes for lists that are sent in one burst and then rarely again.
export const DEFAULT_SECTION_CACHE_BYTES = 64 * 1024 * 1024;

/** ResourceSections is one server's cache of spliced `resources` sections of shared lists. */
export class ResourceSections {
  private readonly cache: ByteBoundedCache<readonly EncodedResource[], Buffer>;

  constructor(maxBytes = DEFAULT_SECTION_CACHE_BYTES) {
    this.cache = new ByteBoundedCache({ maxBytes, sizeOf: (b) => b.length });
  }

  /** section is the spliced section of `resources`, kept for reuse when the list is shared. */
  section(resources: readonly EncodedResource[], shared: boolean | undefined): Buffer {
    const hit = shared ? this.cache.get(resources) : undefined;
    if (hit) return hit;
    const section = message(resources.map((r) => bytesField(2, r.any)));
    if (shared) this.cache.set(resources, section);
    return section;
  }
}

/** DeltaBody is what one DeltaDiscoveryResponse carries besides its nonce. */
export interface DeltaBody {
  readonly typeUrl: string;
  /** system_version_info: for debugging only, per the protocol. */
  readonly version: string;
  readonly resources: readonly EncodedResource[];
  readonly removed: readonly string[];
}

/** encodeControlPlane encodes envoy.config.core.v3.ControlPlane { identifier = 1 }. */
export function encodeControlPlane(identifier: string): Buffer {
  return message([str(1, identifier)]);
}

/**
 * encodeSotwResponse splices a DiscoveryResponse: version_info 1, resources 2, type_url 4, nonce 5, control_plane 6.
 */
export function encodeSotwResponse(
  body: SotwBody,
  nonce: string,
  controlPlane?: Buffer,
  sections?: ResourceSections,
): Buffer {
  // Fields may come in any order on the wire; the repeated field is one pre-spliced section.
  const head = message([str(1, body.version)]);
  const tail = message([str(4, body.typeUrl), str(5, nonce), controlPlane && bytesField(6, controlPlane)]);
  const resources = sections
    ? sections.section(body.resources, body.shared)
    : message(body.resources.map((r) => bytesField(2, r.any)));
  return Buffer.concat([head, resources, tail]);
}

/**
 * encodeDeltaResponse splices a DeltaDiscoveryResponse: system_version_info 1, resources 2,
 * type_url 4, nonce 5, removed_resources 6, control_plane 7.
 */
export function encodeDeltaResponse(body: DeltaBody, nonce: string, controlPlane?: Buffer): Buffer {
  const parts: Array<Part | undefined> = [str(1, body.version)];
  for (const r of body.resources) parts.push(bytesField(2, r.delta));
  parts.push(str(4, body.typeUrl), str(5, nonce));
  // An empty name is still a name: bytesField keeps it where str() would drop it.
  for (const n of body.removed) parts.push(bytesField(6, Buffer.from(n, 'utf8')));
  if (controlPlane) parts.push(bytesField(7, controlPlane));
  return message(parts);
}

/** setVersion is the SotW version of a set of resources; see src/xds/snapshot.ts. */
export { setVersion } from '../snapshot.js';
