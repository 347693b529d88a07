"""Auto-batching (spec §6.4): BATCHSIZE, MINBATCHSIZE and MINBATCHTIMEOUT
with several clients at once.  The ONNX "batch probe" model returns, next
to 2*x, the number of rows of the run it was part of, so each client sees
both its own result and the size of the batch that produced it."""
import threading
import time

import numpy as np
import pytest

import model_cases as mc
from support.server import ENGINE
from tensor_helpers import RawClient, info_field, wait_for

PROBE = mc.onnx_batch_probe()


def probe_store(r, *options):
    assert r.execute_command("AI.MODELSTORE", "probe", "ONNX", "CPU", *options, "BLOB", PROBE) == b"OK"


def rows(i, n=1, width=2):
    """n rows that belong to client i alone."""
    return (np.arange(n * width, dtype=np.float32).reshape(n, width) + 100 * i + 1)


def send_probe(srv, i, x, client=None):
    """Sets client i's input (unless `client`, which did) and sends its run
    without waiting for the reply."""
    c = client or input_client(srv, i, x)
    c.send("AI.MODELEXECUTE", "probe", "INPUTS", 1, f"x{i}", "OUTPUTS", 2, f"y{i}", f"n{i}")
    return c


def input_client(srv, i, x):
    c = RawClient(srv.sock)
    c.ok("AI.TENSORSET", f"x{i}", "FLOAT", *x.shape, "BLOB", x.tobytes())
    return c


def result(r, i):
    """(y, batch rows seen by each of the client's rows) of client i."""
    y = np.frombuffer(r.execute_command("AI.TENSORGET", f"y{i}", "BLOB"), np.float32)
    n = np.frombuffer(r.execute_command("AI.TENSORGET", f"n{i}", "BLOB"), np.float32)
    return y, n


def wait_blocked(r, n):
    wait_for(lambda: int(info_field(r, "clients", "blocked_clients")) == n, f"{n} blocked clients")


def test_timeout_drops_a_run_that_waits_for_its_batch(engine):
    """TIMEOUT also counts the time a run waits for MINBATCHSIZE rows: with
    no MINBATCHTIMEOUT it would wait for ever; it gets TIMEDOUT, writes no
    output, and the runs after it still batch."""
    r = engine.client()
    probe_store(r, "BATCHSIZE", 2, "MINBATCHSIZE", 2)
    c = input_client(engine, 0, rows(0))
    started = time.monotonic()
    c.send("AI.MODELEXECUTE", "probe", "INPUTS", 1, "x0", "OUTPUTS", 2, "y0", "n0", "TIMEOUT", 300)
    assert c.read() == b"TIMEDOUT"
    assert 0.29 <= time.monotonic() - started < 5
    assert r.exists("y0", "n0") == 0
    pair = [send_probe(engine, i, rows(i)) for i in (1, 2)]
    for i, p in zip((1, 2), pair):
        assert p.read() == b"OK"
        y, n = result(r, i)
        assert y.tolist() == (2 * rows(i)).ravel().tolist()
        assert n.tolist() == [2.0]


def test_minbatchsize_waits_for_enough_rows(engine):
    r = engine.client()
    probe_store(r, "BATCHSIZE", 4, "MINBATCHSIZE", 4)
    xs = [rows(i) for i in range(4)]
    waiting = [send_probe(engine, i, xs[i]) for i in range(3)]
    wait_blocked(r, 3)  # three rows are not enough: all wait
    last = send_probe(engine, 3, xs[3])
    for c in waiting + [last]:
        assert c.read() == b"OK"
    for i in range(4):
        y, n = result(r, i)
        assert y.tolist() == (2 * xs[i]).ravel().tolist()
        assert n.tolist() == [4.0]
    info = mc.meta(r.execute_command("AI.INFO", "probe"))
    assert (info["calls"], info["samples"], info["errors"]) == (4, 4, 0)


def test_requests_of_several_rows_are_batched_and_split(engine):
    r = engine.client()
    probe_store(r, "BATCHSIZE", 6, "MINBATCHSIZE", 6)
    xs = [rows(i, n=2, width=3) for i in range(3)]
    clients = [send_probe(engine, i, xs[i]) for i in range(3)]
    for c in clients:
        assert c.read() == b"OK"
    for i in range(3):
        y, n = result(r, i)
        assert y.tolist() == (2 * xs[i]).ravel().tolist()
        assert n.tolist() == [6.0, 6.0]
    assert mc.meta(r.execute_command("AI.INFO", "probe"))["samples"] == 6


def test_minbatchtimeout_runs_what_has_arrived(engine):
    r = engine.client()
    probe_store(r, "BATCHSIZE", 8, "MINBATCHSIZE", 8, "MINBATCHTIMEOUT", 20)
    c = send_probe(engine, 0, rows(0))
    assert c.read() == b"OK"
    assert result(r, 0)[1].tolist() == [1.0]
    # two requests sent together, far less than 2 s apart, share the run
    probe_store(r, "BATCHSIZE", 8, "MINBATCHSIZE", 8, "MINBATCHTIMEOUT", 2000)
    clients = [send_probe(engine, i, rows(i)) for i in (1, 2)]
    for i, c in zip((1, 2), clients):
        assert c.read() == b"OK"
        y, n = result(r, i)
        assert y.tolist() == (2 * rows(i)).ravel().tolist() and n.tolist() == [2.0]


def test_incompatible_inputs_are_not_batched(engine):
    """Runs whose inputs differ beyond dim 0 never share a batch: each one
    runs alone once its MINBATCHTIMEOUT has passed."""
    r = engine.client()
    probe_store(r, "BATCHSIZE", 4, "MINBATCHSIZE", 2, "MINBATCHTIMEOUT", 100)
    a, b = rows(0, width=2), rows(1, width=3)
    clients = [send_probe(engine, 0, a), send_probe(engine, 1, b)]
    for c in clients:
        assert c.read() == b"OK"
    for i, x in enumerate((a, b)):
        y, n = result(r, i)
        assert y.tolist() == (2 * x).ravel().tolist() and n.tolist() == [1.0]


def test_string_inputs_are_batched(engine):
    """STRING inputs batch like the others: the two runs (one row each) are
    one batch of 2, and each gets its own strings back."""
    r = engine.client()
    assert r.execute_command("AI.MODELSTORE", "strid", "ONNX", "CPU", "BATCHSIZE", 2, "MINBATCHSIZE", 2,
                             "BLOB", mc.onnx_string_batch_probe()) == b"OK"
    values = [b"first", b"a longer second"]
    clients = []
    for i, value in enumerate(values):
        r.execute_command("AI.TENSORSET", f"s{i}", "STRING", 1, "VALUES", value)
        c = RawClient(engine.sock)
        c.send("AI.MODELEXECUTE", "strid", "INPUTS", 1, f"s{i}", "OUTPUTS", 2, f"out{i}", f"n{i}")
        clients.append(c)
    for i, c in enumerate(clients):
        assert c.read() == b"OK"
        c.close()
        assert r.execute_command("AI.TENSORGET", f"out{i}", "META", "VALUES") == [
            b"dtype", b"STRING", b"shape", [1], b"values", [values[i]]]
        assert r.execute_command("AI.TENSORGET", f"n{i}", "VALUES") == [2]


@pytest.mark.parametrize("timeout", [[], ["MINBATCHTIMEOUT", 2**63 - 1]])
def test_a_waiting_batch_does_not_hold_up_the_device(engine, timeout):
    """A run waiting for MINBATCHSIZE rows (for ever, or for a timeout too
    large to pass) waits alone: the runs queued behind it on the same
    device go on.  Before, every other run on the device waited with it;
    and that timeout wrapped round and ran the batch at once."""
    r = engine.client(socket_timeout=30)  # the old behaviour: this client waited for ever
    probe_store(r, "BATCHSIZE", 4, "MINBATCHSIZE", 4, *timeout)
    r.execute_command("AI.MODELSTORE", "other", "ONNX", "CPU", "BLOB", mc.onnx_batch_probe())
    waiting = send_probe(engine, 0, rows(0))
    wait_blocked(r, 1)
    x = rows(5)
    r.execute_command("AI.TENSORSET", "x5", "FLOAT", *x.shape, "BLOB", x.tobytes())
    for _ in range(3):  # unbatched, same device, queued behind the waiting run
        assert r.execute_command("AI.MODELEXECUTE", "other", "INPUTS", 1, "x5", "OUTPUTS", 2, "y5", "n5") == b"OK"
        assert result(r, 5)[0].tolist() == (2 * x).ravel().tolist()
    time.sleep(0.2)
    wait_blocked(r, 1)  # still waiting for its rows
    last = [send_probe(engine, i, rows(i)) for i in (1, 2, 3)]
    for c in [waiting] + last:
        assert c.read() == b"OK"
    assert result(r, 0)[1].tolist() == [4.0]


@pytest.mark.parametrize("n", [2, 3])
def test_request_reaching_batchsize_runs_alone(engine, n):
    r = engine.client()
    probe_store(r, "BATCHSIZE", 2, "MINBATCHSIZE", 2)
    c = send_probe(engine, 0, rows(0, n=n))
    assert c.read() == b"OK"
    assert result(r, 0)[1].tolist() == [float(n)] * n


@pytest.mark.parametrize("threads", [1, 2])
def test_concurrent_clients_get_their_own_rows(server_factory, threads):
    srv = server_factory(modules=[(ENGINE, ["THREADS_PER_QUEUE", threads])])
    probe_store(srv.client(), "BATCHSIZE", 4)
    failures, runs = [], 30

    def client(i):
        c = srv.client()
        try:
            for k in range(runs):
                x = rows(i * runs + k, n=1 + k % 2)
                c.execute_command("AI.TENSORSET", f"x{i}", "FLOAT", *x.shape, "BLOB", x.tobytes())
                c.execute_command("AI.MODELEXECUTE", "probe", "INPUTS", 1, f"x{i}", "OUTPUTS", 2, f"y{i}", f"n{i}")
                y, n = result(c, i)
                assert y.tolist() == (2 * x).ravel().tolist()
                assert len(n) == len(x) and len(set(n)) == 1 and len(x) <= n[0] <= 4
        except Exception as e:  # reported by the main thread
            failures.append(e)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert failures == []
    info = mc.meta(srv.client().execute_command("AI.INFO", "probe"))
    assert (info["calls"], info["samples"], info["errors"]) == (8 * runs, 8 * (runs // 2) * 3, 0)


def fall_quiet(r):
    """One run, then more than two seconds without any: the engine stops
    watching the event loop (it does after a second without runs), so the
    next run finds it unwatched, as on a fresh server."""
    r.execute_command("AI.TENSORSET", "xq", "FLOAT", 1, 2, "VALUES", 1, 2)
    r.execute_command("AI.MODELEXECUTE", "probe", "INPUTS", 1, "xq", "OUTPUTS", 2, "yq", "nq")
    time.sleep(2.2)


@pytest.mark.parametrize("threads,quiet", [(1, False), (2, False), (1, True)])
def test_workers_are_woken_when_the_event_loop_iteration_ends(server_factory, threads, quiet):
    """Runs queued in one event-loop iteration wake the workers at its end,
    so they find all of them and run them as one batch, even when the
    iteration has other slow work between them.  (Woken at the first push,
    a worker would run the first alone during the DEBUG SLEEP.)  Also for
    the first runs after a quiet spell."""
    srv = server_factory(modules=[(ENGINE, ["THREADS_PER_QUEUE", threads])])
    r = srv.client()
    probe_store(r, "BATCHSIZE", 2)
    if quiet:
        fall_quiet(r)
    xs = [rows(i) for i in range(2)]
    first, last = (input_client(srv, i, xs[i]) for i in range(2))
    busy, slow = RawClient(srv.sock), RawClient(srv.sock)
    busy.send("DEBUG", "SLEEP", "0.3")
    time.sleep(0.05)  # the main thread sleeps; what follows is read in one iteration, in order:
    send_probe(srv, 0, xs[0], first)
    time.sleep(0.01)
    slow.send("DEBUG", "SLEEP", "0.2")  # between the two runs
    time.sleep(0.01)
    send_probe(srv, 1, xs[1], last)
    for c in (busy, slow, first, last):
        assert c.read() == b"OK"
    for i, x in enumerate(xs):
        y, n = result(r, i)
        assert y.tolist() == (2 * x).ravel().tolist()
        assert n.tolist() == [2.0]


@pytest.mark.parametrize("quiet", [False, True])
def test_pipelined_runs_do_not_wait_for_the_server_timer(server_factory, quiet):
    """Each run of a pipeline is queued when the one before it unblocks the
    client, late in the event loop's pass: it must wake a worker at once,
    not at the next tick of the server's timer (a second here, with hz 1).
    The DEBUG SLEEP between runs lets the worker fall asleep first.  Also
    when the pipeline comes after a quiet spell."""
    srv = server_factory(config=[("hz", 1)])
    probe_store(srv.client())
    if quiet:
        fall_quiet(srv.client())
    c = input_client(srv, 0, rows(0))
    started = time.monotonic()
    for _ in range(5):
        send_probe(srv, 0, None, c)
        c.send("DEBUG", "SLEEP", "0.02")
    assert [c.read() for _ in range(10)] == [b"OK"] * 10
    assert time.monotonic() - started < 2.5  # about 5 s when each run waits for a tick


def test_a_first_run_late_in_the_pass_wakes_its_worker(server_factory):
    """After a quiet spell the first run may be queued late in the event
    loop's pass, after its before-sleep event: here by the command a client
    pipelined behind a BLPOP, which Redis runs once LPUSH serves the BLPOP.
    It must not wait for the next tick of the server's timer (a second
    here, with hz 1)."""
    srv = server_factory(config=[("hz", 1)])
    r = srv.client()
    probe_store(r)
    fall_quiet(r)
    c = input_client(srv, 0, rows(0))
    c.send("BLPOP", "q", 0)
    send_probe(srv, 0, None, c)
    wait_blocked(r, 1)
    started = time.monotonic()
    r.execute_command("LPUSH", "q", "v")
    assert c.read() == [b"q", b"v"]
    assert c.read() == b"OK"
    assert time.monotonic() - started < 0.5  # about a second when the run waits for a tick
    y, _ = result(r, 0)
    assert y.tolist() == (2 * rows(0)).ravel().tolist()


def batched_pair(srv, case, key, i):
    """Client i's inputs (one row of its own) and run of `key`, sent."""
    c = RawClient(srv.sock)
    keys = []
    for name, dtype, a in case.inputs:
        row = a[:1] + 10 * i
        c.ok("AI.TENSORSET", f"{name}{i}", dtype, *row.shape, "BLOB", row.tobytes())
        keys.append(f"{name}{i}")
    c.send(*case.execute_cmd(key, keys, [f"out{i}"]))
    return c


@pytest.mark.parametrize("backend", mc.BACKENDS)
def test_each_backend_batches_correctly(engine, backend):
    case = mc.case(backend)
    r = engine.client()
    r.execute_command(*case.store_cmd("m", "BATCHSIZE", 2, "MINBATCHSIZE", 2))
    clients = [batched_pair(engine, case, "m", i) for i in (0, 1)]
    for i, c in enumerate(clients):
        assert c.read() == b"OK"
        expected = case.fn(*(a[:1] + 10 * i for _, _, a in case.inputs))
        got = np.frombuffer(r.execute_command("AI.TENSORGET", f"out{i}", "BLOB"), np.float32)
        np.testing.assert_allclose(got, expected.ravel(), rtol=1e-6)
    assert mc.meta(r.execute_command("AI.INFO", "m"))["samples"] == 2


BATCH_ERROR = {"ONNX": b"ERR Model did not generate the expected batch size",
               "TORCH": b"ERR Model did not generate the expected batch size",
               "TF": b"ERR Tensorflow batching error: model did not generate the expected batch size"}


@pytest.mark.parametrize("backend", mc.BACKENDS)
def test_model_dropping_the_batch_dim_fails_batched_runs(engine, backend):
    r = engine.client()
    names = {"ONNX": [], "TORCH": [], "TF": ["INPUTS", 2, "a", "b", "OUTPUTS", 1, "c"]}[backend]
    blob = {"ONNX": mc.onnx_sum0, "TORCH": lambda: mc.torch_blob("sum0"), "TF": lambda: mc.tf_graph("sum0")}[backend]()
    x = np.array([[1, 2, 3]], dtype=np.float32)
    inputs = [("x", "FLOAT", x)] if backend == "ONNX" else [("a", "FLOAT", x), ("b", "FLOAT", x)]
    case = mc.Case(backend, blob, inputs, lambda *a: None, [], [], names)
    r.execute_command(*case.store_cmd("batched", "BATCHSIZE", 2, "MINBATCHSIZE", 2))
    r.execute_command(*case.store_cmd("single"))
    clients = [batched_pair(engine, case, "batched", i) for i in (0, 1)]
    for c in clients:
        assert c.read().text == BATCH_ERROR[backend]
    assert r.exists("out0", "out1") == 0
    info = mc.meta(r.execute_command("AI.INFO", "batched"))
    assert (info["calls"], info["errors"]) == (2, 2)
    # run alone, the same model is fine
    keys = [f"{name}0" for name, _, _ in case.inputs]
    assert r.execute_command(*case.execute_cmd("single", keys, ["alone"])) == b"OK"
    assert engine.alive()
