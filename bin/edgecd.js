#!/usr/bin/env node
// The `edgecd` command. It runs the built JavaScript: dist/bin/cli.bundle.js, made by `npm run build` (which `npm ci`
// runs through `prepare`, and `npm pack` through `prepack`). The build copies this file beside the bundle, where
// the local cluster finds it to start its members.
//
// In a source checkout, EDGECD_FROM_SOURCE=1 runs the TypeScript sources through tsx (a devDependency) instead:
// the tests set it (vitest.config.ts), so they always run the code as it is, never a stale build.
import { existsSync } from 'node:fs';
import v8 from 'node:v8';

// V8 optimizes a function once it has run through a budget of bytecode (the interrupt budget, 66 KB on Node 20).
// A member's request path is many small functions run a few times per request, so at the default a fresh member
// serves its first several thousand requests mostly unoptimized. Measured with etcd's `benchmark put` from one
// client on a new 3-member cluster (2 cores): the first 3,000 puts ran at 400–470/s and cost ~2.7 ms of CPU each
// across the members, the next 3,000 at 640–720/s and ~1.75 ms; with a 4 KB budget 520–630/s and ~2.1 ms, then
// 720–830/s and ~1.4 ms (optimized sooner, and more of the path optimized). Compilation runs on V8's background
// threads. A budget given on node's command line wins (V8 flags are not allowed in NODE_OPTIONS).
const flagGiven = (name) => process.execArgv.some((arg) => arg.startsWith(name));
if (!flagGiven('--interrupt-budget')) v8.setFlagsFromString('--interrupt-budget=4096');

const here = (path) => new URL(path, import.meta.url);

if (process.env.EDGECD_FROM_SOURCE === '1' && existsSync(here('./cli.ts'))) {
  const { register } = await import('tsx/esm/api');
  register();
  await import('./cli.ts');
} else {
  // The CLI as one bundled file (bin/build.js), beside this file in dist/bin or under ../dist/bin.
  const built = [here('./cli.bundle.js'), here('../dist/bin/cli.bundle.js')].find((url) => existsSync(url));
  if (!built) {
    console.error('edgecd: the build is missing (dist/bin/cli.bundle.js): run `npm run build`');
    process.exit(1);
  }
  await import(built.href);
}
