// Child process for the real-process crash test (file-wal-crash.test.ts). Opens the file WAL on argv[2] and,
// in 'write' mode, saves batches in a bounded loop, printing `ack <index>` once each save has resolved; in
// 'hold' mode it only holds the lock. Either way it exits on its own after 30 s, so it can never outlive a
// test that lost track of it.

import { FileWalStorage } from '../../../adapters/storage/file-wal/index.ts';

const [dir, mode = 'write'] = process.argv.slice(2);
setTimeout(() => process.exit(3), 30_000);

const storage = await FileWalStorage.open(dir);
const loaded = await storage.load();
let last = loaded.entries.at(-1)?.index ?? loaded.snapshot?.metadata.index ?? 0;
process.stdout.write(`ready ${last}\n`);

if (mode === 'write') {
  for (let round = 0; round < 100_000; round++) {
    const count = 1 + (round % 7);
    const entries = Array.from({ length: count }, (_, i) => ({
      index: last + 1 + i,
      term: 1,
      type: 'normal' as const,
      data: new TextEncoder().encode(`v${last + 1 + i}`),
    }));
    await storage.save({ entries, hardState: { term: 1, vote: 1n, commit: last + count } });
    last += count;
    process.stdout.write(`ack ${last}\n`);
  }
  await storage.close();
  process.exit(0);
}
