"""`liftbench models`: list the registered lifters with parameters, FLOPs per frame and paper.

Both figures come from the lifter built on the meta device (shapes only: no memory, no compute;
random initialisation is skipped there, since its values never matter to a count). Parameters:
trainable parameters of the chosen configuration. FLOPs per frame:
`torch.utils.flop_counter.FlopCounterMode` over one forward at B = 1, T = the model's
`max_frames` (27 for models without a frame limit), divided by T. A lifter whose forward cannot
run on the meta device (a data-dependent step, a random generator) shows "-" unless `--flops`
asks for its count on a real CPU forward (slow at paper size: minutes for a diffusion lifter's
sampling). The counter covers mm / bmm / addmm / conv; attention is forced to SDPA's MATH
backend so its two matmuls are counted. Elementwise ops, norms and softmax are not counted.

The figures are cached in `$LIFTBENCH_CACHE/lifters.json` (default `~/.cache/liftbench/`),
keyed by lifter name, size, a hash of its configuration and source files, and the liftbench
and torch versions; so they are computed once and any change to a lifter recomputes them.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

DEFAULT_FRAMES = 27
CACHE_FILE = "lifters.json"
# In-place random initialisers: skipped on meta tensors (on the meta device they run through
# Python decompositions that cost seconds and produce nothing).
_RANDOM_INIT = frozenset({
    "normal_", "uniform_", "trunc_normal_", "erfinv_", "kaiming_normal_", "kaiming_uniform_",
    "xavier_normal_", "xavier_uniform_", "orthogonal_", "sparse_", "bernoulli_", "random_",
    "exponential_", "geometric_", "log_normal_", "cauchy_",
})  # fmt: skip


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
                   help="skip the FLOP count (counted once per lifter and cached otherwise)")
    p.add_argument("--flops", action="store_true",
                   help="also count, on a real CPU forward, the lifters whose forward cannot run "
                        "on the meta device (slow; cached too)")
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
    """Build modules on the meta device with their random initialisers skipped."""
    import torch
    from torch.overrides import TorchFunctionMode

    class _SkipRandomInit(TorchFunctionMode):
        def __torch_function__(self, func: Any, types: Any, args: tuple = (),
                               kwargs: dict | None = None) -> Any:
            kwargs = kwargs or {}
            if getattr(func, "__name__", "") in _RANDOM_INIT:
                target = args[0] if args else kwargs.get("tensor", kwargs.get("self"))
                if isinstance(target, torch.Tensor) and target.is_meta:
                    return target
            return func(*args, **kwargs)

    with torch.device("meta"), _SkipRandomInit():
        yield


def _count(name: str, size: str, flops: bool, real_forward: bool) -> dict[str, Any]:
    """Parameters and (optionally) forward FLOPs per frame of one lifter, on the meta device.

    `{"params", "flops_per_frame"}`; `"meta_failed": True` when the forward cannot run on the
    meta device (its FLOPs are then counted on a real CPU forward if `real_forward`, else None).
    """
    import torch

    from liftbench.bench.perf.models import flops_per_frame
    from liftbench.models import create_lifter

    with meta_device():
        model = create_lifter(name, size=size)
    out: dict[str, Any] = {"params": sum(p.numel() for p in model.parameters()
                                         if p.requires_grad)}
    if flops:
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
             cache: dict[str, Any] | None = None, real_forward: bool = False) -> dict:
    """Parameters, forward FLOPs per frame and paper of one registered lifter.

    Args:
        name: registry name.
        size: `"paper"` or `"tiny"`.
        flops: whether to report the FLOP count.
        real_forward: count on a real CPU forward when the meta-device forward fails (else the
            count is None for such a lifter).
        cache: the figures cache (`{key: {"params", "flops_per_frame"}}`), read and updated in
            place; None reads and writes `cache_path()`.

    Returns:
        `{"name", "params", "flops_per_frame", "paper"}`; `flops_per_frame` is None when skipped.
    """
    from liftbench.models import get_lifter_entry

    own = cache is None
    if cache is None:
        cache = _read_cache(cache_path())
    key = cache_key(name, size)
    figures = cache.get(key) or {}
    missing_flops = flops and figures.get("flops_per_frame") is None and (
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
    rows = [describe(n, args.size, flops, cache, real_forward=args.flops) for n in names]
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
        print("(-: the forward cannot run on the meta device; `--flops` counts it on a real one)")
    return 0
