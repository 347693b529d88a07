"""gears_config -- RedisGears 1.2's configuration (spec §4): the values its
module arguments gave (src/host/module.c passes them all), RG.CONFIGGET and
RG.CONFIGSET, and configGet / gearsConfigGet in flows.  Only some keys
change what this host does (ExecutionThreads: the pool, MaxExecutions: the
UNBLOCKING executions kept, PythonAttemptTraceback); the others are kept so
that tools and flows that read them get an answer."""
import threading

import redisgears
from redisgears import GearsError

import gears_loop
import gears_results

# name -> (default, settable at run time); the engine's keys match any case,
# Plugin is a list of paths
CORE = {
    "MaxExecutions": (1000, True),
    "MaxExecutionsPerRegistration": (100, True),
    "ProfileExecutions": (0, True),
    "ExecutionThreads": (3, False),
    "ExecutionMaxIdleTime": (5000, True),
    "SendMsgRetries": (3, True),
    "Plugin": ([], False),
}
# the Python plugin's keys match their exact spelling
PYTHON = {
    "PythonAttemptTraceback": (1, True),
    "OverridePythonAllocators": (0, False),
    "DownloadDeps": (0, False),
    "ForeceDownloadDepsOnEnterprise": (0, False),
    "DependenciesUrl": ("", False),
    "DependenciesSha256": ("", False),
    "PythonInstallationDir": ("", False),
    "CreateVenv": (0, False),
    "PythonInstallReqMaxIdleTime": (30000, True),
}
SAVED_EXTRA = "OK - value was saved in extra config dictionary"

_values = {name: default for name, (default, _) in {**CORE, **PYTHON}.items()}
_extra = {}  # keys RedisGears does not know, as RG.CONFIGSET gave them
_mutex = threading.Lock()  # RG.CONFIGSET on the main thread, flows read anywhere


def _core_name(key):
    return next((name for name in CORE if name.lower() == key.lower()), None)


def _apply(name, value):
    """What a key changes in this host, once it is set."""
    if name == "MaxExecutions":
        gears_results.MAX_DONE = value
    elif name == "PythonAttemptTraceback":
        gears_loop.PYTHON_ATTEMPT_TRACEBACK = value


def _set(name, text):
    """Sets a built-in key from its text; False when the text is not valid."""
    default = _values[name]
    if isinstance(default, int):
        try:
            value = int(text)
        except ValueError:
            return False
        if name == "PythonAttemptTraceback":
            if value not in (0, 1):
                return False
        elif value < 0 or (value == 0 and name not in ("SendMsgRetries", "ProfileExecutions")):
            return False
    else:
        value = text
    with _mutex:
        _values[name] = value
    _apply(name, value)
    return True


def load(pairs, threads):
    """The module arguments (name, value) as given (any case: module.c
    checked them), and the pool's size."""
    names = {name.lower(): name for name in _values}
    for given, value in pairs:
        name = names.get(given.lower())
        if name == "Plugin":
            _values["Plugin"] = _values["Plugin"] + [value]
        elif name is not None:
            _set(name, value)
    _values["ExecutionThreads"] = threads


def config_get(key):
    """RG.CONFIGGET's value of one key; raises for a key nobody set."""
    with _mutex:
        if key in _values:
            return _values[key]
        if key in _extra:
            return _extra[key]
    raise GearsError("(error) Unsupported config parameter: %s" % key)


def command_get(keys):
    out = []
    for key in keys:
        try:
            out.append(config_get(key))
        except GearsError as e:
            out.append(e)
    return out


def command_set(args):
    out = []
    for at in range(0, len(args), 2):
        key = args[at]
        if at + 1 == len(args):
            out.append(GearsError("(error) Value was not given to %s" % key))
            continue
        core = _core_name(key)
        if core is not None:
            if not CORE[core][1]:
                out.append(GearsError("(error) Config value %s not modifiable at runtime" % key))
            elif not _set(core, args[at + 1]):
                out.append(GearsError("(error) Failed setting config value %s" % key))
            else:
                out.append("OK")
        elif key in PYTHON:
            if not PYTHON[key][1]:
                out.append(GearsError("(error) %s is not configurable at runtime" % key))
            elif not _set(key, args[at + 1]):
                out.append(GearsError("Failed setting config value for key '%s' with value '%s'"
                                      % (key, args[at + 1])))
            else:
                out.append(SAVED_EXTRA)
        else:
            with _mutex:
                _extra[key] = args[at + 1]
            out.append(SAVED_EXTRA)
    return out


def configGet(key):
    """A flow's configGet: RedisGears' configuration, else Redis's (CONFIG GET)."""
    try:
        return config_get(key)
    except GearsError:
        pass
    reply = redisgears.executeCommand("CONFIG", "GET", key)
    return reply[1] if len(reply) > 1 else None


def gearsConfigGet(key, default=None):
    try:
        value = config_get(key)
    except GearsError:
        return default
    return default if value is None else value
