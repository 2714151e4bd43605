// The only web-platform surface src/ may use: the WinterTC minimum common API that Node ≥ 20, browsers and
// workerd all provide. src/tsconfig.json type-checks src/ with ES libs plus this file and nothing else, so
// importing node:*, touching the DOM or Workers types fails the check. Add a declaration here only if all three
// runtimes have it.

declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
}

declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}

interface SubtleCrypto {
  digest(algorithm: string | { name: string }, data: ArrayBufferView | ArrayBuffer): Promise<ArrayBuffer>;
}

interface Crypto {
  getRandomValues<T extends ArrayBufferView>(array: T): T;
  randomUUID(): string;
  readonly subtle: SubtleCrypto;
}

declare var crypto: Crypto;

declare function queueMicrotask(callback: () => void): void;

declare class AbortSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
  throwIfAborted(): void;
}

declare class AbortController {
  readonly signal: AbortSignal;
  abort(reason?: unknown): void;
}

declare class URL {
  constructor(url: string, base?: string | URL);
  readonly href: string;
  readonly protocol: string;
  readonly host: string;
  readonly hostname: string;
  readonly port: string;
  readonly pathname: string;
  readonly search: string;
  readonly searchParams: { get(name: string): string | null };
  toString(): string;
}

interface Console {
  log(...data: unknown[]): void;
  warn(...data: unknown[]): void;
  error(...data: unknown[]): void;
}

declare var console: Console;

// Fetch-API surface for the JSON gateway (src/api/gateway): Request in, Response out, streamed bodies. Only the
// members edgecd uses; Node ≥ 18, browsers and workerd all implement them.

interface Headers {
  append(name: string, value: string): void;
  delete(name: string): void;
  get(name: string): string | null;
  has(name: string): boolean;
  set(name: string, value: string): void;
  forEach(callback: (value: string, key: string) => void): void;
}

type HeadersInit = Headers | Record<string, string> | [string, string][];

declare var Headers: {
  prototype: Headers;
  new (init?: HeadersInit): Headers;
};

type ReadableStreamReadResult<T> = { done: false; value: T } | { done: true; value?: undefined };

interface ReadableStreamDefaultReader<R = unknown> {
  readonly closed: Promise<undefined>;
  read(): Promise<ReadableStreamReadResult<R>>;
  cancel(reason?: unknown): Promise<void>;
  releaseLock(): void;
}

interface ReadableStreamDefaultController<R = unknown> {
  readonly desiredSize: number | null;
  enqueue(chunk: R): void;
  close(): void;
  error(e?: unknown): void;
}

interface UnderlyingDefaultSource<R = unknown> {
  start?(controller: ReadableStreamDefaultController<R>): void | Promise<void>;
  pull?(controller: ReadableStreamDefaultController<R>): void | Promise<void>;
  cancel?(reason?: unknown): void | Promise<void>;
}

interface ReadableStream<R = unknown> {
  readonly locked: boolean;
  getReader(): ReadableStreamDefaultReader<R>;
  cancel(reason?: unknown): Promise<void>;
}

declare var ReadableStream: {
  prototype: ReadableStream;
  new <R = unknown>(
    source?: UnderlyingDefaultSource<R>,
    strategy?: { highWaterMark?: number },
  ): ReadableStream<R>;
};

type BodyInit = ReadableStream<Uint8Array> | Uint8Array | ArrayBuffer | string;

interface RequestInit {
  method?: string;
  headers?: HeadersInit;
  body?: BodyInit | null;
  signal?: AbortSignal | null;
}

interface Request {
  readonly method: string;
  readonly url: string;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
  readonly bodyUsed: boolean;
  readonly signal: AbortSignal;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  json(): Promise<unknown>;
  clone(): Request;
}

declare var Request: {
  prototype: Request;
  new (input: string | URL | Request, init?: RequestInit): Request;
};

interface ResponseInit {
  status?: number;
  statusText?: string;
  headers?: HeadersInit;
}

interface Response {
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: Headers;
  readonly body: ReadableStream<Uint8Array> | null;
  readonly bodyUsed: boolean;
  arrayBuffer(): Promise<ArrayBuffer>;
  text(): Promise<string>;
  json(): Promise<unknown>;
  clone(): Response;
}

declare var Response: {
  prototype: Response;
  new (body?: BodyInit | null, init?: ResponseInit): Response;
};
