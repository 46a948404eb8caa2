// One timed HTTP GET to a loopback port, for the suites that measure latency through real Envoys.
import { type Agent, request } from 'node:http';

export interface TimedAnswer {
  readonly ms: number;
  readonly status: number;
}

/** timedGet sends GET `path` with Host `host` to 127.0.0.1:`port` and times it until the body has been read. */
export function timedGet(
  port: number,
  opts: { readonly host: string; readonly path?: string; readonly agent?: Agent | false },
): Promise<TimedAnswer> {
  const path = opts.path ?? '/';
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, agent: opts.agent ?? false, headers: { host: opts.host } },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, status: res.statusCode ?? 0 }));
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${opts.host}${path}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}
