"""gears_registrations -- what register() leaves behind (spec §9): the
CommandReader trigger that RG.TRIGGER finds, and the KeysReader and
StreamReader registrations that keyspace events start (src/host/key_events.c
matches the events, runtime._on_key hands them to on_event)."""
import re
import threading
import time

import redisgears
from redisgears import GearsError

import gears_execution as ge
import gears_hooks
import gears_loop


def key_record(key, event, with_value):
    """A KeysReader record: {'key', 'type', 'value', 'event'}; the type as
    Redis's TYPE names it ('none' once the key is gone).  Takes the lock.
    A key miss reads nothing: the key is missing, and TYPE would raise
    another miss on it, which would start the flow again."""
    if event == "keymiss":
        return {"key": key, "type": "none", "value": None, "event": event}
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


class Stats:
    """How a registration's executions ended, for RG.DUMPREGISTRATIONS (the
    C registry counts those that started: numTriggered)."""

    def __init__(self):
        self.success = self.failures = 0
        self.last_ms = self.total_ms = 0
        self.last_error = None
        self.last_lag = self.total_lag = self.lags = 0  # StreamReader: ms from XADD to the read
        self.mutex = threading.Lock()  # executions end on any thread

    def track(self, done):
        """`done(results, errors)` of an execution that starts now, counted."""
        start = time.monotonic()

        def counted(results, errors):
            ms = int((time.monotonic() - start) * 1000)
            with self.mutex:
                if errors:
                    self.failures += 1
                    self.last_error = str(errors[0])
                else:
                    self.success += 1
                self.last_ms, self.total_ms = ms, self.total_ms + ms
            done(results, errors)
        return counted

    def lag(self, entry_id):
        """A StreamReader execution read the batch whose first entry is
        `entry_id` ('<ms>-<seq>') now."""
        ms = max(0, int(time.time() * 1000) - int(entry_id.split("-")[0]))
        with self.mutex:
            self.last_lag, self.total_lag, self.lags = ms, self.total_lag + ms, self.lags + 1

    def lag_fields(self):
        with self.mutex:
            return ["lastEstimatedLagMS", self.last_lag,
                    "avgEstimatedLagMS", "%f" % (self.total_lag / self.lags if self.lags else 0.0)]

    def fields(self, triggered):
        with self.mutex:
            ended = self.success + self.failures
            return ["numTriggered", triggered, "numSuccess", self.success, "numFailures", self.failures,
                    "numAborted", 0, "lastRunDurationMS", self.last_ms, "totalRunDurationMS", self.total_ms,
                    "avgRunDurationMS", "%f" % (self.total_ms / ended if ended else 0.0)], self.last_error


def _session_text(session):
    """The PD of RG.DUMPREGISTRATIONS: RedisGears' text of the session."""
    ids = [r.id for r in session.live()]
    return ("{'sessionName':'%s', 'sessionDescription':'%s', 'refCount': %d, 'linkedTo': primary, "
            "'dead': false, 'isInstallationNeeded':0, 'registrationsList':[%s], 'depsList':[]}"
            % (session.id, session.desc if session.desc is not None else "null", len(ids) + 1,
               ", ".join("'%s'" % i for i in ids)))


class Registration:
    """What RG.TRIGGER finds in the registry (the C side holds a reference)."""

    hook = None  # HookRegistration: the command it takes over
    READER = "CommandReader"

    def __init__(self, id, trigger, mode, steps, session, desc):
        self.id, self.trigger, self.mode, self.steps = id, trigger, mode, steps
        self.session, self.desc = session, desc
        self.stats = Stats()
        # A sync flow of one `map` step (and convertToStr's) runs without an
        # Execution: ge.OneMap.
        self.one_map = ge.OneMap.shape(steps) if mode == "sync" else None

    def install(self):
        """Puts the registration in the C registry (again, after a failed UPGRADE).
        A flow whose first step is `async def` is started on the loop thread."""
        on_loop = bool(self.steps) and self.steps[0][2] == ge.LOOP
        redisgears._register_trigger(self.id, self.trigger, self.mode, self, self.desc, on_loop)

    def unregister(self):
        return redisgears._unregister(self.id)

    def saved_state(self):
        """What a load must give back to it (restore_state), or None."""
        return None

    def restore_state(self, state):
        pass

    def reader_args(self):
        return ["trigger", self.trigger, "inorder", 0]

    def dump(self, triggered):
        """Its entry in RG.DUMPREGISTRATIONS, in RedisGears 1.2's layout."""
        counts, last_error = self.stats.fields(triggered)
        last_error = self.user_error() or last_error
        data = ["mode", self.mode] + counts + self.lag_fields() + ["lastError", last_error,
                                                                    "args", self.reader_args()]
        data += self.status_fields() + self.user_fields()
        return ["id", self.id, "reader", self.READER, "desc", self.desc, "RegistrationData", data,
                "PD", _session_text(self.session), "ExecutionThreadPool", "DefaultPool"]

    def lag_fields(self):
        return []

    def status_fields(self):
        return []

    def user_fields(self):
        return []

    def user_error(self):
        return None

    def forget(self):
        """RG.UNREGISTER took it: it is not registered again after a load,
        nor is a session with no registration left."""
        session = self.session
        if not session.live():
            redisgears._drop_script(session.id)
        elif self in session.registrations:
            session.dropped.add(session.registrations.index(self))
            session.store()


class HookRegistration(Registration):
    """A CommandReader hook: calls of `command` (whose key starts with
    `keyprefix`, if given) run the flow instead (gears_hooks)."""

    def __init__(self, id, command, mode, steps, session, desc, keyprefix):
        self.hook, self.spec = gears_hooks.command_info(command, keyprefix)
        super().__init__(id, self.hook, mode, steps, session, desc)
        self.keyprefix = keyprefix

    def reader_args(self):  # RedisGears' and, after it, the keyprefix
        return super().reader_args() + ["keyprefix", self.keyprefix]

    def install(self):
        on_loop = bool(self.steps) and self.steps[0][2] == ge.LOOP
        redisgears._register_hook(self.id, self.hook, self.keyprefix, self.spec, self.mode, self,
                                  self.desc, on_loop)


class KeysRegistration(Registration):
    """A KeysReader registration: keyspace events start it (src/host/key_events.c)."""

    def __init__(self, id, prefix, mode, steps, session, desc, event_types, key_types, read_value,
                 commands=None):
        super().__init__(id, prefix, mode, steps, session, desc)
        self.event_types = list(event_types) if event_types is not None else None
        self.key_types = list(key_types) if key_types is not None else None
        self.read_value = read_value
        # commands=[...]: only their events, with their client waiting (src/host/key_commands.c)
        self.commands = None
        if commands is not None:
            self.commands = [gears_hooks.command_info(c, None) for c in commands]

    def install(self):
        on_loop = bool(self.steps) and self.steps[0][2] == ge.LOOP
        commands = specs = None
        if self.commands is not None:
            commands, specs = [c[0] for c in self.commands], [c[1] for c in self.commands]
        try:
            redisgears._register_keys(self.id, self.trigger, self.mode, self, self.desc, on_loop,
                                      self.event_types, self.key_types,
                                      isinstance(self, StreamRegistration), self.session.user, commands, specs)
        except ValueError as e:
            raise GearsError(str(e)) from None

    def reader_args(self):
        commands = [c[0] for c in self.commands] if self.commands is not None else None
        return ["regex", self.trigger, "eventTypes", self.event_types, "keyTypes", self.key_types,
                "hookCommands", commands]

    def user_fields(self):
        """Ours, after RedisGears's fields: the ACL user its flows act for
        (who registered it; None: full rights)."""
        return ["user", redisgears._user_name(self.session.user)]

    def user_error(self):
        """Why its events start nothing, while its user is gone."""
        if redisgears._user_exists(self.session.user):
            return None
        return ("the ACL user '%s' who registered it no longer exists: its events start no execution"
                % redisgears._user_name(self.session.user))

    def on_event(self, key, event, call=None):
        """Runs the flow on the key's record (runtime._on_key); `call` is
        the watched command whose client waits for it (override_reply)."""
        reader = lambda: [key_record(key, event, self.read_value)]  # noqa: E731
        done = self.stats.track(self.done)
        if call is not None:
            tracked = done

            def done(results, errors):
                tracked(results, errors)
                call.execution_done()
        ge.Execution(self.steps, reader, done, True, self.session, call, self.session.user).run()

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


def _name(reply):
    """A key name from executeCommand: str, or bytearray if not UTF-8."""
    return reply if isinstance(reply, str) else bytes(reply).decode("utf-8", "surrogateescape")


def _last_ids(prefix):
    """{stream: id of its last entry} of the non-empty streams that match
    `prefix` now (registry.c's rule).  Lock held."""
    if prefix.endswith("*"):
        pattern = re.sub(r"([\\\[\]*?])", r"\\\1", prefix[:-1]) + "*"
        keys, cursor = [], "0"
        while True:
            cursor, batch = redisgears.executeCommand("SCAN", cursor, "MATCH", pattern, "TYPE", "stream",
                                                      "COUNT", 1000)
            keys += [_name(k) for k in batch]
            if cursor == "0":
                break
    else:
        keys = [prefix] if redisgears.executeCommand("TYPE", prefix) == "stream" else []
    last = {}
    for key in keys:
        rows = redisgears.executeCommand("XREVRANGE", key, "+", "-", "COUNT", 1)
        if rows:
            last[key] = rows[0][0]
    return last


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
        # stream -> the last entry id read; at first, that of each stream that
        # exists now (a stream created later is read from its first entry)
        self.last_ids = _locked(_last_ids, prefix)
        self.timers = set()     # streams with a `duration` timer running
        self.mutex = threading.Lock()

    def _range_start(self, key):
        last = self.last_ids.get(key)
        return "(" + last if last is not None else "-"

    def saved_state(self):
        return dict(self.last_ids)

    def restore_state(self, state):
        """After a load: the entries read before it are not read again, and
        those that waited for a batch are still to be read."""
        self.last_ids = dict(state)

    def _take(self, key):
        """The new entries of `key`, marked read.  Lock held: two executions
        never read the same entry."""
        rows = redisgears.executeCommand("XRANGE", key, self._range_start(key), "+")
        if rows:
            self.last_ids[key] = rows[-1][0]
            self.session.store_state()  # for the RDB: a restart goes on from here
        return [{"key": key, "id": i, "value": dict(zip(f[::2], f[1::2]))} for i, f in rows]

    def _waiting(self, key):
        """How many new entries wait (at most `batch`).  Lock held."""
        return len(redisgears.executeCommand("XRANGE", key, self._range_start(key), "+",
                                             "COUNT", self.batch))

    def on_event(self, key, event, call=None):
        if self.batch > 1 and _locked(self._waiting, key) < self.batch:
            if self.duration > 0:
                self._arm_timer(key)
            return
        self._run(key)

    def _run(self, key):
        taken = []

        def reader():
            taken.extend(_locked(self._take, key))
            if taken:
                self.stats.lag(taken[0]["id"])
            return list(taken)

        def done(results, errors):
            self.done(results, errors)
            if self.trim and not errors:  # exactly the entries read: older ones stay
                ids = [r["id"] for r in taken]
                for at in range(0, len(ids), 1000):
                    _locked(redisgears.executeCommand, "XDEL", key, *ids[at:at + 1000])

        ge.Execution(self.steps, reader, self.stats.track(done), True, self.session,
                     user=self.session.user).run()

    def reader_args(self):
        return ["batchSize", self.batch, "durationMS", self.duration, "stream", self.trigger,
                "trimStream", int(self.trim), "onFailedPolicy", "continue", "retryInterval", 1]

    def lag_fields(self):
        return self.stats.lag_fields()

    def status_fields(self):
        return ["status", "OK"]

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
