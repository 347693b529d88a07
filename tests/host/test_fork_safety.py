"""Redis forks (BGSAVE, AOF rewrite, full sync) while flows compute with
numpy: the fork must not deadlock on numpy's BLAS threads."""
import threading
import time

import pytest
import redis

from support.flows import ENGINE, host_module

FLOW = '''
import numpy as np, time
def busy(record):
    a = np.ones((400, 400))
    end = time.time() + float(record[1])
    n = 0
    while time.time() < end:
        a = (a @ a) / 400.0   # a BLAS call large enough to use BLAS threads
        n += 1
    return n
GB('CommandReader').map(busy).register(trigger='busy')
'''


def test_bgsave_while_a_flow_is_in_blas(server_factory):
    srv = server_factory(modules=[host_module(), (ENGINE, [])])
    c = srv.client()
    assert c.execute_command("RG.PYEXECUTE", FLOW) == b"OK"
    c.set("k", "v")
    result = {}

    def trigger():
        result["reply"] = srv.client().execute_command("RG.TRIGGER", "busy", "3")

    t = threading.Thread(target=trigger, daemon=True)
    t.start()
    time.sleep(0.5)  # the flow is in its matmul loop
    probe = redis.Redis(unix_socket_path=srv.sock, socket_timeout=10)
    forks = 0
    for _ in range(10):
        try:
            probe.bgsave()
            forks += 1
        except redis.ResponseError:
            pass  # a save still in progress
        assert probe.ping()  # the main thread is not stuck in fork()
        time.sleep(0.1)
    t.join(30)
    assert not t.is_alive()
    assert forks >= 1
    assert int(result["reply"][0]) > 0
    assert srv.stop() == 0
