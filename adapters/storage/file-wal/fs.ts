// The file layer under the WAL: every disk operation the adapter makes goes through `WalFs`, so tests can swap
// in CrashableFs (crashable-fs.ts) and cut the power between any two operations. Errors carry Node's `code`
// ('ENOENT', 'EEXIST', ...) so callers can tell a missing file from a failing disk.

import { constants } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises';

/** readFileChunks' piece size. */
const READ_CHUNK = 8 * 1024 * 1024;
/** readFileChunks' pieces being read at once: a 275 MB snapshot file loads in ~800 ms with 2, ~1,000 with 1. */
const READS_IN_FLIGHT = 2;

/** An open file. Positions are absolute (pwrite/pread): the WAL tracks its own offsets. */
export interface WalFile {
  /** Writes all of `data` at `position`. */
  write(data: Uint8Array, position: number): Promise<void>;
  /** Flushes the data (and the size) to stable storage: fdatasync. */
  datasync(): Promise<void>;
  /** Flushes data and all metadata: fsync. */
  sync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

/**
 * 'r+': read/write an existing file. 'w': create or truncate. 'wx': create, failing with EEXIST if it exists.
 * 'r+d': as 'r+', and every write is durable when it resolves (O_DSYNC: the write and fdatasync's guarantee in one
 * system call, so the WAL's append costs one thread-pool round trip instead of two).
 */
export type OpenMode = 'r+' | 'w' | 'wx' | 'r+d';

export interface WalFs {
  open(path: string, mode: OpenMode): Promise<WalFile>;
  readFile(path: string): Promise<Uint8Array>;
  /**
   * Optional: readFile in pieces, `onChunk` given each piece (its bytes and offset) as it arrives while the next
   * is being read, so that a large file can be checked as it loads rather than after.
   */
  readFileChunks?(path: string, onChunk: (chunk: Uint8Array, offset: number) => void): Promise<Uint8Array>;
  /** Names in a directory (not paths), in no particular order. */
  readdir(path: string): Promise<string[]>;
  /** Creates a directory and its missing parents; no error if it exists. */
  mkdir(path: string): Promise<void>;
  /** Atomically replaces `to` (POSIX rename). Durable only once the directory is fsync'd. */
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** Makes creations, renames and deletions in a directory durable. */
  fsyncDir(path: string): Promise<void>;
}

/** The code of a Node-style fs error ('ENOENT', ...), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

class NodeWalFile implements WalFile {
  private readonly handle: FileHandle;
  constructor(handle: FileHandle) {
    this.handle = handle;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.handle.write(data, done, data.length - done, position + done);
      done += bytesWritten;
    }
  }

  datasync(): Promise<void> {
    return this.handle.datasync();
  }

  sync(): Promise<void> {
    return this.handle.sync();
  }

  truncate(length: number): Promise<void> {
    return this.handle.truncate(length);
  }

  async size(): Promise<number> {
    return (await this.handle.stat()).size;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** The real file system (node:fs/promises). */
export const nodeFs: WalFs = {
  // Files 0600 and directories 0700 (etcd's PrivateFileMode / PrivateDirMode, CVE-2020-15113): the WAL holds every
  // key and the auth store's password hashes.
  async open(path, mode) {
    const flags = mode === 'r+d' ? constants.O_RDWR | constants.O_DSYNC : mode;
    return new NodeWalFile(await open(path, flags, 0o600));
  },
  async readFile(path) {
    const buffer = await readFile(path);
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  },
  async readFileChunks(path, onChunk) {
    const handle = await open(path, constants.O_RDONLY);
    try {
      const size = (await handle.stat()).size;
      const out = new Uint8Array(size);
      const readAt = async (offset: number): Promise<number> => {
        const length = Math.min(READ_CHUNK, size - offset);
        let done = 0;
        while (done < length) {
          const { bytesRead } = await handle.read(out, offset + done, length - done, offset + done);
          if (bytesRead === 0) throw new Error(`${path}: shorter than its size while being read`);
          done += bytesRead;
        }
        return length;
      };
      // Pieces read on in the thread pool while this one is looked at, READS_IN_FLIGHT at a time (copying into fresh
      // pages is slow enough here that two threads reading beat one).
      const reading: Promise<number>[] = [];
      let requested = 0;
      const readOn = () => {
        while (reading.length < READS_IN_FLIGHT && requested < size) {
          const read = readAt(requested);
          read.catch(() => {}); // awaited in order below
          reading.push(read);
          requested += Math.min(READ_CHUNK, size - requested);
        }
      };
      readOn();
      for (let offset = 0; reading.length > 0; ) {
        const length = await reading.shift()!;
        readOn();
        onChunk(out.subarray(offset, offset + length), offset);
        offset += length;
      }
      return out;
    } finally {
      await handle.close();
    }
  },
  readdir(path) {
    return readdir(path);
  },
  async mkdir(path) {
    await mkdir(path, { recursive: true, mode: 0o700 });
  },
  rename(from, to) {
    return rename(from, to);
  },
  unlink(path) {
    return unlink(path);
  },
  async fsyncDir(path) {
    const handle = await open(path, constants.O_RDONLY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
};
