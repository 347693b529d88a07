"""gears_builder -- GearsBuilder (alias GB), its readers, register() and run()
(spec §9).  Only one shard exists, so collect() and repartition() keep the
records where they are."""
import copy
import itertools
import random

import redisgears
from redisgears import GearsError

import gears_execution as ge
from gears_loop import current_session
from gears_registrations import (HookRegistration, KeysRegistration, Registration,
                                 StreamRegistration, key_record)

MODES = ("async", "async_local", "sync")
READERS = ("KeysReader", "KeysOnlyReader", "CommandReader", "PythonReader", "ShardsIDReader",
           "StreamReader")
_ids = itertools.count(1)


# This server's id, in RedisGears' shape (40 hex digits).  Random, so that
# ids made after a restart never meet the saved sessions' ids.
_SHARD_ID = "%040x" % random.getrandbits(160)


def new_id():
    return "%s-%d" % (_SHARD_ID, next(_ids))


def _keys(pattern, with_values):
    """KeysReader records, read with SCAN; each call takes the Redis lock."""
    cursor = "0"
    while True:
        cursor, keys = redisgears.executeCommand("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
        for k in keys:
            yield key_record(k, None, True) if with_values else k
        if str(cursor) == "0":
            return


class GearsBuilder:
    def __init__(self, reader="KeysReader", defaultArg="*", desc=None):
        if reader not in READERS:
            raise GearsError("unknown reader %s" % reader)
        self.reader, self.defaultArg, self.desc = reader, defaultArg, desc
        self.steps = []

    def _add(self, kind, fn):
        self.steps.append((kind, fn))
        return self

    # -- per-record operations (these may be `async def`) ----------------
    def map(self, f):
        return self._add("map", f)

    def filter(self, f):
        return self._add("filter", f)

    def foreach(self, f):
        return self._add("foreach", f)

    def flatmap(self, f):
        return self._add("flatmap", f)

    def accumulate(self, f):
        return self._add("accumulate", ge.Fold(f))

    def accumulateby(self, extractor, accumulator):
        """accumulator(key, acc, record) per key; records {'key', 'value'}."""
        return self._add("accumulate", ge.Fold(accumulator, None, extractor))

    # -- whole-list operations --------------------------------------------
    def collect(self):
        return self

    def repartition(self, extractor=None):
        return self

    def count(self):
        return self._add("list", ge.step_count)

    def countby(self, extractor=lambda x: str(x)):
        return self._add("list", ge.make_countby(extractor))

    def groupby(self, extractor, reducer):
        return self._add("list", ge.make_groupby(extractor, reducer))

    localgroupby = groupby

    def batchgroupby(self, extractor, reducer):
        return self._add("list", ge.make_batchgroupby(extractor, reducer))

    # aggregate and aggregateby fold locally, then fold the shards' results
    # (here the one local result) with combOp; both folds may be `async def`.
    def aggregate(self, zero, seqOp, combOp):
        z = lambda: copy.deepcopy(zero)
        self._add("accumulate", ge.Fold(seqOp, z))
        return self._add("accumulate", ge.Fold(combOp, z))

    def aggregateby(self, extractor, zero, seqOp, combOp):
        z = lambda: copy.deepcopy(zero)
        self._add("accumulate", ge.Fold(seqOp, z, extractor))
        return self._add("accumulate", ge.Fold(lambda k, a, r: combOp(k, a, r["value"]), z,
                                               lambda r: r["key"]))

    def sort(self, reverse=True):
        return self._add("list", lambda rs: sorted(rs, reverse=reverse))

    def distinct(self):
        return self._add("list", ge.make_distinct())

    def avg(self, extractor=lambda x: float(x)):
        return self._add("list", ge.make_avg(extractor))

    def limit(self, length, offset=0):
        return self._add("list", lambda rs: rs[offset:offset + length])

    # -- ending a flow -----------------------------------------------------
    def _final_steps(self, convertToStr):
        steps = list(self.steps)
        if convertToStr:
            steps.append(("map", str))
        return ge.plan(steps)

    def register(self, prefix="*", convertToStr=True, collect=True, mode="async",
                 onRegistered=None, trigger=None, hook=None, keyprefix=None, inorder=False,
                 **reader_kwargs):
        if mode not in MODES:
            raise GearsError("unknown execution mode")
        if self.reader == "KeysReader":
            return self._register_keys(prefix, convertToStr, mode, onRegistered, **reader_kwargs)
        if self.reader == "StreamReader":
            return self._register_stream(prefix, convertToStr, mode, onRegistered, **reader_kwargs)
        if self.reader != "CommandReader":
            raise GearsError("register() supports the CommandReader, KeysReader and StreamReader "
                             "only (%s given)" % self.reader)
        if trigger is not None and (hook is not None or keyprefix is not None):
            raise GearsError("trigger argument can not be given with keyprefix or hook")
        if trigger is None and hook is None:
            raise GearsError("no trigger or hook argument was given")
        if hook is not None:
            return self._install(HookRegistration, hook, convertToStr, mode, onRegistered, keyprefix)
        return self._install(Registration, trigger, convertToStr, mode, onRegistered)

    def _register_keys(self, prefix, convertToStr, mode, onRegistered, eventTypes=None,
                       keyTypes=None, readValue=True, noScan=False, commands=None, **ignored):
        """A flow started by each keyspace event on a key that `prefix`
        matches (a key name, or a prefix ending in '*'), filtered by the
        event names in `eventTypes` and the key types in `keyTypes`; with
        `commands`, only the events of these commands, whose client then waits
        for the flow (override_reply)."""
        for name, names in (("eventTypes", eventTypes), ("keyTypes", keyTypes), ("commands", commands)):
            if names is not None and (not isinstance(names, (list, tuple))
                                      or not all(isinstance(n, str) for n in names)):
                raise GearsError("%s must be a list of strings" % name)
        return self._install(KeysRegistration, prefix, convertToStr, mode, onRegistered,
                             eventTypes, keyTypes, bool(readValue), commands)

    def _register_stream(self, prefix, convertToStr, mode, onRegistered, batch=1, duration=0,
                         onFailedPolicy="continue", onFailedRetryInterval=1, trimStream=True,
                         **ignored):
        """A flow started by new entries of the streams that `prefix` matches:
        once `batch` of them wait, or `duration` ms after the first one."""
        if not isinstance(batch, int) or batch < 1:
            raise GearsError("batch must be a positive integer")
        if not isinstance(duration, (int, float)) or duration < 0:
            raise GearsError("duration must be a number of milliseconds, 0 or more")
        if onFailedPolicy != "continue":
            raise GearsError("onFailedPolicy %s is not supported (only 'continue')" % onFailedPolicy)
        return self._install(StreamRegistration, prefix, convertToStr, mode, onRegistered,
                             batch, duration, bool(trimStream))

    def _install(self, kind, prefix, convertToStr, mode, onRegistered, *args):
        session = current_session.get()
        if session is None:
            raise GearsError("register() must be called from RG.PYEXECUTE")
        desc = self.desc if self.desc is not None else session.desc
        if kind is not HookRegistration:
            prefix = str(prefix)
        reg = kind(new_id(), prefix, mode, self._final_steps(convertToStr), session, desc, *args)
        if len(session.registrations) not in session.dropped:  # a replay skips what RG.UNREGISTER took
            reg.install()
        session.registrations.append(reg)
        if onRegistered is not None:
            onRegistered()
        return reg.id

    def run(self, arg=None, convertToStr=True, collect=True, mode="async", **kwargs):
        if mode not in MODES:
            raise GearsError("unknown execution mode")
        session = current_session.get()
        if session is None or session.runner is None:
            raise GearsError("run() must be called from RG.PYEXECUTE")
        if session.run_started:
            raise GearsError("run() may be called only once in a script")
        arg = self.defaultArg if arg is None else arg
        if self.reader in ("KeysReader", "KeysOnlyReader"):
            pattern = str(arg)
            reader = lambda: _keys(pattern, self.reader == "KeysReader")
        elif self.reader == "PythonReader":
            if not callable(arg):
                raise GearsError("PythonReader needs a callable that returns an iterable")
            reader = arg
        elif self.reader == "ShardsIDReader":
            reader = lambda: ["1"]  # one shard, no cluster: RedisGears 1.2 answers '1' there
        else:
            raise GearsError("%s can not be used with run()" % self.reader)
        session.run_started = True
        session.runner(self._final_steps(convertToStr), reader)


GB = GearsBuilder


def gearsCtx(reader="KeysReader", desc=None):
    """The original's lower-level constructor, which older scripts use
    (gearsCtx('StreamReader')...register('camera:0')): the same builder."""
    return GearsBuilder(reader, desc=desc)
