"""The TORCH backend library on its own, through build/tests/backend_harness:
real TorchScript models and scripts built by torch_models.py, results checked
against the same modules run by torch in Python."""
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_models as tm  # noqa: E402

from support.server import BUILD  # noqa: E402
HARNESS = os.path.join(BUILD, "tests", "backend_harness")
LIB = os.path.join(BUILD, "backends", "redisai_torch", "redisai_torch.so")

pytestmark = [
    pytest.mark.skipif(not (os.path.exists(HARNESS) and os.path.exists(LIB)),
                       reason="backend harness or TORCH backend not built"),
    # torch.jit.script/save are deprecated upstream but are what TorchScript models are
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

DTYPES = {torch.float32: "FLOAT", torch.float64: "DOUBLE", torch.int8: "INT8", torch.int16: "INT16",
          torch.int32: "INT32", torch.int64: "INT64", torch.uint8: "UINT8", torch.bool: "BOOL"}


def arg(t):
    """A harness input spec for tensor t."""
    dims = "x".join(str(d) for d in t.shape) or "-"
    vals = ",".join(str(int(v)) if not t.is_floating_point() else repr(float(v)) for v in t.flatten())
    return "%s:%s:%s" % (DTYPES[t.dtype], dims, vals)


def run(tmp_path, blob, inputs=(), extra=()):
    path = tmp_path / "model.bin"
    path.write_bytes(blob if isinstance(blob, bytes) else blob.encode())
    p = subprocess.run([HARNESS, LIB, str(path), *extra, *[arg(t) for t in inputs]],
                       capture_output=True, text=True, timeout=120)
    assert "Traceback" not in p.stderr and p.returncode in (0, 1), p.stderr  # no crash
    return p


def outputs(p):
    assert p.returncode == 0, p.stdout + p.stderr
    res = []
    for line in p.stdout.splitlines():
        dtype, dims, *vals = line.split(" ")
        shape = [] if dims == "-" else [int(d) for d in dims.split("x")]
        res.append((dtype, shape, np.array([float(v) for v in vals])))
    return res


def error(p):
    assert p.returncode == 1, p.stdout
    assert p.stdout.startswith("ERROR "), p.stdout
    return p.stdout[len("ERROR "):].rstrip("\n")


def check(out, expected):
    """out: one parsed harness line; expected: the torch reference tensor."""
    dtype, shape, vals = out
    assert dtype == DTYPES[expected.dtype]
    assert shape == list(expected.shape)
    np.testing.assert_allclose(vals, expected.detach().double().flatten().numpy(), rtol=1e-5, atol=1e-5)


def signature(p):
    line = [l for l in p.stderr.splitlines() if l.startswith("signature:")][0]
    return line


# ---- models ----

def test_add_model(tmp_path):
    m = tm.scripted(tm.Add)
    a, b = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[0.5, -2.0], [10.0, 1e-3]])
    p = run(tmp_path, tm.save(m), [a, b])
    assert signature(p) == "signature: 2 inputs, 1 outputs"
    [out] = outputs(p)
    check(out, m(a, b))


def test_linear_model_fixed_weights(tmp_path):
    m = tm.scripted(tm.Linear)
    x = torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.0, 0.25]])
    [out] = outputs(run(tmp_path, tm.save(m), [x]))
    check(out, m(x))
    check(out, torch.tensor([[14.5, 11.0], [0.25, 1.0]]))  # by hand


def test_traced_model(tmp_path):
    m = tm.traced_mlp()
    x = torch.tensor([[0.1, -0.2, 0.3, 0.9], [1.0, 2.0, -3.0, 0.0]])
    [out] = outputs(run(tmp_path, tm.save(m), [x]))
    check(out, m(x).detach())


def test_two_outputs(tmp_path):
    m = tm.scripted(tm.TwoOutputs)
    a, b = torch.tensor([1.0, 2.0, 3.0]), torch.tensor([4.0, 5.0, -6.0])
    p = run(tmp_path, tm.save(m), [a, b])
    assert signature(p) == "signature: 2 inputs, 2 outputs"
    s, prod = outputs(p)
    ref = m(a, b)
    check(s, ref[0])
    check(prod, ref[1])


def test_list_outputs_flattened(tmp_path):
    m = tm.scripted(tm.ListOutputs)
    a = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    p = run(tmp_path, tm.save(m), [a], ["--noutputs", "2"])
    o1, o2 = outputs(p)
    ref = m(a)
    check(o1, ref[0])
    check(o2, ref[1])


def test_output_count_mismatch(tmp_path):
    blob = tm.save(tm.scripted(tm.TwoOutputs))
    a = torch.tensor([1.0])
    assert error(run(tmp_path, blob, [a, a], ["--noutputs", "1"])) == \
        "Torch returned 2 outputs but 1 were requested"
    assert error(run(tmp_path, blob, [a, a], ["--noutputs", "3"])) == \
        "Torch returned 2 outputs but 3 were requested"


def test_int64_model(tmp_path):
    m = tm.scripted(tm.IntOps)
    a = torch.tensor([[0, 1, -2], [2 ** 40, 5, 7]], dtype=torch.int64)
    [out] = outputs(run(tmp_path, tm.save(m), [a]))
    ref = m(a)
    assert out[0] == "INT64" and out[1] == [2, 3]
    assert [int(v) for v in out[2]] == ref.flatten().tolist()


@pytest.mark.parametrize("dtype", [torch.int8, torch.int16, torch.int32, torch.uint8, torch.float64])
def test_other_dtypes(tmp_path, dtype):
    m = tm.scripted(tm.IntOps)
    a = torch.tensor([3, 4, 5], dtype=dtype)
    [out] = outputs(run(tmp_path, tm.save(m), [a]))
    check(out, m(a))


def test_bool_model(tmp_path):
    m = tm.scripted(tm.BoolOps)
    a = torch.tensor([True, True, False, False])
    b = torch.tensor([True, False, True, False])
    [out] = outputs(run(tmp_path, tm.save(m), [a, b]))
    check(out, m(a, b))


def test_scalar_tensor(tmp_path):
    m = tm.scripted(tm.Add)
    a, b = torch.tensor(2.5), torch.tensor(4.0)
    [out] = outputs(run(tmp_path, tm.save(m), [a, b]))
    assert out[1] == []
    check(out, m(a, b))


def test_output_aliasing_input_is_copied(tmp_path):
    """The model returns its input and a slice of it: values must be right
    after the harness frees the inputs (it prints after freeing nothing, but
    the backend must not hand back borrowed input memory)."""
    m = tm.scripted(tm.Identity)
    a = torch.tensor([1.0, 2.0, 3.0])
    o1, o2 = outputs(run(tmp_path, tm.save(m), [a]))
    check(o1, a)
    check(o2, a[1:])


def test_non_contiguous_and_half_outputs(tmp_path):
    a = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    [out] = outputs(run(tmp_path, tm.save(tm.scripted(tm.Transpose)), [a]))
    check(out, (a + 1).t())
    [out] = outputs(run(tmp_path, tm.save(tm.scripted(tm.HalfOut)), [a]))
    check(out, (a * 2).float())  # half is returned as FLOAT


def test_model_runs_in_eval_mode(tmp_path):
    a = torch.ones(64)
    [out] = outputs(run(tmp_path, tm.save(tm.scripted(tm.Dropout)), [a]))
    check(out, a)


def test_non_tensor_output_is_an_error(tmp_path):
    e = error(run(tmp_path, tm.save(tm.scripted(tm.NotATensor)), [torch.ones(3)], ["--noutputs", "1"]))
    assert e == "Torch output must be a tensor, or a tuple or list of tensors, not Int"


def test_wrong_input_count_is_an_error(tmp_path):
    e = error(run(tmp_path, tm.save(tm.scripted(tm.Add)), [torch.ones(2)]))
    assert "forward() is missing value for argument 'b'" in e


def test_string_input_refused(tmp_path):
    path = tmp_path / "m.pt"
    path.write_bytes(tm.save(tm.scripted(tm.Add)))
    p = subprocess.run([HARNESS, LIB, str(path), "STRING:2", "STRING:2"], capture_output=True, text=True)
    assert p.stdout == "ERROR Torch does not support STRING tensors\n"


@pytest.mark.parametrize("blob", [b"not a model at all", b"PK\x03\x04" + b"\x00" * 100, b"\x00"],
                         ids=["text", "zip-header", "one-byte"])
def test_bad_model_blob(tmp_path, blob):
    e = error(run(tmp_path, blob))
    assert "PytorchStreamReader failed reading zip archive" in e or "istream reader failed" in e


def test_truncated_model_blob(tmp_path):
    blob = tm.save(tm.scripted(tm.Linear))
    e = error(run(tmp_path, blob[: len(blob) // 2]))
    assert e  # an error text, no crash


def test_zip_that_is_not_torchscript(tmp_path):
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", b"garbage")
    e = error(run(tmp_path, buf.getvalue()))
    assert e


def test_gpu_device_refused(tmp_path):
    e = error(run(tmp_path, tm.save(tm.scripted(tm.Add)), [], ["--device", "GPU"]))
    assert e == "ERR unsupported device"


# ---- scripts ----

ENTRY = ["--entry", "bar,count,pair"]


def script(tmp_path, fn, inputs=(), extra=(), source=tm.SCRIPT, entry=ENTRY):
    return run(tmp_path, source, inputs, ["--script", fn, *entry, *extra])


def test_script_entry_point_multiplies(tmp_path):
    a, b = torch.tensor([[1.0, 2.0], [3.0, 4.0]]), torch.tensor([[2.0, 0.5], [-1.0, 3.0]])
    [out] = outputs(script(tmp_path, "bar", [a, b]))
    check(out, a * b)


def test_script_keys_and_args(tmp_path):
    [out] = outputs(script(tmp_path, "count", [], ["--keys", "k1,k2,k3", "--args", "10,32"]))
    check(out, torch.tensor([3, 2, 42]))
    [out] = outputs(script(tmp_path, "count", [torch.ones(1)]))
    check(out, torch.tensor([0, 0, 0]))


def test_script_tuple_outputs(tmp_path):
    a = torch.tensor([1.0, 5.0])
    o1, o2 = outputs(script(tmp_path, "pair", [a]))
    check(o1, a + 1)
    check(o2, a - 1)


def test_script_list_outputs_up_to_max(tmp_path):
    # the harness offers 64 output slots; `many` returns 70 tensors
    e = error(script(tmp_path, "many", [torch.ones(1)]))
    assert e == "Torch returned 70 outputs but at most 64 were requested"


def test_script_old_style_positional(tmp_path):
    a, b = torch.tensor([1, 2], dtype=torch.int32), torch.tensor([5, 7], dtype=torch.int32)
    [out] = outputs(script(tmp_path, "old_add", [a, b], entry=[]))
    check(out, a + b)


def test_script_old_style_list(tmp_path):
    xs = [torch.tensor([1.0]), torch.tensor([2.0]), torch.tensor([4.0])]
    [out] = outputs(script(tmp_path, "old_list", xs, entry=[]))
    check(out, torch.tensor([7.0]))


def test_script_without_entry_points_accepts_any_function(tmp_path):
    a, b = torch.tensor([2.0]), torch.tensor([3.0])
    [out] = outputs(script(tmp_path, "bar", [a, b], entry=[]))
    check(out, a * b)


def test_script_missing_function_at_run(tmp_path):
    assert error(script(tmp_path, "nope", [torch.ones(1)])) == "Function does not exist: nope"


def test_script_missing_entry_point_at_store(tmp_path):
    e = error(script(tmp_path, "bar", [], entry=["--entry", "bar,zz"]))
    assert e == "Function zz does not exist in the given script."


def test_script_wrong_number_of_inputs_at_store(tmp_path):
    e = error(script(tmp_path, "one", [], source=tm.SCRIPT_ONE_ARG, entry=["--entry", "one"]))
    assert e == "Wrong number of inputs in function one. Expected 3 but was 1"


def test_script_wrong_types_at_store(tmp_path):
    e = error(script(tmp_path, "three", [], source=tm.SCRIPT_WRONG_TYPES, entry=["--entry", "three"]))
    assert e == ("Wrong inputs type in function three. Expected signature similar to: "
                 "def three(tensors: List[Tensor], keys: List[str], args: List[str])")


def test_script_old_style_function_as_entry_point(tmp_path):
    e = error(script(tmp_path, "old_add", [], entry=["--entry", "old_add"]))
    assert e == "Wrong number of inputs in function old_add. Expected 3 but was 2"


def test_script_syntax_error(tmp_path):
    e = error(script(tmp_path, "broken", [], source=tm.SCRIPT_SYNTAX_ERROR, entry=[]))
    assert "expected" in e.lower() or "syntax" in e.lower()


def test_script_runtime_error(tmp_path):
    # shapes that do not broadcast: torch's error text, no crash
    e = error(script(tmp_path, "bar", [torch.ones(2), torch.ones(3)]))
    assert "must match the size of tensor" in e


def test_script_string_input_refused(tmp_path):
    path = tmp_path / "s.py"
    path.write_text(tm.SCRIPT)
    p = subprocess.run([HARNESS, LIB, str(path), "--script", "bar", "STRING:1"], capture_output=True, text=True)
    assert p.stdout == "ERROR Torch does not support STRING tensors\n"
