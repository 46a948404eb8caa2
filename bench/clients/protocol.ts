// Messages between the bench driver and its client worker processes (child_process IPC, JSON).
import type { Expectation, TypeShort } from '../workload/changes.js';

export type { Expectation, TypeShort };

/** ClientMode: Envoy-like State of the World or Delta ADS, or `raw` (send one request, ACK whatever comes). */
export type ClientMode = 'sotw' | 'delta' | 'on-demand' | 'raw-sotw' | 'raw-delta';

/** StreamSpec is one simulated Envoy: its node identity. */
export interface StreamSpec {
  readonly index: number;
  readonly nodeId: string;
  readonly cluster: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** On-demand streams: the services this sidecar calls (fetched once it is synced). */
  readonly calls?: readonly string[];
}

export type ByType = Record<TypeShort | 'other', number>;

export function byType(): ByType {
  return { cds: 0, eds: 0, lds: 0, rds: 0, vhds: 0, other: 0 };
}

/** StreamReport is what one stream saw since the last report. */
export interface StreamReport {
  readonly index: number;
  /** Client-side time of the last ACK written, or null when nothing arrived. */
  readonly lastAckAt: number | null;
  readonly firstRecvAt: number | null;
  readonly bytes: ByType;
  readonly responses: ByType;
  /** Per expectation, the ACK time of the response that met it (null: not met). */
  readonly metAt: Array<number | null>;
  readonly error?: string;
}

export type DriverMessage =
  | {
      op: 'open';
      target: string;
      mode: ClientMode;
      streams: StreamSpec[];
      concurrency: number;
      timeoutMs: number;
      sentinel: boolean;
      nodeEveryRequest: boolean;
      rawAckNames?: number;
    }
  | { op: 'expect'; expectations: Expectation[] }
  | { op: 'report' }
  | { op: 'close' };

export type WorkerMessage =
  | { op: 'ready' }
  | {
      op: 'opened';
      synced: number;
      failed: number;
      errors: string[];
      syncMs: number[];
      missing: Partial<Record<TypeShort, number>>;
    }
  | { op: 'armed' }
  | { op: 'activity'; responses: number; lastRecvAt: number; met: number; streams: number; errors: number }
  | { op: 'report'; streams: StreamReport[]; decodeErrors: string[] }
  | { op: 'closed' };
