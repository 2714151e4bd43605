// The few Workers runtime modules the workerd tests import, declared by hand so that the main tsconfig
// type-checks test/ without @cloudflare/workers-types (whose globals would clash with Node's and DOM's).

declare module 'cloudflare:workers' {
  export type SqlStorageValue = ArrayBuffer | string | number | null;

  export interface SqlStorageCursor<T> extends Iterable<T> {
    toArray(): T[];
    one(): T;
  }

  /** The part of `ctx.storage` the tests use, shaped as in @cloudflare/workers-types. */
  export interface DurableObjectStorage {
    readonly sql: {
      exec<T extends Record<string, SqlStorageValue>>(
        query: string,
        ...bindings: SqlStorageValue[]
      ): SqlStorageCursor<T>;
      readonly databaseSize: number;
    };
    transactionSync<T>(closure: () => T): T;
    sync(): Promise<void>;
  }

  export interface DurableObjectState {
    readonly storage: DurableObjectStorage;
    abort(reason?: string): void;
  }

  export abstract class DurableObject<Env = unknown> {
    protected readonly ctx: DurableObjectState;
    protected readonly env: Env;
    constructor(ctx: DurableObjectState, env: Env);
  }

  export interface DurableObjectId {
    toString(): string;
  }

  /** A stub's RPC methods: every method of the object, returning a promise. */
  export type DurableObjectStub<T> = {
    [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
  };

  export interface DurableObjectNamespace<T> {
    idFromName(name: string): DurableObjectId;
    get(id: DurableObjectId): DurableObjectStub<T>;
  }

  export const env: Record<string, unknown>;
}

declare module 'cloudflare:test' {
  import type { DurableObjectState, DurableObjectStub } from 'cloudflare:workers';

  export function runInDurableObject<O, R>(
    stub: DurableObjectStub<O>,
    callback: (instance: O, state: DurableObjectState) => R | Promise<R>,
  ): Promise<R>;
  /** Resets every Durable Object instance; persisted data stays. */
  export function abortAllDurableObjects(): Promise<void>;
}
