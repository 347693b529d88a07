"""Over maxmemory, a flow's writes are refused with Redis's OOM error, as a
Lua script's are; its reads go on."""
import pytest

from support.flows import pyexecute, trigger

DO = r'''
def do(r):
    try:
        return 'ok:%%r' %% (execute(*r[1:]),)
    except Exception as e:
        return 'err:%%s' %% e
GB('CommandReader').map(do).register(trigger='do', mode=%r)
'''


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_flow_writes_refused_over_maxmemory(host, mode):
    srv, c = host
    pyexecute(c, DO % mode)
    c.set("k", "v")
    c.config_set("maxmemory", 1)  # below what the server uses already
    try:
        oom = "err:" + c.eval("local r = redis.pcall('SET', 'x', 'y'); return r['err']", 0)
        assert oom == "err:OOM command not allowed when used memory > 'maxmemory'."
        assert trigger(c, "do", "SET", "big", "x" * 5_000_000) == [oom]
        assert trigger(c, "do", "APPEND", "k", "more") == [oom]
        assert trigger(c, "do", "GET", "k") == ["ok:'v'"]
        assert trigger(c, "do", "DEL", "k") == ["ok:1"]  # not deny-oom: frees memory
        assert c.exists("big") == 0
    finally:
        c.config_set("maxmemory", 0)
    assert trigger(c, "do", "SET", "big", "x") == ["ok:'OK'"]
