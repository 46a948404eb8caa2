import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConvergenceClock } from '../../../src/admin/convergence.js';

describe('ConvergenceClock', () => {
  it('measures from the first change of a burst to the ACK', () => {
    const c = new ConvergenceClock();
    c.meshChanged(1000);
    c.meshChanged(1050);
    c.built(1100);
    assert.equal(c.seconds(1110, 1300, 500), 0.3);
  });

  it('does not count a first sync or an ACK with no rebuild since the previous one', () => {
    const c = new ConvergenceClock();
    c.meshChanged(1000);
    c.built(1000);
    assert.equal(c.seconds(1200, 1210, undefined), undefined, 'first sync of a new stream');
    assert.equal(c.seconds(3000, 3010, 2000), undefined, 'subscription change long after the build');
  });

  it('attributes a response to the latest build before it was sent', () => {
    const c = new ConvergenceClock();
    c.meshChanged(1000);
    c.built(1010);
    c.meshChanged(2000);
    c.built(2020);
    assert.equal(c.seconds(1500, 1600, 900), 0.6);
    assert.equal(c.seconds(2030, 2100, 1600), 0.1);
    assert.equal(c.seconds(900, 950, 100), undefined, 'sent before any build');
  });

  it('ignores a rebuild with no mesh change behind it', () => {
    const c = new ConvergenceClock();
    c.built(500);
    assert.equal(c.seconds(600, 700, 100), undefined);
  });
});
