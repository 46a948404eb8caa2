import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
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
  it('matches docs/errors.md both ways', () => {
    const doc = readFileSync(join(repoRoot, 'docs/errors.md'), 'utf8');
    const documented = new Set([...doc.matchAll(/`(PXDS_ERR_[A-Z_]+)`/g)].map((m) => m[1]));
    assert.deepEqual([...documented].sort(), Object.keys(ERRORS).sort());
  });
  it('formats messages and exposes the code', () => {
    const e = new PolarisXdsError('PXDS_ERR_XDS_UNKNOWN_TYPE', ['type.googleapis.com/x']);
    assert.equal(e.message, 'type_url type.googleapis.com/x is not served');
    assert.equal(errorCode(e), 'PXDS_ERR_XDS_UNKNOWN_TYPE');
    assert.equal(e.grpcStatus, 3);
    assert.equal(errorCode(new Error('x')), undefined);
  });
});
