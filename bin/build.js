// `npm run build`: the published package in dist/ — tsc (tsconfig.build.json) from a clean slate, so that no
// output of a deleted source lingers in the tarball, plus what the code reads at run time: the gRPC .proto files
// (adapters/runtime/node/grpc/proto.ts loads them beside itself) and the CLI launcher (./edgecd.js, spawned by
// the local cluster from dist/bin).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
process.chdir(root);
for (const path of ['dist/src', 'dist/adapters', 'dist/bin', 'dist/test'])
  rmSync(path, { recursive: true, force: true });

const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
const { status } = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
if (status !== 0) process.exit(status ?? 1);

cpSync('adapters/runtime/node/grpc/proto', 'dist/adapters/runtime/node/grpc/proto', { recursive: true });
copyFileSync('bin/edgecd.js', 'dist/bin/edgecd.js');
