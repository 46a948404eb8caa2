// Generates TypeScript types (ts-proto, through buf) for the Polaris protos in proto/polaris and
// the Envoy API files listed in proto/envoy/roots.txt. Output goes to src/gen, which is never
// edited by hand. Envoy's protos are copied from @grpc/grpc-js-xds into proto/envoy/vendor first,
// and validate.proto is patched: the copy shipped there predates `StringRules.ignore_empty`, which
// envoy-api uses and buf rejects when it is missing.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const xdsDeps = join(dirname(require.resolve('@grpc/grpc-js-xds/package.json')), 'deps');
const vendor = join(root, 'proto/envoy/vendor');

rmSync(vendor, { recursive: true, force: true });
for (const [from, to] of [
  ['envoy-api', 'envoy-api'],
  ['xds', 'xds'],
  ['googleapis', 'googleapis'],
  ['protoc-gen-validate/validate', 'pgv/validate'],
]) {
  cpSync(join(xdsDeps, from), join(vendor, to), { recursive: true });
}
// buf wants every module inside its workspace, so our own Polaris protos and our own proto of the
// rate-limit service's configuration (served over xDS for GLOBAL rate limits) are copied in as well.
cpSync(join(root, 'proto/polaris'), join(vendor, 'polaris'), { recursive: true });
cpSync(join(root, 'proto/ratelimit'), join(vendor, 'ratelimit'), { recursive: true });
const validate = join(vendor, 'pgv/validate/validate.proto');
const text = readFileSync(validate, 'utf8');
if (!/ignore_empty\s*=\s*26/.test(text.split('message StringRules')[1]?.split('\nmessage ')[0] ?? '')) {
  const patched = text.replace(
    /(message StringRules \{[\s\S]*?optional bool strict = 25 \[default = true\];)(\r?\n)/,
    '$1$2  optional bool ignore_empty = 26;$2',
  );
  if (patched === text) throw new Error(`gen: could not patch ${validate}: StringRules.strict not found`);
  writeFileSync(validate, patched);
}

writeFileSync(
  join(vendor, 'buf.yaml'),
  [
    'version: v2',
    'modules:',
    '  - path: envoy-api',
    '  - path: xds',
    '  - path: googleapis',
    '  - path: pgv',
    '  - path: polaris',
    '  - path: ratelimit',
    '',
  ].join('\n'),
);
const opts = [
  'outputServices=grpc-js',
  'esModuleInterop=true',
  'importSuffix=.js',
  'env=node',
  'useOptionals=messages',
  'oneof=unions-value',
  'outputJsonMethods=to-only',
  'useExactTypes=false',
  'forceLong=number',
];
writeFileSync(
  join(vendor, 'buf.gen.yaml'),
  [
    'version: v2',
    'plugins:',
    `  - local: ${join(root, 'node_modules/.bin/protoc-gen-ts_proto')}`,
    `    out: ${join(root, 'src/gen')}`,
    '    include_imports: true',
    '    strategy: all',
    `    opt: [${opts.join(', ')}]`,
    '',
  ].join('\n'),
);

const roots = readFileSync(join(root, 'proto/envoy/roots.txt'), 'utf8')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith('#'))
  .map((f) => join('envoy-api', f));
const polaris = ['discover.proto', 'routing.proto', 'service.proto', 'model.proto', 'client.proto'].map((f) =>
  join('polaris/v1', f),
);
const ratelimit = [join('ratelimit', 'ratelimit/config/ratelimit/v3/rls_conf.proto')];
for (const f of [...roots, ...polaris, ...ratelimit]) {
  if (!existsSync(join(vendor, f))) throw new Error(`gen: ${f} not found`);
}

rmSync(join(root, 'src/gen'), { recursive: true, force: true });
mkdirSync(join(root, 'src/gen'), { recursive: true });
const buf = join(root, 'node_modules/.bin/buf');
execFileSync(
  buf,
  ['generate', '--template', 'buf.gen.yaml', ...[...roots, ...polaris, ...ratelimit].flatMap((p) => ['--path', p])],
  {
    cwd: vendor,
    stdio: 'inherit',
  },
);
console.log('gen: wrote src/gen');
