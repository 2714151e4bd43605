// One real member process (bin/edgecd.js) whose memory a test reads from outside: its resident set from
// /proc/<pid>/status, its open file descriptors from /proc/<pid>/fd, and its heap after a full garbage collection,
// asked for over the inspector protocol (the member runs with --inspect on a free loopback port). Killed by PID.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { freePort, sleep } from './cluster-harness.ts';

const ENTRY = join(import.meta.dirname, '..', '..', 'bin', 'edgecd.js');

export interface MemberMemory {
  /** V8 heap in use after a full GC. */
  readonly heapUsed: number;
  /** Memory outside the V8 heap held by JS objects (Buffers and ArrayBuffers among it), after the same GC. */
  readonly external: number;
  readonly rss: number;
}

export interface InspectedMember {
  readonly pid: number;
  readonly port: number;
  /** `127.0.0.1:<client port>`, for etcdctl. */
  readonly endpoint: string;
  readonly base: string;
  /** A full GC in the member, then its process.memoryUsage(). */
  memory(): Promise<MemberMemory>;
  /** VmRSS and VmHWM (the peak) in bytes. */
  rss(): { readonly now: number; readonly peak: number };
  openFds(): number;
  log(): string;
  stop(): Promise<void>;
}

export async function startInspectedMember(flags: readonly string[] = []): Promise<InspectedMember> {
  const dir = mkdtempSync(join(tmpdir(), 'edgecd-inspected-'));
  const [port, peer] = [await freePort(), await freePort()];
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--inspect=127.0.0.1:0',
      ENTRY,
      '--name=i1',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=http://127.0.0.1:${port}`,
      `--advertise-client-urls=http://127.0.0.1:${port}`,
      `--listen-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=i1=http://127.0.0.1:${peer}`,
      ...flags,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout?.on('data', (d) => {
    output += String(d);
  });
  child.stderr?.on('data', (d) => {
    output += String(d);
  });
  const pid = child.pid ?? 0;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 30_000;
    let url: string | undefined;
    for (;;) {
      url ??= /ws:\/\/127\.0\.0\.1:\d+\/\S+/.exec(output)?.[0];
      if (url && (await healthy(port))) break;
      if (Date.now() > deadline || child.exitCode !== null)
        throw new Error(`member did not start:\n${output}`);
      await sleep(100);
    }
    const inspector = await Inspector.connect(url);
    child.once('exit', () => inspector.close());
    return {
      pid,
      port,
      endpoint: `127.0.0.1:${port}`,
      base: `http://127.0.0.1:${port}`,
      memory: async () => {
        await inspector.call('HeapProfiler.collectGarbage');
        const r = (await inspector.call('Runtime.evaluate', {
          expression: 'JSON.stringify(process.memoryUsage())',
          returnByValue: true,
        })) as { result: { value: string } };
        const m = JSON.parse(r.result.value) as { heapUsed: number; external: number; rss: number };
        return { heapUsed: m.heapUsed, external: m.external, rss: m.rss };
      },
      rss: () => {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        const kib = (name: string) =>
          Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
        return { now: kib('VmRSS') * 1024, peak: kib('VmHWM') * 1024 };
      },
      openFds: () => readdirSync(`/proc/${pid}/fd`).length,
      log: () => output,
      stop: async () => {
        inspector.close();
        await stop();
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

async function healthy(port: number): Promise<boolean> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await r.json()) as { health: string }).health === 'true';
  } catch {
    return false;
  }
}

/** The few inspector (Chrome DevTools protocol) calls a test needs, over the debugger's WebSocket. */
class Inspector {
  private next = 0;
  private readonly pending = new Map<number, (result: unknown) => void>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as { id?: number; result?: unknown };
      if (msg.id !== undefined) this.pending.get(msg.id)?.(msg.result);
    });
  }

  static async connect(url: string): Promise<Inspector> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    return new Inspector(ws);
  }

  call(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`inspector: ${method} timed out`)), 30_000);
      this.pending.set(id, (result) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(result);
      });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.ws.close();
  }
}
