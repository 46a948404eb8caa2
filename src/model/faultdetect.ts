// Fault-detect rules (Polaris FAULT_DETECTOR): active health checks of a service's instances,
// every field as Polaris serves it. How polaris-xds enforces them is in docs/governance.md.
import type { MatchString } from './mesh.js';

export type FaultDetectProtocol = 'UNKNOWN' | 'HTTP' | 'TCP' | 'UDP';

/** FaultDetectHeader is one header an HTTP check sends. */
export interface FaultDetectHeader {
  readonly key: string;
  readonly value: string;
}

/** FaultDetectRule is one Polaris fault-detect rule. */
export interface FaultDetectRule {
  readonly id: string;
  readonly name: string;
  readonly namespace: string;
  readonly revision: string;
  readonly ctime: string;
  readonly mtime: string;
  readonly description: string;
  /** The service checked (`*` = any in the namespace), and a method (checks for METHOD-level circuit breakers). */
  readonly target: { readonly service: string; readonly namespace: string; readonly method?: MatchString };
  /** Seconds between checks; 0 means polaris-go's default (10). */
  readonly intervalSeconds: number;
  /** Milliseconds a check may take; 0 means not set. */
  readonly timeoutMs: number;
  /** 0 means each instance's own port. */
  readonly port: number;
  readonly protocol: FaultDetectProtocol;
  readonly http: {
    readonly method: string;
    readonly url: string;
    readonly headers: readonly FaultDetectHeader[];
    readonly body: string;
  };
  /** Hex-encoded payloads: `send`, and the answers that count as healthy. */
  readonly tcp: { readonly send: string; readonly receive: readonly string[] };
  readonly udp: { readonly send: string; readonly receive: readonly string[] };
}
