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
  up.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return up;
}

/** sendThrough sends one HTTP/1.1 request to Envoy's listener with a Host header; returns status and body. */
export function sendThrough(port: number, host: string, path = '/', headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET', headers: { host, ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.setTimeout(5000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}
