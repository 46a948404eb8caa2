// Messages between the driver and the bench's bridge process (servers/bridge-main.ts).

export interface BridgeMainOptions {
  readonly file?: string;
  /** host:port of a Polaris (or fake Polaris) service-grpc listener. */
  readonly polaris?: string;
  readonly debounceMs?: number;
  readonly pollIntervalMs?: number;
  readonly logLevel?: string;
}

/** ProbeEvent: a mesh state entered the snapshot cache (`setMesh`) or a rebuild ran (`rebuild`). */
export interface ProbeEvent {
  readonly op: 'probe';
  readonly kind: 'setMesh' | 'rebuild';
  readonly at: number;
  readonly ms: number;
  readonly groups: number;
}

export interface MemoryMessage {
  readonly op: 'memory';
  readonly rss: number;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number;
  readonly arrayBuffers: number;
}

export type BridgeChildMessage =
  | { op: 'ready'; xdsPort: number; adminPort: number; probed: string[] }
  | ProbeEvent
  | MemoryMessage
  | { op: 'profiled'; error?: string };

/** `profile`: start a CPU profile, or stop it and write it to `file`; answered with `profiled`. */
export type BridgeParentMessage = { op: 'memory'; gc: boolean } | { op: 'stop' } | { op: 'profile'; file?: string };
