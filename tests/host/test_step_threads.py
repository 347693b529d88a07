"""Where the steps of a flow run (spec §7.4, §9): coroutine code on the loop
thread, plain `def` steps of async executions on the execution pool, sync
steps on the main thread until an await of anything but their own runs.
Async flows whose first step is an `async def` start on the loop thread; executions stay there after their
coroutines end while the next steps allow it.  Errors raised on either
side become the same error records."""
import threading

import redis

from support.flows import error_of, pyexecute, trigger

NO_ASYNC = "Creating async record is not allowed"

WHERE = r'''
import asyncio, threading

def where():
    t = threading.current_thread()
    if t is threading.main_thread():
        return 'main'
    return 'loop' if t.name == 'gears-loop' else 'pool'

async def first(r):
    before = where()
    await asyncio.sleep(0.001)
    return [before, where()]

def plain(r):
    return r + [where()]

async def later(r):
    before = where()
    await asyncio.sleep(0)
    return r + [before, where()]

async def no_await(r):
    return r + [where()]

def returns_coroutine(r):
    return later(r + [where()])

async def acc(a, r):
    await asyncio.sleep(0)
    return (a or []) + [where()]

for mode in ('async', 'async_local', 'sync'):
    GB('CommandReader').map(first).map(plain).map(later).register(trigger='chain_' + mode, mode=mode)
GB('CommandReader').map(first).map(no_await).map(later).register(trigger='loop_only')
GB('CommandReader').map(first).map(returns_coroutine).register(trigger='plain_coro')
GB('CommandReader').accumulate(acc).register(trigger='acc')
GB('CommandReader').map(lambda r: str(isAsyncAllow())).register(trigger='allow_plain', mode='sync')
'''


def test_async_first_step_runs_on_the_loop_and_plain_steps_on_the_pool(host):
    _, c = host
    pyexecute(c, WHERE)
    for mode in ("async", "async_local"):
        assert trigger(c, "chain_" + mode) == [str(["loop", "loop", "pool", "loop", "loop"])]
    # only an await takes the steps off the loop thread's hands: none here
    assert trigger(c, "loop_only") == [str(["loop", "loop", "loop", "loop", "loop"])]
    # a plain def that returns a coroutine is a plain step: the pool calls
    # it, the loop runs the coroutine
    assert trigger(c, "plain_coro") == [str(["loop", "loop", "pool", "loop", "loop"])]
    assert trigger(c, "acc") == [str(["loop"])]


def test_sync_flow_starting_with_async_def(host):
    _, c = host
    pyexecute(c, WHERE)
    # the coroutine starts on the main thread; its await of asyncio.sleep
    # hands the rest of it to the loop thread and the execution goes on in
    # the background: the plain step after it runs on the pool (as async_local)
    assert trigger(c, "chain_sync") == [str(["main", "loop", "pool", "loop", "loop"])]
    # where blocking is not allowed the sync flow runs on the main thread,
    # which may not create async records
    p = c.pipeline(transaction=True)
    p.execute_command("RG.TRIGGER", "chain_sync")
    p.execute_command("RG.TRIGGER", "allow_plain")
    chain, allow = p.execute(raise_on_error=False)
    assert isinstance(chain, redis.ResponseError) and str(chain) == NO_ASYNC
    assert allow == ["False"]
    assert error_of(c, "EVAL", "return redis.call('RG.TRIGGER', 'chain_sync')", 0).startswith(NO_ASYNC)
    assert trigger(c, "chain_sync") == [str(["main", "loop", "pool", "loop", "loop"])]


ERRORS = r'''
import asyncio

class NoStr:
    def __str__(self):
        raise ValueError('no str for this record')

async def fails_before_await(r):
    raise KeyError('before ' + r[1])

async def fails_after_await(r):
    await asyncio.sleep(0)
    raise ValueError('after ' + r[1])

async def nostr(r):
    await asyncio.sleep(0)
    return NoStr()

async def ok(r):
    await asyncio.sleep(0)
    return r[1]

def plain_fails(r):
    raise RuntimeError('plain step failed on ' + r)

async def echo(r):
    return r

async def second(r):
    await asyncio.sleep(0)
    raise ValueError('second ' + r)

GB('CommandReader').map(fails_before_await).register(trigger='before')
GB('CommandReader').map(fails_after_await).register(trigger='after')
GB('CommandReader').map(nostr).register(trigger='nostr')
GB('CommandReader').map(ok).map(plain_fails).register(trigger='plain_after')
GB('CommandReader').map(ok).map(echo).map(second).register(trigger='second_async')
GB('CommandReader').map(ok).map(echo).register(trigger='ok_then_echo')
GB('CommandReader').map(ok).map(plain_fails).register(trigger='plain_after_sync', mode='sync')
'''


def test_errors_in_steps_run_on_the_loop(host):
    _, c = host
    pyexecute(c, ERRORS)
    # errors of coroutines are str(e) (spec §7.5), wherever the flow started
    assert error_of(c, "RG.TRIGGER", "before", "x") == "'before x'"
    assert error_of(c, "RG.TRIGGER", "after", "y") == "after y"
    # convertToStr runs after the coroutine, here on the loop thread: its
    # failure is a sync step's error record (a formatted traceback)
    e = error_of(c, "RG.TRIGGER", "nostr")
    assert "ValueError" in e and "no str for this record" in e
    # the plain step after the coroutine runs on the pool; its error is
    # formatted as a sync step's
    for name in ("plain_after", "plain_after_sync"):
        e = error_of(c, "RG.TRIGGER", name, "z")
        assert "RuntimeError" in e and "plain step failed on z" in e, e
    # a second coroutine step, started on the loop after the first ended
    assert error_of(c, "RG.TRIGGER", "second_async", "w") == "second w"
    # the host goes on serving
    assert trigger(c, "ok_then_echo", "fine") == ["fine"]
    assert c.ping()


def test_many_clients_start_async_flows_at_once(host):
    srv, c = host
    pyexecute(c, "import asyncio\n"
                 "async def slow_echo(r):\n"
                 "    await asyncio.sleep(0.01)\n"
                 "    return r[1]\n"
                 "GB('CommandReader').map(slow_echo).register(trigger='echo')\n"
                 "GB('CommandReader').map(slow_echo).register(trigger='echo_sync', mode='sync')\n")
    results, errors = {}, []

    def client(i):
        try:
            cl = srv.client(decode_responses=True)
            for k in range(20):
                name = "echo" if (i + k) % 2 else "echo_sync"
                results[(i, k)] = trigger(cl, name, "%d-%d" % (i, k))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == {(i, k): ["%d-%d" % (i, k)] for i in range(50) for k in range(20)}


def test_run_with_async_first_step(host):
    _, c = host
    reply = pyexecute(c, WHERE.split("for mode in")[0] +
                      "GB('ShardsIDReader').map(first).map(plain).run()\n")
    assert reply == [[str(["loop", "loop", "pool"])], []]
