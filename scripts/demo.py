"""The main job: starts redis-server on loopback with the Python host and the
engine loaded, stores a real ONNX model, registers a flow that uses `redisAI`
inside redis-server, triggers it from a client and checks the answer."""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests"))
from backends import models  # noqa: E402  (onnx.helper builders of the tests)
from support.flows import HOST  # noqa: E402
from support.server import ENGINE, RedisServer  # noqa: E402

# Runs inside redis-server.  The async step awaits the model run: the engine
# runs it on its CPU worker queue while the flow's thread is free.
FLOW = '''
import redisAI

async def predict(record):
    _, in_key, out_key = record
    x = redisAI.getTensorFromKey(in_key)
    runner = redisAI.createModelRunner('demo:linear')
    redisAI.modelRunnerAddInput(runner, 'x', x)
    redisAI.modelRunnerAddOutput(runner, 'y')
    y = (await redisAI.modelRunnerRunAsync(runner))[0]
    redisAI.setTensorInKey(out_key, y)
    log('predicted %s -> %s' % (in_key, out_key))
    return redisAI.tensorToFlatList(y)

GB('CommandReader').map(predict).register(trigger='predict')
'''


def main():
    srv = RedisServer(modules=[(HOST, []), (ENGINE, [])], tcp=True).start()
    try:
        r = srv.client()
        print("redis-server pid %d on 127.0.0.1:%d, modules: %s" % (
            srv.proc.pid, srv.port, sorted(m[b"name"].decode() for m in r.module_list())))
        print("AI.MODELSTORE demo:linear ONNX:", r.execute_command(
            "AI.MODELSTORE", "demo:linear", "ONNX", "CPU", "BLOB", models.linear()))
        print("RG.PYEXECUTE (registers the flow 'predict'):", r.execute_command("RG.PYEXECUTE", FLOW))
        x = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
        r.execute_command("AI.TENSORSET", "demo:x", "FLOAT", 2, 3, "BLOB", x.tobytes())
        reply = r.execute_command("RG.TRIGGER", "predict", "demo:x", "demo:y")
        print("RG.TRIGGER predict demo:x demo:y ->", reply)
        y = np.frombuffer(r.execute_command("AI.TENSORGET", "demo:y", "BLOB"), dtype=np.float32)
        expected = (x @ models.LINEAR_W + models.LINEAR_B).ravel()
        print("AI.TENSORGET demo:y BLOB ->", y.tolist(), "(numpy says %s)" % expected.tolist())
        assert np.allclose(y, expected), "the flow's answer differs from numpy"
        print("demo OK")
    finally:
        srv.stop()


if __name__ == "__main__":
    main()
