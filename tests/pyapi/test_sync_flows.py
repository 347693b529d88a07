"""Sync flows that await engine runs (spec §7, §9): the coroutine begins on
Redis's main thread and, while it awaits only the runs it started, goes on
there after each await (gears_loop.MainDriver); anything else it awaits
hands the rest of it to the loop thread.  The plain steps after an await run
in the background (as async_local), as in RedisGears.  Either way the client gets the
right values, failures become the same errors, and writes made after an
await are replicated and reach the AOF."""
import threading

from support.flows import host_module, pyexecute, trigger
from support.runner_flows import onnx_model
from support.server import ENGINE

WHERE = r'''
import asyncio, threading
import redisAI as ai

def where():
    t = threading.current_thread()
    if t is threading.main_thread():
        return 'main'
    return 'loop' if t.name == 'gears-loop' else 'pool'

def runner(key):
    r = ai.createModelRunner('lin{1}')
    ai.modelRunnerAddInput(r, 'x', ai.getTensorFromKey(key))
    ai.modelRunnerAddOutput(r, 'y')
    return r

async def run_and_store(rec):
    seen = [where()]
    out = await ai.modelRunnerRunAsync(runner('x{1}'))
    seen.append(where())
    out = await ai.modelRunnerRunAsync(runner('x{1}'))  # a second await, still here
    seen.append(where())
    ai.setTensorInKey(rec[1], out[0])
    execute('SET', rec[1] + ':done', 'yes')
    return str(seen)

async def gather_two(rec):
    seen = [where()]
    a, b = await asyncio.gather(ai.modelRunnerRunAsync(runner('x{1}')),
                                ai.modelRunnerRunAsync(runner('x{1}')))
    seen.append(where())
    return str(seen + ai.tensorToFlatList(a[0]) + ai.tensorToFlatList(b[0]))

async def run_after_sleep(rec):
    f = ai.modelRunnerRunAsync(runner('x{1}'))   # made on the main thread
    await asyncio.sleep(0.01)                    # the loop takes over here
    out = await f                                # resolved on main, awaited on the loop
    return str([where()] + ai.tensorToFlatList(out[0]))

async def failing(rec):
    r = ai.createModelRunner('lin{1}')
    ai.modelRunnerAddInput(r, 'x', ai.createTensorFromValues('FLOAT', [1, 2], [1.0, 2.0]))
    ai.modelRunnerAddOutput(r, 'y')
    try:
        await ai.modelRunnerRunAsync(r)
    except Exception as e:
        return 'caught on %s: %s' % (where(), type(e).__name__)
    return 'no error'

async def awaits(rec):
    out = await ai.modelRunnerRunAsync(runner('x{1}'))
    return [where()] + ai.tensorToFlatList(out[0])

for name in ('run_and_store', 'gather_two', 'run_after_sleep', 'failing'):
    GB('CommandReader').map(globals()[name]).register(trigger=name, mode='sync')
GB('CommandReader').map(awaits).map(lambda r: r + [where()]).register(trigger='then_plain', mode='sync')
GB('CommandReader').map(lambda r: [where()]).map(lambda r: r + [where()])\
    .register(trigger='plain_only', mode='sync')
'''
LINEAR_Y = [22.5, 27.0]  # tests/backends/models.py linear, x = [1, 2, 3]


def values(c, key):
    return [float(v) for v in c.execute_command("AI.TENSORGET", key, "VALUES")]


def start(server_factory, **kw):
    srv = server_factory(modules=[host_module(), (ENGINE, [])], **kw)
    c = srv.client(decode_responses=True)
    assert c.execute_command("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", onnx_model("linear")) == "OK"
    assert c.execute_command("AI.TENSORSET", "x{1}", "FLOAT", 1, 3, "VALUES", 1, 2, 3) == "OK"
    pyexecute(c, WHERE)
    return srv, c


def test_awaits_of_own_runs_stay_on_the_main_thread(server_factory):
    _, c = start(server_factory)
    assert trigger(c, "run_and_store", "y{1}") == [str(["main", "main", "main"])]
    assert values(c, "y{1}") == LINEAR_Y and c.get("y{1}:done") == "yes"


def test_plain_steps_after_an_await_go_on_in_the_background(server_factory):
    """As in RedisGears: once paused by an await, a sync execution goes on as
    async_local; with no await, every step stays on the main thread."""
    _, c = start(server_factory)
    assert trigger(c, "then_plain") == [str(["main"] + LINEAR_Y + ["pool"])]
    assert trigger(c, "plain_only") == [str(["main", "main"])]


def test_other_awaits_go_on_on_the_loop_thread(server_factory):
    _, c = start(server_factory)
    assert trigger(c, "gather_two") == [str(["main", "loop"] + LINEAR_Y + LINEAR_Y)]
    assert trigger(c, "run_after_sleep") == [str(["loop"] + LINEAR_Y)]


def test_a_failed_run_raises_where_it_was_awaited(server_factory):
    _, c = start(server_factory)
    assert trigger(c, "failing") == ["caught on main: Exception"]
    assert c.ping()


def test_concurrent_clients_each_get_their_own_result(server_factory):
    srv, c = start(server_factory)
    errors = []

    def client(i):
        ci = srv.client(decode_responses=True)
        try:
            for j in range(10):
                key = "out{1}:%d:%d" % (i, j)
                assert trigger(ci, "run_and_store", key) == [str(["main", "main", "main"])]
        except Exception as e:  # reported below: an assert in a thread does not fail the test
            errors.append(repr(e))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert all(values(c, "out{1}:%d:%d" % (i, j)) == LINEAR_Y for i in range(20) for j in range(10))


def test_writes_after_an_await_reach_the_replica_and_the_aof(server_factory):
    srv, c = start(server_factory, tcp=True, config=[("appendonly", "yes"), ("appendfsync", "always")])
    rep = server_factory(modules=[host_module(), (ENGINE, [])],
                         config=[("replicaof", "127.0.0.1", srv.port)])
    rc = rep.client(decode_responses=True)
    rep.wait_synced()
    assert trigger(c, "run_and_store", "y{1}") == [str(["main", "main", "main"])]
    assert c.execute_command("WAIT", 1, 10000) == 1
    assert values(rc, "y{1}") == LINEAR_Y and rc.get("y{1}:done") == "yes"
    srv.restart()  # from the AOF alone
    c = srv.client(decode_responses=True)
    assert values(c, "y{1}") == LINEAR_Y and c.get("y{1}:done") == "yes"


SCRIPT_AND_DAG = r'''
import threading
import redisAI as ai

async def script_then_dag(rec):
    seen = [threading.current_thread() is threading.main_thread()]
    r = ai.createScriptRunner('my_script{1}', 'multiply')
    ai.scriptRunnerAddInput(r, ai.getTensorFromKey('a{1}'))
    ai.scriptRunnerAddInput(r, ai.getTensorFromKey('b{1}'))
    ai.scriptRunnerAddOutput(r)
    product = (await ai.scriptRunnerRunAsync(r))[0]
    seen.append(threading.current_thread() is threading.main_thread())
    d = ai.createDAGRunner()
    d.Input('p', product)
    d.ScriptRun(name='my_script{1}', func='pair', inputs=['p', 'p'], outputs=['sum', 'diff'])
    d.TensorGet('sum')
    total = (await d.Run())[0]
    seen.append(threading.current_thread() is threading.main_thread())
    ai.setTensorInKey('total{1}', total)
    return str(seen + ai.tensorToFlatList(product) + ai.tensorToFlatList(total))

GB('CommandReader').map(script_then_dag).register(trigger='script_then_dag', mode='sync')
'''


def test_script_and_dag_runs_are_delivered_on_the_main_thread(server_factory):
    """The outcomes of script and DAG runs that a sync flow awaits reach it on
    the main thread too (redisAI hands them over in C), with their values."""
    from support.runner_flows import set_ab, store_script
    srv = server_factory(modules=[host_module(), (ENGINE, [])])
    raw = srv.client()
    store_script(raw)
    set_ab(raw)
    c = srv.client(decode_responses=True)
    pyexecute(c, SCRIPT_AND_DAG)
    product = [2.0, 6.0, 6.0, 12.0]  # a * b, the spec's inputs
    assert trigger(c, "script_then_dag") == [str([True, True, True] + product + [2 * v for v in product])]
    assert values(c, "total{1}") == [2 * v for v in product]
