import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ERRORS, errorCode, PolarisXdsError } from '../../src/errors.js';
import { repoRoot } from '../support/components.js';

describe('error catalogue', () => {
  it('keys equal their codes and follow PXDS_ERR_<AREA>_<WHAT>', () => {
    for (const [key, spec] of Object.entries(ERRORS)) {
      assert.equal(spec.code, key);
      assert.match(key, /^PXDS_ERR_[A-Z]+_[A-Z_]+$/);
    }
  });
  it('matches docs/errors.md both ways; retired codes are listed apart and out of the catalogue', () => {
    const doc = readFileSync(join(repoRoot, 'docs/errors.md'), 'utf8');
    const [live = '', retired = ''] = doc.split(/^## Retired codes$/m);
    const codesIn = (text: string) => [...new Set([...text.matchAll(/`(PXDS_ERR_[A-Z_]+)`/g)].map((m) => m[1]))].sort();
    assert.deepEqual(codesIn(live), Object.keys(ERRORS).sort());
    for (const code of codesIn(retired)) assert.ok(!(code in ERRORS), `${code} is retired but still in the catalogue`);
  });
  it('every code is raised somewhere in src/', () => {
    const src = join(repoRoot, 'src');
    const text = readdirSync(src, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts') && f !== 'errors.ts' && !f.startsWith('gen'))
      .map((f) => readFileSync(join(src, f), 'utf8'))
      .join('\n');
    const unused = Object.keys(ERRORS).filter((code) => !text.includes(`'${code}'`));
    assert.deepEqual(
      unused,
      [],
      'codes nothing raises: remove them or move them to the retired list in docs/errors.md',
    );
  });
  it('formats messages and exposes the code', () => {
    const e = new PolarisXdsError('PXDS_ERR_XDS_UNKNOWN_TYPE', ['type.googleapis.com/x']);
    assert.equal(e.message, 'type_url type.googleapis.com/x is not served');
    assert.equal(errorCode(e), 'PXDS_ERR_XDS_UNKNOWN_TYPE');
    assert.equal(e.grpcStatus, 3);
    assert.equal(errorCode(new Error('x')), undefined);
  });
});
