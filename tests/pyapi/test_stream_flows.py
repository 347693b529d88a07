"""The shape of RedisGears' video demos (spec §8.3): a StreamReader flow
whose `async def` step runs a model on each new stream entry and appends
the answer to another stream, in the default mode and in sync."""
import time

import pytest

from support.flows import host_module, pyexecute
from support.runner_flows import onnx_model
from support.server import ENGINE

FLOW = r'''
import redisAI

async def classify(r):
    x = [float(v) for v in r['value']['x'].split(',')]
    runner = redisAI.createModelRunner('lin{1}')
    redisAI.modelRunnerAddInput(runner, 'x', redisAI.createTensorFromValues('FLOAT', [1, 3], x))
    redisAI.modelRunnerAddOutput(runner, 'y')
    out = await redisAI.modelRunnerRunAsync(runner)
    execute('XADD', 'results', '*', 'in', r['id'], 'y', str(redisAI.tensorToFlatList(out[0])))
    return r['id']

GB('StreamReader').map(classify).register('camera:0', mode=MODE)
'''


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_each_frame_gets_its_answer(server_factory, mode):
    srv = server_factory(modules=[host_module(), (ENGINE, [])])
    c = srv.client(decode_responses=True)
    assert c.execute_command("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", onnx_model("linear")) == "OK"
    pyexecute(c, FLOW.replace("MODE", repr(mode)))
    ids = [c.xadd("camera:0", {"x": "1,2,3"}) for _ in range(10)]
    deadline = time.time() + 20
    while c.xlen("results") < 10:
        assert time.time() < deadline, c.xlen("results")
        time.sleep(0.01)
    answers = {f["in"]: f["y"] for _, f in c.xrange("results")}
    assert answers == {i: "[22.5, 27.0]" for i in ids}
    deadline = time.time() + 10
    while c.xlen("camera:0"):  # trimmed once processed
        assert time.time() < deadline
        time.sleep(0.01)
