"""Shared pieces of the script tests: a TorchScript source with entry points
and old-style functions, and a skip marker for builds without the TORCH
backend."""
import os

import pytest

from support.server import BUILD

TORCH_LIB = os.path.join(BUILD, "backends", "redisai_torch", "redisai_torch.so")

needs_torch = pytest.mark.skipif(not os.path.exists(TORCH_LIB), reason="TORCH backend not built")

# Entry points (the three-list signature) and old-style functions that only
# AI.SCRIPTRUN / best-effort calls reach.
SOURCE = '''
def mul(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] * tensors[1]

def info(tensors: List[Tensor], keys: List[str], args: List[str]):
    total = 0
    for a in args:
        total += int(a)
    key_chars = 0
    for k in keys:
        key_chars += len(k)
    return torch.tensor([len(tensors), len(keys), key_chars, total])

def split(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] + 1, tensors[0] - 1

def total(tensors: List[Tensor], keys: List[str], args: List[str]):
    return torch.stack(tensors).sum(0)

def slow(tensors: List[Tensor], keys: List[str], args: List[str]):
    x = torch.ones(300, 300)
    for i in range(int(args[0])):
        x = torch.tanh(x @ x)
    return x.sum().reshape(1)

def old_add(a: Tensor, b: Tensor):
    return a + b

def old_sum(xs: List[Tensor]):
    return torch.stack(xs).sum(0)

def old_scaled_sum(a: Tensor, xs: List[Tensor]):
    total = torch.zeros_like(a)
    for x in xs:
        total = total + x
    return a * total
'''
ENTRY_POINTS = ["mul", "info", "split", "total", "slow"]


def store(r, key="s", device="CPU", tag=None, entry_points=ENTRY_POINTS, source=SOURCE):
    args = ["AI.SCRIPTSTORE", key, device]
    if tag is not None:
        args += ["TAG", tag]
    args += ["ENTRY_POINTS", len(entry_points), *entry_points, "SOURCE", source]
    return r.execute_command(*args)


def set_floats(r, key, values, dims=None):
    dims = dims or [len(values)]
    return r.execute_command("AI.TENSORSET", key, "FLOAT", *dims, "VALUES", *values)


def floats(r, key):
    return [float(v) for v in r.execute_command("AI.TENSORGET", key, "VALUES")]
