// The `polaris-xds` command: serve, bootstrap, dump, status. Flags override the config file,
// which overrides defaults; POLARIS_XDS_* environment variables sit between the two.
import { randomUUID } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { stringify as toYaml } from 'yaml';
import { grpcBootstrap } from './bootstrap/grpc.js';
import { envoyBootstrap } from './bootstrap/envoy.js';
import { checkAddress, type AddressUse } from './config/address.js';
import { loadConfig, redacted, type Overrides } from './config/load.js';
import { errorCode, PolarisXdsError, type ErrorCode } from './errors.js';
import { createLogger } from './log.js';

const USAGE = `usage: polaris-xds <command> [flags]

commands:
  serve      run the control plane (default source: the example mesh in examples/envoy/mesh.yaml)
  bootstrap  print an Envoy bootstrap (or, with --grpc, a gRPC xDS bootstrap) for one node
  dump       print what a node is served, as JSON, from a running polaris-xds
  status     print per-node sync status (SYNCED / STALE / NACKED) from a running polaris-xds

run 'polaris-xds <command> --help' for its flags.`;

const SERVE_FLAGS = {
  config: { type: 'string' },
  polaris: { type: 'string', multiple: true },
  namespace: { type: 'string', multiple: true },
  'token-file': { type: 'string' },
  file: { type: 'string' },
  'xds-address': { type: 'string' },
  'admin-address': { type: 'string' },
  'cache-dir': { type: 'string' },
  'log-level': { type: 'string' },
  'log-format': { type: 'string' },
  'print-config': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const SERVE_HELP = `usage: polaris-xds serve [flags]

  --polaris host:port[,host:port]  Polaris gRPC addresses (service-grpc, usually :8091); repeatable
  --namespace NS                   namespace to sync; repeatable (default: all)
  --token-file PATH                file holding the Polaris token (sent as x-polaris-token)
  --file PATH                      serve the mesh in a YAML file instead of Polaris
  --xds-address host:port          xDS gRPC listen address (default 0.0.0.0:15010)
  --admin-address host:port        admin HTTP listen address (default 127.0.0.1:15014)
  --cache-dir DIR                  keep the last synced state on disk and serve it if Polaris is down
  --config FILE                    YAML configuration file (see docs/configuration.md)
  --log-level LEVEL                trace|debug|info|warn|error (default info)
  --log-format json|pretty         (default json)
  --print-config                   print the effective configuration (secrets redacted) and exit`;

const BOOTSTRAP_FLAGS = {
  'xds-address': { type: 'string' },
  'node-id': { type: 'string' },
  namespace: { type: 'string' },
  service: { type: 'string' },
  'admin-address': { type: 'string' },
  'bind-ports': { type: 'string' },
  'outbound-port': { type: 'string' },
  'inbound-port': { type: 'string' },
  region: { type: 'string' },
  zone: { type: 'string' },
  'sub-zone': { type: 'string' },
  delta: { type: 'boolean' },
  'on-demand': { type: 'boolean' },
  grpc: { type: 'boolean' },
  gateway: { type: 'boolean' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-sni': { type: 'string' },
  'ratelimit-address': { type: 'string' },
  output: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const BOOTSTRAP_HELP = `usage: polaris-xds bootstrap [flags]

  --xds-address host:port    where polaris-xds listens (default 127.0.0.1:15010)
  --node-id ID               node id (default <namespace>/<uuid>~127.0.0.1, Polaris's form)
  --namespace NS             the node's namespace (default "default")
  --service SVC              the node's own service
  --admin-address host:port  Envoy's admin listener (default 127.0.0.1:15000)
  --bind-ports P[,P]         inbound ports when the service has no instances yet
  --outbound-port P          outbound listener port (default 15001)
  --inbound-port P           inbound listener port (default 15006)
  --region R --zone Z --sub-zone S   the node's locality
  --delta                    use Delta xDS (DELTA_GRPC) instead of State of the World
  --on-demand                hold only the services the sidecar calls (VHDS + on-demand CDS; implies --delta)
  --gateway                  a gateway node instead of a sidecar
  --grpc                     print a gRPC xDS bootstrap (JSON) for proxyless clients
  --tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-sni NAME]   TLS (and mTLS) to polaris-xds
  --ratelimit-address host:port   the rate-limit service (envoyproxy/ratelimit's gRPC port) that
                             GLOBAL rate-limit rules are counted in; without it they are skipped
  --output yaml|json         (default yaml; --grpc is always json)`;

const CLIENT_FLAGS = {
  'admin-address': { type: 'string' },
  node: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

function usageError(message: string): PolarisXdsError {
  return new PolarisXdsError('PXDS_ERR_CLI_USAGE', [message]);
}

/** addressFlag checks a host:port flag and returns it, or throws naming the flag. */
function addressFlag(flag: string, value: string, use: AddressUse, example: string): string {
  const r = checkAddress(value, use, example);
  if (!r.ok) throw usageError(`${flag}: ${r.problem} (got ${JSON.stringify(value)})`);
  return value;
}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, command: string) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false });
  } catch (err) {
    const allowed = Object.keys(options)
      .map((k) => `--${k}`)
      .join(', ');
    throw usageError(`${command}: ${(err as Error).message.split('\n')[0]}; allowed flags: ${allowed}`);
  }
}

/** serveOverrides turns serve flags into configuration key paths. */
function serveOverrides(v: Record<string, unknown>): Overrides {
  const o: Array<{ path: string[]; value: unknown; flag: string }> = [];
  const list = (x: unknown) =>
    (x as string[])
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
  if (v.polaris) o.push({ path: ['polaris', 'addresses'], value: list(v.polaris), flag: '--polaris' });
  if (v.namespace) o.push({ path: ['polaris', 'namespaces'], value: list(v.namespace), flag: '--namespace' });
  if (v['token-file']) o.push({ path: ['polaris', 'tokenFile'], value: v['token-file'], flag: '--token-file' });
  if (v.file) o.push({ path: ['file'], value: v.file, flag: '--file' });
  if (v['xds-address']) o.push({ path: ['xds', 'address'], value: v['xds-address'], flag: '--xds-address' });
  if (v['admin-address']) o.push({ path: ['admin', 'address'], value: v['admin-address'], flag: '--admin-address' });
  if (v['cache-dir']) o.push({ path: ['cacheDir'], value: v['cache-dir'], flag: '--cache-dir' });
  if (v['log-level']) o.push({ path: ['log', 'level'], value: v['log-level'], flag: '--log-level' });
  if (v['log-format']) o.push({ path: ['log', 'format'], value: v['log-format'], flag: '--log-format' });
  return o;
}

// Time allowed after the drain grace period for the source and admin server to close.
const SHUTDOWN_SLACK_MS = 5000;

async function serve(args: string[]): Promise<number> {
  const { values } = parse(args, SERVE_FLAGS, 'serve');
  if (values.help) {
    console.log(SERVE_HELP);
    return 0;
  }
  const cfg = loadConfig({ file: values.config, overrides: serveOverrides(values) });
  if (values['print-config']) {
    console.log(toYaml(redacted(cfg)));
    return 0;
  }
  const logger = createLogger(cfg.log);
  // grpc-js's own messages (e.g. "No address added out of total 1 resolved" before a bind error) go through the logger.
  const [{ routeGrpcLogs }, { startApp }] = await Promise.all([import('./grpc-log.js'), import('./app.js')]);
  routeGrpcLogs(logger.child({ component: 'grpc-js' }));
  const app = await startApp(cfg, logger);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, drainMs: cfg.xds.drainMs }, 'shutting down');
    // app.stop is bounded by the grace period; this only guards against a part that hangs.
    setTimeout(() => {
      logger.error({ drainMs: cfg.xds.drainMs }, 'shutdown did not finish in time; exiting');
      process.exit(1);
    }, cfg.xds.drainMs + SHUTDOWN_SLACK_MS).unref();
    app.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  return new Promise<number>(() => {});
}

function bootstrap(args: string[]): number {
  const { values: v } = parse(args, BOOTSTRAP_FLAGS, 'bootstrap');
  if (v.help) {
    console.log(BOOTSTRAP_HELP);
    return 0;
  }
  const namespace = v.namespace ?? 'default';
  const service = v.service ?? '';
  const nodeId = v['node-id'] ?? `${v.gateway ? 'gateway~' : ''}${namespace}/${randomUUID()}~127.0.0.1`;
  const xdsAddress = addressFlag('--xds-address', v['xds-address'] ?? '127.0.0.1:15010', 'dial', '127.0.0.1:15010');
  if (v['admin-address'] !== undefined) addressFlag('--admin-address', v['admin-address'], 'listen', '127.0.0.1:15000');
  if (v['ratelimit-address'] !== undefined)
    addressFlag('--ratelimit-address', v['ratelimit-address'], 'dial', '127.0.0.1:8081');
  if (v['node-id'] !== undefined && v['node-id'].trim() === '')
    throw usageError('bootstrap: --node-id: empty; leave it out for a Polaris-style id (<namespace>/<uuid>~127.0.0.1)');
  const locality = { region: v.region, zone: v.zone, subZone: v['sub-zone'] };
  if (v['on-demand'] && (v.grpc || v.gateway))
    throw usageError(`bootstrap: --on-demand is for Envoy sidecars; drop it with ${v.grpc ? '--grpc' : '--gateway'}`);
  if (v.grpc) {
    // grpc-js's xDS client dials its control plane with insecure or google_default credentials only.
    if (v['tls-ca'] || v['tls-cert'] || v['tls-key'] || v['tls-sni'])
      throw usageError(
        'bootstrap: --grpc bootstraps have no TLS to polaris-xds (gRPC xDS clients dial it with insecure ' +
          'credentials); drop --tls-*',
      );
    if (v['ratelimit-address'] !== undefined)
      throw usageError(
        'bootstrap: --ratelimit-address is for Envoy sidecars (proxyless clients do not enforce rate limits); drop ' +
          'it with --grpc',
      );
    console.log(JSON.stringify(grpcBootstrap({ xdsAddress, nodeId, namespace, service, locality }), null, 2));
    return 0;
  }
  if ((v['tls-cert'] || v['tls-key'] || v['tls-sni']) && !v['tls-ca'])
    throw usageError('bootstrap: --tls-cert/--tls-key/--tls-sni need --tls-ca');
  if (!!v['tls-cert'] !== !!v['tls-key']) throw usageError('bootstrap: --tls-cert and --tls-key go together');
  const port = (flag: string, p: string) => {
    const n = Number(p);
    if (!Number.isInteger(n) || n <= 0 || n > 65535)
      throw usageError(`bootstrap: --${flag}: ${JSON.stringify(p)} is not a port (1–65535)`);
    return n;
  };
  const ports = v['bind-ports'] ? v['bind-ports'].split(',').map((p) => port('bind-ports', p)) : undefined;
  const out = envoyBootstrap({
    xdsAddress,
    nodeId,
    namespace,
    service,
    adminAddress: v['admin-address'] ?? '127.0.0.1:15000',
    delta: !!v.delta || !!v['on-demand'],
    onDemand: !!v['on-demand'],
    gateway: !!v.gateway,
    bindPorts: ports,
    outboundPort: v['outbound-port'] ? port('outbound-port', v['outbound-port']) : undefined,
    inboundPort: v['inbound-port'] ? port('inbound-port', v['inbound-port']) : undefined,
    locality,
    tls: v['tls-ca'] ? { ca: v['tls-ca'], cert: v['tls-cert'], key: v['tls-key'], sni: v['tls-sni'] } : undefined,
    rateLimitAddress: v['ratelimit-address'],
  });
  const format = v.output ?? 'yaml';
  if (format !== 'yaml' && format !== 'json')
    throw usageError(`bootstrap: --output must be yaml or json, not ${format}`);
  console.log(format === 'json' ? JSON.stringify(out, null, 2) : toYaml(out));
  return 0;
}

async function fetchAdmin(address: string, path: string): Promise<{ status: number; body: unknown }> {
  let res: Response;
  try {
    res = await fetch(`http://${address}${path}`);
  } catch (err) {
    throw usageError(
      `cannot reach polaris-xds admin at ${address}: ${(err as Error).cause ?? (err as Error).message}; is it ` +
        `running? (--admin-address)`,
    );
  }
  const text = await res.text();
  try {
    return { status: res.status, body: JSON.parse(text) };
  } catch {
    return { status: res.status, body: text };
  }
}

async function dump(args: string[]): Promise<number> {
  const { values: v } = parse(args, CLIENT_FLAGS, 'dump');
  if (v.help) {
    console.log('usage: polaris-xds dump --node ID [--admin-address host:port]');
    return 0;
  }
  if (!v.node) throw usageError('dump: --node ID is required (polaris-xds status lists connected nodes)');
  const r = await fetchAdmin(
    v['admin-address'] ?? '127.0.0.1:15014',
    `/debug/config_dump?node=${encodeURIComponent(v.node)}`,
  );
  console.log(JSON.stringify(r.body, null, 2));
  return r.status === 200 ? 0 : 1;
}

const STATUS_HELP = `usage: polaris-xds status [--admin-address host:port]

One row per connected ADS stream: NODE, SERVICE (service.namespace), MODE (sotw|delta) and per type
  SYNCED    the client ACKed the latest response
  STALE     a response is unanswered or due
  NACKED    the client rejected the latest response (details: /debug/syncz, docs/troubleshooting.md)
  NOT SENT  asked for, nothing sent yet
  -         never asked for`;

async function status(args: string[]): Promise<number> {
  const { values: v } = parse(args, CLIENT_FLAGS, 'status');
  if (v.help) {
    console.log(STATUS_HELP);
    return 0;
  }
  const { formatStatus } = await import('./admin/status-table.js');
  const r = await fetchAdmin(v['admin-address'] ?? '127.0.0.1:15014', '/debug/syncz');
  if (r.status !== 200) throw usageError(`status: admin answered ${r.status}`);
  console.log(formatStatus(r.body));
  return 0;
}

// Codes of errors a user causes and can fix: one line, exit code 2.
const BAD_INPUT = new Set<ErrorCode>([
  'PXDS_ERR_CLI_USAGE',
  'PXDS_ERR_CONFIG_INVALID',
  'PXDS_ERR_CONFIG_FILE',
  'PXDS_ERR_FILE_SOURCE',
  'PXDS_ERR_SERVE_LISTEN',
]);

/** debugAsked says whether the user asked for debug output (stack traces) by flag or environment. */
function debugAsked(argv: readonly string[], env: NodeJS.ProcessEnv): boolean {
  const i = argv.indexOf('--log-level');
  const level =
    (i >= 0 ? argv[i + 1] : argv.find((a) => a.startsWith('--log-level='))?.slice('--log-level='.length)) ??
    env.POLARIS_XDS_LOG_LEVEL;
  return level === 'debug' || level === 'trace';
}

/** oneLine folds a message onto one line (YAML and system errors span several). */
function oneLine(s: string): string {
  return s.replace(/\s*\n\s*/g, ' ').trim();
}

/**
 * reportError prints an error as one line (`polaris-xds: <what> [PXDS_ERR_…]`) and returns the
 * exit code: 2 for errors of the user's input, 1 otherwise. Stacks only at debug level.
 */
export function reportError(
  err: unknown,
  debug: boolean,
  write: (line: string) => void = (l) => console.error(l),
): number {
  const code = errorCode(err);
  const message = oneLine(String((err as Error)?.message ?? err));
  if (code !== undefined) write(`polaris-xds: ${message} [${code}]`);
  else write(`polaris-xds: unexpected error: ${message}${debug ? '' : ' (--log-level debug shows where)'}`);
  if (debug && err instanceof Error && err.stack) write(err.stack);
  return code !== undefined && BAD_INPUT.has(code) ? 2 : 1;
}

/** main runs one command and returns its exit code (2 for usage and configuration errors). */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serve(rest);
      case 'bootstrap':
        return bootstrap(rest);
      case 'dump':
        return await dump(rest);
      case 'status':
        return await status(rest);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw usageError(
          `unknown command ${JSON.stringify(command)}; commands: serve, bootstrap, dump, status (polaris-xds --help)`,
        );
    }
  } catch (err) {
    return reportError(err, debugAsked(rest, env));
  }
}
