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

/** Views derives and caches resource facts for one client process. */
export class Views {
  private readonly sotwClusters = new Bounded<ClusterView[]>(256);
  private readonly sotwEds = new Bounded<string[]>(256);
  private readonly sotwRoutes = new Bounded<string[]>(256);
  private readonly deltaClusters = new Bounded<ClusterView>(200_000);
  private readonly deltaRoutes = new Bounded<string[]>(10_000);

  constructor(readonly codec: Codec) {}

  /** sotwClusterSet lists the clusters of a full SotW CDS response. */
  sotwClusterSet(version: string, values: readonly Buffer[]): ClusterView[] {
    return this.sotwClusters.get(`${version}\0${values.length}`, () => values.map((v) => this.codec.clusterView(v)));
  }

  /** sotwEdsNames lists the assignment names of a full SotW CDS response's EDS clusters, sorted: one array per version, shared by the streams (and their encoded ACKs). */
  sotwEdsNames(version: string, values: readonly Buffer[]): string[] {
    return this.sotwEds.get(`${version}\0${values.length}`, () => [...new Set(this.sotwClusterSet(version, values).flatMap((c) => (c.edsName ? [c.edsName] : [])))].sort());
  }

  /** sotwRouteNames lists the route configurations every listener of a full SotW LDS response names. */
  sotwRouteNames(version: string, values: readonly Buffer[]): string[] {
    return this.sotwRoutes.get(`${version}\0${values.length}`, () => [...new Set(values.flatMap((v) => this.codec.routeNames(v)))].sort());
  }

  deltaCluster(name: string, version: string, value: Buffer): ClusterView {
    return this.deltaClusters.get(`${name}\0${version}`, () => this.codec.clusterView(value));
  }

  deltaRouteNames(name: string, version: string, value: Buffer): string[] {
    return this.deltaRoutes.get(`${name}\0${version}`, () => this.codec.routeNames(value));
  }
}
