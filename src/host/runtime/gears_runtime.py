"""gears_runtime -- the Python side of the host (spec §9), imported once at
start-up by src/host/pyhost.c.  It starts the loop thread, publishes the
names flows use, and offers the two entry points the C commands call:
_pyexecute (RG.PYEXECUTE) and _trigger (RG.TRIGGER)."""
import json
import traceback

import redisgears
from redisgears import GearsError

import gears_builder
import gears_config
import gears_execution
import gears_hooks
import gears_requirements
import gears_results
import gears_loop
import gears_numpy_print
from gears_globals import SESSION_NAMES
from gears_loop import current_session, current_user

gears_config.load(redisgears._module_args, redisgears._threads)
gears_numpy_print.install(redisgears._module_args)


class Session:
    """One RG.PYEXECUTE call: its globals and what it registered.  `user`
    (a capsule, or None for full rights) is the ACL user who sent it: its
    code, its run() and the flows its events start act for that user."""

    def __init__(self, id, desc, code, requirements=(), user=None):
        self.id, self.desc, self.code, self.user = id, desc, code, user
        self.requirements = list(requirements)  # RG.PYEXECUTE ... REQUIREMENTS, as given
        self.dropped = set()  # the order, in the script, of the registrations RG.UNREGISTER took
        self.globals = dict(SESSION_NAMES, __name__="__main__")
        self.registrations = []  # objects with .id, install() and unregister()
        self.runner = None       # set while the script runs: starts run()
        self.run_started = False

    def live(self):
        """The registrations not removed since (RG.UNREGISTER)."""
        return [r for r in self.registrations if redisgears._is_registered(r.id)]

    def store(self):
        """Files the script for the RDB (src/host/script_store.c)."""
        redisgears._store_script(self.id, self.desc, self.code, ",".join(map(str, sorted(self.dropped))),
                                 redisgears._user_name(self.user), gears_requirements.dumps(self.requirements))
        self.store_state()

    def state_text(self):
        """Where its readers are ({order in the script: state}), as JSON;
        "" when none of them has a state."""
        states = ((i, r.saved_state()) for i, r in enumerate(self.registrations))
        state = {i: s for i, s in states if s is not None}
        return json.dumps(state) if state else ""

    def store_state(self):
        """Keeps the readers' state with the filed script (Redis lock held)."""
        text = self.state_text()
        if text:
            redisgears._store_state(self.id, text)

    def unregister_all(self):
        """Removes this session's registrations; returns the ones removed."""
        return [r for r in self.registrations if r.unregister()]


SESSIONS = {}  # session ID (given, or generated) -> the Session with registrations


def _completer(waiter, kind):
    return lambda results, errors: redisgears._complete(waiter, results, errors, kind)


def _pyexecute(code, waiter, may_block, id, desc, upgrade, replay=False, dropped="", state="",
               unblocking=False, requirements=(), user=None):
    """Runs a script.  Returns True when run() started an execution (the
    reply then comes through `waiter`), its id with `unblocking` (the
    results wait in gears_results), False for a plain registration.
    A script that fails leaves no registration behind; with UPGRADE, the
    registrations of the session with the same ID are replaced only when the
    new script succeeds (all of this runs under the Redis lock).  A script
    that registered something is filed for the RDB (src/host/script_store.c);
    `replay` runs such a script again after a load, skipping its run() and
    the registrations that RG.UNREGISTER took (`dropped`: their order in
    the script, "1,3"), and puts its readers back where they were (`state`,
    Session.state_text).  `requirements` are those it was sent with, met
    already (gears_requirements): they are saved with it.  `user` is the
    sender's ACL user (a capsule, None: full rights); a replay's code runs
    with full rights (it reads only: its writes are skipped), its flows with
    the user saved with it."""
    old = SESSIONS.get(id) if id is not None else None
    if old is not None and not old.live():
        old = None
    if old is not None and not upgrade:
        raise GearsError("Session %s already exists" % id)
    session = Session(id or gears_builder.new_id(), desc, code, requirements, user)
    session.dropped = {int(x) for x in dropped.split(",") if x}  # not registered again
    started = []

    def runner(steps, reader):
        if replay:  # its execution ran when the script was first sent
            return
        if not unblocking and not may_block:
            raise GearsError("can not run a non-sync execution inside a MULTI/LUA "
                             "(blocking is not allowed) or on loading.")
        started.append((steps, reader))

    session.runner = runner
    replaced = old.unregister_all() if old is not None else []
    token = current_session.set(session)
    user_token = current_user.set(None if replay else user)
    try:
        exec(compile(code, "<RG.PYEXECUTE>", "exec"), session.globals)
    except BaseException as e:
        session.unregister_all()
        for reg in replaced:
            reg.install()
        if isinstance(e, GearsError):
            raise
        if isinstance(e, SyntaxError):
            raise GearsError("SyntaxError: %s" % e) from None
        raise GearsError("".join(traceback.format_exception_only(type(e), e)).strip()) from None
    finally:
        current_session.reset(token)
        current_user.reset(user_token)
        session.runner = None
    for n, reader_state in (json.loads(state) if state else {}).items():
        if int(n) < len(session.registrations):
            session.registrations[int(n)].restore_state(reader_state)
    if session.registrations:  # under its generated ID too: a replay after a load replaces it
        SESSIONS[session.id] = session
    elif old is not None:
        del SESSIONS[id]
    if session.registrations:
        session.store()
    elif old is not None:
        redisgears._drop_script(old.id)
    if not started:
        return False
    steps, reader = started[0]
    if unblocking:  # the results wait for RG.GETRESULTS
        reply = gears_builder.new_id()
        done = gears_results.start(reply)
    else:
        reply, done = True, _completer(waiter, 1)
    execution = gears_execution.Execution(steps, reader, done, True, session, user=user)
    if unblocking:
        gears_results.track(reply, execution)
    redisgears._submit(execution.run)
    return reply


# RG.GETRESULTS (op GET), RG.GETRESULTSBLOCKING (BLOCK), RG.DROPEXECUTION
# (DROP), RG.DUMPEXECUTIONS (DUMP).
_results = gears_results.command


def _forget_session(id):
    """RG._SCRIPT DROP from the master: the session's registrations go."""
    session = SESSIONS.pop(id, None)
    if session is not None:
        session.unregister_all()
    redisgears._drop_script(id)


def _keep_sessions(ids):
    """A load replaced the data set (a replica's full sync, DEBUG RELOAD):
    the sessions it did not bring go; those it brought are run again."""
    for id in [i for i in SESSIONS if i not in ids]:
        _forget_session(id)


gears_requirements.sessions = lambda: list(SESSIONS.values())


def _trigger(reg, args, waiter, allow_async, db=0, user=None):
    """RG.TRIGGER, or a hooked command: runs `reg`'s flow on the record
    [trigger or command, args...] on the calling thread (a pool thread, or
    the main thread for sync); `db` is the caller's database, `user` its
    ACL user (a capsule; None: full rights)."""
    hook = gears_hooks.HookCall(reg.hook, db, args) if reg.hook is not None else None
    done = reg.stats.track(hook.completer(waiter) if hook is not None else _completer(waiter, 0))
    if reg.one_map is not None and gears_loop.on_main():
        fn, convert = reg.one_map
        gears_execution.OneMap(done, allow_async, convert, hook).run(fn, args, reg.session, user)
        return
    gears_execution.Execution(reg.steps, lambda: [args], done, allow_async, reg.session, hook, user).run()


def _pystats():
    """RG.PYSTATS: this host does not count Python's allocations (RedisGears'
    OverridePythonAllocators), so its figures are 0."""
    return ["TotalAllocated", 0, "PeakAllocated", 0, "CurrAllocated", 0]


def _dump_registrations():
    return [reg.dump(triggered) for reg, triggered in redisgears._registry()]


# The commands of src/host/tooling_commands.c: name -> fn(args) -> the reply
_TOOLS = {
    "CONFIGGET": gears_config.command_get,
    "CONFIGSET": gears_config.command_set,
    "PYSTATS": lambda args: _pystats(),
    "ABORTEXECUTION": lambda args: gears_results.abort(args[0]),
    "DUMPREGISTRATIONS": lambda args: _dump_registrations(),
}


def _tool(name, args):
    return _TOOLS[name](args)


def _on_key(reg, key, event, call=None):
    """A keyspace event matched the KeysReader or StreamReader registration
    `reg`: it runs its flow on the calling thread (a pool thread, or for sync
    the thread that changed the key, under the Redis lock); `call`, a
    gears_hooks.KeyCommandCall, is the watched command whose client waits
    for it."""
    reg.on_event(key.decode("utf-8", "surrogateescape"), event, call)


KeyCommandCall = gears_hooks.KeyCommandCall  # made by src/host/key_commands.c


gears_loop.start()
