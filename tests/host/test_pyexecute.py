"""RG.PYEXECUTE: registrations, run(), Python errors, options, sessions."""
import numpy
import pytest

from support.flows import error_of, pyexecute, registrations, trigger

NO_ASYNC = ("can not run a non-sync execution inside a MULTI/LUA (blocking is not allowed) "
            "or on loading.")


def test_registration_only_replies_ok(host):
    _, c = host
    assert pyexecute(c, "GB('CommandReader').map(lambda r: r[1:]).register(trigger='t')") == "OK"
    assert pyexecute(c, "x = 1") == "OK"  # no flow at all
    assert trigger(c, "t", "a", "b") == ["['a', 'b']"]
    [reg] = registrations(c)
    assert reg["reader"] == "CommandReader" and reg["trigger"] == "t" and reg["mode"] == "async"


def test_run_replies_results_and_errors(host):
    _, c = host
    assert pyexecute(c, "GB('PythonReader').map(lambda x: x * 2).run(lambda: [1, 2, 3])") == \
        [["2", "4", "6"], []]
    res, errs = pyexecute(c, "GB('PythonReader').map(lambda x: 10 // x).run(lambda: [5, 0, 2])")
    assert res == ["2", "5"]
    assert len(errs) == 1 and "ZeroDivisionError: integer division or modulo by zero" in errs[0]
    # convertToStr=False keeps integers, lists and None as such
    assert pyexecute(c, "GB('PythonReader').run(lambda: [1, [2, 'x'], None], convertToStr=False)") == \
        [[1, [2, "x"], None], []]


def test_run_reads_keys(host):
    _, c = host
    c.set("k:1", "a")
    c.set("k:2", "b")
    c.set("other", "c")
    res, errs = pyexecute(c, "GB().map(lambda r: r['key'] + '=' + r['value']).run('k:*')")
    assert sorted(res) == ["k:1=a", "k:2=b"] and errs == []
    res, _ = pyexecute(c, "GB('KeysOnlyReader').run()")
    assert sorted(res) == ["k:1", "k:2", "other"]


@pytest.mark.parametrize("code,text", [
    ("1/0", "ZeroDivisionError: division by zero"),
    ("undefined_name", "NameError: name 'undefined_name' is not defined"),
    ("def f(:", "SyntaxError: invalid syntax (<RG.PYEXECUTE>, line 1)"),
    ("raise GearsError('my own text')", "my own text"),
    ("GB('NoSuchReader')", "unknown reader NoSuchReader"),
])
def test_python_error_is_an_error_reply(host, code, text):
    _, c = host
    assert error_of(c, "RG.PYEXECUTE", code) == text
    assert c.ping()


def test_failed_script_leaves_no_registration(host):
    _, c = host
    code = ("GB('CommandReader').register(trigger='first')\n"
            "GB('CommandReader').register(trigger='second')\n"
            "1/0\n")
    assert error_of(c, "RG.PYEXECUTE", code) == "ZeroDivisionError: division by zero"
    assert registrations(c) == []
    assert error_of(c, "RG.TRIGGER", "first") == "no such trigger"
    # the names are free again
    assert pyexecute(c, code.replace("1/0\n", "")) == "OK"
    assert sorted(r["trigger"] for r in registrations(c)) == ["first", "second"]


def test_run_only_once(host):
    _, c = host
    code = "GB('PythonReader').run(lambda: [1])\nGB('PythonReader').run(lambda: [2])"
    assert error_of(c, "RG.PYEXECUTE", code) == "run() may be called only once in a script"


def test_run_refused_inside_multi_registration_allowed(host):
    _, c = host
    p = c.pipeline(transaction=True)
    p.execute_command("RG.PYEXECUTE", "GB('PythonReader').run(lambda: [1])")
    p.execute_command("RG.PYEXECUTE", "GB('CommandReader').register(trigger='m')")
    first, second = p.execute(raise_on_error=False)
    assert str(first) == NO_ASYNC
    assert second == "OK"
    assert trigger(c, "m") == ["['m']"]


def test_description_and_id(host):
    _, c = host
    assert pyexecute(c, "GB('CommandReader').register(trigger='a')\n"
                        "GB('CommandReader', desc='own').register(trigger='b')",
                     "ID", "lib1", "DESCRIPTION", "my library") == "OK"
    descs = {r["trigger"]: r["desc"] for r in registrations(c)}
    assert descs == {"a": "my library", "b": "own"}  # the builder's desc wins
    # an ID names a session: a second one with the same ID is refused...
    assert error_of(c, "RG.PYEXECUTE", "GB('CommandReader').register(trigger='c')",
                    "ID", "lib1") == "Session lib1 already exists"
    assert sorted(r["trigger"] for r in registrations(c)) == ["a", "b"]
    # ...unless UPGRADE: its registrations replace the old ones at once
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'v2').register(trigger='a')",
                     "ID", "lib1", "UPGRADE") == "OK"
    assert [r["trigger"] for r in registrations(c)] == ["a"]
    assert trigger(c, "a") == ["v2"]
    # a failing upgrade keeps the old version
    assert error_of(c, "RG.PYEXECUTE", "GB('CommandReader').register(trigger='a')\n1/0",
                    "ID", "lib1", "UPGRADE") == "ZeroDivisionError: division by zero"
    assert trigger(c, "a") == ["v2"]
    # once its registrations are gone, the ID is free again
    [reg] = registrations(c)
    assert c.execute_command("RG.UNREGISTER", reg["id"]) == "OK"
    assert pyexecute(c, "GB('CommandReader').register(trigger='a')", "ID", "lib1") == "OK"


@pytest.mark.parametrize("opts,text", [
    (["REPLACE_WITH", "x"], "REPLACE_WITH is not supported (use ID id UPGRADE)"),
    (["BOGUS"], "unknown RG.PYEXECUTE argument"),
    (["ID"], "unknown RG.PYEXECUTE argument"),
])
def test_unsupported_options(host, opts, text):
    _, c = host
    assert error_of(c, "RG.PYEXECUTE", "GB('CommandReader').register(trigger='t')", *opts) == text
    assert registrations(c) == []  # nothing ran



def test_requirements_met_by_the_host_environment(host):
    """What the host's environment already has is used as it is (nothing is
    installed), with or without a version specifier.  Installs:
    test_requirements.py."""
    _, c = host
    script = "GB('CommandReader').map(lambda r: __import__('numpy').__version__).register(trigger='v')"
    assert pyexecute(c, script, "REQUIREMENTS", "numpy", "numpy==" + numpy.__version__, "redis>=1") == "OK"
    assert trigger(c, "v") == [numpy.__version__]


def test_an_invalid_requirement_stops_the_script(host):
    _, c = host
    assert error_of(c, "RG.PYEXECUTE", "GB('CommandReader').register(trigger='t')", "REQUIREMENTS",
                    "numpy", "numpy>>2") == "invalid requirement: numpy>>2"
    assert registrations(c) == []  # nothing ran

SESSION_NAMES = ["GearsBuilder", "GB", "execute", "atomic", "log", "configGet", "gearsConfigGet",
                 "hashtag", "call_next", "override_reply", "isAsyncAllow", "flat_error",
                 "gearsFuture", "registerTE", "createFuture", "setFutureResults",
                 "setFutureException", "runCoroutine", "gearsCtx"]


def test_session_globals(host):
    _, c = host
    code = ("import redisgears\n"
            "names = %r\n"
            "missing = [n for n in names if n not in globals()]\n"
            "GB('PythonReader').run(lambda: [missing, GB is GearsBuilder,"
            " execute is redisgears.executeCommand, log is redisgears.log])" % SESSION_NAMES)
    assert pyexecute(c, code) == [["[]", "True", "True", "True"], []]
    # each RG.PYEXECUTE gets its own globals; registered flows keep theirs
    assert pyexecute(c, "secret = 41\nGB('CommandReader').map(lambda r: secret + 1).register(trigger='s')") == "OK"
    assert pyexecute(c, "GB('PythonReader').run(lambda: ['secret' in globals()])") == [["False"], []]
    assert trigger(c, "s") == ["42"]
    # gearsCtx, the original's lower-level constructor (the AnimalRecognitionDemo uses it)
    assert pyexecute(c, "gearsCtx('CommandReader').map(lambda r: r[1] * 2).register(trigger='ctx')") == "OK"
    assert trigger(c, "ctx", "ab") == ["abab"]


def test_config_helpers(host):
    _, c = host
    code = ("GB('PythonReader').run(lambda: [configGet('maxmemory-policy'),"
            " gearsConfigGet('NoSuchKey', 'dflt'), isAsyncAllow()])")
    assert pyexecute(c, code) == [["noeviction", "dflt", "True"], []]
