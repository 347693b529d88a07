"""Real TorchScript models and scripts for the TORCH backend tests.

Every model builder returns the torch.jit.save bytes of a module made here
(torch.jit.script or torch.jit.trace) with fixed weights, plus the module
itself where a test wants the Python reference.  Nothing is downloaded.
"""
import io
from typing import List, Tuple

import torch
from torch import Tensor


def save(module):
    buf = io.BytesIO()
    torch.jit.save(module, buf)
    return buf.getvalue()


class Add(torch.nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return a + b


class Linear(torch.nn.Module):
    """y = x @ W.T + b with fixed W [2,3], b [2]."""

    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(3, 2)
        with torch.no_grad():
            self.fc.weight.copy_(torch.tensor([[1.0, 2.0, 3.0], [-1.0, 0.5, 4.0]]))
            self.fc.bias.copy_(torch.tensor([0.5, -1.0]))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc(x)


class TwoOutputs(torch.nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tuple[Tensor, Tensor]:
        return a + b, a * b


class ListOutputs(torch.nn.Module):
    def forward(self, a: Tensor) -> List[Tensor]:
        return [a * 2, a.sum().reshape(1)]


class IntOps(torch.nn.Module):
    def forward(self, a: Tensor) -> Tensor:
        return a * 3 - 7


class BoolOps(torch.nn.Module):
    def forward(self, a: Tensor, b: Tensor) -> Tensor:
        return torch.logical_xor(a, b)


class Identity(torch.nn.Module):
    """Returns its input (and a view of it): the backend must not lend the
    caller's own input memory back as an output."""

    def forward(self, a: Tensor) -> Tuple[Tensor, Tensor]:
        return a, a[1:]


class Transpose(torch.nn.Module):
    """A non-contiguous output."""

    def forward(self, a: Tensor) -> Tensor:
        return (a + 1).t()


class HalfOut(torch.nn.Module):
    def forward(self, a: Tensor) -> Tensor:
        return (a * 2).half()


class NotATensor(torch.nn.Module):
    def forward(self, a: Tensor) -> int:
        return a.numel()


class Dropout(torch.nn.Module):
    """Dropout is the identity only in eval mode: checks the backend evaluates."""

    def __init__(self):
        super().__init__()
        self.drop = torch.nn.Dropout(0.9)

    def forward(self, a: Tensor) -> Tensor:
        return self.drop(a) + 0


def scripted(cls):
    return torch.jit.script(cls())


def traced_mlp():
    torch.manual_seed(3)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    net.eval()
    return torch.jit.trace(net, torch.zeros(1, 4))


# A script stored with entry points bar, count and pair; `helper` is a plain
# function the entry points may call; old_add has the old-style signature.
SCRIPT = '''
def helper(x: Tensor) -> Tensor:
    return x * 1

def bar(tensors: List[Tensor], keys: List[str], args: List[str]):
    return helper(tensors[0] * tensors[1])

def count(tensors: List[Tensor], keys: List[str], args: List[str]):
    total = 0
    for a in args:
        total += int(a)
    return torch.tensor([len(keys), len(args), total])

def pair(tensors: List[Tensor], keys: List[str], args: List[str]):
    return tensors[0] + 1, tensors[0] - 1

def many(tensors: List[Tensor], keys: List[str], args: List[str]):
    return [tensors[0] + i for i in range(70)]

def old_add(a: Tensor, b: Tensor):
    return a + b

def old_list(xs: List[Tensor]):
    return xs[0] + xs[1] + xs[2]
'''

# Each compiles; stored with the given entry point, each fails the check.
SCRIPT_ONE_ARG = '''
def one(a: Tensor):
    return a
'''

SCRIPT_WRONG_TYPES = '''
def three(a: Tensor, b: Tensor, c: Tensor):
    return a + b + c
'''

SCRIPT_SYNTAX_ERROR = '''
def broken(tensors: List[Tensor], keys: List[str], args: List[str]:
    return tensors[0]
'''
