"""`liftbench models`: list the registered lifters with parameters, FLOPs per frame and paper.

Both figures come from the lifter built on the meta device (shapes only: no memory, no compute)
by `meta_device()`: parameters are allocated there with their initialisers skipped (values never
matter to a count), the constants a constructor computes (adjacencies, index tables) are made on
the CPU and moved to the meta device as they are registered, so no constructor runs arithmetic
through the meta device's Python kernels (whose first use imports torch._dynamo and sympy:
seconds). Building all the paper-size lifters takes well under a second beyond importing torch.

Parameters: trainable parameters of the chosen configuration, counted on each lifter as built.
FLOPs per frame (counted by `--flops`, once per lifter; a plain `liftbench models` prints the
counts already cached and never waits for a count):
`torch.utils.flop_counter.FlopCounterMode` over one forward at B = 1, T = the model's
`max_frames` (27 for models without a frame limit), divided by T. A lifter whose forward cannot
run on the meta device (a data-dependent step, a random generator) is counted by `--flops` on a
real CPU forward (slow at paper size: minutes for a diffusion lifter's sampling). The counter
covers mm / bmm / addmm / conv; attention is forced to SDPA's MATH backend so its two matmuls
are counted. Elementwise ops, norms and softmax are not counted.

The figures are cached in `$LIFTBENCH_CACHE/lifters.json` (default `~/.cache/liftbench/`),
keyed by lifter name, size, a hash of its configuration and source files, and the liftbench
and torch versions; so they are computed once and any change to a lifter recomputes them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import gc
import hashlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_FRAMES = 27
CACHE_FILE = "lifters.json"
# What a constructor does to a tensor on the meta device runs there through Python meta kernels
# and decompositions whose first call imports torch._dynamo and sympy (~2 s per process); the
# counts need none of it, so `meta_device()` keeps all but the allocation of parameters off it.
# In-place random initialisers: skipped on meta tensors. (On the CPU they could not be skipped:
# `nn.init.trunc_normal_` resamples until every value is in range, forever on garbage memory.)
_RANDOM_INIT = frozenset({
    "normal_", "uniform_", "trunc_normal_", "erfinv_", "kaiming_normal_", "kaiming_uniform_",
    "xavier_normal_", "xavier_uniform_", "orthogonal_", "sparse_", "bernoulli_", "random_",
    "exponential_", "geometric_", "log_normal_", "cauchy_",
})  # fmt: skip
# In-place ops that only write values (shape, dtype, device and requires_grad unchanged):
# skipped on meta tensors. A value op not listed here still runs (correct, only slower).
_VALUE_INPLACE = frozenset({
    "zero_", "fill_", "copy_", "mul_", "div_", "add_", "sub_", "neg_", "abs_", "sign_", "pow_",
    "exp_", "log_", "sqrt_", "rsqrt_", "reciprocal_", "clamp_", "clamp_min_", "clamp_max_",
    "masked_fill_", "masked_scatter_", "fill_diagonal_", "index_fill_", "index_copy_",
    "index_add_", "index_put_", "scatter_", "scatter_add_", "put_", "addcmul_", "addcdiv_",
    "lerp_", "fmod_", "remainder_", "floor_", "ceil_", "round_", "trunc_", "tanh_", "sigmoid_",
    "tril_", "triu_", "constant_", "zeros_", "ones_", "eye_", "dirac_", "__setitem__",
})  # fmt: skip
# Factories of constant values (index tables, adjacencies, schedules, constant parameters):
# made on the CPU (the device `empty` and the random factories keep is meta), so what a
# constructor computes from them is plain CPU arithmetic on small tensors.
_VALUE_FACTORIES = frozenset({
    "arange", "linspace", "logspace", "tensor", "as_tensor", "eye", "zeros", "ones", "full",
    "tril_indices", "triu_indices",
})  # fmt: skip
# Random factories of floats (`nn.Parameter(torch.randn(...))`): `empty` on the meta device
# (`randn` there is a Python decomposition).
_RANDOM_FACTORIES = frozenset({"randn", "rand"})


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `models` sub-command."""
    p = sub.add_parser(
        "models", help="list registered lifters: parameters, FLOPs per frame, paper",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--pattern", default=None, help="shell-style name filter, e.g. 'motion*'")
    p.add_argument(
        "--size", choices=("paper", "tiny"), default="paper",
        help="configuration to describe (default: paper)",
    )  # fmt: skip
    p.add_argument("--no-flops", action="store_true",
                   help="leave out the FLOPs column")
    p.add_argument("--flops", action="store_true",
                   help="count the FLOPs not cached yet (meta-device forward; a real CPU forward "
                        "for lifters the meta device cannot run), then cache them (~10 s once)")
    p.set_defaults(func=run)
    return p


def cache_path() -> Path:
    """The figures' cache file: `$LIFTBENCH_CACHE/lifters.json`, else under `~/.cache/liftbench`."""
    root = os.environ.get("LIFTBENCH_CACHE")
    return (Path(root) if root else Path.home() / ".cache" / "liftbench") / CACHE_FILE


def _sources_hash(module_name: str) -> str:
    """Hash of the source a lifter's factory depends on.

    A built-in lifter: every `.py` file of `liftbench.models` (families share layers); a plug-in:
    the files of its module's folder.
    """
    if module_name.startswith("liftbench.models"):
        return _folder_hash(str(Path(sys.modules["liftbench.models"].__file__).parent), True)
    source = getattr(sys.modules.get(module_name), "__file__", None)
    return "no-source" if source is None else _folder_hash(str(Path(source).parent), False)


@functools.cache
def _folder_hash(folder: str, recursive: bool) -> str:
    files = sorted(Path(folder).rglob("*.py") if recursive else Path(folder).glob("*.py"))
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(folder).as_posix().encode())
        with contextlib.suppress(OSError):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(name: str, size: str) -> str:
    """The cache key of a lifter's figures: name, size, configuration + source hash, versions."""
    import torch

    from liftbench.bench import __version__
    from liftbench.models import get_lifter_entry

    entry = get_lifter_entry(name)
    config = {"size": size, "tiny": entry.tiny if size == "tiny" else {},
              "factory": f"{entry.factory.__module__}.{entry.factory.__qualname__}",
              "source": _sources_hash(entry.factory.__module__)}
    digest = hashlib.sha256(json.dumps(config, sort_keys=True, default=repr).encode())
    return (f"{name}|{size}|{digest.hexdigest()[:16]}|liftbench {__version__}"
            f"|torch {torch.__version__}")


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_cache(path: Path, data: dict[str, Any]) -> None:
    """Atomic write; a cache that cannot be written is only a slower next run."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        tmp.replace(path)


@contextlib.contextmanager
def meta_device() -> Iterator[None]:
    """Build modules on the meta device, cheaply: shapes only, no values, no memory.

    Parameters are allocated on the meta device and their initialisers (random or not) are
    skipped there (`_RANDOM_INIT`, `_VALUE_INPLACE`); constants a constructor computes come from
    CPU factories (`_VALUE_FACTORIES`) and stay CPU tensors while it computes; every parameter
    and buffer registered inside the context is moved to the meta device as it is registered, so
    the module comes out wholly on the meta device, with the parameters and buffers a build
    under `torch.device("meta")` alone gives (without its seconds of one-off imports: see the
    notes above `_RANDOM_INIT`). A tensor a constructor keeps as a plain attribute (not a
    buffer) stays on the CPU. The cyclic garbage collector is paused inside the context.
    """
    import torch
    from torch import nn
    from torch.nn.modules import module as nn_module
    from torch.overrides import TorchFunctionMode

    try:  # the factories `torch.device("meta")` sends to meta, without that second Python mode
        from torch.utils._device import _device_constructors

        factories, outer = _device_constructors(), contextlib.nullcontext()
    except ImportError:  # a torch without it: the public context, a little slower
        factories, outer = frozenset(), torch.device("meta")

    class _SkipValues(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                               kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            name = getattr(func, "__name__", "")
            if name in _RANDOM_INIT or name in _VALUE_INPLACE:
                target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
                if isinstance(target, torch.Tensor) and target.is_meta:
                    return None if name == "__setitem__" else target
            elif kwargs.get("device") is None:  # a factory given a device is left alone
                if name in _VALUE_FACTORIES:
                    kwargs["device"] = "cpu"
                elif name in _RANDOM_FACTORIES and "out" not in kwargs:
                    kwargs.pop("generator", None)
                    return torch.empty(*args, **kwargs, device="meta")
                elif func in factories:
                    kwargs["device"] = "meta"
            return func(*args, **kwargs)

    # The registration hooks are global: they act on this thread's builds only (the mode is
    # thread-local already). A tensor registered twice (shared) gets one meta twin, so sharing
    # (and hence the count) is kept; tensor subclasses are left alone.
    owner = threading.get_ident()
    twins: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}  # id -> (original, meta twin)

    def twin(tensor: torch.Tensor, make: Any) -> torch.Tensor:
        if id(tensor) not in twins:
            twins[id(tensor)] = (tensor, make(tensor))
        return twins[id(tensor)][1]

    def buffer_to_meta(module: nn.Module, name: str, tensor: Any) -> Any:
        if type(tensor) is torch.Tensor and not tensor.is_meta \
                and threading.get_ident() == owner:
            return twin(tensor, lambda t: t.to("meta"))
        return None

    def parameter_to_meta(module: nn.Module, name: str, param: Any) -> Any:
        if type(param) is nn.Parameter and not param.is_meta and threading.get_ident() == owner:
            return twin(param, lambda p: nn.Parameter(p.detach().to("meta"),
                                                      requires_grad=p.requires_grad))
        return None

    hooks = [nn_module.register_module_buffer_registration_hook(buffer_to_meta),
             nn_module.register_module_parameter_registration_hook(parameter_to_meta)]
    collecting = gc.isenabled()
    gc.disable()  # full collections would scan every object torch's import made, repeatedly
    try:
        with outer, _SkipValues():
            yield
    finally:
        for hook in hooks:
            hook.remove()
        if collecting:
            gc.enable()


def _count(name: str, size: str, flops: bool, real_forward: bool) -> dict[str, Any]:
    """Parameters and (optionally) forward FLOPs per frame of one lifter, on the meta device.

    `{"params", "flops_per_frame"}`; `"meta_failed": True` when the forward cannot run on the
    meta device (its FLOPs are then counted on a real CPU forward if `real_forward`, else None).
    """
    import torch

    from liftbench.models import create_lifter

    with meta_device():
        model = create_lifter(name, size=size)
    out: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters()
                                         if p.requires_grad)}
    if flops:
        from liftbench.bench.perf.models import flops_per_frame

        frames = getattr(model, "max_frames", None) or DEFAULT_FRAMES
        try:
            out["flops_per_frame"] = flops_per_frame(model, frames, device="meta")
        except Exception:  # noqa: BLE001  any step that needs values (`.item()`, a generator)
            out.update(flops_per_frame=None, meta_failed=True)
            if real_forward:
                torch.manual_seed(0)
                real = create_lifter(name, size=size)
                out["flops_per_frame"] = flops_per_frame(real, frames)
    return out


def describe(name: str, size: str = "paper", flops: bool = True,
             cache: dict[str, Any] | None = None, real_forward: bool = False,
             count: bool = True) -> dict:
    """Parameters, forward FLOPs per frame and paper of one registered lifter.

    Args:
        name: registry name.
        size: `"paper"` or `"tiny"`.
        flops: whether to report the FLOP count.
        real_forward: count on a real CPU forward when the meta-device forward fails (else the
            count is None for such a lifter).
        cache: the figures cache (`{key: {"params", "flops_per_frame"}}`), read and updated in
            place; None reads and writes `cache_path()`.
        count: count FLOPs missing from the cache (False: report only cached counts).

    Returns:
        `{"name", "params", "flops_per_frame", "paper"}`; `flops_per_frame` is None when skipped.
    """
    from liftbench.models import get_lifter_entry

    own = cache is None
    if cache is None:
        cache = _read_cache(cache_path())
    key = cache_key(name, size)
    figures = cache.get(key) or {}
    missing_flops = flops and count and figures.get("flops_per_frame") is None and (
        real_forward or not figures.get("meta_failed"))
    if "params" not in figures or missing_flops:
        figures = {**figures, **_count(name, size, missing_flops, real_forward)}
        cache[key] = figures
        if own:
            _write_cache(cache_path(), cache)
    return {
        "name": name, "params": int(figures["params"]),
        "flops_per_frame": figures.get("flops_per_frame") if flops else None,
        "paper": get_lifter_entry(name).paper,
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print the lifter table (or JSON); returns the exit code."""
    from liftbench.models import list_lifters

    names = list_lifters(args.pattern)
    if not names:
        raise ValueError(f"--pattern {args.pattern!r} matches no registered lifter")
    path = cache_path()
    cache = _read_cache(path)
    before = json.dumps(cache, sort_keys=True)
    flops = args.flops or not args.no_flops
    rows = [describe(n, args.size, flops, cache, real_forward=args.flops, count=args.flops)
            for n in names]
    if json.dumps(cache, sort_keys=True) != before:
        _write_cache(path, cache)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'params':>12} {'GFLOPs/frame':>13}  paper")
    for r in rows:
        gf = "-" if r["flops_per_frame"] is None else f"{r['flops_per_frame'] / 1e9:.3f}"
        print(f"{r['name']:<20} {r['params']:>12,} {gf:>13}  {r['paper']}")
    if flops and any(r["flops_per_frame"] is None for r in rows):
        print("(-: not counted yet; `liftbench models --flops` counts and caches them)")
    return 0
