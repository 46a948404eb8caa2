// Per-process caches of what clients derive from resources (a cluster's assignment name, a
// listener's route names), keyed by the version the server gave the content. Thousands of streams
// receive the same resources; deriving once per version keeps the client processes from being
// the bottleneck. A server that reused a version for other content would be caught by the
// sentinel streams, which decode everything in full.
import type { ClusterView, Codec } from './codec.js';

class Bounded<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string, build: () => V): V {
    let v = this.map.get(key);
    if (v === undefined) {
      if (this.map.size >= this.max) this.map.clear();
      this.map.set(key, (v = build()));
    }
    return v;
  }
}

/** NameSet is a sorted name list and the same names as a set, both shared and never changed. */
export interface NameSet {
  readonly list: readonly string[];
  readonly set: ReadonlySet<string>;
}

/** Views derives and caches resource facts for one client process. */
export class Views {
  private readonly sotwClusters = new Bounded<ClusterView[]>(256);
  private readonly sotwEds = new Bounded<string[]>(256);
  private readonly sotwRoutes = new Bounded<string[]>(256);
  private readonly deltaClusters = new Bounded<ClusterView>(200_000);
  private readonly deltaRoutes = new Bounded<string[]>(10_000);

  // Names and name lists every stream of the process holds: one copy each, not one per stream.
  // A Delta stream holds a thousand cluster names; thousands of streams holding their own copies
  // made the client processes' heaps five times the size of grpc-js's own state, and their
  // full collections landed inside the pushes being measured.
  private readonly names = new Map<string, string>();
  private readonly nameSets = new Bounded<NameSet>(4096);

  constructor(readonly codec: Codec) {}

  /** intern returns the process's one copy of a resource name. */
  intern(name: string): string {
    const hit = this.names.get(name);
    if (hit !== undefined) return hit;
    if (this.names.size >= 1_000_000) this.names.clear();
    this.names.set(name, name);
    return name;
  }

  /** nameSet returns the process's one copy of a sorted name list, with its set. */
  nameSet(sorted: readonly string[]): NameSet {
    return this.nameSets.get(sorted.join('\n'), () => ({ list: sorted, set: new Set(sorted) }));
  }

  /** sotwClusterSet lists the clusters of a full SotW CDS response. */
  sotwClusterSet(version: string, values: readonly Buffer[]): ClusterView[] {
    return this.sotwClusters.get(`${version}\0${values.length}`, () => values.map((v) => this.codec.clusterView(v)));
  }

  /** sotwEdsNames lists the assignment names of a full SotW CDS response's EDS clusters, sorted: one array per version, shared by the streams (and their encoded ACKs). */
  sotwEdsNames(version: string, values: readonly Buffer[]): string[] {
    return this.sotwEds.get(`${version}\0${values.length}`, () =>
      [...new Set(this.sotwClusterSet(version, values).flatMap((c) => (c.edsName ? [c.edsName] : [])))].sort(),
    );
  }

  /** sotwRouteNames lists the route configurations every listener of a full SotW LDS response names. */
  sotwRouteNames(version: string, values: readonly Buffer[]): string[] {
    return this.sotwRoutes.get(`${version}\0${values.length}`, () =>
      [...new Set(values.flatMap((v) => this.codec.routeNames(v)))].sort(),
    );
  }

  deltaCluster(name: string, version: string, value: Buffer): ClusterView {
    return this.deltaClusters.get(`${name}\0${version}`, () => this.codec.clusterView(value));
  }

  deltaRouteNames(name: string, version: string, value: Buffer): string[] {
    return this.deltaRoutes.get(`${name}\0${version}`, () => this.codec.routeNames(value));
  }
}
