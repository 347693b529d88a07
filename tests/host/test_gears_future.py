"""gearsFuture() (spec §7.3, §9): a plain `def` step makes a future for its
record and returns it; whoever calls continueRun / continueFailed later, on
any thread, decides that record, and the execution goes on from there."""
import threading

import pytest

from support.flows import error_of, pyexecute, trigger

FLOWS = r'''
import threading, time

def later(fn):
    threading.Thread(target=lambda: (time.sleep(0.01), fn())).start()

def args(r):
    return r[1:]

def fut_map(r):
    f = gearsFuture()
    later(lambda: f.continueRun(r + '!'))
    return f

def fut_filter(r):
    f = gearsFuture()
    later(lambda: f.continueRun(r.startswith('k')))
    return f

def fut_foreach(r):
    f = gearsFuture()
    later(lambda: (execute('RPUSH', 'seen', r), f.continueRun('ignored')))
    return f

def fut_flat(r):
    f = gearsFuture()
    later(lambda: f.continueRun([r, r.upper()]))
    return f

def fut_acc(a, r):
    f = gearsFuture()
    later(lambda: f.continueRun((a or '') + r))
    return f

def fut_fail(r):
    f = gearsFuture()
    later(lambda: f.continueFailed(ValueError('no luck for ' + r)))
    return f

GB('CommandReader').flatmap(args).map(fut_map).register(trigger='map')
GB('CommandReader').flatmap(args).filter(fut_filter).register(trigger='filter')
GB('CommandReader').flatmap(args).foreach(fut_foreach).register(trigger='foreach')
GB('CommandReader').flatmap(args).flatmap(fut_flat).register(trigger='flatmap')
GB('CommandReader').flatmap(args).accumulate(fut_acc).register(trigger='acc')
GB('CommandReader').flatmap(args).map(fut_fail).register(trigger='fail')
for mode in ('sync', 'async_local', 'async'):
    GB('CommandReader').map(lambda r: fut_map(r[1])).register(trigger='one_' + mode, mode=mode)
    GB('CommandReader').map(lambda r: fut_map(r[1])).map(lambda r: r + '?').register(
        trigger='two_' + mode, mode=mode)
'''


@pytest.fixture
def flows(host):
    srv, c = host
    assert pyexecute(c, FLOWS) == "OK"
    return srv, c


def test_record_steps_continued_from_another_thread(flows):
    _, c = flows
    assert trigger(c, "map", "a", "b", "c") == ["a!", "b!", "c!"]  # order kept
    assert trigger(c, "filter", "k1", "x", "k2") == ["k1", "k2"]
    assert trigger(c, "foreach", "p", "q") == ["p", "q"]
    assert sorted(c.lrange("seen", 0, -1)) == ["p", "q"]  # each ran before its record went on
    assert trigger(c, "flatmap", "x", "y") == ["x", "X", "y", "Y"]
    assert trigger(c, "acc", "a", "b", "c") == ["abc"]  # one pending at a time: each sees the last
    # continueFailed: an error record of str(e) alone, as for an `async def` step
    assert error_of(c, "RG.TRIGGER", "fail", "p") == "no luck for p"


@pytest.mark.parametrize("mode", ["sync", "async_local", "async"])
def test_every_mode(flows, mode):
    _, c = flows
    assert trigger(c, "one_" + mode, "z") == ["z!"]
    assert trigger(c, "two_" + mode, "z") == ["z!?"]  # the steps after it run too


WAIT_FOR_KEY = r'''
waiting = []

def park(r):
    f = gearsFuture()
    waiting.append(f)
    execute('INCR', 'parked')
    return f

def release(ev):
    while waiting:
        waiting.pop().continueRun('released by ' + ev['key'])

GB('CommandReader').map(park).register(trigger='wait', mode=MODE)
GB('KeysReader').foreach(release).register(prefix='go:*', mode='sync', readValue=False)
'''


@pytest.mark.parametrize("mode", ["sync", "async_local"])
def test_continued_by_another_flow(host, mode):
    """The pattern of RedisGears' own docs: a flow parks its record until a
    keyspace event's flow continues it.  The waiting client blocks; the
    server serves others meanwhile."""
    srv, c = host
    assert pyexecute(c, WAIT_FOR_KEY.replace("MODE", repr(mode))) == "OK"
    got = []
    waiter = srv.client()  # bytes replies
    t = threading.Thread(target=lambda: got.append(waiter.execute_command("RG.TRIGGER", "wait")))
    t.start()
    tick = threading.Event()  # never set: a sleep
    while c.get("parked") != "1":
        assert not tick.wait(0.01) and t.is_alive()
    assert got == [] and c.ping()
    c.set("go:now", "1")
    t.join(10)
    assert got == [[b"released by go:now"]]


ERRORS = r'''
def twice(r):
    gearsFuture()
    gearsFuture()

def raises_after(r):
    global parked
    parked = gearsFuture()
    raise ValueError('step failed after making its future')

def coroutine_too(r):
    gearsFuture()
    async def c():
        return 1
    return c()

def continue_twice(r):
    f = gearsFuture()
    f.continueRun('first')
    try:
        f.continueRun('second')
    except GearsError as e:
        execute('SET', 'second_continue', str(e))
    return f

def continue_parked(r):
    try:
        parked.continueRun('late')
    except GearsError as e:
        return str(e)

GB('CommandReader').map(twice).register(trigger='twice')
GB('CommandReader').map(raises_after).register(trigger='raises_after', mode='sync')
GB('CommandReader').map(raises_after).register(trigger='raises_after_async')
GB('CommandReader').map(coroutine_too).register(trigger='coroutine_too')
GB('CommandReader').map(continue_twice).register(trigger='continue_twice', mode='sync')
GB('CommandReader').map(continue_parked).register(trigger='continue_parked')
def continue_then_raise(r):
    f = gearsFuture()
    f.continueRun('value')
    raise ValueError('boom')

GB('CommandReader').map(lambda r: gearsFuture()).register(trigger='in_multi', mode='sync')
GB('CommandReader').map(continue_then_raise).register(trigger='one_map_raise', mode='sync')
GB('CommandReader').map(continue_then_raise).map(str).register(trigger='two_maps_raise', mode='sync')
GB('CommandReader').groupby(lambda r: 1, lambda k, a, r: gearsFuture()).register(trigger='reduce')
'''


def test_misuse_gets_clear_errors(host):
    _, c = host
    assert pyexecute(c, ERRORS) == "OK"
    assert error_of(c, "RG.PYEXECUTE", "gearsFuture()") == "Can not create gearsFuture outside of step"
    assert "Can not create async record twice on the same step" in error_of(c, "RG.TRIGGER", "twice")
    assert "Step does not support async" in error_of(c, "RG.TRIGGER", "reduce")
    assert error_of(c, "RG.TRIGGER", "coroutine_too") == "Can not create async record twice on the same step"
    # a step that fails after making its future: its error record, at once; the future is spent
    for name in ("raises_after", "raises_after_async"):
        assert "step failed after making its future" in error_of(c, "RG.TRIGGER", name)
        assert trigger(c, "continue_parked") == ["Can not continue with the same future twice"]
    # a step that raises after continuing its future: its error, whatever the flow's shape (the
    # continue is held until the step ends: sent to the loop at once, its value won 1 time in 10)
    for name in ("one_map_raise", "two_maps_raise"):
        for _ in range(50):
            assert "boom" in error_of(c, "RG.TRIGGER", name)
    # the first continue decides; the second raises to its caller
    assert trigger(c, "continue_twice") == ["first"]
    assert c.get("second_continue") == "Can not continue with the same future twice"
    # no blocking inside MULTI: no future either
    p = c.pipeline(transaction=True)
    p.execute_command("RG.TRIGGER", "in_multi")
    with pytest.raises(Exception) as e:
        p.execute()
    assert "Creating async record is not allowed" in str(e.value)
