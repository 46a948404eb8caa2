// RE2 checks: the subset parser refuses what Envoy might reject, and its program-size estimate is
// an upper bound of what the real Envoy computes (asked with a runtime limit of 1, Envoy reports
// every regex's size in its error).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { checkRe2, envoyRegex, escapeRe2, searchRegex } from '../../../../src/xds/translate/routing/regex.js';
import { envoyBinary } from '../../../support/components.js';

test('escapeRe2 quotes every metacharacter', () => {
  const lit = 'a.b*c+d?e(f)g[h]i{j}k|l^m$n\\o';
  const re = new RegExp(`^${escapeRe2(lit)}$`);
  assert.ok(re.test(lit));
  assert.ok(!re.test('aXb*c+d?e(f)g[h]i{j}k|l^m$n\\o'));
  assert.ok(checkRe2(escapeRe2(lit)).ok);
});

test('checkRe2 accepts common RE2 syntax', () => {
  for (const p of [
    'abc',
    '^/api/v[0-9]+/.*$',
    '(?i)foo|bar',
    '(?P<id>\\d{3,5})',
    '[[:alpha:]_-]+',
    '\\pL+',
    '\\x{41}\\x42',
    '(?s:.*)',
    'a{2}b{1,}c{0,3}?',
    '[^;]*',
    '\\.\\*',
  ]) {
    assert.ok(checkRe2(p).ok, p);
  }
});

test('checkRe2 refuses what RE2 lacks or what we do not verify', () => {
  for (const p of [
    '',
    '(?=a)',
    '(?!a)',
    '(?<=a)b',
    '(?<n>a)',
    '(?>a)',
    '(a)\\1',
    '\\Qa\\E',
    'a**',
    'a{2',
    '{',
    '*a',
    '(a',
    'a)',
    '[a',
    '[z-a]',
    'a{2000}',
    '\\C',
    '\\Z',
  ]) {
    assert.ok(!checkRe2(p).ok, p);
  }
});

test('envoyRegex refuses patterns whose estimated program size exceeds Envoy’s default limit', () => {
  assert.ok(envoyRegex(searchRegex('a'.repeat(40))).ok);
  const r = envoyRegex(searchRegex('a'.repeat(120)));
  assert.ok(!r.ok);
  assert.match(r.reason, /program size/);
});

const CORPUS = [
  'a',
  'abcdefghij',
  '(?s:.*)(?:abc)(?s:.*)',
  '.',
  '.*',
  '[a-z]',
  '[^;]*',
  '\\w',
  '\\W',
  '\\s',
  '\\S',
  '\\d',
  '[^\\d]',
  '\\pL',
  '\\PL',
  '[^\\pL]',
  'é',
  '中',
  '[^中]*',
  '[é-ü]',
  'a|b|c|d',
  '(?:abc|xyz|foo)',
  '(a|b|c)+',
  '(a)',
  'a{2,5}',
  'x{2,}',
  '.{10}',
  '(?:.*){5}',
  '\\ba\\b',
  '(?i)straße',
  '(?i)[a-z]+',
  '[[:^alpha:]]',
  '(?:.*;)?[ \\t]*uid=u1(?:[ \\t]*;.*)?',
  '(?s:.*)(?:^/api/v[0-9]+/(users|orders)/\\d+$)(?s:.*)',
  '(?s:.*)(?:\\pL+)(?s:.*)',
];

async function envoyProgramSize(envoy: string, dir: string, i: number, regex: string): Promise<number> {
  const file = join(dir, `re${i}.json`);
  const hcm = {
    '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
    stat_prefix: 'x',
    route_config: {
      virtual_hosts: [
        { name: 'v', domains: ['*'], routes: [{ match: { safe_regex: { regex } }, route: { cluster: 'c' } }] },
      ],
    },
    http_filters: [
      {
        name: 'envoy.filters.http.router',
        typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' },
      },
    ],
  };
  const bootstrap = {
    static_resources: {
      listeners: [
        {
          name: 'l',
          address: { socket_address: { address: '127.0.0.1', port_value: 1 } },
          filter_chains: [{ filters: [{ name: 'envoy.filters.network.http_connection_manager', typed_config: hcm }] }],
        },
      ],
      clusters: [
        {
          name: 'c',
          type: 'STATIC',
          load_assignment: {
            cluster_name: 'c',
            endpoints: [
              {
                lb_endpoints: [{ endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 1 } } } }],
              },
            ],
          },
        },
      ],
    },
    layered_runtime: { layers: [{ name: 'limit', static_layer: { 're2.max_program_size.error_level': 1 } }] },
  };
  writeFileSync(file, JSON.stringify(bootstrap));
  const out = await promisify(execFile)(envoy, ['--mode', 'validate', '-c', file, '-l', 'critical'], {
    timeout: 30_000,
  }).then(
    (r) => r.stdout + r.stderr,
    (err: { stdout?: string; stderr?: string }) => `${err.stdout ?? ''}${err.stderr ?? ''}`,
  );
  const m = /program size of (\d+)/.exec(out);
  // Some Unicode classes compile below the limit check entirely: size ≤ 1.
  if (!m) {
    assert.match(out, /OK/, `envoy output for ${regex}: ${out}`);
    return 1;
  }
  return Number(m[1]);
}

test('the program-size estimate is an upper bound of the size real Envoy computes', { timeout: 120_000 }, async () => {
  const envoy = envoyBinary();
  const dir = mkdtempSync(join(tmpdir(), 'pxds-re2-'));
  try {
    const sizes = await Promise.all(CORPUS.map((p, i) => envoyProgramSize(envoy, dir, i, p)));
    CORPUS.forEach((p, i) => {
      const est = checkRe2(p);
      assert.ok(est.ok, p);
      assert.ok(est.size >= sizes[i]!, `${p}: estimate ${est.size} < envoy ${sizes[i]}`);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
