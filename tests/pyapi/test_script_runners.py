"""redisAI script runners inside flows (spec §3 #12-#17, §4.3, §5.2, §7, §8.1
example 2): TorchScript runs sync and async, every argument check with its
exact text, single-shot runners, engine errors (GearsError when sync, plain
Exception through the future) and AI.INFO counting of async runs only."""
import pytest

from support.flows import ev, gears_error, ok
from support.runner_flows import aev, aok, info, register_aev, set_ab, shared_server, store_script, values

R = "import redisAI as ai\n"


def runner(fn="multiply", outputs=1):
    """Code making a runner `r` on my_script{1} with inputs a{1}, b{1}."""
    return R + (f"r = ai.createScriptRunner('my_script{{1}}', {fn!r})\n"
                "ta, tb = ai.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])\n"
                "ai.scriptRunnerAddInput(r, ta)\n"
                "ai.scriptRunnerAddInput(r, tb)\n" + "ai.scriptRunnerAddOutput(r)\n" * outputs)


SYNC = "result = [ai.tensorToFlatList(x) for x in ai.scriptRunnerRun(r)]"
ASYNC = "async def main():\n    return [ai.tensorToFlatList(x) for x in await ai.scriptRunnerRunAsync(r)]"


shared = pytest.fixture(scope="module")(shared_server)


@pytest.fixture
def sr(start_ai):
    srv, c = start_ai()
    register_aev(c)
    store_script(c)
    set_ab(c)
    return srv, c


def test_surface(sr):
    _, c = sr
    assert ev(c, R + "ai.PyTorchScriptRunner()") == \
        "EX:TypeError:cannot create 'redisgears.PyTorchScriptRunner' instances"
    assert ok(c, R + "r = ai.createScriptRunner('my_script{1}', 'multiply')\n"
                     "result = (type(r).__module__, type(r).__name__, str(r), hasattr(r, '__dict__'))") == \
        ("redisgears", "PyTorchScriptRunner", "PyTorchScriptRunner to str", False)
    assert ok(c, R + "result = [f.__doc__ for f in (ai.createScriptRunner, ai.scriptRunnerAddInput,"
                     " ai.scriptRunnerAddInputList, ai.scriptRunnerAddOutput, ai.scriptRunnerRun,"
                     " ai.scriptRunnerRunAsync)]") == \
        ["open a torch script by key name", "add input to torch script runner",
         "add a list of tensor as input to torch script runner", "add output to torch script runner",
         "run torch script runner", "run torch script runner async"]


def test_return_values(sr):
    _, c = sr
    assert ok(c, R + "r = ai.createScriptRunner('my_script{1}', 'multiply')\n"
                     "t = ai.getTensorFromKey('a{1}')\n"
                     "result = (ai.scriptRunnerAddInput(r, t), ai.scriptRunnerAddInputList(r, [t]),"
                     " ai.scriptRunnerAddOutput(r))") == (None, None, 1)


def test_sync_and_async_multiply(sr):
    _, c = sr
    assert ok(c, runner() + SYNC) == [[2.0, 6.0, 6.0, 12.0]]
    assert aok(c, runner() + ASYNC) == [[2.0, 6.0, 6.0, 12.0]]


def test_two_outputs(sr):
    _, c = sr
    expected = [[3.0, 5.0, 5.0, 7.0], [-1.0, -1.0, 1.0, 1.0]]
    assert ok(c, runner("pair", outputs=2) + SYNC) == expected
    assert aok(c, runner("pair", outputs=2) + ASYNC) == expected


def test_input_list_appends_each_tensor(sr):
    _, c = sr
    code = R + ("r = ai.createScriptRunner('my_script{1}', 'count')\n"
                "ta, tb = ai.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])\n"
                "ai.scriptRunnerAddInput(r, ta)\n"
                "ai.scriptRunnerAddInputList(r, (t for t in [tb, ta, tb]))\n"
                "ai.scriptRunnerAddOutput(r)\n")
    # count returns [len(tensors), len(keys), len(args)]: 4 positional inputs.
    assert ok(c, code + SYNC) == [[4, 0, 0]]
    assert aok(c, code + ASYNC) == [[4, 0, 0]]


def test_input_list_is_all_or_nothing(sr):
    _, c = sr
    code = R + ("r = ai.createScriptRunner('my_script{1}', 'count')\n"
                "ta = ai.getTensorFromKey('a{1}')\n"
                "try:\n    ai.scriptRunnerAddInputList(r, [ta, ta, 'x'])\nexcept redisgears.GearsError:\n    pass\n"
                "ai.scriptRunnerAddInput(r, ta)\nai.scriptRunnerAddOutput(r)\n")
    assert ok(c, code + SYNC) == [[1, 0, 0]]


def test_missing_function_sync_and_async(sr):
    _, c = sr
    assert gears_error(c, runner("no_func") + SYNC) == "Function does not exist: no_func"
    assert aev(c, runner("no_func") + ASYNC) == "EX:Exception:Function does not exist: no_func"
    # libtorch's text for an empty name was an internal assert
    assert gears_error(c, runner("") + SYNC) == "function name not specified"
    assert aev(c, runner("") + ASYNC) == "EX:Exception:function name not specified"
    # the engine takes a C string: this ran `multiply`
    assert gears_error(c, runner("multiply\0x")) == "function name contains a NUL byte"


def test_torch_errors_sync_and_async(sr):
    _, c = sr
    sync = gears_error(c, runner("fail") + SYNC)
    assert "shape '[3]' is invalid for input of size 4" in sync
    got = aev(c, runner("fail") + ASYNC)
    assert got.startswith("EX:Exception:") and "shape '[3]' is invalid for input of size 4" in got
    # More outputs returned than asked for.
    assert gears_error(c, runner("pair") + SYNC) == "Torch returned 2 outputs but at most 1 were requested"


def test_the_runner_is_consumed_whatever_the_outcome(sr):
    _, c = sr
    for fn in ("multiply", "no_func"):
        assert gears_error(c, runner(fn) + "try:\n    ai.scriptRunnerRun(r)\nexcept Exception:\n    pass\n"
                                         "ai.scriptRunnerAddOutput(r)") == "PyTorchScriptRunner is invalid"
    assert aev(c, runner() + "async def main():\n    f = ai.scriptRunnerRunAsync(r)\n"
                             "    try:\n        ai.scriptRunnerRunAsync(r)\n    finally:\n        await f\n") == \
        "GE:PyTorchScriptRunner is invalid"


def test_outputs_stored_in_keys(sr):
    _, c = sr
    aok(c, runner() + "async def main():\n"
                      "    ai.setTensorInKey('c{1}', (await ai.scriptRunnerRunAsync(r))[0])")
    assert values(c, "c{1}") == [2, 6, 6, 12]


CREATE_ERRORS = [
    ("'my_script{1}'", "Wrong number of arguments given to createScriptRunner"),
    ("'my_script{1}', 'multiply', 1", "Wrong number of arguments given to createScriptRunner"),
    ("1, 'multiply'", "key name argument must be a string"),
    ("'my_script{1}', 1", "function name argument must be a string"),
    ("'missing{1}', 'multiply'", "given key do not contain RedisAI script"),
    ("'str{1}', 'multiply'", "given key do not contain RedisAI script"),
    ("'a{1}', 'multiply'", "given key do not contain RedisAI script"),
    ("'my_model{1}', 'multiply'", "given key do not contain RedisAI script"),
]


@pytest.mark.parametrize("args,msg", CREATE_ERRORS)
def test_create_errors(shared, args, msg):
    _, c = shared
    assert gears_error(c, R + f"ai.createScriptRunner({args})") == msg


# `r` is a runner, `used` a consumed one, `t` a tensor.
SETUP = R + ("r = ai.createScriptRunner('my_script{1}', 'multiply')\n"
             "used = ai.createScriptRunner('my_script{1}', 'multiply')\n"
             "try:\n    ai.scriptRunnerRun(used)\nexcept redisgears.GearsError:\n    pass\n"
             "t = ai.getTensorFromKey('a{1}')\n")

METHOD_ERRORS = [
    ("scriptRunnerAddInput(r)", "Wrong number of arguments given to scriptRunnerAddInput"),
    ("scriptRunnerAddInput(r, 'x', t)", "Wrong number of arguments given to scriptRunnerAddInput"),
    ("scriptRunnerAddInput(t, t)", "Given argument is not of type PyTorchScriptRunner"),
    ("scriptRunnerAddInput(used, t)", "PyTorchScriptRunner is invalid"),
    ("scriptRunnerAddInput(r, 1.0)", "Given argument is not of type PyTensor"),
    ("scriptRunnerAddInput(r, ai.PyTensor())", "PyTensor is invalid"),
    ("scriptRunnerAddInputList(r)", "Wrong number of arguments given to scriptRunnerAddInput"),
    ("scriptRunnerAddInputList(r, [t], 1)", "Wrong number of arguments given to scriptRunnerAddInput"),
    ("scriptRunnerAddInputList(ai.PyGraphRunner(), [t])", "Given argument is not of type PyTorchScriptRunner"),
    ("scriptRunnerAddInputList(used, [t])", "PyTorchScriptRunner is invalid"),
    ("scriptRunnerAddInputList(r, t)", "Tensors argument must be iterable"),
    ("scriptRunnerAddInputList(r, 5)", "Tensors argument must be iterable"),
    ("scriptRunnerAddInputList(r, [t, 5])", "Given argument is not of type PyTensor"),
    ("scriptRunnerAddInputList(r, [t, ai.PyTensor()])", "PyTensor is invalid"),
    ("scriptRunnerAddOutput()", "Wrong number of arguments given to scriptRunnerAddOutput"),
    ("scriptRunnerAddOutput(r, 'out')", "Wrong number of arguments given to scriptRunnerAddOutput"),
    ("scriptRunnerAddOutput(None)", "Given argument is not of type PyTorchScriptRunner"),
    ("scriptRunnerAddOutput(used)", "PyTorchScriptRunner is invalid"),
    ("scriptRunnerRun()", "Wrong number of arguments given to scriptRunnerRun"),
    ("scriptRunnerRun(r, r)", "Wrong number of arguments given to scriptRunnerRun"),
    ("scriptRunnerRun('r')", "Given argument is not of type PyTorchScriptRunner"),
    ("scriptRunnerRun(used)", "PyTorchScriptRunner is invalid"),
    ("scriptRunnerRunAsync()", "Wrong number of arguments given to scriptRunnerRunAsync"),
    ("scriptRunnerRunAsync(r, 1)", "Wrong number of arguments given to scriptRunnerRunAsync"),
    ("scriptRunnerRunAsync(1)", "Given argument is not of type PyTorchScriptRunner"),
    ("scriptRunnerRunAsync(used)", "PyTorchScriptRunner is invalid"),
]


@pytest.mark.parametrize("call,msg", METHOD_ERRORS)
def test_method_errors(shared, call, msg):
    _, c = shared
    assert gears_error(c, SETUP + "ai." + call) == msg


def test_ai_info_counts_async_runs_only(sr):
    _, c = sr
    ok(c, runner() + SYNC)
    gears_error(c, runner("no_func") + SYNC)
    before = info(c, "my_script{1}")
    assert (before["calls"], before["errors"]) == (0, 0)
    for _ in range(3):
        aok(c, runner() + ASYNC)
    aev(c, runner("no_func") + ASYNC)
    after = info(c, "my_script{1}")
    assert (after["calls"], after["errors"]) == (4, 1)
    assert after["duration"] > 0


SPEC_SCRIPT_RUN = '''
import redisAI

async def ScriptRun_Async(record):
    try:
        tensors = redisAI.mgetTensorsFromKeyspace(['a{1}', 'b{1}'])
        scriptRunner = redisAI.createScriptRunner('my_script{1}', 'multiply')
        redisAI.scriptRunnerAddInput(scriptRunner, tensors[0])
        redisAI.scriptRunnerAddInput(scriptRunner, tensors[1])
        redisAI.scriptRunnerAddOutput(scriptRunner)
        res = await redisAI.scriptRunnerRunAsync(scriptRunner)
        redisAI.setTensorInKey('c{1}', res[0])
        return "ScriptRun_OK"
    except Exception as e:
        return e

GB("CommandReader").map(ScriptRun_Async).register(trigger="ScriptRun")
'''


def test_spec_example_script_run(sr):
    """Spec §8.1 example 2."""
    _, c = sr
    assert c.execute_command("RG.PYEXECUTE", SPEC_SCRIPT_RUN) == b"OK"
    assert c.execute_command("RG.TRIGGER", "ScriptRun") == [b"ScriptRun_OK"]
    assert values(c, "c{1}") == [2, 6, 6, 12]


TOUCH = '''
def touch(tensors: List[Tensor], keys: List[str], args: List[str]):
    redis.execute("INCR", "touched{1}")
    return tensors[0]
'''
IN_ATOMIC = R + ("r = ai.createScriptRunner('touch{1}', 'touch')\n"
                 "ai.scriptRunnerAddInput(r, ai.getTensorFromKey('a{1}'))\n"
                 "ai.scriptRunnerAddOutput(r)\n"
                 "with redisgears.atomic():\n"
                 "    result = len(ai.scriptRunnerRun(r))")


@pytest.mark.parametrize("mode", ["async", "sync"])
def test_sync_script_run_inside_atomic(start_ai, mode):
    """A script's redis.execute needs the Redis lock: off the main thread,
    inside atomic(), the run is refused instead of waiting for ever; on the
    main thread (sync registrations) the lock is already its own."""
    _, c = start_ai(mode=mode)
    assert c.execute_command("AI.SCRIPTSTORE", "touch{1}", "CPU", "ENTRY_POINTS", 1, "touch",
                             "SOURCE", TOUCH) == b"OK"
    c.execute_command("AI.TENSORSET", "a{1}", "FLOAT", 1, "VALUES", 1)
    if mode == "async":
        assert gears_error(c, IN_ATOMIC).startswith("scriptRunnerRun can not run inside atomic()")
        assert c.get("touched{1}") is None
        assert ok(c, IN_ATOMIC.replace("with redisgears.atomic():\n    ", "")) == 1
    else:
        assert ok(c, IN_ATOMIC) == 1
    assert c.get("touched{1}") == b"1"
