// The part of a SQLite-backed Durable Object's storage this adapter uses, declared here so that nothing depends on
// the Workers type definitions; the real `ctx.storage` satisfies it.

/** A value SQLite hands back to, or takes from, JavaScript in a Durable Object (`SqlStorageValue`). */
export type SqlValue = ArrayBuffer | string | number | null;

/** The part of Workers' `SqlStorageCursor` this adapter uses. */
export interface SqlCursor<T> extends Iterable<T> {
  toArray(): T[];
}

/** The part of Workers' `SqlStorage` (`ctx.storage.sql`) this adapter uses. */
export interface SqlStorageApi {
  exec<T extends Record<string, SqlValue>>(query: string, ...bindings: SqlValue[]): SqlCursor<T>;
}

/**
 * The part of a SQLite-backed object's `DurableObjectStorage` (`ctx.storage`) this adapter uses. Declared here
 * so that nothing depends on the Workers type definitions; the real `ctx.storage` satisfies it.
 */
export interface DurableObjectStorageApi {
  readonly sql: SqlStorageApi;
  transactionSync<T>(closure: () => T): T;
}
