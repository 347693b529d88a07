"""`async def` steps (spec §7.2-7.5, §9): awaits on the loop thread, futures
resolved from other threads, error records, pending limits, atomic blocks,
sync executions going on in the background, MULTI and Lua."""
import pytest

from support.flows import error_of, pyexecute, trigger

NO_ASYNC = ("can not run a non-sync execution inside a MULTI/LUA (blocking is not allowed) "
            "or on loading.")

FLOWS = r'''
import asyncio, threading, time

def other_thread(fn, delay=0.01):
    threading.Thread(target=lambda: (time.sleep(delay), fn())).start()

async def amap(r):
    await asyncio.sleep(0.001)
    return r + '!'

async def afilter(r):
    await asyncio.sleep(0.001)
    return r.startswith('k')

async def aforeach(r):
    await asyncio.sleep(0.001)
    execute('RPUSH', 'seen', r)
    return 'ignored'

async def aflat(r):
    await asyncio.sleep(0.001)
    return [r, r.upper()] if r != 'one' else 'one'

async def aacc(a, r):
    await asyncio.sleep(0.001)
    return (a or '') + r

async def resolved_elsewhere(r):
    f = createFuture()
    other_thread(lambda: setFutureResults(f, r * 2))
    return await f

async def failed_elsewhere(r):
    f = createFuture()
    other_thread(lambda: setFutureException(f, 'engine said no: ' + r))
    return await f

async def raises(r):
    await asyncio.sleep(0.001)
    raise ValueError('async bad ' + r)

def args(r):
    return r[1:]

GB('CommandReader').flatmap(args).map(amap).register(trigger='map')
GB('CommandReader').flatmap(args).filter(afilter).register(trigger='filter')
GB('CommandReader').flatmap(args).foreach(aforeach).register(trigger='foreach')
GB('CommandReader').flatmap(args).flatmap(aflat).register(trigger='flatmap')
GB('CommandReader').flatmap(args).accumulate(aacc).register(trigger='acc')
GB('CommandReader').flatmap(args).map(resolved_elsewhere).register(trigger='fut')
GB('CommandReader').flatmap(args).map(failed_elsewhere).register(trigger='futerr')
GB('CommandReader').flatmap(args).map(raises).register(trigger='raises')
GB('CommandReader').flatmap(args).map(amap).map(lambda r: r + '?').map(amap).register(trigger='chain')
'''


@pytest.fixture
def flows(host):
    srv, c = host
    assert pyexecute(c, FLOWS) == "OK"
    return srv, c


def test_async_record_steps(flows):
    _, c = flows
    assert trigger(c, "map", "a", "b", "c") == ["a!", "b!", "c!"]  # order kept
    assert trigger(c, "filter", "k1", "x", "k2") == ["k1", "k2"]
    assert trigger(c, "foreach", "p", "q") == ["p", "q"]
    assert c.lrange("seen", 0, -1) == ["p", "q"]
    assert trigger(c, "flatmap", "x", "one", "y") == ["x", "X", "one", "y", "Y"]
    assert trigger(c, "acc", "a", "b", "c") == ["abc"]
    assert trigger(c, "chain", "z") == ["z!?!"]


def test_futures_resolved_from_other_threads(flows):
    _, c = flows
    assert trigger(c, "fut", "ab", "c") == ["abab", "cc"]
    # setFutureException with a string: a plain Exception whose str() is the text
    assert error_of(c, "RG.TRIGGER", "futerr", "x") == "engine said no: x"


def test_async_errors_are_str_of_exception(flows):
    _, c = flows
    assert error_of(c, "RG.TRIGGER", "raises", "r1", "r2") == "async bad r1"
    code = (FLOWS.split("def args")[0] +
            "GB('PythonReader').map(raises).run(lambda: ['a', 'b'])")
    res, errs = pyexecute(c, code)
    assert res == [] and sorted(errs) == ["async bad a", "async bad b"]


def test_sync_step_error_is_formatted_traceback(host):
    _, c = host
    code = ("def f(x):\n"
            "    raise ValueError('sync bad')\n"
            "GB('PythonReader').map(f).run(lambda: [1])")
    assert pyexecute(c, code) == [[], [
        "['Traceback (most recent call last):\\n', "
        "'  File \"<RG.PYEXECUTE>\", line 2, in f\\n', 'ValueError: sync bad\\n']"]]
    # a redisAI call that fails: the traceback ends at the user's call, as
    # with the original's C functions (no frames of the wrappers)
    code = ("import redisAI\n"
            "def f(x):\n"
            "    return redisAI.createTensorFromValues('FLOAT', [2], [1])\n"
            "GB('PythonReader').map(f).run(lambda: [1])")
    assert pyexecute(c, code) == [[], [
        "['Traceback (most recent call last):\\n', "
        "'  File \"<RG.PYEXECUTE>\", line 3, in f\\n', 'gears.error: values arguments must be double\\n']"]]
    # flat_error: the message only
    code = "GB('PythonReader').map(lambda x: (_ for _ in ()).throw(flat_error('flat bad'))).run(lambda: [1])"
    assert pyexecute(c, code) == [[], ["flat bad"]]


def test_python_attempt_traceback_0_gives_type_and_value(start_host):
    _, c = start_host(host_args=["PythonAttemptTraceback", "0"])
    code = ("def f(x):\n"
            "    raise ValueError('sync bad')\n"
            "GB('PythonReader').map(f).run(lambda: [1])")
    assert pyexecute(c, code) == [[], ["Error type: <class 'ValueError'>, Value: sync bad"]]
    assert pyexecute(c, "GB('PythonReader').run(lambda: [gearsConfigGet('PythonAttemptTraceback')])") == \
        [["0"], []]


def test_async_aggregate_and_aggregateby(host):
    _, c = host
    code = ("import asyncio\n"
            "async def seq(a, x):\n"
            "    await asyncio.sleep(0.001)\n"
            "    return a + x\n"
            "async def seqk(k, a, x):\n"
            "    await asyncio.sleep(0.001)\n"
            "    return a + [x]\n"
            "async def combk(k, a, b):\n"
            "    return a + [len(b)]\n"
            "nums = GB('CommandReader').flatmap(lambda r: [int(x) for x in r[1:]])\n"
            "nums.aggregate(0, seq, seq).register(trigger='agg')\n"
            "GB('CommandReader').flatmap(lambda r: [int(x) for x in r[1:]])"
            ".aggregateby(lambda x: x % 2, [], seqk, combk).register(trigger='aggby')\n")
    pyexecute(c, code)
    assert trigger(c, "agg", 1, 2, 3, 4) == ["10"]
    assert trigger(c, "aggby", 1, 2, 3, 5) == ["{'key': 1, 'value': [3]}", "{'key': 0, 'value': [1]}"]


def test_accumulateby_sync_and_async(host):
    _, c = host
    code = ("import asyncio\n"
            "async def acck(k, a, x):\n"
            "    await asyncio.sleep(0.001)\n"
            "    return (a or 0) + x\n"
            "nums = lambda: GB('CommandReader').flatmap(lambda r: [int(x) for x in r[1:]])\n"
            "nums().accumulateby(lambda x: x % 2, lambda k, a, x: (a or []) + [x]).register(trigger='accby')\n"
            "nums().accumulateby(lambda x: x % 2, acck).register(trigger='aaccby')\n")
    pyexecute(c, code)
    assert trigger(c, "accby", 1, 2, 3, 4) == ["{'key': 1, 'value': [1, 3]}", "{'key': 0, 'value': [2, 4]}"]
    assert trigger(c, "aaccby", 1, 2, 3, 5) == ["{'key': 1, 'value': 9}", "{'key': 0, 'value': 2}"]


class_bad_str = ("class BadStr(Exception):\n"
                 "    def __str__(self):\n"
                 "        raise RuntimeError('no text')\n")


@pytest.mark.parametrize("mode", ["sync", "async", "async_local"])
@pytest.mark.parametrize("body", ["    raise BadStr()\n",
                                  "    await asyncio.sleep(0.001)\n    raise BadStr()\n"])
def test_an_error_without_text_still_ends_the_execution(host, mode, body):
    """An async step raising an exception whose str() fails: the client got
    no reply, ever."""
    _, c = host
    pyexecute(c, "import asyncio\n" + class_bad_str + "async def f(r):\n" + body +
              "GB('CommandReader').map(f).register(trigger='bad', mode=%r)\n" % mode)
    assert error_of(c, "RG.TRIGGER", "bad") == "<exception str() failed>"
    assert c.ping()


@pytest.mark.parametrize("op,text", [
    (".groupby(ax, lambda k, a, r: r)", "coroutine are not allow on extractor"),
    (".countby(ax)", "coroutine are not allow on extractor"),
    (".avg(ax)", "coroutine are not allow on extractor"),
    (".groupby(lambda r: r, ar)", "coroutine are not allow on reduce"),
    (".batchgroupby(lambda r: r, ar)", "coroutine are not allow on reduce"),
    (".aggregateby(ax, 0, lambda k, a, r: a, lambda k, a, r: a)", "coroutine are not allow on extractor"),
])
def test_coroutines_refused_on_extractor_and_reduce(host, op, text):
    _, c = host
    pyexecute(c, "async def ax(r):\n    return r\n"
                 "async def ar(*a):\n    return 1\n"
                 "GB('CommandReader').flatmap(lambda r: r[1:])" + op + ".register(trigger='t')")
    assert error_of(c, "RG.TRIGGER", "t", "a") == text


def test_pending_limits(host):
    _, c = host
    code = r'''
import asyncio
state = {'now': 0, 'max': 0}
async def counted(r):
    state['now'] += 1
    state['max'] = max(state['max'], state['now'])
    await asyncio.sleep(0.05)
    state['now'] -= 1
    return r
async def counted_acc(a, r):
    return (a or 0) + int(await counted(r))
def peak(r):
    m = state['max']
    state['max'] = 0
    return m
GB('CommandReader').flatmap(lambda r: list(range(int(r[1])))).map(counted).count().register(trigger='map')
GB('CommandReader').flatmap(lambda r: list(range(int(r[1])))).accumulate(counted_acc).register(trigger='acc')
GB('CommandReader').map(peak).register(trigger='peak')
'''
    pyexecute(c, code)
    assert trigger(c, "map", 2500) == ["2500"]  # every record came back
    peak = int(trigger(c, "peak")[0])
    assert 1 < peak <= 1000  # concurrent, but at most 1000 pending per step
    assert trigger(c, "acc", 5) == ["10"]
    assert trigger(c, "peak") == ["1"]  # accumulate: one at a time


ATOMIC = r'''
import asyncio
async def await_in_atomic(r):
    try:
        with atomic():
            f = createFuture()
            setFutureResults(f, 1)
            await f
        return 'no error'
    except Exception as e:
        return '%s: %s' % (type(e).__name__, e)

async def sleep_in_atomic(r):
    try:
        with atomic():
            execute('SET', 'in_atomic', 'before')
            await asyncio.sleep(0.05)
            execute('SET', 'in_atomic', 'after')
        return 'no error'
    except Exception as e:
        return '%s: %s' % (type(e).__name__, e)

async def atomic_then_await(r):
    with atomic():
        execute('INCR', 'n')
    await asyncio.sleep(0.001)
    with atomic():
        return execute('INCR', 'n')

def nested(r):
    try:
        with atomic():
            with atomic():
                pass
    except Exception as e:
        return '%s: %s' % (type(e).__name__, e)

def atomic_writes(r):
    with atomic():
        execute('SET', 'a1', '1')
        execute('INCR', 'a1')
    with atomic():  # usable again after the block
        return execute('GET', 'a1')

GB('CommandReader').map(await_in_atomic).register(trigger='await')
GB('CommandReader').map(sleep_in_atomic).register(trigger='sleep')
GB('CommandReader').map(atomic_then_await).register(trigger='between')
GB('CommandReader').map(nested).register(trigger='nested')
GB('CommandReader').map(nested).register(trigger='nested_sync', mode='sync')
GB('CommandReader').map(atomic_writes).register(trigger='writes')
'''


def test_atomic(host):
    _, c = host
    pyexecute(c, ATOMIC)
    assert trigger(c, "await") == ["Exception: await is not allow inside atomic block"]
    # any await, not only of a GearsFuture: the block holds the Redis lock
    assert trigger(c, "sleep") == ["Exception: await is not allow inside atomic block"]
    assert c.get("in_atomic") == "before"
    assert trigger(c, "between") == ["2"]
    assert trigger(c, "nested") == ["error: Already inside an atomic block"]
    assert trigger(c, "nested_sync") == ["error: Already inside an atomic block"]
    assert trigger(c, "writes") == ["2"]
    assert c.ping()


BACKGROUND = r'''
import asyncio, threading
def where():
    t = threading.current_thread()
    return 'main' if t is threading.main_thread() else ('loop' if t.name == 'gears-loop' else 'pool')
async def hop(r):
    before = where()
    await asyncio.sleep(0.01)
    return r + [before, where()]
GB('CommandReader').map(lambda r: [where()]).map(hop).map(lambda r: r + [where()])\
    .register(trigger='bg', mode='sync')
GB('CommandReader').map(lambda r: [where()]).map(hop).register(trigger='as', mode='async')
GB('CommandReader').map(lambda r: where()).register(trigger='plain', mode='sync')
GB('CommandReader').map(lambda r: str(isAsyncAllow())).register(trigger='allow', mode='sync')
'''


def test_sync_goes_on_in_background_after_await(host):
    _, c = host
    pyexecute(c, BACKGROUND)
    assert trigger(c, "plain") == ["main"]
    # starts on the main thread, the coroutine too until it awaits something
    # other than its own runs (asyncio.sleep): the loop thread takes the rest
    # of it, then the rest of the flow runs on a pool thread (as async_local)
    assert trigger(c, "bg") == ["['main', 'main', 'loop', 'pool']"]
    assert trigger(c, "as") == ["['pool', 'loop', 'loop']"]


def test_multi(host):
    _, c = host
    pyexecute(c, BACKGROUND)
    p = c.pipeline(transaction=True)
    p.execute_command("RG.TRIGGER", "plain")
    p.execute_command("RG.TRIGGER", "as")
    p.execute_command("RG.TRIGGER", "bg")
    p.execute_command("RG.TRIGGER", "allow")
    plain, asyn, bg, allow = p.execute(raise_on_error=False)
    assert plain == ["main"]
    assert str(asyn) == NO_ASYNC
    assert str(bg) == "Creating async record is not allowed"
    assert allow == ["False"]
    assert trigger(c, "allow") == ["True"]


def test_lua(host):
    _, c = host
    pyexecute(c, BACKGROUND)
    assert c.eval("return redis.call('RG.TRIGGER', 'plain')", 0) == ["main"]
    assert c.eval("return redis.call('RG.TRIGGER', 'allow')", 0) == ["False"]
    assert error_of(c, "EVAL", "return redis.call('RG.TRIGGER', 'as')", 0).startswith(NO_ASYNC)
    assert error_of(c, "EVAL", "return redis.call('RG.TRIGGER', 'bg')", 0).startswith(
        "Creating async record is not allowed")
    assert c.ping()


def test_exit_inside_steps_does_not_stop_the_host(host):
    _, c = host
    pyexecute(c, "import sys, asyncio\n"
                 "async def aexit(r):\n"
                 "    await asyncio.sleep(0)\n"
                 "    sys.exit('async exit')\n"
                 "GB('CommandReader').map(aexit).register(trigger='aexit')\n"
                 "GB('CommandReader').map(lambda r: sys.exit('sync exit')).register(trigger='sexit')\n"
                 "GB('CommandReader').map(lambda r: sys.exit(3)).register(trigger='sexit3', mode='sync')\n")
    assert error_of(c, "RG.TRIGGER", "aexit") == "async exit"
    assert "SystemExit: sync exit" in error_of(c, "RG.TRIGGER", "sexit")
    assert "SystemExit: 3" in error_of(c, "RG.TRIGGER", "sexit3")
    # the loop thread and the pool still work
    pyexecute(c, FLOWS)
    assert trigger(c, "map", "a") == ["a!"]
