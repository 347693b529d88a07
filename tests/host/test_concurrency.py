"""100 clients on separate connections trigger flows that write and read
tensors at once (distinct keys and one shared key), in every execution mode
and through async steps: no crash, no lost write, no torn tensor."""
import threading

from support.flows import pyexecute, trigger

CLIENTS = 100
ROUNDS = 10
N = 512  # elements per tensor: big enough that a torn write would show

FLOWS = r'''
import asyncio, struct
import redisAI as ai

def put(key, value, n):
    ai.setTensorInKey(key, ai.createTensorFromBlob('INT32', [n], struct.pack('%di' % n, *([value] * n))))

def summary(key):
    """'<value>x<count>' if the tensor holds one value throughout, else 'TORN ...'."""
    values = ai.tensorToFlatList(ai.getTensorFromKey(key))
    if len(set(values)) != 1:
        return 'TORN %r' % sorted(set(values))[:5]
    return '%dx%d' % (values[0], len(values))

def own(r):
    key, value, n = r[1], int(r[2]), int(r[3])
    put(key, value, n)
    execute('INCR', 'writes')
    return summary(key)

def shared(r):
    value, n = int(r[2]), int(r[3])
    put('shared', value, n)
    execute('INCR', 'writes')
    return summary('shared')

async def own_async(r):
    key, value, n = r[1], int(r[2]), int(r[3])
    put(key, value, n)
    await asyncio.sleep(0)
    execute('INCR', 'writes')
    return summary(key)

GB('CommandReader').map(own).register(trigger='own')
GB('CommandReader').map(own).register(trigger='own_local', mode='async_local')
GB('CommandReader').map(own).register(trigger='own_sync', mode='sync')
GB('CommandReader').map(own_async).register(trigger='own_async')
GB('CommandReader').map(shared).register(trigger='shared')
GB('CommandReader').map(shared).register(trigger='shared_sync', mode='sync')
'''

OWN = ("own", "own_local", "own_sync", "own_async")
SHARED = ("shared", "shared_sync")


def test_hundred_clients_write_and_read_tensors(start_host):
    srv, c = start_host(host_args=["THREADS", "3"])
    assert pyexecute(c, FLOWS) == "OK"
    failures = []

    def client(cid):
        cl = srv.client(decode_responses=True, socket_timeout=120)
        try:
            for rnd in range(ROUNDS):
                for t in OWN:
                    value = cid * 1000 + rnd * 10 + OWN.index(t)
                    got = trigger(cl, t, "own:%d" % cid, value, N)
                    if got != ["%dx%d" % (value, N)]:
                        failures.append((cid, t, got))
                for t in SHARED:
                    [got] = trigger(cl, t, "shared", cid, N)
                    if got.startswith("TORN") or not got.endswith("x%d" % N):
                        failures.append((cid, t, got))
        except Exception as e:  # reported below, with the other failures
            failures.append((cid, "exception", repr(e)))
        finally:
            cl.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert srv.alive()
    # every write landed exactly once, and each key holds its client's last value
    assert int(c.get("writes")) == CLIENTS * ROUNDS * (len(OWN) + len(SHARED))
    raw = srv.client()
    last = OWN.index(OWN[-1])
    for cid in range(CLIENTS):
        values = raw.execute_command("AI.TENSORGET", "own:%d" % cid, "VALUES")
        assert values == [cid * 1000 + (ROUNDS - 1) * 10 + last] * N
    shared = raw.execute_command("AI.TENSORGET", "shared", "VALUES")
    assert len(shared) == N and len(set(shared)) == 1 and 0 <= shared[0] < CLIENTS
