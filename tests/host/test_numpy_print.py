"""numpy 1.x's text form inside flows (issue 18, item 7): with the host's
NUMPY_LEGACY_PRINT (on by default) str([np.float32(1.5)]) is '[1.5]' on
every thread a flow runs on, as flows written for RedisGears store it."""
import pytest

from support.flows import pyexecute, trigger

FLOWS = r'''
import asyncio
import numpy as np
from threading import Thread

def text(r):
    return str([np.float32(1.5), np.int64(2)])

async def text_async(r):
    await asyncio.sleep(0)
    return text(r)

def in_thread(r):
    out = []
    t = Thread(target=lambda: out.append(text(r)))
    t.start()
    t.join()
    return out[0]

GB('CommandReader').map(text).register(trigger='sync', mode='sync')
GB('CommandReader').map(text).register(trigger='pool')
GB('CommandReader').map(text_async).register(trigger='loop')
GB('CommandReader').map(in_thread).register(trigger='thread')
'''


def test_numpy_prints_as_1x_by_default(host):
    _, c = host
    # numpy is first imported by the script, on the main thread; flows run elsewhere too
    assert pyexecute(c, FLOWS) == "OK"
    for name in ("sync", "pool", "loop", "thread"):
        assert trigger(c, name) == ["[1.5, 2]"], name
    assert pyexecute(c, "GB('ShardsIDReader').map(lambda x: str([__import__('numpy').float32(1.5)])).run()") == \
        [["[1.5]"], []]


@pytest.mark.parametrize("first", ["pool", "main"])
def test_whichever_thread_imports_numpy_first(host, first):
    _, c = host
    code = "GB('ShardsIDReader').map(lambda x: str([__import__('numpy').float32(1.5)])).run()"
    if first == "main":
        code = "import numpy\n" + code
    assert pyexecute(c, code) == [["[1.5]"], []]


def test_off_gives_numpy_2_printing(start_host):
    _, c = start_host(host_args=["NUMPY_LEGACY_PRINT", "0"])
    assert pyexecute(c, FLOWS) == "OK"
    assert trigger(c, "pool") == ["[np.float32(1.5), np.int64(2)]"]
