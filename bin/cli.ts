// edgecd's command line. The server (etcd's flags, a local 3-member cluster) arrives with Step 3; until then
// `edgecd` runs a 3-member cluster in the deterministic simulator and narrates what happens.

import { runSimulation } from '../src/sim/simulation.ts';

const args = process.argv.slice(2);
if (args[0] === 'sim') {
  process.argv.splice(2, 1);
  await import('./sim.ts');
} else if (args.includes('--help') || args.includes('-h')) {
  console.log(`usage: edgecd              run a simulated 3-member cluster and narrate it
       edgecd sim --seed N   one simulator seed (--trace for every event)
       edgecd sim --seeds A..B   a range of seeds, with a summary`);
} else {
  const seed = Number(process.env.EDGECD_SEED ?? Math.floor(Math.random() * 1_000_000));
  console.log(
    `edgecd: the network server is not built yet; running a simulated 3-member cluster (seed ${seed}).`,
  );
  console.log('Every node is the real Raft core; time, network and disks are simulated. Events:\n');
  const result = runSimulation({ seed, nodes: 3, traceSize: 10_000 });
  for (const line of result.trace) console.log(`  ${line}`);
  console.log(`\n${result.ok ? 'all safety invariants held' : `VIOLATION: ${result.violation?.message}`}`);
  console.log(`replay it exactly: npx edgecd sim --seed ${seed} --trace`);
  if (!result.ok) process.exit(1);
}
