"""The host's life in a server: load order with the engine, bad module
arguments, MODULE UNLOAD, SHUTDOWN with flows running, and flows that raise
or never end."""
import os
import re
import socket
import threading
import time

import pytest
import redis

from support.flows import ENGINE, HOST, error_of, host_module, pyexecute, trigger
from support.server import RedisServer

TENSOR_FLOW = r'''
import redisAI
def use_ai(r):
    try:
        t = redisAI.createTensorFromValues('INT32', [2], [int(r[1]), 7])
        redisAI.setTensorInKey('t', t)
        return redisAI.tensorToFlatList(redisAI.getTensorFromKey('t'))
    except Exception as e:
        return '%s: %s' % (type(e).__name__, e)
GB('CommandReader').map(use_ai).register(trigger='ai')
'''
NOT_LOADED = "error: RedisAI is not loaded, it is not possible to use AI interface."


@pytest.mark.parametrize("order", [("host", "engine"), ("engine", "host")])
def test_load_order(start_host, order):
    _, c = start_host(order=order)
    pyexecute(c, TENSOR_FLOW)
    assert trigger(c, "ai", 5) == ["[5, 7]"]
    assert c.execute_command("AI.TENSORGET", "t", "VALUES") == [5, 7]


def test_no_engine_then_engine_loaded(start_host):
    srv, c = start_host(order=("host",))
    pyexecute(c, TENSOR_FLOW)
    assert trigger(c, "ai", 1) == [NOT_LOADED]
    assert trigger(c, "ai", 1) == [NOT_LOADED]  # every call, not just the first
    assert c.execute_command("MODULE", "LOAD", ENGINE) == "OK"
    assert trigger(c, "ai", 2) == ["[2, 7]"]  # the binding is lazy


BAD_ARGS = [
    (["THREADS", "0"], "THREADS must be 1..256, got 0"),
    (["THREADS", "many"], "THREADS must be 1..256, got many"),
    (["THREADS"], "argument THREADS needs a value"),
    (["NOSUCH", "1"], "unknown argument NOSUCH"),
    (["PYTHON_HOME", "/nonexistent"], "PYTHON_HOME /nonexistent has no Python 3.11 standard library"),
    (["RUNTIME", "/nonexistent"], "RUNTIME /nonexistent has no gears_runtime.py"),
    (["VENV", "/nonexistent"], "VENV /nonexistent has no lib/python3.11/site-packages"),
]


def test_bad_arguments_fail_module_load_cleanly(start_host):
    host_module()
    srv, c = start_host(order=("engine",))
    for args, text in BAD_ARGS:
        assert "Error loading the extension" in error_of(c, "MODULE", "LOAD", HOST, *args)
        assert srv.alive() and c.ping()
        with open(srv.logfile) as f:
            assert "rg: " + text in f.read()
    assert "unknown command" in error_of(c, "RG.PYEXECUTE", "x = 1")
    # none of the failures left the process unable to load the host
    assert c.execute_command("MODULE", "LOAD", HOST, "THREADS", "2") == "OK"
    pyexecute(c, TENSOR_FLOW)
    assert trigger(c, "ai", 3) == ["[3, 7]"]


@pytest.mark.parametrize("args,text", BAD_ARGS[:1] + BAD_ARGS[4:5])
def test_bad_arguments_at_startup(args, text):
    host_module()
    srv = RedisServer(modules=[(HOST, args), (ENGINE, [])])
    with pytest.raises(RuntimeError) as e:
        srv.start()
    assert "rg: " + text in str(e.value)
    assert srv.proc.poll() is not None  # the server exited


def test_module_unload_is_refused(host):
    srv, c = host
    pyexecute(c, "GB('CommandReader').map(lambda r: 'alive').register(trigger='t')")
    assert "Error unloading module" in error_of(c, "MODULE", "UNLOAD", "rg")
    assert trigger(c, "t") == ["alive"]
    assert "rg" in [m["name"] for m in c.module_list()]


RUNAWAY = r'''
import asyncio, time
import numpy as np
def mark(name):
    execute('SET', 'running:' + name, 1)
def spin(r):
    mark('spin')
    while True:
        pass
def matmul(r):
    mark('matmul')
    a = np.random.rand(200, 200)
    while True:
        a = (a @ a) / 200.0
def doze(r):
    mark('doze')
    time.sleep(3600)
async def adoze(r):
    mark('adoze')
    await asyncio.sleep(3600)
def fail(r):
    raise RuntimeError('flow failed')
GB('CommandReader').map(spin).register(trigger='spin')
GB('CommandReader').map(doze).register(trigger='doze')
GB('CommandReader').map(matmul).register(trigger='matmul')
GB('CommandReader').map(adoze).register(trigger='adoze')
GB('CommandReader').map(fail).register(trigger='fail')
GB('CommandReader').map(fail).register(trigger='fail_sync', mode='sync')
GB('CommandReader').map(lambda r: 'fine').register(trigger='fine')
GB('CommandReader').map(lambda r: 'fine sync').register(trigger='fine_sync', mode='sync')
'''


def fire(srv, name):
    """Sends RG.TRIGGER `name` on its own connection without waiting for the reply."""
    s = socket.socket(socket.AF_UNIX)
    s.connect(srv.sock)
    s.sendall(b"*2\r\n$10\r\nRG.TRIGGER\r\n$%d\r\n%s\r\n" % (len(name), name.encode()))
    return s


def wait_running(c, names):
    deadline = time.time() + 20
    while c.exists(*["running:" + n for n in names]) < len(names):
        assert time.time() < deadline, "flows did not start"
        time.sleep(0.02)


def test_runaway_flows_do_not_stop_the_server(start_host):
    srv, c = start_host(host_args=["THREADS", "3"])
    pyexecute(c, RUNAWAY)
    socks = [fire(srv, "spin"), fire(srv, "adoze"), fire(srv, "doze")]
    wait_running(c, ["spin", "adoze", "doze"])
    # one pool thread spins holding the GIL most of the time, one sleeps,
    # one coroutine waits on the loop: the server still answers everything
    for _ in range(50):
        assert c.ping()
    assert c.set("k", "v") and c.get("k") == "v"
    assert trigger(c, "fine") == ["fine"]  # on the free pool thread
    assert trigger(c, "fine_sync") == ["fine sync"]
    assert "flow failed" in error_of(c, "RG.TRIGGER", "fail")
    assert "flow failed" in error_of(c, "RG.TRIGGER", "fail_sync")
    assert pyexecute(c, "GB('PythonReader').run(lambda: [1, 2])") == [["1", "2"], []]
    assert srv.alive()
    for s in socks:
        s.close()


@pytest.mark.parametrize("how", ["SHUTDOWN", "SIGTERM"])
def test_shutdown_with_flows_running(start_host, how):
    srv, c = start_host(host_args=["THREADS", "3"])
    pyexecute(c, RUNAWAY)
    socks = [fire(srv, "adoze")]  # paused on the loop: gives its pool thread back
    wait_running(c, ["adoze"])
    # every pool thread busy for good; numpy's BLAS threads are busy too (at
    # exit, OpenBLAS's destructor waits for them: the process used to hang)
    socks += [fire(srv, "spin"), fire(srv, "doze"), fire(srv, "matmul")]
    wait_running(c, ["spin", "doze", "matmul"])
    socks.append(fire(srv, "fine"))  # queued behind them
    pid = srv.proc.pid
    if how == "SHUTDOWN":
        with pytest.raises(redis.ConnectionError):
            c.execute_command("SHUTDOWN", "NOSAVE")
    else:
        srv.proc.terminate()
    assert srv.proc.wait(timeout=30) == 0  # exits (generous bound: it is not a timing test)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the process is gone, threads and all
    with open(srv.logfile) as f:
        assert re.search(r"(Redis|Valkey) is now ready to exit, bye bye\.\.\.", f.read())
    for s in socks:
        s.close()


def test_flow_blocked_client_disconnects(host):
    srv, c = host
    pyexecute(c, "import time\nGB('CommandReader').map(lambda r: time.sleep(0.3) or 'late').register(trigger='slow')")
    s = fire(srv, "slow")
    s.close()  # the client leaves before the reply
    time.sleep(0.5)
    assert trigger(c, "slow") == ["late"]
    assert c.ping()


def test_many_flows_in_parallel_threads(start_host):
    """More concurrent triggers than pool threads: every client gets its reply."""
    srv, c = start_host(host_args=["THREADS", "2"])
    pyexecute(c, "import time\nGB('CommandReader').map(lambda r: time.sleep(0.05) or r[1]).register(trigger='t')")
    results = {}

    def client(i):
        cl = srv.client(decode_responses=True)
        results[i] = trigger(cl, "t", i)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: [str(i)] for i in range(20)}
