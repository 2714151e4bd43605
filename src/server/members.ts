// The cluster's membership as etcd reports it (Member: ID, name, peer and client URLs, learner flag): part of
// the replicated state, changed by confChange entries (their context carries the peer URLs) and by members
// publishing their name and client URLs once started.

import { decode, encode } from '@msgpack/msgpack';
import type { Member } from '../etcd/types.ts';

/** The context of a confChange entry. */
export interface MemberContext {
  readonly peerURLs: readonly string[];
  readonly name?: string;
}

export function encodeMemberContext(c: MemberContext): Uint8Array {
  return encode({ peerURLs: c.peerURLs, name: c.name ?? '' });
}

export function decodeMemberContext(data: Uint8Array | undefined): MemberContext {
  if (!data || data.length === 0) return { peerURLs: [] };
  const d = decode(data) as { peerURLs?: string[]; name?: string };
  return { peerURLs: d.peerURLs ?? [], name: d.name || undefined };
}

export class Members {
  private readonly byId = new Map<bigint, Member>();
  /** IDs ever removed: etcd never lets a removed ID back in. */
  private readonly removed = new Set<bigint>();

  list(): Member[] {
    return [...this.byId.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0));
  }

  get(id: bigint): Member | undefined {
    return this.byId.get(id);
  }

  isRemoved(id: bigint): boolean {
    return this.removed.has(id);
  }

  add(id: bigint, context: MemberContext, isLearner: boolean): void {
    const prev = this.byId.get(id);
    this.byId.set(id, {
      ID: id,
      name: prev?.name ?? context.name ?? '',
      peerURLs: context.peerURLs.length > 0 ? [...context.peerURLs] : (prev?.peerURLs ?? []),
      clientURLs: prev?.clientURLs ?? [],
      isLearner,
    });
  }

  promote(id: bigint): void {
    const m = this.byId.get(id);
    if (m) this.byId.set(id, { ...m, isLearner: false });
  }

  remove(id: bigint): void {
    this.byId.delete(id);
    this.removed.add(id);
  }

  updatePeerURLs(id: bigint, peerURLs: readonly string[]): void {
    const m = this.byId.get(id);
    if (m) this.byId.set(id, { ...m, peerURLs: [...peerURLs] });
  }

  publish(id: bigint, name: string, clientURLs: readonly string[]): void {
    const m = this.byId.get(id);
    if (m) this.byId.set(id, { ...m, name, clientURLs: [...clientURLs] });
  }

  toJSON(): unknown {
    return { members: this.list(), removed: [...this.removed] };
  }

  static fromJSON(data: unknown): Members {
    const d = data as { members: Member[]; removed: (bigint | number)[] };
    const m = new Members();
    for (const member of d.members) m.byId.set(BigInt(member.ID), { ...member, ID: BigInt(member.ID) });
    for (const id of d.removed) m.removed.add(BigInt(id));
    return m;
  }
}
