"""`meta_device()`: the builds `liftbench models` counts on equal real builds, tensor by tensor."""

import gc
import subprocess
import sys
import threading

import pytest
import torch
from torch import nn

from liftbench.bench.commands.models import meta_device
from liftbench.models import create_lifter, list_lifters


class _EveryPath(nn.Module):
    """A constructor that takes every path `meta_device()` treats specially."""

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(4, 6)  # `empty` + kaiming_uniform_ / uniform_
        self.norm = nn.LayerNorm(6)  # `empty` + ones_ / zeros_
        self.embed = nn.Parameter(torch.randn(1, 5, 6))  # a random factory
        self.scale = nn.Parameter(torch.full((6,), 1e-5))  # a value factory made a parameter
        self.frozen = nn.Linear(6, 6).requires_grad_(False)
        nn.init.trunc_normal_(self.lin.weight, std=0.02)
        with torch.no_grad():
            self.lin.weight.mul_(0.5)
            self.lin.bias[0] = 1.0
        adj = torch.zeros(5, 5)  # a constant computed by the constructor
        adj[[0, 1, 1, 2], [1, 0, 2, 1]] = 1.0
        inv_sqrt_deg = adj.sum(dim=-1).clamp_min(1.0).rsqrt()
        self.register_buffer("norm_adj", inv_sqrt_deg[:, None] * adj * inv_sqrt_deg[None, :])
        self.register_buffer("index", torch.arange(5), persistent=False)
        self.table = torch.tensor([2, 0, 1])  # a plain attribute, not a buffer
        self.degree = int(adj.sum())  # a value the constructor reads
        shared = nn.Parameter(torch.ones(3))  # one parameter registered twice: counted once
        self.first, self.second = nn.Module(), nn.Module()
        self.first.w, self.second.w = shared, shared
        mask = torch.ones(2, 2)
        self.first.register_buffer("mask", mask)
        self.second.register_buffer("mask", mask)


def _layout(model: nn.Module) -> tuple[list, list]:
    params = [(k, tuple(p.shape), p.dtype, p.requires_grad) for k, p in model.named_parameters()]
    buffers = [(k, tuple(b.shape), b.dtype) for k, b in model.named_buffers()]
    return params, buffers


def test_every_path_gives_a_real_build_layout_on_the_meta_device():
    real = _EveryPath()
    with meta_device():
        meta = _EveryPath()
    assert _layout(meta) == _layout(real)
    assert all(t.is_meta for t in [*meta.parameters(), *meta.buffers()])
    assert all(type(p) is nn.Parameter for p in meta.parameters())
    assert meta.first.w is meta.second.w and meta.first.mask is meta.second.mask
    assert sum(p.numel() for p in meta.parameters()) == sum(p.numel() for p in real.parameters())
    assert torch.equal(meta.table, real.table) and meta.degree == real.degree == 4


def test_the_context_restores_the_garbage_collector_and_registration():
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="inside"), meta_device():
        assert not gc.isenabled()
        raise RuntimeError("inside")
    assert gc.isenabled()
    after = nn.Module()
    after.w = nn.Parameter(torch.zeros(2))
    after.register_buffer("b", torch.ones(2))
    assert after.w.device.type == after.b.device.type == "cpu"
    assert torch.empty(1).device.type == "cpu"


def test_builds_in_other_threads_are_left_alone():
    built = {}
    with meta_device():
        worker = threading.Thread(target=lambda: built.update(lin=nn.Linear(2, 2)))
        worker.start()
        worker.join()
    assert built["lin"].weight.device.type == "cpu"


@pytest.mark.parametrize("name", list_lifters())
def test_every_lifter_tiny_meta_build_equals_a_real_build(name):
    torch.manual_seed(0)
    real = create_lifter(name, size="tiny")
    with meta_device():
        meta = create_lifter(name, size="tiny")
    assert _layout(meta) == _layout(real)
    assert all(t.is_meta for t in [*meta.parameters(), *meta.buffers()])


def test_every_lifter_paper_meta_build_equals_a_real_build():
    for name in list_lifters():
        torch.manual_seed(0)
        real = _layout(create_lifter(name, size="paper"))
        with meta_device():
            meta = create_lifter(name, size="paper")
        assert _layout(meta) == real, name


def test_building_every_lifter_imports_no_compiler():
    """Arithmetic on meta tensors would import torch._dynamo and sympy (seconds per process)."""
    code = (
        "import sys\n"
        "import torch\n"
        "from liftbench.bench.commands.models import meta_device\n"
        "from liftbench.models import create_lifter, list_lifters\n"
        "before = set(sys.modules)\n"
        "for name in list_lifters():\n"
        "    for size in ('paper', 'tiny'):\n"
        "        with meta_device():\n"
        "            create_lifter(name, size=size)\n"
        "new = sorted(m for m in set(sys.modules) - before\n"
        "             if m.startswith(('torch._dynamo', 'sympy', 'torch.fx.experimental')))\n"
        "assert not new, new[:5]\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
