"""redisAI model runners inside flows (spec §3 #7-#11, §4.2, §5.2, §7, §8.1
example 1): success paths on ONNX, TF and TORCH models, sync and async, every
argument check with its exact text, single-shot runners, AI.INFO counting
(async runs only) and many concurrent async runs."""
import threading
import time

import numpy as np
import pytest

from support.flows import ev, gears_error, ok
from support.runner_flows import (aev, aok, info, onnx_model, register_aev, shared_server, store_tf_mul,
                                  torch_model, values)

R = "import redisAI as ai\n"
# A ready ONNX linear runner (y = x @ W + b, x [1,3]) in `r`, input in `t`.
LINEAR = R + ("r = ai.createModelRunner('lin{1}')\n"
              "t = ai.createTensorFromValues('FLOAT', [1, 3], [1.0, 2.0, 3.0])\n"
              "ai.modelRunnerAddInput(r, 'x', t)\n"
              "ai.modelRunnerAddOutput(r, 'y')\n")
LINEAR_Y = [22.5, 27.0]
# A ready TF c = a*b runner in `r`.
TFMUL = R + ("r = ai.createModelRunner('my_model{1}')\n"
             "a = ai.createTensorFromValues('FLOAT', [2, 2], [1.0, 2.0, 3.0, 4.0])\n"
             "b = ai.createTensorFromValues('FLOAT', [2, 2], [2.0, 3.0, 2.0, 3.0])\n"
             "ai.modelRunnerAddInput(r, 'a', a)\n"
             "ai.modelRunnerAddInput(r, 'b', b)\n")


shared = pytest.fixture(scope="module")(shared_server)


@pytest.fixture
def mr(start_ai):
    srv, c = start_ai()
    register_aev(c)
    assert c.execute_command("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", onnx_model("linear")) == b"OK"
    return srv, c


def test_surface(mr):
    _, c = mr
    assert ok(c, R + "r = ai.PyGraphRunner()\n"
                     "result = (type(r).__module__, type(r).__name__, str(r), hasattr(r, '__dict__'))") == \
        ("redisgears", "PyGraphRunner", "PyGraphRunner to str", False)
    assert ok(c, R + "result = [f.__doc__ for f in (ai.createModelRunner, ai.modelRunnerAddInput,"
                     " ai.modelRunnerAddOutput, ai.modelRunnerRun, ai.modelRunnerRunAsync)]") == \
        ["open TF graph by key name", "add input to graph runner", "add output to graph runner",
         "run graph runner", "run graph runner async"]
    assert ev(c, R + "import pickle\nr = ai.createModelRunner('lin{1}')\nresult = pickle.dumps(r)") == \
        "EX:TypeError:cannot pickle 'redisgears.PyGraphRunner' object"
    # A subclass instance passes the type check (then it is an empty runner).
    assert gears_error(c, R + "class S(ai.PyGraphRunner): pass\nai.modelRunnerAddOutput(S(), 'y')") == \
        "PyGraphRunner is invalid"


def test_async_onnx(mr):
    _, c = mr
    got = aok(c, LINEAR + "async def main():\n"
                          "    res = await ai.modelRunnerRunAsync(r)\n"
                          "    return [(ai.tensorToFlatList(x), ai.tensorGetDims(x), ai.tensorGetDataType(x))"
                          " for x in res]")
    assert got == [(LINEAR_Y, (1, 2), "FLOAT")]


def test_add_returns_one_and_input_name_is_ignored(mr):
    _, c = mr
    got = aok(c, R + "r = ai.createModelRunner('lin{1}')\n"
                     "t = ai.createTensorFromValues('FLOAT', [1, 3], [1.0, 2.0, 3.0])\n"
                     "async def main():\n"
                     "    rets = (ai.modelRunnerAddInput(r, 'not-a-real-name', t), ai.modelRunnerAddOutput(r, 'zz'))\n"
                     "    res = await ai.modelRunnerRunAsync(r)\n"
                     "    return rets, ai.tensorToFlatList(res[0])")
    assert got == ((1, 1), LINEAR_Y)


def test_onnx_sync_run_is_refused(mr):
    _, c = mr
    assert gears_error(c, LINEAR + "result = ai.modelRunnerRun(r)") == \
        "Cannot execute onnxruntime model synchronously, use async execution instead"
    # ... and the refused runner was consumed.
    assert gears_error(c, LINEAR + "try:\n ai.modelRunnerRun(r)\nexcept Exception:\n pass\n"
                                   "ai.modelRunnerRun(r)") == "PyGraphRunner is invalid"


def test_tf_sync_and_async(mr):
    _, c = mr
    store_tf_mul(c)
    assert ok(c, TFMUL + "ai.modelRunnerAddOutput(r, 'c')\nres = ai.modelRunnerRun(r)\n"
                         "result = [ai.tensorToFlatList(x) for x in res], ai.tensorGetDims(res[0])") == \
        ([[2.0, 6.0, 6.0, 12.0]], (2, 2))
    assert aok(c, TFMUL + "ai.modelRunnerAddOutput(r, 'c')\nasync def main():\n"
                          "    res = await ai.modelRunnerRunAsync(r)\n"
                          "    return ai.tensorToFlatList(res[0])") == [2.0, 6.0, 6.0, 12.0]


def test_tf_engine_error_sync_is_gears_error_async_is_exception(mr):
    _, c = mr
    store_tf_mul(c)
    # No output asked for: TensorFlow's own error text.
    assert gears_error(c, TFMUL + "ai.modelRunnerRun(r)") == \
        "Must specify at least one target to fetch or execute."
    assert aev(c, TFMUL + "async def main():\n    return await ai.modelRunnerRunAsync(r)") == \
        "EX:Exception:Must specify at least one target to fetch or execute."
    # The awaited failure is a plain Exception, not GearsError.
    assert aok(c, TFMUL + "async def main():\n"
                          "    try:\n        await ai.modelRunnerRunAsync(r)\n"
                          "    except Exception as e:\n"
                          "        return type(e) is Exception, isinstance(e, redisgears.GearsError)") == \
        (True, False)


def test_run_without_inputs_or_outputs_is_the_backends_to_refuse(mr):
    """As in RedisAI, the engine hands such a run to the backend (it gave its
    own input-count text before)."""
    _, c = mr
    store_tf_mul(c)
    empty = R + "r = ai.createModelRunner('my_model{1}')\n"
    assert gears_error(c, empty + "ai.modelRunnerRun(r)") == "Must specify at least one target to fetch or execute."
    assert aev(c, empty + "async def main():\n    return await ai.modelRunnerRunAsync(r)") == \
        "EX:Exception:Must specify at least one target to fetch or execute."


def test_torch_sync_and_async_two_outputs(mr):
    _, c = mr
    assert c.execute_command("AI.MODELSTORE", "tm{1}", "TORCH", "CPU", "BLOB", torch_model("TwoOutputs")) == b"OK"
    setup = R + ("import numpy as np\nr = ai.createModelRunner('tm{1}')\n"
                 "a = ai.createTensorFromBlob('INT32', [3], np.array([1, 2, 3], np.int32))\n"
                 "b = ai.createTensorFromBlob('INT32', [3], np.array([10, 20, 30], np.int32))\n"
                 "for n, t in (('a', a), ('b', b)): ai.modelRunnerAddInput(r, n, t)\n"
                 "ai.modelRunnerAddOutput(r, 's')\nai.modelRunnerAddOutput(r, 'p')\n")
    expected = [([11, 22, 33], "INT32"), ([10, 40, 90], "INT32")]
    assert ok(c, setup +
              "result = [(ai.tensorToFlatList(x), ai.tensorGetDataType(x)) for x in ai.modelRunnerRun(r)]") == \
        expected
    assert aok(c, setup +
               "async def main():\n"
               "    return [(ai.tensorToFlatList(x), ai.tensorGetDataType(x))"
               " for x in await ai.modelRunnerRunAsync(r)]") == expected


def test_outputs_can_be_stored_and_reused(mr):
    _, c = mr
    aok(c, LINEAR + "async def main():\n"
                    "    res = await ai.modelRunnerRunAsync(r)\n"
                    "    ai.setTensorInKey('y{1}', res[0])\n")
    assert values(c, "y{1}") == LINEAR_Y
    assert c.execute_command("AI.TENSORGET", "y{1}", "META")[1] == b"FLOAT"


CREATE_ERRORS = [
    ("", "Wrong number of arguments given to createModelRunner"),
    ("'lin{1}', 'x'", "Wrong number of arguments given to createModelRunner"),
    ("1", "key argument must be a string"),
    ("b'lin{1}'", "key argument must be a string"),
    ("'missing{1}'", "given key do not contain RedisAI model"),
    ("'str{1}'", "given key do not contain RedisAI model"),
    ("'a{1}'", "given key do not contain RedisAI model"),
    ("'my_script{1}'", "given key do not contain RedisAI model"),
]


@pytest.mark.parametrize("args,msg", CREATE_ERRORS)
def test_create_errors(shared, args, msg):
    _, c = shared
    assert gears_error(c, R + f"ai.createModelRunner({args})") == msg


INPUT_ERRORS = [
    ("r, 'x'", "Wrong number of arguments given to modelRunnerAddInput"),
    ("r, 'x', t, 1", "Wrong number of arguments given to modelRunnerAddInput"),
    ("t, 'x', t", "Given argument is not of type PyGraphRunner"),
    ("ai.PyGraphRunner(), 'x', t", "PyGraphRunner is invalid"),
    ("r, 1, t", "input name argument must be a string"),
    ("r, 'x', 1", "Given argument is not of type PyTensorType"),
    ("r, 'x', [1.0, 2.0, 3.0]", "Given argument is not of type PyTensorType"),
    ("r, 'x', ai.PyTensor()", "PyTensor is invalid"),
    ("1, 1, 1", "Given argument is not of type PyGraphRunner"),
]


@pytest.mark.parametrize("args,msg", INPUT_ERRORS)
def test_add_input_errors(shared, args, msg):
    _, c = shared
    assert gears_error(c, R + "r = ai.createModelRunner('lin{1}')\n"
                              "t = ai.createTensorFromValues('FLOAT', [1, 3], [1.0, 2.0, 3.0])\n"
                              f"ai.modelRunnerAddInput({args})") == msg


OUTPUT_ERRORS = [
    ("r", "Wrong number of arguments given to modelRunnerAddOutput"),
    ("r, 'y', 'z'", "Wrong number of arguments given to modelRunnerAddOutput"),
    ("'r', 'y'", "Given argument is not of type PyGraphRunner"),
    ("ai.PyGraphRunner(), 'y'", "PyGraphRunner is invalid"),
    ("r, None", "output name argument must be a string"),
]


@pytest.mark.parametrize("args,msg", OUTPUT_ERRORS)
def test_add_output_errors(shared, args, msg):
    _, c = shared
    assert gears_error(c, R + f"r = ai.createModelRunner('lin{{1}}')\nai.modelRunnerAddOutput({args})") == msg


RUN_ERRORS = [
    ("modelRunnerRun()", "Wrong number of arguments given to modelRunnerRun"),
    ("modelRunnerRun(r, r)", "Wrong number of arguments given to modelRunnerRun"),
    ("modelRunnerRun(1)", "Given argument is not of type PyGraphRunner"),
    ("modelRunnerRun(ai.PyGraphRunner())", "PyGraphRunner is invalid"),
    ("modelRunnerRunAsync()", "Wrong number of arguments given to modelRunnerRunAsync"),
    ("modelRunnerRunAsync(r, 1)", "Wrong number of arguments given to modelRunnerRunAsync"),
    ("modelRunnerRunAsync('r')", "Given argument is not of type PyGraphRunner"),
    ("modelRunnerRunAsync(ai.PyGraphRunner())", "PyGraphRunner is invalid"),
]


@pytest.mark.parametrize("call,msg", RUN_ERRORS)
def test_run_errors(shared, call, msg):
    _, c = shared
    assert gears_error(c, LINEAR + "ai." + call) == msg


@pytest.mark.parametrize("after", [
    "ai.modelRunnerAddInput(r, 'x', t)", "ai.modelRunnerAddOutput(r, 'y')",
    "ai.modelRunnerRun(r)", "ai.modelRunnerRunAsync(r)"])
def test_async_run_consumes_the_runner(shared, after):
    _, c = shared
    assert aev(c, LINEAR + "async def main():\n"
                           "    f = ai.modelRunnerRunAsync(r)\n"
                           f"    try:\n        {after}\n"
                           "    finally:\n        await f\n") == "GE:PyGraphRunner is invalid"


def test_async_errors_are_raised_at_once_not_through_the_future(mr):
    _, c = mr
    # A validation error is raised by the call itself (nothing to await).
    assert aev(c, R + "async def main():\n    ai.modelRunnerRunAsync(ai.PyGraphRunner())") == \
        "GE:PyGraphRunner is invalid"


def test_the_runner_holds_its_own_model_and_input_references(mr):
    _, c = mr
    c.execute_command("AI.TENSORSET", "x{1}", "FLOAT", 1, 3, "VALUES", 1, 2, 3)
    got = aok(c, R + "r = ai.createModelRunner('lin{1}')\n"
                     "ai.modelRunnerAddInput(r, 'x', ai.getTensorFromKey('x{1}'))\n"
                     "ai.modelRunnerAddOutput(r, 'y')\n"
                     "redisgears.executeCommand('AI.MODELDEL', 'lin{1}')\n"
                     "redisgears.executeCommand('DEL', 'x{1}')\n"
                     "async def main():\n"
                     "    return ai.tensorToFlatList((await ai.modelRunnerRunAsync(r))[0])")
    assert got == LINEAR_Y
    assert c.exists("lin{1}", "x{1}") == 0
    # A runner dropped without a run frees its context; the server lives on.
    assert c.execute_command("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", onnx_model("linear")) == b"OK"
    assert ok(c, LINEAR + "del r\nimport gc\ngc.collect()\nresult = 1") == 1
    assert c.execute_command("AI.MODELDEL", "lin{1}") == b"OK"
    assert c.ping()


def test_ai_info_counts_async_runs_only(mr):
    _, c = mr
    store_tf_mul(c)
    for _ in range(2):
        ok(c, TFMUL + "ai.modelRunnerAddOutput(r, 'c')\nresult = len(ai.modelRunnerRun(r))")
    gears_error(c, TFMUL + "ai.modelRunnerRun(r)")  # failed sync run: not counted either
    before = info(c, "my_model{1}")
    assert (before["calls"], before["errors"], before["samples"]) == (0, 0, 0)
    for _ in range(3):
        aok(c, TFMUL + "ai.modelRunnerAddOutput(r, 'c')\n"
                       "async def main():\n    return len(await ai.modelRunnerRunAsync(r))")
    aev(c, TFMUL + "async def main():\n    return await ai.modelRunnerRunAsync(r)")  # fails
    after = info(c, "my_model{1}")
    assert (after["calls"], after["errors"], after["samples"]) == (4, 1, 6)
    assert after["duration"] > 0


SPEC_MODEL_RUN = '''
import redisAI

async def ModelRun_Async(record):
    try:
        ta = redisAI.createTensorFromValues('FLOAT', [2, 2], [1.0, 2.0, 3.0, 4.0])
        tb = redisAI.createTensorFromValues('FLOAT', [2, 2], [2.0, 3.0, 2.0, 3.0])
        redisAI.msetTensorsInKeyspace({'a{1}': ta, 'b{1}': tb})
        modelRunner = redisAI.createModelRunner('my_model{1}')
        redisAI.modelRunnerAddInput(modelRunner, 'a', ta)
        redisAI.modelRunnerAddInput(modelRunner, 'b', tb)
        redisAI.modelRunnerAddOutput(modelRunner, 'c')
        res = await redisAI.modelRunnerRunAsync(modelRunner)
        redisAI.setTensorInKey('c{1}', res[0])
        return "ModelRun_OK"
    except Exception as e:
        return e

GB("CommandReader").map(ModelRun_Async).register(trigger="ModelRun")
'''


def test_spec_example_model_run(mr):
    """Spec §8.1 example 1, with the TF graph c = a*b."""
    _, c = mr
    store_tf_mul(c)
    assert c.execute_command("RG.PYEXECUTE", SPEC_MODEL_RUN) == b"OK"
    assert c.execute_command("RG.TRIGGER", "ModelRun") == [b"ModelRun_OK"]
    assert values(c, "a{1}") == [1, 2, 3, 4]
    assert values(c, "b{1}") == [2, 3, 2, 3]
    assert values(c, "c{1}") == [2, 6, 6, 12]


def test_sync_registration_runs_sync_and_async(start_ai):
    """mode='sync': the step runs on Redis's main thread (sync run there) and
    an awaited run resumes in the background."""
    srv, c = start_ai(mode="sync")
    register_aev(c, mode="sync")
    store_tf_mul(c)
    assert ok(c, TFMUL + "ai.modelRunnerAddOutput(r, 'c')\n"
                         "result = ai.tensorToFlatList(ai.modelRunnerRun(r)[0])") == [2, 6, 6, 12]
    assert aok(c, TFMUL + "ai.modelRunnerAddOutput(r, 'c')\nasync def main():\n"
                          "    return ai.tensorToFlatList((await ai.modelRunnerRunAsync(r))[0])") == [2, 6, 6, 12]


def test_100_concurrent_async_runs(mr):
    """100 clients trigger an async ONNX run each at the same time; every
    one gets its own row back."""
    srv, c = mr
    flow = R + ("async def main():\n"
                "    x = float(redisgears.executeCommand('INCR', 'seq{1}'))\n"
                "    r = ai.createModelRunner('lin{1}')\n"
                "    ai.modelRunnerAddInput(r, 'x', ai.createTensorFromValues('FLOAT', [1, 3], [x, x, x]))\n"
                "    ai.modelRunnerAddOutput(r, 'y')\n"
                "    return x, ai.tensorToFlatList((await ai.modelRunnerRunAsync(r))[0])")
    results, errors = [], []

    def client():
        cc = srv.client()
        try:
            results.append(aok(cc, flow))
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client) for _ in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(x for x, _ in results) == [float(i) for i in range(1, 101)]
    w = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], np.float32)
    for x, y in results:
        expected = (np.full((1, 3), x, np.float32) @ w + np.array([0.5, -1.0], np.float32)).ravel()
        assert y == expected.tolist()
    assert info(c, "lin{1}")["calls"] == 100
    assert c.ping()


def test_a_runner_shared_by_threads(mr):
    """Python threads sharing one runner (cffi releases the GIL in every C
    call): their adds are serialized, and a run takes the runner from them.
    Two threads changing one context, or one adding to a context another had
    queued, crashed the server."""
    srv, c = mr
    flow = R + ("import threading\n"
                "t = ai.createTensorFromValues('FLOAT', [1, 3], [1.0, 2.0, 3.0])\n"
                "def add(r, n, errors):\n"
                "    try:\n"
                "        for _ in range(n):\n"
                "            ai.modelRunnerAddInput(r, 'x', t)\n"
                "            ai.modelRunnerAddOutput(r, 'y')\n"
                "    except Exception as e:\n"
                "        errors.append(str(e))\n"
                "def adders(r, n, errors):\n"
                "    return [threading.Thread(target=add, args=(r, n, errors)) for _ in range(4)]\n"
                "async def main():\n"
                "    outcomes, errors = set(), []\n"
                "    for _ in range(20):\n"
                "        r = ai.createModelRunner('lin{1}')\n"
                "        threads = adders(r, 500, errors)\n"
                "        [th.start() for th in threads]\n"
                "        [th.join() for th in threads]\n"
                "        try:\n"
                "            await ai.modelRunnerRunAsync(r)\n"
                "        except Exception as e:\n"
                "            outcomes.add(str(e))\n"
                "    late = []  # adding while the run starts\n"
                "    for _ in range(20):\n"
                "        r = ai.createModelRunner('lin{1}')\n"
                "        threads = adders(r, 10**9, late)\n"
                "        [th.start() for th in threads]\n"
                "        try:\n"
                "            await ai.modelRunnerRunAsync(r)\n"
                "        except Exception:\n"
                "            pass  # inputs were added twice: the run fails, as it should\n"
                "        [th.join() for th in threads]\n"
                "    return sorted(outcomes), errors, set(late), len(late)\n")
    outcomes, errors, late, n_late = aok(c, flow)
    assert outcomes == ["Number of keys given as INPUTS here does not match model definition"]
    assert errors == []
    assert late == {"PyGraphRunner is invalid"} and n_late == 80  # every thread stopped there
    assert srv.alive()


def test_unawaited_async_run_still_runs(mr):
    """A plain step that calls modelRunnerRunAsync without awaiting it still
    queues the run (spec §7.2); the result is thrown away."""
    _, c = mr
    r = ev(c, LINEAR + "f = ai.modelRunnerRunAsync(r)\nresult = type(f).__name__")
    assert r == "OK:'GearsFuture'"
    deadline = time.time() + 30
    while info(c, "lin{1}")["calls"] != 1 and time.time() < deadline:
        time.sleep(0.05)
    assert info(c, "lin{1}")["calls"] == 1
    assert c.ping()


@pytest.mark.parametrize("dtype,blob,expected", [
    ("BOOL", "[1, 0, 1]", [0, 1, 0]),
    ("INT8", "[1, 255, 3]", [1, -1, 3]),
    ("UINT8", "[1, 255, 3]", [1, 255, 3]),
    ("INT16", "[1, 0, 255, 255, 3, 0]", [1, -1, 3]),
    ("UINT16", "[1, 0, 255, 255, 3, 0]", [1, 65535, 3]),
])
def test_output_dtypes(mr, dtype, blob, expected):
    """Outputs carry their dtype (derived through the shared API)."""
    _, c = mr
    model = onnx_model("bool_logic") if dtype == "BOOL" else onnx_model("identity", dtype)
    c.execute_command("AI.MODELSTORE", "m{1}", "ONNX", "CPU", "BLOB", model)
    n_in = 2 if dtype == "BOOL" else 1
    got = aok(c, R + "r = ai.createModelRunner('m{1}')\n"
                     f"t = ai.createTensorFromBlob({dtype!r}, [3], bytes({blob}))\n"
                     f"for _ in range({n_in}): ai.modelRunnerAddInput(r, 'x', t)\n"
                     "ai.modelRunnerAddOutput(r, 'y')\n"
                     f"for _ in range({n_in} - 1): ai.modelRunnerAddOutput(r, 'z')\n"
                     "async def main():\n"
                     "    y = (await ai.modelRunnerRunAsync(r))[0]\n"
                     "    return ai.tensorGetDataType(y), ai.tensorToFlatList(y)")
    assert got == (dtype, expected)


def test_runner_contexts_give_their_memory_back(mr):
    """Contexts of run, failed and never-run runners are freed: each holds a
    fresh 1 MB input, so a leak would grow used_memory by ~600 MB."""
    _, c = mr
    store_tf_mul(c)
    code = R + ("blob = bytes(1 << 20)\n"
                "def runner():\n"
                "    r = ai.createModelRunner('my_model{1}')\n"
                "    t = ai.createTensorFromBlob('FLOAT', [1 << 18], blob)\n"
                "    ai.modelRunnerAddInput(r, 'a', t)\n"
                "    ai.modelRunnerAddInput(r, 'b', t)\n"
                "    return r\n"
                "async def main():\n"
                "    for i in range(200):\n"
                "        ai.modelRunnerAddOutput(runner(), 'c')\n"  # dropped, never run
                "        try:\n            ai.modelRunnerRun(runner())\n"  # fails: no output
                "        except redisgears.GearsError:\n            pass\n"
                "        r = runner()\n        ai.modelRunnerAddOutput(r, 'c')\n"
                "        out = await ai.modelRunnerRunAsync(r)\n"
                "    return len(out)")
    aok(c, code)  # warm-up
    before = c.info("memory")["used_memory"]
    assert aok(c, code) == 1
    assert c.info("memory")["used_memory"] - before < 50 << 20


def test_engine_loaded_before_the_host(start_ai):
    srv, c = start_ai(order=("engine", "host"))
    register_aev(c)
    c.execute_command("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", onnx_model("linear"))
    assert aok(c, LINEAR + "async def main():\n"
                           "    return ai.tensorToFlatList((await ai.modelRunnerRunAsync(r))[0])") == LINEAR_Y
