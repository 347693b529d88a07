"""Helpers for the redisAI runner tests (model, script and DAG runners).

`aev` is the async sibling of flows.ev: RG.TRIGGER aev "<python>" runs the
code inside redis-server; the code defines `async def main()`, which the flow
awaits.  Replies: `OK:<repr(result)>`, `GE:<msg>` for redisgears.GearsError,
`EX:<type>:<msg>` for any other exception (an awaited engine failure is a
plain `Exception`, so it shows as `EX:Exception:<msg>`).

Models are generated here, never downloaded: the TF graph computing c = a*b
(tests/backends/tf_models.py, in a subprocess: importing TF is slow), ONNX
graphs (tests/backends/models.py) and TorchScript modules
(tests/backends/torch_models.py)."""
import functools
import os
import subprocess
import sys
import tempfile

from support.flows import host_module, register_ev
from support.server import ENGINE, ROOT, RedisServer

BACKENDS_TESTS = os.path.join(ROOT, "tests", "backends")
if BACKENDS_TESTS not in sys.path:
    sys.path.insert(0, BACKENDS_TESTS)

AEV_FLOW = r'''
import redisAI, redisgears

async def _aev(rec):
    env = {"redisAI": redisAI, "redisgears": redisgears, "result": None}
    try:
        exec(rec[1], env)
        return "OK:" + repr(await env["main"]())
    except redisgears.GearsError as e:
        return "GE:" + str(e)
    except Exception as e:
        return "EX:%s:%s" % (type(e).__name__, e)

GB("CommandReader").map(_aev).register(trigger="aev", mode=MODE)
'''

# The spec's TorchScript example (§8.1), stored with ENTRY_POINTS 1 multiply.
MULTIPLY_SCRIPT = '''
def multiply(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] * tensors[1]

def pair(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] + tensors[1], tensors[0] - tensors[1]

def count(tensors: List[Tensor], keys: List[str], args: List[str]):
    return torch.tensor([len(tensors), len(keys), len(args)])

def fail(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0].reshape(3)
'''


def register_aev(c, mode="async"):
    assert c.execute_command("RG.PYEXECUTE", AEV_FLOW.replace("MODE", repr(mode))) in (b"OK", "OK")


def aev(c, code):
    reply = c.execute_command("RG.TRIGGER", "aev", code)
    assert isinstance(reply, list) and len(reply) == 1, reply
    r = reply[0]
    return r.decode() if isinstance(r, bytes) else r


def aok(c, code):
    r = aev(c, code)
    assert r.startswith("OK:"), r
    return eval(r[3:])


def values(c, key):
    """AI.TENSORGET key VALUES as Python numbers."""
    return [float(v) if isinstance(v, bytes) else v for v in c.execute_command("AI.TENSORGET", key, "VALUES")]


def info(c, key):
    """AI.INFO key as a dict (str keys)."""
    r = c.execute_command("AI.INFO", key)
    return {k.decode(): (v.decode() if isinstance(v, bytes) else v) for k, v in zip(r[::2], r[1::2])}


@functools.lru_cache(maxsize=None)
def tf_graph(name="mul_float"):
    """A frozen TF graph from tests/backends/tf_models.py (mul_float: c = a*b)."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
        subprocess.run([sys.executable, os.path.join(BACKENDS_TESTS, "tf_models.py"), d], check=True,
                       env=env, timeout=600, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(os.path.join(d, name + ".pb"), "rb") as f:
            return f.read()


@functools.lru_cache(maxsize=None)
def torch_model(name="TwoOutputs"):
    """A scripted TorchScript module of tests/backends/torch_models.py."""
    import torch_models
    return torch_models.save(torch_models.scripted(getattr(torch_models, name)))


@functools.lru_cache(maxsize=None)
def onnx_model(name="linear", *args):
    """An ONNX model of tests/backends/models.py: models.<name>(*args)."""
    import models
    return getattr(models, name)(*args)


def store_tf_mul(c, key="my_model{1}"):
    assert c.execute_command("AI.MODELSTORE", key, "TF", "CPU", "INPUTS", 2, "a", "b", "OUTPUTS", 1, "c",
                             "BLOB", tf_graph()) == b"OK"


def store_script(c, key="my_script{1}"):
    assert c.execute_command("AI.SCRIPTSTORE", key, "CPU", "ENTRY_POINTS", 4, "multiply", "pair", "count",
                             "fail", "SOURCE", MULTIPLY_SCRIPT) == b"OK"


def set_ab(c):
    """The spec's inputs: a = [1,2,3,4], b = [2,3,2,3], FLOAT [2,2], on {1} keys."""
    c.execute_command("AI.TENSORSET", "a{1}", "FLOAT", 2, 2, "VALUES", 1, 2, 3, 4)
    c.execute_command("AI.TENSORSET", "b{1}", "FLOAT", 2, 2, "VALUES", 2, 3, 2, 3)


def shared_server():
    """A server for a whole test module (generator, for a module-scoped
    fixture) with `ev` and `aev` registered, the spec's TF model and script,
    a{1}, b{1}, the ONNX linear model lin{1} and a string key str{1}.  For
    tests that do not change what is stored."""
    srv = RedisServer(modules=[host_module(), (ENGINE, [])]).start()
    try:
        c = srv.client(protocol=2)
        register_ev(c)
        register_aev(c)
        store_tf_mul(c)
        store_script(c)
        set_ab(c)
        assert c.execute_command("AI.MODELSTORE", "lin{1}", "ONNX", "CPU", "BLOB", onnx_model("linear")) == b"OK"
        c.set("str{1}", "x")
        yield srv, c
    finally:
        srv.stop()
