// The file tree of CrashableFs (crashable-fs.ts): each file and directory holds its durable state (as of its last
// fsync) and the operations made since, and a power cut (`loseUnsynced`) reduces every node to what survives.

import type { Random } from '../../../src/env.ts';

export interface PowerCutOptions {
  /** Keep a random prefix of each file's unsynced operations instead of dropping them all. Default true. */
  readonly keepUnsyncedPrefix?: boolean;
  /** The last kept write may be cut short at a random byte. Default true. */
  readonly tornWrites?: boolean;
  /** A cut-short write leaves zeros instead of its remaining bytes (as if the size grew first). Default false. */
  readonly zeroFill?: boolean;
}

export class Bytes {
  data: Uint8Array = new Uint8Array(0);
  size = 0;

  write(position: number, bytes: Uint8Array): void {
    const end = position + bytes.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2, 1024));
      grown.set(this.data.subarray(0, this.size));
      this.data = grown;
    }
    if (position > this.size) this.data.fill(0, this.size, position);
    this.data.set(bytes, position);
    this.size = Math.max(this.size, end);
  }

  truncate(length: number): void {
    if (length > this.size) this.write(this.size, new Uint8Array(length - this.size));
    this.size = length;
  }

  snapshot(): Uint8Array {
    return this.data.slice(0, this.size);
  }

  clone(): Bytes {
    const copy = new Bytes();
    copy.data = this.snapshot();
    copy.size = this.size;
    return copy;
  }
}

export type Op = { readonly position: number; readonly bytes: Uint8Array } | { readonly truncate: number };

export function applyOp(target: Bytes, op: Op): void {
  if ('truncate' in op) target.truncate(op.truncate);
  else target.write(op.position, op.bytes);
}

export interface FileNode {
  readonly kind: 'file';
  volatile: Bytes;
  durable: Bytes;
  pending: Op[];
}

/** A directory change not yet made durable: a create (node), an unlink (undefined) or a rename. */
export type DirOp =
  | { readonly name: string; readonly node: Node | undefined }
  | { readonly from: string; readonly to: string; readonly node: Node };

export interface DirNode {
  readonly kind: 'dir';
  entries: Map<string, Node>;
  durable: Map<string, Node>;
  pending: DirOp[];
}

export function applyDirOp(entries: Map<string, Node>, op: DirOp): void {
  if ('from' in op) {
    entries.delete(op.from);
    entries.set(op.to, op.node);
  } else if (op.node) {
    entries.set(op.name, op.node);
  } else {
    entries.delete(op.name);
  }
}

export type Node = FileNode | DirNode;

export function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

export function newDir(): DirNode {
  return { kind: 'dir', entries: new Map(), durable: new Map(), pending: [] };
}

export function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

/**
 * What a power cut leaves of `root` and everything below it: the durable state plus, with `keepUnsyncedPrefix`, a
 * random prefix of the unsynced operations (the last kept write possibly torn). Unsynced operations are gone after.
 */
export function loseUnsynced(root: DirNode, random: Random, options: PowerCutOptions): void {
  const keepPrefix = options.keepUnsyncedPrefix ?? true;
  const torn = options.tornWrites ?? true;
  const visit = (dir: DirNode): void => {
    const entries = new Map(dir.durable);
    // Directory changes are journaled in order: a crash may keep a prefix of the unsynced ones.
    if (keepPrefix) {
      const kept = Math.floor(random.next() * (dir.pending.length + 1));
      for (const op of dir.pending.slice(0, kept)) applyDirOp(entries, op);
    }
    dir.entries = entries;
    dir.durable = new Map(entries);
    dir.pending = [];
    for (const node of dir.entries.values()) {
      if (node.kind === 'dir') {
        visit(node);
        continue;
      }
      const survived = node.durable.clone();
      if (keepPrefix && node.pending.length > 0) {
        const kept = Math.floor(random.next() * (node.pending.length + 1));
        for (const op of node.pending.slice(0, kept)) applyOp(survived, op);
        const next = node.pending[kept];
        if (torn && next && !('truncate' in next) && next.bytes.length > 0) {
          const cut = Math.floor(random.next() * next.bytes.length);
          const part = next.bytes.slice(0, cut);
          if (options.zeroFill)
            applyOp(survived, { position: next.position, bytes: new Uint8Array(next.bytes.length) });
          applyOp(survived, { position: next.position, bytes: part });
        }
      }
      node.durable = survived;
      node.volatile = survived.clone();
      node.pending = [];
    }
  };
  visit(root);
}
