// Silent disk corruption, made on purpose: a member's WAL altered while it is down (corruption-check tests).
import { join } from 'node:path';
import { FileWalStorage } from '../../adapters/storage/file-wal/index.ts';

const enc = new TextEncoder();

/**
 * Replaces `from` with `to` (same length) in the last entry of a member's WAL that holds it. That entry and the
 * ones after it are written again (the WAL keeps what comes before an entry it rewrites, with fresh checksums), so
 * only those bytes differ: what silent disk corruption would leave.
 */
export async function alterEntryHolding(dataDir: string, from: string, to: string): Promise<number> {
  const storage = await FileWalStorage.open(join(dataDir, 'member'));
  try {
    const { entries } = await storage.load();
    const needle = enc.encode(from);
    const at = (data: Uint8Array) => {
      for (let i = 0; i + needle.length <= data.length; i++) {
        if (needle.every((b, k) => data[i + k] === b)) return i;
      }
      return -1;
    };
    const k = entries.findLastIndex((e) => at(e.data) >= 0);
    if (k < 0) throw new Error(`no entry holds "${from}"`);
    const data = Uint8Array.from(entries[k].data);
    data.set(enc.encode(to), at(data));
    await storage.save({ entries: [{ ...entries[k], data }, ...entries.slice(k + 1)] });
    return entries[k].index;
  } finally {
    await storage.close();
  }
}
