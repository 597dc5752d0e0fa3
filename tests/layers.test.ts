/**
 * The dependency direction of contract §2, enforced: an import against it is a defect.
 * `wire` and `crypto` import nothing of ours; `ndis` imports `wire`; `miniport` and `transport`
 * import `ndis`, `wire`, `crypto`; `sim` wires them together; `cli` sits on top.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const src = join(root, 'src');

const allowed: Readonly<Record<string, readonly string[]>> = {
  wire: [],
  crypto: [],
  ndis: ['wire'],
  miniport: ['ndis', 'wire', 'crypto'],
  transport: ['ndis', 'wire', 'crypto'],
  sim: ['miniport', 'transport', 'ndis', 'wire', 'crypto'],
  cli: ['sim', 'miniport', 'transport', 'ndis', 'wire', 'crypto'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [p] : [];
  });
}

/** The layer a source file belongs to (its first folder under src/). */
const layerOf = (file: string): string => relative(src, file).split(sep)[0] ?? '';

test('every import in src/ follows the layer direction of contract §2', () => {
  const files = sources(src);
  assert.ok(files.length > 0, 'found the sources');
  const violations: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    const allowedHere = allowed[from];
    assert.ok(allowedHere, `${relative(root, file)} is outside the known layers`);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/(?:import|export)[^'"]*from\s+['"](\.[^'"]+)['"]/g)) {
      const target = layerOf(resolve(dirname(file), m[1]));
      if (target !== from && !allowedHere.includes(target)) {
        violations.push(`${relative(root, file)} (${from}) imports ${m[1]} (${target})`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('the layer check itself catches a wrong-way import', () => {
  // A wire module importing crypto would be a defect: make sure the rule table says so.
  assert.ok(!allowed['wire'].includes('crypto'));
  assert.ok(!allowed['crypto'].includes('wire'));
  assert.ok(!allowed['ndis'].includes('miniport'));
});
