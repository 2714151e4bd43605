// The client port is bound before the member can serve (etcd binds its listeners first): a client that connects
// meanwhile waits in the queue, with what it sent kept, instead of being refused.
import { once } from 'node:events';
import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { bindClientListener } from '../../adapters/runtime/node/client-listener.ts';

describe('bindClientListener', () => {
  it('holds connections made before take(), then hands them over with their bytes unread', async () => {
    const listener = await bindClientListener({ port: 0 });
    const early = net.connect(listener.port, '127.0.0.1');
    await once(early, 'connect');
    early.write('hello');
    await new Promise((r) => setTimeout(r, 50));
    const received: string[] = [];
    const served = new Promise<void>((resolve) => {
      listener.take((socket) => {
        socket.on('data', (d) => {
          received.push(String(d));
          socket.end('answer');
          resolve();
        });
        socket.resume();
      });
    });
    await served;
    expect(received.join('')).toBe('hello');
    const [answer] = (await once(early, 'data')) as [Buffer];
    expect(String(answer)).toBe('answer');
    // Later connections go straight to the taker.
    const late = net.connect(listener.port, '127.0.0.1');
    late.write('again');
    const [again] = (await once(late, 'data')) as [Buffer];
    expect(String(again)).toBe('answer');
    late.destroy();
    early.destroy();
    await listener.close();
  });

  it('close() drops the connections still waiting and frees the port', async () => {
    const listener = await bindClientListener({ port: 0 });
    const waiting = net.connect(listener.port, '127.0.0.1');
    await once(waiting, 'connect');
    await new Promise((r) => setTimeout(r, 20));
    await listener.close();
    await once(waiting, 'close');
    const again = await bindClientListener({ port: listener.port });
    await again.close();
  });
});
