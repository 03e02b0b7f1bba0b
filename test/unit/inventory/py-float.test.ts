import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pyFloatRepr } from '../../../src/inventory/py-float.js';

/** Python's float repr is the answer: asked of python3 itself for the same numbers. */
describe('floats print as Python prints them', () => {
  const numbers = [8, 1000, 1e16, 1e15, 1.5e-7, 0.0001, 0.00001234, 0.1, 123.456, -2.5, 1e22, 5e-324, 1234567890123456.7, 0];
  it.skipIf(spawnSync('python3', ['-c', '0']).status !== 0)('repr of each, as python3 says', () => {
    const py = spawnSync('python3', ['-c', `import json; print("\\n".join(json.dumps(float(x)) for x in ${JSON.stringify(numbers.map(String))}))`], { encoding: 'utf8' });
    expect(numbers.map(pyFloatRepr)).toEqual(py.stdout.trim().split('\n'));
  });
});
