"""gears_globals -- what every session's globals start with: the names
RedisGears 1.2 puts there (spec §7.1), so that flows written for it find
them, and the functions of the module `redisgears` they call (§7.2)."""
import asyncio
import copy
import cProfile
import io
import itertools
import pickle
import pstats
import sys
import traceback
from asyncio import Future
from threading import Thread

import redisgears
from redisgears import GearsError

import gears_builder
import gears_config
import gears_execution
import gears_hooks
import gears_loop
from gears_loop import (GearsFuture, createFuture, current_execution, current_session, runCoroutine,
                        setFutureException, setFutureResults)


def isAsyncAllow():
    ex = current_execution.get()
    return True if ex is None else bool(ex.allow_async)


def hashtag():
    return "06S"  # one shard: any tag maps to it


def isInAtomicBlock():
    return gears_loop.in_atomic()


def getGearsSession():
    """The session of the running script or execution."""
    return current_session.get()


def setGearsSession(session):
    """Makes `session` the current one (a thread a flow started takes its
    creator's session this way)."""
    current_session.set(session)


def registerGearsThread():
    """Nothing to do: here any thread may call execute() and the rest."""


class GearsSession:
    """with GearsSession(session): ... runs the block in that session."""

    def __init__(self, session=None):
        self.session = session if session is not None else getGearsSession()

    def __enter__(self):
        self.token = current_session.set(self.session)
        return self

    def __exit__(self, *exc):
        current_session.reset(self.token)
        return False


def createKeysOnlyReader(pattern="*", count=1000, noScan=False, patternGenerator=None):
    """A PythonReader callback that yields the names of the keys matching
    `pattern` (with noScan, the key `pattern` itself if it exists)."""
    def reader():
        p = patternGenerator() if patternGenerator is not None else pattern
        if noScan:
            if redisgears.executeCommand("EXISTS", p):
                yield p
            return
        cursor = "0"
        while True:
            cursor, keys = redisgears.executeCommand("SCAN", cursor, "MATCH", p, "COUNT", count)
            yield from keys
            if str(cursor) == "0":
                return
    return reader


def unsupported(name):
    def f(*args, **kwargs):
        raise GearsError("%s is not supported by this host" % name)
    f.__name__ = name
    return f


def _deprecated(old, new, fn):
    """`fn` under its old name; the first call says so in the log (once: a
    flow that calls it per record would double the log)."""
    warned = []

    def f(*args, **kwargs):
        if not warned:
            warned.append(True)
            redisgears.log("%s is deprecated, use %s instead" % (old, new), level="warning")
        return fn(*args, **kwargs)
    f.__name__ = old
    return f


# The functions of `redisgears` that RedisGears' runtime imports under other
# names; the C module has executeCommand and log.
MODULE_FUNCTIONS = {
    "callNext": gears_hooks.call_next,
    "getCommand": gears_hooks.get_command,
    "overrideReply": gears_hooks.override_reply,
    "atomicCtx": gears_loop.atomic,
    "getMyHashTag": hashtag,
    "registerTimeEvent": unsupported("registerTimeEvent"),
    "gearsCtx": gears_builder.gearsCtx,
    "gearsFutureCtx": gears_execution.gearsFuture,
    "config_get": gears_config.configGet,
    "isInAtomicBlock": isInAtomicBlock,
    "isAsyncAllow": isAsyncAllow,
    "flatError": gears_execution.GearsFlatError,
    "registerGearsThread": registerGearsThread,
    "getGearsSession": getGearsSession,
    "setGearsSession": setGearsSession,
    "PyFlatExecution": gears_builder.GearsBuilder,
    # redisAI's runners reach the futures through the host module
    "createFuture": createFuture,
    "setFutureResults": setFutureResults,
    "setFutureException": setFutureException,
    "GearsFuture": GearsFuture,
    "atomic": gears_loop.atomic,
}
for _name, _fn in MODULE_FUNCTIONS.items():
    setattr(redisgears, _name, _fn)

SESSION_NAMES = {
    "redisgears": redisgears,
    "rg": redisgears,
    # the aliases
    "execute": redisgears.executeCommand,
    "call_next": gears_hooks.call_next,
    "get_command": gears_hooks.get_command,
    "override_reply": gears_hooks.override_reply,
    "atomic": gears_loop.atomic,
    "hashtag": hashtag,
    "registerTE": unsupported("registerTE"),
    "gearsCtx": gears_builder.gearsCtx,
    "gearsFuture": gears_execution.gearsFuture,
    "log": redisgears.log,
    "configGet": gears_config.configGet,
    "gearsConfigGet": gears_config.gearsConfigGet,
    "isAsyncAllow": isAsyncAllow,
    "flat_error": gears_execution.GearsFlatError,
    "GearsBuilder": gears_builder.GearsBuilder,
    "GB": gears_builder.GB,
    "createKeysOnlyReader": createKeysOnlyReader,
    "GearsSession": GearsSession,
    "GearsFuture": GearsFuture,
    "createFuture": createFuture,
    "setFutureResults": setFutureResults,
    "setFutureException": setFutureException,
    "runCoroutine": runCoroutine,
    "loop": gears_loop.loop,
    "GearsFlatError": gears_execution.GearsFlatError,
    "GearsError": GearsError,
    # deprecated spellings: they work, and say so in the log
    "Log": _deprecated("Log", "log", redisgears.log),
    "ConfigGet": _deprecated("ConfigGet", "configGet", gears_config.configGet),
    "GearsConfigGet": _deprecated("GearsConfigGet", "gearsConfigGet", gears_config.gearsConfigGet),
    # what RedisGears' runtime imported there
    "asyncio": asyncio,
    "Future": Future,
    "Thread": Thread,
    "copy": copy,
    "io": io,
    "cProfile": cProfile,
    "pstats": pstats,
    "sys": sys,
    "traceback": traceback,
    "pickle": pickle,
    "itertools": itertools,
}
