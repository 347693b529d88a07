"""KeysReader register(commands=[...]) (RedisGears 1.2): only the events of
those commands start the flow, and the client of the command waits for the
executions they started, then gets the command's reply, or what the flow gave
override_reply() -- the read-through cache of the the-pattern QA demo."""
from support.flows import error_of, pyexecute, registrations

QA_CACHE = r'''
def qa_cached_keymiss(record):
    val = record['key'].split('_')
    cache_key = 'answer{%s}_%s_%s' % (hashtag(), val[1], val[2])
    res = execute('GET', cache_key)
    if res:
        override_reply(res)
        return res
    execute('INCR', 'computed')
    answer = 'answer to %s %s' % (val[1], val[2])
    execute('SET', cache_key, answer)
    override_reply(answer)
    return answer

GB('KeysReader').map(qa_cached_keymiss).register(prefix='bertqa*', commands=['get'],
                                                  eventTypes=['keymiss'], mode='async_local')
'''


def triggered(c, prefix):
    return [r["numTriggered"] for r in registrations(c) if r.get("regex") == prefix][0]


def test_a_key_miss_of_get_answers_with_the_flows_reply(host):
    _, c = host
    pyexecute(c, QA_CACHE)
    assert c.get("bertqa_q1_p2") == "answer to q1 p2"   # computed, the client waited
    assert c.exists("bertqa_q1_p2") == 0                # nothing stored under the asked key
    assert c.get("bertqa_q1_p2") == "answer to q1 p2"   # from the cache this time
    assert c.get("computed") == "1"
    c.set("bertqa_q2_p2", "stored")                     # a hit: no event, the value itself
    assert c.get("bertqa_q2_p2") == "stored"
    assert triggered(c, "bertqa*") == 2


def test_other_commands_events_do_not_start_it(host):
    _, c = host
    pyexecute(c, QA_CACHE)
    assert c.hget("bertqa_h_1", "f") is None   # a key miss too, but of HGET
    assert c.execute_command("GETDEL", "bertqa_h_2") is None
    assert triggered(c, "bertqa*") == 0
    assert c.get("computed") is None


def test_without_override_the_commands_own_reply_once_the_flow_ended(host):
    _, c = host
    pyexecute(c, r'''
GB('KeysReader').foreach(lambda r: execute('SET', 'loaded:' + r['key'], 'yes'))\
    .register(prefix='lazy:*', commands=['get', 'strlen'], eventTypes=['keymiss'])
''')
    [reg] = registrations(c)
    assert reg["hookCommands"] == ["get", "strlen"]  # RG.DUMPREGISTRATIONS, as RedisGears names it
    assert c.get("lazy:1") is None          # GET's own reply...
    assert c.get("loaded:lazy:1") == "yes"  # ...sent after the flow ran
    assert c.strlen("lazy:2") == 0
    assert c.get("loaded:lazy:2") == "yes"
    assert c.get("Lazy:3") is None          # not the prefix
    assert "wrong number of arguments" in error_of(c, "GET")  # Redis's own checks stay


def test_inside_multi_the_client_does_not_wait(host):
    _, c = host
    pyexecute(c, QA_CACHE)
    p = c.pipeline(transaction=True)
    p.get("bertqa_m_1")
    assert p.execute() == [None]  # GET's reply; the flow ran unlinked (override_reply failed)
    assert c.ping()


def test_the_first_override_wins(host):
    _, c = host
    pyexecute(c, r'''
def first(r):
    override_reply('first')

def second(r):
    try:
        override_reply('second')
    except Exception as e:
        execute('SET', 'second:error', str(e))

GB('KeysReader').foreach(first).register(prefix='two:*', commands=['get'], eventTypes=['keymiss'], mode='sync')
GB('KeysReader').foreach(second).register(prefix='two:*', commands=['get'], eventTypes=['keymiss'])
''')
    assert c.get("two:1") == "first"
    assert "already" in c.get("second:error")


def test_unregistered_the_command_is_plain_again(host):
    _, c = host
    pyexecute(c, QA_CACHE)
    regs = [dict(zip(r[::2], r[1::2])) for r in c.execute_command("RG.DUMPREGISTRATIONS")]
    assert c.execute_command("RG.UNREGISTER", regs[0]["id"]) == "OK"
    assert c.get("bertqa_q1_p1") is None
    assert c.get("computed") is None
