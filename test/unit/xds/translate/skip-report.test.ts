// Skip reporting: each new reason is logged once; the gauge counts the current reasons by kind.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import type { SkipReason } from '../../../../src/xds/translate/skip.js';
import { reportingTranslator, skipReporter } from '../../../../src/xds/translate/skip-report.js';
import { createTranslator } from '../../../../src/xds/translate/index.js';
import { dest, instance, mesh, ms, rule, service, sidecar, source } from './support/fixtures.js';

function capture(): { logger: pino.Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      out.push(String(chunk));
      done();
    },
  });
  return {
    logger: pino({ level: 'info' }, stream),
    lines: () =>
      out
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const a: SkipReason = { kind: 'rule', path: 'ns/svc.routing.inbounds[r1]', reason: 'because' };
const b: SkipReason = { kind: 'endpoint', path: 'ns/svc.instances[i1]', reason: 'not an IP' };

test('each new skip reason is logged once, with its kind, path and reason', () => {
  const log = capture();
  const report = skipReporter({ logger: log.logger, registry: new Registry(), current: () => [] });
  report([a]);
  report([a, b]);
  report([b, a]);
  const lines = log.lines();
  assert.deepEqual(
    lines.map((l) => [l.kind, l.path, l.reason, l.level]),
    [
      ['rule', a.path, a.reason, 40],
      ['endpoint', b.path, b.reason, 40],
    ],
  );
});

test('polaris_xds_rules_skipped counts the current reasons by kind at scrape time', async () => {
  const registry = new Registry();
  let current: SkipReason[] = [a, b, { ...a, path: 'other' }];
  skipReporter({ logger: capture().logger, registry, current: () => current });
  const text = await registry.metrics();
  assert.match(text, /^polaris_xds_rules_skipped\{kind="rule"\} 2$/m);
  assert.match(text, /^polaris_xds_rules_skipped\{kind="endpoint"\} 1$/m);
  current = [b];
  const later = await registry.metrics();
  assert.doesNotMatch(later, /kind="rule"/);
  assert.match(later, /^polaris_xds_rules_skipped\{kind="endpoint"\} 1$/m);
});

test('reportingTranslator passes translations through and reports their skip reasons', () => {
  const seen: SkipReason[][] = [];
  const inner = createTranslator();
  const tr = reportingTranslator(inner, (s) => seen.push([...s]));
  const svc = service('ns', 'svc', [instance('1', '10.0.0.1')], {
    inbounds: [rule('r1', [source({ $caller_ip: ms('EXACT', '10.0.0.9') })], [dest({})])],
  });
  const view = sidecar('ns', { service: 'web' });
  const t = tr.translate(mesh(svc), view);
  assert.deepEqual(seen, [t.skipped]);
  assert.ok(t.skipped.some((s) => s.kind === 'rule' && s.path.endsWith('.match["$caller_ip"]')));
});
