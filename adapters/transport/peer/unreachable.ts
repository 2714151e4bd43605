// Unreachable reports to the Raft host, coalesced per peer and made on a later task, never from inside `send`
// (the handler may be sending). Every peer transport reports through this. Browser-safe: no Node APIs.

import type { Logger } from '../../../src/env.ts';
import type { NodeId } from '../../../src/raft/types.ts';
import type { TransportHandler } from '../../../src/transport.ts';
import { formatId } from './wire.ts';

export interface UnreachableReportsContext {
  /** The handler to report to, or undefined once the transport is closed (pending reports are then dropped). */
  handler(): TransportHandler | undefined;
  readonly logger: Logger;
  /** Runs `callback` on a later task (setImmediate on Node, a timer of 0 ms in browsers, a microtask for fetch). */
  schedule(callback: () => void): void;
}

export class UnreachableReports {
  private readonly pending = new Set<NodeId>();
  private scheduled = false;
  private readonly ctx: UnreachableReportsContext;

  constructor(ctx: UnreachableReportsContext) {
    this.ctx = ctx;
  }

  /** Reports not yet made. */
  get size(): number {
    return this.pending.size;
  }

  add(peer: NodeId): void {
    this.pending.add(peer);
    if (this.scheduled) return;
    this.scheduled = true;
    this.ctx.schedule(() => {
      this.scheduled = false;
      const peers = [...this.pending];
      this.pending.clear();
      for (const p of peers) {
        const handler = this.ctx.handler();
        if (!handler?.onUnreachable) return;
        try {
          handler.onUnreachable(p);
        } catch (error) {
          this.ctx.logger.error('unreachable handler threw', {
            peer: formatId(p),
            error: (error as Error).message,
          });
        }
      }
    });
  }

  clear(): void {
    this.pending.clear();
  }
}
