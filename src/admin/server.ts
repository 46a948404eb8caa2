// The admin HTTP server: health, readiness, Prometheus metrics and read-only debug views.
// It only reads: every view comes through AdminView, so admin never reaches into the cache,
// the server or the syncer directly.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.js';

/** AdminView is the read-only window admin serves from. */
export interface AdminView {
  readonly registry: Registry;
  readiness(): { ready: boolean; reason: string; origin: string };
  /** What node `id` is served, or undefined for an unknown node. */
  configDump(nodeId: string): unknown;
  syncz(): unknown;
  nodes(): unknown;
  source(): unknown;
  /** The mesh being served: services with their instances and rule counts. */
  mesh(): unknown;
  skipped(): unknown;
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(text);
}

const ROUTES = [
  '/healthz',
  '/readyz',
  '/metrics',
  '/debug/config_dump?node=ID',
  '/debug/syncz',
  '/debug/nodes',
  '/debug/sync',
  '/debug/mesh',
  '/debug/skipped',
];

async function handle(view: AdminView, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://admin');
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'only GET is served' });
  switch (url.pathname) {
    case '/healthz':
      return send(res, 200, 'ok\n', 'text/plain');
    case '/readyz': {
      const r = view.readiness();
      return send(res, r.ready ? 200 : 503, r);
    }
    case '/metrics':
      return send(res, 200, await view.registry.metrics(), view.registry.contentType);
    case '/debug/config_dump': {
      const node = url.searchParams.get('node');
      if (!node) return send(res, 400, { error: 'missing ?node=ID (see /debug/nodes for connected nodes)' });
      const dump = view.configDump(node);
      return dump === undefined
        ? send(res, 404, { error: `node ${node} is not connected and its id cannot be served` })
        : send(res, 200, dump);
    }
    case '/debug/syncz':
      return send(res, 200, view.syncz());
    case '/debug/nodes':
      return send(res, 200, view.nodes());
    case '/debug/sync':
      return send(res, 200, view.source());
    case '/debug/mesh':
      return send(res, 200, view.mesh());
    case '/debug/skipped':
      return send(res, 200, view.skipped());
    case '/':
      return send(res, 200, { endpoints: ROUTES });
    default:
      return send(res, 404, { error: `no such endpoint; try one of ${ROUTES.join(', ')}` });
  }
}

/** startAdmin listens on host:port and resolves once bound. */
export async function startAdmin(view: AdminView, host: string, port: number, logger: Logger): Promise<Server> {
  const server = createServer((req, res) => {
    handle(view, req, res).catch((err: unknown) => {
      logger.error({ err, url: req.url }, 'admin request failed');
      if (!res.headersSent) send(res, 500, { error: String(err) });
      else res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** stopAdmin stops listening and closes every connection, idle or not, so shutdown never waits on a scraper. */
export async function stopAdmin(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  await closed;
}
