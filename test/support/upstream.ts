// Small HTTP upstreams that answer with their own name, for routing tests.
import { createServer, request, type Server } from 'node:http';

export interface Upstream {
  readonly name: string;
  readonly port: number;
  /** Requests served so far. */
  hits: number;
  close(): Promise<void>;
}

/** startUpstream serves `name` on 127.0.0.1 (port 0 = any free port). */
export async function startUpstream(name: string, port = 0): Promise<Upstream> {
  const up = { name, port: 0, hits: 0 } as Upstream & { server: Server };
  const server = createServer((req, res) => {
    up.hits++;
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name });
    res.end(name);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  const addr = server.address();
  (up as { port: number }).port = typeof addr === 'object' && addr ? addr.port : 0;
  up.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return up;
}

/**
 * sendThrough sends one HTTP/1.1 request to Envoy's listener with a Host header (from `localAddress` when given);
 * returns status, body and headers.
 */
export function sendThrough(
  port: number,
  host: string,
  path = '/',
  headers: Record<string, string> = {},
  localAddress?: string,
  timeoutMs = 5000,
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: 'GET',
        headers: { host, ...headers },
        agent: false,
        ...(localAddress ? { localAddress } : {}),
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

/** FaultyUpstream is an upstream whose answers can be made to fail: all of them, or a share. */
export interface FaultyUpstream extends Upstream {
  /** Of every 10 requests (not health checks) this many answer 503, the first ones of each ten; 0 = none, 10 = all. */
  failPerTen: number;
  /** Requests answered 503 so far. */
  failures: number;
  /** Health-check requests (GET /healthz) served so far; always 200. */
  checks: number;
  /** restart listens again on the same port after close(). */
  restart(): Promise<void>;
}

/** startFaultyUpstream serves `name` on 127.0.0.1, failing as `failPerTen` says; `/healthz` answers 200. */
export async function startFaultyUpstream(name: string): Promise<FaultyUpstream> {
  let server: Server;
  let seen = 0;
  const up = { name, port: 0, hits: 0, failures: 0, checks: 0, failPerTen: 0 } as FaultyUpstream;
  const listen = async (port: number) => {
    server = createServer((req, res) => {
      req.resume();
      if (req.url === '/healthz') {
        up.checks++;
        res.writeHead(200).end('ok');
        return;
      }
      up.hits++;
      const fail = seen++ % 10 < up.failPerTen;
      if (fail) up.failures++;
      res.writeHead(fail ? 503 : 200, { 'content-type': 'text/plain', 'x-upstream': name });
      res.end(fail ? `${name} failed` : name);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
    const addr = server.address();
    (up as { port: number }).port = typeof addr === 'object' && addr ? addr.port : 0;
  };
  await listen(0);
  up.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  up.restart = () => listen(up.port);
  return up;
}
