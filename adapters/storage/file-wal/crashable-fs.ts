// An in-memory WalFs that can lose power. kill -9 cannot reveal a missing fsync (the page cache outlives the
// process); this can. Each file keeps its durable content (as of its last fsync/fdatasync) and the writes and
// truncations made since; each directory keeps its durable entries (as of its last directory fsync) and its
// current ones. A power cut drops what was not made durable: a file's unsynced operations are lost, or kept as
// a prefix whose last write may itself be cut short (a torn write, optionally zero-filled); a directory's
// unsynced creates, renames and unlinks are undone, or kept as a prefix (metadata journals commit in order).
// Renames are atomic. The model is otherwise the pessimistic POSIX one: data and directory entries are
// independent, so a renamed or created file can survive with content that was never synced (lost or torn).

import type { Random } from '../../../src/env.ts';
import {
  applyDirOp,
  applyOp,
  Bytes,
  type DirNode,
  type DirOp,
  type FileNode,
  fsError,
  loseUnsynced,
  type Node,
  newDir,
  type PowerCutOptions,
  splitPath,
} from './crashable-tree.ts';
import type { OpenMode, SequentialFile, WalFile, WalFs } from './fs.ts';

export type { PowerCutOptions } from './crashable-tree.ts';

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
    loseUnsynced(this.root, this.random, options);
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
      if (mode === 'r+' || mode === 'r+d') throw fsError('ENOENT', path);
      node = { kind: 'file', volatile: new Bytes(), durable: new Bytes(), pending: [] };
      this.link(dir, { name, node });
    } else if (mode === 'w') {
      node.volatile.truncate(0);
      node.pending.push({ truncate: 0 });
    }
    return this.handle(node, path, mode === 'r+d');
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.step();
    return this.file(path).volatile.snapshot();
  }

  openSequential(path: string): SequentialFile {
    this.step();
    const bytes = this.file(path).volatile.snapshot();
    let at = 0;
    return {
      size: bytes.length,
      read: (into) => {
        const n = Math.min(into.length, bytes.length - at);
        into.set(bytes.subarray(at, at + n));
        at += n;
        return n;
      },
      close: () => {},
    };
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

  /** `dsync`: each write is durable once it resolves (O_DSYNC). */
  private handle(node: FileNode, path: string, dsync: boolean): WalFile {
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
        if (dsync) {
          for (const pending of node.pending) applyOp(node.durable, pending);
          node.pending = [];
        }
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
