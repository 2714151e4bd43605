#!/usr/bin/env node
// The `edgecd` command. It runs the built JavaScript: dist/bin/cli.bundle.js, made by `npm run build` (which `npm ci`
// runs through `prepare`, and `npm pack` through `prepack`). The build copies this file beside the bundle, where
// the local cluster finds it to start its members.
//
// In a source checkout, EDGECD_FROM_SOURCE=1 runs the TypeScript sources through tsx (a devDependency) instead:
// the tests set it (vitest.config.ts), so they always run the code as it is, never a stale build.
import { existsSync } from 'node:fs';

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
