// edgecd's command line:
//   edgecd                       a local 3-member cluster on etcd's ports, data under ./data
//   edgecd --name n1 --data-dir … --initial-cluster …   one member, with etcd's flags
//   edgecd sim --seed N | --seeds A..B                  the deterministic simulator
//   edgecd snapshot restore FILE --name … --data-dir … --initial-cluster … (etcdctl's restore flags)
//   edgecd --version

import { existsSync, readFileSync } from 'node:fs';
import { parseMemberConfig } from '../adapters/runtime/node/config.ts';
import { flagsHelp } from '../adapters/runtime/node/flags.ts';
import { runLocalCluster } from '../adapters/runtime/node/local-cluster.ts';
import { jsonLogger } from '../adapters/runtime/node/logger.ts';
import { startMember } from '../adapters/runtime/node/member.ts';
import { parseRestoreArgs, restoreSnapshot } from '../adapters/runtime/node/restore.ts';
import { ETCD_VERSION } from '../src/server/node.ts';

const args = process.argv.slice(2);

if (args[0] === 'sim') {
  process.argv.splice(2, 1);
  await import('./sim.ts');
} else if (args[0] === 'snapshot') {
  await snapshotCommand(args.slice(1));
} else if (args.includes('--version') || args.includes('-version')) {
  // The package root is one level up from bin/cli.ts, two from the build's dist/bin/cli.js.
  const path = ['../package.json', '../../package.json']
    .map((p) => new URL(p, import.meta.url))
    .find((url) => existsSync(url));
  const pkg = JSON.parse(readFileSync(path!, 'utf8')) as { version: string };
  console.log(
    `etcd Version: ${ETCD_VERSION}\nedgecd Version: ${pkg.version}\nNode Version: ${process.version}`,
  );
} else if (args.includes('--help') || args.includes('-h') || args.includes('-help')) {
  console.log(`usage: edgecd                                 start a local 3-member cluster (data under ./data)
       edgecd --name NAME [etcd flags]         start one member (etcd's flags and ETCD_* variables)
       edgecd sim --seed N [--trace]           one deterministic simulation
       edgecd sim --seeds A..B                 a range of seeds, with a summary
       edgecd snapshot restore FILE --name NAME --data-dir DIR --initial-cluster … --initial-cluster-token …
                 --initial-advertise-peer-urls …   a member's data dir of a new cluster from a snapshot
                                                   (etcd 3.4's bbolt file, from etcd or edgecd; or edgecd's own)
       edgecd --version
${flagsHelp()}`);
} else if (args.length === 0) {
  await runLocalCluster();
} else {
  let config: ReturnType<typeof parseMemberConfig>;
  try {
    config = parseMemberConfig(args);
  } catch (e) {
    console.error(`edgecd: ${(e as Error).message}`);
    process.exit(2);
  }
  const logger = jsonLogger(config.logLevel, { name: config.name });
  try {
    const member = await startMember(config, logger);
    const shutdown = (signal: string) => {
      logger.info('received signal; shutting down', { signal });
      member.stop().then(
        () => process.exit(0),
        (e) => {
          logger.error('shutdown failed', { error: String(e) });
          process.exit(1);
        },
      );
    };
    // etcd stops a member that learns it was removed ("the member has been permanently removed from the
    // cluster"); a moment first, so that the MemberRemove answer leaves when the leader removed itself.
    void member.removed.then(() => {
      logger.warn(
        'the member has been permanently removed from the cluster; the data-dir used by this member must be removed',
        {
          memberId: member.memberId.toString(16),
        },
      );
      setTimeout(() => shutdown('removed'), 500);
    });
    // etcd panics when its WAL cannot write or sync: nothing after a failed fsync can be trusted. Exit at once
    // (no graceful stop, no more writes); a restart after the disk is fixed recovers from the WAL and the peers.
    void member.failed.then((error) => {
      logger.error('storage failed; exiting', {
        memberId: member.memberId.toString(16),
        error: error instanceof Error ? error.message : String(error),
      });
      process.exit(1);
    });
    process.on('SIGTERM', () => shutdown('SIGTERM'));
    process.on('SIGINT', () => shutdown('SIGINT'));
  } catch (e) {
    logger.error('failed to start', { error: (e as Error).message });
    process.exit(1);
  }
}

/** `edgecd snapshot restore FILE …`: etcdctl's restore, for etcd 3.4 bbolt snapshots and edgecd's own files. */
async function snapshotCommand(argv: readonly string[]): Promise<void> {
  if (argv[0] !== 'restore') {
    console.error('usage: edgecd snapshot restore FILE --name … --data-dir … --initial-cluster … …');
    process.exit(2);
  }
  try {
    const options = parseRestoreArgs(argv.slice(1));
    await restoreSnapshot(options, jsonLogger('info', { name: options.name }));
  } catch (e) {
    console.error(`Error: ${(e as Error).message}`);
    process.exit(1);
  }
}
