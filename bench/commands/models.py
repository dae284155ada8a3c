"""`liftbench models`: list the registered lifters with parameters, FLOPs per frame and paper.

Parameters are counted on the meta device (no memory, no init time): trainable parameters of the
chosen configuration. FLOPs per frame: `torch.utils.flop_counter.FlopCounterMode` over one real
forward at B = 1, T = the model's `max_frames` (27 for models without a frame limit), divided by
T. The counter covers mm / bmm / addmm / conv; attention is forced to SDPA's MATH backend so its
two matmuls are counted. Elementwise ops, norms and softmax are not counted.
"""

from __future__ import annotations

import argparse
import json

import torch

DEFAULT_FRAMES = 27


def add_parser(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `models` sub-command."""
    p = sub.add_parser(
        "models", help="list registered lifters: parameters, FLOPs per frame, paper",
        description=__doc__,
    )  # fmt: skip
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.add_argument("--pattern", default=None, help="shell-style name filter, e.g. 'motion*'")
    p.add_argument(
        "--size", choices=("paper", "tiny"), default="paper",
        help="configuration to describe (default: paper)",
    )  # fmt: skip
    p.add_argument("--no-flops", action="store_true", help="skip the FLOP count (fast)")
    p.set_defaults(func=run)
    return p


def describe(name: str, size: str = "paper", flops: bool = True) -> dict:
    """Parameters, forward FLOPs per frame and paper of one registered lifter.

    Args:
        name: registry name.
        size: `"paper"` or `"tiny"`.
        flops: whether to run the (real, B = 1) forward that counts FLOPs.

    Returns:
        `{"name", "params", "flops_per_frame", "paper"}`; `flops_per_frame` is None when skipped.
    """
    from liftbench.bench.perf.models import flops_per_frame
    from liftbench.models import create_lifter, get_lifter_entry

    with torch.device("meta"):
        meta = create_lifter(name, size=size)
    params = sum(p.numel() for p in meta.parameters() if p.requires_grad)
    per_frame = None
    if flops:
        torch.manual_seed(0)
        model = create_lifter(name, size=size)
        per_frame = flops_per_frame(model, getattr(model, "max_frames", None) or DEFAULT_FRAMES)
        del model
    return {
        "name": name, "params": params, "flops_per_frame": per_frame,
        "paper": get_lifter_entry(name).paper,
    }  # fmt: skip


def run(args: argparse.Namespace) -> int:
    """Print the lifter table (or JSON); returns the exit code."""
    from liftbench.models import list_lifters

    names = list_lifters(args.pattern)
    if not names:
        raise ValueError(f"--pattern {args.pattern!r} matches no registered lifter")
    rows = [describe(n, args.size, not args.no_flops) for n in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'name':<20} {'params':>12} {'GFLOPs/frame':>13}  paper")
    for r in rows:
        gf = "-" if r["flops_per_frame"] is None else f"{r['flops_per_frame'] / 1e9:.3f}"
        print(f"{r['name']:<20} {r['params']:>12,} {gf:>13}  {r['paper']}")
    return 0
