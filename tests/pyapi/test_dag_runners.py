"""redisAI DAG runner inside flows (spec §3 #21, §4.4, §5.3, §7, §8.1
examples 3-7): the spec's example flows, every method's checks with their
exact texts, the original's defects fixed (duplicate Input, failed Run),
single use, and one DAG flow triggered 100 times concurrently."""
import threading

import pytest

from support.flows import gears_error, ok
from support.runner_flows import (aev, aok, info, onnx_model, register_aev, set_ab, shared_server,
                                  store_script, store_tf_mul, values)

R = "import redisAI as ai\n"
FLAT = "[ai.tensorToFlatList(x) for x in await d.Run()]"


shared = pytest.fixture(scope="module")(shared_server)


@pytest.fixture
def dg(start_ai):
    srv, c = start_ai()
    register_aev(c)
    store_tf_mul(c)
    store_script(c)
    set_ab(c)
    return srv, c


def run_flat(c, build):
    """Builds DAG `d` with `build` (code), runs it, returns the flat outputs."""
    return aok(c, R + "d = ai.createDAGRunner()\n" + build + "\nasync def main():\n    return " + FLAT)


SPEC_FLOWS = '''
import redisAI

async def DAGRun_TensorSetTensorGet(record):
    tensor = redisAI.getTensorFromKey('a{1}')
    DAGRunner = redisAI.createDAGRunner()
    DAGRunner.TensorSet('tensor_a', tensor)
    DAGRunner.TensorGet('tensor_a')
    res = await DAGRunner.Run()
    redisAI.setTensorInKey('res1{1}', res[0])
    return "DAGRun1_OK"

async def DAGRun_ModelRun(record):
    tensors = redisAI.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])
    DAGRunner = redisAI.createDAGRunner()
    DAGRunner.Input('tensor_a', tensors[0])
    DAGRunner.Input('tensor_b', tensors[1])
    DAGRunner.ModelRun(name='my_model{1}', inputs=['tensor_a', 'tensor_b'], outputs=['tensor_c'])
    DAGRunner.TensorGet('tensor_c')
    res = await DAGRunner.Run()
    redisAI.setTensorInKey('res2{1}', res[0])
    return "DAGRun2_OK"

async def DAGRun_ScriptRun(record):
    tensors = redisAI.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])
    DAGRunner = redisAI.createDAGRunner()
    DAGRunner.Input('tensor_a', tensors[0])
    DAGRunner.Input('tensor_b', tensors[1])
    DAGRunner.ScriptRun(name='my_script{1}', func='multiply', inputs=['tensor_a', 'tensor_b'],
                        outputs=['tensor_c'])
    DAGRunner.TensorGet('tensor_c')
    res = await DAGRunner.Run()
    redisAI.setTensorInKey('res3{1}', res[0])
    return "DAGRun3_OK"

async def DAGRun_AddOpsFromString(record):
    tensors = redisAI.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])
    DAGRunner = redisAI.createDAGRunner()
    DAGRunner.Input('tensor_a', tensors[0]).Input('tensor_b', tensors[1])
    DAGRunner.OpsFromString('|> AI.MODELEXECUTE my_model{1} INPUTS 2 tensor_a tensor_b OUTPUTS 1 tensor_c |> AI.TENSORGET tensor_c')
    res = await DAGRunner.Run()
    redisAI.setTensorInKey('res4{1}', res[0])
    return "DAGRun4_OK"

async def DAGRun_ScriptRunError(record):
    tensors = redisAI.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])
    DAGRunner = redisAI.createDAGRunner()
    DAGRunner.Input('tensor_a', tensors[0])
    DAGRunner.Input('tensor_b', tensors[1])
    DAGRunner.ScriptRun(name='my_script{1}', func='no_func', inputs=['tensor_a', 'tensor_b'],
                        outputs=['tensor_c'])
    DAGRunner.TensorGet('tensor_c')
    try:
        res = await DAGRunner.Run()
    except Exception as e:
        return e

GB("CommandReader").map(DAGRun_TensorSetTensorGet).register(trigger="DAGRun1")
GB("CommandReader").map(DAGRun_ModelRun).register(trigger="DAGRun2")
GB("CommandReader").map(DAGRun_ScriptRun).register(trigger="DAGRun3")
GB("CommandReader").map(DAGRun_AddOpsFromString).register(trigger="DAGRun4")
GB("CommandReader").map(DAGRun_ScriptRunError).register(trigger="DAGRun_Error")
'''


def test_spec_example_flows(dg):
    """Spec §8.1 examples 3-7."""
    _, c = dg
    assert c.execute_command("RG.PYEXECUTE", SPEC_FLOWS) == b"OK"
    assert c.execute_command("RG.TRIGGER", "DAGRun1") == [b"DAGRun1_OK"]
    assert values(c, "res1{1}") == [1, 2, 3, 4]
    for n in (2, 3, 4):
        assert c.execute_command("RG.TRIGGER", "DAGRun%d" % n) == [b"DAGRun%d_OK" % n]
        assert values(c, "res%d{1}" % n) == [2, 6, 6, 12]
    assert c.execute_command("RG.TRIGGER", "DAGRun_Error") == [b"Function does not exist: no_func"]


def test_surface(dg):
    _, c = dg
    assert ok(c, R + "d = ai.createDAGRunner(1, 2)\n"
                     "result = (type(d).__module__, type(d).__name__, str(d), hasattr(d, '__dict__'),"
                     " ai.createDAGRunner.__doc__)") == \
        ("redisgears", "PyDAGRunner", "PyDAGRunner to str", False, "create an empty DAG runner")
    assert ok(c, R + "result = [getattr(ai.PyDAGRunner, m).__doc__ for m in"
                     " ('Input', 'TensorGet', 'TensorSet', 'ModelRun', 'ScriptRun', 'OpsFromString', 'Run')]") == [
        "load an input tensor to the DAG under a specific name",
        "output a tensor within the DAG context having a specific name",
        "load a tensor into the DAG context having a specific name",
        "add a model run operation to the DAG", "add a script run operation to the DAG",
        "add operations to the DAG by using the redis DAGRUN command syntax",
        "start the asynchronous execution of the DAG"]
    # Every builder method returns the runner itself.
    assert ok(c, R + "d = ai.createDAGRunner()\nt = ai.getTensorFromKey('a{1}')\n"
                     "result = [x is d for x in (d.Input('a', t), d.TensorSet('b', t), d.TensorGet('a'),"
                     " d.ModelRun(name='my_model{1}', inputs=['a', 'b'], outputs=['c']),"
                     " d.ScriptRun(name='my_script{1}', func='multiply', inputs=['a', 'b'], outputs=['e']),"
                     " d.OpsFromString('|> AI.TENSORGET c'))]") == [True] * 6


def test_chained_ops_and_outputs_in_order(dg):
    _, c = dg
    got = run_flat(c, "ta, tb = ai.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])\n"
                      "d.Input('a', ta).TensorSet('b', tb)"
                      ".ModelRun('ignored', name='my_model{1}', inputs=['a', 'b'], outputs=['c'])"
                      ".ScriptRun(name='my_script{1}', func='pair', inputs=('c', 'a'), outputs=['s', 'p'])"
                      ".TensorGet('p').TensorGet('a').TensorGet('s')")
    assert got == [[1, 4, 3, 8], [1, 2, 3, 4], [3, 8, 9, 16]]


def test_onnx_model_op_and_ops_from_string_tensorset(dg):
    _, c = dg
    c.execute_command("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", onnx_model("linear"))
    got = run_flat(c, "d.OpsFromString('|> AI.TENSORSET x FLOAT 1 3 VALUES 1 2 3')\n"
                      "d.ModelRun(name='lin{1}', inputs=['x'], outputs=['y']).TensorGet('y')")
    assert got == [[22.5, 27.0]]


def test_string_output_is_refused_at_use(dg):
    # A STRING tensor out of a DAG has no key to ask its dtype from; the
    # redisAI side tells it by its bytes and refuses it like a STRING key.
    _, c = dg
    assert aok(c, R + "d = ai.createDAGRunner()\n"
                      "d.OpsFromString('|> AI.TENSORSET s STRING 2 VALUES ab cd |> AI.TENSORGET s')\n"
                      "async def main():\n"
                      "    out = await d.Run()\n"
                      "    try:\n        ai.tensorToFlatList(out[0])\n"
                      "    except redisgears.GearsError as e:\n        return str(e)") == \
        "STRING tensors are not supported by the redisAI Python API"


def test_script_op_without_inputs_or_outputs_lists(dg):
    _, c = dg
    # inputs/outputs are optional for ScriptRun; `count` sees no tensors.
    got = run_flat(c, "d.ScriptRun(name='my_script{1}', func='count', outputs=['n']).TensorGet('n')")
    assert got == [[0, 0, 0]]


def test_duplicate_input_is_an_error(dg):
    _, c = dg
    assert gears_error(c, R + "t = ai.getTensorFromKey('a{1}')\nd = ai.createDAGRunner()\n"
                              "d.Input('x', t)\nd.Input('x', t)") == "tensor name already loaded in DAG: x"
    # The first binding is kept.
    assert run_flat(c, "ta, tb = ai.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])\nd.Input('x', ta)\n"
                       "try:\n    d.Input('x', tb)\nexcept redisgears.GearsError:\n    pass\n"
                       "d.TensorGet('x')") == [[1, 2, 3, 4]]


def test_execution_errors_come_through_the_future(dg):
    _, c = dg
    got = aev(c, R + "d = ai.createDAGRunner().Input('a', ai.getTensorFromKey('a{1}'))\n"
                     "d.ScriptRun(name='my_script{1}', func='fail', inputs=['a'], outputs=['b']).TensorGet('b')\n"
                     "async def main():\n    return await d.Run()")
    assert got.startswith("EX:Exception:") and "shape '[3]' is invalid for input of size 4" in got
    # A model op fed the wrong dtype: TensorFlow's error, as a plain Exception.
    got = aok(c, R + "import numpy as np\n"
                     "d = ai.createDAGRunner().Input('a', ai.getTensorFromKey('a{1}'))\n"
                     "d.Input('i', ai.createTensorFromBlob('INT32', [2, 2], np.arange(4, dtype=np.int32)))\n"
                     "d.ModelRun(name='my_model{1}', inputs=['a', 'i'], outputs=['c']).TensorGet('c')\n"
                     "async def main():\n"
                     "    try:\n        await d.Run()\n"
                     "    except Exception as e:\n        return type(e).__name__, str(e)")
    assert got == ("Exception", "Expects arg[1] to be float but int32 is provided")


def test_model_op_in_a_dag_is_counted(dg):
    _, c = dg
    run_flat(c, "ta, tb = ai.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])\nd.Input('a', ta).Input('b', tb)"
                ".ModelRun(name='my_model{1}', inputs=['a', 'b'], outputs=['c']).TensorGet('c')")
    assert info(c, "my_model{1}")["calls"] == 1


RUN_SYNC_ERRORS = [
    ("", "ERR DAG is empty"),
    ("d.Input('a', t)", "ERR DAG is empty"),
    ("d.TensorGet('nope')", "ERR INPUT key cannot be found in DAG"),
    ("d.Input('a', t).TensorGet('a').ModelRun(name='my_model{1}', inputs=['a', 'x'], outputs=['c'])",
     "ERR INPUT key cannot be found in DAG"),
]


@pytest.mark.parametrize("build,msg", RUN_SYNC_ERRORS)
def test_run_sync_errors_consume_the_dag(shared, build, msg):
    _, c = shared
    code = R + "t = ai.getTensorFromKey('a{1}')\nd = ai.createDAGRunner()\n" + build + "\n"
    assert aev(c, code + "async def main():\n    return await d.Run()") == "GE:" + msg
    assert aev(c, code + "async def main():\n"
                         "    try:\n        d.Run()\n    except redisgears.GearsError:\n        pass\n"
                         "    d.TensorGet('a')") == "GE:PyDAGRunner is invalid"


@pytest.mark.parametrize("call", [
    "Input('a', t)", "TensorSet('a', t)", "TensorGet('a')", "OpsFromString('|> AI.TENSORGET a')",
    "ModelRun(name='my_model{1}', inputs=['a', 'a'], outputs=['c'])",
    "ScriptRun(name='my_script{1}', func='multiply')", "Run()"])
def test_single_use(shared, call):
    _, c = shared
    assert aev(c, R + "t = ai.getTensorFromKey('a{1}')\n"
                      "d = ai.createDAGRunner().TensorSet('a', t).TensorGet('a')\n"
                      "async def main():\n    await d.Run()\n    d." + call) == "GE:PyDAGRunner is invalid"
    assert gears_error(c, R + "t = ai.getTensorFromKey('a{1}')\nai.PyDAGRunner()." + call) == \
        "PyDAGRunner is invalid"


METHOD_ERRORS = [
    ("ai.PyDAGRunner.Input(5, 'a', t)", "Given argument is not of type DAGRunner"),
    ("ai.PyDAGRunner.Run('d')", "Given argument is not of type DAGRunner"),
    ("d.Input('a')", "Wrong number of args to DAG load input"),
    ("d.Input('a', t, t)", "Wrong number of args to DAG load input"),
    ("d.Input(1, t)", "Tensor name argument must be a string"),
    ("d.Input('a', 1)", "Given argument is not of type PyTensorType"),
    ("d.Input('a', ai.PyTensor())", "PyTensor is invalid"),
    ("d.TensorSet(t)", "Wrong number of args to DAG load input"),
    ("d.TensorSet(b'a', t)", "Tensor name argument must be a string"),
    ("d.TensorSet('a', [1.0])", "Given argument is not of type PyTensorType"),
    ("d.TensorGet()", "Wrong number of args to TensorSet op"),
    ("d.TensorGet('a', 'b')", "Wrong number of args to TensorSet op"),
    ("d.TensorGet(None)", "Tensor name argument must be a string"),
    # ModelRun: keywords only, checks in the spec's order.
    ("d.ModelRun('my_model{1}', ['a'], ['c'])", "Model key name was not given"),
    ("d.ModelRun(name=1, inputs=5, outputs=5)", "Model name argument must be a string"),
    ("d.ModelRun(name='missing{1}', inputs=5)", "ERR model key is empty"),
    ("d.ModelRun(name='a{1}', inputs=5)", "WRONGTYPE Operation against a key holding the wrong kind of value"),
    ("d.ModelRun(name='my_model{1}', outputs=5)", "Must specify model inputs"),
    ("d.ModelRun(name='my_model{1}', inputs=5, outputs=5)", "Model inputs must be iterable"),
    ("d.ModelRun(name='my_model{1}', inputs=None)", "Model inputs must be iterable"),
    ("d.ModelRun(name='my_model{1}', inputs=['a', 1], outputs=5)", "Input name must be a string"),
    ("d.ModelRun(name='my_model{1}', inputs=['a', 'b'])", "Must specify model outputs"),
    ("d.ModelRun(name='my_model{1}', inputs=['a', 'b'], outputs=7)", "Model outputs must be iterable"),
    ("d.ModelRun(name='my_model{1}', inputs=['a', 'b'], outputs=[b'c'])", "Output name must be a string"),
    ("d.ModelRun(name='my_model{1}', inputs=['a'], outputs=['c'])",
     "Number of keys given as INPUTS does not match model definition"),
    ("d.ModelRun(name='my_model{1}', inputs=['a', 'b'], outputs=['c', 'd'])",
     "Number of keys given as OUTPUTS does not match model definition"),
    # ScriptRun
    ("d.ScriptRun('my_script{1}', 'multiply')", "Script key name was not given"),
    ("d.ScriptRun(name=2, func=3)", "Script name argument must be a string"),
    ("d.ScriptRun(name='my_script{1}')", "Function name was not given"),
    ("d.ScriptRun(name='my_script{1}', func=3)", "Function name argument must be a string"),
    ("d.ScriptRun(name='missing{1}', func='multiply', inputs=5)", "ERR script key is empty"),
    ("d.ScriptRun(name='my_model{1}', func='multiply', inputs=5)",
     "WRONGTYPE Operation against a key holding the wrong kind of value"),
    ("d.ScriptRun(name='my_script{1}', func='multiply', inputs=5)", "Script inputs must be iterable"),
    ("d.ScriptRun(name='my_script{1}', func='multiply', inputs=[1], outputs=5)", "Input name must be a string"),
    ("d.ScriptRun(name='my_script{1}', func='multiply', inputs=['a'], outputs=5)",
     "Script outputs must be iterable"),
    ("d.ScriptRun(name='my_script{1}', func='multiply', outputs=['a', None])", "Output name must be a string"),
    # OpsFromString: our texts, then the engine's, verbatim.
    ("d.OpsFromString()", "Wrong number of args"),
    ("d.OpsFromString('a', 'b')", "Wrong number of args"),
    ("d.OpsFromString(b'|> AI.TENSORGET a')", "ops argument must be a string"),
    ("d.OpsFromString('AI.TENSORGET a')", "DAG op should start with: '|>' "),
    ("d.OpsFromString('|> PING')", "Unsupported command within DAG"),
    ("d.OpsFromString('|> AI.MODELRUN my_model{1} INPUTS a b OUTPUTS c')",
     "Deprecated AI.MODELRUN cannot be used in AI.DAGEXECUTE command"),
    ("d.OpsFromString('|> AI.MODELEXECUTE missing{1} INPUTS 1 a OUTPUTS 1 c')", "ERR model key is empty"),
    ("d.OpsFromString('|> AI.MODELEXECUTE my_model{1} INPUTS 2 a b OUTPUTS 1 c TIMEOUT 5')",
     "ERR TIMEOUT not allowed within a DAG command"),
]


@pytest.mark.parametrize("call,msg", METHOD_ERRORS)
def test_method_errors(shared, call, msg):
    _, c = shared
    assert gears_error(c, R + "t = ai.getTensorFromKey('a{1}')\nd = ai.createDAGRunner()\n" + call) == msg


def test_failed_ops_leave_the_dag_usable(dg):
    """A failed op adds nothing (OpsFromString: all ops or none) and the DAG
    can still be completed and run."""
    _, c = dg
    got = run_flat(c, "d.Input('a', ai.getTensorFromKey('a{1}'))\n"
                      "for bad in (lambda: d.OpsFromString('|> AI.TENSORGET a |> PING'),\n"
                      "            lambda: d.ModelRun(name='my_model{1}', inputs=['a'], outputs=['c']),\n"
                      "            lambda: d.ScriptRun(name='my_script{1}', func='multiply', inputs=[1])):\n"
                      "    try:\n        bad()\n    except redisgears.GearsError:\n        pass\n"
                      "d.TensorGet('a')")
    assert got == [[1, 2, 3, 4]]


DAG_FLOW = '''
import redisAI

async def dag_mul(record):
    # Each trigger brings its own factor: the result must be its own.
    k = float(record[1])
    ta = redisAI.createTensorFromValues('FLOAT', [2, 2], [k, k, k, k])
    tb = redisAI.getTensorFromKey('b{1}')
    d = redisAI.createDAGRunner()
    d.Input('a', ta).Input('b', tb)
    d.ModelRun(name='my_model{1}', inputs=['a', 'b'], outputs=['c'])
    d.ScriptRun(name='my_script{1}', func='multiply', inputs=['c', 'b'], outputs=['e'])
    d.TensorGet('e')
    res = await d.Run()
    return redisAI.tensorToFlatList(res[0])

GB("CommandReader").map(dag_mul).register(trigger="dag_mul")
'''


def test_100_concurrent_dag_flows(dg):
    srv, c = dg
    assert c.execute_command("RG.PYEXECUTE", DAG_FLOW) == b"OK"
    results, errors = {}, []

    def client(k):
        cc = srv.client()
        try:
            results[k] = cc.execute_command("RG.TRIGGER", "dag_mul", k)
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    b = [2, 3, 2, 3]
    for k in range(100):
        assert results[k] == [repr([float(k * x * x) for x in b]).encode()], (k, results[k])
    assert info(c, "my_model{1}")["calls"] == 100
    assert c.ping()


def test_a_dag_runner_shared_by_threads(dg):
    """Threads sharing one DAG runner: their ops are serialized (OpsFromString
    too, which needs the Redis lock while a thread holding that lock adds
    ops), and a run takes the DAG from them; the server lives."""
    srv, c = dg
    flow = R + ("import threading\n"
                "from redisgears import atomic\n"
                "ta = ai.getTensorFromKey('a{1}')\n"
                "def add(d, n, errors, locked):\n"
                "    try:\n"
                "        for _ in range(n):\n"
                "            if locked:\n"
                "                with atomic():\n"
                "                    d.TensorSet('t', ta)\n"
                "            else:\n"
                "                d.OpsFromString('|> AI.TENSORSET x FLOAT 1 3 VALUES 1 2 3')\n"
                "            d.TensorGet('t')\n"
                "    except Exception as e:\n"
                "        errors.append(str(e))\n"
                "def adders(d, n, errors):\n"
                "    return [threading.Thread(target=add, args=(d, n, errors, i % 2)) for i in range(4)]\n"
                "async def main():\n"
                "    errors, lengths = [], set()\n"
                "    for _ in range(10):\n"
                "        d = ai.createDAGRunner()\n"
                "        d.TensorSet('t', ta)\n"
                "        threads = adders(d, 200, errors)\n"
                "        [th.start() for th in threads]\n"
                "        [th.join() for th in threads]\n"
                "        lengths.add(len(await d.Run()))\n"
                "    late = []\n"
                "    for _ in range(10):\n"
                "        d = ai.createDAGRunner()\n"
                "        d.TensorSet('t', ta)\n"
                "        threads = adders(d, 10**9, late)\n"
                "        [th.start() for th in threads]\n"
                "        await d.Run()\n"
                "        [th.join() for th in threads]\n"
                "    return errors, sorted(lengths), set(late), len(late)\n")
    errors, lengths, late, n_late = aok(c, flow)
    assert errors == [] and lengths == [800]  # every TensorGet of every thread
    assert late == {"PyDAGRunner is invalid"} and n_late == 40
    assert srv.alive()


def test_failed_and_dropped_dags_give_their_memory_back(dg):
    """A DAG whose Run() fails at once is freed (the original leaked it), and
    so is a DAG that is never run.  Each holds a fresh 1 MB tensor: a leak
    would grow used_memory by ~400 MB."""
    _, c = dg
    code = R + ("blob = bytes(1 << 20)\n"
                "for i in range(200):\n"
                "    d = ai.createDAGRunner().Input('x', ai.createTensorFromBlob('UINT8', [1 << 20], blob))\n"
                "    try:\n        d.Run()\n    except redisgears.GearsError as e:\n        msg = str(e)\n"
                "    ai.createDAGRunner().Input('x', ai.createTensorFromBlob('UINT8', [1 << 20], blob))\n"
                "result = msg")
    ok(c, code)  # warm-up: allocator arenas, code paths
    before = c.info("memory")["used_memory"]
    assert ok(c, code) == "ERR DAG is empty"
    assert c.info("memory")["used_memory"] - before < 50 << 20
