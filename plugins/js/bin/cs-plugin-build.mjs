#!/usr/bin/env node
// cs-plugin-build: bundles a JavaScript or TypeScript plugin (with esbuild) and turns it into a
// WebAssembly component (with componentize-js) against the vendored cs:plugin contract.
//
//   cs-plugin-build SOURCE [-o OUT.wasm] [--cache DIR] [--contract 0.1.0|0.2.0]
//
// The contract is `cs:plugin@0.1.0` unless `--contract 0.2.0` is given: the same source then
// builds a field mapper that takes rows in batches (`map-rows`), the SDK's `defineFieldMapper`
// serving either.
// The world is chosen from what the module exports (metadata plus fieldMapper, criteriaFilter,
// notifier, lifecycle). WASI features are switched off (no stdio, random, clocks, http), so the
// component imports only the contract. A build whose bundle, world and toolchain are unchanged is
// copied from the cache (--cache, $CS_PLUGIN_BUILD_CACHE, or node_modules/.cache) instead of
// being componentized again.

import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const SDK_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const CONTRACTS = ['0.1.0', '0.2.0'];
const DISABLED = ['stdio', 'random', 'clocks', 'http', 'fetch-event'];
const EXTENSIONS = {
  fieldMapper: 'field-mapper',
  criteriaFilter: 'criteria-filter',
  notifier: 'notifier',
  lifecycle: 'lifecycle',
};

function usage(message) {
  if (message) console.error(`cs-plugin-build: ${message}`);
  console.error('usage: cs-plugin-build SOURCE [-o OUT.wasm] [--cache DIR] [--contract 0.1.0|0.2.0]');
  process.exit(2);
}

function parseArgs(argv) {
  const args = {
    source: undefined,
    out: undefined,
    cache: process.env.CS_PLUGIN_BUILD_CACHE,
    contract: CONTRACTS[0],
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-o' || arg === '--out') args.out = argv[++i];
    else if (arg === '--cache') args.cache = argv[++i];
    else if (arg === '--contract') args.contract = argv[++i];
    else if (arg === '-h' || arg === '--help') usage();
    else if (arg.startsWith('-')) usage(`unknown option ${arg}`);
    else if (args.source === undefined) args.source = arg;
    else usage(`unexpected argument ${arg}`);
  }
  if (!args.source) usage('no source file given');
  if (!CONTRACTS.includes(args.contract)) {
    usage(`unknown contract ${args.contract}: this SDK builds ${CONTRACTS.join(' or ')}`);
  }
  args.out ??= `${basename(args.source, extname(args.source))}.wasm`;
  args.cache ??= join(SDK_DIR, 'node_modules', '.cache', 'cs-plugin-build');
  return args;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const contract = args.contract;
  const witDir = join(SDK_DIR, 'wit', `v${contract}`);
  const esbuild = await import('esbuild');
  const bundled = await esbuild.build({
    // Paths in the bundle's comments are relative to the source's directory, so the same
    // project builds the same bundle (and hits the cache) wherever it is checked out.
    absWorkingDir: dirname(resolve(args.source)),
    entryPoints: [resolve(args.source)],
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    metafile: true,
    logLevel: 'error',
    external: ['cs:plugin/*'],
    // The SDK imports the host interface of 0.1.0; a build for another contract imports its own
    // (the interface is the same in both).
    plugins: [
      {
        name: 'cs-plugin-contract',
        setup(build) {
          build.onResolve({ filter: /^cs:plugin\/host@/ }, () => ({
            path: `cs:plugin/host@${contract}`,
            external: true,
          }));
        },
      },
    ],
    // Plugins import the SDK by its package name; it is this directory, wherever it lives.
    alias: { '@cs-host/plugin-sdk': SDK_DIR },
  });
  const code = bundled.outputFiles[0].text;
  const exported = Object.values(bundled.metafile.outputs)[0].exports;
  if (!exported.includes('metadata')) {
    fail(`${args.source} does not export \`metadata\`: add \`export const metadata = defineMetadata({ name, version, description })\``);
  }
  const points = Object.keys(EXTENSIONS).filter((name) => exported.includes(name));
  if (points.length === 0) {
    fail(`${args.source} exports no extension point: export one of ${Object.keys(EXTENSIONS).join(', ')} (for example \`export const fieldMapper = defineFieldMapper(...)\`)`);
  }

  const componentize = await import('@bytecodealliance/componentize-js');
  const version = JSON.parse(readFileSync(join(SDK_DIR, 'package.json'), 'utf8')).version;
  const hash = createHash('sha256')
    .update(JSON.stringify({ code, points, version, disabled: DISABLED, wit: witText(witDir) }))
    .digest('hex');
  const cached = join(args.cache, `${hash}.wasm`);
  mkdirSync(dirname(resolve(args.out)), { recursive: true });
  if (existsSync(cached)) {
    copyFileSync(cached, args.out);
    console.error(`cs-plugin-build: ${args.out} is up to date (${points.join(', ')}; ${contract})`);
    return;
  }

  // A world of exactly the extension points the module exports, beside the contract's files.
  const work = mkdtempSync(join(tmpdir(), 'cs-plugin-build-'));
  try {
    const wit = join(work, 'wit');
    cpSync(witDir, wit, { recursive: true });
    const exportsWit = points.map((p) => `    export ${EXTENSIONS[p]};\n`).join('');
    writeFileSync(
      join(wit, 'built.wit'),
      `package cs:plugin@${contract};\n\nworld js-plugin {\n    import host;\n    export metadata;\n${exportsWit}}\n`,
    );
    const source = join(work, 'plugin.js');
    writeFileSync(source, code);
    const started = Date.now();
    const { component } = await componentize.componentize({
      sourcePath: source,
      witPath: wit,
      worldName: 'js-plugin',
      disableFeatures: DISABLED,
    });
    writeFileSync(args.out, component);
    mkdirSync(args.cache, { recursive: true });
    writeFileSync(cached, component);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.error(`cs-plugin-build: built ${args.out} (${points.join(', ')}; ${contract}; ${component.length} bytes, ${seconds} s)`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function witText(witDir) {
  return readdirSync(witDir)
    .sort()
    .map((name) => readFileSync(join(witDir, name), 'utf8'))
    .join('\n');
}

function fail(message) {
  console.error(`cs-plugin-build: ${message}`);
  process.exit(1);
}

main().catch((e) => fail(e && e.stack ? e.stack : String(e)));
