// etcd's operator flags on a real member process: every --listen-client-urls URL is served, as etcd serves each
// (two TCP ports and a unix:// socket, named as etcd names it, in the working directory), all answering etcdctl
// (gRPC) and the JSON gateway; --experimental-watch-progress-notify-interval paces progress notifications.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, freePort, sleep } from './cluster-harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let child: ChildProcess | undefined;
let ports: number[];
let log = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgecd-listen-'));
  ports = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
  const [a, b, sock, peer, peer2] = ports;
  child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/edgecd.js'),
      '--name=l1',
      `--data-dir=${join(dir, 'data')}`,
      `--listen-client-urls=http://127.0.0.1:${a},http://127.0.0.1:${b},unix://localhost:${sock}`,
      `--advertise-client-urls=http://127.0.0.1:${a}`,
      `--listen-peer-urls=http://127.0.0.1:${peer},http://127.0.0.1:${peer2}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
      `--initial-cluster=l1=http://127.0.0.1:${peer}`,
      '--experimental-watch-progress-notify-interval=300ms',
    ],
    { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d) => (log += String(d)));
  child.stderr?.on('data', (d) => (log += String(d)));
  const deadline = Date.now() + 30_000;
  while (etcdctl(`127.0.0.1:${a}`, ['endpoint', 'health']).status !== 0) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`member did not start:\n${log}`);
    await sleep(200);
  }
}, 60_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((r) => child?.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('--listen-client-urls with several URLs', () => {
  it('serves etcdctl on every URL, the unix socket included', () => {
    const [a, b, sock] = ports;
    expect(etcdctl(`127.0.0.1:${a}`, ['put', 'k', 'v']).status).toBe(0);
    expect(etcdctl(`127.0.0.1:${b}`, ['get', 'k', '--print-value-only']).stdout.trim()).toBe('v');
    expect(existsSync(join(dir, `localhost:${sock}`))).toBe(true);
    // etcdctl resolves the socket name against its own working directory, as etcd created it in the member's.
    const viaSocket = spawnSync(
      'etcdctl',
      [`--endpoints=unix://localhost:${sock}`, '--dial-timeout=3s', 'get', 'k', '--print-value-only'],
      { cwd: dir, encoding: 'utf8', timeout: 15_000, env: { ...process.env, ETCDCTL_API: '3' } },
    );
    expect(viaSocket.stdout.trim(), viaSocket.stderr).toBe('v');
  });

  it('serves the JSON gateway on the unix socket', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(
        { socketPath: join(dir, `localhost:${ports[2]}`), path: '/v3/kv/range', method: 'POST' },
        (res) => {
          let text = '';
          res.on('data', (d) => (text += String(d)));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify({ key: Buffer.from('k').toString('base64') }));
    });
    expect(JSON.parse(body).kvs[0].value).toBe(Buffer.from('v').toString('base64'));
  });
});

describe('--listen-peer-urls with several URLs', () => {
  it("serves the peer port's routes on every URL", async () => {
    for (const port of [ports[3], ports[4]]) {
      const res = await fetch(`http://127.0.0.1:${port}/members`);
      expect(res.status).toBe(200);
      expect(await res.text()).toContain('"name":"l1"');
    }
  });
});

describe('--experimental-watch-progress-notify-interval', () => {
  it('an idle watch with progress_notify gets progress responses at the current revision', async () => {
    const ac = new AbortController();
    const res = await fetch(`http://127.0.0.1:${ports[0]}/v3/watch`, {
      method: 'POST',
      body: JSON.stringify({
        create_request: { key: Buffer.from('idle').toString('base64'), progress_notify: true },
      }),
      signal: ac.signal,
    });
    const reader = res.body!.getReader();
    const lines: { result?: { created?: boolean; events?: unknown[]; header: { revision: string } } }[] = [];
    let text = '';
    const deadline = Date.now() + 10_000;
    try {
      while (lines.filter((l) => !l.result?.created).length < 2 && Date.now() < deadline) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
        const parts = text.split('\n');
        text = parts.pop() ?? '';
        for (const p of parts) if (p.trim()) lines.push(JSON.parse(p));
      }
    } finally {
      ac.abort();
    }
    const progress = lines.filter((l) => !l.result?.created);
    expect(progress.length).toBeGreaterThanOrEqual(2);
    for (const p of progress) {
      expect(p.result?.events ?? []).toEqual([]);
      expect(Number(p.result?.header.revision)).toBeGreaterThanOrEqual(2); // the put above, or later
    }
  });
});

describe('--config-file', () => {
  it("a member started from etcd's YAML configuration serves etcdctl", async () => {
    const [client, peer] = [await freePort(), await freePort()];
    const path = join(dir, 'etcd.conf.yml');
    writeFileSync(
      path,
      [
        "name: 'from-file'",
        `data-dir: ${join(dir, 'from-file')}`,
        `listen-client-urls: http://127.0.0.1:${client}`,
        `advertise-client-urls: http://127.0.0.1:${client}`,
        `listen-peer-urls: http://127.0.0.1:${peer}`,
        `initial-advertise-peer-urls: http://127.0.0.1:${peer}`,
        `initial-cluster: from-file=http://127.0.0.1:${peer}`,
        'heartbeat-interval: 50',
        'election-timeout: 500',
      ].join('\n'),
    );
    const member = spawn(process.execPath, [join(ROOT, 'bin/edgecd.js'), '--config-file', path], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    member.stdout?.on('data', (d) => (out += String(d)));
    member.stderr?.on('data', (d) => (out += String(d)));
    try {
      const deadline = Date.now() + 30_000;
      while (etcdctl(`127.0.0.1:${client}`, ['put', 'f', 'yaml']).status !== 0) {
        if (Date.now() > deadline || member.exitCode !== null)
          throw new Error(`no member from the file:\n${out}`);
        await sleep(200);
      }
      expect(etcdctl(`127.0.0.1:${client}`, ['member', 'list']).stdout).toContain(', from-file, ');
    } finally {
      const exited = new Promise((r) => member.once('exit', r));
      member.kill('SIGTERM');
      await exited;
    }
  }, 60_000);
});
