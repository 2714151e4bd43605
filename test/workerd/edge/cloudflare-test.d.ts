// What test/workerd/edge uses of `cloudflare:test` beyond test/workerd/cloudflare.d.ts (declarations merge).

declare module 'cloudflare:test' {
  /** The `main` Worker's default export, called like a service binding. */
  export const SELF: { fetch(input: Request | string, init?: RequestInit): Promise<Response> };
}
