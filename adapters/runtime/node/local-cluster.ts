// `edgecd` with no flags: a local 3-member cluster on etcd's usual ports, each member its own process with its
// file WAL under ./data/<name>. Ctrl-C stops them gracefully (SIGTERM: leadership transfer, sync, exit 0).

import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MEMBERS = [
  { name: 'n1', client: 2379, peer: 2380 },
  { name: 'n2', client: 22379, peer: 22380 },
  { name: 'n3', client: 32379, peer: 32380 },
];

export const LOCAL_MEMBERS = MEMBERS;

/**
 * Runs the local cluster until Ctrl-C. `extraArgs` go to every member (dev:mixed adds the peer secret). Browser
 * tabs may join as learners (--experimental-browser-learners): this is a development cluster with auth off.
 */
export async function runLocalCluster(dataRoot = 'data', extraArgs: readonly string[] = []): Promise<void> {
  // The launcher: beside the CLI's bundle in dist/bin; bin/edgecd.js from here in the sources and in dist/adapters.
  const entry = ['./edgecd.js', '../../../bin/edgecd.js']
    .map((path) => fileURLToPath(new URL(path, import.meta.url)))
    .find((path) => existsSync(path));
  if (!entry) throw new Error('edgecd: cannot find bin/edgecd.js to start the members');
  const initialCluster = MEMBERS.map((m) => `${m.name}=http://127.0.0.1:${m.peer}`).join(',');
  const children: ChildProcess[] = MEMBERS.map((m) =>
    spawn(
      process.execPath,
      [
        entry,
        '--name',
        m.name,
        '--data-dir',
        `${dataRoot}/${m.name}`,
        '--listen-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--advertise-client-urls',
        `http://127.0.0.1:${m.client}`,
        '--listen-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-advertise-peer-urls',
        `http://127.0.0.1:${m.peer}`,
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-token',
        'edgecd-local',
        '--initial-cluster-state',
        'new',
        '--experimental-browser-learners',
        ...extraArgs,
      ],
      { stdio: ['ignore', 'inherit', 'inherit'] },
    ),
  );
  const endpoints = MEMBERS.map((m) => `127.0.0.1:${m.client}`).join(',');
  console.log(`edgecd: local 3-member cluster starting (data under ./${dataRoot}). Try:`);
  console.log(`  etcdctl --endpoints=${endpoints} put greeting hello`);
  console.log(`  etcdctl --endpoints=${endpoints} get greeting`);
  console.log(`  curl -s -X POST http://127.0.0.1:2379/v3/kv/range -d '{"key":"Z3JlZXRpbmc="}'`);
  console.log('Ctrl-C stops the cluster.');
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const ready = MEMBERS.map(() => false);
  MEMBERS.forEach((m, i) => {
    void (async () => {
      for (let attempt = 0; attempt < 600 && !stopping && children[i].exitCode === null; attempt++) {
        try {
          const res = await fetch(`http://127.0.0.1:${m.client}/version`, {
            signal: AbortSignal.timeout(1000),
          });
          await res.body?.cancel();
          ready[i] = true;
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
    })();
  });
  const codes = await Promise.all(
    children.map(
      (c, i) =>
        new Promise<number>((r) =>
          c.on('exit', (code) => {
            if (!stopping && !ready[i]) {
              // A member could not start (a busy port, a locked data dir): stop the others rather than run a
              // cluster short of what was asked for. Once all serve, a member that dies (kill -9) leaves the
              // others running, as separate etcd processes would.
              console.error(
                `edgecd: member ${MEMBERS[i].name} could not start (exit ${code}); stopping the cluster`,
              );
              stop();
            }
            r(code ?? 1);
          }),
        ),
    ),
  );
  stop();
  process.exitCode = codes.every((c) => c === 0) ? 0 : 1;
}
