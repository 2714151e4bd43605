# Python's etcd3 client (python3-etcd3, over grpcio's C-core HTTP/2) against the endpoint in argv[1]: each line
# printed is one observation the test compares with what etcd answers. Run by test/e2e/python-client.test.ts.
import sys
import threading

import etcd3

host, port = sys.argv[1].split(':')
c = etcd3.client(host=host, port=int(port), timeout=10)
out = []
say = out.append

c.put('/py/a', 'hello')
value, meta = c.get('/py/a')
say('get %s' % value.decode())
for i in range(50):
    c.put('/py/k/%02d' % i, 'x' * 1000)
say('prefix %d' % len(list(c.get_prefix('/py/k/'))))
say('deleted %s' % c.delete('/py/k/00'))
say('prefix %d' % len(list(c.get_prefix('/py/k/'))))

lease = c.lease(30)
c.put('/py/l', 'v', lease=lease)
say('lease ttl ok %s' % (25 <= lease.remaining_ttl <= 30))
lease.refresh()
say('lease keys %d' % len(lease.keys))

events = []
# From a revision of its own, so that no put can come before the watch exists.
start = c.put('/py/w-start', 'x').header.revision + 1
it, cancel = c.watch_prefix('/py/w/', start_revision=start)
def watch():
    for ev in it:
        events.append('%s=%s' % (ev.key.decode(), ev.value.decode()))
        if len(events) == 3:
            cancel()
t = threading.Thread(target=watch, daemon=True)
t.start()
for i in range(3):
    c.put('/py/w/%d' % i, 'v%d' % i)
t.join(10)
say('watch %s' % ','.join(events))

ok, _ = c.transaction(compare=[c.transactions.value('/py/a') == 'hello'],
                      success=[c.transactions.put('/py/a', 'bye')], failure=[])
say('txn %s' % ok)
ok, _ = c.transaction(compare=[c.transactions.value('/py/a') == 'hello'],
                      success=[c.transactions.put('/py/a', 'again')], failure=[])
say('txn %s' % ok)

big = 'y' * (1024 * 1024)
for i in range(3):
    c.put('/py/big/%d' % i, big)
say('big range %d' % sum(len(v) for v, m in c.get_prefix('/py/big/')))
try:
    c.put('/py/huge', 'z' * (3 * 1024 * 1024))
    say('huge accepted')
except Exception as e:  # etcd's gRPC limit: max-request-bytes + 512 KiB
    say('huge refused %s' % e.code())

with c.lock('py-lock', ttl=10) as lock:
    say('locked %s' % lock.is_acquired())
say('members %d' % len(list(c.members)))
say('version %s' % c.status().version)
print('\n'.join(out))
