"""The main job: starts redis-server on loopback with the modules loaded and
runs a real round trip end to end, printing what happens."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests"))
from support.server import ENGINE, RedisServer  # noqa: E402


def main():
    srv = RedisServer(modules=[(ENGINE, [])], tcp=True).start()
    try:
        r = srv.client()
        print("redis-server pid %d on 127.0.0.1:%d, modules: %s" % (
            srv.proc.pid, srv.port, [m[b"name"].decode() for m in r.module_list()]))
        x = np.arange(6, dtype=np.float32).reshape(2, 3)
        r.execute_command("AI.TENSORSET", "demo:x", "FLOAT", 2, 3, "BLOB", x.tobytes())
        meta = r.execute_command("AI.TENSORGET", "demo:x", "META", "BLOB")
        back = np.frombuffer(meta[5], dtype=np.float32).reshape(meta[3])
        print("AI.TENSORSET/GET round trip:", back.tolist())
        assert (back == x).all()
        print("AI.TENSORGET VALUES:", r.execute_command("AI.TENSORGET", "demo:x", "VALUES"))
        print("demo OK")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
