#!/usr/bin/env node
// Generates the TypeScript declarations in types/ from the vendored WIT (wit/v0.1.0), with jco's
// type generator in guest mode: what a plugin imports (cs:plugin/host) and what it exports.
//
//   node scripts/generate-types.mjs [OUT_DIR]      (default: types/)
//
// The contract's files are joined into one WIT source, to which a world exporting every
// extension point is added, so one run declares every interface.

import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { $init, generateTypes } from '@bytecodealliance/jco-transpile/component';

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const WIT_DIR = join(SDK_DIR, 'wit', 'v0.1.0');
const out = resolve(process.argv[2] ?? join(SDK_DIR, 'types'));

const body = readdirSync(WIT_DIR)
  .filter((name) => name.endsWith('.wit'))
  .sort()
  .map((name) => readFileSync(join(WIT_DIR, name), 'utf8').replace(/^package [^;]*;/m, ''))
  .join('\n');
const source = `package cs:plugin@0.1.0;\n${body}\nworld every-extension {\n    import host;\n    export metadata;\n    export field-mapper;\n    export criteria-filter;\n    export notifier;\n    export lifecycle;\n}\n`;

await $init;
const files = generateTypes('cs-plugin', {
  wit: { tag: 'source', val: source },
  world: 'every-extension',
  guest: true,
  instantiation: undefined,
  tlaCompat: false,
  features: { tag: 'list', val: [] },
  asyncMode: undefined,
});
rmSync(out, { recursive: true, force: true });
for (const [name, text] of files) {
  const path = join(out, name);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text);
}
console.error(`generated ${files.length} declaration files in ${out}`);
