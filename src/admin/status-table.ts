// Formats /debug/syncz (the server's NodeStatus rows, joined with each node's service by
// admin/syncz.ts) as a proxy-status table: one row per stream, one column per type.
import { PUSH_ORDER, SHORT_NAMES } from '../xds/resource.js';

/** StatusTypeRow is the part of a NodeStatus type entry the table reads. */
export interface StatusTypeRow {
  readonly sentVersion?: string;
  readonly sentNonce?: string;
  readonly ackedVersion?: string;
  readonly ackedNonce?: string;
  readonly lastNack?: { readonly version?: string; readonly nonce?: string };
  readonly pending?: boolean;
}

/** StatusRow is the part of a /debug/syncz row the table reads. */
export interface StatusRow {
  readonly nodeId: string;
  readonly service?: string;
  readonly namespace?: string;
  readonly mode?: string;
  readonly types?: Readonly<Record<string, StatusTypeRow | undefined>>;
  /** On-demand sidecars: how many virtual hosts and clusters they hold. */
  readonly onDemand?: { readonly virtualHosts: number; readonly clusters: number };
}

export type TypeState = 'SYNCED' | 'STALE' | 'NACKED' | 'NOT SENT' | '-';

/**
 * typeState says what the client holds of one type, compared by nonce (the one thing every
 * response has, SotW or Delta): SYNCED when it ACKed the latest response and nothing newer is
 * due; NACKED when it rejected the latest response; STALE when a response is unanswered or due;
 * NOT SENT when it asked but nothing was sent yet; `-` when it never asked for the type.
 */
export function typeState(t: StatusTypeRow | undefined): TypeState {
  if (!t) return '-';
  if (!t.sentNonce && !t.sentVersion) return 'NOT SENT';
  const latest = t.sentNonce ?? t.sentVersion;
  if (t.lastNack && (t.lastNack.nonce ?? t.lastNack.version) === latest) return 'NACKED';
  const acked = t.sentNonce ? t.ackedNonce : t.ackedVersion;
  return acked === latest && !t.pending ? 'SYNCED' : 'STALE';
}

function serviceOf(r: StatusRow): string {
  if (!r.service) return '-';
  return r.namespace ? `${r.service}.${r.namespace}` : r.service;
}

/** CDS, EDS, LDS and RDS (the head of PUSH_ORDER) have a column even when no stream asked for them. */
const ALWAYS_SHOWN = 4;

/**
 * onDemandOf is what an on-demand sidecar holds, `<n>vh/<n>c` (virtual hosts, clusters); `-` for a full-state client.
 */
function onDemandOf(r: StatusRow): string {
  return r.onDemand ? `${r.onDemand.virtualHosts}vh/${r.onDemand.clusters}c` : '-';
}

function rowsOf(body: unknown): StatusRow[] {
  const rows = Array.isArray(body) ? body : (body as { streams?: unknown } | null)?.streams;
  if (!Array.isArray(rows)) throw new TypeError('not a /debug/syncz answer: expected a list of streams');
  return rows as StatusRow[];
}

/** formatStatus renders a /debug/syncz answer as an aligned text table with a header row. */
export function formatStatus(body: unknown): string {
  const rows = rowsOf(body);
  // The four Envoy types always; VHDS, the limiter's configuration and what on-demand sidecars hold
  // only when some stream has them.
  const types = PUSH_ORDER.filter((t, i) => i < ALWAYS_SHOWN || rows.some((r) => r.types?.[t] !== undefined));
  const onDemand = rows.some((r) => r.onDemand !== undefined);
  const header = [
    'NODE',
    'SERVICE',
    'MODE',
    ...types.map((t) => SHORT_NAMES[t].toUpperCase()),
    ...(onDemand ? ['ON-DEMAND'] : []),
  ];
  const table = [
    header,
    ...rows.map((r) => [
      r.nodeId || '(no node yet)',
      serviceOf(r),
      r.mode ?? '',
      ...types.map((t) => typeState(r.types?.[t])),
      ...(onDemand ? [onDemandOf(r)] : []),
    ]),
  ];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table
    .map((row) =>
      row
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
