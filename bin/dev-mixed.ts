// `npm run dev:mixed`: one Raft group on a Node server and Cloudflare Durable Objects, on this machine.
//   3 Node members     `npx edgecd`'s local cluster (clients 2379/22379/32379, peers 2380/22380/32380, ./data)
//   the Worker         `wrangler dev` on 127.0.0.1:8787 (state in ./data/wrangler)
//   2 DO voters        do-1, do-2: `member add`, then POST /edgecd/v1/join/<name> on the Worker
//   1 DO learner       do-edge-1: `member add --learner`, then the same join
// Everything shares one peer secret (EDGECD_PEER_SECRET on the Worker, --experimental-peer-secret on Node).
// Ctrl-C stops it all. Run it again on the same ./data: the members come back as they were.
//
// Options: --worker-port N (default 8787), --secret S (default: a fixed local one, fine on loopback only).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCAL_MEMBERS } from '../adapters/runtime/node/local-cluster.ts';
import { PEER_SECRET_HEADER } from '../adapters/transport/fetch/index.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Options {
  readonly workerPort: number;
  readonly secret: string;
}

function parseOptions(argv: readonly string[]): Options {
  const options = { workerPort: 8787, secret: 'edgecd-local-peer-secret' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split('=', 2);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new Error(`${flag}: missing value`);
    if (flag === '--worker-port') options.workerPort = Number(value);
    else if (flag === '--secret') options.secret = value;
    else throw new Error(`unknown option ${flag} (options: --worker-port, --secret)`);
  }
  if (!Number.isInteger(options.workerPort) || options.workerPort <= 0)
    throw new Error('--worker-port: a port');
  return options;
}

const DO_MEMBERS = [
  { name: 'do-1', learner: false },
  { name: 'do-2', learner: false },
  { name: 'do-edge-1', learner: true },
] as const;

const b64 = (s: string) => Buffer.from(s).toString('base64');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {}
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
}

async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json', ...headers },
    signal: AbortSignal.timeout(15_000),
  });
}

interface ListedMember {
  ID: string;
  name?: string;
  peerURLs?: string[];
  isLearner?: boolean;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const worker = `http://127.0.0.1:${options.workerPort}`;
  const client = `http://127.0.0.1:${LOCAL_MEMBERS[0].client}`;
  // Next to the Node members' ./data, in the directory dev:mixed runs in (wrangler itself runs in the project).
  const wranglerState = resolve('data/wrangler');
  mkdirSync(wranglerState, { recursive: true });
  const children: ChildProcess[] = [];
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const c of children) {
      if (c.exitCode !== null || c.pid === undefined) continue;
      try {
        process.kill(-c.pid, 'SIGTERM');
      } catch {}
    }
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const nodes = spawn(process.execPath, [`${ROOT}/bin/edgecd.js`], {
    stdio: ['ignore', 'inherit', 'inherit'],
    detached: true,
    env: { ...process.env, ETCD_EXPERIMENTAL_PEER_SECRET: options.secret },
  });
  children.push(nodes);
  const wrangler = spawn(
    `${ROOT}/node_modules/.bin/wrangler`,
    [
      'dev',
      '--local',
      '--ip',
      '127.0.0.1',
      '--port',
      String(options.workerPort),
      '--persist-to',
      wranglerState,
      '--var',
      `EDGECD_PEER_SECRET:${options.secret}`,
      '--show-interactive-dev-session=false',
    ],
    {
      cwd: ROOT,
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_HIDE_BANNER: 'true',
      },
    },
  );
  children.push(wrangler);
  for (const c of children) {
    c.on('exit', (code) => {
      if (!stopping) {
        console.error(`dev:mixed: a child exited (${code}); stopping everything`);
        stop();
      }
    });
  }

  try {
    await until('the Node members', 60_000, async () =>
      (await fetch(`${client}/health`)).ok ? true : undefined,
    );
    await until('wrangler dev', 60_000, async () => ((await fetch(`${worker}/`)).ok ? true : undefined));
    const peers = LOCAL_MEMBERS.map((m) => `http://127.0.0.1:${m.peer}`);
    for (const m of DO_MEMBERS) {
      const peerURL = `${worker}?member=${m.name}`;
      const list = (await (await post(`${client}/v3/cluster/member/list`, {})).json()) as {
        members?: ListedMember[];
      };
      if (!list.members?.some((x) => x.peerURLs?.includes(peerURL))) {
        const added = await post(`${client}/v3/cluster/member/add`, {
          peerURLs: [peerURL],
          isLearner: m.learner,
        });
        if (!added.ok) throw new Error(`member add ${m.name}: ${await added.text()}`);
        console.log(`dev:mixed: added ${m.name} (${m.learner ? 'learner' : 'voter'}) at ${peerURL}`);
      }
      const joined = await post(
        `${worker}/edgecd/v1/join/${m.name}`,
        { peers },
        { [PEER_SECRET_HEADER]: options.secret },
      );
      if (!joined.ok) throw new Error(`join ${m.name}: ${await joined.text()}`);
      // Wait until the member has published its name: it runs and the cluster has heard from it.
      await until(`${m.name} to start`, 60_000, async () => {
        const r = (await (await post(`${client}/v3/cluster/member/list`, {})).json()) as {
          members?: ListedMember[];
        };
        return r.members?.some((x) => x.name === m.name) ? true : undefined;
      });
    }
  } catch (error) {
    console.error(`dev:mixed: ${(error as Error).message}`);
    stop();
    process.exitCode = 1;
    return;
  }
  const endpoints = LOCAL_MEMBERS.map((m) => `127.0.0.1:${m.client}`).join(',');
  console.log(`
edgecd dev:mixed — one Raft group: 3 Node members, 2 Durable Object voters, 1 Durable Object learner.
  etcdctl --endpoints=${endpoints} member list -w table
  etcdctl --endpoints=${endpoints} put greeting hello
  curl -s -X POST ${worker}/v3/kv/range -d '{"key":"${b64('greeting')}"}'
  curl -s -X POST ${worker}/v3/kv/put -d '{"key":"${b64('from-edge')}","value":"${b64('hi')}"}'
  etcdctl --endpoints=${endpoints} get from-edge
  curl -s -X POST ${worker}/v3/kv/range -d '{"key":"${b64('greeting')}","serializable":true}'   # a learner answers
  npm run demo, then http://127.0.0.1:5173/?join=${client}   # a browser tab joins as a learner
Ctrl-C stops everything.`);
}

await main();
