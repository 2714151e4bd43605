// An in-memory WalFs that can lose power. kill -9 cannot reveal a missing fsync (the page cache outlives the
// process); this can. Each file keeps its durable content (as of its last fsync/fdatasync) and the writes and
// truncations made since; each directory keeps its durable entries (as of its last directory fsync) and its
// current ones. A power cut drops what was not made durable: a file's unsynced operations are lost, or kept as
// a prefix whose last write may itself be cut short (a torn write, optionally zero-filled); a directory's
// unsynced creates, renames and unlinks are undone, or kept as a prefix (metadata journals commit in order).
// Renames are atomic. The model is otherwise the pessimistic POSIX one: data and directory entries are
// independent, so a renamed or created file can survive with content that was never synced (lost or torn).

import type { Random } from '../../../src/env.ts';
import type { OpenMode, WalFile, WalFs } from './fs.ts';

export interface PowerCutOptions {
  /** Keep a random prefix of each file's unsynced operations instead of dropping them all. Default true. */
  readonly keepUnsyncedPrefix?: boolean;
  /** The last kept write may be cut short at a random byte. Default true. */
  readonly tornWrites?: boolean;
  /** A cut-short write leaves zeros instead of its remaining bytes (as if the size grew first). Default false. */
  readonly zeroFill?: boolean;
}

class Bytes {
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

type Op = { readonly position: number; readonly bytes: Uint8Array } | { readonly truncate: number };

function applyOp(target: Bytes, op: Op): void {
  if ('truncate' in op) target.truncate(op.truncate);
  else target.write(op.position, op.bytes);
}

interface FileNode {
  readonly kind: 'file';
  volatile: Bytes;
  durable: Bytes;
  pending: Op[];
}

/** A directory change not yet made durable: a create (node), an unlink (undefined) or a rename. */
type DirOp =
  | { readonly name: string; readonly node: Node | undefined }
  | { readonly from: string; readonly to: string; readonly node: Node };

interface DirNode {
  readonly kind: 'dir';
  entries: Map<string, Node>;
  durable: Map<string, Node>;
  pending: DirOp[];
}

function applyDirOp(entries: Map<string, Node>, op: DirOp): void {
  if ('from' in op) {
    entries.delete(op.from);
    entries.set(op.to, op.node);
  } else if (op.node) {
    entries.set(op.name, op.node);
  } else {
    entries.delete(op.name);
  }
}

type Node = FileNode | DirNode;

function fsError(code: string, message: string): Error {
  return Object.assign(new Error(`${code}: ${message}`), { code });
}

function newDir(): DirNode {
  return { kind: 'dir', entries: new Map(), durable: new Map(), pending: [] };
}

function splitPath(path: string): string[] {
  return path.split('/').filter((part) => part !== '' && part !== '.');
}

/** The seeded default: mulberry32. */
function mulberry32(seed: number): Random {
  let a = seed >>> 0;
  return {
    next() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

export class CrashableFs implements WalFs {
  private root: DirNode = newDir();
  private readonly random: Random;
  /** Bumped by each power cut: handles opened before it are dead. */
  private generation = 0;
  private down = false;
  private cutAt: { op: number; options: PowerCutOptions } | undefined;
  /** Operations performed so far (each WalFs or WalFile call is one). */
  ops = 0;
  /** Power cuts so far. */
  cuts = 0;

  constructor(random: Random | number = 1) {
    this.random = typeof random === 'number' ? mulberry32(random) : random;
  }

  /** Cuts the power when operation number `op` (counting from `ops` now) is attempted; it and all later fail. */
  cutPowerAt(op: number, options: PowerCutOptions = {}): void {
    this.cutAt = { op: this.ops + op, options };
  }

  /** Whether the power is off (after a cut, until `restore`). */
  get isDown(): boolean {
    return this.down;
  }

  /** Cuts the power now: everything not durable is lost (or torn), open handles die, operations fail. */
  powerCut(options: PowerCutOptions = {}): void {
    this.cutAt = undefined;
    this.down = true;
    this.generation++;
    this.cuts++;
    const keepPrefix = options.keepUnsyncedPrefix ?? true;
    const torn = options.tornWrites ?? true;
    const visit = (dir: DirNode): void => {
      const entries = new Map(dir.durable);
      // Directory changes are journaled in order: a crash may keep a prefix of the unsynced ones.
      if (keepPrefix) {
        const kept = Math.floor(this.random.next() * (dir.pending.length + 1));
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
          const kept = Math.floor(this.random.next() * (node.pending.length + 1));
          for (const op of node.pending.slice(0, kept)) applyOp(survived, op);
          const next = node.pending[kept];
          if (torn && next && !('truncate' in next) && next.bytes.length > 0) {
            const cut = Math.floor(this.random.next() * next.bytes.length);
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
    visit(this.root);
  }

  /** Turns the power back on after a cut (the machine reboots with what was durable). */
  restore(): void {
    this.down = false;
  }

  /** The current (volatile) content of a file, for tests. */
  contents(path: string): Uint8Array {
    return this.file(path).volatile.snapshot();
  }

  // --- WalFs ---

  async open(path: string, mode: OpenMode): Promise<WalFile> {
    this.step();
    const { dir, name } = this.parent(path);
    let node = dir.entries.get(name);
    if (node?.kind === 'dir') throw fsError('EISDIR', path);
    if (node && mode === 'wx') throw fsError('EEXIST', path);
    if (!node) {
      if (mode === 'r+') throw fsError('ENOENT', path);
      node = { kind: 'file', volatile: new Bytes(), durable: new Bytes(), pending: [] };
      this.link(dir, { name, node });
    } else if (mode === 'w') {
      node.volatile.truncate(0);
      node.pending.push({ truncate: 0 });
    }
    return this.handle(node, path);
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.step();
    return this.file(path).volatile.snapshot();
  }

  async readdir(path: string): Promise<string[]> {
    this.step();
    return [...this.dir(path).entries.keys()];
  }

  async mkdir(path: string): Promise<void> {
    this.step();
    let dir = this.root;
    for (const part of splitPath(path)) {
      let next = dir.entries.get(part);
      if (!next) {
        next = newDir();
        this.link(dir, { name: part, node: next });
      }
      if (next.kind !== 'dir') throw fsError('ENOTDIR', path);
      dir = next;
    }
  }

  async rename(from: string, to: string): Promise<void> {
    this.step();
    const source = this.parent(from);
    const node = source.dir.entries.get(source.name);
    if (!node) throw fsError('ENOENT', from);
    const target = this.parent(to);
    if (target.dir !== source.dir)
      throw fsError('EXDEV', `${from} -> ${to}: CrashableFs renames within a directory`);
    this.link(source.dir, { from: source.name, to: target.name, node });
  }

  async unlink(path: string): Promise<void> {
    this.step();
    const { dir, name } = this.parent(path);
    const node = dir.entries.get(name);
    if (!node) throw fsError('ENOENT', path);
    if (node.kind === 'dir') throw fsError('EISDIR', path);
    this.link(dir, { name, node: undefined });
  }

  async fsyncDir(path: string): Promise<void> {
    this.step();
    const dir = this.dir(path);
    dir.durable = new Map(dir.entries);
    dir.pending = [];
  }

  // --- internals ---

  private link(dir: DirNode, op: DirOp): void {
    applyDirOp(dir.entries, op);
    dir.pending.push(op);
  }

  /** Counts an operation; fails it if the power is (or now goes) off. */
  private step(): void {
    if (!this.down && this.cutAt && this.ops >= this.cutAt.op) this.powerCut(this.cutAt.options);
    this.ops++;
    if (this.down) throw fsError('EIO', 'power cut');
  }

  private handle(node: FileNode, path: string): WalFile {
    const generation = this.generation;
    let closed = false;
    const live = (): void => {
      this.step();
      if (generation !== this.generation) throw fsError('EIO', `${path}: handle opened before a power cut`);
      if (closed) throw fsError('EBADF', `${path}: closed`);
    };
    const sync = async (): Promise<void> => {
      live();
      for (const op of node.pending) applyOp(node.durable, op);
      node.pending = [];
    };
    return {
      write: async (data, position) => {
        live();
        const op = { position, bytes: new Uint8Array(data) };
        applyOp(node.volatile, op);
        node.pending.push(op);
      },
      datasync: sync,
      sync,
      truncate: async (length) => {
        live();
        node.volatile.truncate(length);
        node.pending.push({ truncate: length });
      },
      size: async () => {
        live();
        return node.volatile.size;
      },
      close: async () => {
        if (generation === this.generation && !closed) live();
        closed = true;
      },
    };
  }

  private lookup(path: string): Node | undefined {
    let node: Node = this.root;
    for (const part of splitPath(path)) {
      if (node.kind !== 'dir') return undefined;
      const next: Node | undefined = node.entries.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  private dir(path: string): DirNode {
    const node = this.lookup(path);
    if (!node) throw fsError('ENOENT', path);
    if (node.kind !== 'dir') throw fsError('ENOTDIR', path);
    return node;
  }

  private file(path: string): FileNode {
    const node = this.lookup(path);
    if (!node) throw fsError('ENOENT', path);
    if (node.kind !== 'file') throw fsError('EISDIR', path);
    return node;
  }

  private parent(path: string): { dir: DirNode; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw fsError('EINVAL', path);
    return { dir: this.dir(parts.join('/')), name };
  }
}
