// Metrics the xDS server does not keep itself, derived from its lifecycle hooks: streams by the
// types they subscribe to, and convergence time (mesh change → client ACK). The server's own
// metrics (src/xds/server/metrics.ts) stay where they are; this only adds to them.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { HeldObservations } from '../metrics.js';
import { PUSH_ORDER, SHORT_NAMES, type TypeUrl } from '../xds/resource.js';
import type { XdsHooks } from '../xds/server/hooks.js';
import { ConvergenceClock } from './convergence.js';

interface TypeSeen {
  ackedVersion?: string;
  ackedAt?: number;
}
interface StreamSeen {
  readonly mode: string;
  readonly types: Map<TypeUrl, TypeSeen>;
}

/** XdsObserver turns server hooks and mesh events into metrics. */
export interface XdsObserver {
  /** The hooks to give createXdsServer. */
  readonly hooks: XdsHooks;
  /** meshChanged notes that the source published a new mesh state. */
  meshChanged(): void;
  /** built notes that the snapshot cache rebuilt its snapshots. */
  built(): void;
}

/** createXdsObserver registers its metrics on `registry`; `now` is injectable for tests. */
export function createXdsObserver(registry: Registry, now: () => number = Date.now): XdsObserver {
  const registers = [registry];
  const subscribed = new Gauge({
    name: 'polaris_xds_subscribed_streams',
    help: 'Open ADS streams that subscribed to a type, by type and protocol variant.',
    labelNames: ['type', 'mode'],
    registers,
  });
  // A change ACKed by thousands of streams: observations are held until the histogram is collected.
  const convergence = new Histogram({
    name: 'polaris_xds_convergence_seconds',
    help: 'Time from a mesh change being published to a client ACKing the version built from it, by type.',
    labelNames: ['type'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers,
    collect: (): void => held.flush(),
  });
  const held = new HeldObservations(
    convergence,
    PUSH_ORDER.map((type) => ({ type: SHORT_NAMES[type] })),
  );
  const meshUpdates = new Counter({
    name: 'polaris_xds_mesh_updates_total',
    help: 'Mesh states published by the source (Polaris or file).',
    registers,
  });
  const clock = new ConvergenceClock();
  const streams = new Map<number, StreamSeen>();

  const stream = (id: number, mode: string): StreamSeen => {
    let s = streams.get(id);
    if (!s) {
      s = { mode, types: new Map() };
      streams.set(id, s);
    }
    return s;
  };

  const hooks: XdsHooks = {
    onRequest: ({ streamId, mode, typeUrl }) => {
      const s = stream(streamId, mode);
      if (s.types.has(typeUrl)) return;
      s.types.set(typeUrl, {});
      subscribed.inc({ type: SHORT_NAMES[typeUrl], mode });
    },
    onAck: ({ streamId, mode, typeUrl, version, latencyMs }) => {
      const t = stream(streamId, mode).types.get(typeUrl);
      if (!t || t.ackedVersion === version) return;
      const at = now();
      const seconds = clock.seconds(at - latencyMs, at, t.ackedAt);
      if (seconds !== undefined) held.observe(PUSH_ORDER.indexOf(typeUrl), seconds);
      t.ackedVersion = version;
      t.ackedAt = at;
    },
    onStreamClosed: ({ streamId }) => {
      const s = streams.get(streamId);
      if (!s) return;
      streams.delete(streamId);
      for (const typeUrl of s.types.keys()) subscribed.dec({ type: SHORT_NAMES[typeUrl], mode: s.mode });
    },
  };

  return {
    hooks,
    meshChanged: () => {
      meshUpdates.inc();
      clock.meshChanged(now());
    },
    built: () => clock.built(now()),
  };
}
