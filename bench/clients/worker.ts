// A client worker process: hosts a share of the simulated Envoys and answers the driver over IPC.
// Started by clients/pool.ts; exits when the driver goes away.
import { nowMs, sleep } from '../lib/clock.js';
import { loadCodec } from './codec.js';
import { SimStream } from './envoy-sim.js';
import type { ClientMode, DriverMessage, StreamSpec, TypeShort, WorkerMessage } from './protocol.js';
import { Views } from './views.js';
import { outboundCluster } from '../../src/xds/translate/names.js';

const ACTIVITY_EVERY_MS = 25;

const views = new Views(loadCodec());
let streams: SimStream[] = [];
let responses = 0;
let lastRecvAt = 0;
let dirty = false;

function send(m: WorkerMessage): void {
  process.send?.(m);
}

function onActivity(recvAt: number): void {
  responses++;
  lastRecvAt = Math.max(lastRecvAt, recvAt);
  dirty = true;
}

function sendActivity(): void {
  dirty = false;
  let met = 0;
  let errors = 0;
  for (const s of streams) {
    if (s.allMet) met++;
    if (s.error) errors++;
  }
  send({ op: 'activity', responses, lastRecvAt, met, streams: streams.length, errors });
}

const activity = setInterval(() => dirty && sendActivity(), ACTIVITY_EVERY_MS);

// One shared list per size: raw streams ACK with it as Envoy ACKs EDS with every cluster it knows.
const rawAckLists = new Map<number, string[]>();
function rawAckList(n: number): string[] {
  let list = rawAckLists.get(n);
  if (!list)
    rawAckLists.set(
      n,
      (list = Array.from({ length: n }, (_, i) => outboundCluster('bench', `svc-${String(i).padStart(5, '0')}`))),
    );
  return list;
}

/** open starts streams with at most `concurrency` still syncing at a time, bounded by `timeoutMs`. */
async function open(
  target: string,
  mode: ClientMode,
  specs: StreamSpec[],
  concurrency: number,
  timeoutMs: number,
  sentinel: boolean,
  nodeEveryRequest: boolean,
  rawAckNames: number,
): Promise<void> {
  const ackNames = rawAckList(rawAckNames);
  const deadline = nowMs() + timeoutMs;
  const opened: SimStream[] = [];
  let syncing = 0;
  let next = 0;
  let wake: (() => void) | undefined;
  const done = () => {
    syncing--;
    wake?.();
  };
  while (next < specs.length && nowMs() < deadline) {
    if (syncing >= concurrency) {
      await Promise.race([new Promise<void>((r) => (wake = r)), sleep(50)]);
      continue;
    }
    const spec = specs[next++]!;
    const s = new SimStream(
      spec,
      mode,
      views,
      sentinel && streams.length + opened.length === 0,
      nodeEveryRequest,
      ackNames,
      onActivity,
    );
    opened.push(s);
    streams.push(s);
    syncing++;
    s.open(target, done);
    // Let the event loop breathe between connects.
    if (next % 25 === 0) await sleep(0);
  }
  while (opened.some((s) => !s.synced && !s.error) && nowMs() < deadline) await sleep(20);
  const errors = [...new Set(opened.flatMap((s) => (s.error ? [s.error] : [])))].slice(0, 5);
  const missing: Partial<Record<TypeShort, number>> = {};
  for (const s of opened) if (!s.synced) for (const t of s.missing()) missing[t] = (missing[t] ?? 0) + 1;
  send({
    op: 'opened',
    synced: opened.filter((s) => s.synced).length,
    failed: opened.filter((s) => !s.synced).length,
    errors,
    syncMs: opened.flatMap((s) => (s.syncMs === null ? [] : [s.syncMs])),
    missing,
  });
}

process.on('message', (raw) => {
  const m = raw as DriverMessage;
  switch (m.op) {
    case 'open':
      void open(
        m.target,
        m.mode,
        m.streams,
        m.concurrency,
        m.timeoutMs,
        m.sentinel,
        m.nodeEveryRequest,
        m.rawAckNames ?? 0,
      );
      return;
    case 'expect':
      for (const s of streams) s.expect(m.expectations);
      sendActivity();
      send({ op: 'armed' });
      return;
    case 'report':
      send({
        op: 'report',
        streams: streams.map((s) => s.report()),
        decodeErrors: streams.flatMap((s) => s.decodeErrors),
      });
      return;
    case 'close':
      for (const s of streams) s.close();
      streams = [];
      clearInterval(activity);
      send({ op: 'closed' });
      setTimeout(() => process.exit(0), 50);
      return;
  }
});

process.on('disconnect', () => process.exit(0));
send({ op: 'ready' });
