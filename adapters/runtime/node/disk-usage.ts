// What a member's data dir takes on disk, for Status.dbSize and etcd_mvcc_db_total_size_in_bytes: the WAL segments,
// snapshot files and small files under it, as etcd reports its bbolt file's size. Defragment (a snapshot, then
// the WAL segments and snapshot files before it dropped) shrinks it; compaction alone shrinks the live size
// (dbSizeInUse) only, as in etcd.

import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Bytes of the regular files under `dir` (a few levels deep; symlinks not followed). */
export async function directorySize(dir: string, depth = 3): Promise<number> {
  let total = 0;
  let entries: import('node:fs').Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const path = join(dir, e.name);
    if (e.isDirectory()) {
      if (depth > 0) total += await directorySize(path, depth - 1);
    } else if (e.isFile()) {
      try {
        total += (await stat(path)).size;
      } catch {
        // removed meanwhile (a segment or snapshot being pruned)
      }
    }
  }
  return total;
}
