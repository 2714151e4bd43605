// Python's etcd3 client (Debian's python3-etcd3 0.12, on grpcio's C-core: a third HTTP/2 and gRPC implementation
// beside grpc-go's and grpc-js's) against a 3-member edgecd and a real etcd 3.4.23: the same script
// (./python/client.py) must observe the same on both — puts, gets, prefixes, a lease, a watch, transactions,
// 1 MiB values, a request over the gRPC limit, a lock, members and the version.

import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TestCluster } from './cluster-harness.ts';
import { EtcdProcess } from './differential/harness.ts';

const SCRIPT = fileURLToPath(new URL('./python/client.py', import.meta.url));
/** Debian's interpreter, where python3-etcd3 is installed (not a pyenv or venv one on PATH). */
const PYTHON = '/usr/bin/python3';

let cluster: TestCluster | undefined;
let etcd: EtcdProcess | undefined;

beforeAll(async () => {
  cluster = await TestCluster.start({ size: 3 });
  etcd = await EtcdProcess.start();
}, 60_000);
afterAll(async () => {
  await cluster?.close();
  await etcd?.stop();
});

/** The script's observations, members counted apart (etcd here has one member, edgecd three). */
function run(endpoint: string): string {
  const r = spawnSync(PYTHON, [SCRIPT, endpoint], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`python client failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

it('observes on edgecd what it observes on etcd', () => {
  const onEtcd = run((etcd as EtcdProcess).url.replace('http://', ''));
  const onEdge = run((cluster as TestCluster).endpoint('m2'));
  expect(onEtcd).toContain('watch /py/w/0=v0,/py/w/1=v1,/py/w/2=v2');
  expect(onEtcd).toContain('members 1');
  expect(onEdge).toContain('members 3');
  const common = (s: string) => s.replace(/^members \d+$/m, 'members');
  expect(common(onEdge)).toBe(common(onEtcd));
}, 120_000);
