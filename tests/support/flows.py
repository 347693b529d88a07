"""Helpers for tests that drive flows inside redis-server: the Python host
(build/redisgears_py.so) next to the engine (build/redisai.so).

Most tests go through one registered flow, `ev`: RG.TRIGGER ev "<python>"
runs the code inside redis-server (with redisAI, redisgears and numpy in
scope) and replies with `OK:<repr(result)>`, or `GE:<msg>` when it raised
redisgears.GearsError, or `EX:<type>:<msg>` for any other exception."""
import os

import pytest
import redis

from support.server import BUILD, ENGINE, ROOT

HOST = os.path.join(BUILD, "redisgears_py.so")
VENV = os.path.join(ROOT, ".venv")
HOST_ARGS = os.environ.get("REDISAI_PYAPI_HOST_ARGS", "").split() or []
# A sanitized build keeps its own redisAI extension in BUILD/python (the
# venv's editable install is the normal build's); the host puts it on sys.path.
if os.path.isdir(os.path.join(BUILD, "python")):
    HOST_ARGS += ["PYTHONPATH", os.path.join(BUILD, "python")]

EV_FLOW = r'''
import redisAI, redisgears
import numpy as np

def _ev(rec):
    env = {"redisAI": redisAI, "redisgears": redisgears, "np": np, "result": None}
    try:
        exec(rec[1], env)
        return "OK:" + repr(env["result"])
    except redisgears.GearsError as e:
        return "GE:" + str(e)
    except Exception as e:
        return "EX:%s:%s" % (type(e).__name__, e)

GB("CommandReader").map(_ev).register(trigger="ev", mode="%s")
'''


def host_module():
    if not os.path.exists(HOST):
        pytest.skip("build/redisgears_py.so (the Python host) is not built yet")
    return (HOST, HOST_ARGS)


def register_ev(c, mode="async"):
    assert c.execute_command("RG.PYEXECUTE", EV_FLOW.replace('"%s"', repr(mode))) in (b"OK", "OK")


def ev(c, code):
    """Runs `code` in the `ev` flow; returns the reply text (OK:/GE:/EX:)."""
    reply = c.execute_command("RG.TRIGGER", "ev", code)
    assert isinstance(reply, list) and len(reply) == 1, reply
    r = reply[0]
    return r.decode() if isinstance(r, bytes) else r


def ok(c, code):
    r = ev(c, code)
    assert r.startswith("OK:"), r
    return eval(r[3:])


def gears_error(c, code):
    r = ev(c, code)
    assert r.startswith("GE:"), r
    return r[3:]


# ---- RG.* helpers for the host tests (tests/host) ----

def pyexecute(c, code, *opts):
    return c.execute_command("RG.PYEXECUTE", code, *opts)


def registrations(c):
    """RG.DUMPREGISTRATIONS as flat dicts: each entry's fields with those of
    its RegistrationData and of their args (trigger, regex, stream...)."""
    out = []
    for r in c.execute_command("RG.DUMPREGISTRATIONS"):
        d = dict(zip(r[::2], r[1::2]))
        data = d["RegistrationData"]
        d.update(zip(data[::2], data[1::2]))
        d.update(zip(d["args"][::2], d["args"][1::2]))
        out.append(d)
    return out


def trigger(c, name, *args):
    return c.execute_command("RG.TRIGGER", name, *args)


def error_of(c, *cmd):
    """The text of the error reply `cmd` gets (redis-py drops a leading 'ERR ')."""
    with pytest.raises(redis.ResponseError) as e:
        c.execute_command(*cmd)
    return str(e.value)
