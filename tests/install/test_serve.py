"""scripts/serve.sh and the README's walk-through: the server a user keeps,
started with its data directory elsewhere, then examples/make_linear_onnx.py
and examples/flow.py sent as the README shows."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import redis

from support.server import ROOT

SERVE = os.path.join(ROOT, "scripts", "serve.sh")
EXAMPLES = os.path.join(ROOT, "examples")


def test_serve_runs_the_walk_through(tmp_path):
    sock, data = str(tmp_path / "r.sock"), tmp_path / "data"
    proc = subprocess.Popen([SERVE, "--unix", sock, "--dir", str(data), "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        c = redis.Redis(unix_socket_path=sock)
        deadline = time.time() + 30
        while True:
            try:
                if c.ping():
                    break
            except (redis.ConnectionError, FileNotFoundError):
                assert proc.poll() is None and time.time() < deadline, proc.stderr.read()
                time.sleep(0.05)
        assert sorted(m[b"name"] for m in c.module_list()) == [b"ai", b"rg"]
        assert c.config_get("dir")["dir"] == str(data)

        model = tmp_path / "linear.onnx"
        subprocess.run([sys.executable, os.path.join(EXAMPLES, "make_linear_onnx.py"), str(model)],
                       check=True, capture_output=True)
        assert c.execute_command("AI.MODELSTORE", "demo:linear", "ONNX", "CPU", "BLOB",
                                 model.read_bytes()) == b"OK"
        with open(os.path.join(EXAMPLES, "flow.py")) as f:
            assert c.execute_command("RG.PYEXECUTE", f.read()) == b"OK"
        c.execute_command("AI.TENSORSET", "demo:x", "FLOAT", 2, 3, "VALUES", 1, 2, 3, 4, 5, 6)
        reply = c.execute_command("RG.TRIGGER", "predict", "demo:x", "demo:y")
        x = np.arange(1, 7, dtype=np.float32).reshape(2, 3)
        w = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.float32)
        expected = (x @ w + np.array([0.5, -1.0], dtype=np.float32)).ravel()
        assert reply == [str(expected.tolist()).encode()]  # one record, as str()
    finally:
        os.kill(proc.pid, signal.SIGTERM)  # serve.sh execs redis-server: the same PID
        proc.wait(timeout=30)
    assert "redis-cli -s %s" % sock in proc.stderr.read()
