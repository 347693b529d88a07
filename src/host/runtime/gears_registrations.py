"""gears_registrations -- what register() leaves behind (spec §9): the
CommandReader trigger that RG.TRIGGER finds, and the KeysReader and
StreamReader registrations that keyspace events start (src/host/key_events.c
matches the events, runtime._on_key hands them to on_event)."""
import re
import threading

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


class Registration:
    """What RG.TRIGGER finds in the registry (the C side holds a reference)."""

    hook = None  # HookRegistration: the command it takes over

    def __init__(self, id, trigger, mode, steps, session, desc):
        self.id, self.trigger, self.mode, self.steps = id, trigger, mode, steps
        self.session, self.desc = session, desc
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
                                      isinstance(self, StreamRegistration), commands, specs)
        except ValueError as e:
            raise GearsError(str(e)) from None

    def on_event(self, key, event, call=None):
        """Runs the flow on the key's record (runtime._on_key); `call` is
        the watched command whose client waits for it (override_reply)."""
        reader = lambda: [key_record(key, event, self.read_value)]  # noqa: E731
        done = self.done
        if call is not None:
            def done(results, errors):
                self.done(results, errors)
                call.execution_done()
        ge.Execution(self.steps, reader, done, True, self.session, call).run()

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
