// The Worker the workerd tests run in (vitest.workerd.config.ts `main`). StorageTestObject is a SQLite-backed
// Durable Object that opens a DurableObjectStorage on its own `ctx.storage`. The tests call the adapter through
// `runInDurableObject`, so it runs where it will in production: inside the object, in its I/O context, under
// its input and output gates, handed the caller's own arrays (no RPC serialization copies them on the way).

import { DurableObject } from 'cloudflare:workers';
import {
  DurableObjectStorage,
  type DurableObjectStorageOptions,
} from '../../adapters/storage/durable-object/index.ts';

export class StorageTestObject extends DurableObject {
  /** Tells one instance of the class from the next (after an eviction or an abort). */
  readonly instanceId = crypto.randomUUID();
  private storage: DurableObjectStorage | undefined;

  /** Opens a new adapter on this object's storage; returns the instance ID. */
  open(options?: DurableObjectStorageOptions): string {
    this.storage = new DurableObjectStorage(this.ctx.storage, options);
    return this.instanceId;
  }

  /** The adapter `open` made in this instance. */
  adapter(): DurableObjectStorage {
    if (!this.storage) throw new Error('no storage open in this instance');
    return this.storage;
  }
}

export default {
  fetch(): Response {
    return new Response('edgecd workerd test worker');
  },
};
