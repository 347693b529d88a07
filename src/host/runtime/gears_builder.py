"""gears_builder -- GearsBuilder (alias GB), its readers, register() and run()
(spec §9).  Only one shard exists, so collect() and repartition() keep the
records where they are."""
import copy
import itertools
import random
import threading
import time

import redisgears
from redisgears import GearsError

import gears_execution as ge
import gears_loop
from gears_loop import current_session

MODES = ("async", "async_local", "sync")
READERS = ("KeysReader", "KeysOnlyReader", "CommandReader", "PythonReader", "ShardsIDReader",
           "StreamReader")
_ids = itertools.count(1)


# This server's id, in RedisGears' shape (40 hex digits).  Random, so that
# ids made after a restart never meet the saved sessions' ids.
_SHARD_ID = "%040x" % random.getrandbits(160)


def new_id():
    return "%s-%d" % (_SHARD_ID, next(_ids))


def key_record(key, event, with_value):
    """A KeysReader record: {'key', 'type', 'value', 'event'}; the type as
    Redis's TYPE names it ('none' once the key is gone).  Takes the lock."""
    execute = redisgears.executeCommand
    kind = execute("TYPE", key)
    value = None
    if not with_value:
        pass
    elif kind == "string":
        value = execute("GET", key)
    elif kind == "hash":
        flat = execute("HGETALL", key)
        value = dict(zip(flat[::2], flat[1::2]))
    elif kind == "list":
        value = execute("LRANGE", key, 0, -1)
    elif kind == "set":
        value = execute("SMEMBERS", key)
    return {"key": key, "type": kind, "value": value, "event": event}


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
            raise GearsError("command hooks are not supported, use trigger=")
        session = current_session.get()
        if session is None:
            raise GearsError("register() must be called from RG.PYEXECUTE")
        desc = self.desc if self.desc is not None else session.desc
        reg = Registration(new_id(), str(trigger), mode, self._final_steps(convertToStr),
                           session, desc)
        reg.install()
        session.registrations.append(reg)
        if onRegistered is not None:
            onRegistered()
        return reg.id

    def _register_keys(self, prefix, convertToStr, mode, onRegistered, eventTypes=None,
                       keyTypes=None, readValue=True, noScan=False, commands=None, **ignored):
        """A flow started by each keyspace event on a key that `prefix`
        matches (a key name, or a prefix ending in '*'), filtered by the
        event names in `eventTypes` and the key types in `keyTypes`."""
        if commands is not None:
            raise GearsError("KeysReader commands= (command hooks) is not supported")
        for name, names in (("eventTypes", eventTypes), ("keyTypes", keyTypes)):
            if names is not None and (not isinstance(names, (list, tuple))
                                      or not all(isinstance(n, str) for n in names)):
                raise GearsError("%s must be a list of strings" % name)
        return self._install(KeysRegistration, prefix, convertToStr, mode, onRegistered,
                             eventTypes, keyTypes, bool(readValue))

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
        reg = kind(new_id(), str(prefix), mode, self._final_steps(convertToStr), session, desc,
                   *args)
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
            reader = lambda: [new_id().split("-")[0]]
        else:
            raise GearsError("%s can not be used with run()" % self.reader)
        session.run_started = True
        session.runner(self._final_steps(convertToStr), reader)


GB = GearsBuilder


class Registration:
    """What RG.TRIGGER finds in the registry (the C side holds a reference)."""

    def __init__(self, id, trigger, mode, steps, session, desc):
        self.id, self.trigger, self.mode, self.steps = id, trigger, mode, steps
        self.session, self.desc = session, desc

    def install(self):
        """Puts the registration in the C registry (again, after a failed UPGRADE).
        A flow whose first step is `async def` is started on the loop thread."""
        on_loop = bool(self.steps) and self.steps[0][2] == ge.LOOP
        redisgears._register_trigger(self.id, self.trigger, self.mode, self, self.desc, on_loop)

    def unregister(self):
        return redisgears._unregister(self.id)

    def forget(self):
        """RG.UNREGISTER took it: a session with no registration left is
        not registered again after a restart."""
        if not self.session.live():
            redisgears._drop_script(self.session.id)


class KeysRegistration(Registration):
    """A KeysReader registration: keyspace events start it (src/host/key_events.c)."""

    def __init__(self, id, prefix, mode, steps, session, desc, event_types, key_types, read_value):
        super().__init__(id, prefix, mode, steps, session, desc)
        self.event_types = list(event_types) if event_types is not None else None
        self.key_types = list(key_types) if key_types is not None else None
        self.read_value = read_value

    def install(self):
        on_loop = bool(self.steps) and self.steps[0][2] == ge.LOOP
        try:
            redisgears._register_keys(self.id, self.trigger, self.mode, self, self.desc, on_loop,
                                      self.event_types, self.key_types,
                                      isinstance(self, StreamRegistration))
        except ValueError as e:
            raise GearsError(str(e)) from None

    def on_event(self, key, event):
        """Runs the flow on the key's record (runtime._on_key)."""
        reader = lambda: [key_record(key, event, self.read_value)]  # noqa: E731
        ge.Execution(self.steps, reader, self.done, True, self.session).run()

    def done(self, results, errors):
        """The end of one execution: nobody waits for it, errors go to the log."""
        if errors:
            redisgears.log("%s registration %s failed: %s" % (self.READER, self.id, errors[0]),
                           level="warning")

    READER = "KeysReader"


def _locked(fn, *args):
    """fn(*args) with the Redis lock held (the GIL is let go while waiting)."""
    redisgears._lock()
    try:
        return fn(*args)
    finally:
        redisgears._unlock()


class StreamRegistration(KeysRegistration):
    """A StreamReader registration: `xadd` events on matching streams.  Each
    execution reads the entries after the last one read from that stream
    (the first, those added since the registration), as records
    {'key', 'id', 'value': {field: value}}, and with trimStream deletes them
    from the stream once it succeeded."""

    READER = "StreamReader"

    def __init__(self, id, prefix, mode, steps, session, desc, batch, duration, trim):
        super().__init__(id, prefix, mode, steps, session, desc, ["xadd"], ["stream"], False)
        self.batch, self.duration, self.trim = batch, duration, trim
        self.since = "%d" % int(time.time() * 1000)  # entries from the registration on
        self.last_ids = {}      # stream -> the last entry id read
        self.timers = set()     # streams with a `duration` timer running
        self.mutex = threading.Lock()

    def _range_start(self, key):
        last = self.last_ids.get(key)
        return "(" + last if last is not None else self.since

    def _take(self, key):
        """The new entries of `key`, marked read.  Lock held: two executions
        never read the same entry."""
        rows = redisgears.executeCommand("XRANGE", key, self._range_start(key), "+")
        if rows:
            self.last_ids[key] = rows[-1][0]
        return [{"key": key, "id": i, "value": dict(zip(f[::2], f[1::2]))} for i, f in rows]

    def _waiting(self, key):
        """How many new entries wait (at most `batch`).  Lock held."""
        return len(redisgears.executeCommand("XRANGE", key, self._range_start(key), "+",
                                             "COUNT", self.batch))

    def on_event(self, key, event):
        if self.batch > 1 and _locked(self._waiting, key) < self.batch:
            if self.duration > 0:
                self._arm_timer(key)
            return
        self._run(key)

    def _run(self, key):
        taken = []

        def reader():
            taken.extend(_locked(self._take, key))
            return list(taken)

        def done(results, errors):
            self.done(results, errors)
            if self.trim and not errors:  # exactly the entries read: older ones stay
                ids = [r["id"] for r in taken]
                for at in range(0, len(ids), 1000):
                    _locked(redisgears.executeCommand, "XDEL", key, *ids[at:at + 1000])

        ge.Execution(self.steps, reader, done, True, self.session).run()

    def _arm_timer(self, key):
        with self.mutex:
            if key in self.timers:
                return
            self.timers.add(key)
        gears_loop.call_on_loop(gears_loop.loop.call_later, self.duration / 1000.0,
                                self._timer_fired, key)

    def _timer_fired(self, key):
        """Loop thread: `duration` passed; what waits runs on the pool."""
        with self.mutex:
            self.timers.discard(key)
        redisgears._submit(self._run, key)
