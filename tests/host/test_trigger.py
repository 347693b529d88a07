"""RG.TRIGGER on CommandReader flows: records, every GB operation on known
inputs, convertToStr, execution modes, register() argument errors,
RG.DUMPREGISTRATIONS and RG.UNREGISTER."""
import pytest

from support.flows import error_of, pyexecute, registrations, trigger

NUMS = "GB('CommandReader').flatmap(lambda r: [int(x) for x in r[1:]])"

# (operation chain on the numbers 3 1 2 3 5, expected reply)
OPERATIONS = [
    (".map(lambda x: x * 10)", ["30", "10", "20", "30", "50"]),
    (".filter(lambda x: x > 2)", ["3", "3", "5"]),
    (".flatmap(lambda x: [x, -x] if x == 1 else x)", ["3", "1", "-1", "2", "3", "5"]),
    (".accumulate(lambda a, x: (a or 0) + x)", ["14"]),
    (".accumulate(lambda a, x: None)", ["None"]),  # an accumulator of None is still a record
    (".collect()", ["3", "1", "2", "3", "5"]),
    (".repartition(lambda x: x)", ["3", "1", "2", "3", "5"]),
    (".count()", ["5"]),
    (".countby(lambda x: x % 2)", ["{'key': 1, 'value': 4}", "{'key': 0, 'value': 1}"]),
    (".countby()", ["{'key': '3', 'value': 2}", "{'key': '1', 'value': 1}",
                    "{'key': '2', 'value': 1}", "{'key': '5', 'value': 1}"]),
    (".groupby(lambda x: x % 2, lambda k, a, x: (a or 0) + x)",
     ["{'key': 1, 'value': 12}", "{'key': 0, 'value': 2}"]),
    (".localgroupby(lambda x: x % 2, lambda k, a, x: (a or []) + [x])",
     ["{'key': 1, 'value': [3, 1, 3, 5]}", "{'key': 0, 'value': [2]}"]),
    (".batchgroupby(lambda x: x % 2, lambda k, xs: sorted(xs))",
     ["{'key': 1, 'value': [1, 3, 3, 5]}", "{'key': 0, 'value': [2]}"]),
    (".aggregate([], lambda a, x: a + [x], lambda a, b: a + [len(b)])", ["[5]"]),
    (".aggregate(0, lambda a, x: a + x, lambda a, b: a + b)", ["14"]),
    (".aggregateby(lambda x: x % 2, 0, lambda k, a, x: a + x, lambda k, a, b: a + b)",
     ["{'key': 1, 'value': 12}", "{'key': 0, 'value': 2}"]),
    (".sort()", ["5", "3", "3", "2", "1"]),
    (".sort(reverse=False)", ["1", "2", "3", "3", "5"]),
    (".distinct()", ["3", "1", "2", "5"]),
    (".avg()", ["2.8"]),
    (".avg(lambda x: x * 2)", ["5.6"]),
    (".limit(2)", ["3", "1"]),
    (".limit(2, 1)", ["1", "2"]),
    (".limit(10, 4)", ["5"]),
    (".map(lambda x: x + 1).filter(lambda x: x % 2 == 0).count()", ["4"]),
]


@pytest.mark.parametrize("ops,expected", OPERATIONS, ids=[o for o, _ in OPERATIONS])
def test_operations(host, ops, expected):
    _, c = host
    assert pyexecute(c, NUMS + ops + ".register(trigger='t')") == "OK"
    assert trigger(c, "t", 3, 1, 2, 3, 5) == expected


@pytest.mark.parametrize("ops,expected", [
    (".count()", ["0"]),
    (".avg()", []),
    (".accumulate(lambda a, x: 1)", []),
    (".aggregate(0, lambda a, x: a + x, lambda a, b: a + b)", []),
    (".sort()", []),
])
def test_operations_on_no_records(host, ops, expected):
    _, c = host
    pyexecute(c, NUMS + ops + ".register(trigger='t')")
    assert trigger(c, "t") == expected


def test_foreach_side_effects(host):
    _, c = host
    pyexecute(c, NUMS + ".foreach(lambda x: execute('RPUSH', 'seen', x)).register(trigger='t')")
    assert trigger(c, "t", 4, 5) == ["4", "5"]  # foreach passes the records on
    assert c.lrange("seen", 0, -1) == ["4", "5"]


def test_records_are_trigger_and_args(host):
    srv, c = host
    pyexecute(c, "GB('CommandReader').map(lambda r: repr(r)).register(trigger='rec')\n"
                 "GB('CommandReader').map(lambda r: r[1]).register(trigger='echo')")
    assert trigger(c, "rec") == ["['rec']"]
    assert trigger(c, "rec", "a", "", "b c") == ["['rec', 'a', '', 'b c']"]
    raw = srv.client()  # bytes replies
    for blob in (b"\xff\x00\xfe", "é€".encode(), b"x" * 100000):
        assert raw.execute_command("RG.TRIGGER", "echo", blob) == [blob]  # bytes survive


def test_triggeronkey_declares_its_key(host):
    """RG.TRIGGERONKEY trigger key [args...]: the same record, with the key
    where ACLs and cluster routing look for it."""
    _, c = host
    pyexecute(c, "GB('CommandReader').map(lambda r: repr(r)).register(trigger='rec')")
    assert c.execute_command("RG.TRIGGERONKEY", "rec", "k1", "a") == ["['rec', 'k1', 'a']"]
    assert c.command_getkeys("RG.TRIGGERONKEY", "rec", "k1", "a") == ["k1"]
    assert "wrong number of arguments" in error_of(c, "RG.TRIGGERONKEY", "rec")
    assert error_of(c, "RG.TRIGGERONKEY", "nope", "k") == "no such trigger"


def test_each_record_becomes_a_str(host):
    _, c = host
    pyexecute(c, "GB('CommandReader').flatmap(lambda r: [1, 2.5, None, {'a': 1}, [1, 'x'], b'b', 'é'])"
                 ".register(trigger='t')")
    assert trigger(c, "t") == ["1", "2.5", "None", "{'a': 1}", "[1, 'x']", "b'b'", "é"]


def test_convert_to_str_false(host):
    srv, c = host
    pyexecute(c, "GB('CommandReader').flatmap(lambda r: [1, -2**62, 'é', None, [1, ['x', None]], b'\\xff', 2.5])"
                 ".register(trigger='t', convertToStr=False)")
    raw = srv.client()
    assert raw.execute_command("RG.TRIGGER", "t") == \
        [1, -2**62, "é".encode(), None, [1, [b"x", None]], b"\xff", b"2.5"]


def test_first_error_is_the_reply(host):
    _, c = host
    pyexecute(c, "def f(x):\n"
                 "    if x > 1:\n"
                 "        raise flat_error('bad %d' % x)\n"
                 "    return x\n" + NUMS + ".map(f).register(trigger='t')")
    assert error_of(c, "RG.TRIGGER", "t", 1, 3, 2) == "bad 3"
    assert trigger(c, "t", 1, 0) == ["1", "0"]
    # a record that is an exception object (returned, not raised) is a normal record
    pyexecute(c, "def g(r):\n"
                 "    try:\n"
                 "        1/0\n"
                 "    except Exception as e:\n"
                 "        return e\n"
                 "GB('CommandReader').map(g).register(trigger='g')")
    assert trigger(c, "g") == ["division by zero"]


def test_unknown_trigger_and_arity(host):
    _, c = host
    assert error_of(c, "RG.TRIGGER", "nope") == "no such trigger"
    assert "wrong number of arguments" in error_of(c, "RG.TRIGGER")


def test_nested_sync_triggers_stop_at_16(host):
    # A sync flow that triggers itself: each level's error wrapped the
    # inner traceback (4x longer a level), and the server grew to 20 GB
    # and crashed.  Now the 17th level is refused and the error comes back.
    _, c = host
    pyexecute(c, "def f(r):\n"
                 "    n = int(r[1])\n"
                 "    return n if n == 0 else execute('RG.TRIGGER', 'rec', str(n - 1))\n"
                 "GB('CommandReader').map(f).register(trigger='rec', mode='sync')")
    [ok] = trigger(c, "rec", "15")  # 16 nested runs: each level's reply is the repr of the one below
    assert ok.startswith("['[") and "0" in ok and "nested" not in ok
    err = error_of(c, "RG.TRIGGER", "rec", "100")  # the first error is the reply
    assert "sync flows nested more than 16 deep (RG.TRIGGER from a flow)" in err
    assert len(err) < 10_000_000
    assert c.ping()


@pytest.mark.parametrize("mode", ["async", "async_local", "sync"])
def test_modes(host, mode):
    _, c = host
    pyexecute(c, "import threading\n"
                 "GB('CommandReader').map(lambda r: [r[1], threading.current_thread() is threading.main_thread()])"
                 ".register(trigger='t', mode=%r)" % mode)
    on_main = "True" if mode == "sync" else "False"  # sync runs on Redis's main thread
    assert trigger(c, "t", "x") == ["['x', %s]" % on_main]
    assert registrations(c)[0]["mode"] == mode


@pytest.mark.parametrize("args,text", [
    ("trigger='t', mode='bad'", "unknown execution mode"),
    ("trigger='t', hook='SET'", "trigger argument can not be given with keyprefix or hook"),
    ("trigger='t', keyprefix='k'", "trigger argument can not be given with keyprefix or hook"),
    ("", "no trigger or hook argument was given"),
    ("mode='sync'", "no trigger or hook argument was given"),
])
def test_register_argument_errors(host, args, text):
    _, c = host
    assert error_of(c, "RG.PYEXECUTE", "GB('CommandReader').register(%s)" % args) == text
    assert c.execute_command("RG.DUMPREGISTRATIONS") == []


def test_run_mode_error(host):
    _, c = host
    assert error_of(c, "RG.PYEXECUTE", "GB('PythonReader').run(lambda: [1], mode='bad')") == \
        "unknown execution mode"


def test_register_returns_id_and_unregister(host):
    _, c = host
    assert pyexecute(c, "rid = GB('CommandReader').register(trigger='t')\n"
                        "GB('CommandReader').map(lambda r: rid).register(trigger='id')") == "OK"
    [rid] = trigger(c, "id")
    ids = [r["id"] for r in registrations(c)]
    assert rid in ids
    assert error_of(c, "RG.PYEXECUTE", "GB('CommandReader').register(trigger='t')") == \
        "trigger already registered"
    assert c.execute_command("RG.UNREGISTER", rid) == "OK"
    assert error_of(c, "RG.TRIGGER", "t") == "no such trigger"
    assert error_of(c, "RG.UNREGISTER", rid) == "execution does not exist"
    assert pyexecute(c, "GB('CommandReader').map(lambda r: 'again').register(trigger='t')") == "OK"
    assert trigger(c, "t") == ["again"]


# A sync flow of one map step skips the Execution (gears_execution.OneMap).
# Each function below runs both ways: alone, and followed by a filter that
# keeps every record, which takes the Execution path.  Replies must match.
ONE_MAP_FUNCTIONS = '''
import asyncio

class BadStr:
    def __str__(self):
        raise ValueError('no str')

def value(r):
    return r[1:]

def fails(r):
    raise flat_error('flat %s' % r[1:])

def raises(r):
    return 1 / 0

def bad_str(r):
    return BadStr()

async def coro_value(r):
    await asyncio.sleep(0)
    return {'args': r[1:]}

async def coro_fails(r):
    raise flat_error('async flat')

async def coro_sleeps(r):
    await asyncio.sleep(0.01)
    return 'slept %s' % r[1:]

def allowed(r):
    return isAsyncAllow()
'''
ONE_MAP_CASES = ["value", "fails", "raises", "bad_str", "coro_value", "coro_fails", "coro_sleeps",
                 "allowed"]


def _reply(c, *cmd):
    try:
        return c.execute_command(*cmd)
    except Exception as e:  # the error text is the reply to compare
        return "error: %s" % e


@pytest.mark.parametrize("convert", [True, False], ids=["convertToStr", "raw"])
def test_one_map_sync_flow_replies_as_an_execution(host, convert):
    srv, c = host
    raw = srv.client()
    code = ONE_MAP_FUNCTIONS
    for name in ONE_MAP_CASES:
        code += ("GB('CommandReader').map(%s).register(trigger='one_%s', mode='sync', convertToStr=%s)\n"
                 "GB('CommandReader').map(%s).filter(lambda x: True)"
                 ".register(trigger='ex_%s', mode='sync', convertToStr=%s)\n"
                 % (name, name, convert, name, name, convert))
    assert pyexecute(c, code) == "OK"
    for name in ONE_MAP_CASES:
        one = _reply(raw, "RG.TRIGGER", "one_" + name, "a", "b")
        assert one == _reply(raw, "RG.TRIGGER", "ex_" + name, "a", "b"), name
        # the same inside MULTI, where an async record is refused
        pipe = raw.pipeline(transaction=True)
        pipe.execute_command("RG.TRIGGER", "one_" + name, "a")
        pipe.execute_command("RG.TRIGGER", "ex_" + name, "a")
        first, second = pipe.execute(raise_on_error=False)
        assert str(first) == str(second), name
    # spot checks, so that two equally wrong paths do not pass
    assert _reply(raw, "RG.TRIGGER", "one_fails", "x") == "error: flat ['x']"
    assert _reply(raw, "RG.TRIGGER", "one_raises").startswith("error: ")
    assert "ZeroDivisionError" in _reply(raw, "RG.TRIGGER", "one_raises")
    assert _reply(raw, "RG.TRIGGER", "one_allowed") == [b"True"]
    assert _reply(raw, "RG.TRIGGER", "one_coro_sleeps", "z") == [b"slept ['z']"]
    assert _reply(raw, "RG.TRIGGER", "one_coro_value", "z") == [b"{'args': ['z']}"]
