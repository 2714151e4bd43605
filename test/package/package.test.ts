// The package as a user gets it: `npm pack` (which builds dist/), checked with publint and
// @arethetypeswrong/cli, installed into a scratch project, then used with plain node — no tsx, no sources.
//
// The install: the tarball is unpacked into scratch/node_modules/edgecd and each of its `dependencies` is a
// symlink to the repository's installed copy, with the `bin` link npm would make. `npm install --offline
// <tarball>` is not reliable here: `npm ci` fills the cache with tarballs but not with the registry metadata
// that resolving the tarball's dependencies needs (ENOTCACHED), and letting npm reify next to symlinks into the
// shared node_modules makes it run their lifecycle scripts. Only the declared dependencies are visible from the
// installed package, so a missing entry in `dependencies` fails here too.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(ROOT, 'node_modules', '.bin');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

/** The environment of a user's shell: no source mode, no loader hooks from the test runner. */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  delete env.EDGECD_FROM_SOURCE;
  delete env.NODE_OPTIONS;
  return env;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number, extraEnv = {}) {
  const r = spawnSync(command, args, {
    cwd,
    env: userEnv(extraEnv),
    encoding: 'utf8',
    timeout: timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 64 * 1024 * 1024,
  });
  const output = `$ ${command} ${args.join(' ')}\n${r.stdout}\n${r.stderr}${r.error ? `\n${r.error}` : ''}`;
  return { status: r.status, stdout: r.stdout, output };
}

let tmp: string;
let tarball: string;
let scratch: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'edgecd-package-'));
  const packed = run('npm', ['pack', '--pack-destination', tmp], ROOT, 240_000);
  expect(packed.status, packed.output).toBe(0);
  const [file] = readdirSync(tmp).filter((f) => f.endsWith('.tgz'));
  tarball = join(tmp, file);

  scratch = join(tmp, 'scratch');
  const installed = join(scratch, 'node_modules', 'edgecd');
  mkdirSync(installed, { recursive: true });
  writeFileSync(join(scratch, 'package.json'), '{ "name": "scratch", "private": true, "type": "module" }\n');
  const untar = run('tar', ['-xzf', tarball, '-C', installed, '--strip-components=1'], scratch, 30_000);
  expect(untar.status, untar.output).toBe(0);
  for (const dep of Object.keys(pkg.dependencies)) {
    mkdirSync(dirname(join(scratch, 'node_modules', dep)), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules', dep), join(scratch, 'node_modules', dep));
  }
  mkdirSync(join(scratch, 'node_modules', '.bin'));
  symlinkSync('../edgecd/bin/edgecd.js', join(scratch, 'node_modules', '.bin', 'edgecd'));
}, 300_000);

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('holds the build and nothing of the sources or tests', () => {
    const list = run('tar', ['-tzf', tarball], tmp, 30_000);
    expect(list.status, list.output).toBe(0);
    const files = list.stdout.trim().split('\n');
    console.log(`tarball: ${statSync(tarball).size} bytes, ${files.length} files`);
    expect(files).toContain('package/bin/edgecd.js');
    expect(files).toContain('package/dist/bin/cli.js');
    expect(files).toContain('package/dist/bin/edgecd.js');
    expect(files).toContain('package/dist/adapters/runtime/node/grpc/proto/rpc.proto');
    expect(files).toContain('package/README.md');
    const unexpected = files.filter(
      (f) =>
        !/^package\/(package\.json|README\.md|LICENSE|bin\/edgecd\.js)$/.test(f) &&
        !/^package\/dist\/(src|adapters|bin)\/.+\.(js|js\.map|d\.ts|proto)$/.test(f),
    );
    expect(unexpected).toEqual([]);
  });

  it('passes publint (strict)', () => {
    const r = run(join(BIN, 'publint'), ['run', tarball, '--strict'], tmp, 120_000);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout).toContain('All good');
  });

  it('passes @arethetypeswrong/cli for ESM consumers', () => {
    const r = run(join(BIN, 'attw'), ['--pack', tarball, '--profile', 'esm-only'], tmp, 180_000);
    expect(r.status, r.output).toBe(0);
  });
});

describe('installed in a scratch project, with plain node', () => {
  it("runs the README's embedding example", () => {
    // test/server/embed-example.test.ts checks that the README shows this file as it is.
    cpSync(join(ROOT, 'docs', 'examples', 'embed.mjs'), join(scratch, 'embed.mjs'));
    const r = run(process.execPath, ['embed.mjs'], scratch, 60_000);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout.trim()).toBe('hello at revision 2');
  });

  it('loads every Node-capable entry point with only the declared dependencies', () => {
    const entries = [
      'edgecd',
      'edgecd/gateway',
      'edgecd/memory',
      'edgecd/node',
      'edgecd/browser',
      'edgecd/testing',
    ];
    const script = `for (const e of ${JSON.stringify(entries)}) { const m = await import(e); if (Object.keys(m).length === 0) throw new Error(e + ': no exports'); }`;
    const r = run(process.execPath, ['--input-type=module', '-e', script], scratch, 60_000);
    expect(r.status, r.output).toBe(0);
    expect(existsSync(join(scratch, 'node_modules', 'tsx'))).toBe(false);
  });

  it('npx edgecd --version', () => {
    const r = run('npx', ['edgecd', '--version'], scratch, 60_000);
    expect(r.status, r.output).toBe(0);
    expect(r.stdout).toContain(`edgecd Version: ${pkg.version}`);
    expect(r.stdout).toContain('etcd Version: 3.4.23');
  });

  it('npx edgecd starts the local 3-member cluster, which serves a put and a get', async () => {
    const ports = [2379, 2380, 22379, 22380, 32379, 32380];
    await waitForFreePorts(ports, 30_000);
    const started = performance.now();
    const cluster = spawn('npx', ['edgecd'], {
      cwd: scratch,
      env: userEnv(),
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    cluster.stderr?.on('data', (d) => {
      stderr += d;
    });
    try {
      const b64 = (s: string) => Buffer.from(s).toString('base64');
      const post = async (port: number, path: string, body: unknown) => {
        const res = await fetch(`http://127.0.0.1:${port}${path}`, {
          method: 'POST',
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(3000),
        });
        return { status: res.status, json: (await res.json()) as Record<string, unknown> };
      };
      let put: { status: number } | undefined;
      while (performance.now() - started < 60_000 && cluster.exitCode === null) {
        put = await post(2379, '/v3/kv/put', { key: b64('greeting'), value: b64('hello') }).catch(
          () => undefined,
        );
        if (put?.status === 200) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(put?.status, `no successful put within 60 s; stderr:\n${stderr}`).toBe(200);
      console.log(
        `npx edgecd: serving (first put) ${Math.round(performance.now() - started)} ms after start`,
      );
      const got = await post(32379, '/v3/kv/range', { key: b64('greeting') });
      expect(got.status).toBe(200);
      const kvs = got.json.kvs as { value: string }[];
      expect(Buffer.from(kvs[0].value, 'base64').toString()).toBe('hello');
    } finally {
      await stopGroup(cluster);
    }
  });

  it('bundles edgecd + edgecd/browser for the browser without Node code, gRPC or ws', async () => {
    writeFileSync(
      join(scratch, 'browser-entry.mjs'),
      "export { createNode, cryptoRandom } from 'edgecd';\n" +
        "export { createGateway } from 'edgecd/gateway';\n" +
        "export { BrowserWebSocketTransport, IndexedDbStorage, InPageHub, InPageTransport, RealClock } from 'edgecd/browser';\n",
    );
    const { inputs, text } = await bundle(join(scratch, 'browser-entry.mjs'), { platform: 'browser' });
    expect(inputs.some((i) => i.includes('edgecd/dist/src/server/node.js'))).toBe(true);
    expect(inputs.some((i) => i.includes('edgecd/dist/adapters/storage/indexeddb/'))).toBe(true);
    expectPortable(inputs, text);
  });

  it('bundles edgecd/cloudflare as a Worker would, without Node code, gRPC or ws', async () => {
    writeFileSync(
      join(scratch, 'worker.mjs'),
      "export { default, EdgecdMember } from 'edgecd/cloudflare';\n",
    );
    const { inputs, text } = await bundle(join(scratch, 'worker.mjs'), {
      platform: 'browser', // wrangler's default, with its default conditions
      conditions: ['workerd', 'worker', 'browser'],
      external: ['cloudflare:workers'],
    });
    expect(inputs.some((i) => i.includes('edgecd/dist/adapters/runtime/cloudflare/member.js'))).toBe(true);
    expectPortable(inputs, text);
  });

  it('a Worker importing edgecd/cloudflare passes wrangler deploy --dry-run', () => {
    writeFileSync(
      join(scratch, 'worker.mjs'),
      "export { default, EdgecdMember } from 'edgecd/cloudflare';\n",
    );
    writeFileSync(
      join(scratch, 'wrangler.toml'),
      [
        'name = "edgecd-package-check"',
        'main = "worker.mjs"',
        'compatibility_date = "2026-04-01"',
        'send_metrics = false',
        '[durable_objects]',
        'bindings = [{ name = "EDGECD_MEMBER", class_name = "EdgecdMember" }]',
        '[[migrations]]',
        'tag = "v1"',
        'new_sqlite_classes = ["EdgecdMember"]',
        '',
      ].join('\n'),
    );
    const r = run(
      join(BIN, 'wrangler'),
      ['deploy', '--dry-run', '--outdir', 'wrangler-out'],
      scratch,
      180_000,
      {
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_HIDE_BANNER: 'true',
      },
    );
    expect(r.status, r.output).toBe(0);
    const out = readFileSync(join(scratch, 'wrangler-out', 'worker.js'), 'utf8');
    expect(out).toContain('EdgecdMember');
    expect(out).not.toMatch(/["']node:/);
  });
});

async function bundle(
  entry: string,
  options: Record<string, unknown>,
): Promise<{ inputs: string[]; text: string }> {
  const esbuild = await import('esbuild');
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: scratch,
    ...options,
  });
  return { inputs: Object.keys(result.metafile.inputs), text: result.outputFiles[0].text };
}

function expectPortable(inputs: readonly string[], text: string): void {
  const runtimeSpecific = inputs.filter(
    (i) =>
      i.startsWith('node:') ||
      /node_modules\/(@grpc\/|ws\/|yaml\/|prom-client\/|protobufjs\/)/.test(i) ||
      /edgecd\/dist\/adapters\/(runtime\/node|storage\/file-wal\/(index|fs|lock)|transport\/tcp\/(index|inbound|sniff|stream))/.test(
        i,
      ),
  );
  expect(runtimeSpecific).toEqual([]);
  expect(text).not.toMatch(/["']node:/);
}

async function waitForFreePorts(ports: readonly number[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const port of ports) {
    for (;;) {
      const free = await new Promise<boolean>((resolve) => {
        const server = createServer();
        server.once('error', () => resolve(false));
        server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
      });
      if (free) break;
      if (Date.now() > deadline)
        throw new Error(`port ${port} stays busy: the local cluster needs etcd's ports`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

/** SIGTERM to the whole group (npx, the CLI and its members), SIGKILL if it has not exited within 20 s. */
async function stopGroup(child: ChildProcess): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), s);
    } catch {
      // the group is gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}
