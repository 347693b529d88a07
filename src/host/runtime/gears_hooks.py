"""gears_hooks -- CommandReader hooks (spec §9): a Redis command that a flow
takes over, GB('CommandReader').map(f).register(hook='hset',
keyprefix='user:').  src/host/command_hooks.c hands each call of it to the
flow, on the record [command, args...]; the flow's result is the reply:

- its one record (with convertToStr, the default, as a string), or the list
  of its records when there are none or several; the first error record if
  any;
- unless the flow called override_reply(value): then value (an exception
  is sent as an error reply);
- get_command() gives the call, [command, args...];
- call_next(*args) runs the command itself with those arguments (not
  another hook), in the caller's database, and returns its reply, as
  execute() would.
"""
import threading

import redisgears
from redisgears import GearsError

from gears_execution import error_text
from gears_loop import current_execution

_NOTHING = object()


class HookCall:
    """One call of a hooked command: the command call_next runs, and the
    reply override_reply chose."""

    __slots__ = ("command", "db", "args", "reply")

    def __init__(self, command, db, args):
        self.command, self.db, self.args, self.reply = command, db, args, _NOTHING

    def completer(self, waiter):
        """The done(results, errors) of the call's execution."""
        def done(results, errors):
            reply = self.reply
            if reply is _NOTHING:
                reply = results[0] if len(results) == 1 else results
            elif isinstance(reply, BaseException):
                errors = errors or [error_text(reply)]
            redisgears._complete(waiter, [reply], errors, 2)
        return done


class KeyCommandCall:
    """A call of a command that KeysReader registrations with commands=[...]
    watch (src/host/key_commands.c), once an execution is linked to it: its
    client waits for the command and each linked execution, then gets the
    command's reply, or the value the first override_reply() gave."""

    command = None  # no call_next: the command runs by itself

    def __init__(self, waiter):
        self.waiter = waiter
        self.pending = 1  # the command itself, until command_done
        self.original = None  # (the command's reply, whether it is an error)
        self._reply = _NOTHING
        self.mutex = threading.Lock()  # linked executions end on any thread

    @property
    def reply(self):
        return self._reply

    @reply.setter
    def reply(self, value):
        with self.mutex:
            if self._reply is not _NOTHING:
                raise GearsError("override_reply was already called for this command")
            self._reply = value

    def link(self):
        with self.mutex:
            self.pending += 1

    def command_done(self, reply, is_error):
        self.original = (reply, is_error)
        self.execution_done()

    def execution_done(self):
        with self.mutex:
            self.pending -= 1
            if self.pending:
                return
        reply, errors = self._reply, []
        if reply is _NOTHING:
            reply, is_error = self.original
            errors = [reply] if is_error else []
        elif isinstance(reply, BaseException):
            errors = [error_text(reply)]
        redisgears._complete(self.waiter, [reply], errors, 2)


def _current(name):
    hook = getattr(current_execution.get(), "hook", None)
    if hook is None:
        raise GearsError("%s can only be called from the flow of a command hook" % name)
    return hook


def call_next(*args):
    """Runs the hooked command itself with `args` (without its name), in the
    caller's database (async steps run elsewhere, in database 0)."""
    hook = _current("call_next")
    if hook.command is None:
        raise GearsError("call_next can only be called from the flow of a command hook")
    return redisgears._execute_in_db(hook.db, hook.command, *args)


def get_command():
    """The hooked call: [command, args...] as the client sent it."""
    hook = _current("get_command")
    if hook.command is None:  # a watched command's KeysReader flow
        raise GearsError("get_command can only be called from the flow of a command hook")
    return list(hook.args)


def override_reply(value):
    """What the hooked command replies, instead of the flow's records."""
    _current("override_reply").reply = value


# Commands that change the client's own connection: run by the module's
# client they would change nothing (SELECT) or the wrong one.
CONNECTION_COMMANDS = ("select", "readonly", "readwrite", "asking")


def command_info(command, keyprefix):
    """(name, (arity, first key, last key, key step, writes)) of a command a
    hook may take; a GearsError says why not."""
    if not isinstance(command, str) or not command:
        raise GearsError("hook must be a command name")
    if keyprefix is not None and not isinstance(keyprefix, str):
        raise GearsError("keyprefix must be a string")
    info = redisgears.executeCommand("COMMAND", "INFO", command)
    if not info or not info[0]:
        raise GearsError("can not hook %s: no such command" % command)
    name, arity, flags, first, last, step = info[0][:6]
    name = name.lower()
    why = None
    if name.startswith("rg."):
        why = "a command of this module"
    elif "noscript" in flags or name in CONNECTION_COMMANDS:  # MULTI, SUBSCRIBE, SELECT...
        why = "it only works on the client's own connection"
    elif "blocking" in flags:  # run by the module, it would never wait
        why = "it may block the client"
    elif len(info[0]) > 9 and info[0][9]:  # CLIENT, CONFIG, XGROUP...: each subcommand has its own rules
        why = "it is a container of subcommands"
    elif keyprefix is not None and first <= 0:
        why = "it takes no key, so no keyprefix"
    elif keyprefix is not None and "movablekeys" in flags:
        why = "its keys move, so no keyprefix"
    if why is not None:
        raise GearsError("can not hook %s: %s" % (name, why))
    return name, (arity, first, last, step, "write" in flags)
