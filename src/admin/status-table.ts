// Formats /debug/syncz as a proxy-status table: one row per node, one column per type.
import { SHORT_NAMES, PUSH_ORDER } from '../xds/resource.js';

interface TypeStatus {
  sentVersion?: string;
  ackedVersion?: string;
  lastNack?: { version?: string; message?: string };
}
interface NodeRow {
  nodeId: string;
  mode?: string;
  types?: Record<string, TypeStatus>;
}

/** typeState says SYNCED (client ACKed what was sent), NACKED, STALE (sent, not ACKed) or NOT SENT. */
export function typeState(t: TypeStatus | undefined): string {
  if (!t || !t.sentVersion) return 'NOT SENT';
  if (t.lastNack && t.lastNack.version === t.sentVersion) return 'NACKED';
  return t.ackedVersion === t.sentVersion ? 'SYNCED' : 'STALE';
}

export function formatStatus(body: unknown): string {
  const rows = (Array.isArray(body) ? body : ((body as { streams?: unknown[] })?.streams ?? [])) as NodeRow[];
  const header = ['NODE', 'MODE', ...PUSH_ORDER.map((t) => SHORT_NAMES[t].toUpperCase())];
  const table = [header, ...rows.map((r) => [r.nodeId, r.mode ?? '', ...PUSH_ORDER.map((t) => typeState(r.types?.[t]))])];
  const widths = header.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
