"""ONNX outputs that are no tensor (a classifier's ZipMap probabilities, a
sequence of maps, as scikit-learn exports give): AI.MODELEXECUTE and
AI.MODELRUN write the tensor outputs, leave the other keys alone and answer
OK, with one log line per model (issue 17, item 8)."""
import numpy as np

import model_cases  # noqa: F401  (puts tests/backends on the path)
from tensor_helpers import RawClient

import models  # noqa: E402

CLASSIFIER = models.classifier_with_zipmap()
LOG_LINE = "ONNX output 1 (probabilities) is not a tensor: skipped, its key is not written"


def set_x(r, key, x):
    r.execute_command("AI.TENSORSET", key, "FLOAT", *x.shape, "BLOB", x.tobytes())


def labels(r, key):
    return r.execute_command("AI.TENSORGET", key, "VALUES")


def test_tensor_outputs_are_written_and_the_others_skipped(engine):
    r = engine.client()
    assert r.execute_command("AI.MODELSTORE", "clf", "ONNX", "CPU", "BLOB", CLASSIFIER) == b"OK"
    x = np.array([[1, 0], [0, 1], [3, 1]], dtype=np.float32)
    set_x(r, "x", x)
    r.set("probs", "kept")
    expected = (x @ models.CLASSIFIER_W).argmax(1).tolist()
    assert r.execute_command("AI.MODELEXECUTE", "clf", "INPUTS", 1, "x", "OUTPUTS", 2, "label", "probs") == b"OK"
    assert labels(r, "label") == expected
    assert r.get("probs") == b"kept"
    assert r.execute_command("AI.MODELRUN", "clf", "INPUTS", "x", "OUTPUTS", "label2", "probs2") == b"OK"
    assert labels(r, "label2") == expected
    assert r.exists("probs2") == 0
    assert r.execute_command("AI.INFO", "clf")[-6:] == [b"samples", 6, b"calls", 2, b"errors", 0]
    assert engine.log_tail(200).count(LOG_LINE) == 1


def test_batched_runs_skip_them_too(engine):
    r = engine.client()
    assert r.execute_command("AI.MODELSTORE", "clf", "ONNX", "CPU", "BATCHSIZE", 4, "MINBATCHSIZE", 4,
                             "BLOB", CLASSIFIER) == b"OK"
    xs = [np.array([[1, 0], [0, 1]], dtype=np.float32), np.array([[3, 1], [-1, 2]], dtype=np.float32)]
    clients = []
    for i, x in enumerate(xs):
        set_x(r, f"x{i}", x)
        c = RawClient(engine.sock)
        c.send("AI.MODELEXECUTE", "clf", "INPUTS", 1, f"x{i}", "OUTPUTS", 2, f"label{i}", f"probs{i}")
        clients.append(c)
    for i, c in enumerate(clients):
        assert c.read() == b"OK"
        c.close()
        assert labels(r, f"label{i}") == (xs[i] @ models.CLASSIFIER_W).argmax(1).tolist()
        assert r.exists(f"probs{i}") == 0
    # both runs were one batch of 4 rows: one call each, in one backend run
    assert r.execute_command("AI.INFO", "clf")[-6:] == [b"samples", 4, b"calls", 2, b"errors", 0]


def test_a_dag_name_must_hold_a_tensor(engine):
    r = engine.client()
    r.execute_command("AI.MODELSTORE", "clf", "ONNX", "CPU", "BLOB", CLASSIFIER)
    set_x(r, "x", np.array([[1, 0]], dtype=np.float32))
    raw = RawClient(engine.sock)
    reply = raw.call("AI.DAGEXECUTE", "LOAD", 1, "x", "PERSIST", 1, "label",
                     "|>", "AI.MODELEXECUTE", "clf", "INPUTS", 1, "x", "OUTPUTS", 2, "label", "probs")
    raw.close()
    assert [e.text for e in reply] == [b"ERR model output 1 is not a tensor"]
    assert r.exists("label") == 0
