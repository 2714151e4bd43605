/// <reference lib="dom" />
// The live run's recent past, so that a visitor can rewind it: every animation frame in which something changed
// (a member's report, a message sent, delivered or lost, a crash) the page records what it showed — each member's
// last report, up or down, partition group, and the messages in flight — and the history scrubber draws any of
// those frames again in the graph, cards and log grid. Rewinding shows the past; it does not undo it (the members'
// IndexedDB has moved on), so the cluster pauses while the past is shown and resumes from the present.

import type { WireMessage } from '../../adapters/transport/in-page/index.ts';
import type { Message } from '../../src/raft/types.ts';
import type { CardMember } from './card.ts';

export interface MemberSnapshot extends CardMember {
  readonly reportedAt?: number;
}

export interface Frame {
  /** Cluster time of the frame. */
  readonly t: number;
  readonly members: readonly MemberSnapshot[];
  readonly inflight: readonly WireMessage[];
  /** The full messages the page knew of, by sequence number (for their labels). */
  readonly details: ReadonlyMap<number, Message>;
}

export class LiveHistory {
  private readonly frames: Frame[] = [];
  private readonly limit: number;
  /** The frame shown; undefined: the present. */
  private shown: number | undefined;

  constructor(limit = 3000) {
    this.limit = limit;
  }

  get length(): number {
    return this.frames.length;
  }

  /** The frame being shown, if the past is. */
  get viewing(): Frame | undefined {
    return this.shown === undefined ? undefined : this.frames[this.shown];
  }

  get index(): number | undefined {
    return this.shown;
  }

  record(frame: Frame): void {
    this.frames.push(frame);
    if (this.frames.length > this.limit) {
      this.frames.shift();
      if (this.shown !== undefined) this.shown = Math.max(0, this.shown - 1);
    }
  }

  /** Shows frame i (the last frame or beyond: the present again). */
  show(i: number | undefined): void {
    this.shown = i === undefined || i >= this.frames.length - 1 ? undefined : Math.max(0, i);
  }
}
