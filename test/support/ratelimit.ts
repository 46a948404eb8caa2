// The rate-limit service GLOBAL rules run on, for tests: a real Redis and a real envoyproxy/ratelimit
// on free loopback ports, the limiter taking its limits over xDS from polaris-xds (node id
// `ratelimit~test`), with the settings the README gives for running it by hand.
import { spawn, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { rateLimitBinary, redisBinary } from './components.js';
import { freePorts, waitFor } from './ports.js';
import { tempDir } from './temp.js';

async function stopChild(c: ChildProcess | undefined): Promise<void> {
  if (!c || c.exitCode !== null || c.signalCode !== null) return;
  const gone = new Promise((r) => c.once('exit', r));
  c.kill('SIGKILL');
  await gone;
}

export interface RateLimitService {
  /** host:port of the limiter's gRPC listener (what `polaris-xds bootstrap --ratelimit-address` takes). */
  readonly grpcAddress: string;
  /** The limits the limiter holds, as its debug endpoint prints them (`<domain>.<key>_<value>...: unit=… requests_per_unit=…`). */
  limits(): Promise<string>;
  /** Everything the limiter logged. */
  log(): string;
  /** stopLimiter kills the limiter (Redis stays): Envoy's checks then fail. */
  stopLimiter(): Promise<void>;
  stop(): Promise<void>;
}

/** redisAnswers says whether a Redis on `port` answers PING (the limiter exits if Redis refuses it at start). */
function redisAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d: Buffer) => {
      reply += d.toString();
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

/** startRateLimitService starts Redis and envoyproxy/ratelimit, the limiter taking its limits from `xdsAddress`. */
export async function startRateLimitService(xdsAddress: string): Promise<RateLimitService> {
  const [redisPort, http, grpc, debug] = (await freePorts(4)) as [number, number, number, number];
  const runtime = tempDir('pxds-ratelimit-');
  let output = '';
  const redis = spawn(
    redisBinary(),
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  try {
    await waitFor(
      'redis-server to answer PING',
      async () => {
        if (redis.exitCode !== null) throw new Error(`redis-server exited ${redis.exitCode}`);
        return redisAnswers(redisPort);
      },
      20_000,
      50,
    );
  } catch (err) {
    await stopChild(redis);
    runtime.remove();
    throw err;
  }
  const limiter = spawn(rateLimitBinary(), [], {
    env: {
      PATH: process.env.PATH,
      CONFIG_TYPE: 'GRPC_XDS_SOTW',
      CONFIG_GRPC_XDS_SERVER_URL: xdsAddress,
      CONFIG_GRPC_XDS_NODE_ID: 'ratelimit~test',
      CONFIG_GRPC_XDS_SERVER_CONNECT_RETRY_INTERVAL: '200ms',
      XDS_CLIENT_BACKOFF_INITIAL_INTERVAL: '200ms',
      XDS_CLIENT_BACKOFF_MAX_INTERVAL: '1s',
      // Its answers carry the domain as dynamic metadata: how FAILOVER_LOCAL tells an answer from none.
      RESPONSE_DYNAMIC_METADATA: 'true',
      // A request refused by one amount does not count toward the others, as in polaris-go.
      STOP_CACHE_KEY_INCREMENT_WHEN_OVERLIMIT: 'true',
      REDIS_SOCKET_TYPE: 'tcp',
      REDIS_URL: `127.0.0.1:${redisPort}`,
      USE_STATSD: 'false',
      LOG_LEVEL: 'info',
      RUNTIME_ROOT: runtime.dir,
      HOST: '127.0.0.1',
      GRPC_HOST: '127.0.0.1',
      DEBUG_HOST: '127.0.0.1',
      PORT: String(http),
      GRPC_PORT: String(grpc),
      DEBUG_PORT: String(debug),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  limiter.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  limiter.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const stop = async (): Promise<void> => {
    await Promise.all([stopChild(limiter), stopChild(redis)]);
    runtime.remove();
  };
  try {
    await waitFor(
      'the limiter to answer its health check',
      async () => {
        if (limiter.exitCode !== null) throw new Error(`ratelimit exited ${limiter.exitCode}: ${output}`);
        if (redis.exitCode !== null) throw new Error(`redis-server exited ${redis.exitCode}`);
        const r = await fetch(`http://127.0.0.1:${http}/healthcheck`).catch(() => undefined);
        return r?.status === 200;
      },
      20_000,
      100,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    grpcAddress: `127.0.0.1:${grpc}`,
    limits: async () => {
      const r = await fetch(`http://127.0.0.1:${debug}/rlconfig`).catch(() => undefined);
      return r?.status === 200 ? r.text() : '';
    },
    log: () => output,
    stopLimiter: () => stopChild(limiter),
    stop,
  };
}
