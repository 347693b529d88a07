"""`make install PREFIX=...` lays out a tree that works wherever it is moved:
installed into one prefix, moved to another, loaded by absolute path into a
redis-server whose `dir` is elsewhere, it runs a model of every backend and a
flow that uses redisAI, and maps nothing from the build tree."""
import ast
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "engine"))
import model_cases as mc  # noqa: E402
from support.server import ROOT, RedisServer  # noqa: E402

FLOW = '''
import redisAI

async def run(record):
    runner = redisAI.createModelRunner('m:ONNX')
    redisAI.modelRunnerAddInput(runner, 'x', redisAI.getTensorFromKey('x'))
    redisAI.modelRunnerAddOutput(runner, 'y')
    y = (await redisAI.modelRunnerRunAsync(runner))[0]
    return [redisAI.__file__] + redisAI.tensorToFlatList(y)

GB('CommandReader').map(run).register(trigger='run')
'''


def test_moved_install_runs_models_and_flows(tmp_path):
    first, moved = tmp_path / "first", tmp_path / "moved"
    subprocess.run(["make", "-s", "install", "PREFIX=%s" % first, "PYTHON=%s" % sys.executable],
                   cwd=ROOT, check=True, capture_output=True, timeout=900)
    shutil.move(str(first), str(moved))
    lib = moved / "lib" / "redisai-ext"
    (tmp_path / "data").mkdir()
    srv = RedisServer(modules=[(str(lib / "redisai.so"), []), (str(lib / "redisgears_py.so"), [])],
                      dir=str(tmp_path / "data")).start()
    try:
        r = srv.client()
        for backend in mc.BACKENDS:
            case = mc.case(backend)
            assert r.execute_command(*case.store_cmd("m:" + backend)) == b"OK"
            ins = case.set_inputs(r)
            assert r.execute_command(*case.execute_cmd("m:" + backend, ins, ["out"])) == b"OK"
            case.check_outputs(r, ["out"])

        assert r.execute_command("RG.PYEXECUTE", FLOW) == b"OK"
        reply = r.execute_command("RG.TRIGGER", "run")
        where, *values = ast.literal_eval(reply[0].decode())  # one record, as str()
        assert where.startswith(str(lib / "venv")), where
        onnx = mc.case("ONNX")
        assert values == onnx.outputs[0].ravel().tolist()

        server_binary = os.readlink("/proc/%d/exe" % srv.proc.pid)  # Valkey's is in the venv
        with open("/proc/%d/maps" % srv.proc.pid) as f:
            from_build_tree = {line.split()[-1] for line in f if ROOT + "/" in line} - {server_binary}
        assert not from_build_tree
    finally:
        srv.stop()
