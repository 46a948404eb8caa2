// Checks the Kubernetes packaging. The Helm chart (deploy/helm/polaris-xds) lints; every manifest it
// renders, with default values and with variants, passes the Kubernetes JSON schemas in strict mode
// (unknown fields fail) for the oldest and newest supported Kubernetes; and the settings that matter
// at run time are there: replicas, PDB, spread, non-root, probes, flags, and a configuration that
// the real `polaris-xds serve` accepts. Also the Dockerfile's shape and the configuration reference.
// Tools come from scripts/install-k8s-tools.sh (Helm from its Go module, kubernetes-validate from
// PyPI with the schemas inside it), so nothing here needs a network or a cluster.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse as parseYaml, parseAllDocuments, stringify as toYaml } from 'yaml';
import { ENV } from '../../src/config/load.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { envoyBinary, repoRoot } from '../support/components.js';

const CHART = join(repoRoot, 'deploy/helm/polaris-xds');
/** The oldest Kubernetes the chart supports (native gRPC probes) and the newest with bundled schemas. */
const KUBE_VERSIONS = ['1.27.0', '1.37.0'];

const tools = (() => {
  const out = execFileSync('bash', [join(repoRoot, 'scripts/install-k8s-tools.sh')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const paths = Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split(/=(.*)/s).slice(0, 2)),
  );
  assert.ok(paths.HELM && paths.KUBERNETES_VALIDATE, `install-k8s-tools.sh printed no tool paths:\n${out}`);
  return { helm: paths.HELM as string, validate: paths.KUBERNETES_VALIDATE as string };
})();

const work = mkdtempSync(join(tmpdir(), 'pxds-chart-'));
after(() => rmSync(work, { recursive: true, force: true }));
let fileSeq = 0;
function tmpFile(name: string, text: string): string {
  const f = join(work, `${++fileSeq}-${name}`);
  writeFileSync(f, text);
  return f;
}

type Obj = Record<string, any>;

/** CLI runs src/cli.ts (not dist/, which may be stale) as `polaris-xds`: node [...CLI, ...args]. */
const CLI = [
  '--import',
  'tsx',
  '--input-type=module',
  '-e',
  "import { main } from './src/cli.ts'; process.exitCode = await main(process.argv.slice(1));",
];

function run(cmd: string, args: string[], env?: NodeJS.ProcessEnv) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: env ?? process.env, timeout: 120_000 });
  return { status: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

/** render runs `helm template` and returns the text and the parsed objects; it throws on a render error. */
function render(values: Obj, release = 'polaris-xds', chart = CHART): { text: string; objects: Obj[] } {
  const r = run(tools.helm, [
    'template',
    release,
    chart,
    '--namespace',
    'mesh',
    '--kube-version',
    '1.30.0',
    '-f',
    tmpFile('values.yaml', toYaml(values)),
  ]);
  if (r.status !== 0) throw new Error(`helm template failed:\n${r.out}`);
  const objects = parseAllDocuments(r.out)
    .map((d) => d.toJS() as Obj)
    .filter((o) => o !== null);
  return { text: r.out, objects };
}

/** validate runs kubernetes-validate --strict on manifests for one Kubernetes version. */
function validate(text: string, kubeVersion: string) {
  return run(tools.validate, ['--strict', '--kubernetes-version', kubeVersion, tmpFile('manifests.yaml', text)]);
}

/** assertValid checks that every manifest passed the strict schemas; only the kinds named may lack one. */
function assertValid(text: string, allowedUnknownKinds: string[] = []): void {
  const expected = parseAllDocuments(text).filter(
    (d) => d.toJS() && !allowedUnknownKinds.includes(d.toJS().kind),
  ).length;
  for (const v of KUBE_VERSIONS) {
    const r = validate(text, v);
    assert.equal(r.status, 0, `manifests fail the Kubernetes ${v} schemas:\n${r.out}`);
    assert.equal(
      r.out.match(/^INFO .* passed for resource /gm)?.length,
      expected,
      `not every manifest was checked:\n${r.out}`,
    );
    for (const line of r.out.split('\n').filter((l) => l.startsWith('WARN') || l.startsWith('ERROR'))) {
      assert.ok(
        allowedUnknownKinds.some((k) => line.includes(`schema for kind ${k} `)),
        `unexpected validator finding: ${line}`,
      );
    }
  }
}

function one(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  assert.equal(found.length, 1, `expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

function matches(selector: Obj, labels: Obj): boolean {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const PRODUCTION_VALUES = {
  autoscaling: { enabled: true, minReplicas: 3, maxReplicas: 9 },
  polaris: {
    addresses: ['10.0.0.2:8091', '10.0.0.3:8091'],
    namespaces: ['shop', 'payments'],
    tokenSecret: { name: 'polaris-token', key: 'polaris.token' },
    tls: { secretName: 'polaris-tls', clientCert: true },
  },
  xds: { tls: { secretName: 'polaris-xds-tls', clientAuth: true } },
  serviceMonitor: { enabled: false },
  config: { log: { level: 'debug' }, polaris: { pollIntervalMs: 2000 } },
};

/** assertRunnable checks what every rendering must give a working, disruption-tolerant control plane. */
function assertRunnable(objects: Obj[]): { deployment: Obj; container: Obj; config: Obj } {
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const podLabels = deployment.spec.template.metadata.labels;
  const container = pod.containers.find((c: Obj) => c.name === 'polaris-xds');
  assert.ok(container, 'no polaris-xds container');
  assert.ok(matches(deployment.spec.selector.matchLabels, podLabels), 'Deployment selector does not select its pods');

  // Replicas: at least two, from the Deployment or from the autoscaler.
  const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler');
  if (hpa) {
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.equal(deployment.spec.replicas, undefined, 'replicas must be left to the HPA');
    assert.ok(hpa.spec.minReplicas >= 2);
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: deployment.metadata.name,
    });
  } else {
    assert.ok(deployment.spec.replicas >= 2, `replicas ${deployment.spec.replicas}`);
  }
  assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);

  const pdb = one(objects, 'PodDisruptionBudget');
  assert.equal(pdb.apiVersion, 'policy/v1');
  assert.ok(pdb.spec.minAvailable >= 1);
  assert.ok(matches(pdb.spec.selector.matchLabels, podLabels), 'PDB does not select the pods');

  // Spread over zones (soft), and soft anti-affinity between replicas on a node.
  const zone = pod.topologySpreadConstraints.find((c: Obj) => c.topologyKey === 'topology.kubernetes.io/zone');
  assert.ok(zone, 'no zone topology spread');
  assert.equal(zone.whenUnsatisfiable, 'ScheduleAnyway');
  assert.ok(matches(zone.labelSelector.matchLabels, podLabels));
  const anti = pod.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution[0];
  assert.equal(anti.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  assert.equal(pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution, undefined);

  // Non-root, read-only, no capabilities, RuntimeDefault seccomp.
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.ok(pod.securityContext.runAsUser > 0, 'a numeric non-root uid lets the kubelet verify runAsNonRoot');
  assert.equal(pod.securityContext.seccompProfile.type, 'RuntimeDefault');
  assert.equal(container.securityContext.readOnlyRootFilesystem, true);
  assert.equal(container.securityContext.allowPrivilegeEscalation, false);
  assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.enableServiceLinks, false, 'service links inject POLARIS_XDS_* variables, which stop the process');

  // Ports and probes: HTTP /healthz liveness on the admin port; readiness on the xDS port.
  const portOf = (name: string) => container.ports.find((p: Obj) => p.name === name)?.containerPort;
  assert.equal(portOf('grpc-xds'), 15010);
  assert.equal(portOf('http-admin'), 15014);
  for (const probe of [container.livenessProbe, container.startupProbe]) {
    assert.equal(probe.httpGet.path, '/healthz');
    assert.equal(portOf(probe.httpGet.port) ?? probe.httpGet.port, 15014);
  }

  // Flags: a reachable admin server and the rendered configuration file.
  const args: string[] = container.args;
  assert.equal(args[0], 'serve');
  const flag = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  assert.equal(flag('--admin-address'), '0.0.0.0:15014');
  const configPath = flag('--config');
  assert.ok(configPath, 'no --config flag');
  const configMount = container.volumeMounts.find((m: Obj) => configPath.startsWith(`${m.mountPath}/`));
  assert.ok(configMount, `--config ${configPath} is on no volume`);
  const configVolume = pod.volumes.find((v: Obj) => v.name === configMount.name);
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === configVolume.configMap?.name);
  assert.ok(configMap, 'the --config volume is not the chart ConfigMap');
  const config = parseYaml(configMap.data[configPath.slice(configMount.mountPath.length + 1)]) as Obj;
  assert.ok(config, 'the ConfigMap lacks the --config file');
  assert.ok(
    ConfigSchema.safeParse(config).success,
    `rendered configuration fails the schema: ${JSON.stringify(config)}`,
  );
  assert.equal(config.xds.maxConnectionAgeMs, 30 * 60_000, 'streams must rebalance over replicas');
  // The per-connection limits are set deliberately, and the unflushed-response budget fits in the
  // pod's memory beside the V8 heap the chart sets.
  assert.equal(config.xds.maxConcurrentStreamsPerConnection, 16);
  assert.equal(config.xds.maxReceiveMessageBytes, 4 * 1024 * 1024);
  const heapMiB = Number(
    /--max-old-space-size=(\d+)/.exec(container.env.find((e: Obj) => e.name === 'NODE_OPTIONS').value)?.[1],
  );
  const memoryMiB = Number(/^(\d+)Mi$/.exec(container.resources.limits.memory)?.[1]);
  assert.ok(heapMiB > 0 && memoryMiB > 0, 'the chart sets a heap and a memory limit');
  assert.ok(
    heapMiB * 1024 * 1024 + config.xds.maxPendingBytes <= memoryMiB * 1024 * 1024,
    `heap ${heapMiB} MiB + maxPendingBytes ${config.xds.maxPendingBytes} exceed ${memoryMiB} MiB`,
  );

  // The disk cache and /tmp are writable mounts, since the root filesystem is read-only.
  for (const path of [config.cacheDir, '/tmp']) {
    const m = container.volumeMounts.find((mm: Obj) => mm.mountPath === path);
    assert.ok(m && !m.readOnly, `${path} is not a writable mount`);
    assert.ok(pod.volumes.find((v: Obj) => v.name === m.name).emptyDir, `${path} is not an emptyDir`);
  }

  // Draining finishes inside the grace period.
  const preStopSeconds = Number(container.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
  assert.ok(pod.terminationGracePeriodSeconds * 1000 > preStopSeconds * 1000 + config.xds.drainMs);

  // Memory request equals the limit.
  assert.equal(container.resources.requests.memory, container.resources.limits.memory);

  // The Service: grpc-xds with appProtocol grpc, http-admin, both reaching the container.
  const service = one(objects, 'Service');
  assert.ok(matches(service.spec.selector, podLabels), 'Service does not select the pods');
  const xdsPort = service.spec.ports.find((p: Obj) => p.name === 'grpc-xds');
  assert.equal(xdsPort.port, 15010);
  assert.equal(xdsPort.appProtocol, 'grpc');
  assert.equal(portOf(xdsPort.targetPort), 15010);
  assert.equal(portOf(service.spec.ports.find((p: Obj) => p.name === 'http-admin').targetPort), 15014);

  return { deployment, container, config };
}

/**
 * runPrintConfig runs the real `polaris-xds serve --print-config` with the container's flags and
 * environment, its volumes laid out in a temporary folder (ConfigMap files, Secret keys as dummy
 * files, emptyDirs), and returns the exit code and what it printed.
 */
function runPrintConfig(objects: Obj[], extraEnv: Obj = {}): { status: number | null; out: string } {
  const deployment = one(objects, 'Deployment');
  const pod = deployment.spec.template.spec;
  const container = pod.containers[0];
  const root = mkdtempSync(join(work, 'pod-'));
  const mounts: Array<[string, string]> = [];
  for (const m of container.volumeMounts as Obj[]) {
    const dir = join(root, m.mountPath);
    mkdirSync(dir, { recursive: true });
    mounts.push([m.mountPath, dir]);
    const volume = pod.volumes.find((v: Obj) => v.name === m.name);
    if (volume.configMap) {
      const cm = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === volume.configMap.name);
      assert.ok(cm, `no ConfigMap ${volume.configMap.name} for volume ${m.name}`);
      for (const [k, v] of Object.entries(cm.data as Record<string, string>)) writeFileSync(join(dir, k), v);
    } else if (volume.secret) {
      const items: Obj[] = volume.secret.items ?? ['ca.crt', 'tls.crt', 'tls.key'].map((k) => ({ key: k, path: k }));
      for (const item of items) writeFileSync(join(dir, item.path), `dummy ${item.key}\n`);
    }
  }
  // One pass, longest mount first, whole path segments only: a mount may lie under /tmp itself.
  mounts.sort((a, b) => b[0].length - a[0].length);
  const byPath = new Map(mounts);
  const pattern = new RegExp(
    `(?<![\\w./-])(${mounts.map(([p]) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})(?=/|$|\\s)`,
    'gm',
  );
  const relocate = (s: string) => s.replace(pattern, (m) => byPath.get(m)!);
  const configFile = container.args[container.args.indexOf('--config') + 1];
  const configCopy = relocate(configFile);
  writeFileSync(configCopy, relocate(readFileSync(configCopy, 'utf8')));
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...extraEnv };
  for (const e of container.env ?? []) env[e.name] = e.value;
  const r = spawnSync(process.execPath, [...CLI, ...container.args.map(relocate), '--print-config'], {
    cwd: repoRoot,
    env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

describe('helm chart', () => {
  it('passes helm lint, strictly, with default and production values', () => {
    for (const values of [{}, PRODUCTION_VALUES]) {
      const r = run(tools.helm, [
        'lint',
        CHART,
        '--strict',
        '--kube-version',
        '1.30.0',
        '-f',
        tmpFile('values.yaml', toYaml(values)),
      ]);
      assert.equal(r.status, 0, r.out);
      assert.match(r.out, /1 chart\(s\) linted, 0 chart\(s\) failed/);
    }
  });

  it('deploys the release of package.json by default', () => {
    const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as Obj;
    assert.equal(chart.appVersion, pkg.version);
    const { container } = assertRunnable(render({}).objects);
    assert.equal(container.image, `polaris-xds:${pkg.version}`);
  });

  it('renders, with default values, valid manifests that survive disruptions', () => {
    const { text, objects } = render({});
    assertValid(text);
    assert.deepEqual(objects.map((o) => o.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'PodDisruptionBudget',
      'Service',
      'ServiceAccount',
    ]);
    const { deployment, container, config } = assertRunnable(objects);
    assert.equal(deployment.metadata.name, 'polaris-xds');
    assert.equal(deployment.spec.replicas, 2);
    assert.deepEqual(container.readinessProbe.grpc, { port: 15010 });
    assert.deepEqual(config.polaris.addresses, ['polaris.polaris-system.svc.cluster.local:8091']);
    assert.equal(container.args.includes('--token-file'), false);
  });

  it('renders, with autoscaling, TLS and a token Secret, valid manifests wired to those Secrets', () => {
    const { text, objects } = render(PRODUCTION_VALUES, 'edge');
    assertValid(text);
    assert.equal(
      objects.some((o) => o.kind === 'ServiceMonitor'),
      false,
    );
    const { deployment, container, config } = assertRunnable(objects);
    assert.equal(deployment.metadata.name, 'edge-polaris-xds');
    assert.equal(one(objects, 'HorizontalPodAutoscaler').spec.minReplicas, 3);
    const pod = deployment.spec.template.spec;
    const secretVolume = (secret: string) => pod.volumes.find((v: Obj) => v.secret?.secretName === secret);
    const mountOf = (volume: Obj) => container.volumeMounts.find((m: Obj) => m.name === volume.name);

    // The token Secret's key becomes the file --token-file names.
    const token = secretVolume('polaris-token');
    assert.deepEqual(token.secret.items, [{ key: 'polaris.token', path: 'token' }]);
    assert.equal(container.args[container.args.indexOf('--token-file') + 1], `${mountOf(token).mountPath}/token`);

    // xDS over mTLS from the TLS Secret; the kubelet's gRPC probe cannot speak TLS, so /readyz.
    const xdsTls = mountOf(secretVolume('polaris-xds-tls')).mountPath;
    assert.deepEqual(config.xds.tls, {
      cert: `${xdsTls}/tls.crt`,
      key: `${xdsTls}/tls.key`,
      clientCa: `${xdsTls}/ca.crt`,
    });
    assert.equal(container.readinessProbe.grpc, undefined);
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.readinessProbe.httpGet.port, 'http-admin');

    const polarisTls = mountOf(secretVolume('polaris-tls')).mountPath;
    assert.deepEqual(config.polaris.tls, {
      ca: `${polarisTls}/ca.crt`,
      cert: `${polarisTls}/tls.crt`,
      key: `${polarisTls}/tls.key`,
    });
    assert.deepEqual(config.polaris.addresses, ['10.0.0.2:8091', '10.0.0.3:8091']);
    assert.deepEqual(config.polaris.namespaces, ['shop', 'payments']);
    // Free-form keys are kept beside the derived ones.
    assert.equal(config.log.level, 'debug');
    assert.equal(config.polaris.pollIntervalMs, 2000);
  });

  it('renders, with rateLimit.enabled, a rate-limit service and its Redis that the control plane selects none of', () => {
    const { text, objects } = render({ rateLimit: { enabled: true } }, 'edge');
    assertValid(text);
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      'ConfigMap/edge-polaris-xds',
      'Deployment/edge-polaris-xds',
      'Deployment/edge-polaris-xds-ratelimit',
      'Deployment/edge-polaris-xds-ratelimit-redis',
      'PodDisruptionBudget/edge-polaris-xds',
      'Service/edge-polaris-xds',
      'Service/edge-polaris-xds-ratelimit',
      'Service/edge-polaris-xds-ratelimit-redis',
      'ServiceAccount/edge-polaris-xds',
    ]);
    const deployments = objects.filter((o) => o.kind === 'Deployment');
    const limiter = deployments.find((d) => d.metadata.name === 'edge-polaris-xds-ratelimit')!;
    const env = Object.fromEntries(limiter.spec.template.spec.containers[0].env.map((e: Obj) => [e.name, e.value]));
    assert.equal(env.CONFIG_TYPE, 'GRPC_XDS_SOTW');
    assert.equal(env.CONFIG_GRPC_XDS_SERVER_URL, 'edge-polaris-xds.mesh.svc.cluster.local:15010');
    assert.equal(env.CONFIG_GRPC_XDS_NODE_ID, 'ratelimit~$(POD_NAME)');
    assert.equal(env.RESPONSE_DYNAMIC_METADATA, 'true');
    assert.equal(env.REDIS_URL, 'edge-polaris-xds-ratelimit-redis:6379');
    // Every Service and PDB selects the pods of its own Deployment only.
    for (const sel of objects.filter((o) => o.kind === 'Service' || o.kind === 'PodDisruptionBudget')) {
      const selector = sel.spec.selector.matchLabels ?? sel.spec.selector;
      const selected = deployments
        .filter((d) => matches(selector, d.spec.template.metadata.labels))
        .map((d) => d.metadata.name);
      assert.equal(selected.length, 1, `${sel.kind}/${sel.metadata.name} selects ${selected.join(', ')}`);
    }
  });

  it('renders a ServiceMonitor for /metrics on the admin port when asked', () => {
    const { text, objects } = render({ serviceMonitor: { enabled: true, labels: { release: 'prom' } } });
    assertValid(text, ['ServiceMonitor']);
    const sm = one(objects, 'ServiceMonitor');
    assert.equal(sm.apiVersion, 'monitoring.coreos.com/v1');
    assert.equal(sm.metadata.labels.release, 'prom');
    assert.deepEqual(
      sm.spec.endpoints.map((e: Obj) => [e.port, e.path]),
      [['http-admin', '/metrics']],
    );
    assert.ok(matches(sm.spec.selector.matchLabels, one(objects, 'Service').metadata.labels));
  });

  it('gives the container flags and a configuration file that polaris-xds serve accepts', () => {
    for (const [values, release] of [
      [{}, 'polaris-xds'],
      [PRODUCTION_VALUES, 'edge'],
    ] as const) {
      const r = runPrintConfig(render(values, release).objects);
      assert.equal(r.status, 0, r.out);
      const effective = parseYaml(r.out) as Obj;
      assert.equal(effective.admin.address, '0.0.0.0:15014');
      assert.equal(effective.xds.address, '0.0.0.0:15010');
      assert.equal(effective.xds.maxConnectionAgeMs, 1_800_000);
      assert.ok(effective.cacheDir, 'no disk cache');
      if (values === PRODUCTION_VALUES)
        assert.equal(effective.polaris.token, '[redacted]', 'the token file was not read');
    }
  });

  it('tolerates the Service link variables Kubernetes injects, but still rejects other unknown POLARIS_XDS_ variables', () => {
    const links = runPrintConfig(render({}).objects, {
      POLARIS_XDS_SERVICE_HOST: '10.96.0.10',
      POLARIS_XDS_PORT_15010_TCP_PORT: '15010',
    });
    assert.equal(links.status, 0, links.out);
    const typo = runPrintConfig(render({}).objects, { POLARIS_XDS_XDS_ADRES: 'x' });
    assert.equal(typo.status, 2, typo.out);
    assert.match(typo.out, /POLARIS_XDS_XDS_ADRES/);
  });

  it('prints NOTES with the Service address and the bootstrap command for sidecars', () => {
    // `helm template` leaves NOTES.txt out and `helm install --dry-run` wants a cluster, so a copy
    // of the chart renders NOTES.txt into a ConfigMap through tpl.
    const copy = join(work, 'chart-with-notes');
    cpSync(CHART, copy, { recursive: true });
    cpSync(join(CHART, 'templates/NOTES.txt'), join(copy, 'notes.txt'));
    writeFileSync(
      join(copy, 'templates/notes-check.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\ndata:\n  notes: |\n    {{- tpl (.Files.Get "notes.txt") . | nindent 4 }}\n',
    );
    const notesOf = (values: Obj) =>
      render(values, 'polaris-xds', copy).objects.find((o) => o.metadata?.name === 'notes')!.data.notes as string;
    const plain = notesOf({});
    assert.match(plain, /bootstrap --xds-address polaris-xds\.mesh\.svc\.cluster\.local:15010/);
    assert.match(plain, /closed after 30 minutes/);
    assert.doesNotMatch(plain, /TLS/);
    assert.match(
      notesOf({ xds: { tls: { secretName: 'x', clientAuth: true } } }),
      /TLS, client certificates required[\s\S]*--tls-ca/,
    );
    assert.doesNotMatch(plain, /ratelimit/);
    assert.match(
      notesOf({ rateLimit: { enabled: true } }),
      /--ratelimit-address polaris-xds-ratelimit\.mesh\.svc\.cluster\.local:8081/,
    );
  });

  it('refuses values that would give pods that cannot work', () => {
    const cases: Array<[Obj, RegExp]> = [
      [{ polaris: { addresses: [] } }, /polaris\.addresses: set at least one/],
      [{ config: { file: '/etc/mesh/mesh.yaml' } }, /polaris\.addresses and config\.file are both set/],
      [{ terminationGracePeriodSeconds: 8 }, /terminationGracePeriodSeconds \(8 s\) must exceed/],
      [{ autoscaling: { enabled: true, minReplicas: 1 } }, /minReplicas must be at least 2/],
      [{ xds: { tls: { clientAuth: true } } }, /xds\.tls\.clientAuth needs xds\.tls\.secretName/],
      [
        { rateLimit: { enabled: true }, xds: { tls: { secretName: 'x', clientAuth: true } } },
        /rateLimit\.enabled with xds\.tls\.clientAuth/,
      ],
    ];
    for (const [values, message] of cases) {
      assert.throws(() => render(values), message, JSON.stringify(values));
    }
  });
});

describe('manifest validation', () => {
  const renderedDeployment = () => one(render({}).objects, 'Deployment');

  it('rejects a Deployment whose replicas is not a number', () => {
    const d = renderedDeployment();
    d.spec.replicas = 'two';
    for (const v of KUBE_VERSIONS) {
      const r = validate(toYaml(d), v);
      assert.notEqual(r.status, 0, `replicas "two" passed against ${v}:\n${r.out}`);
      assert.match(r.out, /spec\.replicas: 'two' is not of type 'integer'/);
    }
  });

  it('rejects an unknown field (strict), deep inside a container', () => {
    const d = renderedDeployment();
    d.spec.template.spec.containers[0].readinessProbe.grpcPort = 15010;
    for (const v of KUBE_VERSIONS) {
      const r = validate(toYaml(d), v);
      assert.notEqual(r.status, 0, `an unknown field passed against ${v}:\n${r.out}`);
      assert.match(r.out, /'grpcPort' was unexpected/);
    }
  });
});

describe('sidecars pointed at the Service', () => {
  it('get a bootstrap for <service>.<namespace>.svc.cluster.local:15010 that a real Envoy accepts', () => {
    const { objects } = render({});
    const service = one(objects, 'Service');
    const address = `${service.metadata.name}.mesh.svc.cluster.local:${service.spec.ports.find((p: Obj) => p.name === 'grpc-xds').port}`;
    assert.equal(address, 'polaris-xds.mesh.svc.cluster.local:15010');
    const args = [
      'bootstrap',
      '--xds-address',
      address,
      '--namespace',
      'shop',
      '--service',
      'cart',
      '--output',
      'json',
    ];
    const out = execFileSync(process.execPath, [...CLI, ...args], { cwd: repoRoot, encoding: 'utf8' });
    const file = tmpFile('envoy.json', out);
    execFileSync(envoyBinary(), ['--mode', 'validate', '-c', file, '--log-level', 'error'], { stdio: 'pipe' });
    assert.match(out, /polaris-xds\.mesh\.svc\.cluster\.local/);
  });
});

/** dockerfileStages splits a Dockerfile into stages of [instruction, arguments], continuation lines joined. */
function dockerfileStages(text: string): Array<Array<[string, string]>> {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages: Array<Array<[string, string]>> = [];
  for (const line of lines) {
    const [, instr, rest] = /^(\S+)\s+(.*)$/.exec(line)!;
    if (instr!.toUpperCase() === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push([instr!.toUpperCase(), rest!.replace(/\s+/g, ' ')]);
  }
  return stages;
}

/** ignoredByDocker tells whether a .dockerignore pattern list leaves a path out of the build context. */
function ignoredByDocker(path: string, patterns: string[]): boolean {
  return patterns.some((p) => {
    const re = new RegExp(`^${p.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*')}(/.*)?$`);
    return re.test(path.replace(/\/$/, ''));
  });
}

describe('Dockerfile', () => {
  const text = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const stages = dockerfileStages(text);
  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('builds in one node:20-slim stage and runs from another, as a non-root user', () => {
    assert.ok(stages.length >= 2, 'not multi-stage');
    for (const s of stages) assert.match(s[0]![1], /^node:20-slim\b/);
    const [build, runtime] = [stages[0]!, stages[stages.length - 1]!];
    const buildName = / AS (\S+)$/i.exec(build[0]![1])?.[1];
    assert.ok(buildName, 'the build stage has no name');
    assert.ok(
      build.some(([i, a]) => i === 'RUN' && /\bnpm ci\b/.test(a)),
      'the build stage does not run npm ci (prepare: gen + build)',
    );

    const users = runtime.filter(([i]) => i === 'USER').map(([, a]) => a);
    assert.ok(users.length > 0, 'the runtime stage sets no USER');
    assert.ok(!/^(root|0)(:|$)/.test(users[users.length - 1]!), `runs as ${users[users.length - 1]}`);
    assert.ok(
      runtime.some(([i, a]) => i === 'RUN' && /npm ci\b.*--omit=dev/.test(a) && a.includes('--ignore-scripts')),
      'production dependencies are not installed with --omit=dev --ignore-scripts',
    );
    assert.ok(
      runtime.some(([i, a]) => i === 'COPY' && a.includes(`--from=${buildName}`) && /\bdist\/?\b/.test(a)),
      'dist is not copied from the build stage',
    );
    const last = (instr: string) => runtime.filter(([i]) => i === instr).pop()?.[1];
    assert.deepEqual(JSON.parse(last('ENTRYPOINT')!), ['node', 'bin/polaris-xds.js']);
    assert.deepEqual(JSON.parse(last('CMD')!), ['serve']);
    assert.deepEqual(last('EXPOSE')!.split(' ').sort(), ['15010', '15014']);
    // bin/ loads dist/cli.js, which must be where the image puts it.
    assert.match(readFileSync(join(repoRoot, 'bin/polaris-xds.js'), 'utf8'), /\.\.\/dist\/cli\.js/);
  });

  it('copies only files that exist and are in the build context', () => {
    const sources = stages
      .flat()
      .filter(([i, a]) => i === 'COPY' && !a.startsWith('--from'))
      .flatMap(([, a]) => a.split(' ').slice(0, -1));
    assert.ok(sources.length > 0);
    for (const src of sources) {
      assert.ok(existsSync(join(repoRoot, src)), `COPY ${src}: no such file in the repository`);
      assert.ok(!ignoredByDocker(src, ignore), `COPY ${src}: left out by .dockerignore`);
    }
    for (const local of ['node_modules', '.git', 'dist', 'src/gen'])
      assert.ok(ignoredByDocker(local, ignore), `.dockerignore lets ${local} in`);
  });
});

/** leafKeys lists the dotted paths of every key in a zod object schema. */
function leafKeys(schema: any, prefix = ''): string[] {
  let s = schema;
  while (s?._zod?.def?.innerType) s = s._zod.def.innerType;
  if (s?._zod?.def?.type !== 'object') return [prefix];
  return Object.entries(s._zod.def.shape as Record<string, unknown>).flatMap(([k, v]) =>
    leafKeys(v, prefix ? `${prefix}.${k}` : k),
  );
}

describe('docs/configuration.md', () => {
  const doc = readFileSync(join(repoRoot, 'docs/configuration.md'), 'utf8');

  it('names every configuration key, environment variable and serve flag', () => {
    const keys = leafKeys(ConfigSchema);
    assert.ok(keys.includes('xds.maxConnectionAgeMs') && keys.includes('polaris.tls.ca'), keys.join(' '));
    for (const key of keys) assert.ok(doc.includes(`\`${key}\``), `docs/configuration.md lacks the key ${key}`);
    for (const name of Object.keys(ENV)) assert.ok(doc.includes(`\`${name}\``), `docs/configuration.md lacks ${name}`);
    const help = execFileSync(process.execPath, [...CLI, 'serve', '--help'], { cwd: repoRoot, encoding: 'utf8' });
    const flags = [...new Set(help.match(/--[a-z][a-z-]+/g))];
    assert.ok(flags.includes('--admin-address'), help);
    for (const f of flags) assert.ok(doc.includes(`\`${f}`), `docs/configuration.md lacks the flag ${f}`);
  });

  it('has an example file that the schema accepts', () => {
    const example = /## Example file[\s\S]*?```yaml\n([\s\S]*?)```/.exec(doc)?.[1];
    assert.ok(example, 'no example YAML');
    const parsed = ConfigSchema.safeParse(parseYaml(example));
    assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
  });
});
