"""RedisGears 1.2's configuration (issue 18, items 3 and 4): a redis.conf
line written for it loads the host, the arguments that mean something here
act, each one ignored gets one warning; RG.CONFIGGET / RG.CONFIGSET, and
configGet in flows."""
import time

import pytest
import redis

from support.flows import pyexecute

GEARS_CONF = ["Plugin", "/opt/redislabs/lib/modules/gears_python.so", "CreateVenv", "1",
              "ExecutionThreads", "2", "PythonInstallationDir", "/var/opt/redislabs/modules/rg",
              "MaxExecutions", "2", "PythonAttemptTraceback", "0", "DownloadDeps", "0"]


def wait_done(c, ex_id, timeout=10):
    deadline = time.time() + timeout
    while True:
        try:
            return c.execute_command("RG.GETRESULTS", ex_id)
        except redis.ResponseError:
            assert time.time() < deadline, "execution %s did not end" % ex_id
            time.sleep(0.01)


def test_redisgears_conf_line_loads_and_maps(start_host):
    srv, c = start_host(host_args=GEARS_CONF)
    with open(srv.logfile) as f:
        log = f.read()
    for name in ("Plugin", "CreateVenv", "PythonInstallationDir", "DownloadDeps"):
        assert log.count("rg: RedisGears argument %s " % name) == 1, name
    for name in ("ExecutionThreads", "MaxExecutions", "PythonAttemptTraceback"):
        assert "rg: RedisGears argument %s " % name not in log
    assert "2 threads)" in log  # ExecutionThreads: the pool's size
    # PythonAttemptTraceback 0: a failing step's error is its type and value
    assert pyexecute(c, "GB('ShardsIDReader').map(lambda x: 1 / 0).run()") == \
        [[], ["Error type: <class 'ZeroDivisionError'>, Value: division by zero"]]
    # MaxExecutions 2: the last two finished UNBLOCKING executions are kept
    ids = []
    for i in range(4):
        ids.append(pyexecute(c, "GB('ShardsIDReader').map(lambda x: %d).run()" % i, "UNBLOCKING"))
        assert wait_done(c, ids[-1]) == [[str(i)], []]
    kept = [e[1] for e in c.execute_command("RG.DUMPEXECUTIONS")]
    assert kept == ids[2:]
    assert c.execute_command("RG.CONFIGGET", "ExecutionThreads", "MaxExecutions", "Plugin", "CreateVenv") == \
        [2, 2, ["/opt/redislabs/lib/modules/gears_python.so"], 1]


def test_config_get_and_set(host):
    _, c = host
    reply = c.execute_command("RG.CONFIGGET", "MaxExecutions", "maxexecutions", "PythonAttemptTraceback",
                              "NoSuchKey")
    assert reply[0] == 1000 and reply[2] == 1
    assert [str(e) for e in reply[1::2]] == ["(error) Unsupported config parameter: maxexecutions",
                                            "(error) Unsupported config parameter: NoSuchKey"]
    assert all(isinstance(e, redis.ResponseError) for e in reply[1::2])
    assert c.execute_command("RG.CONFIGSET", "maxexecutions", "5", "PythonAttemptTraceback", "0",
                             "myKey", "myValue") == \
        ["OK", "OK - value was saved in extra config dictionary",
         "OK - value was saved in extra config dictionary"]
    assert c.execute_command("RG.CONFIGGET", "MaxExecutions", "ExecutionThreads", "PythonAttemptTraceback",
                             "myKey") == [5, 3, 0, "myValue"]
    # the settings act, and flows read them
    assert pyexecute(c, "GB('ShardsIDReader').map(lambda x: 1 / 0).run()") == \
        [[], ["Error type: <class 'ZeroDivisionError'>, Value: division by zero"]]
    assert pyexecute(c, "GB('ShardsIDReader').map(lambda x: [configGet('myKey'), "
                        "gearsConfigGet('MaxExecutions'), gearsConfigGet('nokey', 'd')]).run()") == \
        [["['myValue', 5, 'd']"], []]


def test_config_set_errors(host):
    _, c = host
    reply = c.execute_command("RG.CONFIGSET", "ExecutionThreads", "4", "MaxExecutions", "many",
                              "CreateVenv", "1", "PythonAttemptTraceback", "2", "odd")
    assert [str(e) for e in reply] == ["(error) Config value ExecutionThreads not modifiable at runtime",
                                       "(error) Failed setting config value MaxExecutions",
                                       "(error) CreateVenv is not configurable at runtime",
                                       "Failed setting config value for key 'PythonAttemptTraceback' "
                                       "with value '2'",
                                       "(error) Value was not given to odd"]
    assert all(isinstance(e, redis.ResponseError) for e in reply)
    assert c.execute_command("RG.CONFIGGET", "MaxExecutions", "ExecutionThreads", "PythonAttemptTraceback") == \
        [1000, 3, 1]
    with pytest.raises(redis.ResponseError, match="wrong number of arguments"):
        c.execute_command("RG.CONFIGGET")
